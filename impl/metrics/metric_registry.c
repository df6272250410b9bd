/* The metric table: one descriptor per registered metric, wrapping
 * mrbench/metrics.h. Definitions are echoed into results.json through each
 * descriptor's `definition` callback. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mrbench/metrics.h"
#include "mrbench/registry.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
/* Upper bounds of numeric parameters: guards against typos, not physics. */
#define PARAM_RANGE_MAX 1e30
#define PARAM_SIGMA_MAX 100.0
#define PARAM_WINDOW_MAX 255
#define PARAM_TAU_MAX_MM 1e6

/* -------------------------------------------------------- image metrics -- */

/* A descriptor with designated fields; IMAGE or LABELS is NULL. */
#define METRIC_DESC(VAR, NAME, DESCRIPTION, UNIT, HIGHER, PARAMS, NPARAMS, DEF, IMAGE, LABELS)                         \
    static const mrb_metric_desc VAR = {.name = NAME,                                                                  \
                                        .description = DESCRIPTION,                                                    \
                                        .unit = UNIT,                                                                  \
                                        .higher_is_better = HIGHER,                                                    \
                                        .params = PARAMS,                                                              \
                                        .nparams = NPARAMS,                                                            \
                                        .definition = DEF,                                                             \
                                        .image = IMAGE,                                                                \
                                        .labels = LABELS}

static const mrb_param_spec range_params[] = {
    {"data_range", MRB_PARAM_NUMBER, 0.0, 0.0, PARAM_RANGE_MAX, NULL, NULL,
     "R in PSNR/SSIM; 0 = max of the reference over the whole volume (fastMRI)"},
};

static const mrb_param_spec ssim_params[] = {
    {"data_range", MRB_PARAM_NUMBER, 0.0, 0.0, PARAM_RANGE_MAX, NULL, NULL,
     "R; 0 = max of the reference over the whole volume (fastMRI)"},
    {"window", MRB_PARAM_INT, 7, 3, PARAM_WINDOW_MAX, NULL, NULL,
     "odd side of the uniform window (scikit-image default 7); with gaussian it must be "
     "2*int(3.5*sigma+0.5)+1 when given"},
    {"gaussian", MRB_PARAM_BOOL, 0, 0, 1, NULL, NULL,
     "Gaussian weights with population covariances (Wang et al. 2004; scikit-image "
     "gaussian_weights=True, use_sample_covariance=False)"},
    {"sigma", MRB_PARAM_NUMBER, 1.5, 0.1, PARAM_SIGMA_MAX, NULL, NULL,
     "Gaussian standard deviation in pixels (11 taps at 1.5)"},
    {"k1", MRB_PARAM_NUMBER, 0.01, 0.0, 1.0, NULL, NULL, "K1 (scikit-image default 0.01)"},
    {"k2", MRB_PARAM_NUMBER, 0.03, 0.0, 1.0, NULL, NULL, "K2 (scikit-image default 0.03)"},
};

static void range_text(const mrb_params *p, char *buf, size_t len)
{
    double r = mrb_params_num(p, "data_range");
    if (r > 0)
        snprintf(buf, len, "R = %.17g (given)", r);
    else
        snprintf(buf, len, "R = max(reference) over the volume (fastMRI)");
}

static void def_psnr(const mrb_params *p, char *buf, size_t len)
{
    char r[96];
    range_text(p, r, sizeof r);
    snprintf(buf, len, "PSNR = 10 log10(R^2 / MSE) in dB over the whole volume, %s; +inf when MSE = 0", r);
}

static void def_ssim(const mrb_params *p, char *buf, size_t len)
{
    char r[96];
    range_text(p, r, sizeof r);
    if (mrb_params_bool(p, "gaussian"))
        snprintf(buf, len,
                 "SSIM as scikit-image structural_similarity(gaussian_weights=True, sigma=%g, "
                 "truncate=3.5, use_sample_covariance=False, K1=%g, K2=%g): per slice the mean "
                 "of the SSIM map over window positions at least (win-1)/2 from each border, "
                 "then the mean over slices; %s",
                 mrb_params_num(p, "sigma"), mrb_params_num(p, "k1"), mrb_params_num(p, "k2"), r);
    else
        snprintf(buf, len,
                 "SSIM as scikit-image structural_similarity(win_size=%ld uniform, K1=%g, K2=%g, "
                 "use_sample_covariance=True): per slice the mean of the SSIM map over window "
                 "positions at least (win-1)/2 from each border, then the mean over slices; %s",
                 mrb_params_int(p, "window"), mrb_params_num(p, "k1"), mrb_params_num(p, "k2"), r);
}

