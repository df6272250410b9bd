/* nn engine: every layer's backward against central finite differences, the
 * convolution forward against a direct (double) convolution, the losses and
 * optimisers against their formulas, safetensors round trips and errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mrbench/nn.h"

/* Finite-difference step and tolerance for float32 layers: the layers below
 * are linear (or piecewise linear away from kinks) in what is perturbed, so
 * central differences are exact up to float rounding of the loss. */
#define FD_EPS 1e-2
#define FD_RTOL 2e-3
#define FD_ATOL 2e-3
/* Direct vs im2col+sgemm convolution: float accumulation over <= 250 terms. */
#define CONV_FWD_TOL 1e-4

static void fill_normal(mrb_tensor *t, mrb_rng *r, double sd)
{
    size_t n = mrb_tensor_count(t);
    for (size_t i = 0; i < n; i++) t->data[i] = (float)(sd * mrb_rng_normal(r));
}

/* Loss L = sum(r .* y) for a fixed random r: dL/dy = r. */
static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

static void expect_close(double analytic, double numeric, const char *what, size_t idx)
{
    double tol = FD_ATOL + FD_RTOL * fabs(numeric);
    cr_expect(fabs(analytic - numeric) <= tol, "%s[%zu]: analytic %.6g vs finite difference %.6g", what, idx, analytic,
              numeric);
}

typedef struct conv_case {
    int rank;
    size_t n, cin, cout, d, h, w, k, stride, pad, dil;
    int bias;
} conv_case;

static double direct_conv(const mrb_conv *c, const mrb_tensor *x, size_t n, size_t co, size_t od, size_t oh, size_t ow)
{
    const mrb_conv_cfg *f = &c->cfg;
    size_t d = f->rank == 3 ? x->shape[2] : 1, h = x->shape[x->ndim - 2], w = x->shape[x->ndim - 1];
    double s = c->bias ? c->bias->data[co] : 0.0;
    for (size_t ci = 0; ci < f->cin; ci++)
        for (size_t a = 0; a < f->k[0]; a++)
            for (size_t b = 0; b < f->k[1]; b++)
                for (size_t e = 0; e < f->k[2]; e++) {
                    long id = (long)(od * f->stride[0] + a * f->dil[0]) - (long)f->pad[0];
                    long ih = (long)(oh * f->stride[1] + b * f->dil[1]) - (long)f->pad[1];
                    long iw = (long)(ow * f->stride[2] + e * f->dil[2]) - (long)f->pad[2];
                    if (id < 0 || ih < 0 || iw < 0 || id >= (long)d || ih >= (long)h || iw >= (long)w) continue;
                    double xv = x->data[(((n * f->cin + ci) * d + (size_t)id) * h + (size_t)ih) * w + (size_t)iw];
                    double wv = c->weight->data[(((co * f->cin + ci) * f->k[0] + a) * f->k[1] + b) * f->k[2] + e];
                    s += xv * wv;
                }
    return s;
}

