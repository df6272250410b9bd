/* "brain-tumour": a 3D skull-stripped brain with a glioma-like tumour in four
 * MR contrasts (T1, T1c, T2, FLAIR) and BraTS labels, for segmentation
 * benchmarks, with a domain-shift switch (contrast change, bias field,
 * noise).
 *
 * Unlike the reconstruction phantoms, the image is real and multi-channel:
 * MRB_F32 [nx, ny, nz, 4], channels in the order T1, T1c, T2, FLAIR; labels
 * MRB_U8 [nx, ny, nz] with the BraTS values 0 background or healthy tissue,
 * 1 necrotic / non-enhancing core, 2 peritumoural oedema, 4 enhancing tumour
 * (Menze et al., IEEE TMI 2015). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "phantom_shapes.h"

static const double PI = 3.14159265358979323846;

enum { LABEL_NECROTIC = 1, LABEL_OEDEMA = 2, LABEL_ENHANCING = 4 };
enum { CH_T1 = 0, CH_T1C, CH_T2, CH_FLAIR, NCH };
enum { T_WM = 0, T_GM, T_CSF, T_OEDEMA, T_NECROSIS, T_ENHANCING, NTISSUE };

/* Relative intensities per channel and tissue, from the appearance BraTS
 * describes (Menze et al. 2015, Fig. 1): oedema bright in T2 and FLAIR,
 * enhancing rim bright in T1c only, necrosis dark in T1/T1c and bright in
 * T2, CSF dark in T1 and suppressed in FLAIR, white matter brighter than
 * grey in T1 and darker in T2/FLAIR. */
static const double INTENSITY[NCH][NTISSUE] = {
    /*            WM    GM    CSF   oedema necrosis enhancing */
    [CH_T1] = {0.85, 0.60, 0.20, 0.50, 0.25, 0.55},
    [CH_T1C] = {0.85, 0.60, 0.20, 0.50, 0.25, 1.00},
    [CH_T2] = {0.40, 0.55, 1.00, 0.85, 0.95, 0.60},
    [CH_FLAIR] = {0.45, 0.60, 0.10, 0.95, 0.50, 0.75},
};

/* Field of view (mm) and brain semi-axes (mm, left-right, antero-posterior,
 * superior-inferior), BraTS-like 240 x 240 x 155 mm volumes. */
static const double FOV_XY_MM = 240.0;
static const double FOV_Z_MM = 155.0;
static const double BRAIN_A_MM = 66.0, BRAIN_B_MM = 84.0, BRAIN_C_MM = 60.0;
/* Cortex: white matter inside rho < WM_LEVEL + WM_FOLD tanh(f), f a unit-
 * variance random field blurred with FOLD_SIGMA_MM; sulcal CSF where
 * |f| < SULCUS_LEVEL beyond rho = SULCUS_MIN_RHO. */
static const double WM_LEVEL = 0.80;
static const double WM_FOLD = 0.10;
static const double FOLD_SIGMA_MM = 5.0;
static const double SULCUS_LEVEL = 0.12;
static const double SULCUS_MIN_RHO = 0.84;
/* Texture: blurred noise with sigma 1 voxel, 5 % of tissue intensity. */
static const double TEXTURE_AMPLITUDE = 0.05;
/* Tumour (mm): enhancing-core radius 8 to 22, necrosis 30 to 70 % of it (in
 * NECROSIS_PROBABILITY of the cases), oedema 6 to 22 beyond the core; each
 * boundary's radius modulated by +/- SHAPE_AMPLITUDE over directions. */
static const double CORE_MIN_MM = 8.0, CORE_MAX_MM = 22.0;
static const double NECROSIS_PROBABILITY = 0.8;
static const double OEDEMA_MIN_MM = 6.0, OEDEMA_MAX_MM = 22.0;
static const double SHAPE_AMPLITUDE = 0.25;
#define SHAPE_MODES 6
/* Acquisition: Rician noise with sigma NOISE_SOURCE of the white-matter T1
 * level in the source domain. Domain shift: per-channel gamma in
 * [GAMMA_MIN, GAMMA_MAX] and gain +/- GAIN_SHIFT, a smooth multiplicative
 * bias field exp(BIAS_AMPLITUDE b), b a smooth field with peak 1, and noise
 * NOISE_SHIFTED. */
