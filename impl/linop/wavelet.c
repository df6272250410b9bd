/* Orthogonal periodic Daubechies wavelet (db2, 4 taps) over the first two
 * axes, multi-level, with a circular grid shift per application.
 *
 * The filter is BART's `dau2` (wavelet3_dau2 in BART src/wavelet/wavelet.c,
 * the default of `pics -R W`), the 4-tap Daubechies scaling filter
 * (Daubechies 1988). BART extends the signal at the borders; the periodic
 * extension used here keeps the transform exactly orthogonal (W^H W = I), so
 * the prox of ||W x||_1 is exactly soft thresholding of the coefficients.
 *
 * Layout: Mallat pyramid in an array of the input's shape; after level l
 * the top-left (nx >> l) x (ny >> l) block holds the approximation. */
#include <complex.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/linop.h"

/* Daubechies 4-tap low-pass analysis filter h; high-pass g[m] = (-1)^m h[3 - m]. */
static const float DB2_H[MRB_WAVELET_TAPS] = {0.48296291314453414f, 0.83651630373780790f, 0.22414386804201339f,
                                              -0.12940952255126037f};
static const float DB2_G[MRB_WAVELET_TAPS] = {-0.12940952255126037f, -0.22414386804201339f, 0.83651630373780790f,
                                              -0.48296291314453414f};

#define WAVELET_PARALLEL_MIN 8192

typedef struct wavelet_data {
    size_t nx, ny, nframes;
    int levels;
    size_t shift_x, shift_y;
    float complex *tmp;  /* one frame */
    float complex *work; /* one frame, for shifted adjoints */
    int nthreads;
} wavelet_data;

static void wavelet_free(void *p)
{
    wavelet_data *d = p;
    if (!d) return;
    mrb_free(d->tmp);
    mrb_free(d->work);
    free(d);
}

/* One analysis level on the wx x wy block of buf (row stride nx), via tmp. */
static void analysis_level(float complex *buf, float complex *tmp, size_t nx, size_t wx, size_t wy, int nthreads)
{
    size_t hx = wx / 2, hy = wy / 2;
    /* along x: buf rows -> tmp rows (stride wx) */
#pragma omp parallel for num_threads(nthreads) schedule(static) if (wx * wy >= WAVELET_PARALLEL_MIN)
    for (size_t j = 0; j < wy; j++) {
        const float complex *row = buf + j * nx;
        float complex *out = tmp + j * wx;
        for (size_t k = 0; k < hx; k++) {
            size_t i0 = 2 * k, i1 = i0 + 1, i2 = (i0 + 2) % wx, i3 = (i0 + 3) % wx;
            out[k] = DB2_H[0] * row[i0] + DB2_H[1] * row[i1] + DB2_H[2] * row[i2] + DB2_H[3] * row[i3];
            out[hx + k] = DB2_G[0] * row[i0] + DB2_G[1] * row[i1] + DB2_G[2] * row[i2] + DB2_G[3] * row[i3];
        }
    }
    /* along y: tmp rows -> buf rows, whole rows at a time (contiguous) */
#pragma omp parallel for num_threads(nthreads) schedule(static) if (wx * wy >= WAVELET_PARALLEL_MIN)
    for (size_t k = 0; k < hy; k++) {
        const float complex *r0 = tmp + (2 * k) * wx;
        const float complex *r1 = tmp + (2 * k + 1) * wx;
        const float complex *r2 = tmp + ((2 * k + 2) % wy) * wx;
        const float complex *r3 = tmp + ((2 * k + 3) % wy) * wx;
        float complex *lo = buf + k * nx;
        float complex *hi = buf + (hy + k) * nx;
        for (size_t i = 0; i < wx; i++) {
            lo[i] = DB2_H[0] * r0[i] + DB2_H[1] * r1[i] + DB2_H[2] * r2[i] + DB2_H[3] * r3[i];
            hi[i] = DB2_G[0] * r0[i] + DB2_G[1] * r1[i] + DB2_G[2] * r2[i] + DB2_G[3] * r3[i];
        }
    }
}

/* The transpose of analysis_level. Output sample 2i takes taps 0 (from i)
 * and 2 (from i - 1); sample 2i + 1 takes taps 1 (from i) and 3 (from i - 1). */
static void synthesis_level(float complex *buf, float complex *tmp, size_t nx, size_t wx, size_t wy, int nthreads)
{
    size_t hx = wx / 2, hy = wy / 2;
    /* along y: buf rows (stride nx) -> tmp rows (stride wx) */
#pragma omp parallel for num_threads(nthreads) schedule(static) if (wx * wy >= WAVELET_PARALLEL_MIN)
    for (size_t i = 0; i < hy; i++) {
        size_t ip = (i + hy - 1) % hy;
        const float complex *lo = buf + i * nx, *hi = buf + (hy + i) * nx;
        const float complex *lop = buf + ip * nx, *hip = buf + (hy + ip) * nx;
        float complex *even = tmp + (2 * i) * wx, *odd = tmp + (2 * i + 1) * wx;
        for (size_t x = 0; x < wx; x++) {
            even[x] = DB2_H[0] * lo[x] + DB2_G[0] * hi[x] + DB2_H[2] * lop[x] + DB2_G[2] * hip[x];
            odd[x] = DB2_H[1] * lo[x] + DB2_G[1] * hi[x] + DB2_H[3] * lop[x] + DB2_G[3] * hip[x];
        }
    }
    /* along x: tmp rows -> buf rows */
#pragma omp parallel for num_threads(nthreads) schedule(static) if (wx * wy >= WAVELET_PARALLEL_MIN)
    for (size_t j = 0; j < wy; j++) {
        const float complex *row = tmp + j * wx;
        float complex *out = buf + j * nx;
        for (size_t i = 0; i < hx; i++) {
            size_t ip = (i + hx - 1) % hx;
            out[2 * i] = DB2_H[0] * row[i] + DB2_G[0] * row[hx + i] + DB2_H[2] * row[ip] + DB2_G[2] * row[hx + ip];
            out[2 * i + 1] = DB2_H[1] * row[i] + DB2_G[1] * row[hx + i] + DB2_H[3] * row[ip] + DB2_G[3] * row[hx + ip];
        }
    }
}