/* depth_pad >= 0 pads the depth axis by that instead of cc->pad. */
static void run_conv_case_depth_pad(const conv_case *cc, mrb_act act, long depth_pad)
{
    mrb_conv_cfg cfg = mrb_conv_cfg_same(cc->rank, cc->cin, cc->cout, cc->k, act);
    for (int i = 0; i < 3; i++) {
        if (cc->rank == 2 && i == 0) continue;
        cfg.stride[i] = cc->stride;
        cfg.pad[i] = cc->pad;
        cfg.dil[i] = cc->dil;
    }
    if (cc->rank == 3 && depth_pad >= 0) cfg.pad[0] = (size_t)depth_pad;
    cfg.bias = cc->bias;
    cfg.leak = 0.1f;
    mrb_conv *c;
    cr_assert_eq(mrb_conv_create(&cfg, &c), MRB_OK, "%s", mrb_error_message());
    mrb_rng r;
    mrb_rng_seed(&r, 42);
    fill_normal(c->weight, &r, 0.5);
    if (c->bias) fill_normal(c->bias, &r, 0.5);
    mrb_tensor *x = cc->rank == 3 ? mrb_tensor_create5(cc->n, cc->cin, cc->d, cc->h, cc->w, 1)
                                  : mrb_tensor_create4(cc->n, cc->cin, cc->h, cc->w, 1);
    fill_normal(x, &r, 1.0);
    size_t ys[MRB_NN_MAX_DIMS];
    cr_assert_eq(mrb_conv_out_shape(c, x, ys), MRB_OK);
    mrb_tensor *y = mrb_tensor_create(x->ndim, ys, 1);
    mrb_tensor *rw = mrb_tensor_create(x->ndim, ys, 0);
    fill_normal(rw, &r, 1.0);
    size_t ny = mrb_tensor_count(y);
    cr_assert_eq(mrb_conv_forward(c, x, y), MRB_OK, "%s", mrb_error_message());

    /* forward vs direct convolution */
    size_t od = cc->rank == 3 ? ys[2] : 1, oh = ys[x->ndim - 2], ow = ys[x->ndim - 1];
    for (size_t n = 0; n < cc->n; n++)
        for (size_t co = 0; co < cc->cout; co++)
            for (size_t p = 0; p < od * oh * ow; p++) {
                double ref = direct_conv(c, x, n, co, p / (oh * ow), (p / ow) % oh, p % ow);
                if (act != MRB_ACT_NONE && ref < 0) ref *= 0.1;
                float got = y->data[(n * cc->cout + co) * od * oh * ow + p];
                cr_expect(fabs(got - ref) <= CONV_FWD_TOL * (1 + fabs(ref)),
                          "conv forward (%zu,%zu,%zu): %g vs direct %g", n, co, p, got, ref);
            }
    if (act != MRB_ACT_NONE) goto done; /* the fused activation's backward is checked below */

    memcpy(y->grad, rw->data, ny * sizeof(float));
    cr_assert_eq(mrb_conv_backward(c, x, y), MRB_OK, "%s", mrb_error_message());
    mrb_tensor *targets[3] = {x, c->weight, c->bias};
    const char *names[3] = {"dx", "dW", "db"};
    mrb_tensor *y2 = mrb_tensor_create(x->ndim, ys, 0);
    for (int k = 0; k < 3; k++) {
        mrb_tensor *t = targets[k];
        if (!t) continue;
        size_t cnt = mrb_tensor_count(t);
        size_t stride = cnt > 40 ? cnt / 40 : 1; /* a spread of entries */
        for (size_t i = 0; i < cnt; i += stride) {
            float keep = t->data[i];
            t->data[i] = keep + (float)FD_EPS;
            mrb_conv_forward(c, x, y2);
            double lp = dot(y2->data, rw->data, ny);
            t->data[i] = keep - (float)FD_EPS;
            mrb_conv_forward(c, x, y2);
            double lm = dot(y2->data, rw->data, ny);
            t->data[i] = keep;
            expect_close(t->grad[i], (lp - lm) / (2 * FD_EPS), names[k], i);
        }
    }
    mrb_tensor_free(y2);
done:
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_tensor_free(rw);
    mrb_conv_free(c);
}

static void run_conv_case(const conv_case *cc, mrb_act act)
{
    run_conv_case_depth_pad(cc, act, -1);
}

Test(nn_conv, conv2d_3x3_same_matches_direct_and_fd)
{
    conv_case c = {2, 2, 3, 4, 1, 7, 6, 3, 1, 1, 1, 1};
    run_conv_case(&c, MRB_ACT_NONE);
}

Test(nn_conv, conv2d_strided_dilated_matches_direct_and_fd)
{
    conv_case c = {2, 2, 2, 3, 1, 9, 8, 3, 2, 1, 2, 1};
    run_conv_case(&c, MRB_ACT_NONE);
}

Test(nn_conv, conv2d_pointwise_no_bias_matches_direct_and_fd)
{
    conv_case c = {2, 2, 5, 3, 1, 4, 5, 1, 1, 0, 1, 0};
    run_conv_case(&c, MRB_ACT_NONE);
}

Test(nn_conv, conv3d_3x3x3_matches_direct_and_fd)
{
    conv_case c = {3, 1, 2, 3, 4, 5, 6, 3, 1, 1, 1, 1};
    run_conv_case(&c, MRB_ACT_NONE);
}

/* 3x3x3 runs as in-plane Winograd with the depth taps joined to the
 * channels: depth padding 0 (valid) and 2 (every output plane sees padding
 * on one side or both) check the plane indexing at both edges. */
Test(nn_conv, conv3d_winograd_depth_pad_0_and_2_match_direct_and_fd)
{
    conv_case valid = {3, 2, 3, 2, 5, 6, 7, 3, 1, 1, 1, 1};
    run_conv_case_depth_pad(&valid, MRB_ACT_NONE, 0);
    conv_case wide = {3, 1, 2, 3, 3, 5, 4, 3, 1, 1, 1, 1};
    run_conv_case_depth_pad(&wide, MRB_ACT_NONE, 2);
}

Test(nn_conv, conv3d_strided_unpadded_matches_direct_and_fd)
{
    conv_case c = {3, 2, 2, 2, 5, 6, 7, 3, 2, 0, 1, 1};
    run_conv_case(&c, MRB_ACT_NONE);
}

Test(nn_conv, fused_leaky_relu_forward_matches_direct)
{
    conv_case c = {2, 1, 3, 4, 1, 6, 6, 3, 1, 1, 1, 1};
    run_conv_case(&c, MRB_ACT_LEAKY_RELU);
}

