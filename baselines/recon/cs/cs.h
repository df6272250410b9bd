/* Shared pieces of the compressed-sensing methods (cs-wavelet, cs-tv,
 * kt-sparse, kt-focuss, bart-pics): input checks, BART's automatic data
 * scaling, coil-map estimation, the encoding operator E = M F S and its
 * workspaces. Internal to baselines/ (not a public header). */
#ifndef MRBENCH_BASELINES_CS_H
#define MRBENCH_BASELINES_CS_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "mrbench/linop.h"
#include "mrbench/registry.h"

/* BART estimates the data scale on a centred calibration block of at most
 * this size (BART src/sense/optcom.c, estimate_scaling_internal:
 * cal_size = {32, 32, 32}). */
#define MRB_CS_SCALING_CAL_MAX 32
/* Calibration block for coil-map estimation (ESPIRiT's default calibration
 * size, BART `ecalib -r 24`). */
#define MRB_CS_SENS_CAL_MAX 24

typedef struct mrb_cs_shape {
    size_t nx, ny, nt, nc;
} mrb_cs_shape;

/* Validates a reconstruction input (types, shapes, finite values, a
 * non-empty mask) naming `method` in the message; fills shape. */
mrb_status mrb_cs_check_input(const mrb_recon_input *in, const char *method, mrb_cs_shape *shape);
/* Checks that out is MRB_C64 [nx, ny, nt]. */
mrb_status mrb_cs_check_output(const mrb_array *out, const mrb_cs_shape *shape, const char *method);

/* The largest centred block (at most cal_max per axis, grown alternately as
 * BART's calib_geom does) that frame 0 of the mask samples completely. */
void mrb_cs_calib_region(const mrb_recon_input *in, size_t cal_max, size_t *cx, size_t *cy);

/* BART's automatic scaling (pics without -w): the RSS of the inverse FFT of
 * the fully sampled central calibration block (<= 32x32, frame 0), its
 * median, 90th percentile and maximum divided by sqrt(nx/cx * ny/cy); scale =
 * p90 if max - p90 < 2 (p90 - median), else max (BART
 * src/sense/optcom.c: estimate_scaling_norm). 0 if the block is all zero. */
mrb_status mrb_cs_bart_scaling(const mrb_recon_input *in, double *scale);

/* Coil maps for multi-coil data without given maps: low-resolution coil
 * images from the fully sampled centre (<= 24x24, temporal average of the
 * acquired samples, Hann-windowed), divided by their root sum of squares,
 * so that sum_c |S_c|^2 = 1 wherever the RSS is non-zero. Writes
 * [nx, ny, 1, nc] into sens (preallocated). */
mrb_status mrb_cs_estimate_sens(const mrb_recon_input *in, float complex *sens);

/* The encoding operator and data of one problem, allocated in setup. */
typedef struct mrb_cs_problem {
    mrb_cs_shape shape;
    int nthreads;
    size_t nimg, nksp;   /* complex elements of an image / k-space */
    mrb_linop *enc;      /* E = M F S: [nx, ny, nt] -> [nx, ny, nt, nc] */
    mrb_linop *sense;    /* borrowed from enc (NULL for single coil) */
    float complex *sens; /* [nx, ny, 1, nc] maps in use (NULL single coil) */
    int sens_given;      /* maps come from the input */
    float complex *y;    /* scaled, masked k-space */
    float complex *ahy;  /* E^H y */
    double scale;        /* k-space was divided by this */
    double mask_max;     /* largest mask value: M F has norm mask_max */
} mrb_cs_problem;

/* Builds E for the input's shape (FFT plans, mask and maps copies) and the
 * workspaces. */
mrb_status mrb_cs_problem_setup(mrb_cs_problem *pb, const mrb_recon_input *in, const char *method);
/* Per run: estimates maps (multi-coil without given maps), the BART scale
 * (scale_data != 0) and loads y = M kspace / scale and E^H y. */
mrb_status mrb_cs_problem_load(mrb_cs_problem *pb, const mrb_recon_input *in, int scale_data);
void mrb_cs_problem_clear(mrb_cs_problem *pb);
/* Lipschitz constant of the gradient of 0.5 ||E x - y||^2, the largest
 * eigenvalue of E^H E = S^H F^H M^2 F S: max(M)^2 times 1 for single coil
 * and max_pixel sum_c |S_c|^2 for multi-coil (F is unitary). 1 for a 0/1
 * mask with one coil or normalised maps (M F is then a projection). */
