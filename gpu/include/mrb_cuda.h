/* The CUDA side of mrbench: device memory, the work stream, timers, the
 * centred cuFFT transform and the MR data-consistency kernels.
 *
 * This header is C (usable from the C library, the tests and from .cu files)
 * and is visible only to code built with CUDA (gpu/, the backend registry,
 * tests/gpu/). Methods reach the GPU through mrbench/backend.h.
 *
 * Conventions:
 * - Pointers named d_* are device memory (from mrb_cuda_alloc); h_* host.
 * - Complex data are interleaved float pairs (re, im), dims[0] fastest, as
 *   in mrbench/array.h; a complex count `n` means 2n floats.
 * - Everything is queued on one work stream per process (mrb_cuda_stream);
 *   device-to-device functions return once the work is queued, not done.
 *   Functions that move data to or from the host return when it is there.
 * - Errors: MRB_ERR_DEVICE with the failing CUDA/cuFFT call named in the
 *   message; MRB_ERR_INVALID for bad shapes. */
#ifndef MRB_CUDA_H
#define MRB_CUDA_H

#include <stddef.h>
#include "mrbench/backend.h"
#include "mrbench/fft.h"
#include "mrbench/nn.h"
#include "mrbench/registry.h"
#include "mrbench/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The GPU twins of registered methods, NULL-terminated (gpu/methods_cuda.c);
 * reached through mrb_method_find_gpu. */
extern const mrb_method_desc *const mrb_cuda_method_table[];
/* The Deep Cascade's training steps on the GPU (gpu/recon/cascade_train_cuda.c);
 * reached through mrb_cascade_train_device_gpu. */
extern const mrb_cascade_train_device mrb_cuda_cascade_train_device;

/* ---- device, memory, stream (gpu/core/backend_cuda.cu) ---- */
mrb_status mrb_cuda_available(char *why, size_t len);
mrb_status mrb_cuda_info(mrb_gpu_info_t *out);
/* Zeroed device buffer; the first call selects the device and creates the
 * work stream. */
mrb_status mrb_cuda_alloc(size_t bytes, void **d_ptr);
void mrb_cuda_free(void *d_ptr); /* NULL is a no-op; waits for queued work */
mrb_status mrb_cuda_upload(void *d_dst, const void *h_src, size_t bytes);
mrb_status mrb_cuda_download(void *h_dst, const void *d_src, size_t bytes);
/* Queue the copy on the work stream and return at once (for timed regions);
 * h_src/h_dst must stay valid until the stream is synchronised. Transfers
 * from or to pinned memory (mrb_cuda_host_alloc) overlap with the host. */
mrb_status mrb_cuda_upload_async(void *d_dst, const void *h_src, size_t bytes);
mrb_status mrb_cuda_download_async(void *h_dst, const void *d_src, size_t bytes);
/* Page-locked host memory; free(NULL) is a no-op. */
mrb_status mrb_cuda_host_alloc(size_t bytes, void **h_ptr);
void mrb_cuda_host_free(void *h_ptr);
/* Queues a device-to-device copy. */
mrb_status mrb_cuda_copy(void *d_dst, const void *d_src, size_t bytes);
mrb_status mrb_cuda_synchronize(void);
/* The work stream as a cudaStream_t (void * here to keep this header C). */
mrb_status mrb_cuda_stream(void **stream);

/* ---- timing (gpu/core/timer_cuda.cu) ----
 * CUDA events recorded on the work stream around the measured region, read
 * after synchronising; host wall time (CLOCK_MONOTONIC) alongside. Nothing
 * synchronises inside the region. */
typedef struct mrb_cuda_timer mrb_cuda_timer;
mrb_status mrb_cuda_timer_create(mrb_cuda_timer **out);
void mrb_cuda_timer_free(mrb_cuda_timer *t); /* NULL is a no-op */
mrb_status mrb_cuda_timer_start(mrb_cuda_timer *t);
mrb_status mrb_cuda_timer_stop(mrb_cuda_timer *t);
/* Synchronises on the stop event; seconds between start and stop on the
 * device and on the host (the host time includes the wait). */
mrb_status mrb_cuda_timer_elapsed(mrb_cuda_timer *t, double *device_s, double *host_s);

/* One timed sample split in phases (seconds, device clock unless named host). */
typedef struct mrb_cuda_sample {
    double upload_s;
    double compute_s;
    double download_s;
    double total_s;      /* first event to last: upload + compute + download */
    double host_total_s; /* wall time from queueing the upload to the synchronise */
} mrb_cuda_sample;