static const double NOISE_SOURCE = 0.01;
static const double NOISE_SHIFTED = 0.04;
static const double GAMMA_MIN = 0.7, GAMMA_MAX = 1.4;
static const double GAIN_SHIFT = 0.2;
static const double BIAS_AMPLITUDE = 0.3;

static const mrb_param_spec TUMOUR_PARAMS[] = {
    {"size", MRB_PARAM_INT, 96, 16, 512, NULL, NULL, "in-plane size n (n x n voxels over 240 mm)"},
    {"slices", MRB_PARAM_INT, 64, 8, 512, NULL, NULL, "number of slices nz (over 155 mm)"},
    {"cases", MRB_PARAM_INT, 4, 1, 1000000, NULL, NULL, "number of items"},
    {"domain_shift", MRB_PARAM_BOOL, 0, 0, 1, NULL, NULL,
     "target domain: per-channel contrast change (gamma, gain), bias field, 4x noise"},
};

static double sym_uniform(mrb_rng *rng)
{
    return 2.0 * mrb_rng_uniform(rng) - 1.0;
}

/* Unit-variance, zero-mean 3D noise blurred by a separable Gaussian with
 * per-axis sigma (voxels), periodic boundaries. */
static mrb_status blurred_noise_3d(mrb_rng *rng, const size_t dims[3], const double sigma[3], float *out)
{
    size_t n = dims[0] * dims[1] * dims[2];
    size_t maxlen = dims[0] > dims[1] ? dims[0] : dims[1];
    if (dims[2] > maxlen) maxlen = dims[2];
    /* one line at a time, periodically padded by the kernel radius */
    double *line = malloc((maxlen + 2 * 64 + 1) * sizeof *line);
    if (!line) return mrb_error(MRB_ERR_NOMEM, "dataset brain-tumour: out of memory for a noise field");
    for (size_t k = 0; k < n; k++) out[k] = (float)mrb_rng_normal(rng);
    size_t stride[3] = {1, dims[0], dims[0] * dims[1]};
    for (int ax = 0; ax < 3; ax++) {
        int radius = (int)ceil(3.0 * sigma[ax]);
        if (radius < 1) radius = 1;
        if (radius > 64) radius = 64;
        double kernel[2 * 64 + 1];
        double ksum = 0.0;
        for (int q = -radius; q <= radius; q++) {
            kernel[q + radius] = exp(-0.5 * (double)(q * q) / (sigma[ax] * sigma[ax]));
            ksum += kernel[q + radius];
        }
        for (int q = 0; q <= 2 * radius; q++) kernel[q] /= ksum;
        size_t len = dims[ax], s = stride[ax];
        size_t nlines = n / len;
        for (size_t l = 0; l < nlines; l++) {
            /* line l: base offset of its first element */
            size_t base = (l % s) + (l / s) * s * len;
            for (long q = -radius; q < (long)len + radius; q++) {
                long idx = q % (long)len;
                if (idx < 0) idx += (long)len;
                line[q + radius] = out[base + (size_t)idx * s];
            }
            for (size_t pos = 0; pos < len; pos++) {
                double acc = 0.0;
                const double *src = line + pos;
                for (int q = 0; q <= 2 * radius; q++) acc += kernel[q] * src[q];
                out[base + pos * s] = (float)acc;
            }
        }
    }
    free(line);
    double mean = 0.0, var = 0.0;
    for (size_t k = 0; k < n; k++) mean += out[k];
    mean /= (double)n;
    for (size_t k = 0; k < n; k++) var += (out[k] - mean) * (out[k] - mean);
    double scale = var > 0.0 ? 1.0 / sqrt(var / (double)n) : 0.0;
    for (size_t k = 0; k < n; k++) out[k] = (float)((out[k] - mean) * scale);
    return MRB_OK;
}

/* Smooth radial modulation of a boundary over directions u: the mean of
 * SHAPE_MODES cosines of random wave vectors, in [-1, 1]. */
typedef struct shape_mod {
    double w[SHAPE_MODES][3], phase[SHAPE_MODES];
} shape_mod;

static void shape_init(shape_mod *s, mrb_rng *rng)
{
    for (int m = 0; m < SHAPE_MODES; m++) {
        double norm = 0.0;
        for (int a = 0; a < 3; a++) {
            s->w[m][a] = mrb_rng_normal(rng);
            norm += s->w[m][a] * s->w[m][a];
        }
        /* 1 to 3 lobes around the boundary */
        double freq = (1.0 + 2.0 * mrb_rng_uniform(rng)) / sqrt(norm > 1e-12 ? norm : 1e-12);
        for (int a = 0; a < 3; a++) s->w[m][a] *= freq;
        s->phase[m] = 2.0 * PI * mrb_rng_uniform(rng);
    }
}

