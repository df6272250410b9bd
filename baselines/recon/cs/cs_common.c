/* Shared pieces of the compressed-sensing methods: see cs.h. */
#include "recon/cs/cs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/fft.h"

#define CS_PARALLEL_MIN 16384
#define CS_PI 3.14159265358979323846

mrb_status mrb_cs_check_input(const mrb_recon_input *in, const char *method, mrb_cs_shape *shape)
{
    char b1[64], b2[64];
    const mrb_array *ks = in ? in->kspace : NULL;
    if (!ks || !in->mask) return mrb_error(MRB_ERR_INVALID, "%s: k-space and mask are required", method);
    if (ks->dtype != MRB_C64 || (ks->ndim != 3 && ks->ndim != 4))
        return mrb_error(MRB_ERR_INVALID, "%s: k-space is %s %s, expected complex64 [nx, ny, nt, nc]", method,
                         mrb_dtype_name(ks->dtype), mrb_array_shape_str(ks, b1, sizeof b1));
    shape->nx = ks->dims[0];
    shape->ny = ks->dims[1];
    shape->nt = ks->dims[2];
    shape->nc = ks->ndim == 4 ? ks->dims[3] : 1;
    if (!shape->nx || !shape->ny || !shape->nt || !shape->nc)
        return mrb_error(MRB_ERR_INVALID, "%s: k-space %s is empty", method, mrb_array_shape_str(ks, b1, sizeof b1));
    const mrb_array *m = in->mask;
    if (m->dtype != MRB_F32 || m->ndim < 2 || m->ndim > 3 || m->dims[0] != shape->nx || m->dims[1] != shape->ny ||
        (m->ndim == 3 ? m->dims[2] : 1) != shape->nt)
        return mrb_error(MRB_ERR_INVALID, "%s: mask is %s %s, expected float32 [%zu, %zu, %zu] to match k-space %s",
                         method, mrb_dtype_name(m->dtype), mrb_array_shape_str(m, b1, sizeof b1), shape->nx, shape->ny,
                         shape->nt, mrb_array_shape_str(ks, b2, sizeof b2));
    if (in->sens) {
        const mrb_array *s = in->sens;
        if (s->dtype != MRB_C64 || s->dims[0] != shape->nx || s->dims[1] != shape->ny ||
            (s->ndim >= 3 ? s->dims[2] : 1) != 1 || (s->ndim >= 4 ? s->dims[3] : 1) != shape->nc || s->ndim > 4)
            return mrb_error(MRB_ERR_INVALID, "%s: coil maps are %s %s, expected complex64 [%zu, %zu, 1, %zu]", method,
                             mrb_dtype_name(s->dtype), mrb_array_shape_str(s, b1, sizeof b1), shape->nx, shape->ny,
                             shape->nc);
        mrb_status st = mrb_array_check_finite(s, "coil maps");
        if (st != MRB_OK) return mrb_error_context(st, "%s", method);
    }
    mrb_status st = mrb_array_check_finite(ks, "k-space");
    if (st != MRB_OK) return mrb_error_context(st, "%s", method);
    st = mrb_array_check_finite(m, "mask");
    if (st != MRB_OK) return mrb_error_context(st, "%s", method);
    const float *mv = m->data;
    size_t n = mrb_array_count(m), sampled = 0;
    for (size_t i = 0; i < n; i++) {
        if (mv[i] < 0)
            return mrb_error(MRB_ERR_INVALID, "%s: mask value %g at %zu is negative", method, (double)mv[i], i);
        sampled += mv[i] != 0;
    }
    if (sampled == 0) return mrb_error(MRB_ERR_INVALID, "%s: the mask samples nothing", method);
    return MRB_OK;
}

mrb_status mrb_cs_check_output(const mrb_array *out, const mrb_cs_shape *shape, const char *method)
{
    char b[64];
    if (!out || out->dtype != MRB_C64 || out->dims[0] != shape->nx || out->dims[1] != shape->ny ||
        (out->ndim >= 3 ? out->dims[2] : 1) != shape->nt)
        return mrb_error(MRB_ERR_INVALID, "%s: output is %s %s, expected complex64 [%zu, %zu, %zu]", method,
                         out ? mrb_dtype_name(out->dtype) : "missing", out ? mrb_array_shape_str(out, b, sizeof b) : "",
                         shape->nx, shape->ny, shape->nt);
    return MRB_OK;
}