/* Queues one phase of the work on `stream` (a cudaStream_t); must not
 * synchronise. NULL phases are skipped (their time is 0). */
typedef mrb_status (*mrb_cuda_phase_fn)(void *ctx, void *stream);
typedef struct mrb_cuda_work {
    mrb_cuda_phase_fn upload;
    mrb_cuda_phase_fn compute;
    mrb_cuda_phase_fn download;
    void *ctx;
} mrb_cuda_work;

/* Runs `warmup` unrecorded repetitions, then `reps` timed ones, filling
 * samples[0..reps-1]. Each repetition: events around every phase, then one
 * synchronise (outside the measured region) before the events are read. */
mrb_status mrb_cuda_measure(const mrb_cuda_work *work, int warmup, int reps, mrb_cuda_sample *samples);

/* ---- centred orthonormal FFT on cuFFT (gpu/fft/fft_cuda.cu) ----
 * Same definition as mrb_fft_centered: forward X = fftshift(fft(ifftshift(x)))
 * / sqrt(N) over the first `rank` (1..3) of `ndim` axes, batched over the
 * rest. Even lengths use the (-1)^n modulation fused with the scale into one
 * kernel before and one after cuFFT; any odd length takes shift kernels
 * through a scratch buffer. */
typedef struct mrb_cuda_fft_plan mrb_cuda_fft_plan;
/* One plan serves both directions. */
mrb_status mrb_cuda_fft_plan_create(int rank, int ndim, const size_t *dims, mrb_cuda_fft_plan **out);
void mrb_cuda_fft_plan_free(mrb_cuda_fft_plan *p); /* NULL is a no-op */
/* In place on d_data, queued on the work stream. */
mrb_status mrb_cuda_fft_exec(mrb_cuda_fft_plan *p, mrb_fft_dir dir, float *d_data);
/* As mrb_cuda_fft_exec with a plan taken from (or added to) the process-wide
 * cache, keyed by shape; thread-safe. */
mrb_status mrb_cuda_fft_centered(mrb_fft_dir dir, int rank, int ndim, const size_t *dims, float *d_data);
/* Uploads h_data, transforms, downloads into h_data (tests, one-off use). */
mrb_status mrb_cuda_fft_centered_host(mrb_fft_dir dir, int rank, int ndim, const size_t *dims, float *h_data);
void mrb_cuda_fft_cleanup(void); /* drops every cached plan */

/* ---- data consistency and complex kernels (gpu/recon/dc_cuda.cu) ----
 * DC layer of Schlemper et al. (IEEE TMI 2017), specs/recon.md. k-space s0
 * (zero off the mask) and the mask (real, non-zero = sampled) are laid out
 * like the data; the mask holds `mask_count` values and repeats over the
 * trailing axes (one mask for all coils or items when shorter). lambda < 0
 * selects the noiseless form (s0 replaces s on the mask). */

/* k-space step in place: s = s off the mask, (s + lambda s0) / (1 + lambda)
 * on it (s0 when lambda < 0). */
mrb_status mrb_cuda_dc_kspace(float *d_s, const float *d_s0, const float *d_mask, size_t count, size_t mask_count,
                              double lambda);
/* Image-domain layer: d_out = F^H DC(F d_x) for complex images of shape
 * [nx, ny, batch] (2D FFT batched over frames and items). d_out may equal
 * d_x. */
mrb_status mrb_cuda_dc_forward(const float *d_x, const float *d_s0, const float *d_mask, size_t nx, size_t ny,
                               size_t batch, size_t mask_count, double lambda, float *d_out);
/* Backward of the layer for the output gradient d_g:
 *   d_gx = F^H Lambda F d_g (overwritten; may equal d_g), Lambda = 1 off the
 *   mask and 1/(1+lambda) on it (0 when lambda < 0);
 *   when dlambda is not NULL and lambda >= 0 (d_x required then):
 *   *dlambda = sum over the mask of Re(conj(F g) (s0 - F x)) / (1 + lambda)^2,
 *   accumulated in double on the device. Synchronises when dlambda is set. */
mrb_status mrb_cuda_dc_backward(const float *d_x, const float *d_s0, const float *d_mask, size_t nx, size_t ny,
                                size_t batch, size_t mask_count, double lambda, const float *d_g, float *d_gx,
                                double *dlambda);

/* SENSE: images [nx, ny, nt] (frame = nx * ny), maps [nx, ny, 1, nc],
 * coil images [nx, ny, nt, nc]. expand: out_c = S_c x; combine:
 * out = sum_c conj(S_c) in_c (the adjoint of expand). */