static double shape_at(const shape_mod *s, const double u[3])
{
    double acc = 0.0;
    for (int m = 0; m < SHAPE_MODES; m++)
        acc += cos(s->w[m][0] * u[0] + s->w[m][1] * u[1] + s->w[m][2] * u[2] + s->phase[m]);
    return acc / SHAPE_MODES;
}

typedef struct tumour {
    double c[3];                   /* centre, mm */
    double core, necrosis, oedema; /* mean radii, mm (necrosis 0: none) */
    shape_mod core_shape, oedema_shape;
} tumour;

/* Smooth bias field: sum of the 13 lowest 3D Fourier modes (wave numbers
 * -1..1 half-cycles per axis, one of each +/- pair) with random amplitudes
 * and phases, evaluated separably, scaled to peak |b| = 1. */
static void bias_field(mrb_rng *rng, size_t n, size_t nz, float *bias)
{
    size_t nvox = n * n * nz;
    memset(bias, 0, nvox * sizeof *bias);
    for (int pz = 0; pz <= 1; pz++)
        for (int py = -1; py <= 1; py++)
            for (int px = -1; px <= 1; px++) {
                if (pz == 0 && (py < 0 || (py == 0 && px <= 0))) continue;
                double amp = mrb_rng_normal(rng), theta = 2.0 * PI * mrb_rng_uniform(rng);
                for (size_t kz = 0; kz < nz; kz++) {
                    double az = PI * pz * mrb_data_coord_x(kz, nz) + theta;
                    for (size_t j = 0; j < n; j++) {
                        double ay = az + PI * py * mrb_data_coord_y(j, n);
                        float *row = bias + (kz * n + j) * n;
                        double cy = amp * cos(ay), sy = amp * sin(ay);
                        for (size_t i = 0; i < n; i++) {
                            double ax = PI * px * mrb_data_coord_x(i, n);
                            row[i] += (float)(cy * cos(ax) - sy * sin(ax));
                        }
                    }
                }
            }
    double peak = 0.0;
    for (size_t k = 0; k < nvox; k++) peak = fmax(peak, fabs(bias[k]));
    for (size_t k = 0; k < nvox; k++) bias[k] = peak > 0.0 ? (float)(bias[k] / peak) : 0.0f;
}

static void paint(double v[NCH], int tissue, double w, double tex)
{
    if (w <= 0.0) return;
    for (int ch = 0; ch < NCH; ch++) v[ch] += w * (INTENSITY[ch][tissue] * tex - v[ch]);
}

/* The 4-channel volume and labels into out->image and out->labels (out
 * zeroed first); voxels FOV_XY_MM / n in-plane and vz mm apart in z. */
