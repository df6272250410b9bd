/* The DC layer, SENSE and complex kernels of gpu/recon/dc_cuda.cu against
 * their CPU references: mrb_nn_dc_forward/backward (impl/nn/dc.c), the sense
 * operator (impl/linop/linop.c), mrb_array_magnitude and C99 complex loops. */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "cuda_test_util.h"
#include "mrb_cuda.h"
#include "mrbench/array.h"
#include "mrbench/linop.h"
#include "mrbench/nn.h"

/* Each op is a few flops per value on top of two single-precision FFTs;
 * both sides agree to ~1e-6 relative. The task-wide bound is 1e-4. */
#define DC_REL_TOL 1e-4
#define COIL_REL_TOL 1e-5
#define ELEMENTWISE_REL_TOL 1e-6
/* The same kernels and plans on the same data (in place or not). */
#define SAME_OPS_REL_TOL 1e-6
/* d lambda is a sum of products that may cancel: its error is bounded
 * relative to the Cauchy-Schwarz bound ||F g|| ||s0 - F x||, not to itself. */
#define DLAMBDA_REL_TOL 1e-4

/* A DC problem: N items of [nx, ny, nt], random image, random mask with
 * about half the locations sampled, k-space zero off the mask. */
typedef struct dc_problem {
    size_t nx, ny, nt, n, count; /* count: complex values */
    float *x, *kspace, *mask, *grad;
} dc_problem;

static dc_problem make_problem(size_t nx, size_t ny, size_t nt, size_t n)
{
    dc_problem p = {nx, ny, nt, n, nx * ny * nt * n, NULL, NULL, NULL, NULL};
    p.x = alloc_floats(2 * p.count);
    p.kspace = alloc_floats(2 * p.count);
    p.mask = alloc_floats(p.count);
    p.grad = alloc_floats(2 * p.count);
    fill_uniform(p.x, 2 * p.count, 1);
    fill_uniform(p.kspace, 2 * p.count, 2);
    fill_uniform(p.mask, p.count, 3);
    fill_uniform(p.grad, 2 * p.count, 4);
    for (size_t i = 0; i < p.count; i++) {
        p.mask[i] = p.mask[i] > 0.0f ? 1.0f : 0.0f;
        p.kspace[2 * i] *= p.mask[i];
        p.kspace[2 * i + 1] *= p.mask[i];
    }
    return p;
}

static void free_problem(dc_problem *p)
{
    free(p->x);
    free(p->kspace);
    free(p->mask);
    free(p->grad);
}

static mrb_tensor *problem_tensor(const dc_problem *p, const float *cplx, int with_grad)
{
    mrb_tensor *t = p->nt == 1 ? mrb_tensor_create4(p->n, 2, p->ny, p->nx, with_grad)
                               : mrb_tensor_create5(p->n, 2, p->nt, p->ny, p->nx, with_grad);
    cr_assert_not_null(t, "%s", mrb_error_message());
    mrb_nn_complex_to_tensor(cplx, t);
    return t;
}

