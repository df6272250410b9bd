/* Linear operators with adjoints, composable (in the manner of BART's linops).
 *
 * An operator maps a complex domain array (MRB_C64 layout: interleaved float
 * pairs, dims[0] fastest) to a complex codomain array. Each operator owns
 * its data (copies of masks and coil maps, scratch buffers) and releases it
 * in mrb_linop_free. Applications are out of place: dst and src must not
 * overlap. An operator instance keeps scratch buffers, so one instance must
 * not be applied from two threads at once; it parallelises internally over
 * `nthreads` (OpenMP loops, FFTW threads).
 *
 * The building blocks of the MR forward model E = M F S:
 *   mask     M: [dims] -> [dims], multiplication by a real mask repeated over
 *            the trailing axes (a [nx, ny, nt] mask on [nx, ny, nt, nc] data).
 *   fft2     F: centred orthonormal 2-D FFT over dims[0], dims[1], as mrbench/fft.h
 *            defines it (computed as 1-D passes with transposes; equal to
 *            mrb_fft_centered to rounding).
 *   fftt     F_t: centred orthonormal 1-D FFT over dims[2] (time), batched.
 *   sense    S: [nx, ny, nt] -> [nx, ny, nt, nc], x -> S_c x; adjoint sum_c conj(S_c) y_c.
 *   wavelet  W: orthogonal periodic Daubechies (db2, 4 taps) over dims[0], dims[1],
 *            with an optional circular shift of the grid (BART's random shifts).
 *   fdiff    D: [dims] -> [dims, k], periodic forward differences along k axes.
 *   chain    B A: apply A then B (takes ownership of both). */
#ifndef MRBENCH_LINOP_H
#define MRBENCH_LINOP_H

#include <stddef.h>
#include "array.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst = op(src); `data` is the operator's own state. */
typedef mrb_status (*mrb_linop_fn)(void *data, float *dst, const float *src);

typedef struct mrb_linop {
    const char *name; /* "mask", "fft2", ... for messages */
    int dom_ndim, cod_ndim;
    size_t dom_dims[MRB_MAX_DIMS], cod_dims[MRB_MAX_DIMS];
    mrb_linop_fn forward;
    mrb_linop_fn adjoint;
    mrb_linop_fn normal; /* A^H A, or NULL: then adjoint(forward(x)) through `scratch` */
    void (*free_data)(void *data);
    void *data;
    float *scratch; /* codomain-sized, allocated on first generic normal */
} mrb_linop;

/* Generic constructor: takes ownership of `data` (freed with free_data, also
 * on failure). NULL with the message set on failure. */
mrb_linop *mrb_linop_create(const char *name, int dom_ndim, const size_t *dom_dims, int cod_ndim,
                            const size_t *cod_dims, mrb_linop_fn forward, mrb_linop_fn adjoint, mrb_linop_fn normal,
                            void *data, void (*free_data)(void *data));
void mrb_linop_free(mrb_linop *op); /* NULL is a no-op */

size_t mrb_linop_domain_count(const mrb_linop *op);   /* complex elements */
size_t mrb_linop_codomain_count(const mrb_linop *op); /* complex elements */

mrb_status mrb_linop_forward(mrb_linop *op, float *dst, const float *src);
mrb_status mrb_linop_adjoint(mrb_linop *op, float *dst, const float *src);
mrb_status mrb_linop_normal(mrb_linop *op, float *dst, const float *src);

/* Mask: `mask` (count real values, copied) repeats over the trailing axes;
 * mrb_array_count(dims) must be a multiple of count. */
mrb_linop *mrb_linop_mask_create(int ndim, const size_t *dims, const float *mask, size_t count, int nthreads);
/* Centred orthonormal FFT over dims[0], dims[1], batched over the rest. */
mrb_linop *mrb_linop_fft2_create(int ndim, const size_t *dims, int nthreads);
/* Centred orthonormal FFT over dims[2] (ndim >= 3), batched over the rest. */
mrb_linop *mrb_linop_fftt_create(int ndim, const size_t *dims, int nthreads);
/* SENSE expansion for images [nx, ny, nt] and maps [nx, ny, 1, nc] (copied). */
mrb_linop *mrb_linop_sense_create(size_t nx, size_t ny, size_t nt, size_t nc, const float *sens, int nthreads);
/* Replaces the maps of a sense operator (copied; same shape). MRB_ERR_INVALID
 * if op is not a sense operator. */
mrb_status mrb_linop_sense_set_maps(mrb_linop *op, const float *sens);
/* max over pixels of sum_c |S_c|^2: the squared norm of S, an upper bound of
 * the Lipschitz constant of x -> M F S x (0 if op is not a sense operator). */
double mrb_linop_sense_max_power(const mrb_linop *op);
/* second(first(x)); takes ownership of both (freed also on failure). The
 * codomain of `first` must equal the domain of `second`. */
mrb_linop *mrb_linop_chain_create(mrb_linop *first, mrb_linop *second);

/* Daubechies filter length of the wavelet operator (db2, as BART's dau2). */
#define MRB_WAVELET_TAPS 4
/* Orthogonal periodic wavelet over dims[0], dims[1], batched over the rest,
 * decomposed while both bands stay >= minsize and even (BART: down to 16).
 * The coefficients use the Mallat layout in an array of the input's shape. */
mrb_linop *mrb_linop_wavelet_create(int ndim, const size_t *dims, size_t minsize, int nthreads);
/* Circular grid shift applied before the transform: W_s x = W (x shifted by
 * -s), so that W_s^H W_s = I for every s. MRB_ERR_INVALID if op is not a
 * wavelet operator. */
mrb_status mrb_linop_wavelet_set_shift(mrb_linop *op, size_t shift_x, size_t shift_y);
/* Number of decomposition levels (0 when the image is too small). */
int mrb_linop_wavelet_levels(const mrb_linop *op);

/* Periodic forward differences (x[i+1] - x[i]) along each axis set in
 * `axes` (bit a for dims[a]); the codomain appends an axis of size
 * popcount(axes) (one gradient component per axis, in axis order). */
mrb_linop *mrb_linop_fdiff_create(int ndim, const size_t *dims, unsigned axes, int nthreads);

#ifdef __cplusplus
}
#endif
#endif
