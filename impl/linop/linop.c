/* Linear operators: the generic part, chains, and the forward-model blocks
 * (mask, 2-D FFT, temporal FFT, SENSE coil expansion). */
#include <complex.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/fft.h"
#include "mrbench/linop.h"

/* Loops shorter than this run on one thread: the fork/join costs more. */
#define LINOP_PARALLEL_MIN 16384

static size_t count_dims(int ndim, const size_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    return n;
}

mrb_linop *mrb_linop_create(const char *name, int dom_ndim, const size_t *dom_dims, int cod_ndim,
                            const size_t *cod_dims, mrb_linop_fn forward, mrb_linop_fn adjoint, mrb_linop_fn normal,
                            void *data, void (*free_data)(void *data))
{
    if (dom_ndim < 1 || dom_ndim > MRB_MAX_DIMS || cod_ndim < 1 || cod_ndim > MRB_MAX_DIMS) {
        if (free_data) free_data(data);
        mrb_error(MRB_ERR_INVALID, "linop %s: %d/%d dimensions (1..%d allowed)", name, dom_ndim, cod_ndim,
                  MRB_MAX_DIMS);
        return NULL;
    }
    mrb_linop *op = calloc(1, sizeof *op);
    if (!op) {
        if (free_data) free_data(data);
        mrb_error(MRB_ERR_NOMEM, "linop %s: out of memory", name);
        return NULL;
    }
    op->name = name;
    op->dom_ndim = dom_ndim;
    op->cod_ndim = cod_ndim;
    memcpy(op->dom_dims, dom_dims, sizeof(size_t) * (size_t)dom_ndim);
    memcpy(op->cod_dims, cod_dims, sizeof(size_t) * (size_t)cod_ndim);
    op->forward = forward;
    op->adjoint = adjoint;
    op->normal = normal;
    op->data = data;
    op->free_data = free_data;
    return op;
}

void mrb_linop_free(mrb_linop *op)
{
    if (!op) return;
    if (op->free_data) op->free_data(op->data);
    mrb_free(op->scratch);
    free(op);
}

size_t mrb_linop_domain_count(const mrb_linop *op)
{
    return count_dims(op->dom_ndim, op->dom_dims);
}

size_t mrb_linop_codomain_count(const mrb_linop *op)
{
    return count_dims(op->cod_ndim, op->cod_dims);
}

mrb_status mrb_linop_forward(mrb_linop *op, float *dst, const float *src)
{
    return op->forward(op->data, dst, src);
}

mrb_status mrb_linop_adjoint(mrb_linop *op, float *dst, const float *src)
{
    return op->adjoint(op->data, dst, src);
}

mrb_status mrb_linop_normal(mrb_linop *op, float *dst, const float *src)
{
    if (op->normal) return op->normal(op->data, dst, src);
    if (!op->scratch) {
        op->scratch = mrb_malloc(mrb_linop_codomain_count(op) * 2 * sizeof(float));
        if (!op->scratch) return mrb_error(MRB_ERR_NOMEM, "linop %s: out of memory", op->name);
    }
    MRB_TRY(op->forward(op->data, op->scratch, src));
    return op->adjoint(op->data, dst, op->scratch);
}

/* ---- mask ---------------------------------------------------------------- */

typedef struct mask_data {
    float *mask;
    size_t count, total;
    int nthreads;
} mask_data;

static void mask_free(void *p)
{
    mask_data *d = p;
    if (!d) return;
    mrb_free(d->mask);
    free(d);
}

/* y = m x (apply, the adjoint too: m is real) or m^2 x (normal), the mask
 * repeating over the trailing axes. */
static mrb_status mask_multiply(const mask_data *d, float *dst, const float *src, int squared)
{
    float complex *y = (float complex *)dst;
    const float complex *x = (const float complex *)src;
    const float *m = d->mask;
    size_t count = d->count, reps = d->total / d->count;
    for (size_t r = 0; r < reps; r++) {
        float complex *yr = y + r * count;
        const float complex *xr = x + r * count;
#pragma omp parallel for num_threads(d->nthreads) schedule(static) if (count >= LINOP_PARALLEL_MIN)
        for (size_t i = 0; i < count; i++) yr[i] = (squared ? m[i] * m[i] : m[i]) * xr[i];
    }
    return MRB_OK;
}

