/* 2D and 3D convolution (cross-correlation, PyTorch semantics): im2col over
 * chunks of output positions + OpenBLAS sgemm, with bias and activation fused
 * into one pass after the product. 2D is the 3D code with depth 1.
 * Work is split over (item, chunk of output positions) with OpenMP, each
 * thread with its own im2col block and a single-threaded sgemm. Workspaces
 * are allocated once per layer (grown on first use) and reused; 1x1 stride-1
 * unpadded convolutions skip im2col; 3x3 and kd x 3 x 3 stride-1
 * convolutions padded by 1 in-plane run as Winograd F(2x2, 3x3) instead
 * (below). The input gradient of a stride-1 convolution runs as a
 * convolution with the flipped kernel; the weight
 * gradient sums per-thread partials in thread order (deterministic for a
 * given thread count). */
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "mrbench/nn.h"

/* im2col block per chunk of output positions (floats): 128 Ki floats = 512 KiB,
 * half of a Zen 4 / Sapphire Rapids core's L2, so the block that im2col writes
 * is still cached when sgemm reads it. Chunks are multiples of 16 columns (one
 * AVX-512 vector). */
#define CONV_CHUNK_FLOATS ((size_t)1 << 17)
#define CONV_CHUNK_ALIGN 16
/* The weight gradient accumulates a cout x k block per chunk: longer chunks
 * amortise that block's memory traffic (measured: 4x the forward chunk). */
#define CONV_DW_CHUNK_SCALE 4

typedef struct geom {
    size_t cin, cout;
    size_t d, h, w;    /* input */
    size_t od, oh, ow; /* output */
    size_t kd, kh, kw;
    size_t sd, sh, sw;
    long pd, ph, pw;
    size_t dd, dh, dw;
    size_t k;      /* cin * kd * kh * kw */
    size_t p;      /* od * oh * ow */
    size_t in_vol; /* d * h * w */
} geom;

mrb_conv_cfg mrb_conv_cfg_same(int rank, size_t cin, size_t cout, size_t k, mrb_act act)
{
    mrb_conv_cfg c;
    memset(&c, 0, sizeof c);
    c.rank = rank;
    c.cin = cin;
    c.cout = cout;
    for (int i = 0; i < 3; i++) {
        c.k[i] = (rank == 2 && i == 0) ? 1 : k;
        c.stride[i] = 1;
        c.pad[i] = (rank == 2 && i == 0) ? 0 : k / 2;
        c.dil[i] = 1;
    }
    c.bias = 1;
    c.act = act;
    c.leak = 0.0f;
    return c;
}

mrb_status mrb_conv_create(const mrb_conv_cfg *cfg, mrb_conv **out)
{
    *out = NULL;
    if (cfg->rank != 2 && cfg->rank != 3)
        return mrb_error(MRB_ERR_INVALID, "conv: rank %d (expected 2 or 3)", cfg->rank);
    if (cfg->cin == 0 || cfg->cout == 0)
        return mrb_error(MRB_ERR_INVALID, "conv: zero channels (cin %zu, cout %zu)", cfg->cin, cfg->cout);
    for (int i = 0; i < 3; i++)
        if (cfg->k[i] == 0 || cfg->stride[i] == 0 || cfg->dil[i] == 0)
            return mrb_error(MRB_ERR_INVALID, "conv: kernel, stride and dilation must be >= 1");
    if (cfg->rank == 2 && (cfg->k[0] != 1 || cfg->pad[0] != 0 || cfg->stride[0] != 1))
        return mrb_error(MRB_ERR_INVALID, "conv: a 2D convolution has depth kernel 1, pad 0, stride 1");
    mrb_conv *c = calloc(1, sizeof *c);
    if (!c) return mrb_error(MRB_ERR_NOMEM, "conv: out of memory");
    c->cfg = *cfg;
    size_t ws[5] = {cfg->cout, cfg->cin, cfg->k[0], cfg->k[1], cfg->k[2]};
    if (cfg->rank == 2)
        c->weight = mrb_tensor_create4(cfg->cout, cfg->cin, cfg->k[1], cfg->k[2], 1);
    else
        c->weight = mrb_tensor_create(5, ws, 1);
    if (cfg->bias) {
        size_t bs[1] = {cfg->cout};
        c->bias = mrb_tensor_create(1, bs, 1);
    }
    if (!c->weight || (cfg->bias && !c->bias)) {
        mrb_conv_free(c);
        return MRB_ERR_NOMEM;
    }
    *out = c;
    return MRB_OK;
}

void mrb_conv_free(mrb_conv *c)
{
    if (!c) return;
    mrb_tensor_free(c->weight);
    mrb_tensor_free(c->bias);
    mrb_free(c->work);
    mrb_free(c->wpart);
    mrb_free(c->wino);
    free(c);
}

void mrb_conv_init_he(mrb_conv *c, mrb_rng *rng)
{
    size_t fan_in = c->cfg.cin * c->cfg.k[0] * c->cfg.k[1] * c->cfg.k[2];
    mrb_nn_init_he_normal(c->weight, fan_in, rng);
    if (c->bias) memset(c->bias->data, 0, mrb_tensor_count(c->bias) * sizeof(float));
}

static size_t out_len(size_t in, size_t k, size_t s, size_t p, size_t dil, int *ok)
{
    size_t span = dil * (k - 1) + 1;
    if (in + 2 * p < span) {
        *ok = 0;
        return 0;
    }
    return (in + 2 * p - span) / s + 1;
}

static mrb_status make_geom(const mrb_conv *c, const mrb_tensor *x, geom *g)
{
    const mrb_conv_cfg *f = &c->cfg;
    char buf[64];
    int want = f->rank + 2;
    if (x->ndim != want || x->shape[1] != f->cin)
        return mrb_error(MRB_ERR_INVALID,
                         "conv: input tensor %s does not fit a %dD convolution with %zu input channels",
                         mrb_tensor_shape_str(x, buf, sizeof buf), f->rank, f->cin);
    memset(g, 0, sizeof *g);
    g->cin = f->cin;
    g->cout = f->cout;
    g->d = f->rank == 3 ? x->shape[2] : 1;
    g->h = x->shape[want - 2];
    g->w = x->shape[want - 1];
    g->kd = f->k[0], g->kh = f->k[1], g->kw = f->k[2];
    g->sd = f->stride[0], g->sh = f->stride[1], g->sw = f->stride[2];
    g->pd = (long)f->pad[0], g->ph = (long)f->pad[1], g->pw = (long)f->pad[2];
    g->dd = f->dil[0], g->dh = f->dil[1], g->dw = f->dil[2];
    int ok = 1;
    g->od = out_len(g->d, g->kd, g->sd, f->pad[0], g->dd, &ok);
    g->oh = out_len(g->h, g->kh, g->sh, f->pad[1], g->dh, &ok);
    g->ow = out_len(g->w, g->kw, g->sw, f->pad[2], g->dw, &ok);
    if (!ok)
        return mrb_error(MRB_ERR_INVALID, "conv: input tensor %s is smaller than the kernel",
                         mrb_tensor_shape_str(x, buf, sizeof buf));
    g->k = g->cin * g->kd * g->kh * g->kw;
    g->p = g->od * g->oh * g->ow;
    g->in_vol = g->d * g->h * g->w;
    return MRB_OK;
}

