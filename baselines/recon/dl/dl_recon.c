/* DLMRI (Ravishankar and Bresler, IEEE TMI 2011) and DLTG (Caballero, Price,
 * Rueckert, Hajnal, IEEE TMI 2014), single coil.
 *
 * Both start from the zero-filled image scaled so that its largest magnitude
 * is 1 (the error threshold is in these units, as in DLMRI's code, which
 * normalises the image to a maximum of 1) and repeat `outer_iters` times:
 *   1. for the real and the imaginary part separately (DLTG processes them
 *      independently; DLMRI here does the same, with real dictionaries):
 *      draw `train_patches` random patches (means removed), initialise the
 *      dictionary from their principal directions plus random patches, run
 *      `ksvd_iters` iterations of approximate K-SVD at sparsity
 *      `train_sparsity`, then code every overlapping patch (mean removed) by
 *      batch OMP until ||residual||^2 <= err_thr^2 n or `max_atoms` atoms, and
 *      average the coded patches (means added back) into the image;
 *   2. DLMRI: the closed-form k-space update; DLTG: the temporal-gradient
 *      step by split Bregman (mrb_dl_tg_update), whose x step also enforces
 *      the data.
 * Threads (in->nthreads): the real and imaginary dictionaries are learned
 * concurrently, one thread each (K-SVD on a few thousand patches is too
 * fine-grained to share further); coding, averaging and the image update use
 * all threads; DLMRI on several frames gives each thread whole frames.
 * Results do not depend on the number of threads.
 * Patches lie on a periodic grid in x, y and t. DLMRI reconstructs each frame
 * of an [nx, ny, nt] input on its own with 2D patches; DLTG uses
 * spatio-temporal patches over the whole sequence.
 *
 * Defaults (specs/recon.md): DLMRI's released code: 6x6 patches, stride 1,
 * 36 atoms, 7,200 training patches, sparsity 5, 20 K-SVD iterations, error
 * threshold 0.023 with at most 10 atoms, 15 outer iterations, nu -> infinity
 * for noiseless data (DLMRI sets nu = 140 / sigma). DLTG's patch size, atoms,
 * sparsity and TG solver are not confirmed in the paper: DLMRI's defaults
 * with 4x4x4 patches and 64 atoms (a complete dictionary, as DLMRI's 36 atoms
 * for 6x6), and split Bregman for the TG term with the parameters below. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mrbench/dl.h"
#include "mrbench/fft.h"
#include "mrbench/registry.h"
#include "mrbench/rng.h"

/* Marks a state made by this file, so mrb_dl_stats_get can refuse others. */
#define DL_STATE_MAGIC 0x444c5354u /* "DLST" */

/* DLMRI code defaults (Ravishankar's DLMRI.m; specs/recon.md). */
#define DLMRI_PATCH 6
#define DLMRI_ATOMS 36
#define DLMRI_TRAIN_PATCHES 7200
#define DLMRI_TRAIN_SPARSITY 5
#define DLMRI_KSVD_ITERS 20
#define DLMRI_ERR_THR 0.023
#define DLMRI_MAX_ATOMS 10
#define DLMRI_OUTER_ITERS 15
/* DLTG: 4x4x4 spatio-temporal patches (specs/recon.md), a complete dictionary. */
#define DLTG_PATCH 4
#define DLTG_PATCH_T 4
#define DLTG_ATOMS 64
/* DLTG's TG weight and split Bregman settings are not given in the paper.
 * In units of the image normalised to a maximum magnitude of 1. Measured on
 * the pulsing-ellipse cine of tests/unit/test_dl_common.h (96x96x16,
 * Cartesian R = 4, 8 outer iterations): lambda 0 / 0.003 / 0.01 / 0.03 gave
 * 21.4 / 23.0 / 26.1 / 32.8 dB (zero-filling 18.2 dB); mu 0.1 / 0.5 at
 * lambda 0.01 gave 26.0 / 26.1 dB. The phantom is mostly static and
 * piecewise constant, which favours the TG term more than real cine does, so
 * the default stays at the middle value 0.01; suites should sweep it. */
#define DLTG_LAMBDA 0.01
#define DLTG_MU 0.5
#define DLTG_TG_ITERS 10

