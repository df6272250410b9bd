/* mrbench metrics: image quality (MSE, MAE, NMSE, PSNR, SSIM), label-map
 * overlap (Dice, Jaccard, ...) and surface distances (HD, HD95, ASSD, NSD),
 * and the exact Euclidean distance transform they rest on.
 *
 * Every definition, and how it relates to fastMRI, scikit-image, MedPy,
 * MONAI, plastimatch and DeepMind surface-distance, is written out in
 * impl/metrics/README.md.
 *
 * Determinism: every result is bit-identical run to run and independent of
 * the number of OpenMP threads (sums are taken in a fixed order over fixed
 * blocks; parallel loops write disjoint outputs). */
#ifndef MRBENCH_METRICS_H
#define MRBENCH_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Image metrics on magnitudes: MRB_F32 arrays [nx, ny] or [nx, ny, nslices],
 * `ref` the reference, `x` the image under test, same shape. Computed in
 * double. Shape mismatch, a wrong dtype, non-finite values or a zero data
 * range give MRB_ERR_INVALID with a message naming the problem.
 * ------------------------------------------------------------------------ */

/* MSE = mean((ref - x)^2) over every voxel. */
mrb_status mrb_metric_mse(const mrb_array *ref, const mrb_array *x, double *out);
/* MAE = mean(|ref - x|) over every voxel. */
mrb_status mrb_metric_mae(const mrb_array *ref, const mrb_array *x, double *out);
/* NMSE = ||ref - x||^2 / ||ref||^2 over the volume (fastMRI `nmse`);
 * a reference of zero norm is MRB_ERR_INVALID. */
mrb_status mrb_metric_nmse(const mrb_array *ref, const mrb_array *x, double *out);
/* PSNR = 10 log10(R^2 / MSE). R = data_range when > 0, else max(ref) over
 * the whole volume (fastMRI `psnr`). +INFINITY when MSE = 0 (as
 * scikit-image). R <= 0 after defaulting is MRB_ERR_INVALID. */
mrb_status mrb_metric_psnr(const mrb_array *ref, const mrb_array *x, double data_range, double *out);

typedef struct mrb_ssim_opts {
    int win_size;          /* odd side of the uniform window (default 7); for the
                            * Gaussian variant 0 = 2 * int(3.5 sigma + 0.5) + 1 */
    int gaussian;          /* 0: uniform window (default); 1: Gaussian weights */
    double sigma;          /* Gaussian standard deviation in pixels (1.5) */
    double k1, k2;         /* stabilising constants (0.01, 0.03) */
    double data_range;     /* R; <= 0 means max(ref) over the volume (default 0) */
    int sample_covariance; /* 1: covariances scaled by NP/(NP-1) (default);
                            * 0: population covariances (Wang et al. 2004) */
} mrb_ssim_opts;

/* scikit-image 0.19 `structural_similarity` defaults: 7x7 uniform window,
 * K1 0.01, K2 0.03, use_sample_covariance=True, data range = max(ref). */
void mrb_ssim_opts_default(mrb_ssim_opts *o);
/* The Wang et al. 2004 variant as scikit-image computes it with
 * gaussian_weights=True, sigma=1.5, use_sample_covariance=False: 11x11
 * Gaussian (truncate 3.5), population covariances. */
void mrb_ssim_opts_gaussian(mrb_ssim_opts *o);

/* Mean SSIM: per slice, the mean of the SSIM map over the valid window
 * positions (a border of (win-1)/2 cropped from each side, as scikit-image),
 * then the mean over slices. opts NULL means mrb_ssim_opts_default. Slices
 * smaller than the window are MRB_ERR_INVALID. */
mrb_status mrb_metric_ssim(const mrb_array *ref, const mrb_array *x, const mrb_ssim_opts *opts, double *out);
/* The window side the options give (Gaussian: from sigma, as scipy's
 * truncation); MRB_ERR_INVALID for an even or too small window, a sigma out
 * of range or a window that does not match sigma. */
mrb_status mrb_ssim_window(const mrb_ssim_opts *opts, int *win);
/* As mrb_metric_ssim, writing each slice's mean SSIM into per_slice
 * (dims[2] values, 1 for a 2D array); out may be NULL. The data range
 * default is still the max over the whole volume. */
mrb_status mrb_metric_ssim_slices(const mrb_array *ref, const mrb_array *x, const mrb_ssim_opts *opts,
                                  double *per_slice, double *out);

/* ------------------------------------------------------------------------
 * Label-map metrics: MRB_U8 arrays [nx, ny] or [nx, ny, nz] (a 3D array
 * with nz = 1 is treated as 2D). A label group (a set of label values) is
 * the foreground. spacing[3] in mm along dims 0..2 (NULL = 1 mm); for 2D
 * maps spacing[2] is the slice thickness, used for volumes only.
 * ------------------------------------------------------------------------ */

typedef enum mrb_hd95_variant {
    MRB_HD95_MAX = 0, /* max of the two directed percentiles (MONAI, BraTS; default) */
    MRB_HD95_POOLED,  /* percentile of both directed sets pooled (MedPy hd95) */
    MRB_HD95_MEAN     /* mean of the two directed percentiles (plastimatch-style) */
} mrb_hd95_variant;