mrb_status mrb_conv_out_shape(const mrb_conv *c, const mrb_tensor *x, size_t shape[MRB_NN_MAX_DIMS])
{
    geom g;
    MRB_TRY(make_geom(c, x, &g));
    shape[0] = x->shape[0];
    shape[1] = g.cout;
    if (c->cfg.rank == 3) {
        shape[2] = g.od;
        shape[3] = g.oh;
        shape[4] = g.ow;
    } else {
        shape[2] = g.oh;
        shape[3] = g.ow;
    }
    return MRB_OK;
}

static int is_pointwise(const geom *g)
{
    return g->kd == 1 && g->kh == 1 && g->kw == 1 && g->sd == 1 && g->sh == 1 && g->sw == 1 && g->pd == 0 &&
           g->ph == 0 && g->pw == 0;
}

/* col[r][j] = x at the input position that kernel tap r sees from output
 * position p0 + j (0 outside the input). Serial: callers parallelise over
 * chunks of output positions. */
static void im2col(const geom *g, const float *x, size_t p0, size_t np, float *col)
{
    size_t kvol = g->kd * g->kh * g->kw;
    for (size_t r = 0; r < g->k; r++) {
        size_t ci = r / kvol, rem = r % kvol;
        size_t a = rem / (g->kh * g->kw), b = (rem / g->kw) % g->kh, c = rem % g->kw;
        const float *xc = x + ci * g->in_vol;
        float *dst = col + r * np;
        size_t p = p0, end = p0 + np;
        long off = (long)(c * g->dw) - g->pw;
        while (p < end) {
            size_t ow = p % g->ow, oh = (p / g->ow) % g->oh, od = p / (g->ow * g->oh);
            size_t run = g->ow - ow < end - p ? g->ow - ow : end - p;
            long id = (long)(od * g->sd + a * g->dd) - g->pd;
            long ih = (long)(oh * g->sh + b * g->dh) - g->ph;
            if (id < 0 || id >= (long)g->d || ih < 0 || ih >= (long)g->h) {
                memset(dst, 0, run * sizeof *dst);
            } else {
                const float *row = xc + ((size_t)id * g->h + (size_t)ih) * g->w;
                if (g->sw == 1) {
                    /* iw = ow + q + off: valid for q in [lo, hi) */
                    long first = (long)ow + off;
                    long lo = first < 0 ? -first : 0;
                    long hi = (long)g->w - first;
                    if (hi > (long)run) hi = (long)run;
                    if (hi < lo) hi = lo;
                    if (lo > (long)run) lo = hi = (long)run;
                    memset(dst, 0, (size_t)lo * sizeof *dst);
                    if (hi > lo) memcpy(dst + lo, row + first + lo, (size_t)(hi - lo) * sizeof *dst);
                    memset(dst + hi, 0, (run - (size_t)hi) * sizeof *dst);
                } else {
                    for (size_t q = 0; q < run; q++) {
                        long iw = (long)((ow + q) * g->sw) + off;
                        dst[q] = (iw >= 0 && iw < (long)g->w) ? row[iw] : 0.0f;
                    }
                }
            }
            dst += run;
            p += run;
        }
    }
}

/* dx += col2im(col): the adjoint of im2col; parallel over input channels so
 * that each thread owns its output planes (deterministic). */
static void col2im_add(const geom *g, const float *col, size_t p0, size_t np, float *dx)
{
    long ncin = (long)g->cin;
    size_t kvol = g->kd * g->kh * g->kw;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long ci = 0; ci < ncin; ci++) {
        float *xc = dx + (size_t)ci * g->in_vol;
        for (size_t rem = 0; rem < kvol; rem++) {
            size_t a = rem / (g->kh * g->kw), b = (rem / g->kw) % g->kh, c = rem % g->kw;
            const float *src = col + ((size_t)ci * kvol + rem) * np;
            size_t p = p0, end = p0 + np;
            long off = (long)(c * g->dw) - g->pw;
            while (p < end) {
                size_t ow = p % g->ow, oh = (p / g->ow) % g->oh, od = p / (g->ow * g->oh);
                size_t run = g->ow - ow < end - p ? g->ow - ow : end - p;
                long id = (long)(od * g->sd + a * g->dd) - g->pd;
                long ih = (long)(oh * g->sh + b * g->dh) - g->ph;
                if (id >= 0 && id < (long)g->d && ih >= 0 && ih < (long)g->h) {
                    float *row = xc + ((size_t)id * g->h + (size_t)ih) * g->w;
                    for (size_t q = 0; q < run; q++) {
                        long iw = (long)((ow + q) * g->sw) + off;
                        if (iw >= 0 && iw < (long)g->w) row[iw] += src[q];
                    }
                }
                src += run;
                p += run;
            }
        }
    }
}

/* Output positions per chunk: the chunk's im2col block (k x np floats) stays
 * within CONV_CHUNK_FLOATS so that it is still in cache when sgemm reads it. */
static size_t chunk_cols(const geom *g)
{
    size_t np = CONV_CHUNK_FLOATS / g->k;
    np = np / CONV_CHUNK_ALIGN * CONV_CHUNK_ALIGN;
    if (np < CONV_CHUNK_ALIGN) np = CONV_CHUNK_ALIGN;
    if (np > g->p) np = g->p;
    return np;
}

static mrb_status ensure_buf(float **buf, size_t *cap, size_t floats)
{
    if (*cap >= floats) return MRB_OK;
    mrb_free(*buf);
    *buf = mrb_malloc(floats * sizeof(float));
    *cap = *buf ? floats : 0;
    if (!*buf) return mrb_error(MRB_ERR_NOMEM, "conv: out of memory for a %zu-float workspace", floats);
    return MRB_OK;
}

/* out[n] (beta 0: =, 1: +=) = act(W * im2col(x[n]) + b) for every item,
 * parallel over (item, chunk of output positions); each thread runs its own
 * im2col block and a single-threaded sgemm, then the bias and activation on
 * the block while it is in cache. */
static void conv_apply(const geom *g, size_t nb, const float *x, const float *w, const float *bias, mrb_act act,
                       float leak, float beta, float *out, float *work, size_t np)
{
    int pointwise = is_pointwise(g);
    size_t nchunks = (g->p + np - 1) / np;
    long total = (long)(nb * nchunks);
#pragma omp parallel num_threads(mrb_nn_threads())
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *col = work + (size_t)tid * g->k * np;
#pragma omp for schedule(static)
        for (long job = 0; job < total; job++) {
            size_t n = (size_t)job / nchunks, p0 = ((size_t)job % nchunks) * np;
            size_t cnt = g->p - p0 < np ? g->p - p0 : np;
            const float *xn = x + n * g->cin * g->in_vol;
            float *yn = out + n * g->cout * g->p + p0;
            if (pointwise) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)cnt, (int)g->k, 1.0f, w,
                            (int)g->k, xn + p0, (int)g->p, beta, yn, (int)g->p);
            } else {
                im2col(g, xn, p0, cnt, col);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)cnt, (int)g->k, 1.0f, w,
                            (int)g->k, col, (int)cnt, beta, yn, (int)g->p);
            }
            if (bias || act != MRB_ACT_NONE)
                for (size_t co = 0; co < g->cout; co++) {
                    float *row = yn + co * g->p, bv = bias ? bias[co] : 0.0f;
                    if (act == MRB_ACT_NONE)
                        for (size_t i = 0; i < cnt; i++) row[i] += bv;
                    else
                        for (size_t i = 0; i < cnt; i++) {
                            float v = row[i] + bv;
                            row[i] = v > 0.0f ? v : leak * v;
                        }
                }
        }
    }
}

