/* "brain": a 2D axial brain-like phantom with T2-weighted-like contrast:
 * scalp, skull, CSF, a cortical grey-matter ribbon with sulci, folded white
 * matter, interhemispheric fissure, deep grey nuclei, lateral ventricles and
 * a few lesions, with filtered-noise texture so that it is not exactly
 * sparse in any wavelet basis. Edges are anti-aliased analytically. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "phantom_shapes.h"

static const double PI = 3.14159265358979323846;

/* T2-weighted-like relative intensities (CSF brightest, WM darker than GM,
 * bone dark), as in clinical axial T2 FSE images. */
static const double I_FAT = 0.60;
static const double I_BONE = 0.05;
static const double I_CSF = 1.00;
static const double I_GM = 0.55;
static const double I_WM = 0.40;
static const double I_DEEP_GM = 0.50;
static const double I_LESION = 0.85;

/* Geometry in phantom units (the image spans [-1, 1]; about 120 mm per
 * unit for a 240 mm field of view). Semi-axes (x, y) of the nested head
 * ellipses: scalp outer, skull outer, skull inner (CSF outer), brain. */
static const double HEAD_A = 0.74, HEAD_B = 0.92;
static const double SKULL_OUT_SCALE = 0.95;
static const double SKULL_IN_SCALE = 0.895;
static const double BRAIN_SCALE = 0.87;
/* Cortex: with f a smooth random field (SULCAL_KMAX half-cycles across the
 * image) and g = sin(SULCAL_LEVELS pi f), the sulci are the zero set of g
 * (the level sets f = k / SULCAL_LEVELS), SULCUS_HALF_WIDTH wide on each
 * side and only beyond SULCUS_MIN_RHO; white matter fills rho < WM_LEVEL +
 * WM_FOLD |g|, reaching into the gyri and receding under the sulci. Gyri
 * come out about 10 to 25 mm apart. */
static const double WM_LEVEL = 0.80;
static const double WM_FOLD = 0.13;
static const double SULCAL_LEVELS = 2.0;
static const double SULCUS_HALF_WIDTH = 0.006;
static const double SULCUS_MIN_RHO = 0.78;
static const int SULCAL_KMAX = 8;
static const double FISSURE_HALF_WIDTH = 0.006;
/* Texture: filtered noise with sigma 1.5 pixels at 256 (scaled with the
 * size), 6 % amplitude in grey and white matter; a smooth 5 % intensity
 * variation over the head (receive-field-like shading). */
static const double TEXTURE_SIGMA_PX_AT_256 = 1.5;
static const double TEXTURE_AMPLITUDE = 0.06;
static const double SHADING_AMPLITUDE = 0.05;
static const int SHADING_KMAX = 2;
static const int PHASE_KMAX = 3;
static const double PHASE_PEAK_RAD = PI;
/* Lesions: 1 to MAX_LESIONS discs of radius 0.015 to 0.05 (2 to 6 mm) in
 * the white matter (rho < 0.6). */
#define MAX_LESIONS 4

static const mrb_param_spec BRAIN_PARAMS[] = {
    {"size", MRB_PARAM_INT, 256, 16, 4096, NULL, NULL, "image size n (n x n pixels)"},
    {"cases", MRB_PARAM_INT, 4, 1, 1000000, NULL, NULL, "number of items"},
    {"smooth_phase", MRB_PARAM_BOOL, 0, 0, 1, NULL, NULL, "multiply by a smooth random phase (peak pi)"},
    {"coils", MRB_PARAM_INT, 1, 1, 64, NULL, NULL, "number of coils (> 1 attaches coil maps)"},
};

static double sym_uniform(mrb_rng *rng)
{
    return 2.0 * mrb_rng_uniform(rng) - 1.0;
}

typedef struct brain_geometry {
    double angle, cx, cy, scale, vent_scale;
    mrb_shape_ellipse head, skull_out, skull_in, brain;
    mrb_shape_ellipse deep[4], vent[2];
    int nlesions;
    double lx[MAX_LESIONS], ly[MAX_LESIONS], lr[MAX_LESIONS];
} brain_geometry;