static mrb_status mask_apply(void *p, float *dst, const float *src)
{
    return mask_multiply(p, dst, src, 0);
}

static mrb_status mask_normal(void *p, float *dst, const float *src)
{
    return mask_multiply(p, dst, src, 1);
}

mrb_linop *mrb_linop_mask_create(int ndim, const size_t *dims, const float *mask, size_t count, int nthreads)
{
    size_t total = count_dims(ndim, dims);
    if (count == 0 || total % count != 0) {
        mrb_error(MRB_ERR_INVALID, "linop mask: %zu mask values do not tile %zu elements", count, total);
        return NULL;
    }
    mask_data *d = calloc(1, sizeof *d);
    float *m = mrb_malloc(count * sizeof *m);
    if (!d || !m) {
        free(d);
        mrb_free(m);
        mrb_error(MRB_ERR_NOMEM, "linop mask: out of memory");
        return NULL;
    }
    memcpy(m, mask, count * sizeof *m);
    d->mask = m;
    d->count = count;
    d->total = total;
    d->nthreads = nthreads > 0 ? nthreads : 1;
    return mrb_linop_create("mask", ndim, dims, ndim, dims, mask_apply, mask_apply, mask_normal, d, mask_free);
}

/* ---- 2-D FFT --------------------------------------------------------------- */

typedef struct fft_data {
    int ndim;
    size_t dims[MRB_MAX_DIMS];
    size_t total;
    int nthreads;
    float *scratch; /* transposed copy */
} fft_data;

static void fft_free(void *p)
{
    fft_data *d = p;
    if (!d) return;
    mrb_free(d->scratch);
    free(d);
}

static void transpose(float complex *dst, const float complex *src, size_t rows, size_t cols, size_t nb, int nthreads);

/* The 2-D transform as two passes of contiguous 1-D transforms with tiled
 * transposes between them: FFTW_ESTIMATE plans (which the fft module uses
 * so that results are bit-reproducible) handle contiguous rows well but the
 * strided column pass of a 2-D plan about ten times slower (measured for
 * 256x256 with FFTW 3.3.10: 1.7 ms against 0.06 ms per pass). The centring
 * of each 1-D transform is mrb_fft_centered's, so odd sizes work too. */
static mrb_status fft2_run(const fft_data *d, float *dst, const float *src, mrb_fft_dir dir)
{
    size_t nx = d->dims[0], ny = d->dims[1], plane = nx * ny, nb = d->total / plane;
    const float complex *a = (const float complex *)src;
    float complex *o = (float complex *)dst, *t = (float complex *)d->scratch;
    /* y first (separable): the transpose doubles as the copy out of src */
    transpose(t, a, ny, nx, nb, d->nthreads);
    size_t ydims[2] = {ny, nx * nb};
    MRB_TRY(mrb_fft_centered(dir, 1, 2, ydims, d->scratch, d->nthreads));
    transpose(o, t, nx, ny, nb, d->nthreads);
    size_t xdims[2] = {nx, ny * nb};
    return mrb_fft_centered(dir, 1, 2, xdims, dst, d->nthreads);
}

static mrb_status fft2_forward(void *p, float *dst, const float *src)
{
    return fft2_run(p, dst, src, MRB_FFT_FORWARD);
}

static mrb_status fft2_adjoint(void *p, float *dst, const float *src)
{
    return fft2_run(p, dst, src, MRB_FFT_INVERSE);
}

static mrb_status fft_normal(void *p, float *dst, const float *src)
{
    const fft_data *d = p;
    if (dst != src) memcpy(dst, src, d->total * 2 * sizeof(float));
    return MRB_OK;
}

static fft_data *fft_data_new(const char *name, int ndim, const size_t *dims, int nthreads, int min_ndim)
{
    if (ndim < min_ndim || ndim > MRB_MAX_DIMS) {
        mrb_error(MRB_ERR_INVALID, "linop %s: needs %d..%d dimensions, got %d", name, min_ndim, MRB_MAX_DIMS, ndim);
        return NULL;
    }
    fft_data *d = calloc(1, sizeof *d);
    if (!d) {
        mrb_error(MRB_ERR_NOMEM, "linop %s: out of memory", name);
        return NULL;
    }
    d->ndim = ndim;
    memcpy(d->dims, dims, sizeof(size_t) * (size_t)ndim);
    d->total = count_dims(ndim, dims);
    d->nthreads = nthreads > 0 ? nthreads : 1;
    return d;
}

