/* cs-tv: total-variation compressed sensing (Lustig, Donoho, Pauly, MRM
 * 2007, the TV term), solved by ADMM as BART `pics -R T:3:0:lambda`:
 *
 *   min_x 0.5 ||M F S x - y||_2^2 + lambda TV(x),  TV(x) = sum_i |(D x)_i|
 *
 * D the periodic forward differences along x and y; isotropic TV takes the
 * 2-vector norm sqrt(|D_x x|^2 + |D_y x|^2) per pixel (complex values),
 * anisotropic (isotropic=0, BART's T with jflags 0) |D_x x| + |D_y x|.
 *
 * Scaled, over-relaxed ADMM (Boyd et al. 2011) with z = D x: from x = 0,
 * z = u = 0,
 *   x <- CG on (E^H E + rho D^H D) x = E^H y + rho D^H (z - u), warm start
 *   h <- alpha D x + (1 - alpha) z
 *   z <- shrink(h + u, lambda / rho)
 *   u <- u + h - z
 * rho 0.5 and 10 CG steps are BART's defaults for ADMM in pics (spec:
 * recon.md); 30 outer iterations is pics -i's default. Note that BART's
 * ADMM counts the CG steps against -i (bart pics -d5 shows it stopping when
 * the running CG count reaches -i): `pics -i 100 -R T` does about 10 outer
 * iterations, the work of cs-tv iterations=10. k-space is scaled as BART
 * scales it (cs.h) and the image scaled back (pics -S). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recon/cs/cs.h"

#define CST_DEFAULT_LAMBDA 0.01
#define CST_DEFAULT_ITERATIONS 30
#define CST_BART_RHO 0.5
#define CST_BART_CG 10
#define CST_PARALLEL_MIN 16384
/* Over-relaxation: Boyd et al. 2011 (sec. 3.4.3) report faster convergence
 * for alpha in [1.5, 1.8]; 1.5 reaches in 10 iterations what plain ADMM
 * reaches in about 15 on Shepp-Logan (compare_cs.sh). */
#define CST_RELAXATION 1.5

static const mrb_param_spec cst_params[] = {
    {"lambda", MRB_PARAM_NUMBER, CST_DEFAULT_LAMBDA, 0, 1e6, NULL, NULL,
     "TV weight (on data scaled as BART pics scales it)"},
    {"iterations", MRB_PARAM_INT, CST_DEFAULT_ITERATIONS, 1, 100000, NULL, NULL,
     "ADMM iterations (BART pics -i, default 30)"},
    {"rho", MRB_PARAM_NUMBER, CST_BART_RHO, 1e-6, 1e6, NULL, NULL, "ADMM penalty (BART: 0.5)"},
    {"cg_iterations", MRB_PARAM_INT, CST_BART_CG, 1, 1000, NULL, NULL,
     "conjugate-gradient steps per x update (BART: 10)"},
    {"tolerance", MRB_PARAM_NUMBER, 0, 0, 1, NULL, NULL,
     "stop when ||x_k - x_{k-1}|| <= tolerance ||x_k|| (0: run every iteration)"},
    {"relaxation", MRB_PARAM_NUMBER, CST_RELAXATION, 0.5, 1.9, NULL, NULL,
     "ADMM over-relaxation alpha (Boyd et al. 2011, sec. 3.4.3; 1: none)"},
    {"isotropic", MRB_PARAM_BOOL, 1, 0, 1, NULL, NULL, "isotropic TV (0: anisotropic, as BART's T:3:0)"},
    {"scaling", MRB_PARAM_BOOL, 1, 0, 1, NULL, NULL,
     "divide k-space by BART's automatic scale first (output rescaled back)"},
};

typedef struct cst_state {
    mrb_cs_problem pb;
    mrb_linop *grad; /* [nx, ny, nt] -> [nx, ny, nt, 2] */
    double lambda, rho, tolerance, alpha;
    long iterations, cg_iterations;
    int isotropic, scaling;
    float complex *x, *x_old, *b, *r, *p, *ap, *tmp; /* image */
    float complex *z, *u, *dx, *gtmp;                /* gradient (2 nimg) */
} cst_state;

