/* The Deep Cascade on the GPU (gpu/recon/cascade_cuda.cu and its method
 * twins) against the CPU engine (baselines/recon/cascade/cascade.c): outputs,
 * every parameter's gradient (incl. a trainable DC lambda), one Adam step,
 * the training inputs derived from images, and the methods cascade-2d / cascade-2dt end to end, in 2D and 2D+t.
 * CTest runs it twice: as is (cuDNN's legacy API) and as
 * test_cuda_cascade_graph with MRBENCH_CUDNN_API=graph (gpu/CMakeLists.txt). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cuda_test_util.h"
#include "mrb_cuda.h"
#include "mrbench/array.h"
#include "mrbench/nn.h"
#include "mrbench/registry.h"

/* The task's bounds: cascade outputs and gradients within 1e-3 (relative
 * L2) of the CPU. Strict FP32 (the default) lands near 1e-6; TF32
 * (MRBENCH_TF32=1) near 1e-3, so TF32 runs get the looser bound below. */
#define OUT_REL_TOL 1e-4
#define GRAD_REL_TOL 1e-3
#define TF32_REL_TOL 2e-2
/* One Adam step moves each weight by about lr; a gradient that differs in
 * its last bits flips the step of near-zero entries only. */
#define ADAM_REL_TOL 1e-4
/* The method twin against the CPU method on the same weights file. */
#define METHOD_REL_TOL 1e-4

typedef struct problem {
    size_t n, nx, ny, nt, vol, total; /* total complex values */
    mrb_tensor *x0;
    float *kspace, *mask, *dout;
} problem;

static problem make_problem(int temporal, size_t n, size_t nx, size_t ny, size_t nt)
{
    problem p = {n, nx, ny, nt, nx * ny * nt, n * nx * ny * nt, NULL, NULL, NULL, NULL};
    p.x0 = temporal ? mrb_tensor_create5(n, 2, nt, ny, nx, 0) : mrb_tensor_create4(n, 2, ny, nx, 0);
    cr_assert_not_null(p.x0);
    fill_uniform(p.x0->data, mrb_tensor_count(p.x0), 11);
    p.kspace = alloc_floats(2 * p.total);
    p.mask = alloc_floats(p.total);
    p.dout = alloc_floats(2 * p.total);
    fill_uniform(p.kspace, 2 * p.total, 12);
    fill_uniform(p.mask, p.total, 13);
    fill_uniform(p.dout, 2 * p.total, 14);
    for (size_t i = 0; i < p.total; i++) {
        p.mask[i] = p.mask[i] > 0.2f ? 1.0f : 0.0f; /* ~40% sampled */
        p.kspace[2 * i] *= p.mask[i];
        p.kspace[2 * i + 1] *= p.mask[i];
    }
    return p;
}

static void free_problem(problem *p)
{
    mrb_tensor_free(p->x0);
    free(p->kspace);
    free(p->mask);
    free(p->dout);
}

static mrb_cascade_arch small_arch(int temporal, int noisy)
{
    mrb_cascade_arch a = mrb_cascade_arch_default(temporal);
    a.n_c = 3;
    a.n_d = 3;
    a.n_f = 8;
    a.lambda = noisy ? 0.5 : -1.0;
    a.lambda_trainable = noisy;
    return a;
}

static double tol(double strict, const mrb_cuda_cascade *g)
{
    return mrb_cuda_cascade_tf32(g) ? TF32_REL_TOL : strict;
}

