/* "shepp-logan": the 2D modified Shepp-Logan phantom, rasterised with
 * supersampling, with optional per-item jitter, smooth phase and coils. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

static const double PI = 3.14159265358979323846;

typedef struct ellipse {
    double intensity; /* added inside the ellipse */
    double a, b;      /* semi-axes along x and y before rotation */
    double x0, y0;    /* centre */
    double phi_deg;   /* rotation, counter-clockwise */
} ellipse;

/* Toft's modified Shepp-Logan (P. Toft, "The Radon Transform", 1996): the
 * table of MATLAB phantom('Modified Shepp-Logan') and scikit-image's
 * _modified_shepp_logan, columns A, a, b, x0, y0, phi. */
#define SL_NELLIPSES 10
static const ellipse MODIFIED_SHEPP_LOGAN[SL_NELLIPSES] = {
    {1.0, 0.69, 0.92, 0.0, 0.0, 0.0},         {-0.8, 0.6624, 0.8740, 0.0, -0.0184, 0.0},
    {-0.2, 0.1100, 0.3100, 0.22, 0.0, -18.0}, {-0.2, 0.1600, 0.4100, -0.22, 0.0, 18.0},
    {0.1, 0.2100, 0.2500, 0.0, 0.35, 0.0},    {0.1, 0.0460, 0.0460, 0.0, 0.1, 0.0},
    {0.1, 0.0460, 0.0460, 0.0, -0.1, 0.0},    {0.1, 0.0460, 0.0230, -0.08, -0.605, 0.0},
    {0.1, 0.0230, 0.0230, 0.0, -0.606, 0.0},  {0.1, 0.0230, 0.0460, 0.06, -0.605, 0.0},
};

/* Jitter at variation = 1 (scaled linearly by the variation parameter):
 * relative intensity change of the inner features (ellipses 3..10) and of
 * the skull and brain (1, 2), centre shift of the inner features, relative
 * size change, rotation of the inner features, and a global rotation and
 * scale of the whole phantom. Chosen so that features stay inside the
 * brain and keep their contrast sign. */
static const double JITTER_INTENSITY_INNER = 0.3;
static const double JITTER_INTENSITY_OUTER = 0.05;
static const double JITTER_SHIFT = 0.04;
static const double JITTER_SIZE = 0.15;
static const double JITTER_ANGLE_DEG = 15.0;
static const double JITTER_GLOBAL_ANGLE_DEG = 10.0;
static const double JITTER_GLOBAL_SCALE = 0.05;
/* Smooth phase: fields with up to 3 half-cycles across the image and a peak
 * of pi, a phase that varies slowly but over the whole circle as in the
 * deep-cascade and fastMRI simulation studies. */
static const int PHASE_KMAX = 3;
static const double PHASE_PEAK_RAD = PI;

static const mrb_param_spec SL_PARAMS[] = {
    {"size", MRB_PARAM_INT, 256, 8, 4096, NULL, NULL, "image size n (n x n pixels)"},
    {"cases", MRB_PARAM_INT, 4, 1, 1000000, NULL, NULL, "number of items"},
    {"variation", MRB_PARAM_NUMBER, 0.1, 0, 1, NULL, NULL,
     "per-item random jitter of ellipse intensities, positions, sizes, angles (0: every item is the standard phantom)"},
    {"smooth_phase", MRB_PARAM_BOOL, 0, 0, 1, NULL, NULL, "multiply by a smooth random phase (peak pi)"},
    {"coils", MRB_PARAM_INT, 1, 1, 64, NULL, NULL, "number of coils (> 1 attaches coil maps)"},
    {"supersample", MRB_PARAM_INT, 4, 1, 8, NULL, NULL,
     "anti-aliasing: s x s point samples averaged per pixel (1: MATLAB's pixel-centre evaluation)"},
};

static double sym_uniform(mrb_rng *rng)
{
    return 2.0 * mrb_rng_uniform(rng) - 1.0;
}

static void jitter_ellipses(ellipse *e, double v, mrb_rng *rng)
{
    double gangle = JITTER_GLOBAL_ANGLE_DEG * v * sym_uniform(rng) * PI / 180.0;
    double gscale = 1.0 + JITTER_GLOBAL_SCALE * v * sym_uniform(rng);
    double cg = cos(gangle), sg = sin(gangle);
    for (int k = 0; k < SL_NELLIPSES; k++) {
        int inner = k >= 2;
        double di = (inner ? JITTER_INTENSITY_INNER : JITTER_INTENSITY_OUTER) * v * sym_uniform(rng);
        double dx = inner ? JITTER_SHIFT * v * sym_uniform(rng) : 0.0;
        double dy = inner ? JITTER_SHIFT * v * sym_uniform(rng) : 0.0;
        double sa = 1.0 + (inner ? JITTER_SIZE : JITTER_GLOBAL_SCALE) * v * sym_uniform(rng);
        double sb = 1.0 + (inner ? JITTER_SIZE : JITTER_GLOBAL_SCALE) * v * sym_uniform(rng);
        double dphi = inner ? JITTER_ANGLE_DEG * v * sym_uniform(rng) : 0.0;
        e[k].intensity *= 1.0 + di;
        e[k].a *= sa * gscale;
        e[k].b *= sb * gscale;
        double x = (e[k].x0 + dx) * gscale, y = (e[k].y0 + dy) * gscale;
        e[k].x0 = cg * x - sg * y;
        e[k].y0 = sg * x + cg * y;
        e[k].phi_deg += dphi + gangle * 180.0 / PI;
    }
    /* The brain (ellipse 2) must stay inside the skull (ellipse 1). */
    if (e[1].a > 0.97 * e[0].a) e[1].a = 0.97 * e[0].a;
    if (e[1].b > 0.97 * e[0].b) e[1].b = 0.97 * e[0].b;
}