static mrb_status brain_volume(size_t n, size_t nz, double vz, int shift, uint64_t stream_seed, mrb_item *out)
{
    memset(out, 0, sizeof *out);
    mrb_rng rng;
    mrb_rng_seed(&rng, stream_seed);
    double vx = FOV_XY_MM / (double)n;
    double scale = 1.0 + 0.05 * sym_uniform(&rng);
    double angle = 6.0 * PI / 180.0 * sym_uniform(&rng);
    double ca = cos(angle), sa = sin(angle);
    double ba = BRAIN_A_MM * scale, bb = BRAIN_B_MM * scale, bc = BRAIN_C_MM * scale;
    double vent_scale = 1.0 + 0.3 * sym_uniform(&rng);
    tumour tu;
    /* centre: uniform in the inner brain (rho < 0.55), off the midline */
    for (;;) {
        double u[3] = {sym_uniform(&rng), sym_uniform(&rng), sym_uniform(&rng)};
        double r2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2];
        if (r2 > 1.0 || fabs(u[0]) < 0.3) continue;
        tu.c[0] = 0.55 * u[0] * ba;
        tu.c[1] = 0.55 * u[1] * bb;
        tu.c[2] = 0.55 * u[2] * bc;
        break;
    }
    tu.core = CORE_MIN_MM + (CORE_MAX_MM - CORE_MIN_MM) * mrb_rng_uniform(&rng);
    tu.necrosis = mrb_rng_uniform(&rng) < NECROSIS_PROBABILITY ? tu.core * (0.3 + 0.4 * mrb_rng_uniform(&rng)) : 0.0;
    tu.oedema = tu.core + OEDEMA_MIN_MM + (OEDEMA_MAX_MM - OEDEMA_MIN_MM) * mrb_rng_uniform(&rng);
    shape_init(&tu.core_shape, &rng);
    shape_init(&tu.oedema_shape, &rng);
    double gamma[NCH], gain[NCH];
    for (int ch = 0; ch < NCH; ch++) {
        gamma[ch] = GAMMA_MIN + (GAMMA_MAX - GAMMA_MIN) * mrb_rng_uniform(&rng);
        gain[ch] = 1.0 + GAIN_SHIFT * sym_uniform(&rng);
    }

    size_t dims3[3] = {n, n, nz};
    size_t nvox = n * n * nz;
    size_t dims4[4] = {n, n, nz, NCH};
    float *fold = malloc(nvox * sizeof *fold);
    float *tex = malloc(nvox * sizeof *tex);
    float *bias = shift ? malloc(nvox * sizeof *bias) : NULL;
    mrb_array *img = mrb_array_create(MRB_F32, 4, dims4);
    mrb_array *lab = mrb_array_create(MRB_U8, 3, dims3);
    mrb_status st = MRB_OK;
    if (!fold || !tex || (shift && !bias) || !img || !lab) {
        st = mrb_error(MRB_ERR_NOMEM, "dataset brain-tumour: out of memory for %zux%zux%zu", n, n, nz);
        goto done;
    }
    double fold_sigma[3] = {FOLD_SIGMA_MM / vx, FOLD_SIGMA_MM / vx, FOLD_SIGMA_MM / vz};
    double tex_sigma[3] = {1.0, 1.0, 1.0};
    st = blurred_noise_3d(&rng, dims3, fold_sigma, fold);
    if (st == MRB_OK) st = blurred_noise_3d(&rng, dims3, tex_sigma, tex);
    if (st != MRB_OK) goto done;
    if (shift) bias_field(&rng, n, nz, bias);

    mrb_shape_ellipse vent[2];
    for (int k = 0; k < 2; k++) {
        double side = k == 0 ? 1.0 : -1.0;
        vent[k] = mrb_shape_ellipse_make(side * 9.0 * scale, 6.0 * scale, 5.0 * scale * vent_scale,
                                         24.0 * scale * sqrt(vent_scale), side * -0.2);
    }
    float *im = img->data;
    unsigned char *lb = lab->data;
    double vmin = vx < vz ? vx : vz;
    for (size_t kz = 0; kz < nz; kz++) {
        double z = ((double)kz - 0.5 * (double)(nz - 1)) * vz;
        for (size_t j = 0; j < n; j++) {
            double y0 = mrb_data_coord_y(j, n) * 0.5 * FOV_XY_MM * (double)(n - 1) / (double)n;
            for (size_t i = 0; i < n; i++) {
                double x0 = mrb_data_coord_x(i, n) * 0.5 * FOV_XY_MM * (double)(n - 1) / (double)n;
                size_t k = (kz * n + j) * n + i;
                /* brain frame: rotated about z */
                double x = ca * x0 + sa * y0, y = -sa * x0 + ca * y0;
                double ux = x / ba, uy = y / bb, uz = z / bc;
                double rho = sqrt(ux * ux + uy * uy + uz * uz);
                double g[3] = {ux / ba, uy / bb, uz / bc};
                double gn = sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]);
                double grad_rho = rho > 1e-9 ? gn / rho : 1.0 / bb; /* |grad rho| per mm */
                double w_brain = mrb_data_coverage((rho - 1.0) / grad_rho / vmin);
                double v[NCH] = {0};
                unsigned char label = 0;
                if (w_brain > 0.0) {
                    double t = 1.0 + TEXTURE_AMPLITUDE * tex[k];
                    paint(v, T_GM, w_brain, t);
                    double level = WM_LEVEL + WM_FOLD * tanh(fold[k]);
                    double w_wm = mrb_data_coverage((rho - level) / grad_rho / vmin);
                    paint(v, T_WM, w_wm, t);
                    double w_band = mrb_data_coverage((SULCUS_MIN_RHO - rho) / grad_rho / vmin);
                    if (fabs(fold[k]) < 2.0 * SULCUS_LEVEL && w_band > 0.0) {
                        /* soft sulcus edge: |f| against the level over a
                         * 0.5 SULCUS_LEVEL ramp */
                        double w_s = mrb_data_coverage((fabs(fold[k]) - SULCUS_LEVEL) / (0.5 * SULCUS_LEVEL));
                        paint(v, T_CSF, w_s * w_band * (1.0 - w_wm) * w_brain, 1.0);
                    }
                    double w_csf_vent = 0.0;
                    for (int q = 0; q < 2; q++) {
                        /* ventricles: ellipse in-plane, limited to |z| < 20 mm */
                        double d = mrb_shape_ellipse_sd(&vent[q], x, y, NULL, NULL);
                        d = fmax(d, fabs(z - 8.0) - 20.0 * scale);
                        double w = mrb_data_coverage(d / vmin);
                        if (w > w_csf_vent) w_csf_vent = w;
                    }
                    paint(v, T_CSF, w_csf_vent, 1.0);
                    /* tumour */
                    double dx = x - tu.c[0], dy = y - tu.c[1], dz = z - tu.c[2];
                    double r = sqrt(dx * dx + dy * dy + dz * dz);
                    if (r < tu.oedema * (1.0 + SHAPE_AMPLITUDE) + 2.0 * vmin) {
                        double u[3] = {0.0, 0.0, 1.0};
                        if (r > 1e-9) {
                            u[0] = dx / r;
                            u[1] = dy / r;
                            u[2] = dz / r;
                        }
                        double cm = 1.0 + SHAPE_AMPLITUDE * shape_at(&tu.core_shape, u);
                        double om = 1.0 + SHAPE_AMPLITUDE * shape_at(&tu.oedema_shape, u);
                        double r_oed = fmax(tu.oedema * om, tu.core * cm + 2.0 * vmin);
                        double w_tissue = w_brain * (1.0 - w_csf_vent);
                        double w_o = mrb_data_coverage((r - r_oed) / vmin) * w_tissue;
                        double w_c = mrb_data_coverage((r - tu.core * cm) / vmin) * w_brain;
                        double w_n =
                            tu.necrosis > 0.0 ? mrb_data_coverage((r - tu.necrosis * cm) / vmin) * w_brain : 0.0;
                        paint(v, T_OEDEMA, w_o, t);
                        paint(v, T_ENHANCING, w_c, t);
                        paint(v, T_NECROSIS, w_n, t);
                        if (w_brain >= 0.5) {
                            if (w_n >= 0.5)
                                label = LABEL_NECROTIC;
                            else if (w_c >= 0.5)
                                label = LABEL_ENHANCING;
                            else if (w_o >= 0.5)
                                label = LABEL_OEDEMA;
                        }
                    }
                }
                for (int ch = 0; ch < NCH; ch++) {
                    double s = v[ch];
                    if (shift) s = gain[ch] * pow(s, gamma[ch]) * exp(BIAS_AMPLITUDE * bias[k]);
                    im[(size_t)ch * nvox + k] = (float)s;
                }
                lb[k] = label;
            }
        }
    }
    /* Rician noise on every channel (magnitude of signal plus complex noise) */
    double sigma = (shift ? NOISE_SHIFTED : NOISE_SOURCE) * INTENSITY[CH_T1][T_WM];
    for (size_t q = 0; q < nvox * NCH; q++) {
        double re = im[q] + sigma * mrb_rng_normal(&rng), imv = sigma * mrb_rng_normal(&rng);
        im[q] = (float)sqrt(re * re + imv * imv);
    }
    out->image = img;
    out->labels = lab;
    img = NULL;
    lab = NULL;