/* ---- Winograd F(2x2, 3x3) for 3x3 in-plane, stride 1, dilation 1, padding 1 ----
 * Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016:
 * Y = A^T [ (G g G^T) .* (B^T d B) ] A over 4x4 input tiles giving 2x2 outputs,
 * with the 16 element-wise products summed over channels as 16 sgemms
 * (cout x K) x (K x tiles): 2.25x fewer multiplications than direct.
 * 2D (depth kernel 1, depth a batch axis): K = cin; each thread transforms
 * the input of its chunk of tile rows.
 * 3D (kd x 3 x 3, depth stride and dilation 1, the 2D+t cascade's 3x3x3): the
 * kernel is the sum over its kd depth taps of 3x3 kernels applied to shifted
 * input planes. A chunk is a band of tile rows through every plane: the band
 * of every padded input plane is transformed once into
 * V[e][padded plane][ci][tile] (zero planes for the depth padding), so the
 * kd cin rows that output plane z needs, planes z .. z + kd - 1, lie at one
 * stride and each element is one sgemm with K = kd cin (weights reordered to
 * columns a cin + ci). Against im2col (27 copies of the input), with the
 * vectorised ReLU backward below and the frame-wise data sharing of dc.c, a
 * D5-C5, 16-filter, 64x64x16 training step (forward + backward) went from
 * 1.28 to 0.54 s on one core and from 0.67 to 0.30 s on two (forward 3x,
 * backward 2.1x; idle 2-core AMD EPYC). */

/* Tiles per chunk: the chunk's transformed input and output (16 (K + cout) T
 * floats) stay within WINO_CHUNK_FLOATS (1 MiB, one Zen 4 L2). */
#define WINO_CHUNK_FLOATS ((size_t)1 << 18)

static int winograd_applies(const geom *g)
{
    int depth_ok = g->kd == 1 ? g->pd == 0 : g->dd == 1;
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->sd == 1 && g->dh == 1 && g->dw == 1 &&
           g->ph == 1 && g->pw == 1 && depth_ok;
}

/* 3D: input planes transformed once per item (see above). */
static int wino_planar(const geom *g)
{
    return g->kd > 1;
}

/* Rows of the transformed input per element: channels times depth taps. */
static size_t wino_k(const geom *g)
{
    return g->cin * g->kd;
}

/* Input planes with the depth padding (3D). */
static size_t wino_planes(const geom *g)
{
    return g->d + 2 * (size_t)g->pd;
}

static size_t wino_chunk(const geom *g)
{
    size_t tiles = g->od * ((g->oh + 1) / 2) * ((g->ow + 1) / 2);
    size_t t = WINO_CHUNK_FLOATS / (16 * (wino_k(g) + g->cout));
    t = t / CONV_CHUNK_ALIGN * CONV_CHUNK_ALIGN;
    if (t < CONV_CHUNK_ALIGN) t = CONV_CHUNK_ALIGN;
    return t < tiles ? t : tiles;
}

/* U[e][co][a cin + ci] = (G g G^T)[e] for the 3x3 kernels w[co][ci][a]
 * (kd depth taps; kd = 1 in 2D). */
