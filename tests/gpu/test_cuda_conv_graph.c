/* Convolution passes on cuDNN's graph API (gpu/recon/conv_graph_cuda.cu)
 * against a direct CPU loop: forward, backward-data and backward-filter, 2D
 * and 3D, the cascade's channel patterns (2->16, 16->16, 16->2, 12->16), in
 * strict FP32 and in TF32, each with the engine the plan chose by timing.
 * The argument checks run without a GPU. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_test_util.h"
#include "mrb_cuda.h"
/* internal header of the implementation */
#include "../../gpu/recon/conv_graph_cuda.h"

/* The task's bounds (relative L2 against the loop's double sums). Strict
 * FP32 differs from the loop only in the order of float sums (~1e-6); TF32
 * rounds the inputs to 10 mantissa bits (~1e-3 over a sum of products). */
#define FP32_REL_TOL 1e-4
#define TF32_REL_TOL 1e-2

/* Which tensor each of in0, in1, out is per pass (restated from
 * conv_graph_cuda.h: forward x, w -> y; backward-data w, dy -> dx;
 * backward-filter x, dy -> dw). */
static const int pass_roles[MRB_CONV_NPASSES][3] = {
    {MRB_CONV_X, MRB_CONV_W, MRB_CONV_Y},
    {MRB_CONV_W, MRB_CONV_Y, MRB_CONV_X},
    {MRB_CONV_X, MRB_CONV_Y, MRB_CONV_W},
};
static const char *const pass_names[MRB_CONV_NPASSES] = {"forward", "backward-data", "backward-filter"};

static const int64_t channel_cases[][2] = {{2, 16}, {16, 16}, {16, 2}, {12, 16}};
#define NCASES (sizeof channel_cases / sizeof *channel_cases)

static mrb_conv_shape make_shape(int rank, int64_t cin, int64_t cout)
{
    mrb_conv_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    s.n = 2;
    s.cin = cin;
    s.cout = cout;
    if (rank == 3) {
        s.dims[0] = 4;
        s.dims[1] = 8;
        s.dims[2] = 6;
    } else {
        s.dims[0] = 12;
        s.dims[1] = 10;
    }
    return s;
}

static size_t spatial_count(const mrb_conv_shape *s)
{
    size_t v = 1;
    for (int i = 0; i < s->rank; i++) v *= (size_t)s->dims[i];
    return v;
}

static size_t tensor_count(const mrb_conv_shape *s, int role)
{
    size_t taps = s->rank == 3 ? 27 : 9;
    if (role == MRB_CONV_W) return (size_t)(s->cout * s->cin) * taps;
    return (size_t)(s->n * (role == MRB_CONV_X ? s->cin : s->cout)) * spatial_count(s);
}

/* The three passes of the 3^rank cross-correlation with padding 1 as one
 * loop over (batch, output channel, input channel, output position, tap),
 * in double: out = y += w x (forward), dx += w dy (backward-data), dw += x dy
 * (backward-filter); t[MRB_CONV_Y] holds dy for the backward passes. 2D is
 * depth 1 with one tap in depth. */
static void reference(mrb_conv_pass pass, const mrb_conv_shape *s, float *const t[MRB_CONV_NTENSORS], double *out)
{
    int deep = s->rank == 3;
    int64_t d = deep ? s->dims[0] : 1, h = s->dims[s->rank - 2], w = s->dims[s->rank - 1], vol = d * h * w;
    int64_t kd = deep ? 3 : 1, taps = kd * 9;
    memset(out, 0, tensor_count(s, pass_roles[pass][2]) * sizeof *out);
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t co = 0; co < s->cout; co++)
            for (int64_t ci = 0; ci < s->cin; ci++)
                for (int64_t p = 0; p < vol; p++) {
                    int64_t z = p / (h * w), yy = p / w % h, xx = p % w;
                    int64_t o = (b * s->cout + co) * vol + p;
                    for (int64_t k = 0; k < taps; k++) {
                        int64_t iz = z + k / 9 - (deep ? 1 : 0), iy = yy + k / 3 % 3 - 1, ix = xx + k % 3 - 1;
                        if (iz < 0 || iz >= d || iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        int64_t i = (b * s->cin + ci) * vol + (iz * h + iy) * w + ix;
                        int64_t f = (co * s->cin + ci) * taps + k;
                        double xv = t[MRB_CONV_X][i], wv = t[MRB_CONV_W][f], yv = t[MRB_CONV_Y][o];
                        if (pass == MRB_CONV_FORWARD)
                            out[o] += wv * xv;
                        else if (pass == MRB_CONV_BACKWARD_DATA)
                            out[i] += wv * yv;
                        else
                            out[f] += xv * yv;
                    }
                }
}