/* Fused activation backward = separate conv + leaky ReLU backward. */
Test(nn_conv, fused_activation_backward_equals_separate_layers)
{
    mrb_conv_cfg fa = mrb_conv_cfg_same(2, 3, 4, 3, MRB_ACT_LEAKY_RELU);
    fa.leak = 0.2f;
    mrb_conv_cfg fn = fa;
    fn.act = MRB_ACT_NONE;
    mrb_conv *a, *b;
    cr_assert_eq(mrb_conv_create(&fa, &a), MRB_OK);
    cr_assert_eq(mrb_conv_create(&fn, &b), MRB_OK);
    mrb_rng r;
    mrb_rng_seed(&r, 7);
    mrb_conv_init_he(a, &r);
    fill_normal(a->bias, &r, 0.3);
    memcpy(b->weight->data, a->weight->data, mrb_tensor_count(a->weight) * sizeof(float));
    memcpy(b->bias->data, a->bias->data, mrb_tensor_count(a->bias) * sizeof(float));
    mrb_tensor *x1 = mrb_tensor_create4(2, 3, 8, 7, 1), *x2 = mrb_tensor_create4(2, 3, 8, 7, 1);
    fill_normal(x1, &r, 1.0);
    memcpy(x2->data, x1->data, mrb_tensor_count(x1) * sizeof(float));
    mrb_tensor *y1 = mrb_tensor_create4(2, 4, 8, 7, 1), *z = mrb_tensor_create4(2, 4, 8, 7, 1),
               *y2 = mrb_tensor_create4(2, 4, 8, 7, 1);
    size_t ny = mrb_tensor_count(y1);
    cr_assert_eq(mrb_conv_forward(a, x1, y1), MRB_OK);
    cr_assert_eq(mrb_conv_forward(b, x2, z), MRB_OK);
    cr_assert_eq(mrb_nn_leaky_relu_forward(z, y2, 0.2f), MRB_OK);
    for (size_t i = 0; i < ny; i++) {
        cr_expect_float_eq(y1->data[i], y2->data[i], 1e-6f);
        y1->grad[i] = y2->grad[i] = (float)mrb_rng_normal(&r);
    }
    cr_assert_eq(mrb_conv_backward(a, x1, y1), MRB_OK);
    cr_assert_eq(mrb_nn_leaky_relu_backward(z, y2, 0.2f), MRB_OK);
    cr_assert_eq(mrb_conv_backward(b, x2, z), MRB_OK);
    for (size_t i = 0; i < mrb_tensor_count(x1); i++) cr_expect_float_eq(x1->grad[i], x2->grad[i], 1e-5f, "dx[%zu]", i);
    for (size_t i = 0; i < mrb_tensor_count(a->weight); i++)
        cr_expect_float_eq(a->weight->grad[i], b->weight->grad[i], 1e-4f, "dW[%zu]", i);
    mrb_tensor_free(x1);
    mrb_tensor_free(x2);
    mrb_tensor_free(y1);
    mrb_tensor_free(y2);
    mrb_tensor_free(z);
    mrb_conv_free(a);
    mrb_conv_free(b);
}

Test(nn_conv, rejects_wrong_input_channels)
{
    mrb_conv_cfg f = mrb_conv_cfg_same(2, 3, 4, 3, MRB_ACT_NONE);
    mrb_conv *c;
    cr_assert_eq(mrb_conv_create(&f, &c), MRB_OK);
    mrb_tensor *x = mrb_tensor_create4(1, 2, 5, 5, 0), *y = mrb_tensor_create4(1, 4, 5, 5, 0);
    cr_expect_eq(mrb_conv_forward(c, x, y), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "1x2x5x5") != NULL, "%s", mrb_error_message());
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_conv_free(c);
}

Test(nn_conv, deterministic_for_a_thread_count)
{
    mrb_nn_set_threads(2);
    mrb_conv_cfg f = mrb_conv_cfg_same(2, 8, 8, 3, MRB_ACT_RELU);
    mrb_conv *c;
    cr_assert_eq(mrb_conv_create(&f, &c), MRB_OK);
    mrb_rng r;
    mrb_rng_seed(&r, 3);
    mrb_conv_init_he(c, &r);
    mrb_tensor *x = mrb_tensor_create4(2, 8, 33, 31, 1), *y = mrb_tensor_create4(2, 8, 33, 31, 1);
    fill_normal(x, &r, 1);
    size_t nw = mrb_tensor_count(c->weight);
    float *g1 = malloc(nw * sizeof(float));
    for (int rep = 0; rep < 2; rep++) {
        mrb_tensor_zero_grad(c->weight);
        mrb_conv_forward(c, x, y);
        for (size_t i = 0; i < mrb_tensor_count(y); i++) y->grad[i] = 1.0f;
        mrb_conv_backward(c, x, y);
        if (rep == 0)
            memcpy(g1, c->weight->grad, nw * sizeof(float));
        else
            cr_expect(memcmp(g1, c->weight->grad, nw * sizeof(float)) == 0, "weight gradients differ between runs");
    }
    free(g1);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_conv_free(c);
    mrb_nn_set_threads(1);
}

