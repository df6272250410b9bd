/* GPU timing: CUDA events on the work stream around the measured region,
 * read after one synchronise outside it, with host wall time alongside
 * (specs/harness.md, "Timing rules"). */
#include <stdlib.h>
#include <time.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"

struct mrb_cuda_timer {
    cudaEvent_t start, stop;
    struct timespec host_start;
    int started, stopped;
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

mrb_status mrb_cuda_timer_create(mrb_cuda_timer **out)
{
    *out = NULL;
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    mrb_cuda_timer *t = (mrb_cuda_timer *)calloc(1, sizeof *t);
    if (!t) return mrb_error(MRB_ERR_NOMEM, "cuda timer: out of memory");
    mrb_status st = MRB_CUDA_CALL(cudaEventCreate(&t->start));
    if (st == MRB_OK) {
        st = MRB_CUDA_CALL(cudaEventCreate(&t->stop));
        if (st != MRB_OK) cudaEventDestroy(t->start);
    }
    if (st != MRB_OK) {
        free(t);
        return st;
    }
    *out = t;
    return MRB_OK;
}

void mrb_cuda_timer_free(mrb_cuda_timer *t)
{
    if (!t) return;
    cudaEventDestroy(t->start);
    cudaEventDestroy(t->stop);
    free(t);
}

mrb_status mrb_cuda_timer_start(mrb_cuda_timer *t)
{
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    clock_gettime(CLOCK_MONOTONIC, &t->host_start);
    MRB_TRY(MRB_CUDA_CALL(cudaEventRecord(t->start, s)));
    t->started = 1;
    t->stopped = 0;
    return MRB_OK;
}

mrb_status mrb_cuda_timer_stop(mrb_cuda_timer *t)
{
    if (!t->started) return mrb_error(MRB_ERR_INVALID, "cuda timer: stop before start");
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    MRB_TRY(MRB_CUDA_CALL(cudaEventRecord(t->stop, s)));
    t->stopped = 1;
    return MRB_OK;
}

mrb_status mrb_cuda_timer_elapsed(mrb_cuda_timer *t, double *device_s, double *host_s)
{
    if (!t->stopped) return mrb_error(MRB_ERR_INVALID, "cuda timer: elapsed before stop");
    MRB_TRY(MRB_CUDA_CALL(cudaEventSynchronize(t->stop)));
    double host = seconds_since(&t->host_start);
    float ms = 0.0f;
    MRB_TRY(MRB_CUDA_CALL(cudaEventElapsedTime(&ms, t->start, t->stop)));
    if (device_s) *device_s = 1e-3 * (double)ms;
    if (host_s) *host_s = host;
    return MRB_OK;
}

enum { PHASE_EVENTS = 4 }; /* before upload, compute, download, after */

static mrb_status run_phases(const mrb_cuda_work *w, cudaStream_t s, cudaEvent_t *ev)
{
    mrb_cuda_phase_fn phases[3] = {w->upload, w->compute, w->download};
    if (ev) MRB_TRY(MRB_CUDA_CALL(cudaEventRecord(ev[0], s)));
    for (int p = 0; p < 3; p++) {
        if (phases[p]) MRB_TRY(phases[p](w->ctx, (void *)s));
        if (ev) MRB_TRY(MRB_CUDA_CALL(cudaEventRecord(ev[p + 1], s)));
    }
    return MRB_OK;
}

static mrb_status elapsed_s(cudaEvent_t a, cudaEvent_t b, double *out)
{
    float ms = 0.0f;
    MRB_TRY(MRB_CUDA_CALL(cudaEventElapsedTime(&ms, a, b)));
    *out = 1e-3 * (double)ms;
    return MRB_OK;
}

mrb_status mrb_cuda_measure(const mrb_cuda_work *work, int warmup, int reps, mrb_cuda_sample *samples)
{
    if (warmup < 0 || reps < 0)
        return mrb_error(MRB_ERR_INVALID, "cuda measure: %d warm-up and %d timed repetitions", warmup, reps);
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    cudaEvent_t ev[PHASE_EVENTS];
    int created = 0;
    mrb_status st = MRB_OK;
    for (; created < PHASE_EVENTS && st == MRB_OK; created++) st = MRB_CUDA_CALL(cudaEventCreate(&ev[created]));
    if (st != MRB_OK) created--; /* the failed one was not created */
    for (int r = 0; r < warmup && st == MRB_OK; r++) {
        st = run_phases(work, s, NULL);
        if (st == MRB_OK) st = MRB_CUDA_CALL(cudaStreamSynchronize(s));
    }
    for (int r = 0; r < reps && st == MRB_OK; r++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        st = run_phases(work, s, ev);
        if (st == MRB_OK) st = MRB_CUDA_CALL(cudaStreamSynchronize(s));
        if (st != MRB_OK) break;
        mrb_cuda_sample *o = &samples[r];
        o->host_total_s = seconds_since(&t0);
        st = elapsed_s(ev[0], ev[1], &o->upload_s);
        if (st == MRB_OK) st = elapsed_s(ev[1], ev[2], &o->compute_s);
        if (st == MRB_OK) st = elapsed_s(ev[2], ev[3], &o->download_s);
        if (st == MRB_OK) st = elapsed_s(ev[0], ev[3], &o->total_s);
    }
    for (int i = 0; i < created; i++) cudaEventDestroy(ev[i]);
    return st;
}