done:
    free(fold);
    free(tex);
    free(bias);
    mrb_array_free(img);
    mrb_array_free(lab);
    if (st != MRB_OK) {
        mrb_item_clear(out);
        return st;
    }
    out->spacing[0] = out->spacing[1] = vx;
    out->spacing[2] = vz;
    return MRB_OK;
}

static mrb_status tumour_generate(const mrb_params *p, uint64_t seed, size_t index, mrb_item *out)
{
    memset(out, 0, sizeof *out);
    size_t n = (size_t)mrb_params_int(p, "size");
    size_t nz = (size_t)mrb_params_int(p, "slices");
    size_t cases = (size_t)mrb_params_int(p, "cases");
    int shift = mrb_params_bool(p, "domain_shift");
    if (index >= cases)
        return mrb_error(MRB_ERR_INVALID, "dataset brain-tumour: item %zu out of range (cases = %zu)", index, cases);
    mrb_status st =
        brain_volume(n, nz, FOV_Z_MM / (double)nz, shift, mrb_seed_derive(seed, "brain-tumour", index), out);
    if (st != MRB_OK) return mrb_error_context(st, "dataset brain-tumour item %zu", index);
    mrb_data_item_id(out, shift ? "brain-tumour-shifted" : "brain-tumour", index);
    return MRB_OK;
}