static void check_dc_forward(size_t nt, double lambda)
{
    dc_problem p = make_problem(32, 24, nt, 2);
    mrb_dc_data d = {p.nx, p.ny, p.nt, p.n, p.kspace, p.mask};
    mrb_tensor *x = problem_tensor(&p, p.x, 0), *out = problem_tensor(&p, p.x, 0);
    cr_assert_eq(mrb_nn_dc_forward(x, &d, lambda, out), MRB_OK, "%s", mrb_error_message());
    float *ref = alloc_floats(2 * p.count);
    mrb_nn_tensor_to_complex(out, ref);

    float *dx = to_device(p.x, 2 * p.count), *dk = to_device(p.kspace, 2 * p.count);
    float *dm = to_device(p.mask, p.count), *dout = to_device(NULL, 2 * p.count);
    cr_assert_eq(mrb_cuda_dc_forward(dx, dk, dm, p.nx, p.ny, p.nt * p.n, p.count, lambda, dout), MRB_OK, "%s",
                 mrb_error_message());
    float *gpu = to_host(dout, 2 * p.count);
    double err = rel_l2_error(gpu, ref, 2 * p.count);
    cr_expect_leq(err, DC_REL_TOL, "dc forward nt %zu lambda %g: relative error %.3g", nt, lambda, err);

    /* in place (out == x) gives the same */
    cr_assert_eq(mrb_cuda_dc_forward(dx, dk, dm, p.nx, p.ny, p.nt * p.n, p.count, lambda, dx), MRB_OK, "%s",
                 mrb_error_message());
    float *inplace = to_host(dx, 2 * p.count);
    double inplace_err = rel_l2_error(inplace, gpu, 2 * p.count);
    cr_expect_leq(inplace_err, SAME_OPS_REL_TOL, "in-place forward differs by %.3g", inplace_err);

    free(inplace);
    free(gpu);
    free(ref);
    mrb_cuda_free(dx);
    mrb_cuda_free(dk);
    mrb_cuda_free(dm);
    mrb_cuda_free(dout);
    mrb_tensor_free(x);
    mrb_tensor_free(out);
    free_problem(&p);
}

Test(cuda_dc, forward_noiseless_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    check_dc_forward(1, -1.0);
    check_dc_forward(3, -1.0);
}

Test(cuda_dc, forward_noisy_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    check_dc_forward(1, 0.5);
    check_dc_forward(3, 20.0);
}

static double sq_norm(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static void check_dc_backward(size_t nt, double lambda)
{
    dc_problem p = make_problem(20, 16, nt, 2);
    mrb_dc_data d = {p.nx, p.ny, p.nt, p.n, p.kspace, p.mask};
    mrb_tensor *x = problem_tensor(&p, p.x, 1), *out = problem_tensor(&p, p.x, 1);
    mrb_tensor_zero_grad(x);
    mrb_tensor grad_view = *out; /* out's gradient as a tensor: no ownership */
    grad_view.data = out->grad;
    mrb_nn_complex_to_tensor(p.grad, &grad_view);
    double ref_dlambda = 0.0;
    cr_assert_eq(mrb_nn_dc_backward(x, &d, lambda, out, &ref_dlambda), MRB_OK, "%s", mrb_error_message());
    float *ref = alloc_floats(2 * p.count);
    grad_view = *x;
    grad_view.data = x->grad;
    mrb_nn_tensor_to_complex(&grad_view, ref);

    float *dx = to_device(p.x, 2 * p.count), *dk = to_device(p.kspace, 2 * p.count);
    float *dm = to_device(p.mask, p.count), *dg = to_device(p.grad, 2 * p.count);
    float *dgx = to_device(NULL, 2 * p.count);
    double dlambda = 0.0;
    cr_assert_eq(mrb_cuda_dc_backward(dx, dk, dm, p.nx, p.ny, p.nt * p.n, p.count, lambda, dg, dgx, &dlambda), MRB_OK,
                 "%s", mrb_error_message());
    float *gpu = to_host(dgx, 2 * p.count);
    double err = rel_l2_error(gpu, ref, 2 * p.count);
    cr_expect_leq(err, DC_REL_TOL, "dc backward nt %zu lambda %g: relative error %.3g", nt, lambda, err);
    if (lambda >= 0) {
        /* ||F g|| = ||g|| (orthonormal F); ||s0 - F x|| <= ||s0|| + ||x|| */
        double bound = sqrt(sq_norm(p.grad, 2 * p.count)) *
                       (sqrt(sq_norm(p.kspace, 2 * p.count)) + sqrt(sq_norm(p.x, 2 * p.count))) /
                       ((1.0 + lambda) * (1.0 + lambda));
        cr_expect_leq(fabs(dlambda - ref_dlambda), DLAMBDA_REL_TOL * bound, "d lambda: gpu %.9g cpu %.9g (bound %.3g)",
                      dlambda, ref_dlambda, bound);
        cr_expect_neq(ref_dlambda, 0.0, "the reference d lambda is not trivially zero");
    }
    free(gpu);
    free(ref);
    mrb_cuda_free(dx);
    mrb_cuda_free(dk);
    mrb_cuda_free(dm);
    mrb_cuda_free(dg);
    mrb_cuda_free(dgx);
    mrb_tensor_free(x);
    mrb_tensor_free(out);
    free_problem(&p);
}

Test(cuda_dc, backward_noiseless_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    check_dc_backward(1, -1.0);
    check_dc_backward(4, -1.0);
}

Test(cuda_dc, backward_noisy_and_dlambda_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    check_dc_backward(1, 0.3);
    check_dc_backward(4, 5.0);
}

/* One mask shared by every coil: the mask repeats over trailing axes. */
Test(cuda_dc, kspace_step_broadcasts_mask_over_coils)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t frame = 16 * 12, nc = 3, count = frame * nc;
    const double lambda = 2.0;
    float *s = alloc_floats(2 * count), *s0 = alloc_floats(2 * count), *mask = alloc_floats(frame);
    fill_uniform(s, 2 * count, 21);
    fill_uniform(s0, 2 * count, 22);
    fill_uniform(mask, frame, 23);
    for (size_t i = 0; i < frame; i++) mask[i] = mask[i] > 0.3f ? 1.0f : 0.0f;
    float *ds = to_device(s, 2 * count), *ds0 = to_device(s0, 2 * count), *dm = to_device(mask, frame);
    cr_assert_eq(mrb_cuda_dc_kspace(ds, ds0, dm, count, frame, lambda), MRB_OK, "%s", mrb_error_message());
    float *gpu = to_host(ds, 2 * count);
    float complex *ref = (float complex *)s;
    const float complex *y = (const float complex *)s0;
    for (size_t i = 0; i < count; i++)
        if (mask[i % frame] != 0.0f) ref[i] = (ref[i] + (float)lambda * y[i]) / (1.0f + (float)lambda);
    double err = rel_l2_error(gpu, s, 2 * count);
    cr_expect_leq(err, ELEMENTWISE_REL_TOL, "k-space DC step: relative error %.3g", err);
    free(gpu);
    free(s);
    free(s0);
    free(mask);
    mrb_cuda_free(ds);
    mrb_cuda_free(ds0);
    mrb_cuda_free(dm);
}