/* Runs `plan` once into the pass's output buffer and returns it on the host. */
static float *run_once(const mrb_conv_graph *plan, struct cudnnContext *h, mrb_conv_pass pass, float *const d[3],
                       size_t nout)
{
    const int *r = pass_roles[pass];
    size_t bytes = mrb_conv_graph_workspace(plan);
    void *ws = NULL;
    if (bytes) cr_assert_eq(mrb_cuda_alloc(bytes, &ws), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_conv_graph_run(plan, h, d[r[0]], d[r[1]], d[r[2]], ws, bytes), MRB_OK, "%s", mrb_error_message());
    float *out = to_host(d[r[2]], nout);
    mrb_cuda_free(ws);
    return out;
}

/* One pass on every channel case, strict FP32 and TF32: the output against
 * the loop, and a second run bit for bit equal to the first (deterministic
 * engines only). */
static void check_pass(mrb_conv_pass pass, int rank)
{
    MRB_SKIP_WITHOUT_GPU();
    struct cudnnContext *h;
    cr_assert_eq(mrb_conv_graph_handle_create(&h), MRB_OK, "%s", mrb_error_message());
    const int *r = pass_roles[pass];
    for (size_t c = 0; c < NCASES; c++)
        for (int tf32 = 0; tf32 <= 1; tf32++) {
            mrb_conv_shape s = make_shape(rank, channel_cases[c][0], channel_cases[c][1]);
            float *host[MRB_CONV_NTENSORS], *dev[MRB_CONV_NTENSORS];
            for (int t = 0; t < MRB_CONV_NTENSORS; t++) {
                host[t] = alloc_floats(tensor_count(&s, t));
                fill_uniform(host[t], tensor_count(&s, t), 31 + 7 * (uint64_t)t + 101 * c);
                dev[t] = to_device(host[t], tensor_count(&s, t));
            }
            size_t nout = tensor_count(&s, r[2]);
            double *ref = calloc(nout, sizeof *ref);
            float *reff = alloc_floats(nout);
            cr_assert_not_null(ref);
            reference(pass, &s, host, ref);
            for (size_t i = 0; i < nout; i++) reff[i] = (float)ref[i];

            mrb_conv_graph *plan;
            cr_assert_eq(mrb_conv_graph_create(h, pass, &s, tf32, 1, dev[r[0]], dev[r[1]], dev[r[2]], &plan), MRB_OK,
                         "%s", mrb_error_message());
            cr_expect(mrb_conv_graph_ms(plan) > 0.0, "a timed plan reports its time");
            cr_expect(strlen(mrb_conv_graph_engine(plan)) > 0);
            float *got = run_once(plan, h, pass, dev, nout);
            double e = rel_l2_error(got, reff, nout);
            cr_expect(e <= (tf32 ? TF32_REL_TOL : FP32_REL_TOL), "%s %dD %lld->%lld %s (%s): relative error %.3g",
                      pass_names[pass], rank, (long long)s.cin, (long long)s.cout, tf32 ? "TF32" : "FP32",
                      mrb_conv_graph_engine(plan), e);
            float *again = run_once(plan, h, pass, dev, nout);
            cr_expect(memcmp(got, again, nout * sizeof *got) == 0, "%s %dD %lld->%lld: two runs of %s differ",
                      pass_names[pass], rank, (long long)s.cin, (long long)s.cout, mrb_conv_graph_engine(plan));

            mrb_conv_graph_free(plan);
            free(got);
            free(again);
            free(ref);
            free(reff);
            for (int t = 0; t < MRB_CONV_NTENSORS; t++) {
                mrb_cuda_free(dev[t]);
                free(host[t]);
            }
        }
    mrb_conv_graph_handle_free(h);
}

Test(cuda_conv_graph, forward_2d)
{
    check_pass(MRB_CONV_FORWARD, 2);
}

Test(cuda_conv_graph, forward_3d)
{
    check_pass(MRB_CONV_FORWARD, 3);
}

Test(cuda_conv_graph, backward_data_2d)
{
    check_pass(MRB_CONV_BACKWARD_DATA, 2);
}

Test(cuda_conv_graph, backward_data_3d)
{
    check_pass(MRB_CONV_BACKWARD_DATA, 3);
}

Test(cuda_conv_graph, backward_filter_2d)
{
    check_pass(MRB_CONV_BACKWARD_FILTER, 2);
}

Test(cuda_conv_graph, backward_filter_3d)
{
    check_pass(MRB_CONV_BACKWARD_FILTER, 3);
}

/* Without buffers nothing is timed: the first configuration that finalizes
 * is kept, and it computes the same convolution. Pointers that break the
 * declared alignment, and a missing workspace, are refused. */