/* ---- element-wise layers ---- */

Test(nn_elementwise, leaky_relu_backward_matches_fd)
{
    mrb_rng r;
    mrb_rng_seed(&r, 5);
    mrb_tensor *x = mrb_tensor_create4(1, 2, 4, 4, 1), *y = mrb_tensor_create4(1, 2, 4, 4, 1);
    size_t n = mrb_tensor_count(x);
    for (size_t i = 0; i < n; i++) { /* keep away from the kink at 0 */
        float v = (float)mrb_rng_normal(&r);
        x->data[i] = v + (v >= 0 ? 0.1f : -0.1f);
        y->grad[i] = (float)mrb_rng_normal(&r);
    }
    mrb_nn_leaky_relu_forward(x, y, 0.3f);
    mrb_nn_leaky_relu_backward(x, y, 0.3f);
    mrb_tensor *y2 = mrb_tensor_create4(1, 2, 4, 4, 0);
    for (size_t i = 0; i < n; i++) {
        float keep = x->data[i];
        double eps = 0.05;
        x->data[i] = keep + (float)eps;
        mrb_nn_leaky_relu_forward(x, y2, 0.3f);
        double lp = dot(y2->data, y->grad, n);
        x->data[i] = keep - (float)eps;
        mrb_nn_leaky_relu_forward(x, y2, 0.3f);
        double lm = dot(y2->data, y->grad, n);
        x->data[i] = keep;
        expect_close(x->grad[i], (lp - lm) / (2 * eps), "relu dx", i);
    }
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_tensor_free(y2);
}

Test(nn_elementwise, add_and_concat_route_gradients)
{
    mrb_tensor *a = mrb_tensor_create4(2, 1, 2, 3, 1), *b = mrb_tensor_create4(2, 2, 2, 3, 1);
    mrb_tensor *y = mrb_tensor_create4(2, 3, 2, 3, 1);
    for (size_t i = 0; i < 12; i++) a->data[i] = (float)i;
    for (size_t i = 0; i < 24; i++) b->data[i] = 100.0f + (float)i;
    const mrb_tensor *xs[2] = {a, b};
    cr_assert_eq(mrb_nn_concat_forward(xs, 2, y), MRB_OK);
    /* item 1: a's channel then b's two channels */
    cr_expect_float_eq(y->data[18], a->data[6], 0.0f);
    cr_expect_float_eq(y->data[24], b->data[12], 0.0f);
    for (size_t i = 0; i < 36; i++) y->grad[i] = (float)i;
    mrb_tensor *const xg[2] = {a, b};
    cr_assert_eq(mrb_nn_concat_backward(xg, 2, y), MRB_OK);
    cr_expect_float_eq(a->grad[6], 18.0f, 0.0f);
    cr_expect_float_eq(b->grad[12], 24.0f, 0.0f);

    mrb_tensor *p = mrb_tensor_create4(1, 1, 2, 2, 1), *q = mrb_tensor_create4(1, 1, 2, 2, 1);
    mrb_tensor *s = mrb_tensor_create4(1, 1, 2, 2, 1);
    for (size_t i = 0; i < 4; i++) {
        p->data[i] = (float)i;
        q->data[i] = 2.0f * (float)i;
        s->grad[i] = 1.0f + (float)i;
    }
    cr_assert_eq(mrb_nn_add_forward(p, q, s), MRB_OK);
    cr_assert_eq(mrb_nn_add_backward(p, q, s), MRB_OK);
    for (size_t i = 0; i < 4; i++) {
        cr_expect_float_eq(s->data[i], 3.0f * (float)i, 0.0f);
        cr_expect_float_eq(p->grad[i], s->grad[i], 0.0f);
        cr_expect_float_eq(q->grad[i], s->grad[i], 0.0f);
    }
    cr_expect_eq(mrb_nn_add_forward(a, b, y), MRB_ERR_INVALID);
    mrb_tensor_free(a);
    mrb_tensor_free(b);
    mrb_tensor_free(y);
    mrb_tensor_free(p);
    mrb_tensor_free(q);
    mrb_tensor_free(s);
}