static void wino_weights(const float *w, size_t cout, size_t cin, size_t kd, float *u)
{
    size_t n = cout * cin * kd;
    for (size_t k = 0; k < n; k++) {
        const float *g = w + 9 * k;
        size_t co = k / (cin * kd), ci = (k / kd) % cin, a = k % kd;
        size_t col = co * cin * kd + a * cin + ci;
        float t[4][3];
        for (int c = 0; c < 3; c++) {
            t[0][c] = g[c];
            t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
            t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
            t[3][c] = g[6 + c];
        }
        for (int r = 0; r < 4; r++) {
            float v[4] = {t[r][0], 0.5f * (t[r][0] + t[r][1] + t[r][2]), 0.5f * (t[r][0] - t[r][1] + t[r][2]), t[r][2]};
            for (int c = 0; c < 4; c++) u[(size_t)(4 * r + c) * n + col] = v[c];
        }
    }
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && defined(__ELF__)
/* Vector versions of the tile transforms for the CPU found at run time (the
 * library itself is built for baseline x86-64). */
#define MRB_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MRB_SIMD_CLONES
#endif

/* Input transform B^T d B of one row of tw tiles of one channel: tile tx
 * reads padded input columns 2tx .. 2tx+3 of rows rows[0..3] (NULL: a zero
 * row); v[e * vstride + tx] receives element e. */
MRB_SIMD_CLONES
static void wino_in_row(const float *const rows[4], size_t w, size_t tw, float *scratch, float *v, size_t vstride)
{
    float *ev = scratch, *od = scratch + (tw + 1), *h = scratch + 2 * (tw + 1);
    for (int r = 0; r < 4; r++) {
        const float *row = rows[r];
        /* padded p[i] = row[i - 1]; E[k] = p[2k], O[k] = p[2k + 1] */
        if (!row) {
            memset(ev, 0, (tw + 1) * sizeof *ev);
            memset(od, 0, (tw + 1) * sizeof *od);
        } else {
            size_t inner = (w - 1) / 2; /* k = 1 .. inner: 2k - 1 and 2k both inside */
            ev[0] = 0.0f;
            od[0] = row[0];
            for (size_t k = 1; k <= inner; k++) {
                ev[k] = row[2 * k - 1];
                od[k] = row[2 * k];
            }
            for (size_t k = inner + 1; k <= tw; k++) {
                ev[k] = 2 * k - 1 < w ? row[2 * k - 1] : 0.0f;
                od[k] = 2 * k < w ? row[2 * k] : 0.0f;
            }
        }
        float *restrict h0 = h + (4 * r + 0) * tw, *restrict h1 = h + (4 * r + 1) * tw,
                        *restrict h2 = h + (4 * r + 2) * tw, *restrict h3 = h + (4 * r + 3) * tw;
        const float *restrict e_ = ev, *restrict o_ = od;
#pragma omp simd
        for (size_t t = 0; t < tw; t++) {
            h0[t] = e_[t] - e_[t + 1];
            h1[t] = o_[t] + e_[t + 1];
            h2[t] = e_[t + 1] - o_[t];
            h3[t] = o_[t] - o_[t + 1];
        }
    }
    for (int c = 0; c < 4; c++) {
        const float *restrict r0 = h + c * tw, *restrict r1 = h + (4 + c) * tw, *restrict r2 = h + (8 + c) * tw,
                              *restrict r3 = h + (12 + c) * tw;
        float *restrict v0 = v + (size_t)c * vstride, *restrict v1 = v + (size_t)(4 + c) * vstride;
        float *restrict v2 = v + (size_t)(8 + c) * vstride, *restrict v3 = v + (size_t)(12 + c) * vstride;
#pragma omp simd
        for (size_t t = 0; t < tw; t++) {
            v0[t] = r0[t] - r2[t];
            v1[t] = r1[t] + r2[t];
            v2[t] = r2[t] - r1[t];
            v3[t] = r1[t] - r3[t];
        }
    }
}

/* Output transform A^T m A of one row of tw tiles of one channel (element e
 * at m[e * mstride + tx]), plus bias and activation, into output rows
 * out0 and out1 (out1 NULL past the bottom edge) of width ow. */
MRB_SIMD_CLONES
static void wino_out_row(const float *m, size_t mstride, size_t tw, float bias, int relu, float leak, int accumulate,
                         float *scratch, float *out0, float *out1, size_t ow)
{
    float *a = scratch; /* 4 rows of tw: o00, o01, o10, o11 */
    const float
        *restrict q0 = m,
                  *restrict q1 = m + mstride, *restrict q2 = m + 2 * mstride, *restrict q3 = m + 3 * mstride,
                  *restrict q4 = m + 4 * mstride, *restrict q5 = m + 5 * mstride, *restrict q6 = m + 6 * mstride,
                  *restrict q7 = m + 7 * mstride, *restrict q8 = m + 8 * mstride, *restrict q9 = m + 9 * mstride,
                  *restrict q10 = m + 10 * mstride, *restrict q11 = m + 11 * mstride, *restrict q12 = m + 12 * mstride,
                  *restrict q13 = m + 13 * mstride, *restrict q14 = m + 14 * mstride, *restrict q15 = m + 15 * mstride;
    float *restrict a0 = a, *restrict a1 = a + tw, *restrict a2 = a + 2 * tw, *restrict a3 = a + 3 * tw;
#pragma omp simd
    for (size_t t = 0; t < tw; t++) {
        float s0 = q0[t] + q4[t] + q8[t], s1 = q1[t] + q5[t] + q9[t];
        float s2 = q2[t] + q6[t] + q10[t], s3 = q3[t] + q7[t] + q11[t];
        float d0 = q4[t] - q8[t] - q12[t], d1 = q5[t] - q9[t] - q13[t];
        float d2 = q6[t] - q10[t] - q14[t], d3 = q7[t] - q11[t] - q15[t];
        a0[t] = s0 + s1 + s2 + bias;
        a1[t] = s1 - s2 - s3 + bias;
        a2[t] = d0 + d1 + d2 + bias;
        a3[t] = d1 - d2 - d3 + bias;
    }
    if (relu)
        for (size_t t = 0; t < 4 * tw; t++) a[t] = a[t] > 0.0f ? a[t] : leak * a[t];
    for (int r = 0; r < 2; r++) {
        float *restrict o = r ? out1 : out0;
        if (!o) continue;
        const float *restrict even = a + (size_t)(2 * r) * tw, *restrict odd = even + tw;
        size_t full = ow / 2;
        if (accumulate) {
            for (size_t t = 0; t < full; t++) {
                o[2 * t] += even[t];
                o[2 * t + 1] += odd[t];
            }
            if (ow % 2) o[ow - 1] += even[full];
        } else {
            for (size_t t = 0; t < full; t++) {
                o[2 * t] = even[t];
                o[2 * t + 1] = odd[t];
            }
            if (ow % 2) o[ow - 1] = even[full];
        }
    }
}

/* Scratch floats per thread for the row transforms. */
static size_t wino_scratch(size_t tw)
{
    return 2 * (tw + 1) + 16 * tw;
}

/* Tile rows per chunk: 2D, whole rows of tiles over the planes, the chunk's
 * transformed input and products within WINO_CHUNK_FLOATS; 3D, a band of
 * tile rows in every plane, whose transformed input (all padded planes) and
 * one plane's products stay within it. */
static size_t wino_rows(const geom *g)
{
    size_t tw = (g->ow + 1) / 2, th = (g->oh + 1) / 2, rows, total;
    if (wino_planar(g)) {
        rows = WINO_CHUNK_FLOATS / (16 * (wino_planes(g) * g->cin + g->cout)) / tw;
        total = th;
    } else {
        rows = wino_chunk(g) / tw;
        total = g->od * th;
    }
    if (rows < 1) rows = 1;
    return rows < total ? rows : total;
}

/* Floats per thread: transformed input of a chunk, products of a chunk (of
 * one plane in 3D), row-transform scratch. */
static size_t wino_work(const geom *g, size_t nthr)
{
    size_t tw = (g->ow + 1) / 2, tchunk = wino_rows(g) * tw;
    size_t vin = wino_planar(g) ? wino_planes(g) * g->cin : wino_k(g);
    return nthr * (16 * (vin + g->cout) * tchunk + wino_scratch(tw));
}

/* Chunks per item: 2D over the od * th tile rows, 3D over th. */
static size_t wino_nchunks(const geom *g)
{
    size_t th = (g->oh + 1) / 2, rows_per = wino_rows(g), trows = wino_planar(g) ? th : g->od * th;
    return (trows + rows_per - 1) / rows_per;
}

/* 2D: transformed input of tile rows r0 .. r0 + nrows - 1 of item xn (row R:
 * plane R / th, tile row R % th): element e of channel ci at
 * v[(e cin + ci) tchunk + rr tw + tx]. */
static void wino_gather_rows(const geom *g, const float *xn, size_t r0, size_t nrows, size_t tchunk, float *scratch,
                             float *v)
{
    size_t th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2, plane = g->h * g->w;
    for (size_t ci = 0; ci < g->cin; ci++)
        for (size_t rr = 0; rr < nrows; rr++) {
            size_t R = r0 + rr, dz = R / th, ty = R % th;
            const float *src = xn + ci * g->in_vol + dz * plane;
            const float *rows[4];
            for (int r = 0; r < 4; r++) {
                long yy = 2 * (long)ty - 1 + r;
                rows[r] = (yy >= 0 && yy < (long)g->h) ? src + (size_t)yy * g->w : NULL;
            }
            wino_in_row(rows, g->w, tw, scratch, v + ci * tchunk + rr * tw, g->cin * tchunk);
        }
}

/* 3D: tile rows ty0 .. ty0 + nrows - 1 of every padded input plane p of item
 * xn, each transformed once: element e of channel ci at
 * v[((e P + p) cin + ci) tchunk + rr tw + tx] (P padded planes), so that the
 * kd cin rows of output plane z (planes z .. z + kd - 1) lie at stride tchunk
 * from ((e P + z) cin) tchunk. */
static void wino_gather_band(const geom *g, const float *xn, size_t ty0, size_t nrows, size_t tchunk, float *scratch,
                             float *v)
{
    size_t tw = (g->ow + 1) / 2, plane = g->h * g->w, P = wino_planes(g), cin = g->cin;
    for (size_t p = 0; p < P; p++)
        for (size_t ci = 0; ci < cin; ci++) {
            float *dst = v + (p * cin + ci) * tchunk;
            if (p < (size_t)g->pd || p >= g->d + (size_t)g->pd) {
                for (size_t e = 0; e < 16; e++) memset(dst + e * P * cin * tchunk, 0, nrows * tw * sizeof(float));
                continue;
            }
            const float *src = xn + ci * g->in_vol + (p - (size_t)g->pd) * plane;
            for (size_t rr = 0; rr < nrows; rr++) {
                const float *rows[4];
                for (int r = 0; r < 4; r++) {
                    long yy = 2 * (long)(ty0 + rr) - 1 + r;
                    rows[r] = (yy >= 0 && yy < (long)g->h) ? src + (size_t)yy * g->w : NULL;
                }
                wino_in_row(rows, g->w, tw, scratch, dst + rr * tw, P * cin * tchunk);
            }
        }
}

/* One chunk's products m[e][co][tile] = U[e] V[e] for output plane z (3D)
 * or the chunk's rows (2D). */
static void wino_products(const geom *g, const float *u, const float *v, size_t z, size_t cnt, size_t tchunk, float *m)
{
    size_t K = wino_k(g), cout = g->cout, P = wino_planes(g);
    for (size_t e = 0; e < 16; e++) {
        const float *b = wino_planar(g) ? v + (e * P + z) * g->cin * tchunk : v + e * K * tchunk;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout, (int)cnt, (int)K, 1.0f, u + e * cout * K,
                    (int)K, b, (int)tchunk, 0.0f, m + e * cout * tchunk, (int)tchunk);
    }
}

