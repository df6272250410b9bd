/* Training the Deep Cascade with its steps on the GPU (the device behind
 * `mrbench train --device gpu`, gpu/recon/cascade_train_cuda.c) against
 * the same training on the CPU: same seed, masks and sample order, so the
 * final weights and validation PSNR agree to float rounding; a GPU run
 * resumed from its checkpoint (weights and Adam moments round-tripped
 * through the host) ends where an uninterrupted one does; validation items
 * reconstructed on the GPU match the CPU. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_test_util.h"
#include "mrb_cuda.h"
#include "mrbench/array.h"
#include "mrbench/nn.h"

/* Several Adam steps on gradients that agree to ~1e-6. Adam's first step
 * moves every weight by lr times the sign of its gradient, so an entry whose
 * gradient is below that rounding noise steps the other way (2 lr = 2e-3
 * apart) and stays apart: a few such entries in a tensor of a few hundred
 * weights of ~0.1 give ~1e-3. The bound leaves room for a handful; a wrong
 * step, moment or learning rate is off by 1e-1 and more. TF32 looser still. */
#define TRAIN_REL_TOL 5e-3
#define TRAIN_PSNR_TOL_DB 0.02
#define TF32_TRAIN_REL_TOL 5e-2
#define TF32_PSNR_TOL_DB 0.5
/* Resumed against uninterrupted on the GPU: the same steps, bit for bit when
 * the second process's timing picks the same cuDNN algorithms, else as
 * above (missing Adam moments after the resume would be off by ~1e-1). */
#define RESUME_REL_TOL 5e-3

#define NTRAIN 3
#define NVAL 1

typedef struct fixture {
    mrb_array *items[NTRAIN + NVAL];
    char dir[64];
} fixture;

static void make_fixture(fixture *f, size_t nx, size_t ny, size_t nt)
{
    for (size_t i = 0; i < NTRAIN + NVAL; i++) {
        f->items[i] = mrb_array_create3(MRB_C64, nx, ny, nt);
        cr_assert_not_null(f->items[i]);
        fill_uniform(f->items[i]->data, 2 * nx * ny * nt, 100 + i);
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/mrb-cuda-train-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
}

static void free_fixture(fixture *f)
{
    for (size_t i = 0; i < NTRAIN + NVAL; i++) mrb_array_free(f->items[i]);
    const char *names[] = {"cpu.st", "gpu.st", "gpu.ckpt", "half.st", "half.ckpt"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, names[i]);
        unlink(path);
    }
    rmdir(f->dir);
}

static mrb_cascade_train_opts options(const fixture *f, int temporal, int noisy)
{
    mrb_cascade_train_opts o = mrb_cascade_train_defaults(temporal);
    o.arch.n_c = 2;
    o.arch.n_d = 3;
    o.arch.n_f = 8;
    o.arch.lambda = noisy ? 0.5 : -1.0;
    o.arch.lambda_trainable = noisy;
    o.train = (const mrb_array *const *)f->items;
    o.ntrain = NTRAIN;
    o.val = (const mrb_array *const *)f->items + NTRAIN;
    o.nval = NVAL;
    o.sample_n = 4;
    o.epochs = 2;
    o.batch = 2;
    o.seed = 31;
    o.nthreads = 1;
    return o;
}

static void train(mrb_cascade_train_opts o, const fixture *f, const char *weights, const char *checkpoint, int gpu,
                  double *psnr)
{
    char wpath[128], cpath[128];
    snprintf(wpath, sizeof wpath, "%s/%s", f->dir, weights);
    snprintf(cpath, sizeof cpath, "%s/%s", f->dir, checkpoint ? checkpoint : "");
    o.weights_out = wpath;
    o.checkpoint = checkpoint ? cpath : NULL;
    o.device = gpu ? mrb_cascade_train_device_gpu() : NULL;
    cr_assert_eq(mrb_cascade_train(&o, psnr), MRB_OK, "%s training: %s", gpu ? "GPU" : "CPU", mrb_error_message());
}