static void cst_teardown(void *p)
{
    cst_state *s = p;
    if (!s) return;
    mrb_cs_problem_clear(&s->pb);
    mrb_linop_free(s->grad);
    float complex *bufs[] = {s->x, s->x_old, s->b, s->r, s->p, s->ap, s->tmp, s->z, s->u, s->dx, s->gtmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mrb_free(bufs[i]);
    free(s);
}

static mrb_status cst_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    *state = NULL;
    cst_state *s = calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "cs-tv: out of memory");
    mrb_status st = mrb_cs_problem_setup(&s->pb, in, "cs-tv");
    if (st != MRB_OK) {
        free(s);
        return st;
    }
    s->lambda = mrb_params_num(p, "lambda");
    s->iterations = mrb_params_int(p, "iterations");
    s->rho = mrb_params_num(p, "rho");
    s->cg_iterations = mrb_params_int(p, "cg_iterations");
    s->tolerance = mrb_params_num(p, "tolerance");
    s->isotropic = mrb_params_bool(p, "isotropic");
    s->alpha = mrb_params_num(p, "relaxation");
    s->scaling = mrb_params_bool(p, "scaling");
    const mrb_cs_shape *sh = &s->pb.shape;
    size_t idims[3] = {sh->nx, sh->ny, sh->nt};
    s->grad = mrb_linop_fdiff_create(3, idims, 0x3, s->pb.nthreads);
    size_t ib = s->pb.nimg * sizeof(float complex), gb = 2 * ib;
    s->x = mrb_malloc(ib);
    s->x_old = mrb_malloc(ib);
    s->b = mrb_malloc(ib);
    s->r = mrb_malloc(ib);
    s->p = mrb_malloc(ib);
    s->ap = mrb_malloc(ib);
    s->tmp = mrb_malloc(ib);
    s->z = mrb_malloc(gb);
    s->u = mrb_malloc(gb);
    s->dx = mrb_malloc(gb);
    s->gtmp = mrb_malloc(gb);
    if (!s->grad || !s->x || !s->x_old || !s->b || !s->r || !s->p || !s->ap || !s->tmp || !s->z || !s->u || !s->dx ||
        !s->gtmp) {
        cst_teardown(s);
        return mrb_error_context(MRB_ERR_NOMEM, "cs-tv");
    }
    *state = s;
    return MRB_OK;
}

/* dst = (E^H E + rho D^H D) v */
static mrb_status apply_system(cst_state *s, float complex *dst, const float complex *v)
{
    size_t n = s->pb.nimg;
    const float rho = (float)s->rho;
    MRB_TRY(mrb_linop_normal(s->pb.enc, (float *)dst, (const float *)v));
    MRB_TRY(mrb_linop_forward(s->grad, (float *)s->gtmp, (const float *)v));
    MRB_TRY(mrb_linop_adjoint(s->grad, (float *)s->tmp, (const float *)s->gtmp));
#pragma omp parallel for num_threads(s->pb.nthreads) schedule(static) if (n >= CST_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) dst[i] += rho * s->tmp[i];
    return MRB_OK;
}

static double cdot_re(const float complex *a, const float complex *b, size_t n, int nth)
{
    double acc = 0;
#pragma omp parallel for num_threads(nth) schedule(static) reduction(+ : acc) if (n >= CST_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) acc += (double)crealf(a[i]) * crealf(b[i]) + (double)cimagf(a[i]) * cimagf(b[i]);
    return acc;
}

/* Conjugate gradients on the (Hermitian positive definite) system, from x. */
static mrb_status cg_solve(cst_state *s)
{
    size_t n = s->pb.nimg;
    int nth = s->pb.nthreads;
    float complex *x = s->x, *r = s->r, *p = s->p, *ap = s->ap;
    MRB_TRY(apply_system(s, ap, x));
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= CST_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        r[i] = s->b[i] - ap[i];
        p[i] = r[i];
    }
    double rr = cdot_re(r, r, n, nth);
    for (long k = 0; k < s->cg_iterations && rr > 0; k++) {
        MRB_TRY(apply_system(s, ap, p));
        double pap = cdot_re(p, ap, n, nth);
        if (!(pap > 0)) break;
        float alpha = (float)(rr / pap);
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= CST_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
        }
        double rr_new = cdot_re(r, r, n, nth);
        float beta = (float)(rr_new / rr);
        rr = rr_new;
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= CST_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
    }
    return MRB_OK;
}

