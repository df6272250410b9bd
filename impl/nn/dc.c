/* MR layers of the Deep Cascade (Schlemper et al., IEEE TMI 2017): data
 * consistency and the data-sharing layer of the 2D+t network.
 * The nn's 2-channel tensors [N, 2, (nt,) ny, nx] are converted to interleaved
 * complex N x [nx, ny, nt] (same element order) for the centred orthonormal
 * FFT over (x, y), batched over frames and items. */
#include <complex.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/fft.h"
#include "mrbench/nn.h"

/* glibc's <complex.h> defines CMPLXF for GCC >= 4.7 only; clang (the
 * libFuzzer build) has the same builtin. */
#ifndef CMPLXF
#define CMPLXF(x, y) __builtin_complex((float)(x), (float)(y))
#endif

static mrb_status check_dc(const mrb_tensor *x, const mrb_dc_data *d, size_t channels, const char *what)
{
    char buf[64];
    int ok = x->ndim >= 4 && x->shape[0] == d->n && x->shape[1] == channels && x->shape[x->ndim - 1] == d->nx &&
             x->shape[x->ndim - 2] == d->ny && (x->ndim == 4 ? d->nt == 1 : x->ndim == 5 && x->shape[2] == d->nt);
    if (!ok)
        return mrb_error(MRB_ERR_INVALID, "%s: tensor %s does not match k-space of %zu items of %zux%zux%zu", what,
                         mrb_tensor_shape_str(x, buf, sizeof buf), d->n, d->nx, d->ny, d->nt);
    if (!d->kspace || !d->mask) return mrb_error(MRB_ERR_INVALID, "%s: k-space or mask missing", what);
    return MRB_OK;
}

static mrb_status fft_batch(mrb_fft_dir dir, const mrb_dc_data *d, float complex *buf)
{
    size_t dims[3] = {d->nx, d->ny, d->nt * d->n};
    return mrb_fft_centered(dir, 2, 3, dims, (float *)buf, mrb_nn_threads());
}

/* Channels (c, c+1) of a [N, C, ...] tensor's data or grad to complex. */
static void channels_to_complex(const float *t, size_t n, size_t nchan, size_t c, size_t vol, float complex *out)
{
    for (size_t b = 0; b < n; b++) {
        const float *re = t + (b * nchan + c) * vol, *im = re + vol;
        float complex *o = out + b * vol;
        for (size_t i = 0; i < vol; i++) o[i] = CMPLXF(re[i], im[i]);
    }
}

static void complex_to_channels(const float complex *in, size_t n, size_t nchan, size_t c, size_t vol, int accumulate,
                                float *t)
{
    for (size_t b = 0; b < n; b++) {
        float *re = t + (b * nchan + c) * vol, *im = re + vol;
        const float complex *s = in + b * vol;
        if (accumulate)
            for (size_t i = 0; i < vol; i++) {
                re[i] += crealf(s[i]);
                im[i] += cimagf(s[i]);
            }
        else
            for (size_t i = 0; i < vol; i++) {
                re[i] = crealf(s[i]);
                im[i] = cimagf(s[i]);
            }
    }
}

static float complex *cbuf(size_t count)
{
    float complex *p = mrb_malloc(count * sizeof *p);
    if (!p) mrb_error(MRB_ERR_NOMEM, "dc: out of memory for %zu complex values", count);
    return p;
}

mrb_status mrb_nn_dc_forward(const mrb_tensor *x, const mrb_dc_data *d, double lambda, mrb_tensor *out)
{
    MRB_TRY(check_dc(x, d, 2, "data consistency"));
    MRB_TRY(check_dc(out, d, 2, "data consistency output"));
    size_t vol = d->nx * d->ny * d->nt, total = vol * d->n;
    float complex *s = cbuf(total);
    if (!s) return MRB_ERR_NOMEM;
    channels_to_complex(x->data, d->n, 2, 0, vol, s);
    mrb_status st = fft_batch(MRB_FFT_FORWARD, d, s);
    if (st == MRB_OK) {
        const float complex *y = (const float complex *)d->kspace;
        float a = lambda < 0 ? 0.0f : (float)(1.0 / (1.0 + lambda));
        float b = lambda < 0 ? 1.0f : (float)(lambda / (1.0 + lambda));
        for (size_t i = 0; i < total; i++)
            if (d->mask[i] != 0.0f) s[i] = a * s[i] + b * y[i];
        st = fft_batch(MRB_FFT_INVERSE, d, s);
    }
    if (st == MRB_OK) complex_to_channels(s, d->n, 2, 0, vol, 0, out->data);
    mrb_free(s);
    return st;
}

