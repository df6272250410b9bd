/* kt-focuss: k-t FOCUSS (Jung, Ye, Kim, MRM 2009) for 2D+t data, following
 * the authors' code as the spec (recon.md) records it:
 *
 * 1. Prediction: per k-space location and coil, the temporal mean of the
 *    acquired samples k0 = sum_t y / sum_t M; its image p = S^H F^H k0 (one
 *    frame, the same for all t) is subtracted through the forward model,
 *    y_r = y - E p, and added back at the end.
 * 2. First weight from the x-f transform of the low-frequency data: the
 *    k-space locations sampled in every frame (the fully sampled centre
 *    lines), rho_0 = F_t E^H (L y_r); W = |rho_0|^0.5 normalised to max 1
 *    (W = 1 when no location is sampled in every frame).
 * 3. Outer iterations (2): q = argmin ||y_r - E F_t^H W q||^2 + lambda ||q||^2
 *    by conjugate gradients on the normal equations from q = 0 (20 steps;
 *    with lambda = 0, the default, CG from 0 gives the minimum-norm
 *    solution), rho = W q, then W = |rho|^0.5 normalised to max 1.
 * 4. x = F_t^H rho + p.
 * Multi-coil data use the item's maps or maps estimated from the centre
 * (cs.h). CG is scale invariant, so k-space is not rescaled. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recon/cs/cs.h"

/* Authors' defaults (spec recon.md): 2 outer iterations, 20 inner CG steps
 * (40 in their demos), lambda 0, weight power 0.5. */
#define KTF_OUTER 2
#define KTF_CG 20
#define KTF_LAMBDA 0.0
#define KTF_POWER 0.5
#define KTF_PARALLEL_MIN 16384

static const mrb_param_spec ktf_params[] = {
    {"outer", MRB_PARAM_INT, KTF_OUTER, 1, 100, NULL, NULL, "FOCUSS reweighting iterations"},
    {"cg_iterations", MRB_PARAM_INT, KTF_CG, 1, 10000, NULL, NULL, "CG steps per outer iteration"},
    {"lambda", MRB_PARAM_NUMBER, KTF_LAMBDA, 0, 1e6, NULL, NULL, "Tikhonov weight on q"},
    {"power", MRB_PARAM_NUMBER, KTF_POWER, 0, 1, NULL, NULL, "weight W = |rho|^power"},
};

typedef struct ktf_state {
    mrb_cs_problem pb;
    mrb_linop *ft;
    mrb_linop *fft; /* unmasked 2-D FFT of coil images, for the prediction */
    long outer, cg_iterations;
    double lambda, power;
    float *w;                                                   /* x-f weights */
    float complex *q, *r, *p, *ap, *t1, *t2, *rho, *pred, *rhs; /* image-sized */
    float complex *yr, *ktmp;                                   /* k-space-sized */
    float *low;                                                 /* [nx, ny] sampled in every frame */
} ktf_state;

static void ktf_teardown(void *p)
{
    ktf_state *s = p;
    if (!s) return;
    mrb_cs_problem_clear(&s->pb);
    mrb_linop_free(s->ft);
    mrb_linop_free(s->fft);
    void *bufs[] = {s->w, s->q, s->r, s->p, s->ap, s->t1, s->t2, s->rho, s->pred, s->yr, s->ktmp, s->low, s->rhs};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mrb_free(bufs[i]);
    free(s);
}

