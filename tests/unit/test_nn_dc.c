/* MR layers of the Deep Cascade: data consistency (noiseless and noisy forms,
 * gradients w.r.t. the image and lambda) and the 2D+t data-sharing layer. */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/fft.h"
#include "mrbench/nn.h"

/* FFT round trip in float: a few ulps of the largest value. */
#define KSPACE_TOL 1e-5
/* The layers are linear in x: central differences are exact up to float
 * rounding of the loss, which a larger step makes smaller. */
#define FD_EPS 1e-1
#define FD_RTOL 2e-3
#define FD_ATOL 2e-4
/* Lambda enters non-linearly: a smaller step and a looser relative tolerance. */
#define FD_LAMBDA_EPS 1e-3
#define FD_LAMBDA_RTOL 1e-2

typedef struct problem {
    mrb_dc_data d;
    float *ks, *mask;
    mrb_tensor *x, *out, *r;
} problem;

static void make_problem(problem *p, size_t n, size_t nx, size_t ny, size_t nt, int grad_channels, uint64_t seed)
{
    size_t vol = nx * ny * nt, total = vol * n;
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    p->ks = calloc(2 * total, sizeof(float));
    p->mask = calloc(total, sizeof(float));
    for (size_t i = 0; i < total; i++) {
        p->mask[i] = mrb_rng_uniform(&rng) < 0.4 ? 1.0f : 0.0f;
        if (p->mask[i] != 0.0f) {
            p->ks[2 * i] = (float)mrb_rng_normal(&rng);
            p->ks[2 * i + 1] = (float)mrb_rng_normal(&rng);
        }
    }
    p->d = (mrb_dc_data){.nx = nx, .ny = ny, .nt = nt, .n = n, .kspace = p->ks, .mask = p->mask};
    if (nt == 1) {
        p->x = mrb_tensor_create4(n, 2, ny, nx, 1);
        p->out = mrb_tensor_create4(n, (size_t)grad_channels, ny, nx, 1);
        p->r = mrb_tensor_create4(n, (size_t)grad_channels, ny, nx, 0);
    } else {
        p->x = mrb_tensor_create5(n, 2, nt, ny, nx, 1);
        p->out = mrb_tensor_create5(n, (size_t)grad_channels, nt, ny, nx, 1);
        p->r = mrb_tensor_create5(n, (size_t)grad_channels, nt, ny, nx, 0);
    }
    for (size_t i = 0; i < mrb_tensor_count(p->x); i++) p->x->data[i] = (float)mrb_rng_normal(&rng);
    for (size_t i = 0; i < mrb_tensor_count(p->r); i++) p->r->data[i] = (float)mrb_rng_normal(&rng);
}

static void free_problem(problem *p)
{
    free(p->ks);
    free(p->mask);
    mrb_tensor_free(p->x);
    mrb_tensor_free(p->out);
    mrb_tensor_free(p->r);
}

static float complex *to_kspace(const mrb_tensor *t, const mrb_dc_data *d, size_t channel)
{
    size_t vol = d->nx * d->ny * d->nt, c = t->shape[1];
    float complex *k = malloc(vol * d->n * sizeof *k);
    for (size_t b = 0; b < d->n; b++)
        for (size_t i = 0; i < vol; i++)
            k[b * vol + i] = CMPLXF(t->data[(b * c + channel) * vol + i], t->data[(b * c + channel + 1) * vol + i]);
    size_t dims[3] = {d->nx, d->ny, d->nt * d->n};
    cr_assert_eq(mrb_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, (float *)k, 1), MRB_OK);
    return k;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