static void def_nmse(const mrb_params *p, char *buf, size_t len)
{
    snprintf(buf, len, "NMSE = ||ref - x||^2 / ||ref||^2 over the whole volume (fastMRI nmse)");
}

static void def_mse(const mrb_params *p, char *buf, size_t len)
{
    snprintf(buf, len, "MSE = mean((ref - x)^2) over every voxel of the volume");
}

static void def_mae(const mrb_params *p, char *buf, size_t len)
{
    snprintf(buf, len, "MAE = mean(|ref - x|) over every voxel of the volume");
}

static mrb_status run_psnr(const mrb_params *p, const mrb_array *ref, const mrb_array *x, double *v)
{
    return mrb_metric_psnr(ref, x, mrb_params_num(p, "data_range"), v);
}

static void ssim_opts_from(const mrb_params *p, mrb_ssim_opts *out)
{
    mrb_ssim_opts o;
    if (mrb_params_bool(p, "gaussian")) {
        mrb_ssim_opts_gaussian(&o);
        o.sigma = mrb_params_num(p, "sigma");
        for (size_t i = 0; i < p->count; i++)
            if (strcmp(p->v[i].name, "window") == 0 && p->v[i].given) o.win_size = (int)mrb_params_int(p, "window");
    } else {
        mrb_ssim_opts_default(&o);
        o.win_size = (int)mrb_params_int(p, "window");
    }
    o.k1 = mrb_params_num(p, "k1");
    o.k2 = mrb_params_num(p, "k2");
    o.data_range = mrb_params_num(p, "data_range");
    *out = o;
}

static mrb_status run_ssim(const mrb_params *p, const mrb_array *ref, const mrb_array *x, double *v)
{
    mrb_ssim_opts o;
    ssim_opts_from(p, &o);
    return mrb_metric_ssim(ref, x, &o, v);
}

static mrb_status check_ssim(const mrb_params *p)
{
    mrb_ssim_opts o;
    ssim_opts_from(p, &o);
    int win;
    return mrb_ssim_window(&o, &win);
}

static mrb_status run_nmse(const mrb_params *p, const mrb_array *ref, const mrb_array *x, double *v)
{
    return mrb_metric_nmse(ref, x, v);
}

static mrb_status run_mse(const mrb_params *p, const mrb_array *ref, const mrb_array *x, double *v)
{
    return mrb_metric_mse(ref, x, v);
}

static mrb_status run_mae(const mrb_params *p, const mrb_array *ref, const mrb_array *x, double *v)
{
    return mrb_metric_mae(ref, x, v);
}

METRIC_DESC(metric_psnr, "psnr", "peak signal-to-noise ratio of magnitudes", "dB", 1, range_params,
            COUNT_OF(range_params), def_psnr, run_psnr, NULL);
static const mrb_metric_desc metric_ssim = {.name = "ssim",
                                            .description = "structural similarity (scikit-image), mean over slices",
                                            .unit = "",
                                            .higher_is_better = 1,
                                            .params = ssim_params,
                                            .nparams = COUNT_OF(ssim_params),
                                            .definition = def_ssim,
                                            .image = run_ssim,
                                            .check = check_ssim};
METRIC_DESC(metric_nmse, "nmse", "normalised mean squared error (fastMRI)", "", 0, NULL, 0, def_nmse, run_nmse, NULL);
METRIC_DESC(metric_mse, "mse", "mean squared error of magnitudes", "intensity^2", 0, NULL, 0, def_mse, run_mse, NULL);
METRIC_DESC(metric_mae, "mae", "mean absolute error of magnitudes", "intensity", 0, NULL, 0, def_mae, run_mae, NULL);