/* Output transform of the products of tile rows R0 .. R0 + nrows - 1 (row R:
 * output plane R / th) into yn. */
static void wino_scatter(const geom *g, const float *m, size_t R0, size_t nrows, size_t tchunk, const float *bias,
                         int relu, float leak, int accumulate, float *scratch, float *yn)
{
    size_t th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2, oplane = g->oh * g->ow;
    for (size_t co = 0; co < g->cout; co++)
        for (size_t rr = 0; rr < nrows; rr++) {
            size_t R = R0 + rr, dz = R / th, oy = 2 * (R % th);
            float *o0 = yn + (co * g->od + dz) * oplane + oy * g->ow, *o1 = oy + 1 < g->oh ? o0 + g->ow : NULL;
            wino_out_row(m + co * tchunk + rr * tw, g->cout * tchunk, tw, bias ? bias[co] : 0.0f, relu, leak,
                         accumulate, scratch, o0, o1, g->ow);
        }
}

/* out[n] (+)= act(conv(x[n]) + b) with U from wino_weights; parallel over
 * (item, chunk). */
static void wino_apply(const geom *g, size_t nb, const float *x, const float *u, const float *bias, mrb_act act,
                       float leak, float beta, float *out, float *work)
{
    size_t th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2, rows_per = wino_rows(g), tchunk = rows_per * tw;
    size_t nchunks = wino_nchunks(g), cin = g->cin, cout = g->cout, oplane = g->oh * g->ow;
    size_t vin = wino_planar(g) ? wino_planes(g) * cin : wino_k(g), trows = wino_planar(g) ? th : g->od * th;
    size_t per_thread = wino_work(g, 1);
    long total = (long)(nb * nchunks);
    int relu = act != MRB_ACT_NONE;
#pragma omp parallel num_threads(mrb_nn_threads())
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *v = work + (size_t)tid * per_thread;
        float *m = v + 16 * vin * tchunk;
        float *scratch = m + 16 * cout * tchunk;
#pragma omp for schedule(static)
        for (long job = 0; job < total; job++) {
            size_t n = (size_t)job / nchunks, r0 = ((size_t)job % nchunks) * rows_per;
            size_t nrows = trows - r0 < rows_per ? trows - r0 : rows_per, cnt = nrows * tw;
            const float *xn = x + n * cin * g->in_vol;
            float *yn = out + n * cout * g->od * oplane;
            if (wino_planar(g)) {
                wino_gather_band(g, xn, r0, nrows, tchunk, scratch, v);
                for (size_t z = 0; z < g->od; z++) {
                    wino_products(g, u, v, z, cnt, tchunk, m);
                    wino_scatter(g, m, z * th + r0, nrows, tchunk, bias, relu, leak, beta != 0.0f, scratch, yn);
                }
            } else {
                wino_gather_rows(g, xn, r0, nrows, tchunk, scratch, v);
                wino_products(g, u, v, 0, cnt, tchunk, m);
                wino_scatter(g, m, r0, nrows, tchunk, bias, relu, leak, beta != 0.0f, scratch, yn);
            }
        }
    }
}

/* Weight gradient through the same Winograd map: with M = U .* V and
 * Y = A^T M A, dM = A dY A^T, dU = sum over tiles dM .* V and dg = G^T dU G. */

/* dM = A dY A^T for one row of tw tiles of one output channel: output-gradient
 * rows y0 and y1 (NULL past the bottom edge) of width ow; element e goes to
 * dm[e * stride + tx]. */
MRB_SIMD_CLONES
static void wino_grad_row(const float *y0, const float *y1, size_t ow, size_t tw, float *scratch, float *dm,
                          size_t stride)
{
    float *restrict a = scratch, *restrict b = scratch + tw, *restrict c = scratch + 2 * tw,
                    *restrict d = scratch + 3 * tw;
    for (size_t t = 0; t < tw; t++) {
        a[t] = 2 * t < ow ? y0[2 * t] : 0.0f;
        b[t] = 2 * t + 1 < ow ? y0[2 * t + 1] : 0.0f;
        c[t] = y1 && 2 * t < ow ? y1[2 * t] : 0.0f;
        d[t] = y1 && 2 * t + 1 < ow ? y1[2 * t + 1] : 0.0f;
    }
    /* rows of A = [[1, 0], [1, 1], [1, -1], [0, -1]] */
    static const float arow[4][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {1.0f, -1.0f}, {0.0f, -1.0f}};
    for (int r = 0; r < 4; r++) {
        float *restrict m0 = dm + (size_t)(4 * r) * stride, *restrict m1 = dm + (size_t)(4 * r + 1) * stride;
        float *restrict m2 = dm + (size_t)(4 * r + 2) * stride, *restrict m3 = dm + (size_t)(4 * r + 3) * stride;
        const float ka = arow[r][0], kc = arow[r][1];
#pragma omp simd
        for (size_t t = 0; t < tw; t++) {
            /* row r of A applied to the tile's two rows, for both columns */
            float p0 = ka * a[t] + kc * c[t];
            float p1 = ka * b[t] + kc * d[t];
            m0[t] = p0;
            m1[t] = p0 + p1;
            m2[t] = p0 - p1;
            m3[t] = -p1;
        }
    }
}

/* dw[co][ci][a] (3x3) += G^T dU G for dU[e][co][a cin + ci] (the adjoint of
 * wino_weights). */
static void wino_weights_adjoint(const float *du, size_t cout, size_t cin, size_t kd, float *dw)
{
    size_t n = cout * cin * kd;
    for (size_t k = 0; k < n; k++) {
        size_t co = k / (cin * kd), ci = (k / kd) % cin, a = k % kd;
        size_t col = co * cin * kd + a * cin + ci;
        float q[4][4], t[3][4];
        for (int e = 0; e < 16; e++) q[e / 4][e % 4] = du[(size_t)e * n + col];
        for (int c = 0; c < 4; c++) {
            t[0][c] = q[0][c] + 0.5f * (q[1][c] + q[2][c]);
            t[1][c] = 0.5f * (q[1][c] - q[2][c]);
            t[2][c] = 0.5f * (q[1][c] + q[2][c]) + q[3][c];
        }
        float *g = dw + 9 * k;
        for (int r = 0; r < 3; r++) {
            g[3 * r + 0] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
            g[3 * r + 1] += 0.5f * (t[r][1] - t[r][2]);
            g[3 * r + 2] += 0.5f * (t[r][1] + t[r][2]) + t[r][3];
        }
    }
}