/* Adds each ellipse's intensity to every sub-sample point inside it, row of
 * sub-samples by row: for a fixed y the inside is one x interval, found from
 * the quadratic form, so the cost is proportional to the area covered. */
static void rasterise(const ellipse *e, int nell, size_t n, int ss, double *rowsum, float *out)
{
    double h = 2.0 / (double)(n - 1); /* pixel pitch in phantom units */
    double hs = h / ss;
    double x_first = -1.0 + (0.5 / ss - 0.5) * h; /* x of sub-sample column 0 */
    long ncols = (long)n * ss;
    for (size_t j = 0; j < n; j++) {
        memset(rowsum, 0, n * sizeof *rowsum);
        for (int t = 0; t < ss; t++) {
            double y = mrb_data_coord_y(j, n) - ((t + 0.5) / ss - 0.5) * h;
            for (int k = 0; k < nell; k++) {
                double phi = e[k].phi_deg * PI / 180.0;
                double c = cos(phi), s = sin(phi);
                double ia2 = 1.0 / (e[k].a * e[k].a), ib2 = 1.0 / (e[k].b * e[k].b);
                double Y = y - e[k].y0;
                /* ((X c + Y s)^2 / a^2 + (Y c - X s)^2 / b^2 <= 1 as
                 * qa X^2 + qb X + qc <= 0 */
                double qa = c * c * ia2 + s * s * ib2;
                double qb = 2.0 * Y * c * s * (ia2 - ib2);
                double qc = Y * Y * (s * s * ia2 + c * c * ib2) - 1.0;
                double disc = qb * qb - 4.0 * qa * qc;
                if (disc < 0.0) continue;
                double sq = sqrt(disc);
                double x1 = (-qb - sq) / (2.0 * qa) + e[k].x0;
                double x2 = (-qb + sq) / (2.0 * qa) + e[k].x0;
                long kmin = (long)ceil((x1 - x_first) / hs);
                long kmax = (long)floor((x2 - x_first) / hs);
                if (kmin < 0) kmin = 0;
                if (kmax > ncols - 1) kmax = ncols - 1;
                for (long col = kmin; col <= kmax; col++) rowsum[col / ss] += e[k].intensity;
            }
        }
        for (size_t i = 0; i < n; i++) out[j * n + i] = (float)(rowsum[i] / (double)(ss * ss));
    }
}

static mrb_status sl_generate(const mrb_params *p, uint64_t seed, size_t index, mrb_item *out)
{
    memset(out, 0, sizeof *out);
    size_t n = (size_t)mrb_params_int(p, "size");
    size_t cases = (size_t)mrb_params_int(p, "cases");
    if (index >= cases)
        return mrb_error(MRB_ERR_INVALID, "dataset shepp-logan: item %zu out of range (cases = %zu)", index, cases);
    double variation = mrb_params_num(p, "variation");
    int ss = (int)mrb_params_int(p, "supersample");
    ellipse e[SL_NELLIPSES];
    memcpy(e, MODIFIED_SHEPP_LOGAN, sizeof e);
    if (variation > 0.0) {
        mrb_rng rng;
        mrb_rng_seed(&rng, mrb_seed_derive(seed, "shepp-logan", index));
        jitter_ellipses(e, variation, &rng);
    }
    float *mag = malloc(n * n * sizeof *mag);
    double *rowsum = malloc(n * sizeof *rowsum);
    mrb_array *img = mrb_array_create3(MRB_C64, n, n, 1);
    if (!mag || !rowsum || !img) {
        free(mag);
        free(rowsum);
        mrb_array_free(img);
        return mrb_error(MRB_ERR_NOMEM, "dataset shepp-logan: out of memory for a %zux%zu image", n, n);
    }
    rasterise(e, SL_NELLIPSES, n, ss, rowsum, mag);
    free(rowsum);
    float complex *px = img->data;
    for (size_t k = 0; k < n * n; k++) px[k] = mag[k];
    free(mag);
    out->image = img;
    mrb_status st = MRB_OK;
    if (mrb_params_bool(p, "smooth_phase"))
        st = mrb_data_apply_smooth_phase(img, mrb_seed_derive(seed, "shepp-logan/phase", index), PHASE_KMAX,
                                         PHASE_PEAK_RAD);
    if (st == MRB_OK)
        st = mrb_data_attach_coils(out, (size_t)mrb_params_int(p, "coils"),
                                   mrb_seed_derive(seed, "shepp-logan/coils", index));
    if (st != MRB_OK) {
        mrb_item_clear(out);
        return mrb_error_context(st, "dataset shepp-logan item %zu", index);
    }
    mrb_data_item_id(out, "shepp-logan", index);
    /* A 256 mm field of view, the usual display of the phantom. */
    out->spacing[0] = out->spacing[1] = 256.0 / (double)n;
    out->spacing[2] = 1.0;
    return MRB_OK;
}

const mrb_dataset_desc mrb_dataset_shepp_logan = {
    .name = "shepp-logan",
    .description = "2D modified Shepp-Logan phantom (Toft), supersampled, optional jitter, smooth phase and coils",
    .params = SL_PARAMS,
    .nparams = sizeof SL_PARAMS / sizeof SL_PARAMS[0],
    .count = mrb_data_count_cases,
    .generate = sl_generate,
};