typedef struct dl_config {
    int temporal; /* 1: DLTG */
    size_t patch[3], stride[3];
    int atoms, train_sparsity, max_atoms, ksvd_iters, outer_iters, power_iters;
    size_t train_patches;
    double err_thr, nu, lambda_tg, tg_mu;
    int tg_iters;
} dl_config;

typedef struct dl_state {
    unsigned magic;
    dl_config cfg;
    mrb_dl_stats stats;
} dl_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define COMMON_PARAMS(patch_def, atoms_def)                                                                            \
    {"patch", MRB_PARAM_INT, patch_def, 1, 64, NULL, NULL, "patch side in x and y (pixels)"},                          \
        {"stride", MRB_PARAM_INT, 1,    1,                                                                             \
         64,       NULL,          NULL, "patch stride in x, y (and t for DLTG, at most patch_t); periodic grid"},      \
        {"atoms", MRB_PARAM_INT, atoms_def, 1, 4096, NULL, NULL, "dictionary atoms"},                                  \
        {"train_patches",                                                                                              \
         MRB_PARAM_INT,                                                                                                \
         DLMRI_TRAIN_PATCHES,                                                                                          \
         1,                                                                                                            \
         1e7,                                                                                                          \
         NULL,                                                                                                         \
         NULL,                                                                                                         \
         "random patches for K-SVD per outer iteration and part"},                                                     \
        {"train_sparsity",                                                                                             \
         MRB_PARAM_INT,                                                                                                \
         DLMRI_TRAIN_SPARSITY,                                                                                         \
         1,                                                                                                            \
         256,                                                                                                          \
         NULL,                                                                                                         \
         NULL,                                                                                                         \
         "atoms per training patch in K-SVD"},                                                                         \
        {"ksvd_iters", MRB_PARAM_INT, DLMRI_KSVD_ITERS, 0, 1000, NULL, NULL, "K-SVD iterations per outer iteration"},  \
        {"power_iters", MRB_PARAM_INT, 1,    1,                                                                        \
         100,           NULL,          NULL, "power-iteration steps per atom update (1: approximate K-SVD)"},          \
        {"err_thr",                                                                                                    \
         MRB_PARAM_NUMBER,                                                                                             \
         DLMRI_ERR_THR,                                                                                                \
         0,                                                                                                            \
         10,                                                                                                           \
         NULL,                                                                                                         \
         NULL,                                                                                                         \
         "coding error threshold e: stop at ||residual||^2 <= e^2 n (image max 1); 0: off"},                           \
        {"max_atoms",                                                                                                  \
         MRB_PARAM_INT,                                                                                                \
         DLMRI_MAX_ATOMS,                                                                                              \
         1,                                                                                                            \
         256,                                                                                                          \
         NULL,                                                                                                         \
         NULL,                                                                                                         \
         "most atoms per patch when coding all patches"},                                                              \
        {"outer_iters",                                                                                                \
         MRB_PARAM_INT,                                                                                                \
         DLMRI_OUTER_ITERS,                                                                                            \
         1,                                                                                                            \
         1000,                                                                                                         \
         NULL,                                                                                                         \
         NULL,                                                                                                         \
         "alternations of dictionary learning and image update"},                                                      \
    {                                                                                                                  \
        "nu", MRB_PARAM_NUMBER, 0, 0, 1e12, NULL, NULL,                                                                \
            "data weight (DLMRI: 140 / sigma); 0: noiseless, sampled k-space replaced by the data"                     \
    }

static const mrb_param_spec dlmri_params[] = {
    COMMON_PARAMS(DLMRI_PATCH, DLMRI_ATOMS),
};

static const mrb_param_spec dltg_params[] = {
    COMMON_PARAMS(DLTG_PATCH, DLTG_ATOMS),
    {"patch_t", MRB_PARAM_INT, DLTG_PATCH_T, 1, 64, NULL, NULL, "patch length in t (frames)"},
    {"lambda_tg", MRB_PARAM_NUMBER, DLTG_LAMBDA, 0, 1e6, NULL, NULL,
     "weight of ||grad_t x||_1 relative to (1/2)||x - x_avg||^2 (image max 1)"},
    {"tg_mu", MRB_PARAM_NUMBER, DLTG_MU, 1e-6, 1e6, NULL, NULL, "split Bregman penalty"},
    {"tg_iters", MRB_PARAM_INT, DLTG_TG_ITERS, 1, 1000, NULL, NULL, "split Bregman iterations per outer iteration"},
};