/* -------------------------------------------------------- label metrics -- */

#define LABELS_PARAM                                                                                                   \
    {                                                                                                                  \
        "labels", MRB_PARAM_STRING, 0, 0, 0, "1", NULL,                                                                \
            "label group treated as foreground, e.g. 1,2,4 (BraTS whole tumour), 1,4 (core), 4"                        \
    }
#define EMPTY_PARAM                                                                                                    \
    {                                                                                                                  \
        "empty", MRB_PARAM_STRING, 0, 0, 0, "brats", "brats|nan|worst",                                                \
            "empty-mask policy: brats (both empty 1/0 mm, one empty 0/373.13 mm), nan, worst"                          \
    }

static const mrb_param_spec overlap_params[] = {LABELS_PARAM, EMPTY_PARAM};
static const mrb_param_spec voldiff_params[] = {LABELS_PARAM};
static const mrb_param_spec hd_params[] = {LABELS_PARAM, EMPTY_PARAM};
static const mrb_param_spec hd95_params[] = {
    LABELS_PARAM,
    EMPTY_PARAM,
    {"hd95", MRB_PARAM_STRING, 0, 0, 0, "max", "max|pooled|mean",
     "max: max of the directed percentiles (MONAI, BraTS); pooled: percentile of both sets "
     "(MedPy); mean: mean of the directed percentiles (plastimatch-style)"},
    {"percentile", MRB_PARAM_STRING, 0, 0, 0, "linear", "linear|nearest",
     "linear interpolation (numpy default) or nearest rank"},
    {"q", MRB_PARAM_NUMBER, 95.0, 0.0, 100.0, NULL, NULL, "the percentile, in percent"},
};
static const mrb_param_spec assd_params[] = {
    LABELS_PARAM,
    EMPTY_PARAM,
    {"assd", MRB_PARAM_STRING, 0, 0, 0, "pooled", "pooled|mean",
     "pooled: mean of both directed distance sets together; mean: mean of the two directed "
     "means (MedPy assd)"},
};
static const mrb_param_spec nsd_params[] = {
    LABELS_PARAM,
    EMPTY_PARAM,
    {"tau", MRB_PARAM_NUMBER, 1.0, 0.0, PARAM_TAU_MAX_MM, NULL, NULL, "tolerance in mm"},
};

static int has_param(const mrb_params *p, const char *name)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->v[i].name, name) == 0) return 1;
    return 0;
}

/* Options from whichever of the label parameters the metric has. */
static mrb_status seg_opts_from(const mrb_params *p, int distances, mrb_seg_opts *o)
{
    mrb_seg_opts_default(o);
    o->distances = distances;
    MRB_TRY(mrb_seg_opts_set_group(o, mrb_params_str(p, "labels")));
    if (has_param(p, "empty")) MRB_TRY(mrb_seg_parse_empty(mrb_params_str(p, "empty"), &o->empty));
    if (has_param(p, "hd95")) MRB_TRY(mrb_seg_parse_hd95(mrb_params_str(p, "hd95"), &o->hd95));
    if (has_param(p, "percentile"))
        MRB_TRY(mrb_seg_parse_percentile(mrb_params_str(p, "percentile"), &o->percentile_mode));
    if (has_param(p, "q")) o->percentile = mrb_params_num(p, "q");
    if (has_param(p, "tau")) o->tau = mrb_params_num(p, "tau");
    return MRB_OK;
}

static mrb_status seg_run(const mrb_params *p, const mrb_array *ref, const mrb_array *pred, const double spacing[3],
                          int distances, mrb_seg_result *r)
{
    mrb_seg_opts o;
    MRB_TRY(seg_opts_from(p, distances, &o));
    return mrb_seg_evaluate(ref, pred, spacing, &o, r);
}

static const char *empty_text(const mrb_params *p)
{
    const char *e = mrb_params_str(p, "empty");
    if (strcmp(e, "brats") == 0) return "empty policy brats";
    if (strcmp(e, "nan") == 0) return "empty policy nan (undefined values NaN)";
    return "empty policy worst";
}