mrb_linop *mrb_linop_fft2_create(int ndim, const size_t *dims, int nthreads)
{
    fft_data *d = fft_data_new("fft2", ndim, dims, nthreads, 2);
    if (!d) return NULL;
    d->scratch = mrb_malloc(d->total * 2 * sizeof(float));
    if (!d->scratch) {
        fft_free(d);
        mrb_error(MRB_ERR_NOMEM, "linop fft2: out of memory");
        return NULL;
    }
    return mrb_linop_create("fft2", ndim, dims, ndim, dims, fft2_forward, fft2_adjoint, fft_normal, d, fft_free);
}

/* ---- temporal FFT ------------------------------------------------------------
 * dims[2] is strided by nx*ny, so each [nx*ny, nt] block is transposed to
 * [nt, nx*ny], transformed as a batch of contiguous 1-D FFTs on the cached
 * plans, and transposed back. */

/* Transpose tile: 8 complex floats = one 64-byte cache line per tile row;
 * larger tiles thrash L1 sets when the stride is a power of two. */
#define FFTT_TILE 8

/* nb row-major [rows][cols] blocks of src into [cols][rows] blocks of dst,
 * in one parallel loop (one fork/join for the whole batch). */
static void transpose(float complex *dst, const float complex *src, size_t rows, size_t cols, size_t nb, int nthreads)
{
    size_t ctiles = (cols + FFTT_TILE - 1) / FFTT_TILE, plane = rows * cols;
#pragma omp parallel for collapse(2) num_threads(nthreads) schedule(static) if (nb * plane >= LINOP_PARALLEL_MIN)
    for (size_t b = 0; b < nb; b++)
        for (size_t ct = 0; ct < ctiles; ct++) {
            const float complex *in = src + b * plane;
            float complex *out = dst + b * plane;
            size_t c0 = ct * FFTT_TILE, c1 = c0 + FFTT_TILE < cols ? c0 + FFTT_TILE : cols;
            for (size_t r0 = 0; r0 < rows; r0 += FFTT_TILE) {
                size_t r1 = r0 + FFTT_TILE < rows ? r0 + FFTT_TILE : rows;
                for (size_t r = r0; r < r1; r++)
                    for (size_t c = c0; c < c1; c++) out[c * rows + r] = in[r * cols + c];
            }
        }
}

static mrb_status fftt_run(const fft_data *d, float *dst, const float *src, mrb_fft_dir dir)
{
    size_t plane = d->dims[0] * d->dims[1], nt = d->dims[2];
    size_t block = plane * nt, nblocks = d->total / block;
    float complex *tmp = (float complex *)d->scratch;
    for (size_t b = 0; b < nblocks; b++) {
        const float complex *in = (const float complex *)src + b * block;
        float complex *out = (float complex *)dst + b * block;
        /* in is [nt rows][plane cols]; tmp becomes [plane rows][nt cols] */
        transpose(tmp, in, nt, plane, 1, d->nthreads);
        size_t fdims[2] = {nt, plane};
        MRB_TRY(mrb_fft_centered(dir, 1, 2, fdims, (float *)tmp, d->nthreads));
        transpose(out, tmp, plane, nt, 1, d->nthreads);
    }
    return MRB_OK;
}

static mrb_status fftt_forward(void *p, float *dst, const float *src)
{
    return fftt_run(p, dst, src, MRB_FFT_FORWARD);
}

static mrb_status fftt_adjoint(void *p, float *dst, const float *src)
{
    return fftt_run(p, dst, src, MRB_FFT_INVERSE);
}

mrb_linop *mrb_linop_fftt_create(int ndim, const size_t *dims, int nthreads)
{
    fft_data *d = fft_data_new("fftt", ndim, dims, nthreads, 3);
    if (!d) return NULL;
    d->scratch = mrb_malloc(dims[0] * dims[1] * dims[2] * 2 * sizeof(float));
    if (!d->scratch) {
        fft_free(d);
        mrb_error(MRB_ERR_NOMEM, "linop fftt: out of memory");
        return NULL;
    }
    return mrb_linop_create("fftt", ndim, dims, ndim, dims, fftt_forward, fftt_adjoint, fft_normal, d, fft_free);
}

/* ---- SENSE ------------------------------------------------------------------- */

