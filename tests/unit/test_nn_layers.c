/* nn layers for segmentation networks: pooling, upsampling, batch and
 * instance normalisation, softmax, cross-entropy and soft Dice, each
 * backward against central finite differences and each forward against its
 * definition. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/nn.h"

/* Float layers, smooth (or piecewise linear away from ties) in the input. */
#define FD_EPS 1e-2
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3

static void fill(mrb_tensor *t, uint64_t seed, double sd)
{
    mrb_rng r;
    mrb_rng_seed(&r, seed);
    for (size_t i = 0; i < mrb_tensor_count(t); i++) t->data[i] = (float)(sd * mrb_rng_normal(&r));
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Compares grad[i] with the central difference of f over t->data[i]. */
static void check_fd(mrb_tensor *t, const float *grad, loss_fn f, void *ctx, const char *what)
{
    size_t n = mrb_tensor_count(t);
    for (size_t i = 0; i < n; i++) {
        float keep = t->data[i];
        t->data[i] = keep + (float)FD_EPS;
        double lp = f(ctx);
        t->data[i] = keep - (float)FD_EPS;
        double lm = f(ctx);
        t->data[i] = keep;
        double fd = (lp - lm) / (2 * FD_EPS);
        cr_expect(fabs(grad[i] - fd) <= FD_ATOL + FD_RTOL * fabs(fd), "%s[%zu]: backward %g vs fd %g", what, i, grad[i],
                  fd);
    }
}

/* ---- pooling ---- */
typedef struct pool_ctx {
    mrb_pool_kind kind;
    mrb_tensor *x, *y, *r;
    size_t k, s;
} pool_ctx;

static double pool_loss(void *p)
{
    pool_ctx *c = p;
    mrb_nn_pool_forward(c->kind, c->x, c->k, c->s, c->y);
    return dot(c->y->data, c->r->data, mrb_tensor_count(c->y));
}

static void check_pool(mrb_pool_kind kind, int rank, size_t k, size_t s)
{
    pool_ctx c = {kind, NULL, NULL, NULL, k, s};
    c.x = rank == 3 ? mrb_tensor_create5(2, 2, 4, 5, 6, 1) : mrb_tensor_create4(2, 3, 6, 7, 1);
    /* distinct values far apart: no ties within FD_EPS for max pooling */
    size_t nx = mrb_tensor_count(c.x);
    for (size_t i = 0; i < nx; i++) c.x->data[i] = (float)((i * 37) % nx) * 0.1f;
    size_t ys[MRB_NN_MAX_DIMS];
    cr_assert_eq(mrb_nn_pool_out_shape(c.x, k, s, ys), MRB_OK);
    c.y = mrb_tensor_create(c.x->ndim, ys, 1);
    c.r = mrb_tensor_create(c.x->ndim, ys, 0);
    fill(c.r, 3, 1);
    cr_assert_eq(mrb_nn_pool_forward(kind, c.x, k, s, c.y), MRB_OK);
    /* forward: first window */
    double ref = kind == MRB_POOL_MAX ? -1e30 : 0;
    size_t kd = rank == 3 ? k : 1, h = c.x->shape[c.x->ndim - 2], w = c.x->shape[c.x->ndim - 1];
    for (size_t a = 0; a < kd; a++)
        for (size_t b = 0; b < k; b++)
            for (size_t e = 0; e < k; e++) {
                float v = c.x->data[(a * h + b) * w + e];
                if (kind == MRB_POOL_MAX)
                    ref = v > ref ? v : ref;
                else
                    ref += v / (double)(kd * k * k);
            }
    cr_expect(fabs(c.y->data[0] - ref) < 1e-5, "first window %g vs %g", c.y->data[0], ref);
    memcpy(c.y->grad, c.r->data, mrb_tensor_count(c.y) * sizeof(float));
    cr_assert_eq(mrb_nn_pool_backward(kind, c.x, k, s, c.y), MRB_OK);
    float *g = malloc(nx * sizeof(float));
    memcpy(g, c.x->grad, nx * sizeof(float));
    check_fd(c.x, g, pool_loss, &c, kind == MRB_POOL_MAX ? "maxpool dx" : "avgpool dx");
    free(g);
    mrb_tensor_free(c.x);
    mrb_tensor_free(c.y);
    mrb_tensor_free(c.r);
}

Test(nn_pool, max_and_avg_2d_3d_match_definition_and_fd)
{
    check_pool(MRB_POOL_MAX, 2, 2, 2);
    check_pool(MRB_POOL_AVG, 2, 2, 2);
    check_pool(MRB_POOL_MAX, 2, 3, 1); /* overlapping windows */
    check_pool(MRB_POOL_AVG, 3, 2, 2);
    check_pool(MRB_POOL_MAX, 3, 2, 1);
}

Test(nn_pool, upsample_nearest_and_adjoint)
{
    mrb_tensor *x = mrb_tensor_create5(1, 2, 2, 3, 2, 1), *y = mrb_tensor_create5(1, 2, 4, 6, 4, 1);
    fill(x, 1, 1);
    fill(y, 2, 1);
    memcpy(y->grad, y->data, mrb_tensor_count(y) * sizeof(float));
    cr_assert_eq(mrb_nn_upsample_forward(x, 2, y), MRB_OK);
    /* y[c=1, d=3, h=5, w=2] = x[c=1, d=1, h=2, w=1] */
    cr_expect_float_eq(y->data[((1 * 4 + 3) * 6 + 5) * 4 + 2], x->data[((1 * 2 + 1) * 3 + 2) * 2 + 1], 0.0f);
    /* adjoint: <up(x), g> = <x, up^T(g)> */
    cr_assert_eq(mrb_nn_upsample_backward(x, 2, y), MRB_OK);
    double lhs = dot(y->data, y->grad, mrb_tensor_count(y)), rhs = dot(x->data, x->grad, mrb_tensor_count(x));
    cr_expect(fabs(lhs - rhs) < 1e-4 * (1 + fabs(lhs)), "adjoint %g vs %g", lhs, rhs);
    mrb_tensor *bad = mrb_tensor_create5(1, 2, 4, 6, 5, 0);
    cr_expect_eq(mrb_nn_upsample_forward(x, 2, bad), MRB_ERR_INVALID);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_tensor_free(bad);
}

/* ---- normalisation ---- */
typedef struct norm_ctx {
    mrb_norm *b;
    mrb_tensor *x, *y, *r;
    int train;
} norm_ctx;

static double norm_loss(void *p)
{
    norm_ctx *c = p;
    float rm[8], rv[8];
    memcpy(rm, c->b->running_mean, c->b->channels * sizeof(float)); /* keep the running stats fixed */
    memcpy(rv, c->b->running_var, c->b->channels * sizeof(float));
    mrb_norm_forward(c->b, c->x, c->train, c->y);
    memcpy(c->b->running_mean, rm, c->b->channels * sizeof(float));
    memcpy(c->b->running_var, rv, c->b->channels * sizeof(float));
    return dot(c->y->data, c->r->data, mrb_tensor_count(c->y));
}

static void check_norm(int instance, int train)
{
    norm_ctx c = {NULL, NULL, NULL, NULL, train};
    cr_assert_eq(mrb_norm_create(3, instance, &c.b), MRB_OK);
    c.x = mrb_tensor_create4(2, 3, 3, 4, 1);
    c.y = mrb_tensor_create4(2, 3, 3, 4, 1);
    c.r = mrb_tensor_create4(2, 3, 3, 4, 0);
    fill(c.x, 5, 2);
    fill(c.r, 6, 1);
    for (int i = 0; i < 3; i++) {
        c.b->gamma->data[i] = 0.5f + 0.3f * (float)i;
        c.b->beta->data[i] = 0.1f * (float)i;
        c.b->running_mean[i] = 0.2f;
        c.b->running_var[i] = 1.5f;
    }
    cr_assert_eq(mrb_norm_forward(c.b, c.x, train, c.y), MRB_OK);
    if (train || instance) {
        /* normalised groups: mean beta, standard deviation |gamma| (eps aside) */
        size_t sp = 12, items = instance ? 1 : 2;
        double s = 0, s2 = 0;
        for (size_t i = 0; i < items; i++)
            for (size_t k = 0; k < sp; k++) {
                double v = c.y->data[(i * 3 + 1) * sp + k];
                s += v;
                s2 += v * v;
            }
        double m = s / (double)(items * sp), var = s2 / (double)(items * sp) - m * m;
        cr_expect(fabs(m - 0.1) < 1e-5, "mean %g", m);
        cr_expect(fabs(sqrt(var) - 0.8) < 1e-3, "sd %g", sqrt(var));
    }
    memcpy(c.y->grad, c.r->data, mrb_tensor_count(c.y) * sizeof(float));
    cr_assert_eq(mrb_norm_backward(c.b, c.x, c.y), MRB_OK);
    float gx[72], gg[3], gb[3];
    memcpy(gx, c.x->grad, sizeof gx);
    memcpy(gg, c.b->gamma->grad, sizeof gg);
    memcpy(gb, c.b->beta->grad, sizeof gb);
    check_fd(c.x, gx, norm_loss, &c, "norm dx");
    check_fd(c.b->gamma, gg, norm_loss, &c, "norm dgamma");
    check_fd(c.b->beta, gb, norm_loss, &c, "norm dbeta");
    mrb_norm_free(c.b);
    mrb_tensor_free(c.x);
    mrb_tensor_free(c.y);
    mrb_tensor_free(c.r);
}

Test(nn_norm, batch_norm_training_matches_fd)
{
    check_norm(0, 1);
}

Test(nn_norm, batch_norm_evaluation_matches_fd)
{
    check_norm(0, 0);
}

Test(nn_norm, instance_norm_matches_fd)
{
    check_norm(1, 1);
}

Test(nn_norm, running_statistics_follow_pytorch_update)
{
    mrb_norm *b;
    cr_assert_eq(mrb_norm_create(1, 0, &b), MRB_OK);
    mrb_tensor *x = mrb_tensor_create4(2, 1, 1, 2, 0), *y = mrb_tensor_create4(2, 1, 1, 2, 0);
    float v[4] = {1, 2, 3, 6};
    memcpy(x->data, v, sizeof v);
    cr_assert_eq(mrb_norm_forward(b, x, 1, y), MRB_OK);
    /* mean 3, unbiased variance 14/3; momentum 0.1 from (0, 1) */
    cr_expect(fabs(b->running_mean[0] - 0.3) < 1e-6);
    cr_expect(fabs(b->running_var[0] - (0.9 + 0.1 * 14.0 / 3.0)) < 1e-6);
    mrb_norm_free(b);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

/* ---- softmax and losses ---- */
typedef struct sm_ctx {
    mrb_tensor *x, *y, *r;
    const uint8_t *labels;
    int which; /* 0 softmax, 1 cross-entropy, 2 dice */
} sm_ctx;

static double sm_loss(void *p)
{
    sm_ctx *c = p;
    double l = 0;
    float *g = c->x->grad;
    c->x->grad = NULL;
    if (c->which == 0) {
        mrb_nn_softmax_forward(c->x, c->y);
        l = dot(c->y->data, c->r->data, mrb_tensor_count(c->y));
    } else if (c->which == 1) {
        mrb_nn_softmax_cross_entropy(c->x, c->labels, &l);
    } else {
        mrb_nn_soft_dice_loss(c->x, c->labels, 1, 1.0, &l);
    }
    c->x->grad = g;
    return l;
}

Test(nn_softmax, softmax_ce_dice_values_and_fd)
{
    mrb_tensor *x = mrb_tensor_create4(2, 3, 2, 3, 1), *y = mrb_tensor_create4(2, 3, 2, 3, 1);
    mrb_tensor *r = mrb_tensor_create4(2, 3, 2, 3, 0);
    fill(x, 9, 1.5);
    fill(r, 10, 1);
    uint8_t labels[12] = {0, 1, 2, 2, 1, 0, 1, 1, 0, 2, 2, 1};
    sm_ctx c = {x, y, r, labels, 0};
    /* softmax sums to one per voxel */
    cr_assert_eq(mrb_nn_softmax_forward(x, y), MRB_OK);
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < 6; k++) {
            double s = 0;
            for (size_t ch = 0; ch < 3; ch++) s += y->data[(i * 3 + ch) * 6 + k];
            cr_expect(fabs(s - 1) < 1e-6);
        }
    memcpy(y->grad, r->data, 36 * sizeof(float));
    cr_assert_eq(mrb_nn_softmax_backward(x, y), MRB_OK);
    float g[36];
    memcpy(g, x->grad, sizeof g);
    check_fd(x, g, sm_loss, &c, "softmax dx");

    /* cross-entropy value from its definition */
    double ce, ref = 0;
    mrb_tensor_zero_grad(x);
    cr_assert_eq(mrb_nn_softmax_cross_entropy(x, labels, &ce), MRB_OK);
    mrb_nn_softmax_forward(x, y);
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < 6; k++) ref -= log(y->data[(i * 3 + labels[i * 6 + k]) * 6 + k]);
    cr_expect(fabs(ce - ref / 12) < 1e-5, "cross-entropy %g vs %g", ce, ref / 12);
    c.which = 1;
    memcpy(g, x->grad, sizeof g);
    check_fd(x, g, sm_loss, &c, "cross-entropy dx");

    /* Dice on probabilities: perfect prediction gives 0 */
    mrb_tensor *p = mrb_tensor_create4(2, 3, 2, 3, 1);
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < 6; k++)
            for (size_t ch = 0; ch < 3; ch++) p->data[(i * 3 + ch) * 6 + k] = labels[i * 6 + k] == ch;
    double dl;
    cr_assert_eq(mrb_nn_soft_dice_loss(p, labels, 1, 1.0, &dl), MRB_OK);
    cr_expect(fabs(dl) < 1e-9, "perfect Dice loss %g", dl);
    mrb_tensor_zero_grad(y);
    mrb_tensor *yy = y;
    c.x = yy; /* dice of the softmax output */
    c.which = 2;
    cr_assert_eq(mrb_nn_soft_dice_loss(yy, labels, 1, 1.0, &dl), MRB_OK);
    cr_expect(dl > 0 && dl < 1);
    float gd[36];
    memcpy(gd, yy->grad, sizeof gd);
    check_fd(yy, gd, sm_loss, &c, "dice dp");
    uint8_t bad[12] = {0};
    bad[3] = 7;
    cr_expect_eq(mrb_nn_softmax_cross_entropy(x, bad, &ce), MRB_ERR_INVALID);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_tensor_free(r);
    mrb_tensor_free(p);
}

