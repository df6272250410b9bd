/* mrbench data: phantoms with exact ground truth, coil maps, k-space
 * simulation and sampling masks.
 *
 * Phantoms and samplers are reached through the registries (registry.h):
 *   datasets  "shepp-logan", "brain", "cine" (reconstruction: complex
 *             images), "brain-tumour" (segmentation: MRB_F32 [nx, ny, nz, 4]
 *             T1, T1c, T2, FLAIR with BraTS labels), "thick-slice" (super-
 *             resolution: MRB_F32 [nx, ny, nz] isotropic ground truth)
 *   samplers  "cartesian-vd", "fastmri-random", "fastmri-equispaced",
 *             "poisson", "radial"
 * Every generator is deterministic in (parameters, seed, index): the same
 * inputs give byte-identical arrays on every machine. Definitions of each
 * phantom and mask are in impl/data/README.md.
 *
 * Shapes (registry.h): image MRB_C64 [nx, ny, nt], k-space MRB_C64
 * [nx, ny, nt, nc], mask MRB_F32 [nx, ny, nt], coil maps MRB_C64
 * [nx, ny, 1, nc], labels MRB_U8 [nx, ny, nt]. */
#ifndef MRBENCH_DATA_H
#define MRBENCH_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "array.h"
#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Acceleration of a mask: number of elements / number of non-zero elements,
 * over the whole array (all frames). INFINITY when nothing is sampled, NAN
 * when mask is NULL or not MRB_F32. */
double mrb_mask_acceleration(const mrb_array *mask);

/* Coil sensitivity maps MRB_C64 [nx, ny, 1, ncoils] (allocated here, owned by
 * the caller): wires on a ring around the field of view, each with the 2D
 * Biot-Savart field of a line current (magnitude 1/r, phase the azimuth
 * around the wire), ring radius and angles jittered from `seed`; normalised
 * so that sum_c |S_c|^2 = 1 at every pixel. ncoils = 1 gives a map of
 * modulus 1. */
mrb_status mrb_coil_maps(size_t nx, size_t ny, size_t ncoils, uint64_t seed, mrb_array **sens);

/* k-space MRB_C64 [nx, ny, nt, nc] (allocated here, owned by the caller):
 * k_c = F(S_c x), F the centred orthonormal 2D DFT (mrb_fft_centered),
 * x = item->image [nx, ny, nt], S_c = item->sens [nx, ny, 1, nc] (or 1 when
 * item->sens is NULL, nc = 1).
 * snr_db = 0 gives noiseless k-space. Otherwise complex white Gaussian noise
 * n is added with E|n|^2 = sigma^2 (sigma^2 / 2 per real and imaginary part)
 * and SNR defined as
 *     snr_db = 10 log10( P / sigma^2 ),  P = mean over all k-space samples of
 *                                            |k_c|^2 (noiseless),
 * which by Parseval equals the mean of |S_c x|^2 over all coil-image pixels.
 * The noise stream is deterministic in `seed`. */
mrb_status mrb_simulate_kspace(const mrb_item *item, double snr_db, uint64_t seed, mrb_array **kspace);

/* Slice profiles of mrb_thick_slices. */
typedef enum mrb_slice_profile {
    MRB_SLICE_BOXCAR = 0,  /* rectangular profile: mean of the f thin slices of a block */
    MRB_SLICE_GAUSSIAN = 1 /* Gaussian profile with FWHM f thin-slice spacings */
} mrb_slice_profile;

/* Thick slices for super-resolution: from a volume [nx, ny, nz, ...]
 * (MRB_F32 or MRB_C64, ndim 3 or 4) makes [nx, ny, nz / factor, ...]
 * (allocated here, owned by the caller); slice k is the weighted mean of the
 * thin slices around the block [k f, (k + 1) f), f = factor, centre
 * zc = k f + (f - 1) / 2 (trailing thin slices beyond the last full block
 * are dropped). BOXCAR: equal weights on the block (contiguous slices of
 * thickness f dz, no gap). GAUSSIAN: weights exp(-4 ln 2 (z - zc)^2 / f^2)
 * on thin slices with |z - zc| <= f, normalised to sum 1 (renormalised at the
 * ends of the volume). The output spacing along dims[2] is f times the
 * input's. */
mrb_status mrb_thick_slices(const mrb_array *volume, size_t factor, mrb_slice_profile profile, mrb_array **thick);

#ifdef __cplusplus
}
#endif
#endif