static void check_dc_forward(size_t n, size_t nx, size_t ny, size_t nt, double lambda)
{
    problem p;
    make_problem(&p, n, nx, ny, nt, 2, 17);
    cr_assert_eq(mrb_nn_dc_forward(p.x, &p.d, lambda, p.out), MRB_OK, "%s", mrb_error_message());
    float complex *s = to_kspace(p.x, &p.d, 0), *so = to_kspace(p.out, &p.d, 0);
    const float complex *y = (const float complex *)p.ks;
    size_t total = nx * ny * nt * n;
    for (size_t i = 0; i < total; i++) {
        float complex want = s[i];
        if (p.mask[i] != 0.0f) want = lambda < 0 ? y[i] : (s[i] + (float)lambda * y[i]) / (1.0f + (float)lambda);
        cr_expect(cabsf(so[i] - want) <= KSPACE_TOL * (1 + cabsf(want)), "k-space %zu (sampled %d): %g%+gi vs %g%+gi",
                  i, p.mask[i] != 0.0f, crealf(so[i]), cimagf(so[i]), crealf(want), cimagf(want));
    }
    free(s);
    free(so);
    free_problem(&p);
}

Test(nn_dc, noiseless_keeps_measured_kspace_2d)
{
    check_dc_forward(2, 8, 6, 1, -1.0);
}

Test(nn_dc, noiseless_keeps_measured_kspace_2dt)
{
    check_dc_forward(1, 6, 8, 4, -1.0);
}

Test(nn_dc, noisy_weighted_average_on_the_mask)
{
    check_dc_forward(2, 8, 6, 1, 0.7);
    check_dc_forward(1, 6, 4, 3, 3.0);
}

static void check_dc_backward(size_t n, size_t nx, size_t ny, size_t nt, double lambda)
{
    problem p;
    make_problem(&p, n, nx, ny, nt, 2, 23);
    size_t cnt = mrb_tensor_count(p.x);
    memcpy(p.out->grad, p.r->data, cnt * sizeof(float));
    double dl = 0;
    cr_assert_eq(mrb_nn_dc_backward(p.x, &p.d, lambda, p.out, lambda >= 0 ? &dl : NULL), MRB_OK);
    mrb_tensor *o2 = mrb_tensor_create(p.out->ndim, p.out->shape, 0);
    for (size_t i = 0; i < cnt; i += 3) {
        float keep = p.x->data[i];
        p.x->data[i] = keep + (float)FD_EPS;
        mrb_nn_dc_forward(p.x, &p.d, lambda, o2);
        double lp = dot(o2->data, p.r->data, cnt);
        p.x->data[i] = keep - (float)FD_EPS;
        mrb_nn_dc_forward(p.x, &p.d, lambda, o2);
        double lm = dot(o2->data, p.r->data, cnt);
        p.x->data[i] = keep;
        double fd = (lp - lm) / (2 * FD_EPS);
        cr_expect(fabs(p.x->grad[i] - fd) <= FD_ATOL + FD_RTOL * fabs(fd), "dx[%zu] %g vs fd %g", i, p.x->grad[i], fd);
    }
    if (lambda >= 0) {
        mrb_nn_dc_forward(p.x, &p.d, lambda + FD_LAMBDA_EPS, o2);
        double lp = dot(o2->data, p.r->data, cnt);
        mrb_nn_dc_forward(p.x, &p.d, lambda - FD_LAMBDA_EPS, o2);
        double lm = dot(o2->data, p.r->data, cnt);
        double fd = (lp - lm) / (2 * FD_LAMBDA_EPS);
        cr_expect(fabs(dl - fd) <= FD_ATOL + FD_LAMBDA_RTOL * fabs(fd), "dlambda %g vs fd %g", dl, fd);
        cr_expect(fabs(fd) > 1e-3, "the lambda gradient is exercised (fd %g)", fd);
    }
    mrb_tensor_free(o2);
    free_problem(&p);
}

Test(nn_dc, backward_noiseless_matches_fd)
{
    check_dc_backward(2, 6, 4, 1, -1.0);
    check_dc_backward(1, 4, 6, 3, -1.0);
}

Test(nn_dc, backward_noisy_matches_fd_including_lambda)
{
    check_dc_backward(2, 6, 4, 1, 0.5);
    check_dc_backward(1, 4, 6, 3, 2.0);
}