static mrb_status read_config(const mrb_params *p, int temporal, dl_config *c)
{
    memset(c, 0, sizeof *c);
    c->temporal = temporal;
    size_t side = (size_t)mrb_params_int(p, "patch"), stride = (size_t)mrb_params_int(p, "stride");
    c->patch[0] = c->patch[1] = side;
    c->patch[2] = temporal ? (size_t)mrb_params_int(p, "patch_t") : 1;
    c->stride[0] = c->stride[1] = stride;
    c->stride[2] = temporal ? (stride < c->patch[2] ? stride : c->patch[2]) : 1;
    c->atoms = (int)mrb_params_int(p, "atoms");
    c->train_patches = (size_t)mrb_params_int(p, "train_patches");
    c->train_sparsity = (int)mrb_params_int(p, "train_sparsity");
    c->ksvd_iters = (int)mrb_params_int(p, "ksvd_iters");
    c->power_iters = (int)mrb_params_int(p, "power_iters");
    c->err_thr = mrb_params_num(p, "err_thr");
    c->max_atoms = (int)mrb_params_int(p, "max_atoms");
    c->outer_iters = (int)mrb_params_int(p, "outer_iters");
    c->nu = mrb_params_num(p, "nu");
    if (temporal) {
        c->lambda_tg = mrb_params_num(p, "lambda_tg");
        c->tg_mu = mrb_params_num(p, "tg_mu");
        c->tg_iters = (int)mrb_params_int(p, "tg_iters");
    }
    if (stride > side)
        return mrb_error(MRB_ERR_INVALID, "%s: stride %zu exceeds the patch side %zu", temporal ? "dltg" : "dlmri",
                         stride, side);
    return MRB_OK;
}

static mrb_status check_input(const char *who, const mrb_recon_input *in, const dl_config *c)
{
    const mrb_array *ks = in->kspace, *m = in->mask;
    if (!ks || !m || ks->dtype != MRB_C64 || m->dtype != MRB_F32)
        return mrb_error(MRB_ERR_INVALID, "%s: needs MRB_C64 k-space and an MRB_F32 mask", who);
    size_t nc = ks->ndim > 3 ? ks->dims[3] : 1;
    for (int d = 4; d < ks->ndim; d++) nc *= ks->dims[d];
    if (nc != 1 || (in->sens && mrb_array_count(in->sens) != ks->dims[0] * ks->dims[1]))
        return mrb_error(MRB_ERR_UNSUPPORTED, "%s: single-coil data only (k-space has %zu coils)", who, nc);
    size_t nt = ks->ndim > 2 ? ks->dims[2] : 1;
    if (mrb_array_count(m) != ks->dims[0] * ks->dims[1] * nt || m->dims[0] != ks->dims[0] || m->dims[1] != ks->dims[1])
        return mrb_error(MRB_ERR_INVALID, "%s: mask must be [nx, ny, nt] like the k-space", who);
    size_t dims[3] = {ks->dims[0], ks->dims[1], c->temporal ? nt : 1};
    mrb_dl_patches g;
    mrb_status st = mrb_dl_patches_init(&g, dims, c->patch, c->stride);
    if (st != MRB_OK) return mrb_error_context(st, "%s", who);
    return MRB_OK;
}

/* Distinct random patch indices (partial Fisher-Yates over idx[0..total)). */
static void pick_training(size_t *idx, size_t total, size_t ntrain, uint64_t seed)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    for (size_t i = 0; i < total; i++) idx[i] = i;
    for (size_t i = 0; i < ntrain && i < total; i++) {
        size_t r = i + (size_t)mrb_rng_below(&rng, total - i);
        size_t tmp = idx[i];
        idx[i] = idx[r];
        idx[r] = tmp;
    }
}

typedef struct dl_work {
    mrb_dl_patches geom;
    size_t n, total, ntrain;
    float *dict[2], *train[2], *means, *part;
    size_t *idx[2];
    mrb_dl_codes *codes;
} dl_work;