static mrb_status ktf_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    *state = NULL;
    ktf_state *s = calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "kt-focuss: out of memory");
    mrb_status st = mrb_cs_problem_setup(&s->pb, in, "kt-focuss");
    if (st != MRB_OK) {
        free(s);
        return st;
    }
    s->outer = mrb_params_int(p, "outer");
    s->cg_iterations = mrb_params_int(p, "cg_iterations");
    s->lambda = mrb_params_num(p, "lambda");
    s->power = mrb_params_num(p, "power");
    const mrb_cs_shape *sh = &s->pb.shape;
    size_t idims[3] = {sh->nx, sh->ny, sh->nt};
    s->ft = mrb_linop_fftt_create(3, idims, s->pb.nthreads);
    size_t kd[4] = {sh->nx, sh->ny, sh->nt, sh->nc};
    s->fft = mrb_linop_fft2_create(4, kd, s->pb.nthreads);
    size_t ib = s->pb.nimg * sizeof(float complex), kb = s->pb.nksp * sizeof(float complex);
    s->w = mrb_malloc(s->pb.nimg * sizeof(float));
    s->q = mrb_malloc(ib);
    s->r = mrb_malloc(ib);
    s->p = mrb_malloc(ib);
    s->ap = mrb_malloc(ib);
    s->t1 = mrb_malloc(ib);
    s->t2 = mrb_malloc(ib);
    s->rho = mrb_malloc(ib);
    s->pred = mrb_malloc(ib);
    s->rhs = mrb_malloc(ib);
    s->yr = mrb_malloc(kb);
    s->ktmp = mrb_malloc(kb);
    s->low = mrb_malloc(sh->nx * sh->ny * sizeof(float));
    if (!s->ft || !s->fft || !s->w || !s->q || !s->r || !s->p || !s->ap || !s->t1 || !s->t2 || !s->rho || !s->pred ||
        !s->rhs || !s->yr || !s->ktmp || !s->low) {
        ktf_teardown(s);
        return mrb_error_context(MRB_ERR_NOMEM, "kt-focuss");
    }
    *state = s;
    return MRB_OK;
}

static double cdot_re(const float complex *a, const float complex *b, size_t n, int nth)
{
    double acc = 0;
#pragma omp parallel for num_threads(nth) schedule(static) reduction(+ : acc) if (n >= KTF_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) acc += (double)crealf(a[i]) * crealf(b[i]) + (double)cimagf(a[i]) * cimagf(b[i]);
    return acc;
}

/* dst = W F_t E^H E F_t^H W v + lambda v */
static mrb_status apply_system(ktf_state *s, float complex *dst, const float complex *v)
{
    size_t n = s->pb.nimg;
    int nth = s->pb.nthreads;
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= KTF_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) s->t1[i] = s->w[i] * v[i];
    MRB_TRY(mrb_linop_adjoint(s->ft, (float *)s->t2, (const float *)s->t1));
    MRB_TRY(mrb_linop_normal(s->pb.enc, (float *)s->t1, (const float *)s->t2));
    MRB_TRY(mrb_linop_forward(s->ft, (float *)s->t2, (const float *)s->t1));
    const float lam = (float)s->lambda;
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= KTF_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) dst[i] = s->w[i] * s->t2[i] + lam * v[i];
    return MRB_OK;
}

/* W = |rho|^power / max */
static void update_weights(ktf_state *s, const float complex *rho)
{
    size_t n = s->pb.nimg;
    float mx = 0;
    for (size_t i = 0; i < n; i++) {
        s->w[i] = powf(cabsf(rho[i]), (float)s->power);
        if (s->w[i] > mx) mx = s->w[i];
    }
    float inv = mx > 0 ? 1.0f / mx : 1.0f;
    for (size_t i = 0; i < n; i++) s->w[i] = mx > 0 ? s->w[i] * inv : 1.0f;
}