Test(nn_loss, mse_and_l1_values_and_fd)
{
    mrb_rng r;
    mrb_rng_seed(&r, 11);
    mrb_tensor *p = mrb_tensor_create4(1, 2, 3, 3, 1), *t = mrb_tensor_create4(1, 2, 3, 3, 0);
    size_t n = mrb_tensor_count(p);
    fill_normal(p, &r, 1);
    fill_normal(t, &r, 1);
    double ref = 0;
    for (size_t i = 0; i < n; i++) ref += pow(p->data[i] - t->data[i], 2);
    double loss;
    cr_assert_eq(mrb_nn_mse_loss(p, t, 2.0f, &loss), MRB_OK);
    cr_expect(fabs(loss - 2.0 * ref / (double)n) < 1e-6 * (1 + ref), "mse %g vs %g", loss, 2 * ref / n);
    for (size_t i = 0; i < n; i++) {
        float keep = p->data[i];
        double lp, lm, eps = 1e-3;
        mrb_tensor *g = p;
        float *saved = g->grad;
        g->grad = NULL;
        p->data[i] = keep + (float)eps;
        mrb_nn_mse_loss(p, t, 2.0f, &lp);
        p->data[i] = keep - (float)eps;
        mrb_nn_mse_loss(p, t, 2.0f, &lm);
        p->data[i] = keep;
        g->grad = saved;
        expect_close(p->grad[i], (lp - lm) / (2 * eps), "mse grad", i);
    }
    mrb_tensor_zero_grad(p);
    cr_assert_eq(mrb_nn_l1_loss(p, t, &loss), MRB_OK);
    double l1 = 0;
    for (size_t i = 0; i < n; i++) {
        l1 += fabs(p->data[i] - t->data[i]);
        double sign = p->data[i] > t->data[i] ? 1.0 : -1.0;
        cr_expect(fabs(p->grad[i] - sign / (double)n) < 1e-7, "l1 grad %zu", i);
    }
    cr_expect(fabs(loss - l1 / (double)n) < 1e-9);
    mrb_tensor_free(p);
    mrb_tensor_free(t);
}

/* ---- optimisers ---- */

Test(nn_optim, adam_first_steps_follow_kingma_ba)
{
    size_t two = 2;
    mrb_tensor *w = mrb_tensor_create(1, &two, 1);
    w->data[0] = 1.0f;
    w->data[1] = -2.0f;
    mrb_adam_cfg cfg = mrb_adam_defaults();
    cfg.lr = 0.1;
    cfg.weight_decay = 0.5;
    mrb_optim *o;
    int decay[1] = {1};
    cr_assert_eq(mrb_optim_adam_create(&w, decay, 1, &cfg, &o), MRB_OK);
    double m[2] = {0, 0}, v[2] = {0, 0}, ref[2] = {1.0, -2.0};
    for (int t = 1; t <= 3; t++) {
        w->grad[0] = 0.3f * (float)t;
        w->grad[1] = -0.7f;
        for (int i = 0; i < 2; i++) {
            double g = w->grad[i] + 2 * 0.5 * ref[i];
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.999, t));
            ref[i] -= 0.1 * mh / (sqrt(vh) + 1e-8);
        }
        mrb_optim_step(o);
        for (int i = 0; i < 2; i++)
            cr_expect(fabs(w->data[i] - ref[i]) < 1e-5, "step %d w[%d] %g vs %g", t, i, w->data[i], ref[i]);
    }
    cr_expect_eq(mrb_optim_steps(o), 3u);
    mrb_optim_free(o);
    mrb_tensor_free(w);
}

Test(nn_optim, sgd_momentum_and_decay)
{
    size_t one = 1;
    mrb_tensor *w = mrb_tensor_create(1, &one, 1);
    w->data[0] = 1.0f;
    mrb_sgd_cfg cfg = {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.05};
    mrb_optim *o;
    cr_assert_eq(mrb_optim_sgd_create(&w, NULL, 1, &cfg, &o), MRB_OK);
    double ref = 1.0, buf = 0.0;
    for (int t = 0; t < 4; t++) {
        w->grad[0] = 0.5f;
        double g = 0.5 + 2 * 0.05 * ref;
        buf = 0.9 * buf + g;
        ref -= 0.1 * buf;
        mrb_optim_step(o);
        cr_expect(fabs(w->data[0] - ref) < 1e-6, "step %d: %g vs %g", t, w->data[0], ref);
    }
    mrb_optim_free(o);
    mrb_tensor_free(w);
}

Test(nn_init, he_normal_variance)
{
    mrb_tensor *w = mrb_tensor_create4(64, 64, 3, 3, 0);
    mrb_rng r;
    mrb_rng_seed(&r, 1);
    mrb_nn_init_he_normal(w, 576, &r);
    size_t n = mrb_tensor_count(w);
    double s2 = 0;
    for (size_t i = 0; i < n; i++) s2 += (double)w->data[i] * w->data[i];
    /* 36864 samples: the variance estimate's relative sd is sqrt(2/n) ~ 0.7% */
    cr_expect(fabs(s2 / (double)n / (2.0 / 576) - 1) < 0.05, "variance %g", s2 / (double)n);
    mrb_tensor_free(w);
}

/* ---- safetensors ---- */

static char *tmp_path(const char *stem)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/mrb_test_nn_%s_%ld.safetensors", stem, (long)getpid());
    return buf;
}

