/* lps: L+S, low-rank plus sparse reconstruction (Otazo, Candes, Sodickson,
 * MRM 2015) for 2D+t data, as in the authors' released demo code:
 *
 *   M_0 = E^H y, S = 0, L_prev = M_0
 *   repeat:
 *     L = SVT(M - S) at lambda_L * sigma_max(M - S)   (Casorati matrix [nx*ny, nt])
 *     S = F_t^H soft(F_t (M - L_prev), lambda_S)
 *     M = L + S - E^H (E (L + S) - y) / Lip
 *     stop when ||L + S - M_prev|| <= tolerance ||L + S||
 *   x = L + S
 *
 * lambda_S is relative to max |E^H y| (the demos scale it so), lambda_L to
 * the largest singular value of each iteration. The cine defaults (R = 6:
 * lambda_L 0.01, lambda_S 0.0025, 50 iterations, tolerance 0.0025) are the
 * paper's (spec recon.md). The singular values come from the Hermitian
 * eigen-decomposition of the nt x nt Gram matrix (LAPACK zheev), so the SVT
 * is X V diag(max(sigma - tau, 0) / sigma) V^H. Lip is the Lipschitz
 * constant of the data term (cs.h): 1 for single coil and normalised maps,
 * as the demo code assumes; dividing by it keeps the step stable for maps
 * that are not normalised. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recon/cs/cs.h"

#define LPS_LAMBDA_L 0.01
#define LPS_LAMBDA_S 0.0025
#define LPS_ITERATIONS 50
#define LPS_TOLERANCE 0.0025
#define LPS_PARALLEL_MIN 16384
/* pixels per block of the low-rank product */
#define LPS_BLOCK 512

/* LAPACK (OpenBLAS ships it): eigen-decomposition of a Hermitian matrix. */
extern void zheev_(const char *jobz, const char *uplo, const int *n, double complex *a, const int *lda, double *w,
                   double complex *work, const int *lwork, double *rwork, int *info);

static const mrb_param_spec lps_params[] = {
    {"lambda_l", MRB_PARAM_NUMBER, LPS_LAMBDA_L, 0, 1, NULL, NULL,
     "singular-value threshold relative to the largest singular value"},
    {"lambda_s", MRB_PARAM_NUMBER, LPS_LAMBDA_S, 0, 1e3, NULL, NULL, "x-f soft threshold relative to max |E^H y|"},
    {"iterations", MRB_PARAM_INT, LPS_ITERATIONS, 1, 100000, NULL, NULL, "maximum iterations"},
    {"tolerance", MRB_PARAM_NUMBER, LPS_TOLERANCE, 0, 1, NULL, NULL,
     "stop when ||x_k - M_{k-1}|| <= tolerance ||x_k|| (0: run every iteration)"},
};

typedef struct lps_state {
    mrb_cs_problem pb;
    mrb_linop *ft;
    double lambda_l, lambda_s, tolerance;
    long iterations;
    float complex *m, *l, *s, *lprev, *tmp, *x; /* image-sized */
    float complex *ktmp;                        /* k-space-sized */
    double complex *gram, *work;                /* nt x nt, LAPACK work */
    double *sv, *rwork;
    int lwork;
    float complex *coef; /* nt x nt: V diag(g) V^H */
} lps_state;

static void lps_teardown(void *p)
{
    lps_state *s = p;
    if (!s) return;
    mrb_cs_problem_clear(&s->pb);
    mrb_linop_free(s->ft);
    void *bufs[] = {s->m, s->l, s->s, s->lprev, s->tmp, s->x, s->ktmp, s->gram, s->sv, s->work, s->rwork, s->coef};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mrb_free(bufs[i]);
    free(s);
}

