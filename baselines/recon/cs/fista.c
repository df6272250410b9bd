/* FISTA with an exact unitary-transform prox, shared by cs-wavelet and
 * kt-sparse (see cs.h). */
#include <math.h>
#include <string.h>

#include "mrbench/rng.h"
#include "recon/cs/cs.h"

#define FISTA_PARALLEL_MIN 16384

mrb_status mrb_cs_fista_work_alloc(mrb_cs_fista_work *w, size_t n)
{
    memset(w, 0, sizeof *w);
    w->n = n;
    size_t bytes = n * sizeof(float complex);
    w->x = mrb_malloc(bytes);
    w->x_old = mrb_malloc(bytes);
    w->z = mrb_malloc(bytes);
    w->g = mrb_malloc(bytes);
    w->c = mrb_malloc(bytes);
    if (!w->x || !w->x_old || !w->z || !w->g || !w->c) {
        mrb_cs_fista_work_free(w);
        return mrb_error(MRB_ERR_NOMEM, "fista: out of memory");
    }
    return MRB_OK;
}

void mrb_cs_fista_work_free(mrb_cs_fista_work *w)
{
    if (!w) return;
    mrb_free(w->x);
    mrb_free(w->x_old);
    mrb_free(w->z);
    mrb_free(w->g);
    mrb_free(w->c);
    memset(w, 0, sizeof *w);
}

mrb_status mrb_cs_fista(mrb_cs_problem *pb, mrb_linop *psi, const mrb_cs_fista_opts *o, mrb_cs_fista_work *w)
{
    const size_t n = pb->nimg;
    const int nth = pb->nthreads;
    const double lipschitz = mrb_cs_problem_lipschitz(pb);
    if (o->step * lipschitz > 1 + MRB_CS_STEP_RTOL)
        return mrb_error(MRB_ERR_INVALID,
                         "fista: step %g exceeds 1/L = %g (L = %g, the Lipschitz constant of the data term for this "
                         "mask and these coil maps); FISTA converges only for step <= 1/L",
                         o->step, 1 / lipschitz, lipschitz);
    const float step = (float)(o->step > 0 ? o->step : MRB_CS_BART_STEP / lipschitz);
    /* ||x_k||^2 above this proves divergence (cs.h); none without an l1 term */
    const double y_norm2 = mrb_cs_norm2(pb->y, pb->nksp, nth);
    const double bound2 = o->lambda > 0 ? (y_norm2 / o->lambda) * (y_norm2 / o->lambda) : INFINITY;
    const float thresh = (float)(step * o->lambda);
    const int levels = mrb_linop_wavelet_levels(psi);
    const int shifting = o->shifts && levels > 0;
    const uint64_t shift_range = (uint64_t)1 << levels;
    mrb_rng rng;
    mrb_rng_seed(&rng, o->seed);

    float complex *x = w->x, *x_old = w->x_old, *z = w->z, *g = w->g, *c = w->c;
    const float complex *ahy = pb->ahy;
    memset(x, 0, n * sizeof *x);
    memset(z, 0, n * sizeof *z);
    double t = 1;
    mrb_status st = MRB_OK;
    w->iterations_done = 0;
    for (long it = 0; it < o->iterations; it++) {
        float complex *swap = x_old;
        x_old = x;
        x = swap;
        /* gradient step: g = z - step (E^H E z - E^H y) */
        st = mrb_linop_normal(pb->enc, (float *)g, (const float *)z);
        if (st != MRB_OK) break;
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= FISTA_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) g[i] = z[i] - step * (g[i] - ahy[i]);
        /* prox: x = Psi^H soft(Psi g, step lambda) */
        if (shifting) {
            size_t sx = (size_t)mrb_rng_below(&rng, shift_range);
            size_t sy = (size_t)mrb_rng_below(&rng, shift_range);
            st = mrb_linop_wavelet_set_shift(psi, sx, sy);
            if (st != MRB_OK) break;
        }
        st = mrb_linop_forward(psi, (float *)c, (const float *)g);
        if (st != MRB_OK) break;
        mrb_cs_soft_threshold(c, n, thresh, nth);
        st = mrb_linop_adjoint(psi, (float *)x, (const float *)c);
        if (st != MRB_OK) break;
        /* momentum */
        double t_new = 0.5 * (1 + sqrt(1 + 4 * t * t));
        float beta = (float)((t - 1) / t_new);
        t = t_new;
#pragma omp parallel for num_threads(nth) schedule(static) if (n >= FISTA_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++) z[i] = x[i] + beta * (x[i] - x_old[i]);
        w->iterations_done = it + 1;
        /* a NaN or Inf anywhere makes the sum of squares non-finite */
        double nx = mrb_cs_norm2(x, n, nth);
        if (!isfinite(nx)) {
            st = mrb_error(MRB_ERR_RUN, "fista: the iteration diverged: non-finite values at iteration %ld (step %g)",
                           it + 1, (double)step);
            break;
        }
        if (nx > bound2) {
            st = mrb_error(MRB_ERR_RUN,
                           "fista: the iteration diverged: ||x|| = %.3g at iteration %ld exceeds ||y||^2/lambda = "
                           "%.3g, which a converging run never does (step %g, L %g)",
                           sqrt(nx), it + 1, sqrt(bound2), (double)step, lipschitz);
            break;
        }
        if (o->tolerance > 0) {
            double dx = mrb_cs_diff_norm2(x, x_old, n, nth);
            if (dx <= o->tolerance * o->tolerance * nx) break;
        }
    }
    w->x = x;
    w->x_old = x_old;
    return st;
}

void mrb_cs_write_output(const mrb_cs_problem *pb, const float complex *x, mrb_array *out)
{
    float complex *o = out->data;
    const float sc = (float)pb->scale;
    for (size_t i = 0; i < pb->nimg; i++) o[i] = sc * x[i];
}