mrb_status mrb_cuda_coil_expand(const float *d_x, const float *d_sens, size_t frame, size_t nt, size_t nc,
                                float *d_coils);
mrb_status mrb_cuda_coil_combine(const float *d_coils, const float *d_sens, size_t frame, size_t nt, size_t nc,
                                 float *d_x);

/* Complex elementwise over n values: y += a x; z = x y; z = conj(x) y;
 * mag = |x| (n floats). Outputs may alias inputs. */
mrb_status mrb_cuda_caxpy(size_t n, float a_re, float a_im, const float *d_x, float *d_y);
mrb_status mrb_cuda_cmul(size_t n, const float *d_x, const float *d_y, float *d_z);
mrb_status mrb_cuda_cmulconj(size_t n, const float *d_x, const float *d_y, float *d_z);
mrb_status mrb_cuda_cabs(size_t n, const float *d_x, float *d_mag);

/* ---- Deep Cascade of CNNs on cuDNN (gpu/recon/cascade_cuda.cu) ----
 * The twin of mrb_cascade (mrbench/nn.h): same layers, parameters and
 * results. Math is strict FP32 unless the environment sets MRBENCH_TF32=1
 * (TF32 tensor cores, as PyTorch's default for convolutions). Device
 * buffers: x0 and the output [n, 2, (nt,) ny, nx] planar; k-space (zero off
 * the mask) interleaved complex n x [nx, ny, nt]; mask n x [nx, ny, nt]. */
typedef struct mrb_cuda_cascade mrb_cuda_cascade;
/* Uploads net's parameters (net keeps its own copy and stays the caller's). */
mrb_status mrb_cuda_cascade_create(const mrb_cascade *net, mrb_cuda_cascade **out);
void mrb_cuda_cascade_free(mrb_cuda_cascade *g); /* NULL is a no-op */
int mrb_cuda_cascade_tf32(const mrb_cuda_cascade *g);
/* Allocates activations for n items of [nx, ny, nt] (2D: nt = 1, frames as
 * items; training keeps every activation) and picks the cuDNN algorithms by
 * timing them. A no-op when already prepared for that shape. */
mrb_status mrb_cuda_cascade_prepare(mrb_cuda_cascade *g, size_t n, size_t nx, size_t ny, size_t nt, int train);
/* Queues the forward pass; *d_out (owned by g) is valid until the next call. */
mrb_status mrb_cuda_cascade_forward(mrb_cuda_cascade *g, const float *d_x0, const float *d_kspace, const float *d_mask,
                                    const float **d_out);
/* Parameter gradients += those of d_dout (d loss / d output) after a
 * training forward on the same k-space and mask. Synchronises when lambda
 * is trainable (its gradient is reduced on the host). */
mrb_status mrb_cuda_cascade_backward(mrb_cuda_cascade *g, const float *d_kspace, const float *d_mask,
                                     const float *d_dout);
mrb_status mrb_cuda_cascade_zero_grad(mrb_cuda_cascade *g);
/* d_dout = d/dpred of scale * mean((pred - target)^2) (as mrb_nn_mse_loss);
 * *loss when not NULL (synchronises). */
mrb_status mrb_cuda_cascade_mse(mrb_cuda_cascade *g, const float *d_pred, const float *d_target, float scale,
                                float *d_dout, double *loss);
/* Sum of squares of the decayed (convolution) weights; synchronises. */
mrb_status mrb_cuda_cascade_weight_norm2(mrb_cuda_cascade *g, double *value);
/* One Adam step number t (1-based) as mrb_optim_step with the training's
 * decay mask (convolution weights only). */
mrb_status mrb_cuda_cascade_adam(mrb_cuda_cascade *g, const mrb_adam_cfg *cfg, uint64_t t);
/* Parameters (and gradients when with_grads) back into net's tensors. */
mrb_status mrb_cuda_cascade_download(const mrb_cuda_cascade *g, mrb_cascade *net, int with_grads);
/* Adam moments of the trainable parameters in mrb_cascade_params order (the
 * DC lambdas only when trainable), as mrb_optim_state lays them out: m[i]
 * and v[i] hold the i-th tensor's first and second moments. Uploads when
 * to_device, else downloads; n must be the count of trainable tensors. */
mrb_status mrb_cuda_cascade_moments(mrb_cuda_cascade *g, float *const *m, float *const *v, size_t n, int to_device);
/* Items per batch for reconstructing nt frames of nx x ny (2D: frames
 * batched up to a memory bound; 2D+t: 1). */