static const char *const CONTRAST_NAMES[NCH] = {"t1", "t1c", "t2", "flair"};

static const mrb_param_spec THICK_PARAMS[] = {
    {"size", MRB_PARAM_INT, 128, 16, 512, NULL, NULL, "in-plane size n (n x n voxels over 240 mm)"},
    {"slices", MRB_PARAM_INT, 96, 8, 1024, NULL, NULL,
     "number of thin slices nz, spaced like the in-plane voxels (isotropic ground truth)"},
    {"factor", MRB_PARAM_INT, 4, 2, 16, NULL, NULL,
     "slice-thickness factor of the low-resolution input (mrb_thick_slices(image, factor, ...))"},
    {"contrast", MRB_PARAM_STRING, 0, 0, 0, "t2", "t1|t1c|t2|flair", "which contrast of the brain volume"},
    {"cases", MRB_PARAM_INT, 4, 1, 1000000, NULL, NULL, "number of items"},
};

static mrb_status thick_generate(const mrb_params *p, uint64_t seed, size_t index, mrb_item *out)
{
    memset(out, 0, sizeof *out);
    size_t n = (size_t)mrb_params_int(p, "size");
    size_t nz = (size_t)mrb_params_int(p, "slices");
    size_t factor = (size_t)mrb_params_int(p, "factor");
    size_t cases = (size_t)mrb_params_int(p, "cases");
    if (index >= cases)
        return mrb_error(MRB_ERR_INVALID, "dataset thick-slice: item %zu out of range (cases = %zu)", index, cases);
    if (nz < factor)
        return mrb_error(MRB_ERR_INVALID, "dataset thick-slice: %zu slices cannot make one slice %zu times thicker", nz,
                         factor);
    const char *contrast = mrb_params_str(p, "contrast");
    int ch = 0;
    while (ch < NCH && strcmp(CONTRAST_NAMES[ch], contrast) != 0) ch++;
    MRB_ASSERT(ch < NCH); /* the schema's choices admit only these */
    mrb_item full;
    mrb_status st = brain_volume(n, nz, FOV_XY_MM / (double)n, 0, mrb_seed_derive(seed, "thick-slice", index), &full);
    if (st != MRB_OK) return mrb_error_context(st, "dataset thick-slice item %zu", index);
    mrb_array *img = mrb_array_create3(MRB_F32, n, n, nz);
    if (!img) {
        mrb_item_clear(&full);
        return mrb_error_context(MRB_ERR_NOMEM, "dataset thick-slice item %zu", index);
    }
    size_t nvox = n * n * nz;
    memcpy(img->data, (const float *)full.image->data + (size_t)ch * nvox, nvox * sizeof(float));
    out->image = img;
    out->labels = full.labels;
    full.labels = NULL;
    memcpy(out->spacing, full.spacing, sizeof out->spacing);
    mrb_item_clear(&full);
    mrb_data_item_id(out, "thick-slice", index);
    return MRB_OK;
}

const mrb_dataset_desc mrb_dataset_brain_tumour = {
    .name = "brain-tumour",
    .description = "3D brain with a glioma-like tumour, MRB_F32 [n, n, nz, 4] (T1, T1c, T2, FLAIR), BraTS labels "
                   "(1 necrotic core, 2 oedema, 4 enhancing); domain_shift: contrast, bias field, noise",
    .params = TUMOUR_PARAMS,
    .nparams = sizeof TUMOUR_PARAMS / sizeof TUMOUR_PARAMS[0],
    .count = mrb_data_count_cases,
    .generate = tumour_generate,
};

const mrb_dataset_desc mrb_dataset_thick_slice = {
    .name = "thick-slice",
    .description = "Super-resolution ground truth: one contrast of the brain-tumour volume on an isotropic grid, "
                   "MRB_F32 [n, n, nz] with BraTS labels; the input is mrb_thick_slices(image, factor)",
    .params = THICK_PARAMS,
    .nparams = sizeof THICK_PARAMS / sizeof THICK_PARAMS[0],
    .count = mrb_data_count_cases,
    .generate = thick_generate,
};
