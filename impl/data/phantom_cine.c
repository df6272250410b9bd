/* "cine": a 2D+t cardiac cine short-axis phantom [nx, ny, nt] with
 * bSSFP-like contrast, a periodic cardiac cycle (LV cavity shrinking with
 * myocardial area conserved, so the wall thickens; RV crescent shrinking
 * and moving with the LV), textured tissue, static background anatomy and a
 * smooth phase; labels per frame in the ACDC convention. Frame 0 is end
 * diastole. Optional acquisition realism, all off by default (the default
 * output is bit-identical to the generator without them): measurement noise,
 * respiratory drift of the heart and liver, and a cardiac cycle that does not
 * exactly span the frames. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "mrbench/fft.h"
#include "phantom_shapes.h"

static const double PI = 3.14159265358979323846;
/* The phantom has no physical clock: one cardiac cycle is taken as a nominal
 * 1000 ms RR interval (60 bpm) for the time axis of exported files. */
static const double CINE_CYCLE_MS = 1000.0;

/* ACDC label values (Bernard et al., IEEE TMI 2018). */
enum { LABEL_BG = 0, LABEL_RV = 1, LABEL_MYO = 2, LABEL_LV = 3 };

/* bSSFP-like relative intensities: bright blood and fat, dark myocardium
 * and lungs. */
static const double I_BLOOD = 0.95;
static const double I_MYO = 0.28;
static const double I_FAT = 0.75;
static const double I_MUSCLE = 0.30;
static const double I_LIVER = 0.40;
static const double I_LUNG = 0.04;
static const double I_BONE = 0.45;
static const double I_CSF = 0.70;

/* Geometry in phantom units ([-1, 1] across a 320 mm field of view, so
 * 160 mm per unit). End-diastolic LV endocardial radius 0.16 (26 mm) and
 * epicardial radius 0.22 (35 mm); RV cavity circle radius 0.23 with a 0.02
 * (3 mm) free wall. */
static const double LV_X = 0.12, LV_Y = 0.02;
static const double LV_ENDO_ED = 0.16;
static const double LV_EPI_ED = 0.22;
static const double RV_RADIUS_ED = 0.23;
static const double RV_WALL = 0.02;
/* The RV circle's centre sits r_epi + RV_OFFSET * R_rv from the LV centre,
 * so the RV wraps around the septum as a crescent. */
static const double RV_OFFSET = 0.15;
static const double RV_ANGLE_DEG = 160.0;
/* Cardiac cycle: c(t) = (1 - cos psi) / 2, psi = phi + CYCLE_WARP (1 - cos
 * phi), phi = 2 pi t / nt: smooth and periodic, end systole (c = 1) at 37.5 %
 * of the cycle with the default warp, 0 at frame 0 (end diastole). */
static const double CYCLE_WARP = 0.5;
/* End-systolic LV endocardial radius as a fraction of end diastole (0.65:
 * ejection fraction 1 - 0.65^2 = 58 %) and RV radius shrink; jittered per
 * item. */
static const double LV_ES_FRACTION = 0.65;
static const double RV_ES_SHRINK = 0.22;
static const double TEXTURE_SIGMA_PX_AT_128 = 1.2;
static const double MYO_TEXTURE = 0.08;
static const double TISSUE_TEXTURE = 0.06;
static const int PHASE_KMAX = 2;
static const double PHASE_PEAK_RAD = PI;
/* Respiration (resp_drift > 0): the heart and liver follow the diaphragm,
 * whose position over a breath is z(tau) = z0 - b cos^2(pi tau / T_resp - phi)
 * (Lujan et al., Med Phys 1999, with n = 1), i.e. (A / 2)(1 - cos theta) with
 * theta advancing 2 pi per breath. A breath lasts RESP_CYCLES_MIN ..
 * RESP_CYCLES_MAX cardiac cycles (12-20 breaths/min at 60-80 beats/min gives
 * 3 to 6.7), so one heartbeat sees under half a breath; the sequence is placed
 * inside one inspiration or expiration, where the motion is monotonic, so the
 * last frame never returns to the first frame's position. Direction: the image
 * vertical +/- RESP_DIR_SPREAD_DEG (the in-plane part of the superior-inferior
 * motion in a short-axis slice). */
