/* mrbench score: metrics of two files, the tool to reach for instead of a
 * notebook. Label maps (integer files) get overlap and surface-distance
 * metrics per label group; images (float or complex files) get PSNR, SSIM,
 * NMSE, MSE and MAE on magnitudes. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "mrbench/io.h"
#include "mrbench/metrics.h"
#include "mrbench/util.h"

static const char help[] =
    "usage: mrbench score REF PRED [options]\n"
    "\n"
    "Scores PRED against REF. Files: NIfTI-1/2 (.nii, .nii.gz), BART .cfl/.hdr (give the base\n"
    "name or either file), HDF5 (.h5). Integer files are label maps, and so are float files of\n"
    "whole numbers when a label option below is given; float and complex files are otherwise images\n"
    "(compared on magnitudes). Spacing comes from the file headers (NIfTI pixdim in their units) or\n"
    "--spacing. Trailing axes of length 1 are dropped; a 4-D label map (x, y, z, t) is scored one\n"
    "time point at a time (--frame).\n"
    "\n"
    "label maps:\n"
    "  --labels L[,L...]    one label group as foreground (e.g. 1,2,4); default: every label present\n"
    "                       in either map, each on its own\n"
    "  --regions brats|acdc brats: whole tumour {1,2,4}, tumour core {1,4}, enhancing {4};\n"
    "                       acdc: RV {1}, myocardium {2}, LV {3}\n"
    "  --hd95 max|pooled|mean   HD95 variant (default max: MONAI/BraTS; pooled: MedPy; mean: plastimatch-style)\n"
    "  --empty brats|nan|worst  empty-mask policy (default brats: both empty Dice 1 / 0 mm,\n"
    "                       one empty Dice 0 / 373.13 mm)\n"
    "  --percentile linear|nearest  percentile interpolation (default linear, numpy)\n"
    "  --tau MM             normalised surface Dice tolerance (default 1 mm)\n"
    "  --frame K            time point K (from 0) of 4-D files (e.g. a cine from 'mrbench export')\n"
    "images:\n"
    "  --image              score as images even if the files hold integers\n"
    "  --data-range R       PSNR/SSIM data range (default: max of REF over the volume, fastMRI)\n"
    "common:\n"
    "  --spacing X,Y,Z      voxel spacing in mm (overrides the headers)\n"
    "  --threads N          threads for the distance transform (default 1)\n"
    "  --json               print JSON instead of a table\n"
    "  -h, --help           this help\n"
    "\n"
    "Table: voldiff_ml is |V(pred) - V(ref)| as the metric 'voldiff'; --json also gives the signed\n"
    "voldiff_signed_ml. Definitions: impl/metrics/README.md. Exit 0 ok, 2 bad input (shape or\n"
    "spacing mismatch, spacing <= 0 or NaN, labels outside 0..255 or not whole, unreadable file).\n";

typedef struct group {
    char name[32];
    char labels[128];
} group;

static int parse_spacing(const char *text, double sp[3])
{
    char *end;
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        sp[i] = strtod(p, &end);
        if (end == p || !isfinite(sp[i]) || sp[i] <= 0) return -1;
        p = end;
        if (i < 2) {
            if (*p != ',') return -1;
            p++;
        }
    }
    return *p ? -1 : 0;
}

static void print_value(FILE *f, double v)
{
    if (isnan(v))
        fprintf(f, "%12s", "nan");
    else
        fprintf(f, "%12.6g", v);
}

static cJSON *num(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v)
           : isnan(v)  ? cJSON_CreateNull()
                       : cJSON_CreateString(v > 0 ? "inf" : "-inf");
}

static int score_images(const mrb_array *ref, const mrb_array *pred, double data_range, int json)
{
    mrb_array *rm = mrb_array_magnitude(ref), *pm = mrb_array_magnitude(pred);
    if (!rm || !pm) {
        mrb_array_free(rm);
        mrb_array_free(pm);
        return mrb_cli_fail("score", MRB_ERR_NOMEM);
    }
    /* 4-D and higher: slices are everything beyond the first two axes. */
    if (rm->ndim > 3) {
        size_t slices = mrb_array_count(rm) / (rm->dims[0] * rm->dims[1]);
        rm->ndim = pm->ndim = 3;
        rm->dims[2] = pm->dims[2] = slices;
    }
    double v[5];
    mrb_ssim_opts so;
    mrb_ssim_opts_default(&so);
    so.data_range = data_range;
    mrb_status st = mrb_metric_psnr(rm, pm, data_range, &v[0]);
    if (st == MRB_OK) st = mrb_metric_ssim(rm, pm, &so, &v[1]);
    if (st == MRB_OK) st = mrb_metric_nmse(rm, pm, &v[2]);
    if (st == MRB_OK) st = mrb_metric_mse(rm, pm, &v[3]);
    if (st == MRB_OK) st = mrb_metric_mae(rm, pm, &v[4]);
    mrb_array_free(rm);
    mrb_array_free(pm);
    if (st != MRB_OK) return mrb_cli_fail("score", st);
    static const char *const names[5] = {"psnr", "ssim", "nmse", "mse", "mae"};
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", "image");
        for (int i = 0; i < 5; i++) cJSON_AddItemToObject(o, names[i], num(v[i]));
        char *t = cJSON_Print(o);
        printf("%s\n", t);
        free(t);
        cJSON_Delete(o);
    } else {
        for (int i = 0; i < 5; i++) {
            printf("%-6s", names[i]);
            print_value(stdout, v[i]);
            printf("\n");
        }
    }
    return 0;
}