Test(cuda_dc, coil_expand_and_combine_match_sense_operator)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t nx = 24, ny = 20, nt = 2, nc = 4, frame = nx * ny, vol = frame * nt;
    float *x = alloc_floats(2 * vol), *sens = alloc_floats(2 * frame * nc);
    float *coils = alloc_floats(2 * vol * nc), *ref_coils = alloc_floats(2 * vol * nc);
    float *ref_x = alloc_floats(2 * vol);
    fill_uniform(x, 2 * vol, 31);
    fill_uniform(sens, 2 * frame * nc, 32);
    fill_uniform(coils, 2 * vol * nc, 33);
    mrb_linop *op = mrb_linop_sense_create(nx, ny, nt, nc, sens, 1);
    cr_assert_not_null(op, "%s", mrb_error_message());
    cr_assert_eq(mrb_linop_forward(op, ref_coils, x), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_linop_adjoint(op, ref_x, coils), MRB_OK, "%s", mrb_error_message());

    float *dx = to_device(x, 2 * vol), *ds = to_device(sens, 2 * frame * nc);
    float *dc = to_device(coils, 2 * vol * nc), *dout = to_device(NULL, 2 * vol * nc);
    cr_assert_eq(mrb_cuda_coil_expand(dx, ds, frame, nt, nc, dout), MRB_OK, "%s", mrb_error_message());
    float *gpu_coils = to_host(dout, 2 * vol * nc);
    cr_assert_eq(mrb_cuda_coil_combine(dc, ds, frame, nt, nc, dx), MRB_OK, "%s", mrb_error_message());
    float *gpu_x = to_host(dx, 2 * vol);
    double e1 = rel_l2_error(gpu_coils, ref_coils, 2 * vol * nc);
    double e2 = rel_l2_error(gpu_x, ref_x, 2 * vol);
    cr_expect_leq(e1, COIL_REL_TOL, "coil expand: relative error %.3g", e1);
    cr_expect_leq(e2, COIL_REL_TOL, "coil combine: relative error %.3g", e2);
    mrb_linop_free(op);
    free(x);
    free(sens);
    free(coils);
    free(ref_coils);
    free(ref_x);
    free(gpu_coils);
    free(gpu_x);
    mrb_cuda_free(dx);
    mrb_cuda_free(ds);
    mrb_cuda_free(dc);
    mrb_cuda_free(dout);
}

