/* Checking macros for CUDA runtime, cuFFT and cuDNN calls (CUDA C++
 * only). Each wraps one call and evaluates to an mrb_status: MRB_OK, or
 * MRB_ERR_DEVICE with the message "<call text> failed: <error name> (<text>)
 * at <file>:<line>", so a failure names the call that failed.
 *
 *   MRB_TRY(MRB_CUDA_CALL(cudaMemsetAsync(p, 0, n, stream)));
 *   if (st == MRB_OK) st = MRB_CUFFT_CALL(cufftExecC2C(plan, x, x, CUFFT_FORWARD));
 *
 * Kernel launches are checked with MRB_CUDA_LAUNCH("kernel name"), which
 * reads the launch error without synchronising. */
#ifndef MRB_CUDA_CHECK_H
#define MRB_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <cudnn.h>
#include <cufft.h>

#include "mrbench/status.h"

const char *mrb_cufft_result_name(cufftResult r);

static inline mrb_status mrb_cuda_check_call(cudaError_t e, const char *call, const char *file, int line)
{
    if (e == cudaSuccess) return MRB_OK;
    return mrb_error(MRB_ERR_DEVICE, "%s failed: %s (%s) at %s:%d", call, cudaGetErrorName(e), cudaGetErrorString(e),
                     file, line);
}

static inline mrb_status mrb_cuda_check_call(cufftResult r, const char *call, const char *file, int line)
{
    if (r == CUFFT_SUCCESS) return MRB_OK;
    return mrb_error(MRB_ERR_DEVICE, "%s failed: %s (%d) at %s:%d", call, mrb_cufft_result_name(r), (int)r, file, line);
}

static inline mrb_status mrb_cuda_check_call(cudnnStatus_t s, const char *call, const char *file, int line)
{
    if (s == CUDNN_STATUS_SUCCESS) return MRB_OK;
    return mrb_error(MRB_ERR_DEVICE, "%s failed: %s at %s:%d", call, cudnnGetErrorString(s), file, line);
}

#define MRB_CUDA_CALL(call) mrb_cuda_check_call((call), #call, __FILE__, __LINE__)
#define MRB_CUFFT_CALL(call) mrb_cuda_check_call((call), #call, __FILE__, __LINE__)
#define MRB_CUDNN_CALL(call) mrb_cuda_check_call((call), #call, __FILE__, __LINE__)
#define MRB_CUDA_LAUNCH(kernel) mrb_cuda_check_call(cudaGetLastError(), "launch of " kernel, __FILE__, __LINE__)

/* Threads per block for the elementwise kernels, and a grid that covers n
 * with a grid-stride loop (capped so huge n never overflows gridDim.x). */
#define MRB_CUDA_BLOCK 256
static inline unsigned mrb_cuda_grid(size_t n)
{
    size_t blocks = (n + MRB_CUDA_BLOCK - 1) / MRB_CUDA_BLOCK;
    if (blocks < 1) blocks = 1;
    if (blocks > 65535u * 16u) blocks = 65535u * 16u;
    return (unsigned)blocks;
}

/* The work stream as its CUDA type (created on first use). */
mrb_status mrb_cuda_work_stream(cudaStream_t *stream);

#endif