/* Largest relative L2 difference over the parameters of two weights files. */
static double weights_difference(const fixture *f, const char *a, const char *b)
{
    char pa[128], pb[128];
    snprintf(pa, sizeof pa, "%s/%s", f->dir, a);
    snprintf(pb, sizeof pb, "%s/%s", f->dir, b);
    mrb_cascade *ca, *cb;
    cr_assert_eq(mrb_cascade_open(pa, &ca), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cascade_open(pb, &cb), MRB_OK, "%s", mrb_error_message());
    mrb_named_tensor ta[64], tb[64];
    size_t n = mrb_cascade_params(ca, ta, 64);
    cr_assert_eq(mrb_cascade_params(cb, tb, 64), n);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = rel_l2_error(tb[i].t->data, ta[i].t->data, mrb_tensor_count(ta[i].t));
        if (e > worst) worst = e;
    }
    mrb_cascade_free(ca);
    mrb_cascade_free(cb);
    return worst;
}

static int tf32(void)
{
    const char *v = getenv("MRBENCH_TF32");
    return v && strcmp(v, "1") == 0;
}

static void check_against_cpu(int temporal, int noisy, size_t nx, size_t ny, size_t nt)
{
    MRB_SKIP_WITHOUT_GPU();
    fixture f;
    make_fixture(&f, nx, ny, nt);
    mrb_cascade_train_opts o = options(&f, temporal, noisy);
    double psnr_cpu, psnr_gpu;
    train(o, &f, "cpu.st", NULL, 0, &psnr_cpu);
    train(o, &f, "gpu.st", "gpu.ckpt", 1, &psnr_gpu);
    double e = weights_difference(&f, "cpu.st", "gpu.st");
    cr_expect(e <= (tf32() ? TF32_TRAIN_REL_TOL : TRAIN_REL_TOL),
              "%s: weights after %d epochs differ from the CPU's by %.3g (relative L2, worst tensor)",
              temporal ? "2D+t" : "2D", o.epochs, e);
    cr_expect(fabs(psnr_gpu - psnr_cpu) <= (tf32() ? TF32_PSNR_TOL_DB : TRAIN_PSNR_TOL_DB),
              "validation PSNR %.4f dB (GPU) vs %.4f dB (CPU)", psnr_gpu, psnr_cpu);

    /* one epoch, then resumed from its checkpoint for the second */
    mrb_cascade_train_opts half = o;
    half.epochs = 1;
    double psnr_half;
    train(half, &f, "half.st", "half.ckpt", 1, &psnr_half);
    o.resume = 1;
    train(o, &f, "half.st", "half.ckpt", 1, &psnr_half);
    double er = weights_difference(&f, "gpu.st", "half.st");
    cr_expect(er <= RESUME_REL_TOL, "resumed GPU training differs from uninterrupted by %.3g", er);
    free_fixture(&f);
}

Test(cuda_train, cascade_2d_against_cpu_and_resume)
{
    check_against_cpu(0, 0, 16, 16, 4);
}

Test(cuda_train, cascade_2dt_trainable_lambda_against_cpu_and_resume)
{
    check_against_cpu(1, 1, 16, 12, 4);
}

/* Validation on the device: one item goes through the training's network,
 * buffers and plans in minibatches, the last padded with unsampled units;
 * it must give mrb_cascade_reconstruct's image (as the GPU method does). */
#define RECON_REL_TOL 1e-4
#define TF32_RECON_REL_TOL 2e-2