/* Forward, backward and one Adam step on both engines. */
static void check_training(int temporal, int noisy, size_t n, size_t nx, size_t ny, size_t nt)
{
    MRB_SKIP_WITHOUT_GPU();
    mrb_cascade_arch a = small_arch(temporal, noisy);
    mrb_cascade *cpu, *back;
    cr_assert_eq(mrb_cascade_create(&a, 7, &cpu), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cascade_create(&a, 99, &back), MRB_OK, "%s", mrb_error_message());
    problem p = make_problem(temporal, n, nx, ny, nt);
    mrb_dc_data d = {nx, ny, nt, n, p.kspace, p.mask};

    mrb_cuda_cascade *g;
    cr_assert_eq(mrb_cuda_cascade_create(cpu, &g), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_cascade_prepare(g, n, nx, ny, temporal ? nt : 1, 1), MRB_OK, "%s", mrb_error_message());

    const mrb_tensor *out;
    mrb_cascade_zero_grad(cpu);
    cr_assert_eq(mrb_cascade_forward(cpu, p.x0, &d, 1, &out), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cascade_backward(cpu, p.dout), MRB_OK, "%s", mrb_error_message());

    float *d_x0 = to_device(p.x0->data, 2 * p.total), *d_ks = to_device(p.kspace, 2 * p.total);
    float *d_mask = to_device(p.mask, p.total), *d_dout = to_device(p.dout, 2 * p.total);
    const float *d_out;
    cr_assert_eq(mrb_cuda_cascade_zero_grad(g), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_cascade_forward(g, d_x0, d_ks, d_mask, &d_out), MRB_OK, "%s", mrb_error_message());
    float *h_out = to_host(d_out, 2 * p.total);
    double e = rel_l2_error(h_out, out->data, 2 * p.total);
    cr_expect(e <= tol(OUT_REL_TOL, g), "%s output: relative error %.3g", temporal ? "2D+t" : "2D", e);
    cr_assert_eq(mrb_cuda_cascade_backward(g, d_ks, d_mask, d_dout), MRB_OK, "%s", mrb_error_message());

    /* every parameter's gradient */
    cr_assert_eq(mrb_cuda_cascade_download(g, back, 1), MRB_OK, "%s", mrb_error_message());
    mrb_named_tensor pc[64], pg[64];
    size_t np = mrb_cascade_params(cpu, pc, 64);
    cr_assert_eq(mrb_cascade_params(back, pg, 64), np);
    for (size_t i = 0; i < np; i++) {
        size_t cnt = mrb_tensor_count(pc[i].t);
        double ew = rel_l2_error(pg[i].t->data, pc[i].t->data, cnt);
        cr_expect(ew <= 1e-7, "%s: uploaded value differs (%.3g)", pc[i].name, ew);
        if (!pc[i].t->grad) continue;
        double eg = rel_l2_error(pg[i].t->grad, pc[i].t->grad, cnt);
        cr_expect(eg <= tol(GRAD_REL_TOL, g), "%s gradient: relative error %.3g", pc[i].name, eg);
    }

    /* without zero_grad a second backward adds: twice the gradients */
    cr_assert_eq(mrb_cuda_cascade_backward(g, d_ks, d_mask, d_dout), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_cascade_download(g, back, 1), MRB_OK, "%s", mrb_error_message());
    for (size_t i = 0; i < np; i++) {
        if (!pc[i].t->grad) continue;
        size_t cnt = mrb_tensor_count(pc[i].t);
        float *twice = alloc_floats(cnt);
        for (size_t k = 0; k < cnt; k++) twice[k] = 2.0f * pc[i].t->grad[k];
        double eg = rel_l2_error(pg[i].t->grad, twice, cnt);
        cr_expect(eg <= tol(GRAD_REL_TOL, g), "%s gradient after two backward passes: relative error %.3g", pc[i].name,
                  eg);
        free(twice);
    }
    cr_assert_eq(mrb_cuda_cascade_zero_grad(g), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_cascade_backward(g, d_ks, d_mask, d_dout), MRB_OK, "%s", mrb_error_message());

    /* one Adam step with the training's decay mask (weights only) */
    mrb_adam_cfg ac = mrb_adam_defaults();
    ac.weight_decay = 1e-4;
    mrb_tensor *pt[64];
    int decay[64];
    size_t nt_ = 0;
    for (size_t i = 0; i < np; i++) {
        if (strstr(pc[i].name, ".dc.lmbda") && !a.lambda_trainable) continue;
        decay[nt_] = strstr(pc[i].name, ".weight") != NULL;
        pt[nt_++] = pc[i].t;
    }
    mrb_optim *opt;
    cr_assert_eq(mrb_optim_adam_create(pt, decay, nt_, &ac, &opt), MRB_OK);
    mrb_optim_step(opt);
    mrb_optim_free(opt);
    cr_assert_eq(mrb_cuda_cascade_adam(g, &ac, 1), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_cascade_download(g, back, 0), MRB_OK, "%s", mrb_error_message());
    for (size_t i = 0; i < np; i++) {
        double ew = rel_l2_error(pg[i].t->data, pc[i].t->data, mrb_tensor_count(pc[i].t));
        cr_expect(ew <= ADAM_REL_TOL, "%s after one Adam step: relative error %.3g", pc[i].name, ew);
    }

    /* the loss kernel: 2 mean |e|^2 as mrb_nn_mse_loss with scale 2 */
    float *target = alloc_floats(2 * p.total);
    fill_uniform(target, 2 * p.total, 15);
    float *d_target = to_device(target, 2 * p.total);
    double loss_gpu, loss_cpu = 0.0;
    cr_assert_eq(mrb_cuda_cascade_mse(g, d_out, d_target, 2.0f, d_dout, &loss_gpu), MRB_OK, "%s", mrb_error_message());
    for (size_t i = 0; i < 2 * p.total; i++) {
        double diff = (double)h_out[i] - target[i];
        loss_cpu += diff * diff;
    }
    loss_cpu *= 2.0 / (double)(2 * p.total);
    cr_expect(fabs(loss_gpu - loss_cpu) <= 1e-5 * loss_cpu + tol(OUT_REL_TOL, g), "loss %.9g vs %.9g", loss_gpu,
              loss_cpu);

    free(target);
    free(h_out);
    mrb_cuda_free(d_target);
    mrb_cuda_free(d_x0);
    mrb_cuda_free(d_ks);
    mrb_cuda_free(d_mask);
    mrb_cuda_free(d_dout);
    mrb_cuda_cascade_free(g);
    mrb_cascade_free(cpu);
    mrb_cascade_free(back);
    free_problem(&p);
}