static int block_sampled(const float *mask, size_t nx, size_t ny, size_t cx, size_t cy)
{
    size_t x0 = (nx - cx) / 2, y0 = (ny - cy) / 2;
    for (size_t j = y0; j < y0 + cy; j++)
        for (size_t i = x0; i < x0 + cx; i++)
            if (mask[j * nx + i] == 0) return 0;
    return 1;
}

void mrb_cs_calib_region(const mrb_recon_input *in, size_t cal_max, size_t *cx, size_t *cy)
{
    size_t nx = in->kspace->dims[0], ny = in->kspace->dims[1];
    const float *mask = in->mask->data;
    size_t c[2] = {1, 1}, n[2] = {nx, ny};
    int stop[2] = {0, 0};
    /* BART calib_geom: grow the axes in turn by one while the block stays sampled */
    while (!(stop[0] && stop[1]))
        for (int a = 0; a < 2; a++) {
            if (c[a] == n[a] || c[a] >= cal_max) stop[a] = 1;
            if (stop[a]) continue;
            c[a]++;
            if (!block_sampled(mask, nx, ny, c[0], c[1])) {
                c[a]--;
                stop[a] = 1;
            }
        }
    *cx = c[0];
    *cy = c[1];
}

/* Centred block [cx, cy] of frame 0 of every coil (or the temporal average
 * of the acquired samples when average != 0), optionally Hann-windowed, into
 * blk [cx, cy, 1, nc]. */
