/* Coil sensitivity maps and multi-coil k-space simulation. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "mrbench/fft.h"

static const double PI = 3.14159265358979323846;

/* Ring of coils around the field of view, in phantom coordinates (the image
 * spans [-1, 1]): radius 1.5, as ISMRMRD's generate_birdcage_sensitivities
 * (relative_radius = 1.5), so every pixel (|r| <= sqrt 2) stays outside the
 * ring and the 1/r falloff is finite. */
static const double COIL_RING_RADIUS = 1.5;
/* Per-seed jitter: ring radius grows by up to 20 %, each coil's angle moves
 * by up to 10 % of the coil spacing, each coil gets a random phase offset. */
static const double COIL_RADIUS_JITTER = 0.2;
static const double COIL_ANGLE_JITTER = 0.1;

mrb_status mrb_coil_maps(size_t nx, size_t ny, size_t ncoils, uint64_t seed, mrb_array **sens)
{
    if (!sens) return mrb_error(MRB_ERR_INVALID, "coil maps: no output pointer");
    *sens = NULL;
    if (nx < 2 || ny < 2 || ncoils < 1)
        return mrb_error(MRB_ERR_INVALID, "coil maps: shape %zux%zu with %zu coils (need nx, ny >= 2, coils >= 1)", nx,
                         ny, ncoils);
    size_t dims[4] = {nx, ny, 1, ncoils};
    mrb_array *s = mrb_array_create(MRB_C64, 4, dims);
    if (!s) return mrb_error_context(MRB_ERR_NOMEM, "coil maps %zux%zux%zu", nx, ny, ncoils);
    mrb_rng rng;
    mrb_rng_seed(&rng, mrb_seed_derive(seed, "coil-maps", ncoils));
    double rotation = 2.0 * PI * mrb_rng_uniform(&rng);
    double ring = COIL_RING_RADIUS * (1.0 + COIL_RADIUS_JITTER * mrb_rng_uniform(&rng));
    size_t npix = nx * ny;
    float complex *out = s->data;
    for (size_t c = 0; c < ncoils; c++) {
        double spacing = 2.0 * PI / (double)ncoils;
        double angle = rotation + spacing * ((double)c + COIL_ANGLE_JITTER * (2.0 * mrb_rng_uniform(&rng) - 1.0));
        double phase0 = 2.0 * PI * mrb_rng_uniform(&rng);
        double cxw = ring * cos(angle), cyw = ring * sin(angle);
        float complex *sc = out + c * npix;
        for (size_t j = 0; j < ny; j++) {
            double dy = mrb_data_coord_y(j, ny) - cyw;
            for (size_t i = 0; i < nx; i++) {
                double dx = mrb_data_coord_x(i, nx) - cxw;
                /* Field of a line current: magnitude 1/r, direction (and so
                 * the complex B1 phase) the azimuth around the wire. */
                double r = sqrt(dx * dx + dy * dy);
                double phase = atan2(dx, -dy) + phase0;
                sc[j * nx + i] = (float complex)((1.0 / r) * cexp(I * phase));
            }
        }
    }
    for (size_t k = 0; k < npix; k++) {
        double sos = 0.0;
        for (size_t c = 0; c < ncoils; c++) {
            double complex v = out[c * npix + k];
            sos += creal(v) * creal(v) + cimag(v) * cimag(v);
        }
        double scale = 1.0 / sqrt(sos);
        for (size_t c = 0; c < ncoils; c++) out[c * npix + k] = (float complex)(out[c * npix + k] * scale);
    }
    *sens = s;
    return MRB_OK;
}

mrb_status mrb_simulate_kspace(const mrb_item *item, double snr_db, uint64_t seed, mrb_array **kspace)
{
    if (!kspace) return mrb_error(MRB_ERR_INVALID, "simulate k-space: no output pointer");
    *kspace = NULL;
    if (!item || !item->image) return mrb_error(MRB_ERR_INVALID, "simulate k-space: item has no image");
    const mrb_array *x = item->image;
    char buf[64];
    if (x->dtype != MRB_C64 || x->ndim < 2 || x->ndim > 3)
        return mrb_error(MRB_ERR_INVALID,
                         "simulate k-space: image of item '%s' is %s %s, expected complex64 [nx, ny, nt]", item->id,
                         mrb_dtype_name(x->dtype), mrb_array_shape_str(x, buf, sizeof buf));
    if (!isfinite(snr_db)) return mrb_error(MRB_ERR_INVALID, "simulate k-space: SNR %g dB is not finite", snr_db);
    size_t nx = x->dims[0], ny = x->dims[1], nt = x->ndim == 3 ? x->dims[2] : 1;
    size_t nc = 1;
    const mrb_array *s = item->sens;
    if (s) {
        if (s->dtype != MRB_C64 || s->ndim != 4 || s->dims[0] != nx || s->dims[1] != ny || s->dims[2] != 1)
            return mrb_error(MRB_ERR_INVALID,
                             "simulate k-space: coil maps of item '%s' are %s %s, expected complex64 [%zu, %zu, 1, nc]",
                             item->id, mrb_dtype_name(s->dtype), mrb_array_shape_str(s, buf, sizeof buf), nx, ny);
        nc = s->dims[3];
    }
    size_t dims[4] = {nx, ny, nt, nc};
    mrb_array *k = mrb_array_create(MRB_C64, 4, dims);
    if (!k) return mrb_error_context(MRB_ERR_NOMEM, "simulate k-space for item '%s'", item->id);
    size_t npix = nx * ny;
    const float complex *img = x->data;
    const float complex *sens = s ? s->data : NULL;
    float complex *kd = k->data;
    for (size_t c = 0; c < nc; c++)
        for (size_t t = 0; t < nt; t++) {
            float complex *dst = kd + (c * nt + t) * npix;
            const float complex *src = img + t * npix;
            if (sens) {
                const float complex *sc = sens + c * npix;
                for (size_t p = 0; p < npix; p++) dst[p] = sc[p] * src[p];
            } else {
                memcpy(dst, src, npix * sizeof *dst);
            }
        }
    mrb_status st = mrb_fft_array(MRB_FFT_FORWARD, 2, k, 1);
    if (st != MRB_OK) {
        mrb_array_free(k);
        return mrb_error_context(st, "simulate k-space for item '%s'", item->id);
    }
    if (snr_db != 0.0) {
        size_t n = mrb_array_count(k);
        double power = 0.0;
        for (size_t p = 0; p < n; p++) {
            double re = crealf(kd[p]), im = cimagf(kd[p]);
            power += re * re + im * im;
        }
        power /= (double)n;
        double sigma_component = sqrt(0.5 * power / pow(10.0, snr_db / 10.0));
        mrb_rng rng;
        mrb_rng_seed(&rng, mrb_seed_derive(seed, "kspace-noise", 0));
        for (size_t p = 0; p < n; p++) {
            double re = sigma_component * mrb_rng_normal(&rng);
            double im = sigma_component * mrb_rng_normal(&rng);
            kd[p] += (float complex)(re + I * im);
        }
    }
    *kspace = k;
    return MRB_OK;
}