Test(cuda_cascade, training_2d_noiseless)
{
    check_training(0, 0, 4, 32, 24, 1);
}

Test(cuda_cascade, training_2d_noisy_trainable_lambda)
{
    check_training(0, 1, 3, 16, 16, 1);
}

Test(cuda_cascade, training_2dt_data_sharing)
{
    check_training(1, 0, 2, 16, 12, 6);
}

Test(cuda_cascade, training_2dt_noisy)
{
    check_training(1, 1, 1, 16, 16, 5);
}

/* The registered GPU twin against the CPU method on one weights file. */
static void check_method(int temporal, size_t nx, size_t ny, size_t nt)
{
    MRB_SKIP_WITHOUT_GPU();
    const char *name = temporal ? "cascade-2dt" : "cascade-2d";
    const mrb_method_desc *cpu = mrb_method_find(name), *gpu = mrb_method_find_gpu(name);
    cr_assert_not_null(cpu);
    cr_assert_not_null(gpu, "%s has no GPU twin", name);
    cr_assert_neq(cpu, gpu);
    mrb_cascade_arch a = small_arch(temporal, 0);
    a.n_f = 16;
    mrb_cascade *c;
    cr_assert_eq(mrb_cascade_create(&a, 3, &c), MRB_OK);
    char path[64];
    snprintf(path, sizeof path, "/tmp/mrb_cuda_cascade_%d_%ld.safetensors", temporal, (long)getpid());
    cr_assert_eq(mrb_cascade_save(c, path), MRB_OK, "%s", mrb_error_message());
    size_t vol = nx * ny * nt, kd[4] = {nx, ny, nt, 1};
    mrb_array *ks = mrb_array_create(MRB_C64, 4, kd), *mask = mrb_array_create3(MRB_F32, nx, ny, nt);
    mrb_array *out_cpu = mrb_array_create3(MRB_C64, nx, ny, nt), *out_gpu = mrb_array_create3(MRB_C64, nx, ny, nt);
    fill_uniform(ks->data, 2 * vol, 21);
    float *mv = mask->data;
    for (size_t i = 0; i < vol; i++) mv[i] = ((i / nx) + (i / (nx * ny))) % 4 == 0 ? 1.0f : 0.0f;
    mrb_recon_input in = {.kspace = ks, .mask = mask, .sens = NULL, .nthreads = 2, .seed = 0};
    const mrb_method_desc *ms[2] = {cpu, gpu};
    mrb_array *outs[2] = {out_cpu, out_gpu};
    for (int k = 0; k < 2; k++) {
        mrb_params prm;
        mrb_params_defaults(&prm, ms[k]->params, ms[k]->nparams);
        cr_assert_eq(mrb_params_set_text(&prm, ms[k]->params, ms[k]->nparams, "weights", path, "test"), MRB_OK);
        void *state;
        cr_assert_eq(ms[k]->setup(&prm, &in, &state), MRB_OK, "%s", mrb_error_message());
        cr_assert_eq(ms[k]->run(state, &in, outs[k]), MRB_OK, "%s", mrb_error_message());
        if (ms[k]->phases) {
            const char *names[4];
            double secs[4];
            size_t nph = ms[k]->phases(state, names, secs, 4);
            cr_expect_eq(nph, 3);
            for (size_t q = 0; q < nph; q++) cr_expect(secs[q] >= 0.0, "phase %s: %g s", names[q], secs[q]);
        }
        ms[k]->teardown(state);
    }
    double e = rel_l2_error(out_gpu->data, out_cpu->data, 2 * vol);
    cr_expect(e <= METHOD_REL_TOL * (getenv("MRBENCH_TF32") ? TF32_REL_TOL / OUT_REL_TOL : 1.0),
              "%s GPU twin vs CPU: relative error %.3g", name, e);
    remove(path);
    mrb_array_free(ks);
    mrb_array_free(mask);
    mrb_array_free(out_cpu);
    mrb_array_free(out_gpu);
    mrb_cascade_free(c);
}

