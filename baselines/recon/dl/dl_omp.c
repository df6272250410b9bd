/* Batch OMP (Rubinstein, Zibulevsky, Elad, Technion CS-2008-08, algorithm 3
 * with the error-constrained stopping rule of algorithm 5).
 *
 * Per signal x the only inputs are alpha0 = D^T x, ||x||^2 and the Gram
 * matrix G = D^T D: atom selection, the progressive Cholesky factor L of
 * G_II, the coefficients and the residual energy all follow from them, so the
 * cost after the BLAS products is independent of the signal length. Signals
 * are processed in blocks small enough that OpenBLAS runs each product on the
 * calling thread, and the blocks are shared among OpenMP threads; a signal's
 * code does not depend on which thread computed it. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/dl.h"

/* OpenBLAS runs a GEMM single-threaded when m n k <= 65536 *
 * GEMM_MULTITHREAD_THRESHOLD (interface/gemm.c; the threshold is 4 by
 * default): blocks below this size keep OpenBLAS from starting its own
 * threads inside our OpenMP threads. */
#define OPENBLAS_SINGLE_THREAD_MNK (65536.0 * 4.0)
/* Upper bound on signals per block (a few hundred keeps D^T X in L2). */
#define OMP_BLOCK_MAX 256
/* The next atom counts as linearly dependent on the chosen ones when the
 * squared norm of its component orthogonal to them (relative to its own
 * norm) falls below this; float Cholesky loses all accuracy beyond it. */
#define OMP_DEPENDENT_TOL 1e-6f

mrb_dl_codes *mrb_dl_codes_create(size_t nsignals, int slots)
{
    if (slots < 1) {
        mrb_error(MRB_ERR_INVALID, "dl codes: slots %d must be >= 1", slots);
        return NULL;
    }
    mrb_dl_codes *c = calloc(1, sizeof *c);
    if (!c) {
        mrb_error(MRB_ERR_NOMEM, "dl codes: out of memory");
        return NULL;
    }
    size_t n = nsignals ? nsignals : 1;
    c->nsignals = nsignals;
    c->slots = slots;
    c->count = mrb_malloc(n * sizeof *c->count);
    c->atoms = mrb_malloc(n * (size_t)slots * sizeof *c->atoms);
    c->coefs = mrb_malloc(n * (size_t)slots * sizeof *c->coefs);
    if (!c->count || !c->atoms || !c->coefs) {
        mrb_dl_codes_free(c);
        mrb_error(MRB_ERR_NOMEM, "dl codes: out of memory for %zu signals x %d slots", nsignals, slots);
        return NULL;
    }
    return c;
}

void mrb_dl_codes_free(mrb_dl_codes *c)
{
    if (!c) return;
    mrb_free(c->count);
    mrb_free(c->atoms);
    mrb_free(c->coefs);
    free(c);
}

typedef struct omp_work {
    float *alpha; /* [K] D^T r for the current residual r */
    float *beta;  /* [K] G_I gamma */
    float *L;     /* [T x T] row-major lower Cholesky factor of G_II */
    float *z;     /* [T] L^{-1} alpha0_I */
    float *gamma; /* [T] */
    int *idx;     /* [T] */
} omp_work;

static void work_free(omp_work *w)
{
    free(w->alpha);
    free(w->beta);
    free(w->L);
    free(w->z);
    free(w->gamma);
    free(w->idx);
}

static int work_alloc(omp_work *w, size_t K, int T)
{
    size_t t = (size_t)T;
    w->alpha = malloc(K * sizeof *w->alpha);
    w->beta = malloc(K * sizeof *w->beta);
    w->L = malloc(t * t * sizeof *w->L);
    w->z = malloc(t * sizeof *w->z);
    w->gamma = malloc(t * sizeof *w->gamma);
    w->idx = malloc(t * sizeof *w->idx);
    return w->alpha && w->beta && w->L && w->z && w->gamma && w->idx;
}

/* One signal: alpha0 = D^T x, energy = ||x||^2. Writes count, atoms, coefs. */
static void omp_one(const float *G, size_t K, const float *alpha0, float energy, int T, float err_sq, omp_work *w,
                    int32_t *count, int32_t *atoms, float *coefs)
{
    float *alpha = w->alpha, *L = w->L, *z = w->z, *gamma = w->gamma, *beta = w->beta;
    int *idx = w->idx;
    memcpy(alpha, alpha0, K * sizeof *alpha);
    float eps = energy, delta_prev = 0;
    int k = 0;
    while (k < T) {
        if (err_sq > 0 && eps <= err_sq) break;
        size_t best = K;
        float best_abs = 0;
        for (size_t m = 0; m < K; m++) { /* chosen atoms have alpha set to 0 */
            float a = fabsf(alpha[m]);
            if (a > best_abs) {
                best_abs = a;
                best = m;
            }
        }
        if (best == K) break; /* residual orthogonal to every atom left */
        const float *gcol = G + best * K;
        float diag = gcol[best];
        if (!(diag > 0)) break;
        float *row = L + (size_t)k * (size_t)T;
        float ww = diag;
        for (int r = 0; r < k; r++) {
            float s = gcol[idx[r]];
            const float *lr = L + (size_t)r * (size_t)T;
            for (int c = 0; c < r; c++) s -= lr[c] * row[c];
            row[r] = s / lr[r];
            ww -= row[r] * row[r];
        }
        if (ww <= OMP_DEPENDENT_TOL * diag) break;
        row[k] = sqrtf(ww);
        idx[k] = (int)best;
        /* progressive forward substitution: only the new entry of z changes */
        float s = alpha0[best];
        for (int c = 0; c < k; c++) s -= row[c] * z[c];
        z[k] = s / row[k];
        k++;
        for (int r = k - 1; r >= 0; r--) {
            float v = z[r];
            for (int c = r + 1; c < k; c++) v -= L[(size_t)c * (size_t)T + (size_t)r] * gamma[c];
            gamma[r] = v / L[(size_t)r * (size_t)T + (size_t)r];
        }
        memset(beta, 0, K * sizeof *beta);
        for (int r = 0; r < k; r++) {
            const float *g = G + (size_t)idx[r] * K;
            float gr = gamma[r];
            for (size_t m = 0; m < K; m++) beta[m] += g[m] * gr;
        }
        for (size_t m = 0; m < K; m++) alpha[m] = alpha0[m] - beta[m];
        for (int r = 0; r < k; r++) alpha[idx[r]] = 0; /* orthogonal in exact arithmetic */
        if (err_sq > 0) {
            float delta = 0;
            for (int r = 0; r < k; r++) delta += gamma[r] * beta[idx[r]];
            eps = eps - delta + delta_prev;
            delta_prev = delta;
        }
    }
    *count = k;
    for (int r = 0; r < k; r++) {
        atoms[r] = idx[r];
        coefs[r] = gamma[r];
    }
}

