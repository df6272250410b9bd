/* DLMRI data consistency and the DLTG temporal-gradient step
 * (baselines/recon/dl/dl_consistency.c). */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/dl.h"
#include "test_dl_common.h"

/* Sampled k-space after the update vs the data, relative to max |y|: one
 * float FFT round trip (about 1e-7 per transform at these sizes). */
#define DC_REL_TOL 1e-5
/* Unsampled k-space must keep F x_avg to the same accuracy. */
#define KEEP_REL_TOL 1e-5
/* Split Bregman with lambda = 0 converges to the data-consistent a. */
#define TG_LAMBDA0_REL_TOL 1e-3

typedef struct problem {
    mrb_array *truth, *mask, *kspace, *x;
} problem;

static problem make_problem(size_t nx, size_t ny, size_t nt, double R)
{
    problem p;
    p.truth = dl_test_phantom(nx, ny, nt);
    p.mask = dl_test_mask(nx, ny, nt, R, 4, 77);
    p.kspace = dl_test_kspace(p.truth, p.mask);
    p.x = mrb_array_clone(p.truth);
    mrb_rng rng; /* an image that is not data consistent */
    mrb_rng_seed(&rng, 5);
    float complex *v = p.x->data;
    for (size_t i = 0; i < mrb_array_count(p.x); i++)
        v[i] += 0.2f * (float)mrb_rng_normal(&rng) + 0.2f * I * (float)mrb_rng_normal(&rng);
    return p;
}

static void free_problem(problem *p)
{
    mrb_array_free(p->truth);
    mrb_array_free(p->mask);
    mrb_array_free(p->kspace);
    mrb_array_free(p->x);
}

static double max_abs(const mrb_array *a)
{
    const float complex *v = a->data;
    double m = 0;
    for (size_t i = 0; i < mrb_array_count(a); i++)
        if (cabsf(v[i]) > m) m = cabsf(v[i]);
    return m;
}

Test(dl_consistency, noiseless_update_puts_the_measurements_on_sampled_kspace)
{
    /* property: F(DC(x)) equals y on the sampled set and F x elsewhere */
    problem p = make_problem(32, 24, 3, 3);
    mrb_array *fx = mrb_array_clone(p.x);
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, fx, 1), MRB_OK);
    cr_assert_eq(mrb_dl_data_consistency(p.x, p.kspace, p.mask, 0, 2), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, p.x, 1), MRB_OK);
    const float complex *s = p.x->data, *y = p.kspace->data, *f = fx->data;
    const float *m = p.mask->data;
    double scale = max_abs(p.kspace);
    size_t sampled = 0;
    for (size_t i = 0; i < mrb_array_count(p.mask); i++) {
        if (m[i] != 0) {
            sampled++;
            cr_assert_leq(cabsf(s[i] - y[i]), DC_REL_TOL * scale, "sampled %zu", i);
        } else {
            cr_assert_leq(cabsf(s[i] - f[i]), KEEP_REL_TOL * scale, "unsampled %zu", i);
        }
    }
    cr_assert_gt(sampled, 0);
    mrb_array_free(fx);
    free_problem(&p);
}

Test(dl_consistency, noisy_update_is_the_weighted_mean)
{
    /* property: sampled k-space becomes (F x + nu y) / (1 + nu) */
    const double nu = 3;
    problem p = make_problem(16, 16, 2, 2);
    mrb_array *fx = mrb_array_clone(p.x);
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, fx, 1), MRB_OK);
    cr_assert_eq(mrb_dl_data_consistency(p.x, p.kspace, p.mask, nu, 1), MRB_OK);
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, p.x, 1), MRB_OK);
    const float complex *s = p.x->data, *y = p.kspace->data, *f = fx->data;
    const float *m = p.mask->data;
    double scale = max_abs(p.kspace);
    for (size_t i = 0; i < mrb_array_count(p.mask); i++) {
        float complex want = m[i] != 0 ? (f[i] + (float)nu * y[i]) / (float)(1 + nu) : f[i];
        cr_assert_leq(cabsf(s[i] - want), DC_REL_TOL * scale, "location %zu", i);
    }
    mrb_array_free(fx);
    free_problem(&p);
}

