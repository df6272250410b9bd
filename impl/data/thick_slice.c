/* Thick-slice degradation for super-resolution benchmarks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

/* 4 ln 2: a Gaussian exp(-4 ln 2 x^2 / w^2) has full width at half maximum w. */
static const double FWHM_EXPONENT = 2.772588722239781;

mrb_status mrb_thick_slices(const mrb_array *volume, size_t factor, mrb_slice_profile profile, mrb_array **thick)
{
    if (!thick) return mrb_error(MRB_ERR_INVALID, "thick slices: no output pointer");
    *thick = NULL;
    char buf[64];
    if (!volume || (volume->dtype != MRB_F32 && volume->dtype != MRB_C64) || volume->ndim < 3 || volume->ndim > 4)
        return mrb_error(MRB_ERR_INVALID,
                         "thick slices: volume must be float32 or complex64 [nx, ny, nz(, c)], got %s %s",
                         volume ? mrb_dtype_name(volume->dtype) : "NULL",
                         volume ? mrb_array_shape_str(volume, buf, sizeof buf) : "");
    if (profile != MRB_SLICE_BOXCAR && profile != MRB_SLICE_GAUSSIAN)
        return mrb_error(MRB_ERR_INVALID, "thick slices: unknown slice profile %d", (int)profile);
    size_t nz = volume->dims[2];
    if (factor < 1 || factor > nz)
        return mrb_error(MRB_ERR_INVALID, "thick slices: factor %zu for %zu slices (need 1 <= factor <= nz)", factor,
                         nz);
    size_t nout = nz / factor;
    size_t dims[MRB_MAX_DIMS];
    memcpy(dims, volume->dims, sizeof dims);
    dims[2] = nout;
    mrb_array *out = mrb_array_create(volume->dtype, volume->ndim, dims);
    if (!out) return mrb_error_context(MRB_ERR_NOMEM, "thick slices");
    /* float components per slice (complex: interleaved pairs, averaged alike) */
    size_t comps = volume->dims[0] * volume->dims[1] * (volume->dtype == MRB_C64 ? 2 : 1);
    size_t nchan = volume->ndim == 4 ? volume->dims[3] : 1;
    const float *in = volume->data;
    float *o = out->data;
    double *acc = malloc(comps * sizeof *acc);
    if (!acc) {
        mrb_array_free(out);
        return mrb_error(MRB_ERR_NOMEM, "thick slices: out of memory");
    }
    for (size_t c = 0; c < nchan; c++)
        for (size_t k = 0; k < nout; k++) {
            double zc = (double)(k * factor) + 0.5 * (double)(factor - 1);
            long lo, hi;
            if (profile == MRB_SLICE_BOXCAR) {
                lo = (long)(k * factor);
                hi = (long)(k * factor + factor - 1);
            } else {
                lo = (long)ceil(zc - (double)factor);
                hi = (long)floor(zc + (double)factor);
                if (lo < 0) lo = 0;
                if (hi > (long)nz - 1) hi = (long)nz - 1;
            }
            memset(acc, 0, comps * sizeof *acc);
            double wsum = 0.0;
            for (long z = lo; z <= hi; z++) {
                double d = (double)z - zc;
                double w = profile == MRB_SLICE_BOXCAR ? 1.0 : exp(-FWHM_EXPONENT * d * d / (double)(factor * factor));
                const float *src = in + (c * nz + (size_t)z) * comps;
                for (size_t q = 0; q < comps; q++) acc[q] += w * src[q];
                wsum += w;
            }
            float *dst = o + (c * nout + k) * comps;
            for (size_t q = 0; q < comps; q++) dst[q] = (float)(acc[q] / wsum);
        }
    free(acc);
    *thick = out;
    return MRB_OK;
}
