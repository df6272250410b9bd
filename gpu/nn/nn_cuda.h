/* Shared pieces of the CUDA twins of the nn engine's layers in gpu/nn (CUDA
 * C++ only): argument checks that run on the host before the device is
 * touched, the grid-stride loop and the deterministic block reduction.
 *
 * Determinism: every reduction is a fixed decomposition of its index range
 * into blocks (a function of the shape only, never of the device) and a
 * fixed-order tree inside each block; partial sums are added in index order
 * by a second kernel. No floating-point atomics, so results repeat bit for
 * bit from run to run. */
#ifndef MRB_NN_CUDA_H
#define MRB_NN_CUDA_H

#include <stdint.h>
#include <string.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"

static_assert((MRB_CUDA_BLOCK & (MRB_CUDA_BLOCK - 1)) == 0, "the block reductions halve MRB_CUDA_BLOCK down to 1");

/* Grid-stride loop over [0, n) with 64-bit indices. */
#define MRB_NN_FOR_EACH(i, n)                                                                                          \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* Most blocks a reduction's first stage uses: enough to fill an H100 several
 * times over, few enough that the second stage is short. */
#define MRB_NN_REDUCE_MAX_BLOCKS 1024u
/* Values a thread adds before a reduction is split over another block. */
#define MRB_NN_REDUCE_PER_THREAD 16u

/* Sum of v over the block (blockDim.x == MRB_CUDA_BLOCK), in a fixed tree
 * order; every thread of the block must call it and gets the sum. sh holds
 * MRB_CUDA_BLOCK doubles and may be reused by the next call. */
static __device__ __forceinline__ double mrb_nn_block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned half = MRB_CUDA_BLOCK / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) sh[threadIdx.x] += sh[threadIdx.x + half];
        __syncthreads();
    }
    double sum = sh[0];
    __syncthreads(); /* everyone has read sh[0] before the next call writes it */
    return sum;
}

/* Blocks for a first-stage reduction over `count` values: a function of the
 * count alone (so the summation order is too). */
static inline unsigned mrb_nn_reduce_blocks(size_t count)
{
    size_t per_block = (size_t)MRB_CUDA_BLOCK * MRB_NN_REDUCE_PER_THREAD;
    size_t blocks = (count + per_block - 1) / per_block;
    if (blocks < 1) blocks = 1;
    if (blocks > MRB_NN_REDUCE_MAX_BLOCKS) blocks = MRB_NN_REDUCE_MAX_BLOCKS;
    return (unsigned)blocks;
}

/* Blocks for a kernel whose blocks loop over `tasks` independent tasks
 * (each task done by one whole block, so the split does not change any
 * result); capped as mrb_cuda_grid caps. */
static inline unsigned mrb_nn_task_grid(size_t tasks)
{
    size_t cap = 65535u * 16u;
    return (unsigned)(tasks < 1 ? 1 : tasks < cap ? tasks : cap);
}

/* Shape-only view of a device tensor, for the CPU engine's shape helpers. */
static inline mrb_tensor mrb_nn_cuda_shape_view(const mrb_cuda_tensor *t)
{
    mrb_tensor v;
    memset(&v, 0, sizeof v);
    v.ndim = t->ndim;
    memcpy(v.shape, t->shape, sizeof v.shape);
    return v;
}

/* "2x3x8x8" for messages (buf of >= 64 chars). */
static inline const char *mrb_nn_cuda_shape_str(const mrb_cuda_tensor *t, char *buf, size_t len)
{
    mrb_tensor v = mrb_nn_cuda_shape_view(t);
    return mrb_tensor_shape_str(&v, buf, len);
}

static inline int mrb_nn_cuda_same_shape(const mrb_cuda_tensor *a, const mrb_cuda_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* A usable tensor description: present, 1..MRB_NN_MAX_DIMS axes, no zero
 * axis, a float count that fits size_t. `layer` and `name` go in the
 * message ("cuda pool: input x ..."). Device pointers are checked apart
 * (mrb_nn_cuda_check_data), after the shapes, so a shape error is reported
 * first. */
static inline mrb_status mrb_nn_cuda_check_desc(const mrb_cuda_tensor *t, const char *layer, const char *name)
{
    if (!t) return mrb_error(MRB_ERR_INVALID, "%s: tensor %s is missing (NULL)", layer, name);
    if (t->ndim < 1 || t->ndim > MRB_NN_MAX_DIMS)
        return mrb_error(MRB_ERR_INVALID, "%s: tensor %s has %d axes (expected 1..%d)", layer, name, t->ndim,
                         MRB_NN_MAX_DIMS);
    size_t count = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] == 0 || count > SIZE_MAX / sizeof(float) / t->shape[i])
            return mrb_error(MRB_ERR_INVALID, "%s: tensor %s has an empty or too large axis %d (%zu)", layer, name, i,
                             t->shape[i]);
        count *= t->shape[i];
    }
    return MRB_OK;
}

/* d_data present; d_grad too when need_grad. */
static inline mrb_status mrb_nn_cuda_check_data(const mrb_cuda_tensor *t, int need_grad, const char *layer,
                                                const char *name)
{
    char buf[64];
    if (!t->d_data)
        return mrb_error(MRB_ERR_INVALID, "%s: tensor %s (%s) has no device data", layer, name,
                         mrb_nn_cuda_shape_str(t, buf, sizeof buf));
    if (need_grad && !t->d_grad)
        return mrb_error(MRB_ERR_INVALID, "%s: tensor %s (%s) has no device gradient", layer, name,
                         mrb_nn_cuda_shape_str(t, buf, sizeof buf));
    return MRB_OK;
}

/* The label check's start value ("every label valid"); the loss kernels
 * lower it to the first voxel with an invalid label by an integer atomicMin,
 * whose result does not depend on the order of the threads. */
#define MRB_NN_NO_BAD_LABEL 0xFFFFFFFFFFFFFFFFull

#endif