size_t mrb_cuda_cascade_chunk(const mrb_cuda_cascade *g, size_t nx, size_t ny, size_t nt);
/* A training minibatch's inputs from its ground truth d_images
 * (interleaved complex, prepared shape), as mrb_cascade_train_inputs
 * computes them on the CPU: d_kspace = M F d_images (zero off d_mask;
 * interleaved; d_kspace may be d_images), d_x0 = F^H d_kspace and d_target
 * = d_images planar. */
mrb_status mrb_cuda_cascade_inputs(mrb_cuda_cascade *g, const float *d_images, const float *d_mask, float *d_kspace,
                                   float *d_x0, float *d_target);
/* Zero-filled input, forward and complex output for the prepared shape:
 * d_y masked k-space, d_x0 scratch [n, 2, ...], d_img interleaved complex. */
mrb_status mrb_cuda_cascade_reconstruct_device(mrb_cuda_cascade *g, const float *d_y, const float *d_mask, float *d_x0,
                                               float *d_img);

/* ---- nn engine layers for the segmentation networks (gpu/nn/) ----
 * CUDA twins of impl/nn/tensor.c, elementwise.c, pool.c, norm.c and
 * softmax.c with the definitions of mrbench/nn.h, on device buffers in the
 * nn layout: [N, C, (D,) H, W] planar float, W contiguous. As in the CPU
 * engine, backward functions ADD (+=) into input and parameter gradients and
 * the losses add their gradient into the prediction's. Plain CUDA kernels
 * (no cuDNN) whose reductions run in a fixed order (no floating-point
 * atomics), so results repeat bit for bit between runs. Shapes are checked
 * as the CPU layers check them, before the device is touched: MRB_ERR_INVALID
 * with the tensor and the problem named. Work is queued on the work stream;
 * the two losses synchronise (the loss and the label check come back to the
 * host). tests/gpu/test_cuda_nn_layers.c checks each against the CPU layer. */

/* A tensor on the device: an mrb_tensor's shape with device buffers. A
 * caller may describe its own buffers with one (filled by hand, never passed
 * to mrb_cuda_tensor_free). */
typedef struct mrb_cuda_tensor {
    int ndim;                      /* 1..MRB_NN_MAX_DIMS */
    size_t shape[MRB_NN_MAX_DIMS]; /* shape[ndim-1] contiguous */
    float *d_data;
    float *d_grad; /* NULL when the tensor has no gradient */
} mrb_cuda_tensor;

/* gpu/nn/tensor_cuda.c. create: zeroed data (and gradient when with_grad),
 * owned by the tensor; free releases them (NULL is a no-op). */
mrb_status mrb_cuda_tensor_create(int ndim, const size_t *shape, int with_grad, mrb_cuda_tensor **out);
void mrb_cuda_tensor_free(mrb_cuda_tensor *t);
size_t mrb_cuda_tensor_count(const mrb_cuda_tensor *t);
/* Copies the data (and the gradient when with_grad; both tensors need one)
 * between a host tensor and a device tensor of the same shape; returns when
 * the copy is done. */
mrb_status mrb_cuda_tensor_upload(mrb_cuda_tensor *dst, const mrb_tensor *src, int with_grad);
mrb_status mrb_cuda_tensor_download(mrb_tensor *dst, const mrb_cuda_tensor *src, int with_grad);
/* Queues zeroing the gradient; a no-op without one. */
mrb_status mrb_cuda_tensor_zero_grad(mrb_cuda_tensor *t);

/* gpu/nn/elementwise_cuda.cu: as mrb_nn_leaky_relu_*, mrb_nn_add_*,
 * mrb_nn_concat_* (y may equal x in the leaky ReLU forward). */
mrb_status mrb_cuda_nn_leaky_relu_forward(const mrb_cuda_tensor *x, mrb_cuda_tensor *y, float leak);
mrb_status mrb_cuda_nn_leaky_relu_backward(mrb_cuda_tensor *x, const mrb_cuda_tensor *y, float leak);
mrb_status mrb_cuda_nn_add_forward(const mrb_cuda_tensor *a, const mrb_cuda_tensor *b, mrb_cuda_tensor *y);
mrb_status mrb_cuda_nn_add_backward(mrb_cuda_tensor *a, mrb_cuda_tensor *b, const mrb_cuda_tensor *y);
/* xs: host array of n tensor descriptions (their buffers on the device). */
mrb_status mrb_cuda_nn_concat_forward(const mrb_cuda_tensor *const *xs, size_t n, mrb_cuda_tensor *y);
mrb_status mrb_cuda_nn_concat_backward(mrb_cuda_tensor *const *xs, size_t n, const mrb_cuda_tensor *y);