Test(cuda_conv_graph, untimed_plan_and_refused_pointers)
{
    MRB_SKIP_WITHOUT_GPU();
    struct cudnnContext *h;
    cr_assert_eq(mrb_conv_graph_handle_create(&h), MRB_OK, "%s", mrb_error_message());
    mrb_conv_shape s = make_shape(2, 16, 16);
    float *host[MRB_CONV_NTENSORS], *dev[MRB_CONV_NTENSORS];
    for (int t = 0; t < MRB_CONV_NTENSORS; t++) {
        host[t] = alloc_floats(tensor_count(&s, t) + 4);
        fill_uniform(host[t], tensor_count(&s, t), 5 + (uint64_t)t);
        dev[t] = to_device(host[t], tensor_count(&s, t) + 4);
    }
    mrb_conv_graph *plan;
    cr_assert_eq(mrb_conv_graph_create(h, MRB_CONV_FORWARD, &s, 0, 1, NULL, NULL, NULL, &plan), MRB_OK, "%s",
                 mrb_error_message());
    cr_expect(mrb_conv_graph_ms(plan) < 0.0, "an untimed plan reports no time");
    size_t nout = tensor_count(&s, MRB_CONV_Y);
    double *ref = calloc(nout, sizeof *ref);
    float *reff = alloc_floats(nout);
    cr_assert_not_null(ref);
    reference(MRB_CONV_FORWARD, &s, host, ref);
    for (size_t i = 0; i < nout; i++) reff[i] = (float)ref[i];
    float *got = run_once(plan, h, MRB_CONV_FORWARD, dev, nout);
    double e = rel_l2_error(got, reff, nout);
    cr_expect(e <= FP32_REL_TOL, "untimed forward (%s): relative error %.3g", mrb_conv_graph_engine(plan), e);

    size_t bytes = mrb_conv_graph_workspace(plan);
    void *ws = NULL;
    if (bytes) cr_assert_eq(mrb_cuda_alloc(bytes, &ws), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(mrb_conv_graph_run(plan, h, dev[0] + 1, dev[1], dev[2], ws, bytes), MRB_ERR_INVALID,
                 "a 4-byte aligned x where the plan assumes 16 is refused");
    cr_expect(strstr(mrb_error_message(), "aligned") != NULL, "%s", mrb_error_message());
    if (bytes)
        cr_expect_eq(mrb_conv_graph_run(plan, h, dev[0], dev[1], dev[2], ws, bytes - 1), MRB_ERR_INVALID,
                     "a workspace below the plan's size is refused");
    mrb_cuda_free(ws);
    mrb_conv_graph_free(plan);
    free(got);
    free(ref);
    free(reff);
    for (int t = 0; t < MRB_CONV_NTENSORS; t++) {
        mrb_cuda_free(dev[t]);
        free(host[t]);
    }
    mrb_conv_graph_handle_free(h);
}

/* Runs everywhere: bad shapes and arguments are refused before the device
 * is touched; freeing NULL is a no-op; the alignment of an address. */
Test(cuda_conv_graph, refuses_bad_arguments)
{
    mrb_conv_graph *plan = (mrb_conv_graph *)1;
    struct cudnnContext *no_handle = NULL;
    mrb_conv_shape s = make_shape(4, 2, 16);
    cr_expect_eq(mrb_conv_graph_create(no_handle, MRB_CONV_FORWARD, &s, 0, 1, NULL, NULL, NULL, &plan), MRB_ERR_INVALID,
                 "rank 4 is refused");
    cr_expect_null(plan);
    cr_expect(strstr(mrb_error_message(), "rank") != NULL, "%s", mrb_error_message());
    s = make_shape(2, 0, 16);
    cr_expect_eq(mrb_conv_graph_create(no_handle, MRB_CONV_FORWARD, &s, 0, 1, NULL, NULL, NULL, &plan), MRB_ERR_INVALID,
                 "0 input channels are refused");
    s = make_shape(2, 2, 16);
    s.align[MRB_CONV_W] = 2;
    cr_expect_eq(mrb_conv_graph_create(no_handle, MRB_CONV_FORWARD, &s, 0, 1, NULL, NULL, NULL, &plan), MRB_ERR_INVALID,
                 "a 2-byte alignment is refused");
    s = make_shape(3, 2, 16);
    cr_expect_eq(mrb_conv_graph_create(no_handle, (mrb_conv_pass)7, &s, 0, 1, NULL, NULL, NULL, &plan), MRB_ERR_INVALID,
                 "an unknown pass is refused");
    float fake[4];
    cr_expect_eq(mrb_conv_graph_create(no_handle, MRB_CONV_FORWARD, &s, 0, 1, fake, fake, NULL, &plan), MRB_ERR_INVALID,
                 "two of the three timing buffers are refused");
    cr_expect_eq(mrb_conv_graph_create(no_handle, MRB_CONV_FORWARD, &s, 0, 1, NULL, NULL, NULL, &plan), MRB_ERR_INVALID,
                 "no handle is refused");
    cr_expect_null(plan);
    mrb_conv_graph_free(NULL);
    mrb_conv_graph_handle_free(NULL);
    cr_expect_eq(mrb_conv_graph_alignment((const void *)(uintptr_t)0x1000), 16);
    cr_expect_eq(mrb_conv_graph_alignment((const void *)(uintptr_t)0x1008), 8);
    cr_expect_eq(mrb_conv_graph_alignment((const void *)(uintptr_t)0x1004), 4);
    cr_expect_eq(mrb_conv_graph_workspace(NULL), (size_t)0);
}