typedef enum mrb_empty_policy {
    MRB_EMPTY_BRATS = 0, /* both empty: Dice 1, distances 0; one empty: Dice 0,
                          * HD/HD95/ASSD/ASD = 373.13 mm (default) */
    MRB_EMPTY_NAN,       /* undefined values are NaN */
    MRB_EMPTY_WORST      /* undefined values take their worst value: ratios 0,
                          * distances = image diagonal in mm */
} mrb_empty_policy;

typedef enum mrb_percentile_mode {
    MRB_PERCENTILE_LINEAR = 0, /* numpy default: x[floor(h)] interpolated, h = (n-1) q */
    MRB_PERCENTILE_NEAREST     /* nearest rank: the ceil(q n)-th smallest value */
} mrb_percentile_mode;

typedef struct mrb_seg_opts {
    uint8_t group[256]; /* group[v] != 0: label value v is foreground */
    mrb_hd95_variant hd95;
    mrb_empty_policy empty;
    mrb_percentile_mode percentile_mode;
    double percentile; /* q of "HD95" in percent (default 95) */
    double tau;        /* NSD tolerance in mm (default 1) */
    int distances;     /* 0: counts and overlap only, no surface distances */
    int nthreads;      /* OpenMP threads; 0 = the OpenMP default */
} mrb_seg_opts;

/* Defaults: group {1}, HD95 max, policy brats, linear percentile, q 95,
 * tau 1 mm, distances on, nthreads 0. */
void mrb_seg_opts_default(mrb_seg_opts *o);
/* Sets the group from text such as "1,2,4" (values 0..255, comma separated,
 * at least one); MRB_ERR_INVALID naming the text otherwise. */
mrb_status mrb_seg_opts_set_group(mrb_seg_opts *o, const char *labels);
/* Parses "max|pooled|mean", "brats|nan|worst", "linear|nearest". */
mrb_status mrb_seg_parse_hd95(const char *text, mrb_hd95_variant *out);
mrb_status mrb_seg_parse_empty(const char *text, mrb_empty_policy *out);
mrb_status mrb_seg_parse_percentile(const char *text, mrb_percentile_mode *out);

/* A label map as MRB_U8 (a new array): from MRB_U8, MRB_I16 or MRB_I32,
 * and from MRB_F32 when every value is a whole number (tools often save label
 * maps as float32); each label must lie in 0..255. MRB_ERR_INVALID naming
 * `name`, the value and its voxel otherwise. */
mrb_status mrb_seg_labels_u8(const mrb_array *a, const char *name, mrb_array **out);
/* 1 for the integer types that hold label maps (MRB_U8, MRB_I16, MRB_I32). */
int mrb_seg_is_label_dtype(mrb_dtype t);

typedef struct mrb_seg_result {
    uint64_t tp, fp, fn, tn;
    uint64_t n_surface_ref, n_surface_pred; /* surface voxel counts */
    int ref_empty, pred_empty;
    int policy_applied; /* 1 when an empty mask made a value follow the policy */
    double dice, jaccard, sensitivity, specificity, precision;
    double vol_ref_ml, vol_pred_ml;
    double voldiff_ml; /* vol_pred_ml - vol_ref_ml (signed) */
    /* Surface distances in mm (NaN when opts.distances = 0). */
    double hd;   /* max of both directed maxima */
    double hd95; /* the variant opts.hd95 */
    double hd95_max, hd95_pooled, hd95_mean;
    double hd95_ref_to_pred, hd95_pred_to_ref; /* the directed percentiles */
    double assd;                               /* mean of the pooled directed distances */
    double asd;                                /* mean of the two directed means (MedPy `assd`) */
    double nsd;                                /* fraction of both surfaces within tau of the other */
    double diagonal_mm;                        /* image diagonal, the `worst` distance */
} mrb_seg_result;

/* Every label metric for one group: one pass for the counts, surfaces in
 * the bounding box of both masks, one exact EDT per surface. */
mrb_status mrb_seg_evaluate(const mrb_array *ref, const mrb_array *pred, const double spacing[3],
                            const mrb_seg_opts *opts, mrb_seg_result *out);

/* ------------------------------------------------------------------------
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012,
 * separable lower envelopes of parabolas), linear time, OpenMP over lines.
 * feature: ndim (1..3) axes of dims, dims[0] fastest, nonzero = feature.
 * out_sq: squared distance in mm^2 from each voxel to the nearest feature
 * voxel, spacing[d] mm along axis d (NULL = 1); +INFINITY everywhere when
 * there is no feature. nthreads 0 = the OpenMP default.
 * ------------------------------------------------------------------------ */
mrb_status mrb_edt_squared(const uint8_t *feature, int ndim, const size_t *dims, const double *spacing, int nthreads,
                           double *out_sq);

/* The BraTS evaluation's distance for one empty mask: the diagonal of the
 * 240x240x155 1 mm volume, sqrt(240^2 + 240^2 + 155^2) rounded to 373.13. */
#define MRB_BRATS_EMPTY_DISTANCE_MM 373.13

#ifdef __cplusplus
}
#endif
#endif