Test(nn_safetensors, round_trip_and_header_layout)
{
    mrb_tensor *a = mrb_tensor_create4(2, 3, 1, 2, 0);
    size_t one = 5;
    mrb_tensor *b = mrb_tensor_create(1, &one, 0);
    for (size_t i = 0; i < 12; i++) a->data[i] = (float)i * 0.5f - 1.0f;
    for (size_t i = 0; i < 5; i++) b->data[i] = -(float)i;
    mrb_named_tensor ts[2] = {{"layer.0.weight", a}, {"layer.0.bias", b}};
    const char *meta[] = {"arch", "test"};
    const char *path = tmp_path("rt");
    cr_assert_eq(mrb_safetensors_write(path, ts, 2, meta, 1), MRB_OK, "%s", mrb_error_message());
    FILE *f = fopen(path, "rb");
    unsigned char h[8];
    cr_assert_eq(fread(h, 1, 8, f), 8u);
    fclose(f);
    unsigned long long hl = 0;
    for (int k = 0; k < 8; k++) hl |= (unsigned long long)h[k] << (8 * k);
    cr_expect_eq(hl % 8, 0u, "header padded to 8 bytes");
    mrb_tensor *a2 = mrb_tensor_create4(2, 3, 1, 2, 0), *b2 = mrb_tensor_create(1, &one, 0);
    mrb_named_tensor rs[2] = {{"layer.0.bias", b2}, {"layer.0.weight", a2}};
    cr_assert_eq(mrb_safetensors_read(path, rs, 2, NULL, NULL), MRB_OK, "%s", mrb_error_message());
    cr_expect(memcmp(a->data, a2->data, 12 * sizeof(float)) == 0);
    cr_expect(memcmp(b->data, b2->data, 5 * sizeof(float)) == 0);

    /* wrong shape names the tensor */
    mrb_tensor *bad = mrb_tensor_create4(2, 3, 2, 1, 0);
    mrb_named_tensor ws[2] = {{"layer.0.bias", b2}, {"layer.0.weight", bad}};
    cr_expect_eq(mrb_safetensors_read(path, ws, 2, NULL, NULL), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "layer.0.weight") != NULL, "%s", mrb_error_message());
    /* a tensor the caller did not ask for is an error */
    cr_expect_eq(mrb_safetensors_read(path, rs, 1, NULL, NULL), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "unexpected tensor 'layer.0.weight'") != NULL, "%s", mrb_error_message());

    /* truncated data names the tensor past the end */
    cr_assert_eq(truncate(path, (off_t)(8 + hl + 12 * 4)), 0);
    cr_expect_eq(mrb_safetensors_read(path, rs, 2, NULL, NULL), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "layer.0.bias") != NULL && strstr(mrb_error_message(), "truncated") != NULL,
              "%s", mrb_error_message());
    cr_assert_eq(truncate(path, 5), 0);
    cr_expect_eq(mrb_safetensors_read(path, rs, 2, NULL, NULL), MRB_ERR_INVALID);
    remove(path);
    mrb_tensor_free(a);
    mrb_tensor_free(b);
    mrb_tensor_free(a2);
    mrb_tensor_free(b2);
    mrb_tensor_free(bad);
}

static void write_safetensors(const char *path, const char *header, size_t data_bytes)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    size_t hl = strlen(header);
    for (int k = 0; k < 8; k++) fputc((int)((hl >> (8 * k)) & 0xff), f);
    fwrite(header, 1, hl, f);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, f);
    fclose(f);
}

static void meta_pair(void *ctx, const char *key, const char *value)
{
    /* a metadata pair is two strings */
    cr_assert(key != NULL && value != NULL, "metadata callback got a NULL key or value");
    (*(int *)ctx)++;
}

