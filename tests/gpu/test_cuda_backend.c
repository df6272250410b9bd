/* Backend registry, GPU detection and provenance, and the CUDA timers.
 *
 * Detection runs everywhere: without a usable device it must say why (and
 * return MRB_ERR_DEVICE); with one, mrb_gpu_info must describe it. Set
 * MRB_EXPECT_GPU=1 on a GPU runner so that a missing device fails the suite
 * instead of skipping every GPU test. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_test_util.h"
#include "mrb_cuda.h"
#include "mrbench/backend.h"
#include "mrbench/fft.h"

/* Same bound as the FFT test: both sides are single-precision FFTs. */
#define BACKEND_FFT_REL_TOL 1e-4
/* Events bracket the phases back to back, so the phases add up to the total
 * within the event resolution (about 0.5 us per event, CUDA docs). */
#define PHASE_SUM_ABS_TOL 1e-5

static int gpu_expected(void)
{
    const char *e = getenv("MRB_EXPECT_GPU");
    return e && strcmp(e, "1") == 0;
}

Test(cuda_backend, availability_gives_reason_or_device)
{
    char why[512] = "unchanged";
    mrb_status st = mrb_gpu_available(why, sizeof why);
    if (gpu_expected()) cr_assert_eq(st, MRB_OK, "MRB_EXPECT_GPU=1 but no usable GPU: %s", why);
    if (st == MRB_OK) {
        cr_expect_str_empty(why, "no reason when the device is usable");
    } else {
        cr_expect_eq(st, MRB_ERR_DEVICE, "unavailability is a device error, got %s", mrb_status_name(st));
        cr_expect_str_not_empty(why, "the reason is reported");
        cr_expect_str_neq(why, "unchanged", "the reason is written");
        cr_expect(strstr(mrb_error_message(), why) != NULL, "the error message carries the reason: '%s' vs '%s'",
                  mrb_error_message(), why);
        cr_log_info("GPU unavailable here (expected on machines without one): %s", why);
    }
    /* why may be NULL */
    cr_expect_eq(mrb_gpu_available(NULL, 0), st);
}

Test(cuda_backend, info_describes_device_or_fails_cleanly)
{
    mrb_gpu_info_t info;
    memset(&info, 0x5a, sizeof info);
    char why[512];
    mrb_status avail = mrb_gpu_available(why, sizeof why);
    mrb_status st = mrb_gpu_info(&info);
    cr_assert_eq(st, avail, "info and availability agree (%s)", mrb_error_message());
    if (st != MRB_OK) {
        cr_expect_eq(st, MRB_ERR_DEVICE);
        cr_expect_eq(info.name[0], '\0', "info is zeroed on failure");
        return;
    }
    cr_expect_str_not_empty(info.name);
    cr_expect_eq(strncmp(info.uuid, "GPU-", 4), 0, "uuid '%s' in nvidia-smi form", info.uuid);
    cr_expect_eq(strlen(info.uuid), 40u, "uuid '%s' has 36 hex-and-dash characters", info.uuid);
    cr_expect_gt(info.memory_total, (size_t)1 << 30, "more than 1 GiB of memory");
    cr_expect_leq(info.memory_free, info.memory_total);
    cr_expect_geq(info.cc_major, 7, "a device that CUDA 13 supports");
    cr_expect_gt(info.multiprocessors, 0);
    cr_expect_gt(info.clock_khz, 0);
    cr_expect_geq(info.driver_version, info.runtime_version, "driver not older than the runtime");
    cr_expect_gt(info.cufft_version, 0);
    cr_expect_geq(info.cudnn_version, 9000L, "cuDNN 9");
    cr_log_info("GPU: %s (%s), cc %d.%d, %zu MiB, driver %d, runtime %d, cuFFT %d, cuDNN %ld", info.name, info.uuid,
                info.cc_major, info.cc_minor, info.memory_total >> 20, info.driver_version, info.runtime_version,
                info.cufft_version, info.cudnn_version);
}

Test(cuda_backend, registry_lists_cpu_and_cuda)
{
    cr_assert_geq(mrb_backend_count(), 2u, "cpu and cuda in a CUDA build");
    const mrb_backend_desc *cpu = mrb_backend_find("cpu"), *cuda = mrb_backend_find("cuda");
    cr_assert_not_null(cpu);
    cr_assert_not_null(cuda, "this test is built only with CUDA, so the cuda backend is listed");
    cr_expect_eq(mrb_backend_at(0), cpu);
    cr_expect_null(mrb_backend_at(mrb_backend_count()));
    cr_expect_null(mrb_backend_find("opencl"));
    cr_expect_eq(cpu->available(NULL, 0), MRB_OK);
    char why[512];
    cr_expect_eq(cuda->available(why, sizeof why), mrb_gpu_available(NULL, 0));
}

Test(cuda_backend, device_memory_refused_without_device)
{
    char why[512];
    if (mrb_gpu_available(why, sizeof why) == MRB_OK) cr_skip_test("a device is present");
    void *p = (void *)why;
    cr_expect_eq(mrb_cuda_alloc(64, &p), MRB_ERR_DEVICE);
    cr_expect_null(p, "no pointer on failure");
    cr_expect_str_not_empty(mrb_error_message());
    mrb_cuda_free(NULL);
}

/* ggml-style: every available backend runs the same op; each must match the
 * CPU backend. */