Test(nn_dc, rejects_mismatched_tensor)
{
    problem p;
    make_problem(&p, 1, 8, 6, 1, 2, 1);
    mrb_tensor *bad = mrb_tensor_create4(1, 2, 8, 6, 0); /* nx and ny swapped */
    cr_expect_eq(mrb_nn_dc_forward(bad, &p.d, -1, p.out), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "1x2x8x6") != NULL, "%s", mrb_error_message());
    mrb_tensor_free(bad);
    free_problem(&p);
}

/* ---- data sharing ---- */

Test(nn_datashare, windows_average_kspace_and_keep_measurements)
{
    size_t nx = 4, ny = 6, nt = 5;
    for (int divide = 0; divide <= 1; divide++) {
        problem p;
        make_problem(&p, 1, nx, ny, nt, MRB_DS_CHANNELS, 31);
        cr_assert_eq(mrb_nn_datashare_forward(p.x, &p.d, divide, p.out), MRB_OK, "%s", mrb_error_message());
        size_t frame = nx * ny, vol = frame * nt;
        for (size_t i = 0; i < 2 * vol; i++) cr_expect_float_eq(p.out->data[i], p.x->data[i], 0.0f);
        float complex *s = to_kspace(p.x, &p.d, 0);
        const float complex *y = (const float complex *)p.ks;
        for (int j = 0; j < MRB_DS_NWINDOWS; j++) {
            float complex *o = to_kspace(p.out, &p.d, 2 + 2 * (size_t)j);
            for (size_t t = 0; t < nt; t++)
                for (size_t i = 0; i < frame; i++) {
                    size_t idx = t * frame + i;
                    float complex want;
                    if (p.mask[idx] != 0.0f) {
                        want = y[idx];
                    } else {
                        float complex acc = 0;
                        int acquired = 0;
                        for (int dt = -j; dt <= j; dt++) {
                            size_t tt = (t + nt * 4 + (size_t)(long)dt) % nt;
                            acc += s[tt * frame + i];
                            acquired += p.mask[tt * frame + i] != 0.0f;
                        }
                        float div = divide ? (float)(acquired > 0 ? acquired : 1) : (float)(2 * j + 1);
                        want = acc / div;
                    }
                    cr_expect(cabsf(o[idx] - want) <= KSPACE_TOL * (1 + cabsf(want)), "window %d frame %zu index %zu",
                              2 * j + 1, t, i);
                }
            free(o);
        }
        free(s);
        free_problem(&p);
    }
}

Test(nn_datashare, backward_matches_fd)
{
    for (int divide = 0; divide <= 1; divide++) {
        problem p;
        make_problem(&p, 2, 4, 3, 4, MRB_DS_CHANNELS, 37);
        size_t cnt = mrb_tensor_count(p.x), ncnt = mrb_tensor_count(p.out);
        memcpy(p.out->grad, p.r->data, ncnt * sizeof(float));
        cr_assert_eq(mrb_nn_datashare_backward(p.x, &p.d, divide, p.out), MRB_OK);
        mrb_tensor *o2 = mrb_tensor_create(5, p.out->shape, 0);
        for (size_t i = 0; i < cnt; i += 2) {
            float keep = p.x->data[i];
            p.x->data[i] = keep + (float)FD_EPS;
            mrb_nn_datashare_forward(p.x, &p.d, divide, o2);
            double lp = dot(o2->data, p.r->data, ncnt);
            p.x->data[i] = keep - (float)FD_EPS;
            mrb_nn_datashare_forward(p.x, &p.d, divide, o2);
            double lm = dot(o2->data, p.r->data, ncnt);
            p.x->data[i] = keep;
            double fd = (lp - lm) / (2 * FD_EPS);
            cr_expect(fabs(p.x->grad[i] - fd) <= FD_ATOL + FD_RTOL * fabs(fd), "divide %d dx[%zu] %g vs fd %g", divide,
                      i, p.x->grad[i], fd);
        }
        mrb_tensor_free(o2);
        free_problem(&p);
    }
}