static const double RESP_CYCLES_MIN = 3.0;
static const double RESP_CYCLES_MAX = 5.0;
static const double RESP_DIR_SPREAD_DEG = 30.0;

static const mrb_param_spec CINE_PARAMS[] = {
    {"size", MRB_PARAM_INT, 128, 32, 2048, NULL, NULL, "image size n (n x n pixels)"},
    {"frames", MRB_PARAM_INT, 24, 2, 512, NULL, NULL, "frames per cardiac cycle (frame 0 = end diastole)"},
    {"cases", MRB_PARAM_INT, 4, 1, 1000000, NULL, NULL, "number of items"},
    {"smooth_phase", MRB_PARAM_BOOL, 1, 0, 1, NULL, NULL, "multiply by a smooth random phase (peak pi)"},
    {"coils", MRB_PARAM_INT, 1, 1, 64, NULL, NULL, "number of coils (> 1 attaches coil maps)"},
    {"snr_db", MRB_PARAM_NUMBER, 0, 0, 100, NULL, NULL,
     "measurement noise: complex white Gaussian noise at this SNR (dB, mean |x|^2 over the sequence / noise "
     "variance, as mrb_simulate_kspace) in k-space, kept in the image; 0 = noiseless (single coil only)"},
    {"resp_drift", MRB_PARAM_NUMBER, 0, 0, 32, NULL, NULL,
     "respiratory motion: peak-to-peak excursion (pixels) of heart and liver over a breath; the frames cover "
     "part of one inspiration or expiration, so the drift is not periodic; 0 = none"},
    {"cycle_jitter", MRB_PARAM_NUMBER, 0, 0, 0.5, NULL, NULL,
     "irregular timing: the frames span 1 + u cardiac cycles, u uniform in [-cycle_jitter, cycle_jitter] per "
     "item; 0 = exactly one cycle"},
};

static double sym_uniform(mrb_rng *rng)
{
    return 2.0 * mrb_rng_uniform(rng) - 1.0;
}

typedef struct heart {
    double lvx, lvy, endo_ed, epi_ed, rv_ed, rv_dir, es_fraction, rv_shrink;
} heart;

typedef struct heart_frame {
    double endo, epi, rv, rvx, rvy;
} heart_frame;

/* span: cardiac cycles covered by the nt frames (1 = exactly one). */
static double cycle(size_t t, size_t nt, double span)
{
    double phi = span == 1.0 ? 2.0 * PI * (double)t / (double)nt : 2.0 * PI * span * (double)t / (double)nt;
    double psi = phi + CYCLE_WARP * (1.0 - cos(phi));
    return 0.5 * (1.0 - cos(psi));
}

static heart_frame heart_at(const heart *hr, double c)
{
    heart_frame f;
    double myo_area = hr->epi_ed * hr->epi_ed - hr->endo_ed * hr->endo_ed;
    f.endo = hr->endo_ed * (1.0 - (1.0 - hr->es_fraction) * c);
    /* incompressible myocardium: constant area between endo and epi */
    f.epi = sqrt(f.endo * f.endo + myo_area);
    f.rv = hr->rv_ed * (1.0 - hr->rv_shrink * c);
    double d = f.epi + RV_OFFSET * f.rv;
    f.rvx = hr->lvx + d * cos(hr->rv_dir);
    f.rvy = hr->lvy + d * sin(hr->rv_dir);
    return f;
}