static void work_free(dl_work *w)
{
    for (int k = 0; k < 2; k++) {
        mrb_free(w->dict[k]);
        mrb_free(w->train[k]);
        free(w->idx[k]);
    }
    mrb_free(w->means);
    mrb_free(w->part);
    mrb_dl_codes_free(w->codes);
}

/* Dictionary of one part (0 real, 1 imaginary): training patches, PCA
 * initialisation, K-SVD. Runs on the calling thread only. */
static mrb_status learn(const dl_config *c, dl_work *w, int k, const float *part, uint64_t seed)
{
    const size_t n = w->n, K = (size_t)c->atoms;
    float *train = w->train[k];
    pick_training(w->idx[k], w->total, w->ntrain, mrb_seed_derive(seed, "dl-train-patches", 0));
    for (size_t j = 0; j < w->ntrain; j++) {
        mrb_dl_patches_extract(&w->geom, part, w->idx[k][j], 1, train + j * n, NULL);
        float *v = train + j * n;
        double s = 0;
        for (size_t i = 0; i < n; i++) s += v[i];
        float m = (float)(s / (double)n);
        for (size_t i = 0; i < n; i++) v[i] -= m;
    }
    MRB_TRY(mrb_dl_dict_init(w->dict[k], n, K, train, w->ntrain, mrb_seed_derive(seed, "dl-dict-init", 0)));
    mrb_dl_ksvd_opts ko = {
        .iters = c->ksvd_iters, .sparsity = c->train_sparsity, .power_iters = c->power_iters, .nthreads = 1};
    return mrb_dl_ksvd(w->dict[k], n, K, train, w->ntrain, &ko, NULL);
}

typedef struct patch_source {
    const mrb_dl_patches *geom;
    const float *img;
    float *means;
} patch_source;

/* Patches with their means removed (and stored): the signals coded. */
static void fetch_patches(void *ctx, size_t first, size_t count, float *out)
{
    const patch_source *s = ctx;
    mrb_dl_patches_extract(s->geom, s->img, first, count, out, s->means);
}

/* Codes every patch of one part and averages them back into `part`. */
static mrb_status code_and_average(const dl_config *c, dl_work *w, int k, float *part, int nthreads,
                                   mrb_dl_stats *stats)
{
    const size_t n = w->n, K = (size_t)c->atoms;
    double t1 = now_s();
    mrb_dl_omp_opts oo = {
        .max_atoms = c->max_atoms, .err_sq = c->err_thr * c->err_thr * (double)n, .nthreads = nthreads};
    patch_source src = {&w->geom, part, w->means};
    MRB_TRY(mrb_dl_omp_source(w->dict[k], n, K, fetch_patches, &src, w->total, &oo, w->codes, 0));
    double t2 = now_s();
    MRB_TRY(mrb_dl_patches_average(&w->geom, w->dict[k], K, w->codes, w->means, part, nthreads));
    double t3 = now_s();
    size_t used = 0;
    for (size_t p = 0; p < w->total; p++) used += (size_t)w->codes->count[p];
    stats->seconds_coding += t2 - t1;
    stats->seconds_averaging += t3 - t2;
    stats->patches += w->total;
    stats->mean_atoms += (double)used; /* divided by the patch count at the end */
    return MRB_OK;
}

/* Reconstructs one problem: k-space, mask and image [nx, ny, nt] (nt = 1 for
 * DLMRI, which is called per frame). */