static void extract_block(const mrb_recon_input *in, size_t cx, size_t cy, int average, int window, float complex *blk)
{
    const mrb_array *ks = in->kspace;
    size_t nx = ks->dims[0], ny = ks->dims[1], nt = ks->dims[2];
    size_t nc = ks->ndim == 4 ? ks->dims[3] : 1;
    size_t frame = nx * ny, vol = frame * nt;
    size_t x0 = (nx - cx) / 2, y0 = (ny - cy) / 2;
    const float complex *k = ks->data;
    const float *m = in->mask->data;
    for (size_t c = 0; c < nc; c++)
        for (size_t j = 0; j < cy; j++)
            for (size_t i = 0; i < cx; i++) {
                size_t p = (y0 + j) * nx + x0 + i;
                float complex v = 0;
                if (average) {
                    float complex acc = 0;
                    float cnt = 0;
                    for (size_t t = 0; t < nt; t++) {
                        acc += m[t * frame + p] * k[c * vol + t * frame + p];
                        cnt += m[t * frame + p];
                    }
                    v = cnt > 0 ? acc / cnt : 0;
                } else {
                    v = m[p] * k[c * vol + p];
                }
                if (window) {
                    double wx = sin(CS_PI * ((double)i + 0.5) / (double)cx);
                    double wy = sin(CS_PI * ((double)j + 0.5) / (double)cy);
                    v *= (float)(wx * wx * wy * wy);
                }
                blk[(c * cy + j) * cx + i] = v;
            }
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

mrb_status mrb_cs_bart_scaling(const mrb_recon_input *in, double *scale)
{
    const mrb_array *ks = in->kspace;
    size_t nx = ks->dims[0], ny = ks->dims[1], nc = ks->ndim == 4 ? ks->dims[3] : 1;
    size_t cx, cy;
    mrb_cs_calib_region(in, MRB_CS_SCALING_CAL_MAX, &cx, &cy);
    size_t n = cx * cy;
    float complex *blk = mrb_malloc(n * nc * sizeof *blk);
    float *mag = mrb_malloc(n * sizeof *mag);
    if (!blk || !mag) {
        mrb_free(blk);
        mrb_free(mag);
        return mrb_error(MRB_ERR_NOMEM, "scaling: out of memory");
    }
    extract_block(in, cx, cy, 0, 0, blk);
    size_t dims[4] = {cx, cy, 1, nc};
    mrb_status st = mrb_fft_centered(MRB_FFT_INVERSE, 2, 4, dims, (float *)blk, 1);
    if (st == MRB_OK) {
        for (size_t i = 0; i < n; i++) {
            double acc = 0;
            for (size_t c = 0; c < nc; c++) {
                float complex v = blk[c * n + i];
                acc += (double)crealf(v) * crealf(v) + (double)cimagf(v) * cimagf(v);
            }
            mag[i] = (float)sqrt(acc);
        }
        qsort(mag, n, sizeof *mag, cmp_float);
        double rescale = sqrt((double)nx / (double)cx) * sqrt((double)ny / (double)cy);
        double median = mag[n / 2] / rescale;
        double p90 = mag[(size_t)trunc((double)n * 0.9)] / rescale;
        double max = mag[n - 1] / rescale;
        *scale = (max - p90) < 2 * (p90 - median) ? p90 : max;
    }
    mrb_free(blk);
    mrb_free(mag);
    return st;
}

mrb_status mrb_cs_estimate_sens(const mrb_recon_input *in, float complex *sens)
{
    const mrb_array *ks = in->kspace;
    size_t nx = ks->dims[0], ny = ks->dims[1], nc = ks->ndim == 4 ? ks->dims[3] : 1;
    size_t frame = nx * ny;
    size_t cx, cy;
    mrb_cs_calib_region(in, MRB_CS_SENS_CAL_MAX, &cx, &cy);
    float complex *blk = mrb_malloc(cx * cy * nc * sizeof *blk);
    if (!blk) return mrb_error(MRB_ERR_NOMEM, "coil maps: out of memory");
    extract_block(in, cx, cy, 1, 1, blk);
    memset(sens, 0, frame * nc * sizeof *sens);
    size_t x0 = (nx - cx) / 2, y0 = (ny - cy) / 2;
    for (size_t c = 0; c < nc; c++)
        for (size_t j = 0; j < cy; j++)
            for (size_t i = 0; i < cx; i++) sens[c * frame + (y0 + j) * nx + x0 + i] = blk[(c * cy + j) * cx + i];
    mrb_free(blk);
    size_t dims[4] = {nx, ny, 1, nc};
    MRB_TRY(mrb_fft_centered(MRB_FFT_INVERSE, 2, 4, dims, (float *)sens, 1));
    for (size_t i = 0; i < frame; i++) {
        double acc = 0;
        for (size_t c = 0; c < nc; c++) {
            float complex v = sens[c * frame + i];
            acc += (double)crealf(v) * crealf(v) + (double)cimagf(v) * cimagf(v);
        }
        float inv = acc > 0 ? (float)(1.0 / sqrt(acc)) : 0.0f;
        for (size_t c = 0; c < nc; c++) sens[c * frame + i] *= inv;
    }
    return MRB_OK;
}

void mrb_cs_problem_clear(mrb_cs_problem *pb)
{
    if (!pb) return;
    mrb_linop_free(pb->enc);
    mrb_free(pb->sens);
    mrb_free(pb->y);
    mrb_free(pb->ahy);
    memset(pb, 0, sizeof *pb);
}

mrb_status mrb_cs_problem_setup(mrb_cs_problem *pb, const mrb_recon_input *in, const char *method)
{
    memset(pb, 0, sizeof *pb);
    MRB_TRY(mrb_cs_check_input(in, method, &pb->shape));
    const mrb_cs_shape *s = &pb->shape;
    pb->nthreads = in->nthreads > 0 ? in->nthreads : 1;
    pb->nimg = s->nx * s->ny * s->nt;
    pb->nksp = pb->nimg * s->nc;
    const float *mv = in->mask->data;
    pb->mask_max = 0;
    for (size_t i = 0; i < pb->nimg; i++)
        if (mv[i] > pb->mask_max) pb->mask_max = mv[i];
    size_t kdims[4] = {s->nx, s->ny, s->nt, s->nc};
    mrb_linop *first;
    if (s->nc == 1) {
        first = mrb_linop_fft2_create(3, kdims, pb->nthreads);
    } else {
        pb->sens = mrb_malloc(s->nx * s->ny * s->nc * sizeof *pb->sens);
        if (!pb->sens) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", method);
        pb->sens_given = in->sens != NULL;
        if (in->sens) memcpy(pb->sens, in->sens->data, s->nx * s->ny * s->nc * sizeof *pb->sens);
        mrb_linop *sense = mrb_linop_sense_create(s->nx, s->ny, s->nt, s->nc, (const float *)pb->sens, pb->nthreads);
        pb->sense = sense;
        first = mrb_linop_chain_create(sense, mrb_linop_fft2_create(4, kdims, pb->nthreads));
    }
    pb->enc = mrb_linop_chain_create(
        first, mrb_linop_mask_create(s->nc == 1 ? 3 : 4, kdims, in->mask->data, pb->nimg, pb->nthreads));
    if (!pb->enc) {
        pb->sense = NULL;
        mrb_status st = mrb_error_context(MRB_ERR_NOMEM, "%s", method);
        mrb_cs_problem_clear(pb);
        return st;
    }
    pb->y = mrb_malloc(pb->nksp * sizeof *pb->y);
    pb->ahy = mrb_malloc(pb->nimg * sizeof *pb->ahy);
    if (!pb->y || !pb->ahy) {
        mrb_cs_problem_clear(pb);
        return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", method);
    }
    return MRB_OK;
}

mrb_status mrb_cs_problem_load(mrb_cs_problem *pb, const mrb_recon_input *in, int scale_data)
{
    const mrb_cs_shape *s = &pb->shape;
    if (s->nc > 1 && !pb->sens_given) {
        MRB_TRY(mrb_cs_estimate_sens(in, pb->sens));
        MRB_TRY(mrb_linop_sense_set_maps(pb->sense, (const float *)pb->sens));
    }
    pb->scale = 1;
    if (scale_data) {
        MRB_TRY(mrb_cs_bart_scaling(in, &pb->scale));
        if (!(pb->scale > 0)) pb->scale = 1; /* as BART: a zero scale is set to one */
    }
    const float complex *k = in->kspace->data;
    const float *m = in->mask->data;
    float inv = (float)(1.0 / pb->scale);
    size_t nimg = pb->nimg;
    for (size_t c = 0; c < s->nc; c++) {
        const float complex *kc = k + c * nimg;
        float complex *yc = pb->y + c * nimg;
#pragma omp parallel for num_threads(pb->nthreads) schedule(static) if (nimg >= CS_PARALLEL_MIN)
        for (size_t i = 0; i < nimg; i++) yc[i] = (m[i] * inv) * kc[i];
    }
    return mrb_linop_adjoint(pb->enc, (float *)pb->ahy, (const float *)pb->y);
}

double mrb_cs_problem_lipschitz(const mrb_cs_problem *pb)
{
    double l = pb->sense ? mrb_linop_sense_max_power(pb->sense) : 1.0;
    if (!(l > 0)) l = 1.0;
    return pb->mask_max > 0 ? l * pb->mask_max * pb->mask_max : l;
}

void mrb_cs_soft_threshold(float complex *z, size_t n, float t, int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static) if (n >= CS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float re = crealf(z[i]), im = cimagf(z[i]);
        float mag = sqrtf(re * re + im * im);
        float g = mag > t ? 1.0f - t / mag : 0.0f;
        z[i] *= g;
    }
}

