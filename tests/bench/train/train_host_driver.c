/* Host time per step of `mrbench train --device gpu`, measured without a GPU:
 * mrb_cascade_train drives a device whose step does no network work, so the
 * time per step is what the CPU loop spends (sample order, masks, copies).
 * Two devices: "inputs on the device" is today's split (the device gets the
 * minibatch's images and masks and derives k-space, zero-filled input and
 * target itself, as gpu/recon/cascade_train_cuda.c does with cuFFT); "inputs
 * on the host" also runs mrb_cascade_train_inputs on the CPU in its step, the
 * work the host did for the GPU before the device derived the inputs.
 *   train_host_driver SIZE BATCH ITEMS EPOCHS THREADS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mrbench/array.h"
#include "mrbench/nn.h"

typedef struct host_dev {
    size_t batch, nx, ny, snt;
    int derive; /* 1: derive the inputs on the host */
    float *ks, *zf;
    mrb_tensor *x0, *target;
} host_dev;

static int derive_inputs;

static mrb_status dev_open(mrb_cascade *net, mrb_optim *opt, const mrb_adam_cfg *adam, size_t batch, size_t nx,
                           size_t ny, size_t snt, void **state)
{
    (void)net, (void)opt, (void)adam;
    host_dev *d = calloc(1, sizeof *d);
    if (!d) return MRB_ERR_NOMEM;
    *d = (host_dev){batch, nx, ny, snt, derive_inputs, NULL, NULL, NULL, NULL};
    size_t values = batch * nx * ny * snt;
    d->ks = malloc(2 * values * sizeof(float));
    d->zf = malloc(2 * values * sizeof(float));
    d->x0 = mrb_tensor_create4(batch, 2, ny, nx, 0);
    d->target = mrb_tensor_create4(batch, 2, ny, nx, 0);
    *state = d;
    return d->ks && d->zf && d->x0 && d->target ? MRB_OK : MRB_ERR_NOMEM;
}

static mrb_status dev_step(void *state, const float *images, const float *mask, uint64_t t, double *mse,
                           double *weight_norm2)
{
    (void)t;
    host_dev *d = state;
    *mse = 1.0;
    *weight_norm2 = 0.0;
    if (!d->derive) return MRB_OK;
    return mrb_cascade_train_inputs(images, mask, d->nx, d->ny, d->snt, d->batch, d->ks, d->zf, d->x0, d->target);
}

static mrb_status dev_sync(void *state, mrb_cascade *net, mrb_optim *opt)
{
    (void)state, (void)net, (void)opt;
    return MRB_OK;
}

static void dev_close(void *state)
{
    host_dev *d = state;
    if (!d) return;
    free(d->ks);
    free(d->zf);
    mrb_tensor_free(d->x0);
    mrb_tensor_free(d->target);
    free(d);
}

static const mrb_cascade_train_device host_device = {
    .name = "host-only", .open = dev_open, .step = dev_step, .sync = dev_sync, .close = dev_close};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s SIZE BATCH ITEMS EPOCHS THREADS\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)atol(argv[1]), batch = (size_t)atol(argv[2]), items = (size_t)atol(argv[3]);
    int epochs = atoi(argv[4]), threads = atoi(argv[5]);
    mrb_array **tr = calloc(items, sizeof *tr);
    for (size_t i = 0; i < items; i++) {
        tr[i] = mrb_array_create3(MRB_C64, n, n, 1);
        float *v = tr[i]->data;
        for (size_t j = 0; j < 2 * n * n; j++) v[j] = (float)((j * 7 + i) % 13) / 13.0f;
    }
    mrb_cascade_train_opts o = mrb_cascade_train_defaults(0);
    o.arch.n_c = 1; /* the network is never run; it only has to exist */
    o.arch.n_d = 2;
    o.arch.n_f = 2;
    o.train = (const mrb_array *const *)tr;
    o.ntrain = items;
    o.batch = (int)batch;
    o.epochs = epochs;
    o.seed = 1;
    o.nthreads = threads;
    o.device = &host_device;
    size_t steps = (size_t)epochs * (items / batch);
    for (derive_inputs = 1; derive_inputs >= 0; derive_inputs--) {
        double t0 = now();
        mrb_status st = mrb_cascade_train(&o, NULL);
        double ms = 1e3 * (now() - t0) / (double)steps;
        if (st != MRB_OK) {
            fprintf(stderr, "train_host_driver: %s\n", mrb_error_message());
            return 1;
        }
        printf("%-22s %8.2f ms per step (batch %zu of %zux%zu, %zu steps, %d threads)\n",
               derive_inputs ? "inputs on the host" : "inputs on the device", ms, batch, n, n, steps, threads);
    }
    for (size_t i = 0; i < items; i++) mrb_array_free(tr[i]);
    free(tr);
    return 0;
}