/* Drops trailing axes of length 1: a 2-D map saved as [x, y, 1], a 3-D one as [x, y, z, 1]. */
static void squeeze_trailing(mrb_array *a)
{
    while (a->ndim > 2 && a->dims[a->ndim - 1] == 1) a->ndim--;
}

/* squeeze_trailing; with frame >= 0 keeps time point `frame` of a 4-D array. */
static mrb_status shape_for_scoring(mrb_array **a, const char *path, long frame)
{
    mrb_array *x = *a;
    squeeze_trailing(x);
    if (frame < 0) return MRB_OK;
    char s[64];
    if (x->ndim != 4)
        return mrb_error(MRB_ERR_INVALID, "%s: --frame needs a 4-D file (x, y, z, t), this one is %s", path,
                         mrb_array_shape_str(x, s, sizeof s));
    if ((size_t)frame >= x->dims[3])
        return mrb_error(MRB_ERR_INVALID, "%s: --frame %ld is beyond its %zu time points", path, frame, x->dims[3]);
    mrb_array *v = mrb_array_create(x->dtype, 3, x->dims);
    if (!v) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
    size_t bytes = mrb_array_count(v) * mrb_dtype_size(x->dtype);
    memcpy(v->data, (const char *)x->data + (size_t)frame * bytes, bytes);
    squeeze_trailing(v);
    mrb_array_free(x);
    *a = v;
    return MRB_OK;
}