mrb_status mrb_nn_dc_backward(mrb_tensor *x, const mrb_dc_data *d, double lambda, const mrb_tensor *out,
                              double *dlambda)
{
    MRB_TRY(check_dc(x, d, 2, "data consistency"));
    MRB_TRY(check_dc(out, d, 2, "data consistency output"));
    if (!out->grad) return mrb_error(MRB_ERR_INVALID, "data consistency: no output gradient");
    size_t vol = d->nx * d->ny * d->nt, total = vol * d->n;
    float complex *g = cbuf(total), *s = NULL;
    if (!g) return MRB_ERR_NOMEM;
    int want_lambda = dlambda && lambda >= 0;
    mrb_status st = MRB_OK;
    if (want_lambda) {
        s = cbuf(total);
        if (!s) st = MRB_ERR_NOMEM;
        if (st == MRB_OK) {
            channels_to_complex(x->data, d->n, 2, 0, vol, s);
            st = fft_batch(MRB_FFT_FORWARD, d, s);
        }
    }
    if (st == MRB_OK) {
        channels_to_complex(out->grad, d->n, 2, 0, vol, g);
        st = fft_batch(MRB_FFT_FORWARD, d, g);
    }
    if (st == MRB_OK) {
        const float complex *y = (const float complex *)d->kspace;
        float a = lambda < 0 ? 0.0f : (float)(1.0 / (1.0 + lambda));
        double acc = 0.0, inv2 = lambda < 0 ? 0.0 : 1.0 / ((1.0 + lambda) * (1.0 + lambda));
        for (size_t i = 0; i < total; i++)
            if (d->mask[i] != 0.0f) {
                if (want_lambda) {
                    float complex r = conjf(g[i]) * (y[i] - s[i]);
                    acc += (double)crealf(r);
                }
                g[i] *= a;
            }
        if (want_lambda) *dlambda += acc * inv2;
        if (x->grad) st = fft_batch(MRB_FFT_INVERSE, d, g);
    }
    if (st == MRB_OK && x->grad) complex_to_channels(g, d->n, 2, 0, vol, 1, x->grad);
    mrb_free(g);
    mrb_free(s);
    return st;
}

/* Window j covers frames t - j .. t + j (circular), 2j + 1 frames: its
 * divisor at every element, the window size or the number of acquired
 * samples in the window (at least 1). */
static void window_divisors(const mrb_dc_data *d, int j, int divide_by_acquired, float *div)
{
    size_t frame = d->nx * d->ny, vol = frame * d->nt, total = vol * d->n;
    if (!divide_by_acquired) {
        for (size_t i = 0; i < total; i++) div[i] = (float)(2 * j + 1);
        return;
    }
    long nt = (long)d->nt;
    for (size_t b = 0; b < d->n; b++)
        for (long t = 0; t < nt; t++) {
            float *cnt = div + b * vol + (size_t)t * frame;
            for (size_t i = 0; i < frame; i++) cnt[i] = 0.0f;
            for (int dt = -j; dt <= j; dt++) {
                const float *m = d->mask + b * vol + (size_t)(((t + dt) % nt + nt) % nt) * frame;
                for (size_t i = 0; i < frame; i++) cnt[i] += m[i] != 0.0f ? 1.0f : 0.0f;
            }
            for (size_t i = 0; i < frame; i++) cnt[i] = cnt[i] < 1.0f ? 1.0f : cnt[i];
        }
}

