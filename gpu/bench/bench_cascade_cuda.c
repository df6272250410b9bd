/* mrbench side of baselines/external/pytorch/compare_speed_gpu.sh: the Deep
 * Cascade on the GPU, timed with CUDA events on the work stream after
 * warm-up, data already on the device (PyTorch's side does the same).
 *
 *   2d:  D5-C5 (64 filters) inference on 1x2x256x256 and one training step
 *        (forward, MSE loss, backward, Adam update) at BATCH;
 *   2dt: D5-C10(S) inference on one 256x256xFRAMES cine.
 *
 * Usage: mrbench_bench_cascade_cuda 2d|2dt [BATCH] [REPEATS] [SIZE] [FRAMES]
 * Prints 'inference MEDIAN_S MIN_S' ('train ...' for 2d), the host-device
 * transfer times of one item ('upload S', 'download S') and a 'device' line.
 * Math: strict FP32 unless MRBENCH_TF32=1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrb_cuda.h"
#include "mrbench/nn.h"

#define SAMPLED_EVERY 4 /* every 4th phase-encode line, as the PyTorch side */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_cascade_cuda: %s: %s\n", what, mrb_error_message());
    return 1;
}

typedef struct bench {
    mrb_cuda_cascade *g;
    float *d_x, *d_ks, *d_mask, *d_target, *d_dout;
    int train;
    uint64_t step;
} bench;

static mrb_status once(bench *b)
{
    const float *out;
    if (!b->train) return mrb_cuda_cascade_forward(b->g, b->d_x, b->d_ks, b->d_mask, &out);
    MRB_TRY(mrb_cuda_cascade_zero_grad(b->g));
    MRB_TRY(mrb_cuda_cascade_forward(b->g, b->d_x, b->d_ks, b->d_mask, &out));
    MRB_TRY(mrb_cuda_cascade_mse(b->g, out, b->d_target, 2.0f, b->d_dout, NULL));
    MRB_TRY(mrb_cuda_cascade_backward(b->g, b->d_ks, b->d_mask, b->d_dout));
    mrb_adam_cfg ac = mrb_adam_defaults();
    ac.lr = 1e-4;
    return mrb_cuda_cascade_adam(b->g, &ac, ++b->step);
}

static mrb_status time_it(bench *b, int reps, double *median, double *best)
{
    mrb_cuda_timer *t;
    MRB_TRY(mrb_cuda_timer_create(&t));
    double *s = calloc((size_t)reps, sizeof *s);
    mrb_status st = s ? MRB_OK : MRB_ERR_NOMEM;
    for (int w = 0; st == MRB_OK && w < 3; w++) st = once(b);
    if (st == MRB_OK) st = mrb_cuda_synchronize();
    for (int r = 0; st == MRB_OK && r < reps; r++) {
        double host;
        st = mrb_cuda_timer_start(t);
        if (st == MRB_OK) st = once(b);
        if (st == MRB_OK) st = mrb_cuda_timer_stop(t);
        if (st == MRB_OK) st = mrb_cuda_timer_elapsed(t, &s[r], &host);
    }
    if (st == MRB_OK) {
        qsort(s, (size_t)reps, sizeof *s, cmp_double);
        *median = reps % 2 ? s[reps / 2] : 0.5 * (s[reps / 2 - 1] + s[reps / 2]);
        *best = s[0];
    }
    free(s);
    mrb_cuda_timer_free(t);
    return st;
}