/* A training minibatch's inputs derived on the GPU from its images, as
 * mrb_cascade_train_inputs derives them on the CPU (FFT-based: <= 1e-4). */
static void check_inputs(int temporal, size_t n, size_t nx, size_t ny, size_t nt)
{
    MRB_SKIP_WITHOUT_GPU();
    mrb_cascade_arch a = small_arch(temporal, 0);
    mrb_cascade *net;
    cr_assert_eq(mrb_cascade_create(&a, 7, &net), MRB_OK, "%s", mrb_error_message());
    problem p = make_problem(temporal, n, nx, ny, nt); /* mask and random images (as kspace) */
    float *images = alloc_floats(2 * p.total), *ks = alloc_floats(2 * p.total), *zf = alloc_floats(2 * p.total);
    fill_uniform(images, 2 * p.total, 21);
    /* 2D: the frames are the samples */
    mrb_tensor *x0 = temporal ? mrb_tensor_create5(n, 2, nt, ny, nx, 0) : mrb_tensor_create4(n * nt, 2, ny, nx, 0);
    mrb_tensor *target = temporal ? mrb_tensor_create5(n, 2, nt, ny, nx, 0) : mrb_tensor_create4(n * nt, 2, ny, nx, 0);
    cr_assert(x0 && target);
    cr_assert_eq(
        mrb_cascade_train_inputs(images, p.mask, nx, ny, temporal ? nt : 1, temporal ? n : n * nt, ks, zf, x0, target),
        MRB_OK, "%s", mrb_error_message());

    mrb_cuda_cascade *g;
    cr_assert_eq(mrb_cuda_cascade_create(net, &g), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_cascade_prepare(g, temporal ? n : n * nt, nx, ny, temporal ? nt : 1, 1), MRB_OK, "%s",
                 mrb_error_message());
    float *d_images = to_device(images, 2 * p.total), *d_mask = to_device(p.mask, p.total);
    float *d_ks = to_device(zf, 2 * p.total), *d_x0 = to_device(zf, 2 * p.total),
          *d_target = to_device(zf, 2 * p.total);
    cr_assert_eq(mrb_cuda_cascade_inputs(g, d_images, d_mask, d_ks, d_x0, d_target), MRB_OK, "%s", mrb_error_message());
    float *h_ks = to_host(d_ks, 2 * p.total), *h_x0 = to_host(d_x0, 2 * p.total), *h_t = to_host(d_target, 2 * p.total);
    double eks = rel_l2_error(h_ks, ks, 2 * p.total), ex = rel_l2_error(h_x0, x0->data, 2 * p.total);
    cr_expect(eks <= OUT_REL_TOL, "masked k-space: relative error %.3g", eks);
    cr_expect(ex <= OUT_REL_TOL, "zero-filled input: relative error %.3g", ex);
    cr_expect(memcmp(h_t, target->data, 2 * p.total * sizeof(float)) == 0, "target: the images, exactly");
    size_t off = 0;
    for (size_t i = 0; i < p.total; i++) off += p.mask[i] == 0.0f && (h_ks[2 * i] != 0.0f || h_ks[2 * i + 1] != 0.0f);
    cr_expect_eq(off, 0u, "%zu k-space values off the mask are not zero", off);
    free(h_ks);
    free(h_x0);
    free(h_t);
    mrb_cuda_free(d_images);
    mrb_cuda_free(d_mask);
    mrb_cuda_free(d_ks);
    mrb_cuda_free(d_x0);
    mrb_cuda_free(d_target);
    mrb_cuda_cascade_free(g);
    mrb_tensor_free(x0);
    mrb_tensor_free(target);
    free(images);
    free(ks);
    free(zf);
    free_problem(&p);
    mrb_cascade_free(net);
}