typedef struct sense_data {
    size_t frame, nt, nc;
    float complex *sens; /* [frame, nc] */
    float *sum_sq;       /* sum_c |S_c|^2 per pixel */
    int nthreads;
} sense_data;

static void sense_free(void *p)
{
    sense_data *d = p;
    if (!d) return;
    mrb_free(d->sens);
    mrb_free(d->sum_sq);
    free(d);
}

static mrb_status sense_forward(void *p, float *dst, const float *src)
{
    const sense_data *d = p;
    const float complex *x = (const float complex *)src;
    float complex *y = (float complex *)dst;
    size_t frame = d->frame, vol = frame * d->nt, nc = d->nc;
    const float complex *s = d->sens;
#pragma omp parallel for collapse(2) num_threads(d->nthreads) schedule(static) if (vol * nc >= LINOP_PARALLEL_MIN)
    for (size_t c = 0; c < nc; c++)
        for (size_t t = 0; t < d->nt; t++) {
            const float complex *sc = s + c * frame;
            const float complex *xt = x + t * frame;
            float complex *yt = y + c * vol + t * frame;
            for (size_t i = 0; i < frame; i++) yt[i] = sc[i] * xt[i];
        }
    return MRB_OK;
}

/* Pixels per block of the coil combination: the block of x stays in L1
 * while the coils stream through it. */
#define SENSE_BLOCK 1024

static mrb_status sense_adjoint(void *p, float *dst, const float *src)
{
    const sense_data *d = p;
    const float complex *y = (const float complex *)src;
    float complex *x = (float complex *)dst;
    size_t frame = d->frame, vol = frame * d->nt, nc = d->nc;
    size_t nblk = (frame + SENSE_BLOCK - 1) / SENSE_BLOCK;
    const float complex *s = d->sens;
#pragma omp parallel for collapse(2) num_threads(d->nthreads) schedule(static) if (vol * nc >= LINOP_PARALLEL_MIN)
    for (size_t t = 0; t < d->nt; t++)
        for (size_t b = 0; b < nblk; b++) {
            size_t i0 = b * SENSE_BLOCK, i1 = i0 + SENSE_BLOCK < frame ? i0 + SENSE_BLOCK : frame;
            float complex *xt = x + t * frame;
            const float complex *y0 = y + t * frame;
            for (size_t i = i0; i < i1; i++) xt[i] = conjf(s[i]) * y0[i];
            for (size_t c = 1; c < nc; c++) {
                const float complex *sc = s + c * frame, *yc = y + c * vol + t * frame;
                for (size_t i = i0; i < i1; i++) xt[i] += conjf(sc[i]) * yc[i];
            }
        }
    return MRB_OK;
}

static mrb_status sense_normal(void *p, float *dst, const float *src)
{
    const sense_data *d = p;
    const float complex *x = (const float complex *)src;
    float complex *y = (float complex *)dst;
    size_t frame = d->frame;
#pragma omp parallel for collapse(2) num_threads(d->nthreads) schedule(static) if (frame * d->nt >= LINOP_PARALLEL_MIN)
    for (size_t t = 0; t < d->nt; t++)
        for (size_t i = 0; i < frame; i++) y[t * frame + i] = d->sum_sq[i] * x[t * frame + i];
    return MRB_OK;
}

static void sense_load(sense_data *d, const float *sens)
{
    size_t frame = d->frame, nc = d->nc;
    memcpy(d->sens, sens, frame * nc * sizeof *d->sens);
    for (size_t i = 0; i < frame; i++) {
        float acc = 0;
        for (size_t c = 0; c < nc; c++) {
            float complex v = d->sens[c * frame + i];
            acc += crealf(v) * crealf(v) + cimagf(v) * cimagf(v);
        }
        d->sum_sq[i] = acc;
    }
}