/* dM = A dY A^T of tile rows R0 .. R0 + nrows - 1 (row R: output plane R / th)
 * of the output gradient dyn. */
static void wino_grad_rows(const geom *g, const float *dyn, size_t R0, size_t nrows, size_t tchunk, float *scratch,
                           float *m)
{
    size_t th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2, oplane = g->oh * g->ow;
    for (size_t co = 0; co < g->cout; co++)
        for (size_t rr = 0; rr < nrows; rr++) {
            size_t R = R0 + rr, dz = R / th, oy = 2 * (R % th);
            const float *d0 = dyn + (co * g->od + dz) * oplane + oy * g->ow;
            const float *d1 = oy + 1 < g->oh ? d0 + g->ow : NULL;
            wino_grad_row(d0, d1, g->ow, tw, scratch, m + co * tchunk + rr * tw, g->cout * tchunk);
        }
}

/* du[e] += dM[e] V[e]^T for output plane z (3D) or the chunk's rows (2D). */
static void wino_products_grad(const geom *g, const float *m, const float *v, size_t z, size_t cnt, size_t tchunk,
                               float *du)
{
    size_t K = wino_k(g), cout = g->cout, P = wino_planes(g);
    for (size_t e = 0; e < 16; e++) {
        const float *b = wino_planar(g) ? v + (e * P + z) * g->cin * tchunk : v + e * K * tchunk;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout, (int)K, (int)cnt, 1.0f, m + e * cout * tchunk,
                    (int)tchunk, b, (int)tchunk, 1.0f, du + e * cout * K, (int)K);
    }
}

/* dw += weight gradient of the Winograd convolution from x and dy; per-thread
 * partial dU (16 cout K floats each in part), reduced in thread order. */
static void wino_weight_grad(const geom *g, size_t nb, const float *x, const float *dy, float *dw, float *work,
                             float *part)
{
    size_t th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2, rows_per = wino_rows(g), tchunk = rows_per * tw;
    size_t nchunks = wino_nchunks(g), cin = g->cin, cout = g->cout, K = wino_k(g), oplane = g->oh * g->ow;
    size_t vin = wino_planar(g) ? wino_planes(g) * cin : K, trows = wino_planar(g) ? th : g->od * th;
    size_t per_thread = wino_work(g, 1), nu = 16 * cout * K, nthr = (size_t)mrb_nn_threads();
    long total = (long)(nb * nchunks);
    memset(part, 0, nthr * nu * sizeof(float));
#pragma omp parallel num_threads(mrb_nn_threads())
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *v = work + (size_t)tid * per_thread;
        float *m = v + 16 * vin * tchunk;
        float *scratch = m + 16 * cout * tchunk;
        float *du = part + (size_t)tid * nu;
#pragma omp for schedule(static)
        for (long job = 0; job < total; job++) {
            size_t n = (size_t)job / nchunks, r0 = ((size_t)job % nchunks) * rows_per;
            size_t nrows = trows - r0 < rows_per ? trows - r0 : rows_per, cnt = nrows * tw;
            const float *xn = x + n * cin * g->in_vol, *dyn = dy + n * cout * g->od * oplane;
            if (wino_planar(g)) {
                wino_gather_band(g, xn, r0, nrows, tchunk, scratch, v);
                for (size_t z = 0; z < g->od; z++) {
                    wino_grad_rows(g, dyn, z * th + r0, nrows, tchunk, scratch, m);
                    wino_products_grad(g, m, v, z, cnt, tchunk, du);
                }
            } else {
                wino_gather_rows(g, xn, r0, nrows, tchunk, scratch, v);
                wino_grad_rows(g, dyn, r0, nrows, tchunk, scratch, m);
                wino_products_grad(g, m, v, 0, cnt, tchunk, du);
            }
        }
    }
    for (size_t t = 1; t < nthr; t++)
        for (size_t i = 0; i < nu; i++) part[i] += part[t * nu + i];
    wino_weights_adjoint(part, cout, cin, g->kd, dw);
}

/* Runs f with OpenBLAS single-threaded: the nn parallelises over output
 * chunks itself; an OpenBLAS thread pool spinning beside the OpenMP one
 * measurably slows both down on few cores. */
static int blas_single_begin(void)
{
    int prev = openblas_get_num_threads();
    if (prev != 1) openblas_set_num_threads(1);
    return prev;
}

static void blas_single_end(int prev)
{
    if (prev != 1) openblas_set_num_threads(prev);
}

mrb_status mrb_conv_forward(mrb_conv *c, const mrb_tensor *x, mrb_tensor *y)
{
    geom g;
    MRB_TRY(make_geom(c, x, &g));
    size_t want[MRB_NN_MAX_DIMS];
    MRB_TRY(mrb_conv_out_shape(c, x, want));
    for (int i = 0; i < y->ndim; i++)
        if (y->ndim != x->ndim || y->shape[i] != want[i]) {
            char buf[64];
            return mrb_error(MRB_ERR_INVALID, "conv: output tensor %s has the wrong shape",
                             mrb_tensor_shape_str(y, buf, sizeof buf));
        }
    size_t np = chunk_cols(&g), nt = (size_t)mrb_nn_threads();
    mrb_act act = c->cfg.act;
    float leak = act == MRB_ACT_LEAKY_RELU ? c->cfg.leak : 0.0f;
    if (winograd_applies(&g)) {
        MRB_TRY(ensure_buf(&c->work, &c->work_cap, wino_work(&g, nt)));
        MRB_TRY(ensure_buf(&c->wino, &c->wino_cap, 16 * wino_k(&g) * g.cout));
        wino_weights(c->weight->data, g.cout, g.cin, g.kd, c->wino);
        int prev = blas_single_begin();
        wino_apply(&g, x->shape[0], x->data, c->wino, c->bias ? c->bias->data : NULL, act, leak, 0.0f, y->data,
                   c->work);
        blas_single_end(prev);
        return MRB_OK;
    }
    if (!is_pointwise(&g)) MRB_TRY(ensure_buf(&c->work, &c->work_cap, nt * g.k * np));
    int prev = blas_single_begin();
    conv_apply(&g, x->shape[0], x->data, c->weight->data, c->bias ? c->bias->data : NULL, act, leak, 0.0f, y->data,
               c->work, np);
    blas_single_end(prev);
    return MRB_OK;
}

/* The input gradient of a stride-1 convolution is itself a stride-1
 * convolution of dy with the flipped, transposed kernel and padding
 * dil (k - 1) - pad: true when that padding is not negative. */
static int transposed_is_conv(const geom *g)
{
    return g->sd == 1 && g->sh == 1 && g->sw == 1 && g->pd <= (long)(g->dd * (g->kd - 1)) &&
           g->ph <= (long)(g->dh * (g->kh - 1)) && g->pw <= (long)(g->dw * (g->kw - 1));
}

static geom transposed_geom(const geom *g)
{
    geom t = *g;
    t.cin = g->cout;
    t.cout = g->cin;
    t.d = g->od, t.h = g->oh, t.w = g->ow;
    t.od = g->d, t.oh = g->h, t.ow = g->w;
    t.pd = (long)(g->dd * (g->kd - 1)) - g->pd;
    t.ph = (long)(g->dh * (g->kh - 1)) - g->ph;
    t.pw = (long)(g->dw * (g->kw - 1)) - g->pw;
    t.k = t.cin * g->kd * g->kh * g->kw;
    t.p = g->d * g->h * g->w;
    t.in_vol = g->od * g->oh * g->ow;
    return t;
}