/* Texture lookup with bilinear interpolation at phantom coordinates. */
static double tex_at(const double *tex, size_t n, double x, double y)
{
    double fi = (x + 1.0) * 0.5 * (double)(n - 1), fj = (1.0 - y) * 0.5 * (double)(n - 1);
    if (fi < 0.0) fi = 0.0;
    if (fj < 0.0) fj = 0.0;
    if (fi > (double)(n - 1)) fi = (double)(n - 1);
    if (fj > (double)(n - 1)) fj = (double)(n - 1);
    size_t i0 = (size_t)fi, j0 = (size_t)fj;
    size_t i1 = i0 + 1 < n ? i0 + 1 : i0, j1 = j0 + 1 < n ? j0 + 1 : j0;
    double ai = fi - (double)i0, aj = fj - (double)j0;
    return (1 - aj) * ((1 - ai) * tex[j0 * n + i0] + ai * tex[j0 * n + i1]) +
           aj * ((1 - ai) * tex[j1 * n + i0] + ai * tex[j1 * n + i1]);
}

typedef struct background {
    mrb_shape_ellipse body, muscle, lung_l, lung_r, liver;
    double spine_y;
} background;

static background background_make(double body_scale)
{
    background b;
    b.body = mrb_shape_ellipse_make(0.0, -0.05, 0.9 * body_scale, 0.62 * body_scale, 0.0);
    b.muscle = mrb_shape_ellipse_make(0.0, -0.05, 0.84 * body_scale, 0.57 * body_scale, 0.0);
    b.lung_l = mrb_shape_ellipse_make(0.5 * body_scale, 0.08, 0.32 * body_scale, 0.40 * body_scale, 0.15);
    b.lung_r = mrb_shape_ellipse_make(-0.48 * body_scale, 0.1, 0.34 * body_scale, 0.42 * body_scale, -0.15);
    b.liver = mrb_shape_ellipse_make(-0.38 * body_scale, -0.34 * body_scale, 0.38 * body_scale, 0.22 * body_scale, 0.2);
    b.spine_y = -0.44 * body_scale;
    return b;
}

/* The background at pixel (x, y): body wall, lungs, spine and aorta static;
 * liver (and its texture tex_liver) given by the caller, shifted with
 * respiration. */
static double background_at(const background *b, const mrb_shape_ellipse *liver, double x, double y, double h,
                            double tissue, double tissue_liver)
{
    double v = 0.0;
    v = mrb_shape_paint(v, I_FAT, mrb_data_coverage(mrb_shape_ellipse_sd(&b->body, x, y, NULL, NULL) / h));
    v = mrb_shape_paint(v, I_MUSCLE * tissue,
                        mrb_data_coverage(mrb_shape_ellipse_sd(&b->muscle, x, y, NULL, NULL) / h));
    v = mrb_shape_paint(v, I_LUNG, mrb_data_coverage(mrb_shape_ellipse_sd(&b->lung_l, x, y, NULL, NULL) / h));
    v = mrb_shape_paint(v, I_LUNG, mrb_data_coverage(mrb_shape_ellipse_sd(&b->lung_r, x, y, NULL, NULL) / h));
    v = mrb_shape_paint(v, I_LIVER * tissue_liver,
                        mrb_data_coverage(mrb_shape_ellipse_sd(liver, x, y, NULL, NULL) / h));
    v = mrb_shape_paint(v, I_BONE, mrb_data_coverage(mrb_shape_circle_sd(0.0, b->spine_y, 0.08, x, y) / h));
    v = mrb_shape_paint(v, I_CSF, mrb_data_coverage(mrb_shape_circle_sd(0.0, b->spine_y - 0.11, 0.035, x, y) / h));
    /* descending aorta */
    v = mrb_shape_paint(v, I_BLOOD, mrb_data_coverage(mrb_shape_circle_sd(0.14, b->spine_y + 0.07, 0.055, x, y) / h));
    return v;
}

/* Respiratory displacement (phantom units) of frame t relative to frame 0. */
typedef struct breathing {
    double amplitude; /* peak-to-peak, phantom units */
    double theta0, dtheta, ux, uy;
} breathing;