/* ---- refusals: never a silently wrong number ---- */

/* Backward with an input of another shape than the last forward's (instance
 * norm with more items read past the saved statistics) is refused. */
Test(nn_norm, backward_refuses_another_shape_than_the_forward)
{
    mrb_norm *b;
    cr_assert_eq(mrb_norm_create(2, 1, &b), MRB_OK);
    mrb_tensor *x = mrb_tensor_create4(1, 2, 3, 3, 1), *y = mrb_tensor_create4(1, 2, 3, 3, 1);
    mrb_tensor *x4 = mrb_tensor_create4(4, 2, 3, 3, 1), *y4 = mrb_tensor_create4(4, 2, 3, 3, 1);
    fill(x, 3, 1.0);
    fill(x4, 4, 1.0);
    cr_assert_eq(mrb_norm_forward(b, x, 1, y), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(mrb_norm_backward(b, x4, y4), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "not the shape of the last forward") != NULL, "%s", mrb_error_message());
    cr_expect_eq(mrb_norm_backward(b, x, y), MRB_OK, "%s", mrb_error_message());
    mrb_norm_free(b);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_tensor_free(x4);
    mrb_tensor_free(y4);
}

/* A refused forward leaves the statistics of the last good one for backward. */
Test(nn_norm, refused_forward_keeps_the_saved_statistics)
{
    mrb_norm *a, *b;
    cr_assert_eq(mrb_norm_create(2, 1, &a), MRB_OK);
    cr_assert_eq(mrb_norm_create(2, 1, &b), MRB_OK);
    mrb_tensor *x = mrb_tensor_create4(1, 2, 3, 3, 1), *y = mrb_tensor_create4(1, 2, 3, 3, 1);
    mrb_tensor *x4 = mrb_tensor_create4(4, 2, 1, 1, 0), *y4 = mrb_tensor_create4(4, 2, 1, 1, 0);
    fill(x, 5, 1.0);
    for (size_t i = 0; i < mrb_tensor_count(y); i++) y->grad[i] = (float)(i % 5) - 2.0f;
    cr_assert_eq(mrb_norm_forward(a, x, 1, y), MRB_OK);
    cr_assert_eq(mrb_norm_backward(a, x, y), MRB_OK);
    size_t nx = mrb_tensor_count(x);
    float *ref = malloc(nx * sizeof *ref);
    memcpy(ref, x->grad, nx * sizeof *ref);
    memset(x->grad, 0, nx * sizeof *x->grad);
    cr_assert_eq(mrb_norm_forward(b, x, 1, y), MRB_OK);
    cr_expect_eq(mrb_norm_forward(b, x4, 1, y4), MRB_ERR_INVALID, "one value per item and channel");
    cr_assert_eq(mrb_norm_backward(b, x, y), MRB_OK, "%s", mrb_error_message());
    for (size_t i = 0; i < nx; i++) cr_expect_eq(x->grad[i], ref[i], "dx[%zu] after a refused forward", i);
    free(ref);
    mrb_norm_free(a);
    mrb_norm_free(b);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
    mrb_tensor_free(x4);
    mrb_tensor_free(y4);
}

