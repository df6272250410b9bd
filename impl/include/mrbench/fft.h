/* Centred orthonormal FFT on FFTW plans.
 *
 * forward:  X = fftshift(fft(ifftshift(x))) / sqrt(N)
 * inverse:  x = fftshift(ifft(ifftshift(X))) * sqrt(N) / N
 * over the first `rank` axes of an MRB_C64 array, batched over the rest.
 * This is BART's `fft -u` and fastMRI's fft2c convention. Plans are created
 * once per (shape, batch, direction, threads) and cached; execution is
 * thread-safe. `nthreads` applies to transforms of at least 16 Ki complex
 * elements (smaller ones run on one thread); FFTW runs them on OpenMP's
 * threads, so a call from inside an OpenMP region runs on its thread. */
#ifndef MRBENCH_FFT_H
#define MRBENCH_FFT_H

#include <stddef.h>
#include "array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mrb_fft_dir { MRB_FFT_FORWARD = -1, MRB_FFT_INVERSE = +1 } mrb_fft_dir;

/* Transforms `data` (interleaved complex, dims[0] fastest) in place over the
 * first `rank` (1..3) of `ndim` axes, batched over the remaining axes. */
mrb_status mrb_fft_centered(mrb_fft_dir dir, int rank, int ndim, const size_t *dims, float *data, int nthreads);
/* Convenience: transforms an MRB_C64 array in place over its first `rank` axes. */
mrb_status mrb_fft_array(mrb_fft_dir dir, int rank, mrb_array *a, int nthreads);
/* Sets the number of threads FFTW may use for new plans (default 1). */
void mrb_fft_set_threads(int nthreads);
/* Drops every cached plan (e.g. at exit, for leak checkers). */
void mrb_fft_cleanup(void);
const char *mrb_fft_version(void);

#ifdef __cplusplus
}
#endif
#endif