static void brain_layout(brain_geometry *g, mrb_rng *rng)
{
    g->angle = 6.0 * PI / 180.0 * sym_uniform(rng);
    g->cx = 0.03 * sym_uniform(rng);
    g->cy = 0.03 * sym_uniform(rng);
    g->scale = 1.0 + 0.04 * sym_uniform(rng);
    double aspect = 1.0 + 0.04 * sym_uniform(rng);
    g->vent_scale = 1.0 + 0.35 * sym_uniform(rng);
    double a = HEAD_A * g->scale * aspect, b = HEAD_B * g->scale / aspect;
    g->head = mrb_shape_ellipse_make(g->cx, g->cy, a, b, g->angle);
    g->skull_out = mrb_shape_ellipse_make(g->cx, g->cy, a * SKULL_OUT_SCALE, b * SKULL_OUT_SCALE, g->angle);
    g->skull_in = mrb_shape_ellipse_make(g->cx, g->cy, a * SKULL_IN_SCALE, b * SKULL_IN_SCALE, g->angle);
    g->brain = mrb_shape_ellipse_make(g->cx, g->cy, a * BRAIN_SCALE, b * BRAIN_SCALE, g->angle);
    double c = cos(g->angle), s = sin(g->angle);
    /* local (head-frame) positions of deep grey nuclei (lentiform, thalami)
     * and lateral ventricles */
    static const double deep_local[4][4] = {
        {0.20, 0.06, 0.065, 0.14}, {-0.20, 0.06, 0.065, 0.14}, {0.07, -0.17, 0.06, 0.08}, {-0.07, -0.17, 0.06, 0.08}};
    for (int k = 0; k < 4; k++) {
        double lx = deep_local[k][0] * g->scale, ly = deep_local[k][1] * g->scale;
        g->deep[k] = mrb_shape_ellipse_make(g->cx + c * lx - s * ly, g->cy + s * lx + c * ly,
                                            deep_local[k][2] * g->scale * (1.0 + 0.1 * sym_uniform(rng)),
                                            deep_local[k][3] * g->scale * (1.0 + 0.1 * sym_uniform(rng)), g->angle);
    }
    for (int k = 0; k < 2; k++) {
        double side = k == 0 ? 1.0 : -1.0;
        double lx = side * 0.075 * g->scale, ly = 0.06 * g->scale;
        double tilt = side * (-12.0 + 4.0 * sym_uniform(rng)) * PI / 180.0;
        g->vent[k] =
            mrb_shape_ellipse_make(g->cx + c * lx - s * ly, g->cy + s * lx + c * ly, 0.035 * g->scale * g->vent_scale,
                                   0.2 * g->scale * sqrt(g->vent_scale), g->angle + tilt);
    }
    g->nlesions = 1 + (int)mrb_rng_below(rng, MAX_LESIONS);
    for (int k = 0; k < g->nlesions; k++) {
        double rr, ang;
        /* uniform over the inner brain ellipse rho < 0.6, away from the midline */
        do {
            rr = 0.6 * sqrt(mrb_rng_uniform(rng));
            ang = 2.0 * PI * mrb_rng_uniform(rng);
        } while (fabs(rr * cos(ang)) < 0.15);
        double lx = rr * cos(ang) * g->brain.a, ly = rr * sin(ang) * g->brain.b;
        g->lx[k] = g->cx + c * lx - s * ly;
        g->ly[k] = g->cy + s * lx + c * ly;
        g->lr[k] = 0.015 + 0.035 * mrb_rng_uniform(rng);
    }
}

