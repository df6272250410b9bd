/* Dictionary-learning reconstruction: DLMRI (Ravishankar and Bresler, IEEE
 * TMI 2011) and DLTG (Caballero, Price, Rueckert, Hajnal, IEEE TMI 2014), and
 * the building blocks they share, usable on their own:
 *
 *   batch OMP      Rubinstein, Zibulevsky, Elad, "Efficient implementation of
 *                  the K-SVD algorithm using batch orthogonal matching
 *                  pursuit", Technion CS-2008-08: Gram matrix G = D^T D and
 *                  D^T X by BLAS, progressive Cholesky update, stopping at a
 *                  sparsity level or a squared-error target, whichever first.
 *   K-SVD          approximate K-SVD (same report, section 4): each atom is
 *                  updated by `power_iters` power-iteration steps on its
 *                  restricted residual (1 step = approximate K-SVD, many
 *                  steps converge to the exact rank-1 SVD of K-SVD).
 *   patches        overlapping patches of a real [nx, ny, nt] image on a
 *                  periodic (wrap-around) grid, as the DLMRI analysis assumes,
 *                  so every voxel is covered by the same number of patches
 *                  when the strides divide the image size.
 *   consistency    DLMRI's closed-form k-space update and DLTG's temporal
 *                  gradient step (split Bregman, solved exactly in k-space).
 *
 * Storage: a dictionary is n x K column-major floats (atom k at dict + k n),
 * signals n x N column-major (signal j at signals + j n). Everything here is
 * deterministic for a given seed and does not depend on the thread count. */
#ifndef MRBENCH_DL_H
#define MRBENCH_DL_H

#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sparse codes of many signals, `slots` entries reserved per signal. */
typedef struct mrb_dl_codes {
    size_t nsignals;
    int slots;
    int32_t *count; /* [nsignals] atoms used by each signal */
    int32_t *atoms; /* [nsignals * slots] atom indices, in selection order */
    float *coefs;   /* [nsignals * slots] coefficients */
} mrb_dl_codes;

/* NULL (message set) on failure. */
mrb_dl_codes *mrb_dl_codes_create(size_t nsignals, int slots);
void mrb_dl_codes_free(mrb_dl_codes *codes); /* NULL is a no-op */

typedef struct mrb_dl_omp_opts {
    int max_atoms; /* sparsity level T >= 1 (at most codes->slots) */
    double err_sq; /* stop once ||x - D g||^2 <= err_sq; <= 0: sparsity level only */
    int nthreads;  /* OpenMP threads over signals (<= 0: 1) */
} mrb_dl_omp_opts;

/* Batch OMP of `nsignals` signals against a dictionary of unit-norm atoms;
 * the codes go to entries [first, first + nsignals) of `codes`. Stops early
 * for a signal when the next atom is linearly dependent on those chosen. */
mrb_status mrb_dl_omp(const float *dict, size_t n, size_t natoms, const float *signals, size_t nsignals,
                      const mrb_dl_omp_opts *opts, mrb_dl_codes *codes, size_t first);

/* Signal source: writes signals [first, first + count) as n x count floats
 * into out. Called from several threads at once, on disjoint ranges. */
typedef void (*mrb_dl_signal_fn)(void *ctx, size_t first, size_t count, float *out);

/* mrb_dl_omp with the signals produced block by block by `fetch` (e.g.
 * patches extracted on the fly), so they never exist all at once. Signal j
 * is fetched as index first + j, and coded into entry first + j. */
mrb_status mrb_dl_omp_source(const float *dict, size_t n, size_t natoms, mrb_dl_signal_fn fetch, void *ctx,
                             size_t nsignals, const mrb_dl_omp_opts *opts, mrb_dl_codes *codes, size_t first);

/* Initial dictionary as DLMRI builds it: the principal directions of the
 * training signals (eigenvectors of Y Y^T, by decreasing eigenvalue), then,
 * when natoms > n, randomly chosen training signals normalised to unit norm. */
mrb_status mrb_dl_dict_init(float *dict, size_t n, size_t natoms, const float *train, size_t ntrain, uint64_t seed);

typedef struct mrb_dl_ksvd_opts {
    int iters;       /* K-SVD iterations (sparse coding + dictionary update) */
    int sparsity;    /* atoms per training signal in the coding step */
    int power_iters; /* power-iteration steps per atom update (1: approximate K-SVD) */
    int nthreads;
} mrb_dl_ksvd_opts;

/* Learns `dict` (in: initial dictionary, out: learned, unit-norm atoms) from
 * the training signals. Unused atoms are replaced by the worst-represented
 * training signal. A signal keeps its previous code when the new OMP code
 * represents it worse, so the representation error never increases.
 * err_history (NULL or iters + 1 entries) receives the mean squared
 * representation error ||Y - D Gamma||_F^2 / ntrain after the first coding
 * and after every iteration. */