static float *device_random(size_t n, uint32_t seed)
{
    float *h = malloc(n * sizeof *h), *d = NULL;
    if (!h) return NULL;
    uint32_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        h[i] = (float)(s >> 8) / 16777216.0f;
    }
    void *p;
    if (mrb_cuda_alloc(n * sizeof(float), &p) == MRB_OK && mrb_cuda_upload(p, h, n * sizeof(float)) == MRB_OK) d = p;
    free(h);
    return d;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "2d") && strcmp(argv[1], "2dt"))) {
        fprintf(stderr, "usage: %s 2d|2dt [BATCH] [REPEATS] [SIZE] [FRAMES]\n", argv[0]);
        return 2;
    }
    int temporal = !strcmp(argv[1], "2dt");
    size_t batch = argc > 2 ? (size_t)atol(argv[2]) : 16;
    int reps = argc > 3 ? atoi(argv[3]) : 20;
    size_t n = argc > 4 ? (size_t)atol(argv[4]) : 256;
    size_t frames = temporal ? (argc > 5 ? (size_t)atol(argv[5]) : 30) : 1;
    if (!batch || reps < 1 || n < 2 || n % 2 || !frames) {
        fprintf(stderr, "%s: BATCH, REPEATS, FRAMES >= 1 and an even SIZE\n", argv[0]);
        return 2;
    }
    mrb_gpu_info_t gi;
    if (mrb_gpu_info(&gi) != MRB_OK) return fail("no GPU");
    mrb_cascade_arch a = mrb_cascade_arch_default(temporal);
    mrb_cascade *net;
    if (mrb_cascade_create(&a, 1, &net) != MRB_OK) return fail("cascade");
    bench b = {0};
    if (mrb_cuda_cascade_create(net, &b.g) != MRB_OK) return fail("GPU cascade");
    printf("device %s cc %d.%d driver %d runtime %d cudnn %ld tf32 %d\n", gi.name, gi.cc_major, gi.cc_minor,
           gi.driver_version, gi.runtime_version, gi.cudnn_version, mrb_cuda_cascade_tf32(b.g));

    size_t runs = temporal ? 1 : 2;
    for (size_t r = 0; r < runs; r++) {
        b.train = (int)r;
        size_t items = b.train ? batch : 1, vol = n * n * frames, total = items * vol;
        if (mrb_cuda_cascade_prepare(b.g, items, n, n, frames, b.train) != MRB_OK) return fail("prepare");
        float *mask = malloc(total * sizeof *mask), *ks = calloc(2 * total, sizeof *ks);
        if (!mask || !ks) return fail("host memory");
        for (size_t i = 0; i < total; i++) {
            mask[i] = ((i / n) % n) % SAMPLED_EVERY == 0 ? 1.0f : 0.0f;
            ks[2 * i] = mask[i] * (float)(i % 7) * 0.01f;
        }
        void *p;
        if (mrb_cuda_alloc(total * sizeof(float), &p) != MRB_OK) return fail("device memory");
        b.d_mask = p;
        if (mrb_cuda_alloc(2 * total * sizeof(float), &p) != MRB_OK) return fail("device memory");
        b.d_ks = p;
        /* transfers of one item's k-space and mask, and of its image back */
        mrb_cuda_timer *t;
        double up, down, host;
        if (mrb_cuda_timer_create(&t) != MRB_OK || mrb_cuda_timer_start(t) != MRB_OK ||
            mrb_cuda_upload_async(b.d_ks, ks, 2 * total * sizeof(float)) != MRB_OK ||
            mrb_cuda_upload_async(b.d_mask, mask, total * sizeof(float)) != MRB_OK ||
            mrb_cuda_timer_stop(t) != MRB_OK || mrb_cuda_timer_elapsed(t, &up, &host) != MRB_OK)
            return fail("upload");
        b.d_x = device_random(2 * total, 3);
        b.d_target = device_random(2 * total, 4);
        if (!b.d_x || !b.d_target || mrb_cuda_alloc(2 * total * sizeof(float), &p) != MRB_OK)
            return fail("device memory");
        b.d_dout = p;
        if (mrb_cuda_timer_start(t) != MRB_OK ||
            mrb_cuda_download_async(ks, b.d_x, 2 * total * sizeof(float)) != MRB_OK ||
            mrb_cuda_timer_stop(t) != MRB_OK || mrb_cuda_timer_elapsed(t, &down, &host) != MRB_OK)
            return fail("download");
        mrb_cuda_timer_free(t);
        double med, best;
        if (time_it(&b, reps, &med, &best) != MRB_OK) return fail(b.train ? "training step" : "inference");
        if (!b.train) printf("upload %.6f\ndownload %.6f\n", up, down);
        printf("%s %.6f %.6f\n", b.train ? "train" : "inference", med, best);
        fflush(stdout);
        free(mask);
        free(ks);
        mrb_cuda_free(b.d_mask);
        mrb_cuda_free(b.d_ks);
        mrb_cuda_free(b.d_x);
        mrb_cuda_free(b.d_target);
        mrb_cuda_free(b.d_dout);
    }
    mrb_cuda_cascade_free(b.g);
    mrb_cascade_free(net);
    return 0;
}