/* gpu/nn/pool_cuda.cu: as mrb_nn_pool_* and mrb_nn_upsample_* (window k and
 * stride s on every spatial axis, no padding, output (in - k) / s + 1; max
 * pooling's gradient goes to the first maximum of each window in (d, h, w)
 * order). The backward passes gather per input element, adding the windows'
 * contributions in the CPU's order. */
mrb_status mrb_cuda_nn_pool_out_shape(const mrb_cuda_tensor *x, size_t k, size_t s, size_t shape[MRB_NN_MAX_DIMS]);
mrb_status mrb_cuda_nn_pool_forward(mrb_pool_kind kind, const mrb_cuda_tensor *x, size_t k, size_t s,
                                    mrb_cuda_tensor *y);
mrb_status mrb_cuda_nn_pool_backward(mrb_pool_kind kind, mrb_cuda_tensor *x, size_t k, size_t s,
                                     const mrb_cuda_tensor *y);
mrb_status mrb_cuda_nn_upsample_forward(const mrb_cuda_tensor *x, size_t factor, mrb_cuda_tensor *y);
mrb_status mrb_cuda_nn_upsample_backward(mrb_cuda_tensor *x, size_t factor, const mrb_cuda_tensor *y);

/* gpu/nn/norm_cuda.cu: batch and instance normalisation as mrb_norm (batch
 * statistics in training with the running update, biased variance for
 * normalising and unbiased for the running estimate; running statistics in
 * evaluation; instance norm always per item and channel, running statistics
 * untouched). The fields mirror mrb_norm with device buffers, owned by the
 * struct. */
typedef struct mrb_cuda_norm {
    size_t channels;
    int instance;                          /* 1: instance norm */
    double eps, momentum;                  /* copied from the mrb_norm */
    float *d_gamma, *d_beta;               /* [C] */
    float *d_gamma_grad, *d_beta_grad;     /* [C] */
    float *d_running_mean, *d_running_var; /* [C] (batch norm) */
    float *d_mean, *d_invstd;              /* saved by the last forward: [C] or [N*C] */
    size_t saved_cap;                      /* groups d_mean and d_invstd hold */
    int saved_ndim;                        /* 0 before the first forward */
    size_t saved_shape[MRB_NN_MAX_DIMS];   /* the last forward's input shape */
    int saved_train;                       /* the last forward used batch statistics */
    void *d_work;                          /* reduction scratch, grown on demand */
    size_t work_cap;                       /* bytes */
} mrb_cuda_norm;
/* Uploads src's channels, kind, eps, momentum, gamma, beta, their gradients
 * and the running statistics (src stays the caller's). */
mrb_status mrb_cuda_norm_create(const mrb_norm *src, mrb_cuda_norm **out);
void mrb_cuda_norm_free(mrb_cuda_norm *b); /* NULL is a no-op */
mrb_status mrb_cuda_norm_forward(mrb_cuda_norm *b, const mrb_cuda_tensor *x, int train, mrb_cuda_tensor *y);
/* From y->d_grad: x->d_grad += (when not NULL), gamma/beta gradients +=,
 * with the statistics of the last forward (x must have its shape). */
mrb_status mrb_cuda_norm_backward(mrb_cuda_norm *b, mrb_cuda_tensor *x, const mrb_cuda_tensor *y);
mrb_status mrb_cuda_norm_zero_grad(mrb_cuda_norm *b);
/* gamma, beta and the running statistics (and the gamma/beta gradients when
 * with_grads) into dst, an mrb_norm of the same channels and kind. */
mrb_status mrb_cuda_norm_download(const mrb_cuda_norm *b, mrb_norm *dst, int with_grads);

/* gpu/nn/softmax_cuda.cu: as mrb_nn_softmax_*, mrb_nn_softmax_cross_entropy
 * and mrb_nn_soft_dice_loss. d_labels: N x spatial bytes on the device, each
 * below C (checked on the device: MRB_ERR_INVALID naming the first bad
 * voxel, nothing changed). The losses synchronise and return *loss. */
mrb_status mrb_cuda_nn_softmax_forward(const mrb_cuda_tensor *x, mrb_cuda_tensor *y);
mrb_status mrb_cuda_nn_softmax_backward(mrb_cuda_tensor *x, const mrb_cuda_tensor *y);
mrb_status mrb_cuda_nn_softmax_cross_entropy(mrb_cuda_tensor *logits, const uint8_t *d_labels, double *loss);
mrb_status mrb_cuda_nn_soft_dice_loss(mrb_cuda_tensor *prob, const uint8_t *d_labels, size_t first_class, double smooth,
                                      double *loss);

#ifdef __cplusplus
}
#endif
#endif