static mrb_status lps_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    *state = NULL;
    lps_state *s = calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "lps: out of memory");
    mrb_status st = mrb_cs_problem_setup(&s->pb, in, "lps");
    if (st != MRB_OK) {
        free(s);
        return st;
    }
    s->lambda_l = mrb_params_num(p, "lambda_l");
    s->lambda_s = mrb_params_num(p, "lambda_s");
    s->iterations = mrb_params_int(p, "iterations");
    s->tolerance = mrb_params_num(p, "tolerance");
    const mrb_cs_shape *sh = &s->pb.shape;
    size_t idims[3] = {sh->nx, sh->ny, sh->nt};
    size_t nt = sh->nt;
    s->ft = mrb_linop_fftt_create(3, idims, s->pb.nthreads);
    size_t ib = s->pb.nimg * sizeof(float complex);
    s->m = mrb_malloc(ib);
    s->l = mrb_malloc(ib);
    s->s = mrb_malloc(ib);
    s->lprev = mrb_malloc(ib);
    s->tmp = mrb_malloc(ib);
    s->x = mrb_malloc(ib);
    s->ktmp = mrb_malloc(s->pb.nksp * sizeof(float complex));
    s->gram = mrb_malloc(nt * nt * sizeof(double complex));
    s->sv = mrb_malloc(nt * sizeof(double));
    s->rwork = mrb_malloc((3 * nt + 1) * sizeof(double));
    s->coef = mrb_malloc(nt * nt * sizeof(float complex));
    s->lwork = (int)(4 * nt + 64);
    s->work = mrb_malloc((size_t)s->lwork * sizeof(double complex));
    if (!s->ft || !s->m || !s->l || !s->s || !s->lprev || !s->tmp || !s->x || !s->ktmp || !s->gram || !s->sv ||
        !s->rwork || !s->coef || !s->work) {
        lps_teardown(s);
        return mrb_error_context(MRB_ERR_NOMEM, "lps");
    }
    *state = s;
    return MRB_OK;
}

/* l = SVT(a) with threshold lambda_l * sigma_max, on the Casorati matrix. */
static mrb_status svt(lps_state *s, float complex *l, const float complex *a)
{
    size_t np = s->pb.shape.nx * s->pb.shape.ny;
    int nt = (int)s->pb.shape.nt;
    int nth = s->pb.nthreads;
    /* Gram G[j][k] = sum_p conj(a_pj) a_pk (column-major for LAPACK: G[j + k nt]) */
#pragma omp parallel for collapse(2) num_threads(nth) schedule(static) if (np * (size_t)nt >= LPS_PARALLEL_MIN)
    for (int k = 0; k < nt; k++)
        for (int j = 0; j < nt; j++) {
            if (j > k) continue;
            const float complex *aj = a + (size_t)j * np, *ak = a + (size_t)k * np;
            double re = 0, im = 0;
            for (size_t i = 0; i < np; i++) {
                float complex v = conjf(aj[i]) * ak[i];
                re += crealf(v);
                im += cimagf(v);
            }
            s->gram[j + (size_t)k * nt] = re + im * I;
        }
    int info = 0;
    zheev_("V", "U", &nt, s->gram, &nt, s->sv, s->work, &s->lwork, s->rwork, &info);
    if (info != 0) return mrb_error(MRB_ERR_RUN, "lps: zheev failed (info %d)", info);
    /* eigenvalues ascending: sigma = sqrt(max(ev, 0)) */
    double smax = sqrt(fmax(s->sv[nt - 1], 0));
    double tau = s->lambda_l * smax;
    /* coef = V diag(g) V^H, g = max(sigma - tau, 0) / sigma */
    for (int j = 0; j < nt; j++)
        for (int k = 0; k < nt; k++) {
            double complex acc = 0;
            for (int e = 0; e < nt; e++) {
                double sig = sqrt(fmax(s->sv[e], 0));
                double g = sig > tau ? (sig - tau) / sig : 0;
                acc += s->gram[j + (size_t)e * nt] * g * conj(s->gram[k + (size_t)e * nt]);
            }
            s->coef[j + (size_t)k * nt] = (float complex)acc;
        }
    /* l[:, k] = sum_j a[:, j] coef[j][k], in pixel blocks that stay in cache */
    size_t nblk = (np + LPS_BLOCK - 1) / LPS_BLOCK;
#pragma omp parallel for num_threads(nth) schedule(static) if (np * (size_t)nt >= LPS_PARALLEL_MIN)
    for (size_t b = 0; b < nblk; b++) {
        size_t i0 = b * LPS_BLOCK, i1 = i0 + LPS_BLOCK < np ? i0 + LPS_BLOCK : np;
        for (int k = 0; k < nt; k++) {
            float complex *out = l + (size_t)k * np;
            for (size_t i = i0; i < i1; i++) out[i] = 0;
            for (int j = 0; j < nt; j++) {
                const float complex c = s->coef[j + (size_t)k * nt];
                const float complex *in = a + (size_t)j * np;
                for (size_t i = i0; i < i1; i++) out[i] += c * in[i];
            }
        }
    }
    return MRB_OK;
}