double mrb_cs_problem_lipschitz(const mrb_cs_problem *pb);

/* Complex soft thresholding z -> z max(0, 1 - t / |z|) of n values. */
void mrb_cs_soft_threshold(float complex *z, size_t n, float t, int nthreads);
/* 0.5 ||E x - y||^2, using tmp (nksp complex). */
mrb_status mrb_cs_data_residual(mrb_cs_problem *pb, const float complex *x, float complex *tmp, double *value);

/* Complex helpers over n values (OpenMP over nthreads). */
double mrb_cs_norm2(const float complex *x, size_t n, int nthreads);
double mrb_cs_diff_norm2(const float complex *a, const float complex *b, size_t n, int nthreads);
/* MRB_ERR_RUN "<method>: the iteration diverged: non-finite value at element
 * i" for the first NaN or Inf among the n values of a result, else MRB_OK. */
mrb_status mrb_cs_check_finite(const float complex *x, size_t n, const char *method);

/* FISTA for min 0.5 ||E x - y||^2 + lambda ||Psi x||_1 with a unitary Psi
 * (Psi^H Psi = I, so the prox is exact: Psi^H soft(Psi v, step lambda)),
 * from x = 0, with momentum (t_k) of Beck and Teboulle 2009.
 *
 * Convergence needs step <= 1/L (Beck and Teboulle 2009, Theorem 4.4; L =
 * mrb_cs_problem_lipschitz): a larger explicit step is refused
 * (MRB_ERR_INVALID). Above 1/L the iteration can grow without bound while
 * staying finite for many iterations (step 1.5 at L = 1: |x| ~ 1e8 after 100
 * iterations), so every iteration is checked (MRB_ERR_RUN "diverged"): a
 * NaN or Inf anywhere in x_k, or, for lambda > 0, ||x_k|| above ||y||^2 /
 * lambda. That bound holds for every converging run: the iterates stay
 * within ||x*|| of the minimiser x* (x_k is a convex combination of points
 * u_j with ||u_j - x*|| <= ||x_0 - x*||, as the proof of loc. cit. Theorem
 * 4.4 shows, and x_0 = 0) and
 * lambda ||x*||_2 <= lambda ||Psi x*||_1 <= F(x*) <= F(0) = ||y||^2 / 2.
 * With random wavelet shifts Psi changes between iterations and the bound
 * is a (wide) margin rather than a theorem. */
typedef struct mrb_cs_fista_opts {
    double lambda;
    double step; /* <= 0: 0.95 / Lipschitz constant (BART); else at most 1 / Lipschitz constant */
    long iterations;
    double tolerance; /* stop when ||x_k - x_{k-1}|| <= tolerance ||x_k||; 0: never */
    int shifts;       /* Psi is a wavelet: random grid shift in [0, 2^levels) per iteration */
    uint64_t seed;    /* for the shifts */
} mrb_cs_fista_opts;

/* Reads lambda, iterations, tolerance and step from a method's parameters
 * (every FISTA method names them so); shifts off, seed 0. */
void mrb_cs_fista_opts_from_params(const mrb_params *p, mrb_cs_fista_opts *o);

typedef struct mrb_cs_fista_work {
    size_t n;
    float complex *x, *x_old, *z, *g, *c;
    long iterations_done;
} mrb_cs_fista_work;

mrb_status mrb_cs_fista_work_alloc(mrb_cs_fista_work *w, size_t n);
void mrb_cs_fista_work_free(mrb_cs_fista_work *w);
/* Runs FISTA on a loaded problem; the result (in the scaled units of pb->y)
 * is w->x. */
mrb_status mrb_cs_fista(mrb_cs_problem *pb, mrb_linop *psi, const mrb_cs_fista_opts *o, mrb_cs_fista_work *w);
/* out = pb->scale * x over the image. */
void mrb_cs_write_output(const mrb_cs_problem *pb, const float complex *x, mrb_array *out);

/* The FISTA step BART takes: 0.95 over the largest eigenvalue of E^H E. */
#define MRB_CS_BART_STEP 0.95
/* Largest `step` parameter of the FISTA methods: 1/L for a 0/1 mask with
 * one coil or normalised maps (L = 1), the bound of FISTA's convergence
 * (Beck and Teboulle 2009). At L = 1, step 1.5 already diverges. */
#define MRB_CS_STEP_MAX 1.0
/* Relative slack on step <= 1/L for rounding in L (single precision maps). */
#define MRB_CS_STEP_RTOL 1e-6

#endif