static mrb_status brain_generate(const mrb_params *p, uint64_t seed, size_t index, mrb_item *out)
{
    memset(out, 0, sizeof *out);
    size_t n = (size_t)mrb_params_int(p, "size");
    size_t cases = (size_t)mrb_params_int(p, "cases");
    if (index >= cases)
        return mrb_error(MRB_ERR_INVALID, "dataset brain: item %zu out of range (cases = %zu)", index, cases);
    mrb_rng rng;
    mrb_rng_seed(&rng, mrb_seed_derive(seed, "brain", index));
    brain_geometry g;
    brain_layout(&g, &rng);
    size_t npix = n * n;
    double *sulc = malloc(npix * sizeof *sulc);
    double *sgx = malloc(npix * sizeof *sgx);
    double *sgy = malloc(npix * sizeof *sgy);
    double *shade = malloc(npix * sizeof *shade);
    double *tex = malloc(npix * sizeof *tex);
    mrb_array *img = mrb_array_create3(MRB_C64, n, n, 1);
    mrb_status st = MRB_OK;
    if (!sulc || !sgx || !sgy || !shade || !tex || !img) {
        st = mrb_error(MRB_ERR_NOMEM, "dataset brain: out of memory for a %zux%zu image", n, n);
        goto done;
    }
    st = mrb_data_smooth_field(&rng, n, n, SULCAL_KMAX, sulc, sgx, sgy);
    for (size_t k = 0; st == MRB_OK && k < npix; k++) {
        double a = SULCAL_LEVELS * PI * sulc[k], da = SULCAL_LEVELS * PI * cos(a);
        sulc[k] = sin(a);
        sgx[k] *= da;
        sgy[k] *= da;
    }
    if (st == MRB_OK) st = mrb_data_smooth_field(&rng, n, n, SHADING_KMAX, shade, NULL, NULL);
    double sigma = TEXTURE_SIGMA_PX_AT_256 * (double)n / 256.0;
    if (st == MRB_OK) st = mrb_data_noise_texture(&rng, n, n, sigma < 0.7 ? 0.7 : sigma, tex);
    if (st != MRB_OK) goto done;
    double h = 2.0 / (double)(n - 1);
    double c = cos(g.angle), s = sin(g.angle);
    float complex *px = img->data;
    for (size_t j = 0; j < n; j++) {
        double y = mrb_data_coord_y(j, n);
        for (size_t i = 0; i < n; i++) {
            double x = mrb_data_coord_x(i, n);
            size_t k = j * n + i;
            double v = 0.0;
            v = mrb_shape_paint(v, I_FAT, mrb_data_coverage(mrb_shape_ellipse_sd(&g.head, x, y, NULL, NULL) / h));
            v = mrb_shape_paint(v, I_BONE, mrb_data_coverage(mrb_shape_ellipse_sd(&g.skull_out, x, y, NULL, NULL) / h));
            v = mrb_shape_paint(v, I_CSF, mrb_data_coverage(mrb_shape_ellipse_sd(&g.skull_in, x, y, NULL, NULL) / h));
            double rho, grho[2];
            double w_brain = mrb_data_coverage(mrb_shape_ellipse_sd(&g.brain, x, y, &rho, grho) / h);
            if (w_brain > 0.0) {
                double tissue = 1.0 + TEXTURE_AMPLITUDE * tex[k];
                v = mrb_shape_paint(v, I_GM * tissue, w_brain);
                /* folded white matter: F = rho - WM_LEVEL - WM_FOLD |g| */
                double sg = sulc[k] >= 0.0 ? 1.0 : -1.0;
                double fx = grho[0] - WM_FOLD * sg * sgx[k], fy = grho[1] - WM_FOLD * sg * sgy[k];
                double fgrad = sqrt(fx * fx + fy * fy);
                double F = rho - WM_LEVEL - WM_FOLD * fabs(sulc[k]);
                double w_wm = w_brain * mrb_data_coverage(F / (fgrad > 1e-9 ? fgrad : 1e-9) / h);
                v = mrb_shape_paint(v, I_WM * tissue, w_wm);
                /* sulci: CSF along the zero set of the sulcal field, in the cortex only */
                double ggrad = sqrt(sgx[k] * sgx[k] + sgy[k] * sgy[k]);
                double dsul = fabs(sulc[k]) / (ggrad > 1e-9 ? ggrad : 1e-9) - SULCUS_HALF_WIDTH;
                double band = mrb_data_coverage((SULCUS_MIN_RHO - rho) / h);
                v = mrb_shape_paint(v, I_CSF, mrb_data_coverage(dsul / h) * band * w_brain * (1.0 - w_wm));
                /* interhemispheric fissure, front and back of the corpus callosum */
                double lx = (x - g.cx) * c + (y - g.cy) * s, ly = -(x - g.cx) * s + (y - g.cy) * c;
                double lyn = ly / g.brain.b;
                double along = lyn > 0.0 ? (lyn - 0.25) * g.brain.b : (-0.35 - lyn) * g.brain.b;
                double w_fis =
                    mrb_data_coverage((fabs(lx) - FISSURE_HALF_WIDTH) / h) * mrb_data_coverage(-along / h) * w_brain;
                v = mrb_shape_paint(v, I_CSF, w_fis);
                for (int d = 0; d < 4; d++) {
                    double w = mrb_data_coverage(mrb_shape_ellipse_sd(&g.deep[d], x, y, NULL, NULL) / h);
                    if (w > 0.0) v = mrb_shape_paint(v, I_DEEP_GM * tissue, w);
                }
                for (int d = 0; d < 2; d++) {
                    double w = mrb_data_coverage(mrb_shape_ellipse_sd(&g.vent[d], x, y, NULL, NULL) / h);
                    if (w > 0.0) v = mrb_shape_paint(v, I_CSF, w);
                }
                for (int d = 0; d < g.nlesions; d++) {
                    double w = mrb_data_coverage(mrb_shape_circle_sd(g.lx[d], g.ly[d], g.lr[d], x, y) / h);
                    if (w > 0.0) v = mrb_shape_paint(v, I_LESION, w);
                }
            }
            px[k] = (float)(v * (1.0 + SHADING_AMPLITUDE * shade[k]));
        }
    }
    out->image = img;
    img = NULL;
    if (mrb_params_bool(p, "smooth_phase"))
        st = mrb_data_apply_smooth_phase(out->image, mrb_seed_derive(seed, "brain/phase", index), PHASE_KMAX,
                                         PHASE_PEAK_RAD);
    if (st == MRB_OK)
        st =
            mrb_data_attach_coils(out, (size_t)mrb_params_int(p, "coils"), mrb_seed_derive(seed, "brain/coils", index));
done:
    free(sulc);
    free(sgx);
    free(sgy);
    free(shade);
    free(tex);
    mrb_array_free(img);
    if (st != MRB_OK) {
        mrb_item_clear(out);
        return mrb_error_context(st, "dataset brain item %zu", index);
    }
    mrb_data_item_id(out, "brain", index);
    /* a 240 mm field of view */
    out->spacing[0] = out->spacing[1] = 240.0 / (double)n;
    out->spacing[2] = 5.0;
    return MRB_OK;
}

const mrb_dataset_desc mrb_dataset_brain = {
    .name = "brain",
    .description = "2D axial brain-like phantom (T2-like contrast): scalp, skull, CSF, folded cortex with sulci, "
                   "white matter, deep grey nuclei, ventricles, lesions, filtered-noise texture",
    .params = BRAIN_PARAMS,
    .nparams = sizeof BRAIN_PARAMS / sizeof BRAIN_PARAMS[0],
    .count = mrb_data_count_cases,
    .generate = brain_generate,
};