static mrb_status lps_run(void *p, const mrb_recon_input *in, mrb_array *out)
{
    lps_state *s = p;
    mrb_cs_problem *pb = &s->pb;
    MRB_TRY(mrb_cs_check_output(out, &pb->shape, "lps"));
    MRB_TRY(mrb_cs_problem_load(pb, in, 0));
    size_t n = pb->nimg, nk = pb->nksp;
    int nth = pb->nthreads;
    memcpy(s->m, pb->ahy, n * sizeof *s->m);
    memcpy(s->lprev, pb->ahy, n * sizeof *s->lprev);
    memset(s->s, 0, n * sizeof *s->s);
    float mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmaxf(mx, cabsf(pb->ahy[i]));
    const float thresh_s = (float)(s->lambda_s * mx);
    const float inv_lip = (float)(1.0 / mrb_cs_problem_lipschitz(pb));
    for (long it = 0; it < s->iterations; it++) {
        /* L = SVT(M - S) */
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= LPS_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) s->tmp[i] = s->m[i] - s->s[i];
        MRB_TRY(svt(s, s->l, s->tmp));
        /* S = F_t^H soft(F_t (M - L_prev)) */
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= LPS_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) s->tmp[i] = s->m[i] - s->lprev[i];
        MRB_TRY(mrb_linop_forward(s->ft, (float *)s->x, (const float *)s->tmp));
        mrb_cs_soft_threshold(s->x, n, thresh_s, nth);
        MRB_TRY(mrb_linop_adjoint(s->ft, (float *)s->s, (const float *)s->x));
        /* data consistency: M = x - E^H (E x - y), x = L + S */
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= LPS_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) s->x[i] = s->l[i] + s->s[i];
        MRB_TRY(mrb_linop_forward(pb->enc, (float *)s->ktmp, (const float *)s->x));
#pragma omp parallel for num_threads(nth) schedule(static) if (nk >= LPS_PARALLEL_MIN)
        for (size_t i = 0; i < nk; i++) s->ktmp[i] -= pb->y[i];
        MRB_TRY(mrb_linop_adjoint(pb->enc, (float *)s->tmp, (const float *)s->ktmp));
        double change = mrb_cs_diff_norm2(s->x, s->m, n, nth), norm = mrb_cs_norm2(s->x, n, nth);
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= LPS_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) s->m[i] = s->x[i] - inv_lip * s->tmp[i];
        float complex *swap = s->lprev;
        s->lprev = s->l;
        s->l = swap;
        if (s->tolerance > 0 && change <= s->tolerance * s->tolerance * norm) break;
    }
    MRB_TRY(mrb_cs_check_finite(s->x, n, "lps"));
    memcpy(out->data, s->x, n * sizeof *s->x);
    return MRB_OK;
}

const mrb_method_desc mrb_method_lps = {
    .name = "lps",
    .description = "L+S (Otazo 2015): low-rank plus x-f sparse decomposition by iterative "
                   "thresholding, 2D+t",
    .params = lps_params,
    .nparams = sizeof lps_params / sizeof lps_params[0],
    .setup = lps_setup,
    .run = lps_run,
    .teardown = lps_teardown,
};