static void run_tg_nu(problem *p, double lambda, int iters, double nu, int nthreads)
{
    mrb_array *d = mrb_array_create(MRB_C64, p->x->ndim, p->x->dims);
    mrb_array *b = mrb_array_create(MRB_C64, p->x->ndim, p->x->dims);
    mrb_dl_tg_opts o = {.lambda = lambda, .mu = 0.5, .iters = iters, .nu = nu, .nthreads = nthreads};
    cr_assert_eq(mrb_dl_tg_update(p->x, p->kspace, p->mask, &o, d, b), MRB_OK, "%s", mrb_error_message());
    mrb_array_free(d);
    mrb_array_free(b);
}

static void run_tg(problem *p, double lambda, int iters, int nthreads)
{
    run_tg_nu(p, lambda, iters, 0, nthreads);
}

static double tg_norm(const mrb_array *a)
{
    size_t plane = a->dims[0] * a->dims[1], nt = a->dims[2];
    const float complex *v = a->data;
    double s = 0;
    for (size_t t = 0; t < nt; t++)
        for (size_t i = 0; i < plane; i++) s += cabsf(v[((t + 1) % nt) * plane + i] - v[t * plane + i]);
    return s;
}

Test(dl_tg, tg_step_keeps_the_data_and_lowers_the_temporal_gradient)
{
    /* property: noiseless TG step leaves sampled k-space at y and reduces
     * ||grad_t x||_1 (for nt = 1, 2 and >= 3, the three solver branches) */
    const size_t nts[3] = {1, 2, 6};
    for (int c = 0; c < 3; c++) {
        problem p = make_problem(24, 20, nts[c], 2);
        double before = tg_norm(p.x);
        run_tg(&p, 0.05, 10, 2);
        double after = tg_norm(p.x);
        if (nts[c] > 1) cr_assert_lt(after, before, "nt %zu: %g -> %g", nts[c], before, after);
        cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, p.x, 1), MRB_OK);
        const float complex *s = p.x->data, *y = p.kspace->data;
        const float *m = p.mask->data;
        double scale = max_abs(p.kspace);
        for (size_t i = 0; i < mrb_array_count(p.mask); i++)
            if (m[i] != 0) cr_assert_leq(cabsf(s[i] - y[i]), DC_REL_TOL * scale, "nt %zu location %zu", nts[c], i);
        free_problem(&p);
    }
}

Test(dl_tg, without_tg_weight_the_step_converges_to_data_consistency)
{
    /* property: lambda = 0 makes the minimiser DC(a), noiseless or with
     * weight nu; split Bregman gets there (checks the cyclic tridiagonal
     * solver, both branches, against the DLMRI update) */
    const double nus[2] = {0, 3};
    for (int c = 0; c < 2; c++) {
        problem p = make_problem(16, 16, 5, 2);
        problem q = make_problem(16, 16, 5, 2);
        run_tg_nu(&p, 0, 200, nus[c], 1);
        cr_assert_eq(mrb_dl_data_consistency(q.x, q.kspace, q.mask, nus[c], 1), MRB_OK);
        const float complex *a = p.x->data, *b = q.x->data;
        double scale = max_abs(q.x), worst = 0;
        for (size_t i = 0; i < mrb_array_count(p.x); i++)
            if (cabsf(a[i] - b[i]) > worst) worst = cabsf(a[i] - b[i]);
        cr_assert_leq(worst, TG_LAMBDA0_REL_TOL * scale, "nu %g: max difference %g (scale %g)", nus[c], worst, scale);
        free_problem(&p);
        free_problem(&q);
    }
}

Test(dl_consistency, rejects_mismatched_shapes)
{
    /* property: a mask of another size is an error naming the shapes */
    problem p = make_problem(16, 16, 2, 2);
    mrb_array *bad = mrb_array_create3(MRB_F32, 16, 8, 2);
    cr_assert_eq(mrb_dl_data_consistency(p.x, p.kspace, bad, 0, 1), MRB_ERR_INVALID);
    cr_assert_not_null(strstr(mrb_error_message(), "16x8x2"), "%s", mrb_error_message());
    mrb_array_free(bad);
    free_problem(&p);
}