typedef struct array_source {
    const float *signals;
    size_t n;
} array_source;

static void fetch_array(void *ctx, size_t first, size_t count, float *out)
{
    const array_source *a = ctx;
    memcpy(out, a->signals + first * a->n, count * a->n * sizeof *out);
}

mrb_status mrb_dl_omp(const float *dict, size_t n, size_t natoms, const float *signals, size_t nsignals,
                      const mrb_dl_omp_opts *opts, mrb_dl_codes *codes, size_t first)
{
    if (!signals) return mrb_error(MRB_ERR_INVALID, "dl omp: missing signals");
    array_source src = {signals, n};
    return mrb_dl_omp_source(dict, n, natoms, fetch_array, &src, nsignals, opts, codes, first);
}

mrb_status mrb_dl_omp_source(const float *dict, size_t n, size_t natoms, mrb_dl_signal_fn fetch, void *ctx,
                             size_t nsignals, const mrb_dl_omp_opts *opts, mrb_dl_codes *codes, size_t first)
{
    if (!dict || !fetch || !opts || !codes || n == 0 || natoms == 0)
        return mrb_error(MRB_ERR_INVALID, "dl omp: missing dictionary, signals, options or codes");
    if (opts->max_atoms < 1 || opts->max_atoms > codes->slots)
        return mrb_error(MRB_ERR_INVALID, "dl omp: max_atoms %d outside 1..%d (code slots)", opts->max_atoms,
                         codes->slots);
    if (first > codes->nsignals || nsignals > codes->nsignals - first)
        return mrb_error(MRB_ERR_INVALID, "dl omp: signals [%zu, %zu) outside the %zu codes", first, first + nsignals,
                         codes->nsignals);
    if (nsignals == 0) return MRB_OK;
    const size_t K = natoms;
    const int T = opts->max_atoms < (int)K ? opts->max_atoms : (int)K;
    const float err_sq = (float)opts->err_sq;
    const int nthreads = opts->nthreads > 0 ? opts->nthreads : 1;

    float *G = mrb_malloc(K * K * sizeof *G);
    if (!G) return mrb_error(MRB_ERR_NOMEM, "dl omp: out of memory for the %zux%zu Gram matrix", K, K);
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)K, (int)K, (int)n, 1.0f, dict, (int)n, dict, (int)n, 0.0f,
                G, (int)K);

    size_t block = (size_t)(OPENBLAS_SINGLE_THREAD_MNK / ((double)K * (double)n));
    if (block < 1) block = 1;
    if (block > OMP_BLOCK_MAX) block = OMP_BLOCK_MAX;
    const size_t nblocks = (nsignals + block - 1) / block;
    int failed = 0;

    /* one parallel region for all signals: blocks are fetched, multiplied
     * and coded by the thread that takes them, with no barrier in between */
#pragma omp parallel num_threads(nthreads)
    {
        omp_work w = {0};
        float *dtx = malloc(K * block * sizeof *dtx);
        float *X = malloc(n * block * sizeof *X);
        int ok = dtx && X && work_alloc(&w, K, T);
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (size_t ib = 0; ib < nblocks; ib++) {
            if (!ok) continue;
            size_t j0 = ib * block;
            size_t nb = nsignals - j0 < block ? nsignals - j0 : block;
            fetch(ctx, first + j0, nb, X);
            cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)K, (int)nb, (int)n, 1.0f, dict, (int)n, X, (int)n,
                        0.0f, dtx, (int)K);
            for (size_t j = 0; j < nb; j++) {
                const float *x = X + j * n;
                float energy = 0;
#pragma omp simd reduction(+ : energy)
                for (size_t i = 0; i < n; i++) energy += x[i] * x[i];
                size_t s = first + j0 + j;
                omp_one(G, K, dtx + j * K, energy, T, err_sq, &w, codes->count + s,
                        codes->atoms + s * (size_t)codes->slots, codes->coefs + s * (size_t)codes->slots);
            }
        }
        work_free(&w);
        free(dtx);
        free(X);
    }
    mrb_free(G);
    if (failed) return mrb_error(MRB_ERR_NOMEM, "dl omp: out of memory for thread workspaces");
    return MRB_OK;
}