/* Workspaces for the backward pieces of geometry g with nb items. */
static mrb_status backward_buffers(mrb_conv *c, const geom *g, int need_dx)
{
    size_t nthr = (size_t)mrb_nn_threads(), nw = g->cout * g->k;
    size_t np = chunk_cols(g) * CONV_DW_CHUNK_SCALE;
    if (np > g->p) np = g->p;
    geom tg = transposed_geom(g);
    int tconv = need_dx && transposed_is_conv(g);
    size_t need = nthr * g->k * np;
    if (tconv && nthr * tg.k * chunk_cols(&tg) > need) need = nthr * tg.k * chunk_cols(&tg);
    if (tconv && winograd_applies(&tg)) {
        if (wino_work(&tg, nthr) > need) need = wino_work(&tg, nthr);
        MRB_TRY(ensure_buf(&c->wino, &c->wino_cap, 16 * wino_k(&tg) * tg.cout));
    }
    size_t npart = nthr * nw + (tconv ? nw : 0);
    if (winograd_applies(g)) {
        if (wino_work(g, nthr) > need) need = wino_work(g, nthr);
        size_t nu = 16 * g->cout * wino_k(g);
        if (nthr * nu > npart) npart = nthr * nu;
        if (tconv && nthr * nu + nw > npart) npart = nthr * nu + nw;
    }
    MRB_TRY(ensure_buf(&c->work, &c->work_cap, need));
    return ensure_buf(&c->wpart, &c->wpart_cap, npart);
}

/* dw += d loss / d W from inputs x and output gradients dy (nb items):
 * per-thread partial sums over chunks, reduced in thread order. */
static void conv_weight_grad(mrb_conv *c, const geom *g, size_t nb, const float *x, const float *dy, float *dw)
{
    size_t nthr = (size_t)mrb_nn_threads(), nw = g->cout * g->k;
    size_t np = chunk_cols(g) * CONV_DW_CHUNK_SCALE;
    if (np > g->p) np = g->p;
    memset(c->wpart, 0, nthr * nw * sizeof(float));
    int pointwise = is_pointwise(g);
    size_t nchunks = (g->p + np - 1) / np;
    long total = (long)(nb * nchunks);
#pragma omp parallel num_threads(mrb_nn_threads())
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *col = c->work + (size_t)tid * g->k * np, *dwp = c->wpart + (size_t)tid * nw;
#pragma omp for schedule(static)
        for (long job = 0; job < total; job++) {
            size_t n = (size_t)job / nchunks, p0 = ((size_t)job % nchunks) * np;
            size_t cnt = g->p - p0 < np ? g->p - p0 : np;
            const float *xn = x + n * g->cin * g->in_vol;
            const float *dyn = dy + n * g->cout * g->p + p0;
            const float *src = xn + p0;
            int ld = (int)g->p;
            if (!pointwise) {
                im2col(g, xn, p0, cnt, col);
                src = col;
                ld = (int)cnt;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->cout, (int)g->k, (int)cnt, 1.0f, dyn,
                        (int)g->p, src, ld, 1.0f, dwp, (int)g->k);
        }
    }
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long i = 0; i < (long)nw; i++) {
        float s = 0.0f;
        for (size_t t = 0; t < nthr; t++) s += c->wpart[t * nw + (size_t)i];
        dw[i] += s;
    }
}

/* dx += W^T applied to dy (the adjoint of the convolution without bias). */
static void conv_data_grad(mrb_conv *c, const geom *g, size_t nb, const float *dy, float *dx)
{
    size_t nthr = (size_t)mrb_nn_threads(), nw = g->cout * g->k;
    const float *w = c->weight->data;
    if (transposed_is_conv(g)) {
        /* dx += conv(dy, W flipped in space, cin and cout swapped) */
        geom tg = transposed_geom(g);
        float *wf = c->wpart + nthr * nw;
        size_t kvol = g->kd * g->kh * g->kw;
        for (size_t co = 0; co < g->cout; co++)
            for (size_t ci = 0; ci < g->cin; ci++)
                for (size_t r = 0; r < kvol; r++)
                    wf[(ci * g->cout + co) * kvol + (kvol - 1 - r)] = w[(co * g->cin + ci) * kvol + r];
        if (winograd_applies(&tg)) {
            wino_weights(wf, tg.cout, tg.cin, tg.kd, c->wino);
            wino_apply(&tg, nb, dy, c->wino, NULL, MRB_ACT_NONE, 0.0f, 1.0f, dx, c->work);
        } else {
            conv_apply(&tg, nb, dy, wf, NULL, MRB_ACT_NONE, 0.0f, 1.0f, dx, c->work, chunk_cols(&tg));
        }
        return;
    }
    /* general (strided) case: dcol = W^T dy per chunk, scattered by col2im */
    size_t np = chunk_cols(g);
    for (size_t n = 0; n < nb; n++) {
        const float *dyn = dy + n * g->cout * g->p;
        float *dxn = dx + n * g->cin * g->in_vol;
        for (size_t p0 = 0; p0 < g->p; p0 += np) {
            size_t cnt = g->p - p0 < np ? g->p - p0 : np;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->k, (int)cnt, (int)g->cout, 1.0f, w, (int)g->k,
                        dyn + p0, (int)g->p, 0.0f, c->work, (int)cnt);
            col2im_add(g, c->work, p0, cnt, dxn);
        }
    }
}

/* db[co] += sum of dy over items and positions (rows of length p). */
static mrb_status bias_grad(const float *dy, size_t nb, size_t cout, size_t p, float *db)
{
    double *bsum = calloc(nb * cout, sizeof *bsum);
    if (!bsum) return mrb_error(MRB_ERR_NOMEM, "conv: out of memory");
    long rows = (long)(nb * cout);
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long r = 0; r < rows; r++) {
        double s = 0.0;
        const float *d = dy + (size_t)r * p;
        for (size_t i = 0; i < p; i++) s += d[i];
        bsum[r] = s;
    }
    for (size_t n = 0; n < nb; n++)
        for (size_t co = 0; co < cout; co++) db[co] += (float)bsum[n * cout + co];
    free(bsum);
    return MRB_OK;
}

/* dy *= 1 where y > 0, leak elsewhere: the (leaky) ReLU's backward from its
 * output. A select rather than a branch, so that it vectorises: a branch on
 * the sign of activations is mispredicted half the time (it took 9 % of a
 * 2D+t cascade training step). */
MRB_SIMD_CLONES
static void act_backward_block(const float *restrict y, float *restrict dy, size_t n, float leak)
{
    for (size_t i = 0; i < n; i++) dy[i] = y[i] > 0.0f ? dy[i] : leak * dy[i];
}

static void act_backward(const float *y, float *dy, size_t n, float leak)
{
    /* blocks of 4096 floats for the threads */
    long nblocks = (long)((n + 4095) / 4096);
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long b = 0; b < nblocks; b++) {
        size_t i0 = (size_t)b * 4096, cnt = n - i0 < 4096 ? n - i0 : 4096;
        act_backward_block(y + i0, dy + i0, cnt, leak);
    }
}