static mrb_status reconstruct(const dl_config *c, const mrb_array *kspace, const mrb_array *mask, mrb_array *image,
                              uint64_t seed, int nthreads, mrb_dl_stats *stats)
{
    const char *who = c->temporal ? "dltg" : "dlmri";
    const size_t vol = mrb_array_count(image);
    float complex *x = image->data;
    const float complex *y = kspace->data;
    const float *m = mask->data;
    for (size_t i = 0; i < vol; i++) x[i] = m[i] != 0 ? y[i] : 0;
    MRB_TRY(mrb_fft_centered(MRB_FFT_INVERSE, 2, image->ndim, image->dims, image->data, nthreads));
    double scale = 0;
    for (size_t i = 0; i < vol; i++) {
        double a = cabsf(x[i]);
        if (a > scale) scale = a;
    }
    if (!(scale > 0)) return MRB_OK; /* no signal: the zero-filled image is exact */
    mrb_array *ys = mrb_array_clone(kspace), *d = NULL, *b = NULL;
    if (!ys) return MRB_ERR_NOMEM;
    float complex *yv = ys->data;
    const float inv = (float)(1 / scale);
    for (size_t i = 0; i < vol; i++) {
        yv[i] *= inv;
        x[i] *= inv;
    }
    dl_work w = {0};
    mrb_status st = MRB_OK;
    size_t dims[3] = {image->dims[0], image->dims[1], vol / (image->dims[0] * image->dims[1])};
    st = mrb_dl_patches_init(&w.geom, dims, c->patch, c->stride);
    if (st != MRB_OK) goto done;
    w.n = mrb_dl_patches_length(&w.geom);
    w.total = mrb_dl_patches_total(&w.geom);
    w.ntrain = c->train_patches < w.total ? c->train_patches : w.total;
    int have = 1;
    for (int k = 0; k < 2; k++) {
        w.dict[k] = mrb_malloc(w.n * (size_t)c->atoms * sizeof *w.dict[k]);
        w.train[k] = mrb_malloc(w.n * w.ntrain * sizeof *w.train[k]);
        w.idx[k] = malloc(w.total * sizeof *w.idx[k]);
        have = have && w.dict[k] && w.train[k] && w.idx[k];
    }
    w.means = mrb_malloc(w.total * sizeof *w.means);
    w.part = mrb_malloc(2 * vol * sizeof *w.part);
    w.codes = mrb_dl_codes_create(w.total, c->max_atoms);
    if (c->temporal) {
        d = mrb_array_create(MRB_C64, image->ndim, image->dims);
        b = mrb_array_create(MRB_C64, image->ndim, image->dims);
    }
    if (!have || !w.means || !w.part || !w.codes || (c->temporal && (!d || !b))) {
        st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory for %zu patches of %zu voxels", who, w.total, w.n);
        goto done;
    }
    float *re = w.part, *im = w.part + vol;
    for (int outer = 0; outer < c->outer_iters; outer++) {
        for (size_t i = 0; i < vol; i++) {
            re[i] = crealf(x[i]);
            im[i] = cimagf(x[i]);
        }
        /* the two dictionaries are learned concurrently, one thread each: K-SVD
         * on a few thousand patches is too fine-grained to share out further */
        double t0 = now_s();
        mrb_status part_st[2] = {MRB_OK, MRB_OK};
        char part_msg[2][256];
#pragma omp parallel for schedule(static) num_threads(nthreads > 1 ? 2 : 1)
        for (int k = 0; k < 2; k++) {
            uint64_t s = mrb_seed_derive(seed, k ? "dl-imag" : "dl-real", (uint64_t)outer);
            part_st[k] = learn(c, &w, k, k ? im : re, s);
            if (part_st[k] != MRB_OK) snprintf(part_msg[k], sizeof part_msg[k], "%s", mrb_error_message());
        }
        stats->seconds_dictionary += now_s() - t0;
        for (int k = 0; k < 2; k++)
            if (part_st[k] != MRB_OK) {
                st = mrb_error(part_st[k], "%s: %s part: %s", who, k ? "imaginary" : "real", part_msg[k]);
                goto done;
            }
        for (int k = 0; k < 2; k++) {
            st = code_and_average(c, &w, k, k ? im : re, nthreads, stats);
            if (st != MRB_OK) goto done;
        }
        for (size_t i = 0; i < vol; i++) x[i] = re[i] + I * im[i];
        t0 = now_s();
        if (c->temporal) {
            mrb_dl_tg_opts to = {
                .lambda = c->lambda_tg, .mu = c->tg_mu, .iters = c->tg_iters, .nu = c->nu, .nthreads = nthreads};
            st = mrb_dl_tg_update(image, ys, mask, &to, d, b);
        } else {
            st = mrb_dl_data_consistency(image, ys, mask, c->nu, nthreads);
        }
        stats->seconds_consistency += now_s() - t0;
        if (st != MRB_OK) goto done;
    }
    const float sc = (float)scale;
    for (size_t i = 0; i < vol; i++) x[i] *= sc;
done:
    work_free(&w);
    mrb_array_free(ys);
    mrb_array_free(d);
    mrb_array_free(b);
    return st;
}