static mrb_status ktf_run(void *p, const mrb_recon_input *in, mrb_array *out)
{
    ktf_state *s = p;
    mrb_cs_problem *pb = &s->pb;
    const mrb_cs_shape *sh = &pb->shape;
    MRB_TRY(mrb_cs_check_output(out, sh, "kt-focuss"));
    MRB_TRY(mrb_cs_problem_load(pb, in, 0));
    size_t frame = sh->nx * sh->ny, n = pb->nimg, nk = pb->nksp;
    int nth = pb->nthreads;
    const float *m = in->mask->data;

    /* 1. prediction: k0 per location and coil, into frame 0 of ktmp */
    memset(s->ktmp, 0, nk * sizeof *s->ktmp);
    for (size_t c = 0; c < sh->nc; c++)
        for (size_t i = 0; i < frame; i++) {
            float complex acc = 0;
            float cnt = 0;
            for (size_t t = 0; t < sh->nt; t++) {
                acc += pb->y[(c * sh->nt + t) * frame + i];
                cnt += m[t * frame + i];
            }
            float complex k0 = cnt > 0 ? acc / cnt : 0;
            for (size_t t = 0; t < sh->nt; t++) s->ktmp[(c * sh->nt + t) * frame + i] = k0;
        }
    /* p = S^H F^H k0 (every frame the same): E^H without the mask */
    MRB_TRY(mrb_linop_adjoint(s->fft, (float *)s->yr, (const float *)s->ktmp));
    if (pb->sense)
        MRB_TRY(mrb_linop_adjoint(pb->sense, (float *)s->pred, (const float *)s->yr));
    else
        memcpy(s->pred, s->yr, n * sizeof *s->pred);
    /* y_r = y - E p */
    MRB_TRY(mrb_linop_forward(pb->enc, (float *)s->ktmp, (const float *)s->pred));
    for (size_t i = 0; i < nk; i++) s->yr[i] = pb->y[i] - s->ktmp[i];

    /* 2. first weights from the locations sampled in every frame */
    size_t nlow = 0;
    for (size_t i = 0; i < frame; i++) {
        float all = 1;
        for (size_t t = 0; t < sh->nt; t++) all = (m[t * frame + i] != 0) ? all : 0;
        s->low[i] = all;
        nlow += all != 0;
    }
    if (nlow > 0) {
        for (size_t c = 0; c < sh->nc; c++)
            for (size_t t = 0; t < sh->nt; t++)
                for (size_t i = 0; i < frame; i++) {
                    size_t k = (c * sh->nt + t) * frame + i;
                    s->ktmp[k] = s->low[i] * s->yr[k];
                }
        MRB_TRY(mrb_linop_adjoint(pb->enc, (float *)s->t1, (const float *)s->ktmp));
        MRB_TRY(mrb_linop_forward(s->ft, (float *)s->rho, (const float *)s->t1));
        update_weights(s, s->rho);
    } else {
        for (size_t i = 0; i < n; i++) s->w[i] = 1;
    }

    /* 3. reweighted minimum-norm solutions by CG */
    MRB_TRY(mrb_linop_adjoint(pb->enc, (float *)s->t1, (const float *)s->yr));
    MRB_TRY(mrb_linop_forward(s->ft, (float *)s->rhs, (const float *)s->t1)); /* F_t E^H y_r */
    for (long outer = 0; outer < s->outer; outer++) {
        float complex *q = s->q, *r = s->r, *pv = s->p;
        memset(q, 0, n * sizeof *q);
        for (size_t i = 0; i < n; i++) r[i] = s->w[i] * s->rhs[i];
        memcpy(pv, r, n * sizeof *pv);
        double rr = cdot_re(r, r, n, nth);
        for (long k = 0; k < s->cg_iterations && rr > 0; k++) {
            MRB_TRY(apply_system(s, s->ap, pv));
            double pap = cdot_re(pv, s->ap, n, nth);
            if (!(pap > 0)) break;
            float alpha = (float)(rr / pap);
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= KTF_PARALLEL_MIN)
            for (size_t i = 0; i < n; i++) {
                q[i] += alpha * pv[i];
                r[i] -= alpha * s->ap[i];
            }
            double rr_new = cdot_re(r, r, n, nth);
            float beta = (float)(rr_new / rr);
            rr = rr_new;
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= KTF_PARALLEL_MIN)
            for (size_t i = 0; i < n; i++) pv[i] = r[i] + beta * pv[i];
        }
        for (size_t i = 0; i < n; i++) s->rho[i] = s->w[i] * q[i];
        if (outer + 1 < s->outer) update_weights(s, s->rho);
    }
    /* 4. back to x-t and add the prediction */
    MRB_TRY(mrb_linop_adjoint(s->ft, (float *)s->t1, (const float *)s->rho));
    float complex *o = out->data;
    for (size_t i = 0; i < n; i++) o[i] = s->t1[i] + s->pred[i];
    return mrb_cs_check_finite(o, n, "kt-focuss");
}

const mrb_method_desc mrb_method_kt_focuss = {
    .name = "kt-focuss",
    .description = "k-t FOCUSS (Jung 2009): reweighted minimum-norm x-f reconstruction with "
                   "temporal-mean prediction, 2D+t",
    .params = ktf_params,
    .nparams = sizeof ktf_params / sizeof ktf_params[0],
    .setup = ktf_setup,
    .run = ktf_run,
    .teardown = ktf_teardown,
};