static void check_reconstruct(int temporal, size_t batch, size_t nx, size_t ny, size_t nt)
{
    MRB_SKIP_WITHOUT_GPU();
    mrb_cascade_arch a = mrb_cascade_arch_default(temporal);
    a.n_c = 2;
    a.n_d = 3;
    a.n_f = 8;
    mrb_cascade *net;
    cr_assert_eq(mrb_cascade_create(&a, 5, &net), MRB_OK, "%s", mrb_error_message());
    mrb_named_tensor p[64];
    mrb_tensor *pt[64];
    int decay[64];
    size_t np = mrb_cascade_params(net, p, 64);
    for (size_t i = 0; i < np; i++) {
        pt[i] = p[i].t;
        decay[i] = strstr(p[i].name, ".weight") != NULL;
    }
    mrb_adam_cfg adam = mrb_adam_defaults();
    mrb_optim *opt;
    cr_assert_eq(mrb_optim_adam_create(pt, decay, np, &adam, &opt), MRB_OK, "%s", mrb_error_message());

    size_t vol = nx * ny * nt, kd[4] = {nx, ny, nt, 1};
    mrb_array *ks = mrb_array_create(MRB_C64, 4, kd), *mask = mrb_array_create3(MRB_F32, nx, ny, nt);
    mrb_array *cpu = mrb_array_create3(MRB_C64, nx, ny, nt), *gpu = mrb_array_create3(MRB_C64, nx, ny, nt);
    cr_assert(ks && mask && cpu && gpu);
    fill_uniform(ks->data, 2 * vol, 7);
    float *m = mask->data;
    for (size_t i = 0; i < vol; i++) m[i] = (i / nx + i / (nx * ny)) % 3 == 0; /* lines, shifted per frame */
    cr_assert_eq(mrb_cascade_reconstruct(net, ks, mask, cpu), MRB_OK, "%s", mrb_error_message());

    const mrb_cascade_train_device *dev = mrb_cascade_train_device_gpu();
    void *state;
    cr_assert_eq(dev->open(net, opt, &adam, batch, nx, ny, temporal ? nt : 1, &state), MRB_OK, "%s",
                 mrb_error_message());
    cr_assert_eq(dev->reconstruct(state, ks, mask, gpu), MRB_OK, "%s", mrb_error_message());
    double e = rel_l2_error(gpu->data, cpu->data, 2 * vol);
    cr_expect(e <= (tf32() ? TF32_RECON_REL_TOL : RECON_REL_TOL),
              "%s validation on the GPU (batch %zu, %zu frames): relative error %.3g against the CPU",
              temporal ? "2D+t" : "2D", batch, nt, e);
    /* a shape that is not made of training units is refused, not read past */
    mrb_array *odd = mrb_array_create3(MRB_C64, nx + 1, ny, nt);
    cr_expect_eq(dev->reconstruct(state, odd, mask, gpu), MRB_ERR_INVALID);
    dev->close(state);
    mrb_array_free(odd);
    mrb_array_free(ks);
    mrb_array_free(mask);
    mrb_array_free(cpu);
    mrb_array_free(gpu);
    mrb_optim_free(opt);
    mrb_cascade_free(net);
}

Test(cuda_train, validation_2d_in_padded_minibatches)
{
    check_reconstruct(0, 2, 16, 12, 5); /* 3 minibatches of frames, the last padded */
}

Test(cuda_train, validation_2dt_in_a_padded_minibatch)
{
    check_reconstruct(1, 2, 16, 12, 4); /* one series in a minibatch of two */
}

/* Runs everywhere: CUDA builds have the device, and without a GPU its open
 * (hence mrb_cascade_train) fails cleanly with a device error. */
Test(cuda_train, device_registered_and_refuses_without_gpu)
{
    const mrb_cascade_train_device *dev = mrb_cascade_train_device_gpu();
    cr_assert_not_null(dev);
    cr_expect_str_eq(dev->name, "cuda");
    char why[256];
    if (mrb_gpu_available(why, sizeof why) == MRB_OK) return;
    fixture f;
    make_fixture(&f, 8, 8, 2);
    mrb_cascade_train_opts o = options(&f, 0, 0);
    o.device = dev;
    o.sample_n = 2;
    cr_expect_eq(mrb_cascade_train(&o, NULL), MRB_ERR_DEVICE);
    cr_expect(strlen(mrb_error_message()) > 0);
    free_fixture(&f);
}