Test(cuda_cascade, training_inputs_2d)
{
    check_inputs(0, 2, 16, 12, 3);
}

Test(cuda_cascade, training_inputs_2dt)
{
    check_inputs(1, 2, 16, 12, 4);
}

Test(cuda_cascade, method_2d_frames_batched)
{
    check_method(0, 32, 32, 6);
}

Test(cuda_cascade, method_2dt)
{
    check_method(1, 24, 16, 8);
}

/* Runs everywhere (the variable is read before the device is looked for):
 * a value of MRBENCH_CUDNN_API other than "legacy" or "graph" is refused
 * with a message that names the variable. */
Test(cuda_cascade, unknown_cudnn_api_refused)
{
    cr_assert_eq(setenv("MRBENCH_CUDNN_API", "frontend", 1), 0);
    mrb_cascade_arch a = small_arch(0, 0);
    mrb_cascade *c;
    cr_assert_eq(mrb_cascade_create(&a, 1, &c), MRB_OK);
    mrb_cuda_cascade *g = (mrb_cuda_cascade *)1;
    cr_expect_eq(mrb_cuda_cascade_create(c, &g), MRB_ERR_INVALID);
    cr_expect_null(g);
    cr_expect(strstr(mrb_error_message(), "MRBENCH_CUDNN_API") != NULL, "%s", mrb_error_message());
    mrb_cascade_free(c);
}

/* Runs everywhere: the twins are registered in CUDA builds, and without a
 * device the GPU engine refuses cleanly. */
Test(cuda_cascade, registered_and_refuses_without_device)
{
    cr_expect_not_null(mrb_method_find_gpu("cascade-2d"));
    cr_expect_not_null(mrb_method_find_gpu("cascade-2dt"));
    cr_expect_null(mrb_method_find_gpu("zero-filling"));
    cr_expect_null(mrb_method_find_gpu("no-such-method"));
    char why[256];
    if (mrb_gpu_available(why, sizeof why) == MRB_OK) return;
    mrb_cascade_arch a = small_arch(0, 0);
    mrb_cascade *c;
    cr_assert_eq(mrb_cascade_create(&a, 1, &c), MRB_OK);
    mrb_cuda_cascade *g = (mrb_cuda_cascade *)1;
    cr_expect_eq(mrb_cuda_cascade_create(c, &g), MRB_ERR_DEVICE);
    cr_expect_null(g);
    cr_expect(strlen(mrb_error_message()) > 0);
    mrb_cascade_free(c);
}
