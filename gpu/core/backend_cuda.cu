/* CUDA backend: device detection, provenance, memory and the work stream.
 *
 * mrbench uses the first visible device (select another one with
 * CUDA_VISIBLE_DEVICES) and queues all its work on one non-blocking stream
 * created on first use. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"

#ifndef MRB_CUDA_ARCHS
#define MRB_CUDA_ARCHS "unknown"
#endif

static const int mrb_cuda_device_ordinal = 0;

static pthread_mutex_t stream_lock = PTHREAD_MUTEX_INITIALIZER;
static cudaStream_t work_stream;
static int work_stream_ready;

const char *mrb_cufft_result_name(cufftResult r)
{
    switch (r) {
    case CUFFT_SUCCESS: return "CUFFT_SUCCESS";
    case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
    case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
    case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
    case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
    case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
    case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
    case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
    case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
    case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
    case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
    case CUFFT_MISSING_DEPENDENCY: return "CUFFT_MISSING_DEPENDENCY";
    case CUFFT_NVRTC_FAILURE: return "CUFFT_NVRTC_FAILURE";
    case CUFFT_NVJITLINK_FAILURE: return "CUFFT_NVJITLINK_FAILURE";
    case CUFFT_NVSHMEM_FAILURE: return "CUFFT_NVSHMEM_FAILURE";
    default: return "unknown cufftResult";
    }
}

/* Never launched: its attributes tell whether this build carries code the
 * device can run (CMAKE_CUDA_ARCHITECTURES against the device's). */
__global__ void mrb_cuda_probe_kernel(int *flag)
{
    if (flag) *flag = 1;
}

static mrb_status unavailable(char *why, size_t len, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (why && len) snprintf(why, len, "%s", reason);
    return mrb_error(MRB_ERR_DEVICE, "%s", reason);
}

mrb_status mrb_cuda_available(char *why, size_t len)
{
    int runtime = 0, driver = 0, count = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorInsufficientDriver || (e != cudaSuccess && driver == 0)) {
        cudaGetLastError(); /* so that later calls do not report this error again */
        if (driver == 0)
            return unavailable(why, len,
                               "no NVIDIA driver (libcuda.so not found or not loadable); the CUDA "
                               "%d.%d runtime needs one (%s)",
                               runtime / 1000, runtime % 1000 / 10, cudaGetErrorName(e));
        return unavailable(why, len,
                           "NVIDIA driver too old: it supports CUDA %d.%d, mrbench was built "
                           "with the CUDA %d.%d runtime",
                           driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
    }
    if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0)) {
        cudaGetLastError();
        return unavailable(why, len,
                           "no CUDA device found (driver CUDA %d.%d; check "
                           "CUDA_VISIBLE_DEVICES and /dev/nvidia*)",
                           driver / 1000, driver % 1000 / 10);
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        return unavailable(why, len, "cudaGetDeviceCount failed: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
    }
    cudaDeviceProp prop;
    e = cudaGetDeviceProperties(&prop, mrb_cuda_device_ordinal);
    if (e != cudaSuccess)
        return unavailable(why, len, "cudaGetDeviceProperties(%d) failed: %s (%s)", mrb_cuda_device_ordinal,
                           cudaGetErrorName(e), cudaGetErrorString(e));
    int mode = cudaComputeModeDefault;
    cudaDeviceGetAttribute(&mode, cudaDevAttrComputeMode, mrb_cuda_device_ordinal);
    if (mode == cudaComputeModeProhibited)
        return unavailable(why, len, "device %d (%s) is in compute-prohibited mode", mrb_cuda_device_ordinal,
                           prop.name);
    cudaFuncAttributes attr;
    e = cudaFuncGetAttributes(&attr, mrb_cuda_probe_kernel);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return unavailable(why, len,
                           "device %d (%s, compute capability %d.%d) cannot run this build's "
                           "kernels (CMAKE_CUDA_ARCHITECTURES=%s): %s",
                           mrb_cuda_device_ordinal, prop.name, prop.major, prop.minor, MRB_CUDA_ARCHS,
                           cudaGetErrorName(e));
    }
    if (why && len) why[0] = '\0';
    return MRB_OK;
}