static breathing breathing_make(double drift_px, size_t n, double span, uint64_t seed, size_t index)
{
    breathing b;
    memset(&b, 0, sizeof b);
    if (drift_px <= 0.0) return b;
    mrb_rng rng;
    mrb_rng_seed(&rng, mrb_seed_derive(seed, "cine/resp", index));
    double cycles = RESP_CYCLES_MIN + (RESP_CYCLES_MAX - RESP_CYCLES_MIN) * mrb_rng_uniform(&rng);
    double dir = (90.0 + RESP_DIR_SPREAD_DEG * sym_uniform(&rng)) * PI / 180.0;
    int expiration = mrb_rng_uniform(&rng) < 0.5;
    b.amplitude = drift_px * 2.0 / (double)(n - 1);
    b.dtheta = 2.0 * PI * span / cycles; /* over the whole sequence; < pi for span <= 1.5 */
    b.theta0 = (expiration ? PI : 0.0) + (PI - b.dtheta) * mrb_rng_uniform(&rng);
    b.ux = cos(dir);
    b.uy = sin(dir);
    return b;
}

static void breathing_at(const breathing *b, size_t t, size_t nt, double *dx, double *dy)
{
    if (b->amplitude == 0.0) {
        *dx = *dy = 0.0;
        return;
    }
    double theta = b->theta0 + b->dtheta * (double)t / (double)nt;
    double d = 0.5 * b->amplitude * (cos(b->theta0) - cos(theta));
    *dx = d * b->ux;
    *dy = d * b->uy;
}

/* Adds complex white Gaussian noise at snr_db to the single-coil image in
 * k-space (mrb_simulate_kspace's definition and noise) and returns to the
 * image: the fully sampled reference then carries the noise that every
 * undersampled acquisition of it sees, as in real data. */
static mrb_status add_measurement_noise(mrb_item *item, double snr_db, uint64_t seed)
{
    mrb_array *k = NULL;
    MRB_TRY(mrb_simulate_kspace(item, snr_db, seed, &k));
    mrb_status st = mrb_fft_array(MRB_FFT_INVERSE, 2, k, 1);
    if (st == MRB_OK) memcpy(item->image->data, k->data, mrb_array_bytes(item->image));
    mrb_array_free(k);
    return st;
}