/* Statistics of a single value (batch norm in training with N x spatial = 1,
 * instance norm with spatial = 1) are refused, as PyTorch does; evaluation
 * with running statistics is fine. */
Test(nn_norm, refuses_statistics_of_one_value)
{
    mrb_tensor *x = mrb_tensor_create4(1, 2, 1, 1, 0), *y = mrb_tensor_create4(1, 2, 1, 1, 0);
    for (int instance = 0; instance < 2; instance++) {
        mrb_norm *b;
        cr_assert_eq(mrb_norm_create(2, instance, &b), MRB_OK);
        cr_expect_eq(mrb_norm_forward(b, x, 1, y), MRB_ERR_INVALID, "%s norm", instance ? "instance" : "batch");
        cr_expect(strstr(mrb_error_message(), "one value per") != NULL, "%s", mrb_error_message());
        if (!instance) cr_expect_eq(mrb_norm_forward(b, x, 0, y), MRB_OK, "evaluation: %s", mrb_error_message());
        mrb_norm_free(b);
    }
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

/* A NaN anywhere in a max-pooling window is the window's output (PyTorch
 * propagates NaN), not only when it comes first. */
Test(nn_pool, max_pool_propagates_nan)
{
    mrb_tensor *x = mrb_tensor_create4(1, 1, 2, 2, 0), *y = mrb_tensor_create4(1, 1, 1, 1, 0);
    float v[4] = {1.0f, NAN, 5.0f, 2.0f};
    memcpy(x->data, v, sizeof v);
    cr_assert_eq(mrb_nn_pool_forward(MRB_POOL_MAX, x, 2, 2, y), MRB_OK, "%s", mrb_error_message());
    cr_expect(isnan(y->data[0]), "max over {1, NaN, 5, 2} is %g", (double)y->data[0]);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

/* Soft Dice with smooth 0 and a class in neither the labels nor the
 * prediction is 0/0: refused. */
Test(nn_softmax, dice_refuses_zero_over_zero)
{
    mrb_tensor *p = mrb_tensor_create4(1, 2, 1, 2, 0);
    float v[4] = {1, 1, 0, 0}; /* class 1 has probability 0 everywhere */
    memcpy(p->data, v, sizeof v);
    uint8_t labels[2] = {0, 0};
    double loss = 0;
    cr_expect_eq(mrb_nn_soft_dice_loss(p, labels, 1, 0.0, &loss), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "class 1") != NULL, "%s", mrb_error_message());
    /* with a gradient: the refusal leaves it untouched */
    mrb_tensor *pg = mrb_tensor_create4(1, 3, 1, 2, 1);
    float w[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0, 0}; /* class 2 is 0/0, class 1 is not */
    memcpy(pg->data, w, sizeof w);
    cr_expect_eq(mrb_nn_soft_dice_loss(pg, labels, 1, 0.0, &loss), MRB_ERR_INVALID);
    for (size_t i = 0; i < 6; i++) cr_expect_eq(pg->grad[i], 0.0f, "gradient %zu changed by a refused call", i);
    mrb_tensor_free(pg);
    cr_expect_eq(mrb_nn_soft_dice_loss(p, labels, 1, 1.0, &loss), MRB_OK, "%s", mrb_error_message());
    cr_expect(fabs(loss) < 1e-12, "smooth 1: empty class predicted empty is a perfect 0, got %g", loss);
    mrb_tensor_free(p);
}