#define OVERLAP_METRIC(NAME, FIELD, DESC, FORMULA, BRATS_TEXT)                                                         \
    static void def_##NAME(const mrb_params *p, char *buf, size_t len)                                                 \
    {                                                                                                                  \
        snprintf(buf, len, FORMULA " for labels {%s} counted over the volume; 0/0: %s%s", mrb_params_str(p, "labels"), \
                 strcmp(mrb_params_str(p, "empty"), "brats") == 0 ? BRATS_TEXT                                         \
                 : strcmp(mrb_params_str(p, "empty"), "nan") == 0 ? "NaN"                                              \
                                                                  : "0 (worst)",                                       \
                 strcmp(mrb_params_str(p, "empty"), "brats") == 0 ? " (brats)" : "");                                  \
    }                                                                                                                  \
    static mrb_status run_##NAME(const mrb_params *p, const mrb_array *ref, const mrb_array *pred,                     \
                                 const double spacing[3], double *v)                                                   \
    {                                                                                                                  \
        mrb_seg_result r;                                                                                              \
        MRB_TRY(seg_run(p, ref, pred, spacing, 0, &r));                                                                \
        *v = r.FIELD;                                                                                                  \
        return MRB_OK;                                                                                                 \
    }                                                                                                                  \
    METRIC_DESC(metric_##NAME, #NAME, DESC, "", 1, overlap_params, COUNT_OF(overlap_params), def_##NAME, NULL,         \
                run_##NAME);

#define AGREE "1 when both masks agree everywhere, else 0"
OVERLAP_METRIC(dice, dice, "Dice overlap of a label group", "Dice = 2TP / (2TP + FP + FN)", AGREE)
OVERLAP_METRIC(jaccard, jaccard, "Jaccard index (IoU) of a label group", "Jaccard = TP / (TP + FP + FN)", AGREE)
OVERLAP_METRIC(sensitivity, sensitivity, "sensitivity (recall) of a label group", "sensitivity = TP / (TP + FN)", AGREE)
OVERLAP_METRIC(specificity, specificity, "specificity of a label group", "specificity = TN / (TN + FP)", AGREE)
OVERLAP_METRIC(precision, precision, "precision (positive predictive value) of a label group",
               "precision = TP / (TP + FP)", AGREE)

static void def_voldiff(const mrb_params *p, char *buf, size_t len)
{
    snprintf(buf, len,
             "|V(prediction) - V(reference)| in ml for labels {%s}, V = voxel count x "
             "spacing[0] x spacing[1] x spacing[2] / 1000",
             mrb_params_str(p, "labels"));
}

static mrb_status run_voldiff(const mrb_params *p, const mrb_array *ref, const mrb_array *pred, const double spacing[3],
                              double *v)
{
    mrb_seg_result r;
    MRB_TRY(seg_run(p, ref, pred, spacing, 0, &r));
    *v = fabs(r.voldiff_ml);
    return MRB_OK;
}

METRIC_DESC(metric_voldiff, "voldiff", "absolute volume difference of a label group", "ml", 0, voldiff_params,
            COUNT_OF(voldiff_params), def_voldiff, NULL, run_voldiff);

#define SURFACE_TEXT                                                                                                   \
    "surfaces = mask XOR binary_erosion(mask, face-connected cross), array border "                                    \
    "voxels are surface (MedPy/SciPy border_value=0); distances in mm from each surface "                              \
    "voxel to the nearest surface voxel of the other mask (exact EDT, spacing applied)"

static void def_hd(const mrb_params *p, char *buf, size_t len)
{
    snprintf(buf, len, "HD = max of both directed maximum surface distances, labels {%s}; %s; %s",
             mrb_params_str(p, "labels"), SURFACE_TEXT, empty_text(p));
}

static void def_hd95(const mrb_params *p, char *buf, size_t len)
{
    const char *v = mrb_params_str(p, "hd95");
    const char *how = strcmp(v, "max") == 0      ? "max of the two directed percentiles (MONAI, BraTS)"
                      : strcmp(v, "pooled") == 0 ? "percentile of both directed distance sets pooled (MedPy hd95)"
                                                 : "mean of the two directed percentiles (plastimatch-style)";
    const char *pct = strcmp(mrb_params_str(p, "percentile"), "linear") == 0 ? "linear interpolation (numpy default)"
                                                                             : "nearest rank";
    snprintf(buf, len, "HD%g = %s, %s percentile, labels {%s}; %s; %s", mrb_params_num(p, "q"), how, pct,
             mrb_params_str(p, "labels"), SURFACE_TEXT, empty_text(p));
}

static void def_assd(const mrb_params *p, char *buf, size_t len)
{
    const char *how = strcmp(mrb_params_str(p, "assd"), "pooled") == 0
                          ? "ASSD = mean of both directed distance sets pooled"
                          : "ASD = mean of the two directed mean distances (MedPy assd)";
    snprintf(buf, len, "%s, labels {%s}; %s; %s", how, mrb_params_str(p, "labels"), SURFACE_TEXT, empty_text(p));
}

static void def_nsd(const mrb_params *p, char *buf, size_t len)
{
    snprintf(buf, len,
             "NSD = (#surface voxels of each mask within tau = %g mm of the other surface) / "
             "(#surface voxels of both), voxel-counted as MONAI compute_surface_dice, labels "
             "{%s}; %s; %s",
             mrb_params_num(p, "tau"), mrb_params_str(p, "labels"), SURFACE_TEXT, empty_text(p));
}

static mrb_status run_hd(const mrb_params *p, const mrb_array *ref, const mrb_array *pred, const double spacing[3],
                         double *v)
{
    mrb_seg_result r;
    MRB_TRY(seg_run(p, ref, pred, spacing, 1, &r));
    *v = r.hd;
    return MRB_OK;
}

static mrb_status run_hd95(const mrb_params *p, const mrb_array *ref, const mrb_array *pred, const double spacing[3],
                           double *v)
{
    mrb_seg_result r;
    MRB_TRY(seg_run(p, ref, pred, spacing, 1, &r));
    *v = r.hd95;
    return MRB_OK;
}

static mrb_status run_assd(const mrb_params *p, const mrb_array *ref, const mrb_array *pred, const double spacing[3],
                           double *v)
{
    mrb_seg_result r;
    MRB_TRY(seg_run(p, ref, pred, spacing, 1, &r));
    *v = strcmp(mrb_params_str(p, "assd"), "pooled") == 0 ? r.assd : r.asd;
    return MRB_OK;
}

static mrb_status run_nsd(const mrb_params *p, const mrb_array *ref, const mrb_array *pred, const double spacing[3],
                          double *v)
{
    mrb_seg_result r;
    MRB_TRY(seg_run(p, ref, pred, spacing, 1, &r));
    *v = r.nsd;
    return MRB_OK;
}

METRIC_DESC(metric_hd, "hd", "Hausdorff distance between label-group surfaces", "mm", 0, hd_params, COUNT_OF(hd_params),
            def_hd, NULL, run_hd);
METRIC_DESC(metric_hd95, "hd95", "95th-percentile Hausdorff distance (variant is a parameter)", "mm", 0, hd95_params,
            COUNT_OF(hd95_params), def_hd95, NULL, run_hd95);
METRIC_DESC(metric_assd, "assd", "average symmetric surface distance", "mm", 0, assd_params, COUNT_OF(assd_params),
            def_assd, NULL, run_assd);
METRIC_DESC(metric_nsd, "nsd", "normalised surface Dice at tolerance tau", "", 1, nsd_params, COUNT_OF(nsd_params),
            def_nsd, NULL, run_nsd);

const mrb_metric_desc *const mrb_metric_table[] = {
    &metric_psnr,        &metric_ssim,      &metric_nmse,    &metric_mse,
    &metric_mae,         &metric_dice,      &metric_jaccard, &metric_sensitivity,
    &metric_specificity, &metric_precision, &metric_voldiff, &metric_hd,
    &metric_hd95,        &metric_assd,      &metric_nsd,     NULL,
};