mrb_status mrb_dl_ksvd(float *dict, size_t n, size_t natoms, const float *train, size_t ntrain,
                       const mrb_dl_ksvd_opts *opts, double *err_history);

/* Overlapping patches on a periodic grid: anchors at multiples of the stride
 * along each axis, a patch reading size[d] consecutive voxels from its anchor,
 * wrapping around. Patch elements are ordered x fastest, then y, then t. */
typedef struct mrb_dl_patches {
    size_t dims[3];
    size_t size[3];
    size_t stride[3];
    size_t count[3]; /* anchors per axis: ceil(dims / stride) */
} mrb_dl_patches;

/* MRB_ERR_INVALID when a patch is larger than the image or a value is 0. */
mrb_status mrb_dl_patches_init(mrb_dl_patches *g, const size_t dims[3], const size_t size[3], const size_t stride[3]);
size_t mrb_dl_patches_total(const mrb_dl_patches *g);  /* number of patches */
size_t mrb_dl_patches_length(const mrb_dl_patches *g); /* voxels per patch */
/* Patches [first, first + count) of the real image `img` into out (n x count);
 * with `means` non-NULL each patch's mean is removed and stored there. */
void mrb_dl_patches_extract(const mrb_dl_patches *g, const float *img, size_t first, size_t count, float *out,
                            float *means);
/* Averages the coded patches back into `img`: every voxel becomes the mean,
 * over the patches that cover it, of (patch mean + D code) at that voxel.
 * means may be NULL (zero means). Deterministic: each voxel sums its patches
 * in a fixed order. */
mrb_status mrb_dl_patches_average(const mrb_dl_patches *g, const float *dict, size_t natoms, const mrb_dl_codes *codes,
                                  const float *means, float *img, int nthreads);

/* Closed-form k-space update of DLMRI on image MRB_C64 [nx, ny, nt] in place,
 * with kspace MRB_C64 [nx, ny, nt, 1] and mask MRB_F32 [nx, ny, nt]: s = F x;
 * on sampled locations s = y (nu <= 0: the noiseless limit) or
 * (s + nu y) / (1 + nu); x = F^H s. */
mrb_status mrb_dl_data_consistency(mrb_array *image, const mrb_array *kspace, const mrb_array *mask, double nu,
                                   int nthreads);

typedef struct mrb_dl_tg_opts {
    double lambda; /* weight of ||grad_t x||_1 relative to (1/2)||x - x_avg||^2 */
    double mu;     /* split Bregman penalty on d = grad_t x */
    int iters;     /* split Bregman iterations per call */
    double nu;     /* data weight; <= 0: noiseless (sampled k-space fixed) */
    int nthreads;
} mrb_dl_tg_opts;

/* DLTG image update: approximately minimises over x
 *   (1/2)||x - a||^2 + (nu/2)||M F x - y||^2 + lambda ||grad_t x||_1
 * (grad_t periodic in time, |.| the complex modulus) by split Bregman with
 * d = grad_t x: the x step is solved exactly in k-space, where it is one
 * cyclic tridiagonal system along t per (kx, ky). `image` holds a on entry and
 * x on return. d and b (MRB_C64 [nx, ny, nt]) are the splitting and Bregman
 * variables, carried between calls (zero them before the first). */
mrb_status mrb_dl_tg_update(mrb_array *image, const mrb_array *kspace, const mrb_array *mask,
                            const mrb_dl_tg_opts *opts, mrb_array *d, mrb_array *b);

/* Where the last run of a `dlmri` or `dltg` method state spent its time,
 * in wall-clock seconds: four disjoint parts of the run, adding up to at
 * most seconds_total (the rest is set-up, FFTs and scaling). The real and
 * imaginary dictionaries are learned concurrently (one thread each), so
 * seconds_dictionary is the wall time of both. DLMRI on several frames
 * reconstructs the frames concurrently, one thread per frame: each phase's
 * thread seconds, summed over frames, are then scaled by the frame loop's
 * wall time over the frames' summed elapsed time, i.e. each phase gets its
 * share of the wall time (with one thread the factor is about 1). */
typedef struct mrb_dl_stats {
    double seconds_dictionary;  /* training patches, initialisation, K-SVD */
    double seconds_coding;      /* patch extraction and batch OMP of all patches */
    double seconds_averaging;   /* patch averaging back into the image */
    double seconds_consistency; /* data consistency (DLMRI) or TG + consistency (DLTG) */
    double seconds_total;       /* the whole run */
    int outer_iters;
    size_t patches;    /* patches coded per outer iteration (both parts, all frames) */
    double mean_atoms; /* mean atoms per patch in the last coding */
} mrb_dl_stats;

/* Copies the stats of the last run of a state made by the `dlmri` or `dltg`
 * method's setup; MRB_ERR_INVALID for any other state. */
mrb_status mrb_dl_stats_get(const void *method_state, mrb_dl_stats *out);

#ifdef __cplusplus
}
#endif
#endif