Test(cuda_backend, every_backend_fft_matches_cpu_backend)
{
    const size_t dims[3] = {24, 18, 2};
    const size_t n = 2 * 24 * 18 * 2, bytes = n * sizeof(float);
    float *input = alloc_floats(n), *ref = alloc_floats(n), *got = alloc_floats(n);
    fill_uniform(input, n, 5);
    const mrb_backend_desc *cpu = mrb_backend_find("cpu");
    memcpy(ref, input, bytes);
    cr_assert_eq(cpu->fft_centered(MRB_FFT_FORWARD, 2, 3, dims, ref), MRB_OK, "%s", mrb_error_message());
    size_t tested = 0;
    for (size_t b = 0; b < mrb_backend_count(); b++) {
        const mrb_backend_desc *be = mrb_backend_at(b);
        char why[512];
        if (be->available(why, sizeof why) != MRB_OK) {
            cr_log_info("backend %s skipped: %s", be->name, why);
            continue;
        }
        void *buf = NULL;
        cr_assert_eq(be->alloc(bytes, &buf), MRB_OK, "%s: %s", be->name, mrb_error_message());
        cr_assert_eq(be->upload(buf, input, bytes), MRB_OK, "%s: %s", be->name, mrb_error_message());
        cr_assert_eq(be->fft_centered(MRB_FFT_FORWARD, 2, 3, dims, buf), MRB_OK, "%s: %s", be->name,
                     mrb_error_message());
        cr_assert_eq(be->synchronize(), MRB_OK, "%s: %s", be->name, mrb_error_message());
        cr_assert_eq(be->download(got, buf, bytes), MRB_OK, "%s: %s", be->name, mrb_error_message());
        be->free(buf);
        double err = rel_l2_error(got, ref, n);
        cr_expect_leq(err, BACKEND_FFT_REL_TOL, "backend %s: relative error %.3g", be->name, err);
        tested++;
    }
    cr_expect_geq(tested, 1u, "at least the CPU backend ran");
    free(input);
    free(ref);
    free(got);
}

typedef struct fft_work {
    float *host;
    void *dev;
    size_t bytes;
    size_t dims[3];
} fft_work;

static mrb_status upload_phase(void *ctx, void *stream)
{
    fft_work *w = ctx;
    (void)stream;
    return mrb_cuda_upload_async(w->dev, w->host, w->bytes);
}

static mrb_status compute_phase(void *ctx, void *stream)
{
    fft_work *w = ctx;
    (void)stream;
    return mrb_cuda_fft_centered(MRB_FFT_FORWARD, 2, 3, w->dims, w->dev);
}

static mrb_status download_phase(void *ctx, void *stream)
{
    fft_work *w = ctx;
    (void)stream;
    return mrb_cuda_download_async(w->host, w->dev, w->bytes);
}

Test(cuda_backend, measure_splits_phases_and_excludes_warmup)
{
    MRB_SKIP_WITHOUT_GPU();
    fft_work w = {NULL, NULL, 0, {256, 256, 4}};
    size_t n = 2 * 256 * 256 * 4;
    w.bytes = n * sizeof(float);
    cr_assert_eq(mrb_cuda_host_alloc(w.bytes, (void **)&w.host), MRB_OK, "%s", mrb_error_message());
    fill_uniform(w.host, n, 9);
    cr_assert_eq(mrb_cuda_alloc(w.bytes, &w.dev), MRB_OK, "%s", mrb_error_message());
    mrb_cuda_work work = {upload_phase, compute_phase, download_phase, &w};
    enum { REPS = 9 };
    mrb_cuda_sample s[REPS];
    memset(s, 0, sizeof s);
    cr_assert_eq(mrb_cuda_measure(&work, 2, REPS, s), MRB_OK, "%s", mrb_error_message());
    for (int r = 0; r < REPS; r++) {
        cr_expect_gt(s[r].upload_s, 0.0, "rep %d upload", r);
        cr_expect_gt(s[r].compute_s, 0.0, "rep %d compute", r);
        cr_expect_gt(s[r].download_s, 0.0, "rep %d download", r);
        double sum = s[r].upload_s + s[r].compute_s + s[r].download_s;
        cr_expect_leq(fabs(sum - s[r].total_s), PHASE_SUM_ABS_TOL, "rep %d: phases %.3g total %.3g", r, sum,
                      s[r].total_s);
        cr_expect_geq(s[r].host_total_s, s[r].total_s * 0.9, "rep %d: host time covers the device", r);
    }
    cr_expect_eq(mrb_cuda_measure(&work, -1, 1, s), MRB_ERR_INVALID);
    mrb_cuda_free(w.dev);
    mrb_cuda_host_free(w.host);
}

Test(cuda_backend, timer_measures_queued_work)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t dims[3] = {512, 512, 8};
    const size_t n = 2 * 512 * 512 * 8;
    void *d = NULL;
    cr_assert_eq(mrb_cuda_alloc(n * sizeof(float), &d), MRB_OK, "%s", mrb_error_message());
    mrb_cuda_timer *t = NULL;
    cr_assert_eq(mrb_cuda_timer_create(&t), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(mrb_cuda_timer_elapsed(t, NULL, NULL), MRB_ERR_INVALID, "elapsed before stop");
    cr_assert_eq(mrb_cuda_timer_start(t), MRB_OK, "%s", mrb_error_message());
    for (int i = 0; i < 10; i++)
        cr_assert_eq(mrb_cuda_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, d), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_timer_stop(t), MRB_OK, "%s", mrb_error_message());
    double dev_s = -1.0, host_s = -1.0;
    cr_assert_eq(mrb_cuda_timer_elapsed(t, &dev_s, &host_s), MRB_OK, "%s", mrb_error_message());
    cr_expect_gt(dev_s, 0.0);
    cr_expect_geq(host_s, dev_s * 0.9, "host %.3g s, device %.3g s", host_s, dev_s);
    mrb_cuda_timer_free(t);
    mrb_cuda_timer_free(NULL);
    mrb_cuda_free(d);
}