static void shrink(cst_state *s, float t)
{
    size_t n = s->pb.nimg;
    float complex *z = s->z;
    if (s->isotropic) {
#pragma omp parallel for num_threads(s->pb.nthreads) schedule(static) if (n >= CST_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) {
            float complex a = z[i], b = z[n + i];
            float mag =
                sqrtf(crealf(a) * crealf(a) + cimagf(a) * cimagf(a) + crealf(b) * crealf(b) + cimagf(b) * cimagf(b));
            float g = mag > t ? 1.0f - t / mag : 0.0f;
            z[i] = g * a;
            z[n + i] = g * b;
        }
    } else {
        mrb_cs_soft_threshold(z, 2 * n, t, s->pb.nthreads);
    }
}

static mrb_status cst_run(void *p, const mrb_recon_input *in, mrb_array *out)
{
    cst_state *s = p;
    mrb_cs_problem *pb = &s->pb;
    MRB_TRY(mrb_cs_check_output(out, &pb->shape, "cs-tv"));
    MRB_TRY(mrb_cs_problem_load(pb, in, s->scaling));
    size_t n = pb->nimg, ng = 2 * n;
    int nth = pb->nthreads;
    const float rho = (float)s->rho, t = (float)(s->lambda / s->rho);
    memset(s->x, 0, n * sizeof *s->x);
    memset(s->z, 0, ng * sizeof *s->z);
    memset(s->u, 0, ng * sizeof *s->u);
    for (long it = 0; it < s->iterations; it++) {
        /* b = E^H y + rho D^H (z - u) */
#pragma omp parallel for num_threads(nth) schedule(static) if (ng >= CST_PARALLEL_MIN)
        for (size_t i = 0; i < ng; i++) s->gtmp[i] = s->z[i] - s->u[i];
        MRB_TRY(mrb_linop_adjoint(s->grad, (float *)s->b, (const float *)s->gtmp));
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= CST_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) s->b[i] = pb->ahy[i] + rho * s->b[i];
        if (s->tolerance > 0) memcpy(s->x_old, s->x, n * sizeof *s->x);
        MRB_TRY(cg_solve(s));
        /* relaxed h = alpha D x + (1 - alpha) z; z = shrink(h + u), u += h - z */
        MRB_TRY(mrb_linop_forward(s->grad, (float *)s->dx, (const float *)s->x));
        const float alpha = (float)s->alpha;
#pragma omp parallel for num_threads(nth) schedule(static) if (ng >= CST_PARALLEL_MIN)
        for (size_t i = 0; i < ng; i++) {
            s->dx[i] = alpha * s->dx[i] + (1 - alpha) * s->z[i];
            s->z[i] = s->dx[i] + s->u[i];
        }
        shrink(s, t);
#pragma omp parallel for num_threads(nth) schedule(static) if (ng >= CST_PARALLEL_MIN)
        for (size_t i = 0; i < ng; i++) s->u[i] += s->dx[i] - s->z[i];
        if (s->tolerance > 0) {
            double dx = mrb_cs_diff_norm2(s->x, s->x_old, n, nth), nx = mrb_cs_norm2(s->x, n, nth);
            if (dx <= s->tolerance * s->tolerance * nx) break;
        }
    }
    MRB_TRY(mrb_cs_check_finite(s->x, n, "cs-tv"));
    mrb_cs_write_output(pb, s->x, out);
    return MRB_OK;
}

const mrb_method_desc mrb_method_cs_tv = {
    .name = "cs-tv",
    .description = "total-variation compressed sensing (Lustig 2007) by ADMM with CG, as BART pics -R T",
    .params = cst_params,
    .nparams = sizeof cst_params / sizeof cst_params[0],
    .setup = cst_setup,
    .run = cst_run,
    .teardown = cst_teardown,
};