Test(cuda_dc, complex_elementwise_ops_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t n = 1000;
    const float complex a = CMPLXF(0.7f, -1.3f);
    float *x = alloc_floats(2 * n), *y = alloc_floats(2 * n), *ref = alloc_floats(2 * n);
    fill_uniform(x, 2 * n, 41);
    fill_uniform(y, 2 * n, 42);
    const float complex *cx = (const float complex *)x, *cy = (const float complex *)y;
    float complex *cref = (float complex *)ref;
    float *dx = to_device(x, 2 * n), *dy = to_device(y, 2 * n), *dz = to_device(NULL, 2 * n);

    for (size_t i = 0; i < n; i++) cref[i] = cx[i] * cy[i];
    cr_assert_eq(mrb_cuda_cmul(n, dx, dy, dz), MRB_OK, "%s", mrb_error_message());
    float *got = to_host(dz, 2 * n);
    cr_expect_leq(rel_l2_error(got, ref, 2 * n), ELEMENTWISE_REL_TOL, "cmul");
    free(got);

    for (size_t i = 0; i < n; i++) cref[i] = conjf(cx[i]) * cy[i];
    cr_assert_eq(mrb_cuda_cmulconj(n, dx, dy, dz), MRB_OK, "%s", mrb_error_message());
    got = to_host(dz, 2 * n);
    cr_expect_leq(rel_l2_error(got, ref, 2 * n), ELEMENTWISE_REL_TOL, "cmulconj");
    free(got);

    for (size_t i = 0; i < n; i++) cref[i] = cy[i] + a * cx[i];
    cr_assert_eq(mrb_cuda_caxpy(n, crealf(a), cimagf(a), dx, dy), MRB_OK, "%s", mrb_error_message());
    got = to_host(dy, 2 * n);
    cr_expect_leq(rel_l2_error(got, ref, 2 * n), ELEMENTWISE_REL_TOL, "caxpy");
    free(got);

    size_t dims[1] = {n};
    mrb_array *arr = mrb_array_create(MRB_C64, 1, dims);
    cr_assert_not_null(arr, "%s", mrb_error_message());
    memcpy(arr->data, x, 2 * n * sizeof(float));
    mrb_array *mag = mrb_array_magnitude(arr);
    cr_assert_not_null(mag, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_cabs(n, dx, dz), MRB_OK, "%s", mrb_error_message());
    got = to_host(dz, n);
    cr_expect_leq(rel_l2_error(got, mag->data, n), ELEMENTWISE_REL_TOL, "cabs");
    free(got);
    mrb_array_free(arr);
    mrb_array_free(mag);

    mrb_cuda_free(dx);
    mrb_cuda_free(dy);
    mrb_cuda_free(dz);
    free(x);
    free(y);
    free(ref);
}

/* A mask that does not tile the data is refused before any device work. */
Test(cuda_dc, rejects_mask_that_does_not_tile)
{
    cr_expect_eq(mrb_cuda_dc_kspace(NULL, NULL, NULL, 100, 30, 1.0), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_dc_kspace(NULL, NULL, NULL, 100, 0, 1.0), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_dc_forward(NULL, NULL, NULL, 8, 8, 2, 60, -1.0, NULL), MRB_ERR_INVALID);
}