mrb_status mrb_conv_backward(mrb_conv *c, const mrb_tensor *x, mrb_tensor *y)
{
    geom g;
    MRB_TRY(make_geom(c, x, &g));
    if (!y->grad) return mrb_error(MRB_ERR_INVALID, "conv: backward needs the output gradient");
    size_t nb = x->shape[0];
    MRB_TRY(backward_buffers(c, &g, x->grad != NULL));
    mrb_act act = c->cfg.act;
    if (act != MRB_ACT_NONE) /* undo the fused activation from its output */
        act_backward(y->data, y->grad, nb * g.cout * g.p, act == MRB_ACT_LEAKY_RELU ? c->cfg.leak : 0.0f);
    if (c->bias) MRB_TRY(bias_grad(y->grad, nb, g.cout, g.p, c->bias->grad));
    int prev = blas_single_begin();
    if (winograd_applies(&g))
        wino_weight_grad(&g, nb, x->data, y->grad, c->weight->grad, c->work, c->wpart);
    else
        conv_weight_grad(c, &g, nb, x->data, y->grad, c->weight->grad);
    if (x->grad) conv_data_grad(c, &g, nb, y->grad, x->grad);
    blas_single_end(prev);
    return MRB_OK;
}

/* ---- transposed convolution: the adjoint of a convolution, PyTorch
 * ConvTranspose semantics (weight [cin, cout, k...], output length
 * (in - 1) s - 2 p + dil (k - 1) + 1). It runs on a convolution `inner` whose
 * input is this layer's output and whose output is this layer's input. */

mrb_status mrb_convt_create(const mrb_conv_cfg *cfg, mrb_conv **out)
{
    /* the inner convolution maps cout -> cin, weight [cin, cout, k...] as PyTorch stores it */
    mrb_conv_cfg inner = *cfg;
    inner.cin = cfg->cout;
    inner.cout = cfg->cin;
    inner.bias = 0;
    inner.act = MRB_ACT_NONE;
    MRB_TRY(mrb_conv_create(&inner, out));
    (*out)->cfg.act = cfg->act;
    (*out)->cfg.leak = cfg->leak;
    if (cfg->bias) {
        size_t bs[1] = {cfg->cout};
        (*out)->bias = mrb_tensor_create(1, bs, 1);
        if (!(*out)->bias) {
            mrb_conv_free(*out);
            *out = NULL;
            return MRB_ERR_NOMEM;
        }
        (*out)->cfg.bias = 1;
    }
    return MRB_OK;
}

mrb_status mrb_convt_out_shape(const mrb_conv *c, const mrb_tensor *x, size_t shape[MRB_NN_MAX_DIMS])
{
    const mrb_conv_cfg *f = &c->cfg;
    char buf[64];
    int want = f->rank + 2;
    if (x->ndim != want || x->shape[1] != f->cout)
        return mrb_error(MRB_ERR_INVALID, "transposed conv: input tensor %s does not have %zu channels",
                         mrb_tensor_shape_str(x, buf, sizeof buf), f->cout);
    shape[0] = x->shape[0];
    shape[1] = f->cin;
    for (int i = 0; i < f->rank; i++) {
        int a = 3 - f->rank + i; /* cfg axis */
        size_t in = x->shape[2 + i];
        size_t len = (in - 1) * f->stride[a] + f->dil[a] * (f->k[a] - 1) + 1;
        if (len <= 2 * f->pad[a])
            return mrb_error(MRB_ERR_INVALID, "transposed conv: padding %zu leaves no output", f->pad[a]);
        shape[2 + i] = len - 2 * f->pad[a];
    }
    return MRB_OK;
}

/* Geometry of the inner convolution: input y (this layer's output). */
static mrb_status convt_geom(const mrb_conv *c, const mrb_tensor *x, const mrb_tensor *y, geom *g)
{
    size_t want[MRB_NN_MAX_DIMS];
    MRB_TRY(mrb_convt_out_shape(c, x, want));
    for (int i = 0; i < x->ndim; i++)
        if (y->ndim != x->ndim || y->shape[i] != want[i]) {
            char buf[64];
            return mrb_error(MRB_ERR_INVALID, "transposed conv: output tensor %s has the wrong shape",
                             mrb_tensor_shape_str(y, buf, sizeof buf));
        }
    MRB_TRY(make_geom(c, y, g));
    for (int i = 2; i < x->ndim; i++) {
        size_t o = i == x->ndim - 1 ? g->ow : (i == x->ndim - 2 ? g->oh : g->od);
        if (o != x->shape[i]) return mrb_error(MRB_ERR_INVALID, "transposed conv: inconsistent geometry");
    }
    return MRB_OK;
}

mrb_status mrb_convt_forward(mrb_conv *c, const mrb_tensor *x, mrb_tensor *y)
{
    geom g;
    MRB_TRY(convt_geom(c, x, y, &g));
    MRB_TRY(backward_buffers(c, &g, 1));
    size_t nb = x->shape[0], vol = g.in_vol;
    memset(y->data, 0, mrb_tensor_count(y) * sizeof(float));
    int prev = blas_single_begin();
    conv_data_grad(c, &g, nb, x->data, y->data);
    blas_single_end(prev);
    const float *b = c->bias ? c->bias->data : NULL;
    mrb_act act = c->cfg.act;
    float leak = act == MRB_ACT_LEAKY_RELU ? c->cfg.leak : 0.0f;
    long rows = (long)(nb * g.cin);
    if (b || act != MRB_ACT_NONE) {
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
        for (long r = 0; r < rows; r++) {
            float *row = y->data + (size_t)r * vol, bv = b ? b[(size_t)r % g.cin] : 0.0f;
            for (size_t i = 0; i < vol; i++) {
                float v = row[i] + bv;
                row[i] = act == MRB_ACT_NONE ? v : (v > 0.0f ? v : leak * v);
            }
        }
    }
    return MRB_OK;
}

mrb_status mrb_convt_backward(mrb_conv *c, const mrb_tensor *x, mrb_tensor *y)
{
    geom g;
    MRB_TRY(convt_geom(c, x, y, &g));
    if (!y->grad) return mrb_error(MRB_ERR_INVALID, "transposed conv: backward needs the output gradient");
    MRB_TRY(backward_buffers(c, &g, 0));
    size_t nb = x->shape[0];
    mrb_act act = c->cfg.act;
    if (act != MRB_ACT_NONE)
        act_backward(y->data, y->grad, mrb_tensor_count(y), act == MRB_ACT_LEAKY_RELU ? c->cfg.leak : 0.0f);
    if (c->bias) MRB_TRY(bias_grad(y->grad, nb, g.cin, g.in_vol, c->bias->grad));
    size_t np = chunk_cols(&g), nt = (size_t)mrb_nn_threads();
    if (x->grad && !is_pointwise(&g)) MRB_TRY(ensure_buf(&c->work, &c->work_cap, nt * g.k * np));
    int prev = blas_single_begin();
    /* the inner convolution's weight gradient with its input y->grad and output gradient x */
    conv_weight_grad(c, &g, nb, y->grad, x->data, c->weight->grad);
    if (x->grad) conv_apply(&g, nb, y->grad, c->weight->data, NULL, MRB_ACT_NONE, 0.0f, 1.0f, x->grad, c->work, np);
    blas_single_end(prev);
    return MRB_OK;
}