static mrb_status dl_setup(const mrb_params *p, const mrb_recon_input *in, void **state, int temporal)
{
    const char *who = temporal ? "dltg" : "dlmri";
    *state = NULL;
    dl_config c;
    MRB_TRY(read_config(p, temporal, &c));
    MRB_TRY(check_input(who, in, &c));
    dl_state *s = calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", who);
    s->magic = DL_STATE_MAGIC;
    s->cfg = c;
    *state = s;
    return MRB_OK;
}

static mrb_status dlmri_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    return dl_setup(p, in, state, 0);
}

static mrb_status dltg_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    return dl_setup(p, in, state, 1);
}

/* Frame t of an [nx, ny, nt] complex or real array as a new [nx, ny, 1] array. */
static mrb_array *frame_copy(const mrb_array *a, size_t t)
{
    mrb_array *f = mrb_array_create3(a->dtype, a->dims[0], a->dims[1], 1);
    if (!f) return NULL;
    size_t bytes = mrb_array_bytes(f);
    memcpy(f->data, (const char *)a->data + t * bytes, bytes);
    return f;
}

static mrb_status dl_run(void *state, const mrb_recon_input *in, mrb_array *out)
{
    dl_state *s = state;
    const dl_config *c = &s->cfg;
    const char *who = c->temporal ? "dltg" : "dlmri";
    MRB_TRY(check_input(who, in, c));
    const mrb_array *ks = in->kspace;
    const size_t nx = ks->dims[0], ny = ks->dims[1], nt = ks->ndim > 2 ? ks->dims[2] : 1;
    if (!out || out->dtype != MRB_C64 || mrb_array_count(out) != nx * ny * nt)
        return mrb_error(MRB_ERR_INVALID, "%s: output must be MRB_C64 [%zu, %zu, %zu]", who, nx, ny, nt);
    const int nthreads = in->nthreads > 0 ? in->nthreads : 1;
    memset(&s->stats, 0, sizeof s->stats);
    mrb_dl_stats *stats = &s->stats;
    double t0 = now_s();
    mrb_status st = MRB_OK;
    if (c->temporal || nt == 1) {
        mrb_array *ksv = mrb_array_create3(MRB_C64, nx, ny, nt);
        mrb_array *img = mrb_array_create3(MRB_C64, nx, ny, nt);
        if (!ksv || !img) {
            mrb_array_free(ksv);
            mrb_array_free(img);
            return MRB_ERR_NOMEM;
        }
        memcpy(ksv->data, ks->data, mrb_array_bytes(ksv));
        st = reconstruct(c, ksv, in->mask, img, in->seed, nthreads, stats);
        if (st == MRB_OK) memcpy(out->data, img->data, mrb_array_bytes(img));
        mrb_array_free(ksv);
        mrb_array_free(img);
    } else {
        /* frames are independent problems: one thread per frame */
        mrb_dl_stats *fs = calloc(nt, sizeof *fs);
        mrb_status *fst = calloc(nt, sizeof *fst);
        double *felapsed = calloc(nt, sizeof *felapsed);
        char(*fmsg)[256] = calloc(nt, sizeof *fmsg);
        if (!fs || !fst || !felapsed || !fmsg) {
            free(fs);
            free(fst);
            free(felapsed);
            free(fmsg);
            return mrb_error(MRB_ERR_NOMEM, "dlmri: out of memory for %zu frames", nt);
        }
        double t_loop = now_s();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
        for (size_t t = 0; t < nt; t++) {
            double t_frame = now_s();
            mrb_array *ksf = frame_copy(ks, t), *mf = frame_copy(in->mask, t);
            mrb_array *img = mrb_array_create3(MRB_C64, nx, ny, 1);
            if (!ksf || !mf || !img) {
                fst[t] = mrb_error(MRB_ERR_NOMEM, "out of memory");
            } else {
                fst[t] = reconstruct(c, ksf, mf, img, mrb_seed_derive(in->seed, "dlmri-frame", t), 1, &fs[t]);
                if (fst[t] == MRB_OK)
                    memcpy((char *)out->data + t * mrb_array_bytes(img), img->data, mrb_array_bytes(img));
            }
            if (fst[t] != MRB_OK) snprintf(fmsg[t], sizeof fmsg[t], "%s", mrb_error_message());
            mrb_array_free(ksf);
            mrb_array_free(mf);
            mrb_array_free(img);
            felapsed[t] = now_s() - t_frame;
        }
        t_loop = now_s() - t_loop;
        /* The frames' phase times are thread seconds that overlap in time.
         * Scaled by the loop's wall time over the frames' summed elapsed time,
         * each phase gets its share of the wall time, so the phases stay
         * disjoint parts of the run (they add up to at most the loop's wall
         * time, as with one thread, where the factor is about 1). */
        double thread_s = 0;
        for (size_t t = 0; t < nt; t++) thread_s += felapsed[t];
        const double to_wall = thread_s > t_loop ? t_loop / thread_s : 1.0;
        for (size_t t = 0; t < nt; t++) {
            stats->seconds_dictionary += to_wall * fs[t].seconds_dictionary;
            stats->seconds_coding += to_wall * fs[t].seconds_coding;
            stats->seconds_averaging += to_wall * fs[t].seconds_averaging;
            stats->seconds_consistency += to_wall * fs[t].seconds_consistency;
            stats->patches += fs[t].patches;
            stats->mean_atoms += fs[t].mean_atoms;
            if (fst[t] != MRB_OK && st == MRB_OK) st = mrb_error(fst[t], "dlmri: frame %zu: %s", t, fmsg[t]);
        }
        free(fs);
        free(fst);
        free(felapsed);
        free(fmsg);
    }
    stats->seconds_total = now_s() - t0;
    stats->outer_iters = c->outer_iters;
    if (stats->patches) stats->mean_atoms /= (double)stats->patches;
    stats->patches = c->outer_iters > 0 ? stats->patches / (size_t)c->outer_iters : 0;
    return st;
}

