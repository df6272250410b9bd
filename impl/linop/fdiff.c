/* Periodic forward finite differences, the gradient of total variation.
 * (D x)_a[i] = x[i + e_a] - x[i] with circular boundaries, as BART's `grad`
 * linop; the adjoint is the negative backward difference. */
#include <complex.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/linop.h"

#define FDIFF_PARALLEL_MIN 16384

typedef struct fdiff_data {
    int ndim;
    size_t dims[MRB_MAX_DIMS];
    size_t total;
    int naxes;
    int axes[MRB_MAX_DIMS];
    int nthreads;
} fdiff_data;

static void fdiff_free(void *p)
{
    free(p);
}

/* For axis a: elements split as [inner (stride), len, outer]. */
static void axis_geometry(const fdiff_data *d, int a, size_t *inner, size_t *len, size_t *outer)
{
    size_t s = 1;
    for (int i = 0; i < a; i++) s *= d->dims[i];
    *inner = s;
    *len = d->dims[a];
    *outer = d->total / (s * d->dims[a]);
}

static mrb_status fdiff_forward(void *p, float *dst, const float *src)
{
    const fdiff_data *d = p;
    const float complex *x = (const float complex *)src;
    for (int k = 0; k < d->naxes; k++) {
        float complex *y = (float complex *)dst + (size_t)k * d->total;
        size_t inner, len, outer;
        axis_geometry(d, d->axes[k], &inner, &len, &outer);
#pragma omp parallel for collapse(2) num_threads(d->nthreads) schedule(static) if (d->total >= FDIFF_PARALLEL_MIN)
        for (size_t o = 0; o < outer; o++)
            for (size_t j = 0; j < len; j++) {
                size_t jn = j + 1 == len ? 0 : j + 1;
                const float complex *a = x + (o * len + j) * inner;
                const float complex *b = x + (o * len + jn) * inner;
                float complex *out = y + (o * len + j) * inner;
                for (size_t i = 0; i < inner; i++) out[i] = b[i] - a[i];
            }
    }
    return MRB_OK;
}

static mrb_status fdiff_adjoint(void *p, float *dst, const float *src)
{
    const fdiff_data *d = p;
    float complex *x = (float complex *)dst;
    for (int k = 0; k < d->naxes; k++) {
        const float complex *y = (const float complex *)src + (size_t)k * d->total;
        size_t inner, len, outer;
        axis_geometry(d, d->axes[k], &inner, &len, &outer);
        int first = k == 0;
#pragma omp parallel for collapse(2) num_threads(d->nthreads) schedule(static) if (d->total >= FDIFF_PARALLEL_MIN)
        for (size_t o = 0; o < outer; o++)
            for (size_t j = 0; j < len; j++) {
                size_t jp = j == 0 ? len - 1 : j - 1;
                const float complex *cur = y + (o * len + j) * inner;
                const float complex *prev = y + (o * len + jp) * inner;
                float complex *out = x + (o * len + j) * inner;
                if (first)
                    for (size_t i = 0; i < inner; i++) out[i] = prev[i] - cur[i];
                else
                    for (size_t i = 0; i < inner; i++) out[i] += prev[i] - cur[i];
            }
    }
    return MRB_OK;
}

mrb_linop *mrb_linop_fdiff_create(int ndim, const size_t *dims, unsigned axes, int nthreads)
{
    if (ndim < 1 || ndim >= MRB_MAX_DIMS) {
        mrb_error(MRB_ERR_INVALID, "linop fdiff: %d dimensions (1..%d allowed)", ndim, MRB_MAX_DIMS - 1);
        return NULL;
    }
    fdiff_data *d = calloc(1, sizeof *d);
    if (!d) {
        mrb_error(MRB_ERR_NOMEM, "linop fdiff: out of memory");
        return NULL;
    }
    d->ndim = ndim;
    memcpy(d->dims, dims, sizeof(size_t) * (size_t)ndim);
    d->total = 1;
    for (int i = 0; i < ndim; i++) d->total *= dims[i];
    for (int a = 0; a < ndim; a++)
        if (axes & (1u << a)) d->axes[d->naxes++] = a;
    if (d->naxes == 0 || (axes >> ndim) != 0) {
        free(d);
        mrb_error(MRB_ERR_INVALID, "linop fdiff: axes 0x%x do not select axes of a %d-D array", axes, ndim);
        return NULL;
    }
    d->nthreads = nthreads > 0 ? nthreads : 1;
    size_t cod[MRB_MAX_DIMS];
    memcpy(cod, dims, sizeof(size_t) * (size_t)ndim);
    cod[ndim] = (size_t)d->naxes;
    return mrb_linop_create("fdiff", ndim, dims, ndim + 1, cod, fdiff_forward, fdiff_adjoint, NULL, d, fdiff_free);
}
