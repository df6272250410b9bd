/* Compute backends: the CPU and, in builds with CUDA, one NVIDIA GPU.
 *
 * A backend is a table of function pointers (ggml's backend interface):
 * memory on the backend, copies to and from the host, synchronisation and
 * the operations mrbench runs on either side. The registry lists the
 * backends compiled into this build; a listed backend may still be unusable
 * at run time (no device, driver too old), which `available` reports.
 *
 * Memory returned by a backend's `alloc` lives on that backend: device
 * memory for "cuda", which the host must not dereference. Nothing is copied
 * between host and device behind the caller's back.
 *
 * GPU provenance for results.json: mrb_gpu_available and mrb_gpu_info. In a
 * build without CUDA both return MRB_ERR_DEVICE with the reason
 * MRB_GPU_NOT_BUILT. */
#ifndef MRBENCH_BACKEND_H
#define MRBENCH_BACKEND_H

#include <stddef.h>
#include "fft.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRB_GPU_NOT_BUILT "built without CUDA (nvcc not found or MRBENCH_CUDA=OFF)"

typedef struct mrb_backend_desc {
    const char *name; /* "cpu", "cuda" */
    const char *description;
    /* MRB_OK when usable now; otherwise MRB_ERR_DEVICE and the reason in why. */
    mrb_status (*available)(char *why, size_t len);
    /* Zeroed buffer of `bytes` on the backend; free(NULL) is a no-op. */
    mrb_status (*alloc)(size_t bytes, void **ptr);
    void (*free)(void *ptr);
    /* Host -> backend and backend -> host copies; complete when they return. */
    mrb_status (*upload)(void *dst, const void *host_src, size_t bytes);
    mrb_status (*download)(void *host_dst, const void *src, size_t bytes);
    /* Waits until all work queued on the backend has finished. */
    mrb_status (*synchronize)(void);
    /* Centred orthonormal FFT (mrbench/fft.h conventions) in place on
     * backend memory, over the first `rank` (1..3) of `ndim` axes. */
    mrb_status (*fft_centered)(mrb_fft_dir dir, int rank, int ndim, const size_t *dims, float *data);
} mrb_backend_desc;

size_t mrb_backend_count(void);
const mrb_backend_desc *mrb_backend_at(size_t index);       /* NULL when out of range */
const mrb_backend_desc *mrb_backend_find(const char *name); /* NULL when not compiled in */

/* What results.json records about the GPU. Strings are NUL-terminated;
 * versions are the libraries' integer encodings (CUDA 13.0 = 13000, cuDNN
 * 9.x.y = 9xyyy as cudnnGetVersion returns it). */
typedef struct mrb_gpu_info_t {
    int device; /* ordinal within CUDA_VISIBLE_DEVICES */
    char name[256];
    char uuid[48]; /* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as nvidia-smi prints it */
    char pci_bus_id[32];
    size_t memory_total; /* bytes */
    size_t memory_free;  /* bytes, when queried */
    int cc_major, cc_minor;
    int multiprocessors;
    int clock_khz;        /* peak SM clock */
    int memory_clock_khz; /* peak memory clock */
    int memory_bus_bits;
    int ecc_enabled;
    int driver_version;  /* highest CUDA version the driver supports */
    int runtime_version; /* CUDA runtime linked into mrbench */
    int cufft_version;
    long cudnn_version;
} mrb_gpu_info_t;

/* MRB_OK when a usable CUDA device exists; otherwise MRB_ERR_DEVICE with the
 * reason (built without CUDA, no device, no driver or driver too old, no
 * kernel image for the device's architecture) in `why` and in the error
 * message. `why` may be NULL. */
mrb_status mrb_gpu_available(char *why, size_t len);
/* mrb_gpu_available for a request of the user's (`what`, e.g. "--device
 * gpu"): MRB_ERR_DEVICE "<what>: <reason>; use --device cpu" when none. */
mrb_status mrb_gpu_require(const char *what);
/* Fills `out` for the current device; MRB_ERR_DEVICE when unavailable. */
mrb_status mrb_gpu_info(mrb_gpu_info_t *out);

#ifdef __cplusplus
}
#endif
#endif