static mrb_status cine_generate(const mrb_params *p, uint64_t seed, size_t index, mrb_item *out)
{
    memset(out, 0, sizeof *out);
    size_t n = (size_t)mrb_params_int(p, "size");
    size_t nt = (size_t)mrb_params_int(p, "frames");
    size_t cases = (size_t)mrb_params_int(p, "cases");
    if (index >= cases)
        return mrb_error(MRB_ERR_INVALID, "dataset cine: item %zu out of range (cases = %zu)", index, cases);
    mrb_rng rng;
    mrb_rng_seed(&rng, mrb_seed_derive(seed, "cine", index));
    double body_scale = 1.0 + 0.05 * sym_uniform(&rng);
    heart hr;
    double heart_scale = 1.0 + 0.1 * sym_uniform(&rng);
    hr.lvx = LV_X + 0.03 * sym_uniform(&rng);
    hr.lvy = LV_Y + 0.03 * sym_uniform(&rng);
    hr.endo_ed = LV_ENDO_ED * heart_scale;
    hr.epi_ed = LV_EPI_ED * heart_scale * (1.0 + 0.05 * sym_uniform(&rng));
    hr.rv_ed = RV_RADIUS_ED * heart_scale * (1.0 + 0.08 * sym_uniform(&rng));
    hr.rv_dir = (RV_ANGLE_DEG + 12.0 * sym_uniform(&rng)) * PI / 180.0;
    hr.es_fraction = LV_ES_FRACTION + 0.07 * sym_uniform(&rng);
    hr.rv_shrink = RV_ES_SHRINK + 0.07 * sym_uniform(&rng);
    /* the realism options draw from streams of their own: the default
     * stream, and so the default output, is unchanged */
    double snr_db = mrb_params_num(p, "snr_db");
    double drift_px = mrb_params_num(p, "resp_drift");
    double jitter = mrb_params_num(p, "cycle_jitter");
    size_t coils = (size_t)mrb_params_int(p, "coils");
    if (snr_db != 0.0 && coils > 1)
        return mrb_error(MRB_ERR_INVALID,
                         "dataset cine: snr_db needs coils = 1 (the harness makes coil k-space from the image, so "
                         "noise added to the image would be the same in every coil, not thermal coil noise)");
    double span = 1.0;
    if (jitter > 0.0) {
        mrb_rng trng;
        mrb_rng_seed(&trng, mrb_seed_derive(seed, "cine/timing", index));
        span = 1.0 + jitter * sym_uniform(&trng);
    }
    breathing br = breathing_make(drift_px, n, span, seed, index);

    size_t npix = n * n;
    double *bg = malloc(npix * sizeof *bg);
    double *tex = malloc(npix * sizeof *tex);
    double *myotex = malloc(npix * sizeof *myotex);
    mrb_array *img = mrb_array_create3(MRB_C64, n, n, nt);
    mrb_array *lab = mrb_array_create3(MRB_U8, n, n, nt);
    mrb_status st = MRB_OK;
    if (!bg || !tex || !myotex || !img || !lab) {
        st = mrb_error(MRB_ERR_NOMEM, "dataset cine: out of memory for %zux%zux%zu", n, n, nt);
        goto done;
    }
    double sigma = TEXTURE_SIGMA_PX_AT_128 * (double)n / 128.0;
    st = mrb_data_noise_texture(&rng, n, n, sigma < 0.7 ? 0.7 : sigma, tex);
    if (st == MRB_OK) st = mrb_data_noise_texture(&rng, n, n, sigma < 0.7 ? 0.7 : sigma, myotex);
    if (st != MRB_OK) goto done;

    double h = 2.0 / (double)(n - 1);
    /* background anatomy: static without respiration */
    background back = background_make(body_scale);
    for (size_t j = 0; j < n; j++) {
        double y = mrb_data_coord_y(j, n);
        for (size_t i = 0; i < n; i++) {
            double x = mrb_data_coord_x(i, n);
            size_t k = j * n + i;
            double tissue = 1.0 + TISSUE_TEXTURE * tex[k];
            bg[k] = background_at(&back, &back.liver, x, y, h, tissue, tissue);
        }
    }

    heart_frame ed = heart_at(&hr, 0.0);
    float complex *px = img->data;
    unsigned char *lb = lab->data;
    for (size_t t = 0; t < nt; t++) {
        heart_frame f = heart_at(&hr, cycle(t, nt, span));
        double sx, sy; /* respiratory shift of heart and liver */
        breathing_at(&br, t, nt, &sx, &sy);
        double lvx = hr.lvx + sx, lvy = hr.lvy + sy;
        f.rvx += sx;
        f.rvy += sy;
        if (br.amplitude != 0.0) {
            /* the liver moves with its texture; the rest of the background stays */
            mrb_shape_ellipse liver = back.liver;
            liver.x0 += sx;
            liver.y0 += sy;
            for (size_t j = 0; j < n; j++) {
                double y = mrb_data_coord_y(j, n);
                for (size_t i = 0; i < n; i++) {
                    double x = mrb_data_coord_x(i, n);
                    size_t k = j * n + i;
                    double tissue = 1.0 + TISSUE_TEXTURE * tex[k];
                    double tissue_liver = 1.0 + TISSUE_TEXTURE * tex_at(tex, n, x - sx, y - sy);
                    bg[k] = background_at(&back, &liver, x, y, h, tissue, tissue_liver);
                }
            }
        }
        for (size_t j = 0; j < n; j++) {
            double y = mrb_data_coord_y(j, n);
            for (size_t i = 0; i < n; i++) {
                double x = mrb_data_coord_x(i, n);
                size_t k = j * n + i;
                double v = bg[k];
                unsigned char label = LABEL_BG;
                double dlv = sqrt((x - lvx) * (x - lvx) + (y - lvy) * (y - lvy));
                double drv = sqrt((x - f.rvx) * (x - f.rvx) + (y - f.rvy) * (y - f.rvy));
                double outside_epi = f.epi - dlv; /* signed distance of "outside the LV" */
                if (dlv < f.epi + 2.0 * h || drv < f.rv + RV_WALL + 2.0 * h) {
                    /* RV free wall, then RV cavity (outside the LV epicardium) */
                    double d_rvwall = fmax(drv - (f.rv + RV_WALL), outside_epi);
                    v = mrb_shape_paint(v, I_MYO, mrb_data_coverage(d_rvwall / h));
                    double d_rv = fmax(drv - f.rv, outside_epi);
                    v = mrb_shape_paint(v, I_BLOOD, mrb_data_coverage(d_rv / h));
                    if (d_rv <= 0.0) label = LABEL_RV;
                    /* LV myocardium with texture fixed to the tissue */
                    double w_epi = mrb_data_coverage((dlv - f.epi) / h);
                    if (w_epi > 0.0) {
                        double s = (dlv - f.endo) / (f.epi - f.endo);
                        s = s < 0.0 ? 0.0 : (s > 1.0 ? 1.0 : s);
                        double rr = ed.endo + s * (ed.epi - ed.endo);
                        double ux = dlv > 1e-12 ? (x - lvx) / dlv : 1.0;
                        double uy = dlv > 1e-12 ? (y - lvy) / dlv : 0.0;
                        double tx = tex_at(myotex, n, hr.lvx + rr * ux, hr.lvy + rr * uy);
                        v = mrb_shape_paint(v, I_MYO * (1.0 + MYO_TEXTURE * tx), w_epi);
                    }
                    if (dlv - f.epi <= 0.0) label = LABEL_MYO;
                    v = mrb_shape_paint(v, I_BLOOD, mrb_data_coverage((dlv - f.endo) / h));
                    if (dlv - f.endo <= 0.0) label = LABEL_LV;
                }
                px[t * npix + k] = (float)v;
                lb[t * npix + k] = label;
            }
        }
    }
    out->image = img;
    out->labels = lab;
    img = NULL;
    lab = NULL;
    if (mrb_params_bool(p, "smooth_phase"))
        st = mrb_data_apply_smooth_phase(out->image, mrb_seed_derive(seed, "cine/phase", index), PHASE_KMAX,
                                         PHASE_PEAK_RAD);
    if (st == MRB_OK && snr_db != 0.0)
        st = add_measurement_noise(out, snr_db, mrb_seed_derive(seed, "cine/noise", index));
    if (st == MRB_OK) st = mrb_data_attach_coils(out, coils, mrb_seed_derive(seed, "cine/coils", index));
done:
    free(bg);
    free(tex);
    free(myotex);
    mrb_array_free(img);
    mrb_array_free(lab);
    if (st != MRB_OK) {
        mrb_item_clear(out);
        return mrb_error_context(st, "dataset cine item %zu", index);
    }
    mrb_data_item_id(out, "cine", index);
    /* 320 mm field of view; dims[2] is time (frames), given unit spacing */
    out->spacing[0] = out->spacing[1] = 320.0 / (double)n;
    out->spacing[2] = 1.0;
    out->frame_ms = CINE_CYCLE_MS * span / (double)nt;
    return MRB_OK;
}

const mrb_dataset_desc mrb_dataset_cine = {
    .name = "cine",
    .description = "2D+t cardiac cine short-axis phantom: periodic LV/RV contraction, textured myocardium, "
                   "background anatomy, smooth phase; ACDC labels per frame (1 RV, 2 myocardium, 3 LV); "
                   "optional noise, respiratory drift and irregular timing",
    .params = CINE_PARAMS,
    .nparams = sizeof CINE_PARAMS / sizeof CINE_PARAMS[0],
    .count = mrb_data_count_cases,
    .generate = cine_generate,
};