static void format_uuid(const cudaUUID_t *u, char *out, size_t len)
{
    const unsigned char *b = (const unsigned char *)u->bytes;
    snprintf(out, len, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

mrb_status mrb_cuda_info(mrb_gpu_info_t *out)
{
    memset(out, 0, sizeof *out);
    char why[512];
    MRB_TRY(mrb_cuda_available(why, sizeof why));
    const int dev = mrb_cuda_device_ordinal;
    out->device = dev;
    cudaDeviceProp prop;
    MRB_TRY(MRB_CUDA_CALL(cudaGetDeviceProperties(&prop, dev)));
    snprintf(out->name, sizeof out->name, "%s", prop.name);
    format_uuid(&prop.uuid, out->uuid, sizeof out->uuid);
    MRB_TRY(MRB_CUDA_CALL(cudaDeviceGetPCIBusId(out->pci_bus_id, (int)sizeof out->pci_bus_id, dev)));
    out->memory_total = prop.totalGlobalMem;
    out->cc_major = prop.major;
    out->cc_minor = prop.minor;
    out->multiprocessors = prop.multiProcessorCount;
    out->ecc_enabled = prop.ECCEnabled;
    MRB_TRY(MRB_CUDA_CALL(cudaDeviceGetAttribute(&out->clock_khz, cudaDevAttrClockRate, dev)));
    MRB_TRY(MRB_CUDA_CALL(cudaDeviceGetAttribute(&out->memory_clock_khz, cudaDevAttrMemoryClockRate, dev)));
    MRB_TRY(MRB_CUDA_CALL(cudaDeviceGetAttribute(&out->memory_bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev)));
    MRB_TRY(MRB_CUDA_CALL(cudaDriverGetVersion(&out->driver_version)));
    MRB_TRY(MRB_CUDA_CALL(cudaRuntimeGetVersion(&out->runtime_version)));
    MRB_TRY(MRB_CUFFT_CALL(cufftGetVersion(&out->cufft_version)));
    out->cudnn_version = (long)cudnnGetVersion();
    MRB_TRY(MRB_CUDA_CALL(cudaSetDevice(dev)));
    size_t free_bytes = 0, total_bytes = 0;
    MRB_TRY(MRB_CUDA_CALL(cudaMemGetInfo(&free_bytes, &total_bytes)));
    out->memory_free = free_bytes;
    return MRB_OK;
}

mrb_status mrb_cuda_work_stream(cudaStream_t *stream)
{
    pthread_mutex_lock(&stream_lock);
    mrb_status st = MRB_OK;
    if (!work_stream_ready) {
        char why[512];
        st = mrb_cuda_available(why, sizeof why);
        if (st == MRB_OK) st = MRB_CUDA_CALL(cudaSetDevice(mrb_cuda_device_ordinal));
        if (st == MRB_OK) st = MRB_CUDA_CALL(cudaStreamCreateWithFlags(&work_stream, cudaStreamNonBlocking));
        if (st == MRB_OK) work_stream_ready = 1;
    }
    pthread_mutex_unlock(&stream_lock);
    if (st == MRB_OK) {
        /* each host thread starts on device 0; make it ours */
        st = MRB_CUDA_CALL(cudaSetDevice(mrb_cuda_device_ordinal));
        *stream = work_stream;
    }
    return st;
}

mrb_status mrb_cuda_stream(void **stream)
{
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    *stream = (void *)s;
    return MRB_OK;
}

mrb_status mrb_cuda_alloc(size_t bytes, void **d_ptr)
{
    *d_ptr = NULL;
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    void *p = NULL;
    mrb_status st = MRB_CUDA_CALL(cudaMalloc(&p, bytes ? bytes : 1));
    if (st != MRB_OK) {
        /* The status carries the failure; CUDA's own last error would
         * otherwise surface at the next launch check as that kernel's. */
        (void)cudaGetLastError();
        return mrb_error_context(st, "allocating %zu bytes on the GPU", bytes);
    }
    st = MRB_CUDA_CALL(cudaMemsetAsync(p, 0, bytes, s));
    if (st != MRB_OK) {
        cudaFree(p);
        return st;
    }
    *d_ptr = p;
    return MRB_OK;
}

void mrb_cuda_free(void *d_ptr)
{
    if (!d_ptr) return;
    cudaStream_t s;
    if (mrb_cuda_work_stream(&s) == MRB_OK) cudaStreamSynchronize(s);
    cudaFree(d_ptr);
}

mrb_status mrb_cuda_upload(void *d_dst, const void *h_src, size_t bytes)
{
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    MRB_TRY(MRB_CUDA_CALL(cudaMemcpyAsync(d_dst, h_src, bytes, cudaMemcpyHostToDevice, s)));
    return MRB_CUDA_CALL(cudaStreamSynchronize(s));
}

mrb_status mrb_cuda_download(void *h_dst, const void *d_src, size_t bytes)
{
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    MRB_TRY(MRB_CUDA_CALL(cudaMemcpyAsync(h_dst, d_src, bytes, cudaMemcpyDeviceToHost, s)));
    return MRB_CUDA_CALL(cudaStreamSynchronize(s));
}

mrb_status mrb_cuda_upload_async(void *d_dst, const void *h_src, size_t bytes)
{
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    return MRB_CUDA_CALL(cudaMemcpyAsync(d_dst, h_src, bytes, cudaMemcpyHostToDevice, s));
}

mrb_status mrb_cuda_download_async(void *h_dst, const void *d_src, size_t bytes)
{
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    return MRB_CUDA_CALL(cudaMemcpyAsync(h_dst, d_src, bytes, cudaMemcpyDeviceToHost, s));
}

mrb_status mrb_cuda_host_alloc(size_t bytes, void **h_ptr)
{
    *h_ptr = NULL;
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    MRB_TRY(MRB_CUDA_CALL(cudaMallocHost(h_ptr, bytes ? bytes : 1)));
    memset(*h_ptr, 0, bytes);
    return MRB_OK;
}

void mrb_cuda_host_free(void *h_ptr)
{
    if (h_ptr) cudaFreeHost(h_ptr);
}

mrb_status mrb_cuda_copy(void *d_dst, const void *d_src, size_t bytes)
{
    if (d_dst == d_src || bytes == 0) return MRB_OK;
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    return MRB_CUDA_CALL(cudaMemcpyAsync(d_dst, d_src, bytes, cudaMemcpyDeviceToDevice, s));
}

mrb_status mrb_cuda_synchronize(void)
{
    cudaStream_t s;
    MRB_TRY(mrb_cuda_work_stream(&s));
    return MRB_CUDA_CALL(cudaStreamSynchronize(s));
}