mrb_status mrb_nn_datashare_forward(const mrb_tensor *x, const mrb_dc_data *d, int divide_by_acquired, mrb_tensor *y)
{
    MRB_TRY(check_dc(x, d, 2, "data sharing"));
    MRB_TRY(check_dc(y, d, MRB_DS_CHANNELS, "data sharing output"));
    size_t frame = d->nx * d->ny, vol = frame * d->nt, total = vol * d->n;
    float complex *s = cbuf(total), *o = cbuf(total);
    mrb_status st = (s && o) ? MRB_OK : MRB_ERR_NOMEM;
    if (st == MRB_OK) {
        channels_to_complex(x->data, d->n, 2, 0, vol, s);
        for (size_t b = 0; b < d->n; b++)
            memcpy(y->data + b * MRB_DS_CHANNELS * vol, x->data + b * 2 * vol, 2 * vol * sizeof(float));
        st = fft_batch(MRB_FFT_FORWARD, d, s);
    }
    const float complex *meas = (const float complex *)d->kspace;
    float *div = st == MRB_OK ? mrb_malloc(total * sizeof *div) : NULL;
    if (st == MRB_OK && !div) st = mrb_error(MRB_ERR_NOMEM, "data sharing: out of memory");
    for (int j = 0; j < MRB_DS_NWINDOWS && st == MRB_OK; j++) {
        long nb = (long)d->n, nt = (long)d->nt;
        window_divisors(d, j, divide_by_acquired, div);
        /* frame by frame, the window's frames summed in the order t - j .. t + j */
#pragma omp parallel for collapse(2) schedule(static) num_threads(mrb_nn_threads())
        for (long b = 0; b < nb; b++)
            for (long t = 0; t < nt; t++) {
                size_t base = (size_t)b * vol + (size_t)t * frame;
                float complex *acc = o + base;
                for (size_t i = 0; i < frame; i++) acc[i] = 0.0f;
                for (int dt = -j; dt <= j; dt++) {
                    const float complex *src = s + (size_t)b * vol + (size_t)(((t + dt) % nt + nt) % nt) * frame;
                    for (size_t i = 0; i < frame; i++) acc[i] += src[i];
                }
                for (size_t i = 0; i < frame; i++)
                    acc[i] = d->mask[base + i] != 0.0f ? meas[base + i] : acc[i] / div[base + i];
            }
        st = fft_batch(MRB_FFT_INVERSE, d, o);
        if (st == MRB_OK) complex_to_channels(o, d->n, MRB_DS_CHANNELS, 2 + 2 * (size_t)j, vol, 0, y->data);
    }
    mrb_free(div);
    mrb_free(s);
    mrb_free(o);
    return st;
}

mrb_status mrb_nn_datashare_backward(mrb_tensor *x, const mrb_dc_data *d, int divide_by_acquired, const mrb_tensor *y)
{
    MRB_TRY(check_dc(x, d, 2, "data sharing"));
    MRB_TRY(check_dc(y, d, MRB_DS_CHANNELS, "data sharing output"));
    if (!y->grad) return mrb_error(MRB_ERR_INVALID, "data sharing: no output gradient");
    if (!x->grad) return MRB_OK;
    size_t frame = d->nx * d->ny, vol = frame * d->nt, total = vol * d->n;
    float complex *gs = cbuf(total), *g = cbuf(total), *acc = cbuf(total);
    float *div = mrb_malloc(total * sizeof *div);
    mrb_status st = (gs && g && acc && div) ? MRB_OK : mrb_error(MRB_ERR_NOMEM, "data sharing: out of memory");
    if (st == MRB_OK)
        for (size_t b = 0; b < d->n; b++) {
            float *dx = x->grad + b * 2 * vol;
            const float *dy = y->grad + b * MRB_DS_CHANNELS * vol;
            for (size_t i = 0; i < 2 * vol; i++) dx[i] += dy[i];
        }
    for (int j = 0; j < MRB_DS_NWINDOWS && st == MRB_OK; j++) {
        channels_to_complex(y->grad, d->n, MRB_DS_CHANNELS, 2 + 2 * (size_t)j, vol, g);
        st = fft_batch(MRB_FFT_FORWARD, d, g); /* adjoint of F^H is F */
        if (st != MRB_OK) break;
        long nb = (long)d->n, nt = (long)d->nt;
        window_divisors(d, j, divide_by_acquired, div);
        /* Gather form of the adjoint so each output element has one writer;
         * frame by frame, the terms summed in the order dt = -j .. j. */
#pragma omp parallel for collapse(2) schedule(static) num_threads(mrb_nn_threads())
        for (long b = 0; b < nb; b++)
            for (long tp = 0; tp < nt; tp++) {
                size_t base = (size_t)b * vol + (size_t)tp * frame;
                float complex *a = acc + base;
                for (size_t i = 0; i < frame; i++) a[i] = 0.0f;
                for (int dt = -j; dt <= j; dt++) {
                    size_t src = (size_t)b * vol + (size_t)(((tp - dt) % nt + nt) % nt) * frame;
                    for (size_t i = 0; i < frame; i++)
                        if (d->mask[src + i] == 0.0f) a[i] += g[src + i] / div[src + i];
                }
                for (size_t i = 0; i < frame; i++) gs[base + i] += a[i];
            }
    }
    if (st == MRB_OK) st = fft_batch(MRB_FFT_INVERSE, d, gs);
    if (st == MRB_OK) complex_to_channels(gs, d->n, 2, 0, vol, 1, x->grad);
    mrb_free(gs);
    mrb_free(g);
    mrb_free(acc);
    mrb_free(div);
    return st;
}
