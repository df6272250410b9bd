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
mrb_status mrb_cuda_measure(const mrb_cuda_work *work, int warmup, int reps,
                            mrb_cuda_sample *samples);

/* ---- centred orthonormal FFT on cuFFT (gpu/fft/fft_cuda.cu) ----
 * Same definition as mrb_fft_centered: forward X = fftshift(fft(ifftshift(x)))
 * / sqrt(N) over the first `rank` (1..3) of `ndim` axes, batched over the
 * rest. Even lengths use the (-1)^n modulation fused with the scale into one
 * kernel before and one after cuFFT; any odd length takes shift kernels
 * through a scratch buffer. */
typedef struct mrb_cuda_fft_plan mrb_cuda_fft_plan;
/* One plan serves both directions. */
mrb_status mrb_cuda_fft_plan_create(int rank, int ndim, const size_t *dims,
                                    mrb_cuda_fft_plan **out);
void mrb_cuda_fft_plan_free(mrb_cuda_fft_plan *p); /* NULL is a no-op */
/* In place on d_data, queued on the work stream. */
mrb_status mrb_cuda_fft_exec(mrb_cuda_fft_plan *p, mrb_fft_dir dir, float *d_data);
/* As mrb_cuda_fft_exec with a plan taken from (or added to) the process-wide
 * cache, keyed by shape; thread-safe. */
mrb_status mrb_cuda_fft_centered(mrb_fft_dir dir, int rank, int ndim, const size_t *dims,
                                 float *d_data);
/* Uploads h_data, transforms, downloads into h_data (tests, one-off use). */
mrb_status mrb_cuda_fft_centered_host(mrb_fft_dir dir, int rank, int ndim, const size_t *dims,
                                      float *h_data);
void mrb_cuda_fft_cleanup(void); /* drops every cached plan */

/* ---- data consistency and complex kernels (gpu/recon/dc_cuda.cu) ----
 * DC layer of Schlemper et al. (IEEE TMI 2017), specs/recon.md. k-space s0
 * (zero off the mask) and the mask (real, non-zero = sampled) are laid out
 * like the data; the mask holds `mask_count` values and repeats over the
 * trailing axes (one mask for all coils or items when shorter). lambda < 0
 * selects the noiseless form (s0 replaces s on the mask). */

/* k-space step in place: s = s off the mask, (s + lambda s0) / (1 + lambda)
 * on it (s0 when lambda < 0). */
mrb_status mrb_cuda_dc_kspace(float *d_s, const float *d_s0, const float *d_mask,
                              size_t count, size_t mask_count, double lambda);
/* Image-domain layer: d_out = F^H DC(F d_x) for complex images of shape
 * [nx, ny, batch] (2D FFT batched over frames and items). d_out may equal
 * d_x. */
mrb_status mrb_cuda_dc_forward(const float *d_x, const float *d_s0, const float *d_mask,
                               size_t nx, size_t ny, size_t batch, size_t mask_count,
                               double lambda, float *d_out);
/* Backward of the layer for the output gradient d_g:
 *   d_gx = F^H Lambda F d_g (overwritten; may equal d_g), Lambda = 1 off the
 *   mask and 1/(1+lambda) on it (0 when lambda < 0);
 *   when dlambda is not NULL and lambda >= 0 (d_x required then):
 *   *dlambda = sum over the mask of Re(conj(F g) (s0 - F x)) / (1 + lambda)^2,
 *   accumulated in double on the device. Synchronises when dlambda is set. */
mrb_status mrb_cuda_dc_backward(const float *d_x, const float *d_s0, const float *d_mask,
                                size_t nx, size_t ny, size_t batch, size_t mask_count,
                                double lambda, const float *d_g, float *d_gx, double *dlambda);

/* SENSE: images [nx, ny, nt] (frame = nx * ny), maps [nx, ny, 1, nc],
 * coil images [nx, ny, nt, nc]. expand: out_c = S_c x; combine:
 * out = sum_c conj(S_c) in_c (the adjoint of expand). */
mrb_status mrb_cuda_coil_expand(const float *d_x, const float *d_sens, size_t frame, size_t nt,
                                size_t nc, float *d_coils);
mrb_status mrb_cuda_coil_combine(const float *d_coils, const float *d_sens, size_t frame,
                                 size_t nt, size_t nc, float *d_x);

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
mrb_status mrb_cuda_cascade_forward(mrb_cuda_cascade *g, const float *d_x0, const float *d_kspace,
                                    const float *d_mask, const float **d_out);
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
mrb_status mrb_cuda_cascade_moments(mrb_cuda_cascade *g, float *const *m, float *const *v, size_t n,
                                    int to_device);
/* Items per batch for reconstructing nt frames of nx x ny (2D: frames
 * batched up to a memory bound; 2D+t: 1). */
size_t mrb_cuda_cascade_chunk(const mrb_cuda_cascade *g, size_t nx, size_t ny, size_t nt);
/* Zero-filled input, forward and complex output for the prepared shape:
 * d_y masked k-space, d_x0 scratch [n, 2, ...], d_img interleaved complex. */
mrb_status mrb_cuda_cascade_reconstruct_device(mrb_cuda_cascade *g, const float *d_y, const float *d_mask,
                                               float *d_x0, float *d_img);

#ifdef __cplusplus
}
#endif
#endif
