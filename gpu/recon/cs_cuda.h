/* The GPU twin of the cs-wavelet method (gpu/recon/cs_wavelet_cuda.cu) and
 * the kernels that tests/gpu/test_cuda_cs.c checks one by one against the
 * CPU: the periodic db2 wavelet of impl/linop/wavelet.c with its circular
 * grid shift, and the complex soft threshold of
 * baselines/recon/cs/cs_common.c. Internal to gpu/ and its tests.
 *
 * Device pointers are d_*; complex data are interleaved float pairs
 * [nx, ny, nframes], nx fastest (mrb_cuda.h). Calls queue their work on the
 * work stream and return; arguments are checked before the device is
 * touched, so a refusal (MRB_ERR_INVALID) needs no GPU. */
#ifndef MRB_CS_CUDA_H
#define MRB_CS_CUDA_H

#include <stddef.h>

#include "mrbench/registry.h"
#include "mrbench/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "cs-wavelet" on the GPU: the parameters of the CPU method (the same
 * table), its scaling, coil maps, shifts and FISTA iterations; phases
 * "host_prep" (BART scale and coil maps on the CPU), "upload", "compute",
 * "download" of the last run. */
extern const mrb_method_desc mrb_method_cs_wavelet_cuda;

/* W_s x of impl/linop/wavelet.c: circular shift of every [nx, ny] frame by
 * (shift_x, shift_y) (taken modulo nx, ny; d_dst[j][i] = x[j + sy][i + sx]),
 * then `levels` periodic db2 analysis levels over x and y in the Mallat
 * layout. Every band that a level splits must be even (as the CPU operator
 * builds them: mrb_linop_wavelet_levels). d_src and d_dst must not overlap;
 * d_tmp is scratch of the same size. */
mrb_status mrb_cuda_wavelet_forward(const float *d_src, float *d_dst, float *d_tmp, size_t nx, size_t ny,
                                    size_t nframes, int levels, size_t shift_x, size_t shift_y);
/* W_s^H c, which is also the inverse (W_s is orthogonal); d_src is not
 * modified. Same arguments as the forward transform. */
mrb_status mrb_cuda_wavelet_adjoint(const float *d_src, float *d_dst, float *d_tmp, size_t nx, size_t ny,
                                    size_t nframes, int levels, size_t shift_x, size_t shift_y);
/* z -> z max(0, 1 - t / |z|) over n complex values, in place, with the
 * rounding of mrb_cs_soft_threshold. */
mrb_status mrb_cuda_soft_threshold(float *d_z, size_t n, float t);

#ifdef __cplusplus
}
#endif
#endif
