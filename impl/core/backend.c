/* The backend registry: the CPU backend, and the CUDA backend in builds that
 * link gpu/. This is the one place that knows whether CUDA was compiled in.
 *
 * MRB_HAVE_CUDA: the top-level build found nvcc. MRB_CUDA_LINKED: gpu/ was
 * added to the build and its objects are part of this library (set by
 * gpu/CMakeLists.txt), so the CUDA entry points below exist. */
#include <stdio.h>
#include <string.h>

#include "mrbench/array.h"
#include "mrbench/backend.h"
#include "mrbench/fft.h"
#include "mrbench/nn.h"
#include "mrbench/registry.h"

#if defined(MRB_HAVE_CUDA) && defined(MRB_CUDA_LINKED)
#include "mrb_cuda.h"
#define MRB_BACKEND_CUDA 1
#endif

static mrb_status cpu_available(char *why, size_t len)
{
    if (why && len) why[0] = '\0';
    return MRB_OK;
}

static mrb_status cpu_alloc(size_t bytes, void **ptr)
{
    *ptr = mrb_malloc(bytes ? bytes : 1);
    if (!*ptr) return mrb_error(MRB_ERR_NOMEM, "cpu backend: out of memory for %zu bytes", bytes);
    return MRB_OK;
}

static mrb_status cpu_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes) memmove(dst, src, bytes);
    return MRB_OK;
}

static mrb_status cpu_synchronize(void)
{
    return MRB_OK;
}

static mrb_status cpu_fft_centered(mrb_fft_dir dir, int rank, int ndim, const size_t *dims, float *data)
{
    return mrb_fft_centered(dir, rank, ndim, dims, data, 1);
}

static const mrb_backend_desc backends[] = {
    {"cpu", "host memory; FFTW for transforms", cpu_available, cpu_alloc, mrb_free, cpu_copy, cpu_copy, cpu_synchronize,
     cpu_fft_centered},
#ifdef MRB_BACKEND_CUDA
    {"cuda", "first visible NVIDIA GPU; cuFFT for transforms, one work stream", mrb_cuda_available, mrb_cuda_alloc,
     mrb_cuda_free, mrb_cuda_upload, mrb_cuda_download, mrb_cuda_synchronize, mrb_cuda_fft_centered},
#endif
};

size_t mrb_backend_count(void)
{
    return sizeof backends / sizeof backends[0];
}

const mrb_backend_desc *mrb_backend_at(size_t index)
{
    return index < mrb_backend_count() ? &backends[index] : NULL;
}

const mrb_backend_desc *mrb_backend_find(const char *name)
{
    for (size_t i = 0; i < mrb_backend_count(); i++)
        if (name && strcmp(backends[i].name, name) == 0) return &backends[i];
    return NULL;
}

#ifndef MRB_BACKEND_CUDA
static mrb_status gpu_not_built(char *why, size_t len)
{
#ifdef MRB_HAVE_CUDA
    const char *reason = "built without the CUDA library: nvcc was found but gpu/ is not part of "
                         "this build (add_subdirectory(gpu) missing)";
#else
    const char *reason = MRB_GPU_NOT_BUILT;
#endif
    if (why && len) snprintf(why, len, "%s", reason);
    return mrb_error(MRB_ERR_DEVICE, "%s", reason);
}
#endif

mrb_status mrb_gpu_available(char *why, size_t len)
{
#ifdef MRB_BACKEND_CUDA
    return mrb_cuda_available(why, len);
#else
    return gpu_not_built(why, len);
#endif
}

mrb_status mrb_gpu_require(const char *what)
{
    char why[512];
    if (mrb_gpu_available(why, sizeof why) == MRB_OK) return MRB_OK;
    return mrb_error(MRB_ERR_DEVICE, "%s: %s; use --device cpu", what, why);
}

mrb_status mrb_gpu_info(mrb_gpu_info_t *out)
{
    memset(out, 0, sizeof *out);
#ifdef MRB_BACKEND_CUDA
    return mrb_cuda_info(out);
#else
    return gpu_not_built(NULL, 0);
#endif
}

const mrb_cascade_train_device *mrb_cascade_train_device_gpu(void)
{
#ifdef MRB_BACKEND_CUDA
    return &mrb_cuda_cascade_train_device;
#else
    return NULL;
#endif
}

const mrb_method_desc *mrb_method_find_gpu(const char *name)
{
#ifdef MRB_BACKEND_CUDA
    for (size_t i = 0; name && mrb_cuda_method_table[i]; i++)
        if (strcmp(mrb_cuda_method_table[i]->name, name) == 0) return mrb_cuda_method_table[i];
#else
    (void)name;
#endif
    return NULL;
}