static void shift_copy(float complex *dst, const float complex *src, size_t nx, size_t ny, size_t sx, size_t sy,
                       int forward, int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static) if (nx * ny >= WAVELET_PARALLEL_MIN)
    for (size_t j = 0; j < ny; j++) {
        size_t js = (j + sy) % ny;
        float complex *out = forward ? dst + j * nx : dst + js * nx;
        const float complex *in = forward ? src + js * nx : src + j * nx;
        /* forward: out[j][i] = in[j + sy][i + sx]; backward: out[j + sy][i + sx] = in[j][i] */
        if (forward) {
            memcpy(out, in + sx, (nx - sx) * sizeof *out);
            memcpy(out + (nx - sx), in, sx * sizeof *out);
        } else {
            memcpy(out + sx, in, (nx - sx) * sizeof *out);
            memcpy(out, in + (nx - sx), sx * sizeof *out);
        }
    }
}

static mrb_status wavelet_forward(void *p, float *dst, const float *src)
{
    wavelet_data *d = p;
    size_t nx = d->nx, ny = d->ny, frame = nx * ny;
    for (size_t b = 0; b < d->nframes; b++) {
        float complex *out = (float complex *)dst + b * frame;
        const float complex *in = (const float complex *)src + b * frame;
        shift_copy(out, in, nx, ny, d->shift_x, d->shift_y, 1, d->nthreads);
        for (int l = 0; l < d->levels; l++) analysis_level(out, d->tmp, nx, nx >> l, ny >> l, d->nthreads);
    }
    return MRB_OK;
}

static mrb_status wavelet_adjoint(void *p, float *dst, const float *src)
{
    wavelet_data *d = p;
    size_t nx = d->nx, ny = d->ny, frame = nx * ny;
    int shifted = d->shift_x || d->shift_y;
    for (size_t b = 0; b < d->nframes; b++) {
        float complex *out = (float complex *)dst + b * frame;
        const float complex *in = (const float complex *)src + b * frame;
        float complex *buf = shifted ? d->work : out;
        memcpy(buf, in, frame * sizeof *buf);
        for (int l = d->levels - 1; l >= 0; l--) synthesis_level(buf, d->tmp, nx, nx >> l, ny >> l, d->nthreads);
        if (shifted) shift_copy(out, buf, nx, ny, d->shift_x, d->shift_y, 0, d->nthreads);
    }
    return MRB_OK;
}

static mrb_status wavelet_normal(void *p, float *dst, const float *src)
{
    const wavelet_data *d = p;
    if (dst != src) memcpy(dst, src, d->nx * d->ny * d->nframes * 2 * sizeof(float));
    return MRB_OK;
}

mrb_linop *mrb_linop_wavelet_create(int ndim, const size_t *dims, size_t minsize, int nthreads)
{
    if (ndim < 2 || ndim > MRB_MAX_DIMS || dims[0] == 0 || dims[1] == 0) {
        mrb_error(MRB_ERR_INVALID, "linop wavelet: needs a non-empty array of 2..%d dimensions", MRB_MAX_DIMS);
        return NULL;
    }
    if (minsize < 2) minsize = 2;
    wavelet_data *d = calloc(1, sizeof *d);
    if (!d) {
        mrb_error(MRB_ERR_NOMEM, "linop wavelet: out of memory");
        return NULL;
    }
    d->nx = dims[0];
    d->ny = dims[1];
    d->nframes = 1;
    for (int i = 2; i < ndim; i++) d->nframes *= dims[i];
    /* BART decomposes down to bands of minsize; here both axes share the
     * level count (the smaller one), and every level needs even sizes. */
    size_t wx = d->nx, wy = d->ny;
    while (wx % 2 == 0 && wy % 2 == 0 && wx / 2 >= minsize && wy / 2 >= minsize) {
        d->levels++;
        wx /= 2;
        wy /= 2;
    }
    d->nthreads = nthreads > 0 ? nthreads : 1;
    d->tmp = mrb_malloc(d->nx * d->ny * sizeof *d->tmp);
    d->work = mrb_malloc(d->nx * d->ny * sizeof *d->work);
    if (!d->tmp || !d->work) {
        wavelet_free(d);
        mrb_error(MRB_ERR_NOMEM, "linop wavelet: out of memory");
        return NULL;
    }
    return mrb_linop_create("wavelet", ndim, dims, ndim, dims, wavelet_forward, wavelet_adjoint, wavelet_normal, d,
                            wavelet_free);
}

static wavelet_data *as_wavelet(const mrb_linop *op)
{
    return (op && op->forward == wavelet_forward) ? op->data : NULL;
}

mrb_status mrb_linop_wavelet_set_shift(mrb_linop *op, size_t shift_x, size_t shift_y)
{
    wavelet_data *d = as_wavelet(op);
    if (!d) return mrb_error(MRB_ERR_INVALID, "linop wavelet_set_shift: operator is not a wavelet");
    d->shift_x = shift_x % d->nx;
    d->shift_y = shift_y % d->ny;
    return MRB_OK;
}

int mrb_linop_wavelet_levels(const mrb_linop *op)
{
    const wavelet_data *d = as_wavelet(op);
    return d ? d->levels : 0;
}