double mrb_cs_norm2(const float complex *x, size_t n, int nthreads)
{
    double acc = 0;
#pragma omp parallel for num_threads(nthreads) schedule(static) reduction(+ : acc) if (n >= CS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) acc += (double)crealf(x[i]) * crealf(x[i]) + (double)cimagf(x[i]) * cimagf(x[i]);
    return acc;
}

double mrb_cs_diff_norm2(const float complex *a, const float complex *b, size_t n, int nthreads)
{
    double acc = 0;
#pragma omp parallel for num_threads(nthreads) schedule(static) reduction(+ : acc) if (n >= CS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float complex d = a[i] - b[i];
        acc += (double)crealf(d) * crealf(d) + (double)cimagf(d) * cimagf(d);
    }
    return acc;
}

mrb_status mrb_cs_check_finite(const float complex *x, size_t n, const char *method)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(crealf(x[i])) || !isfinite(cimagf(x[i])))
            return mrb_error(MRB_ERR_RUN, "%s: the iteration diverged: non-finite value at element %zu", method, i);
    return MRB_OK;
}

mrb_status mrb_cs_data_residual(mrb_cs_problem *pb, const float complex *x, float complex *tmp, double *value)
{
    MRB_TRY(mrb_linop_forward(pb->enc, (float *)tmp, (const float *)x));
    *value = 0.5 * mrb_cs_diff_norm2(tmp, pb->y, pb->nksp, pb->nthreads);
    return MRB_OK;
}

void mrb_cs_fista_opts_from_params(const mrb_params *p, mrb_cs_fista_opts *o)
{
    o->lambda = mrb_params_num(p, "lambda");
    o->iterations = mrb_params_int(p, "iterations");
    o->tolerance = mrb_params_num(p, "tolerance");
    o->step = mrb_params_num(p, "step");
    o->shifts = 0;
    o->seed = 0;
}