Test(nn_safetensors, metadata_that_is_not_an_object_is_an_error)
{
    /* Found while writing tests/fuzz/fuzz_safetensors.c: an array "__metadata__" passed
     * its elements' NULL keys to the callback (a crash in every caller). */
    const char *path = tmp_path("meta_array");
    static const char *const bad[] = {"{\"__metadata__\":[\"a\",\"b\"]}", "{\"__metadata__\":\"a\"}",
                                      "{\"__metadata__\":{\"k\":1}}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_safetensors(path, bad[i], 0);
        int pairs = 0;
        cr_expect_eq(mrb_safetensors_read_meta(path, meta_pair, &pairs), MRB_ERR_INVALID, "%s", bad[i]);
        cr_expect(strstr(mrb_error_message(), path) != NULL && strstr(mrb_error_message(), "metadata") != NULL,
                  "%s: %s", bad[i], mrb_error_message());
        cr_expect_eq(pairs, 0, "%s", bad[i]);
        cr_expect_eq(mrb_safetensors_read(path, NULL, 0, meta_pair, &pairs), MRB_ERR_INVALID, "%s", bad[i]);
    }
    write_safetensors(path, "{\"__metadata__\":{\"k\":\"v\"}}", 0);
    int pairs = 0;
    cr_expect_eq(mrb_safetensors_read_meta(path, meta_pair, &pairs), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(pairs, 1);
    remove(path);
}

/* Several chunks per item and two threads (the parallel split, the Winograd
 * tile rows, the per-thread weight-gradient partials) give the results of
 * one thread, and the forward matches the direct convolution. */
static void compare_threads(int rank, size_t cin, size_t cout, size_t d, size_t h, size_t w, size_t stride)
{
    const float tol = 2e-4f; /* float sums over up to 1728 terms in another order */
    mrb_conv_cfg f = mrb_conv_cfg_same(rank, cin, cout, 3, MRB_ACT_RELU);
    for (int i = rank == 2 ? 1 : 0; i < 3; i++) f.stride[i] = stride;
    mrb_conv *c;
    cr_assert_eq(mrb_conv_create(&f, &c), MRB_OK);
    mrb_rng r;
    mrb_rng_seed(&r, 77);
    mrb_conv_init_he(c, &r);
    fill_normal(c->bias, &r, 0.1);
    mrb_tensor *x = rank == 3 ? mrb_tensor_create5(2, cin, d, h, w, 1) : mrb_tensor_create4(2, cin, h, w, 1);
    fill_normal(x, &r, 1);
    size_t ys[MRB_NN_MAX_DIMS];
    cr_assert_eq(mrb_conv_out_shape(c, x, ys), MRB_OK);
    mrb_tensor *y = mrb_tensor_create(x->ndim, ys, 1);
    size_t ny = mrb_tensor_count(y), nx = mrb_tensor_count(x), nw = mrb_tensor_count(c->weight);
    float *dy = malloc(ny * sizeof(float)), *ref[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < ny; i++) dy[i] = (float)mrb_rng_normal(&r);
    for (int threads = 1; threads <= 2; threads++) {
        mrb_nn_set_threads(threads);
        mrb_tensor_zero_grad(x);
        mrb_tensor_zero_grad(c->weight);
        cr_assert_eq(mrb_conv_forward(c, x, y), MRB_OK);
        memcpy(y->grad, dy, ny * sizeof(float));
        cr_assert_eq(mrb_conv_backward(c, x, y), MRB_OK);
        if (threads == 1) {
            ref[0] = malloc(ny * sizeof(float));
            ref[1] = malloc(nx * sizeof(float));
            ref[2] = malloc(nw * sizeof(float));
            memcpy(ref[0], y->data, ny * sizeof(float));
            memcpy(ref[1], x->grad, nx * sizeof(float));
            memcpy(ref[2], c->weight->grad, nw * sizeof(float));
            /* spot checks against the direct convolution */
            size_t od = rank == 3 ? ys[2] : 1, oh = ys[x->ndim - 2], ow = ys[x->ndim - 1], p = od * oh * ow;
            for (size_t k = 0; k < 200; k++) {
                size_t n = k % 2, co = (k * 7) % cout, q = (k * 7919) % p;
                double v = direct_conv(c, x, n, co, q / (oh * ow), (q / ow) % oh, q % ow);
                if (v < 0) v = 0;
                float got = y->data[(n * cout + co) * p + q];
                cr_expect(fabs(got - v) <= tol * (1 + fabs(v)), "forward (%zu,%zu,%zu): %g vs %g", n, co, q, got, v);
            }
        } else {
            for (size_t i = 0; i < ny; i++)
                cr_expect(fabsf(y->data[i] - ref[0][i]) <= tol * (1 + fabsf(ref[0][i])), "y[%zu]", i);
            for (size_t i = 0; i < nx; i++)
                cr_expect(fabsf(x->grad[i] - ref[1][i]) <= tol * (1 + fabsf(ref[1][i])), "dx[%zu]", i);
            for (size_t i = 0; i < nw; i++)
                cr_expect(fabsf(c->weight->grad[i] - ref[2][i]) <= tol * (1 + fabsf(ref[2][i])), "dW[%zu]", i);
        }
    }
    mrb_nn_set_threads(1);
    for (int k = 0; k < 3; k++) free(ref[k]);
    free(dy);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_conv_free(c);
}

Test(nn_conv, two_threads_many_chunks_winograd_2d)
{
    compare_threads(2, 64, 64, 1, 37, 29, 1);
}

/* 48 input channels make the 3D Winograd split the 10 tile rows of each
 * plane into 3 bands, so each item has several chunks. */
Test(nn_conv, two_threads_many_chunks_winograd_3d)
{
    compare_threads(3, 48, 16, 5, 19, 21, 1);
}

Test(nn_conv, two_threads_strided_im2col_3d)
{
    compare_threads(3, 8, 8, 5, 19, 21, 2);
}

Test(nn_conv, two_threads_strided_general_path)
{
    compare_threads(2, 8, 8, 1, 30, 31, 2);
}

/* ---- transposed convolution ---- */

static double convt_loss(mrb_conv *t, mrb_tensor *x, mrb_tensor *y, const float *r)
{
    mrb_convt_forward(t, x, y);
    return dot(y->data, r, mrb_tensor_count(y));
}

static void check_convt(int rank, size_t stride, size_t pad)
{
    mrb_conv_cfg f = mrb_conv_cfg_same(rank, 3, 2, 3, MRB_ACT_NONE);
    for (int i = rank == 2 ? 1 : 0; i < 3; i++) {
        f.stride[i] = stride;
        f.pad[i] = pad;
    }
    mrb_conv *t;
    cr_assert_eq(mrb_convt_create(&f, &t), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(t->weight->shape[0], 3u, "weight [cin, cout, k...] as PyTorch");
    cr_expect_eq(t->weight->shape[1], 2u);
    mrb_rng r;
    mrb_rng_seed(&r, 21);
    fill_normal(t->weight, &r, 0.5);
    fill_normal(t->bias, &r, 0.5);
    mrb_tensor *x = rank == 3 ? mrb_tensor_create5(2, 3, 3, 4, 3, 1) : mrb_tensor_create4(2, 3, 4, 5, 1);
    fill_normal(x, &r, 1);
    size_t ys[MRB_NN_MAX_DIMS];
    cr_assert_eq(mrb_convt_out_shape(t, x, ys), MRB_OK, "%s", mrb_error_message());
    for (int i = 2; i < x->ndim; i++)
        cr_expect_eq(ys[i], (x->shape[i] - 1) * stride + 3 - 2 * pad, "output length axis %d", i);
    mrb_tensor *y = mrb_tensor_create(x->ndim, ys, 1), *z = mrb_tensor_create(x->ndim, ys, 0);
    fill_normal(z, &r, 1);
    size_t ny = mrb_tensor_count(y), nx = mrb_tensor_count(x);
    cr_assert_eq(mrb_convt_forward(t, x, y), MRB_OK, "%s", mrb_error_message());

    /* adjoint of the convolution with the same weights: <T x, z> = <x, C z> + <bias, sum z> */
    mrb_conv_cfg fc = f;
    fc.cin = 2;
    fc.cout = 3;
    fc.bias = 0;
    mrb_conv *c;
    cr_assert_eq(mrb_conv_create(&fc, &c), MRB_OK);
    memcpy(c->weight->data, t->weight->data, mrb_tensor_count(t->weight) * sizeof(float));
    mrb_tensor *cz = mrb_tensor_create(x->ndim, x->shape, 0);
    cr_assert_eq(mrb_conv_forward(c, z, cz), MRB_OK, "%s", mrb_error_message());
    double lhs = dot(y->data, z->data, ny), rhs = dot(x->data, cz->data, nx);
    size_t plane = ny / (ys[0] * 2);
    for (size_t n = 0; n < ys[0]; n++)
        for (size_t ch = 0; ch < 2; ch++)
            for (size_t i = 0; i < plane; i++) rhs += (double)t->bias->data[ch] * z->data[(n * 2 + ch) * plane + i];
    cr_expect(fabs(lhs - rhs) < 1e-4 * (1 + fabs(lhs)), "adjoint: %g vs %g", lhs, rhs);

    /* backward against finite differences (the layer is linear in x and in W) */
    memcpy(y->grad, z->data, ny * sizeof(float));
    cr_assert_eq(mrb_convt_backward(t, x, y), MRB_OK, "%s", mrb_error_message());
    mrb_tensor *targets[3] = {x, t->weight, t->bias};
    const char *names[3] = {"convT dx", "convT dW", "convT db"};
    for (int k = 0; k < 3; k++) {
        mrb_tensor *tt = targets[k];
        size_t cnt = mrb_tensor_count(tt), step = cnt > 30 ? cnt / 30 : 1;
        for (size_t i = 0; i < cnt; i += step) {
            float keep = tt->data[i];
            tt->data[i] = keep + (float)FD_EPS;
            double lp = convt_loss(t, x, y, z->data);
            tt->data[i] = keep - (float)FD_EPS;
            double lm = convt_loss(t, x, y, z->data);
            tt->data[i] = keep;
            expect_close(tt->grad[i], (lp - lm) / (2 * FD_EPS), names[k], i);
        }
    }
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_tensor_free(z);
    mrb_tensor_free(cz);
    mrb_conv_free(c);
    mrb_conv_free(t);
}

Test(nn_convt, stride2_2d_adjoint_and_fd)
{
    check_convt(2, 2, 1);
}

Test(nn_convt, stride1_2d_winograd_adjoint_and_fd)
{
    check_convt(2, 1, 1);
}

Test(nn_convt, stride2_3d_adjoint_and_fd)
{
    check_convt(3, 2, 0);
}