static void dl_teardown(void *state)
{
    free(state);
}

mrb_status mrb_dl_stats_get(const void *method_state, mrb_dl_stats *out)
{
    const dl_state *s = method_state;
    if (!s || !out || s->magic != DL_STATE_MAGIC)
        return mrb_error(MRB_ERR_INVALID, "dl stats: not a dlmri or dltg method state");
    *out = s->stats;
    return MRB_OK;
}

static size_t dl_phases(void *state, const char **names, double *seconds, size_t max)
{
    mrb_dl_stats st;
    if (max < 4 || mrb_dl_stats_get(state, &st) != MRB_OK) {
        mrb_error_clear();
        return 0;
    }
    names[0] = "dictionary";
    seconds[0] = st.seconds_dictionary;
    names[1] = "sparse_coding";
    seconds[1] = st.seconds_coding;
    names[2] = "patch_averaging";
    seconds[2] = st.seconds_averaging;
    names[3] = "data_consistency";
    seconds[3] = st.seconds_consistency;
    return 4;
}

static mrb_status dlmri_check(const mrb_params *p)
{
    dl_config c;
    return read_config(p, 0, &c);
}

static mrb_status dltg_check(const mrb_params *p)
{
    dl_config c;
    return read_config(p, 1, &c);
}

const mrb_method_desc mrb_method_dlmri = {
    .name = "dlmri",
    .description = "DLMRI (Ravishankar and Bresler 2011): K-SVD dictionary of 2D patches, "
                   "batch OMP, closed-form k-space update; per frame; single coil",
    .params = dlmri_params,
    .nparams = sizeof dlmri_params / sizeof dlmri_params[0],
    .setup = dlmri_setup,
    .check = dlmri_check,
    .run = dl_run,
    .teardown = dl_teardown,
    .phases = dl_phases,
};

const mrb_method_desc mrb_method_dltg = {
    .name = "dltg",
    .description = "DLTG (Caballero et al. 2014): spatio-temporal patch dictionaries plus a "
                   "temporal gradient l1 term (split Bregman); single coil",
    .params = dltg_params,
    .nparams = sizeof dltg_params / sizeof dltg_params[0],
    .setup = dltg_setup,
    .check = dltg_check,
    .run = dl_run,
    .teardown = dl_teardown,
    .phases = dl_phases,
};