int mrb_cmd_score(int argc, char **argv)
{
    static const struct option longopts[] = {{"labels", required_argument, 0, 'l'},
                                             {"regions", required_argument, 0, 'r'},
                                             {"hd95", required_argument, 0, '9'},
                                             {"empty", required_argument, 0, 'e'},
                                             {"percentile", required_argument, 0, 'p'},
                                             {"tau", required_argument, 0, 't'},
                                             {"frame", required_argument, 0, 'f'},
                                             {"image", no_argument, 0, 'i'},
                                             {"data-range", required_argument, 0, 'd'},
                                             {"spacing", required_argument, 0, 's'},
                                             {"threads", required_argument, 0, 'n'},
                                             {"json", no_argument, 0, 'j'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    mrb_seg_opts so;
    mrb_seg_opts_default(&so);
    so.nthreads = 1;
    const char *labels = NULL, *regions = NULL;
    double spacing[3] = {1, 1, 1}, data_range = 0;
    int have_spacing = 0, as_image = 0, json = 0, label_opts = 0;
    long frame = -1;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        long n;
        if (ch > 0 && strchr("lr9ept", ch)) label_opts = 1;
        switch (ch) {
        case 'l': labels = optarg; break;
        case 'r':
            if (strcmp(optarg, "brats") != 0 && strcmp(optarg, "acdc") != 0)
                return mrb_cli_usage("score", "--regions takes brats or acdc, not '%s'", optarg);
            regions = optarg;
            break;
        case '9':
            if (mrb_seg_parse_hd95(optarg, &so.hd95) != MRB_OK)
                return mrb_cli_usage("score", "%s", mrb_error_message());
            break;
        case 'e':
            if (mrb_seg_parse_empty(optarg, &so.empty) != MRB_OK)
                return mrb_cli_usage("score", "%s", mrb_error_message());
            break;
        case 'p':
            if (mrb_seg_parse_percentile(optarg, &so.percentile_mode) != MRB_OK)
                return mrb_cli_usage("score", "%s", mrb_error_message());
            break;
        case 't':
            so.tau = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(so.tau) || so.tau < 0)
                return mrb_cli_usage("score", "--tau takes a distance >= 0 in mm, not '%s'", optarg);
            break;
        case 'f':
            if (mrb_cli_parse_int(optarg, 0, 1000000, &frame) != 0)
                return mrb_cli_usage("score", "--frame takes a time point >= 0, not '%s'", optarg);
            break;
        case 'i': as_image = 1; break;
        case 'd':
            data_range = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(data_range) || data_range <= 0)
                return mrb_cli_usage("score", "--data-range takes a number > 0, not '%s'", optarg);
            break;
        case 's':
            if (parse_spacing(optarg, spacing) != 0)
                return mrb_cli_usage("score", "--spacing takes X,Y,Z in mm, each finite and > 0, not '%s'", optarg);
            have_spacing = 1;
            break;
        case 'n':
            if (mrb_cli_parse_int(optarg, 1, 1024, &n) != 0)
                return mrb_cli_usage("score", "--threads takes an integer from 1 to 1024, not '%s'", optarg);
            so.nthreads = mrb_threads_usable((int)n);
            break;
        case 'j': json = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return mrb_cli_usage("score", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2) return mrb_cli_usage("score", "expected two files, REF and PRED");
    if (labels && regions) return mrb_cli_usage("score", "give --labels or --regions, not both");
    if (label_opts && as_image) return mrb_cli_usage("score", "--image excludes the label-map options");
    const char *ref_path = argv[optind], *pred_path = argv[optind + 1];

    mrb_array *ref = NULL, *pred = NULL;
    double sp_ref[3] = {1, 1, 1}, sp_pred[3] = {1, 1, 1};
    mrb_status st = mrb_image_read(ref_path, &ref, sp_ref);
    if (st == MRB_OK) st = mrb_image_read(pred_path, &pred, sp_pred);
    int rc = 0;
    if (st == MRB_OK) st = shape_for_scoring(&ref, ref_path, frame);
    if (st == MRB_OK) st = shape_for_scoring(&pred, pred_path, frame);
    if (st != MRB_OK) {
        rc = mrb_cli_fail("score", st);
        goto done;
    }
    if (!mrb_array_same_shape(ref, pred)) {
        char a[64], b[64];
        mrb_error(MRB_ERR_INVALID, "shape mismatch: %s is %s, %s is %s", ref_path,
                  mrb_array_shape_str(ref, a, sizeof a), pred_path, mrb_array_shape_str(pred, b, sizeof b));
        rc = mrb_cli_fail("score", MRB_ERR_INVALID);
        goto done;
    }
    int labels_mode =
        !as_image && (label_opts || (mrb_seg_is_label_dtype(ref->dtype) && mrb_seg_is_label_dtype(pred->dtype)));
    if (!labels_mode) {
        if (!as_image && (mrb_seg_is_label_dtype(ref->dtype) != mrb_seg_is_label_dtype(pred->dtype))) {
            mrb_error(MRB_ERR_INVALID, "%s is %s but %s is %s: both label maps or both images (or pass --image)",
                      ref_path, mrb_dtype_name(ref->dtype), pred_path, mrb_dtype_name(pred->dtype));
            rc = mrb_cli_fail("score", MRB_ERR_INVALID);
            goto done;
        }
        st = mrb_array_check_finite(ref, ref_path);
        if (st == MRB_OK) st = mrb_array_check_finite(pred, pred_path);
        rc = st == MRB_OK ? score_images(ref, pred, data_range, json) : mrb_cli_fail("score", st);
        goto done;
    }
    if (ref->ndim > 3) {
        char a[64];
        mrb_error(MRB_ERR_INVALID, "%s: label map %s has %d axes; score one time point of a 4-D map with --frame K",
                  ref_path, mrb_array_shape_str(ref, a, sizeof a), ref->ndim);
        rc = mrb_cli_fail("score", MRB_ERR_INVALID);
        goto done;
    }
    if (!have_spacing) {
        for (int i = 0; i < ref->ndim; i++) { /* axes beyond the map's keep 1 */
            if (!isfinite(sp_ref[i]) || sp_ref[i] <= 0) {
                mrb_error(MRB_ERR_INVALID, "%s: spacing %g along axis %d is not a positive number (give --spacing)",
                          ref_path, sp_ref[i], i);
                rc = mrb_cli_fail("score", MRB_ERR_INVALID);
                goto done;
            }
            if (fabs(sp_ref[i] - sp_pred[i]) > 1e-4 * sp_ref[i]) {
                mrb_error(MRB_ERR_INVALID,
                          "spacing mismatch along axis %d: %s has %g mm, %s has %g mm (give --spacing)", i, ref_path,
                          sp_ref[i], pred_path, sp_pred[i]);
                rc = mrb_cli_fail("score", MRB_ERR_INVALID);
                goto done;
            }
            spacing[i] = sp_ref[i];
        }
    }
    {
        mrb_array *r8 = NULL, *p8 = NULL;
        st = mrb_seg_labels_u8(ref, ref_path, &r8);
        if (st == MRB_OK) st = mrb_seg_labels_u8(pred, pred_path, &p8);
        if (st != MRB_OK) {
            mrb_array_free(r8);
            rc = mrb_cli_fail("score", st);
            goto done;
        }
        group groups[256];
        size_t ng = 0;
        if (regions && strcmp(regions, "brats") == 0) {
            groups[ng++] = (group){"WT", "1,2,4"};
            groups[ng++] = (group){"TC", "1,4"};
            groups[ng++] = (group){"ET", "4"};
        } else if (regions) {
            groups[ng++] = (group){"RV", "1"};
            groups[ng++] = (group){"MYO", "2"};
            groups[ng++] = (group){"LV", "3"};
        } else if (labels) {
            snprintf(groups[0].name, sizeof groups[0].name, "labels");
            snprintf(groups[0].labels, sizeof groups[0].labels, "%s", labels);
            ng = 1;
        } else {
            unsigned char present[256] = {0};
            const uint8_t *a = r8->data, *b = p8->data;
            size_t n = mrb_array_count(r8);
            for (size_t i = 0; i < n; i++) present[a[i]] = present[b[i]] = 1;
            for (int v = 1; v < 256; v++)
                if (present[v]) {
                    snprintf(groups[ng].name, sizeof groups[ng].name, "label %d", v);
                    snprintf(groups[ng].labels, sizeof groups[ng].labels, "%d", v);
                    ng++;
                }
            if (ng == 0) { /* both maps empty: score label 1 under the empty policy */
                groups[0] = (group){"label 1", "1"};
                ng = 1;
            }
        }
        cJSON *out = json ? cJSON_CreateObject() : NULL;
        if (out) {
            cJSON_AddStringToObject(out, "kind", "labels");
            cJSON *sp = cJSON_AddArrayToObject(out, "spacing_mm");
            for (int i = 0; i < 3; i++) cJSON_AddItemToArray(sp, cJSON_CreateNumber(spacing[i]));
            static const char *const hv[] = {"max", "pooled", "mean"};
            static const char *const ep[] = {"brats", "nan", "worst"};
            cJSON_AddStringToObject(out, "hd95_variant", hv[so.hd95]);
            cJSON_AddStringToObject(out, "empty_policy", ep[so.empty]);
            cJSON_AddStringToObject(out, "percentile",
                                    so.percentile_mode == MRB_PERCENTILE_LINEAR ? "linear" : "nearest");
            cJSON_AddNumberToObject(out, "tau_mm", so.tau);
        } else {
            printf("%-10s %12s %12s %12s %12s %12s %12s %12s %12s %12s %12s %12s\n", "group", "dice", "jaccard",
                   "sensitivity", "specificity", "precision", "voldiff_ml", "hd_mm", "hd95_mm", "assd_mm", "nsd",
                   "empty");
        }
        cJSON *garr = out ? cJSON_AddArrayToObject(out, "groups") : NULL;
        for (size_t g = 0; g < ng && st == MRB_OK; g++) {
            st = mrb_seg_opts_set_group(&so, groups[g].labels);
            mrb_seg_result r;
            if (st == MRB_OK) st = mrb_seg_evaluate(r8, p8, spacing, &so, &r);
            if (st != MRB_OK) break;
            double vals[10] = {r.dice, r.jaccard, r.sensitivity, r.specificity, r.precision, fabs(r.voldiff_ml),
                               r.hd,   r.hd95,    r.assd,        r.nsd};
            if (out) {
                static const char *const names[10] = {"dice",      "jaccard",    "sensitivity", "specificity",
                                                      "precision", "voldiff_ml", "hd_mm",       "hd95_mm",
                                                      "assd_mm",   "nsd"};
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "group", groups[g].name);
                cJSON_AddStringToObject(o, "labels", groups[g].labels);
                for (int i = 0; i < 10; i++) cJSON_AddItemToObject(o, names[i], num(vals[i]));
                cJSON_AddItemToObject(o, "hd95_pooled_mm", num(r.hd95_pooled));
                cJSON_AddItemToObject(o, "hd95_max_mm", num(r.hd95_max));
                cJSON_AddItemToObject(o, "hd95_mean_mm", num(r.hd95_mean));
                cJSON_AddItemToObject(o, "asd_mm", num(r.asd));
                cJSON_AddItemToObject(o, "voldiff_signed_ml", num(r.voldiff_ml));
                cJSON_AddNumberToObject(o, "tp", (double)r.tp);
                cJSON_AddNumberToObject(o, "fp", (double)r.fp);
                cJSON_AddNumberToObject(o, "fn", (double)r.fn);
                cJSON_AddBoolToObject(o, "ref_empty", r.ref_empty);
                cJSON_AddBoolToObject(o, "pred_empty", r.pred_empty);
                cJSON_AddBoolToObject(o, "empty_policy_applied", r.policy_applied);
                cJSON_AddItemToArray(garr, o);
            } else {
                printf("%-10s", groups[g].name);
                for (int i = 0; i < 10; i++) {
                    printf(" ");
                    print_value(stdout, vals[i]);
                }
                printf(" %12s\n", r.policy_applied ? "policy" : "-");
            }
        }
        if (st != MRB_OK)
            rc = mrb_cli_fail("score", st);
        else if (out) {
            char *t = cJSON_Print(out);
            printf("%s\n", t);
            free(t);
        }
        cJSON_Delete(out);
        mrb_array_free(r8);
        mrb_array_free(p8);
    }
done:
    mrb_array_free(ref);
    mrb_array_free(pred);
    return rc;
}