mrb_linop *mrb_linop_sense_create(size_t nx, size_t ny, size_t nt, size_t nc, const float *sens, int nthreads)
{
    if (nx == 0 || ny == 0 || nt == 0 || nc == 0) {
        mrb_error(MRB_ERR_INVALID, "linop sense: empty shape %zux%zux%zux%zu", nx, ny, nt, nc);
        return NULL;
    }
    sense_data *d = calloc(1, sizeof *d);
    size_t frame = nx * ny;
    float complex *s = mrb_malloc(frame * nc * sizeof *s);
    float *ss = mrb_malloc(frame * sizeof *ss);
    if (!d || !s || !ss) {
        free(d);
        mrb_free(s);
        mrb_free(ss);
        mrb_error(MRB_ERR_NOMEM, "linop sense: out of memory");
        return NULL;
    }
    d->frame = frame;
    d->nt = nt;
    d->nc = nc;
    d->sens = s;
    d->sum_sq = ss;
    sense_load(d, sens);
    d->nthreads = nthreads > 0 ? nthreads : 1;
    size_t dom[3] = {nx, ny, nt}, cod[4] = {nx, ny, nt, nc};
    return mrb_linop_create("sense", 3, dom, 4, cod, sense_forward, sense_adjoint, sense_normal, d, sense_free);
}

/* ---- chain ------------------------------------------------------------------- */

typedef struct chain_data {
    mrb_linop *first, *second;
    float *mid; /* first's codomain */
} chain_data;

static void chain_free(void *p)
{
    chain_data *d = p;
    if (!d) return;
    mrb_linop_free(d->first);
    mrb_linop_free(d->second);
    mrb_free(d->mid);
    free(d);
}

static mrb_status chain_forward(void *p, float *dst, const float *src)
{
    chain_data *d = p;
    MRB_TRY(mrb_linop_forward(d->first, d->mid, src));
    return mrb_linop_forward(d->second, dst, d->mid);
}

static mrb_status chain_adjoint(void *p, float *dst, const float *src)
{
    chain_data *d = p;
    MRB_TRY(mrb_linop_adjoint(d->second, d->mid, src));
    return mrb_linop_adjoint(d->first, dst, d->mid);
}

/* (B A)^H (B A) = A^H (B^H B) A: uses the inner normal, which for masks and
 * unitary transforms is cheaper than a forward and an adjoint. */
static mrb_status chain_normal(void *p, float *dst, const float *src)
{
    chain_data *d = p;
    MRB_TRY(mrb_linop_forward(d->first, d->mid, src));
    float *tmp = d->first->scratch;
    if (!tmp) {
        tmp = d->first->scratch = mrb_malloc(mrb_linop_codomain_count(d->first) * 2 * sizeof(float));
        if (!tmp) return mrb_error(MRB_ERR_NOMEM, "linop chain: out of memory");
    }
    MRB_TRY(mrb_linop_normal(d->second, tmp, d->mid));
    return mrb_linop_adjoint(d->first, dst, tmp);
}

mrb_linop *mrb_linop_chain_create(mrb_linop *first, mrb_linop *second)
{
    if (!first || !second) {
        mrb_linop_free(first);
        mrb_linop_free(second);
        return NULL; /* the failing constructor set the message */
    }
    if (first->cod_ndim != second->dom_ndim ||
        memcmp(first->cod_dims, second->dom_dims, sizeof(size_t) * (size_t)first->cod_ndim) != 0) {
        mrb_error(MRB_ERR_INVALID, "linop chain: codomain of %s does not match domain of %s", first->name,
                  second->name);
        mrb_linop_free(first);
        mrb_linop_free(second);
        return NULL;
    }
    chain_data *d = calloc(1, sizeof *d);
    float *mid = mrb_malloc(mrb_linop_codomain_count(first) * 2 * sizeof(float));
    if (!d || !mid) {
        free(d);
        mrb_free(mid);
        mrb_linop_free(first);
        mrb_linop_free(second);
        mrb_error(MRB_ERR_NOMEM, "linop chain: out of memory");
        return NULL;
    }
    d->first = first;
    d->second = second;
    d->mid = mid;
    return mrb_linop_create("chain", first->dom_ndim, first->dom_dims, second->cod_ndim, second->cod_dims,
                            chain_forward, chain_adjoint, chain_normal, d, chain_free);
}

mrb_status mrb_linop_sense_set_maps(mrb_linop *op, const float *sens)
{
    if (!op || op->forward != sense_forward)
        return mrb_error(MRB_ERR_INVALID, "linop sense_set_maps: operator is not a sense operator");
    sense_load(op->data, sens);
    return MRB_OK;
}

double mrb_linop_sense_max_power(const mrb_linop *op)
{
    if (!op || op->forward != sense_forward) return 0;
    const sense_data *d = op->data;
    double m = 0;
    for (size_t i = 0; i < d->frame; i++)
        if (d->sum_sq[i] > m) m = d->sum_sq[i];
    return m;
}
