/* Prediction folders as leaderboard submissions: every file of a reference
 * folder is scored against the file of the same name in a prediction
 * folder, and the scores are returned as a results tree (schema v1 layout:
 * one case, one item per reference file) that mrb_leaderboard ranks like a
 * run. Label maps get Dice and HD95 per region, images PSNR, SSIM and NMSE
 * (impl/report/README.md). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mrbench/io.h"
#include "mrbench/metrics.h"
#include "mrbench/stats.h"
#include "mrbench/util.h"
#include "report/report_internal.h"
#include "run/runner_internal.h"

#define FOLDER_MAX_REGIONS 16

typedef struct region {
    char name[32];
    char labels[128];
} region;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Item id of a file name: the name without .nii or .nii.gz; NULL if not NIfTI. */
static int item_id(const char *file, char *id, size_t cap)
{
    size_t n = strlen(file);
    size_t cut = n > 7 && strcmp(file + n - 7, ".nii.gz") == 0 ? n - 7
                 : n > 4 && strcmp(file + n - 4, ".nii") == 0  ? n - 4
                                                               : 0;
    if (!cut || cut >= cap) return 0;
    snprintf(id, cap, "%.*s", (int)cut, file);
    return 1;
}

static mrb_status list_nifti(const char *dir, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return mrb_error(MRB_ERR_IO, "%s: cannot open the folder", dir);
    struct dirent *de;
    char id[256];
    while ((de = readdir(d))) {
        if (!item_id(de->d_name, id, sizeof id)) continue;
        char **nn = realloc(*names, (*n + 1) * sizeof **names);
        if (!nn || !(nn[*n] = strdup(de->d_name))) {
            if (nn) *names = nn;
            closedir(d);
            return mrb_error(MRB_ERR_NOMEM, "out of memory");
        }
        *names = nn;
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(*names, *n, sizeof **names, cmp_str);
    return MRB_OK;
}

/* Regions: "brats" (whole tumour 1,2,4; tumour core 1,4; enhancing 4),
 * "NAME=L,L;NAME=L" groups, or NULL: every non-zero label of the first
 * reference map on its own. */
static mrb_status parse_regions(const char *text, const mrb_array *first_ref, region *r, size_t *n)
{
    *n = 0;
    if (text && strcmp(text, "brats") == 0) {
        /* BraTS 2017 evaluation regions (Menze et al. 2015; Bakas et al. 2018). */
        r[0] = (region){"wt", "1,2,4"};
        r[1] = (region){"tc", "1,4"};
        r[2] = (region){"et", "4"};
        *n = 3;
        return MRB_OK;
    }
    if (text) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", text);
        for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(tok, '=');
            if (!eq || eq == tok || *n == FOLDER_MAX_REGIONS || (size_t)(eq - tok) >= sizeof r->name)
                return mrb_error(MRB_ERR_INVALID, "regions '%s': expected 'brats' or NAME=L,L;NAME=L (at most %d)",
                                 text, FOLDER_MAX_REGIONS);
            snprintf(r[*n].name, sizeof r[*n].name, "%.*s", (int)(eq - tok), tok);
            snprintf(r[*n].labels, sizeof r[*n].labels, "%s", eq + 1);
            mrb_seg_opts probe;
            mrb_seg_opts_default(&probe);
            MRB_TRY(mrb_seg_opts_set_group(&probe, r[*n].labels));
            (*n)++;
        }
        return MRB_OK;
    }
    int seen[256] = {0};
    const uint8_t *u = first_ref->data;
    for (size_t i = 0; i < mrb_array_count(first_ref); i++) seen[u[i]] = 1;
    for (int v = 1; v < 256 && *n < FOLDER_MAX_REGIONS; v++)
        if (seen[v]) {
            snprintf(r[*n].name, sizeof r[*n].name, "label%d", v);
            snprintf(r[*n].labels, sizeof r[*n].labels, "%d", v);
            (*n)++;
        }
    if (*n == 0) return mrb_error(MRB_ERR_INVALID, "reference label maps hold no foreground label");
    return MRB_OK;
}

static void add_def(cJSON *defs, const char *id, const char *metric, const char *definition, const char *unit, int hib,
                    const char *labels)
{
    cJSON *d = cJSON_AddObjectToObject(defs, id);
    cJSON_AddStringToObject(d, "metric", metric);
    cJSON_AddStringToObject(d, "definition", definition);
    cJSON_AddStringToObject(d, "unit", unit);
    cJSON_AddBoolToObject(d, "higher_is_better", hib);
    cJSON *p = cJSON_AddObjectToObject(d, "params");
    if (labels) cJSON_AddStringToObject(p, "labels", labels);
}

/* Scores one item; metrics go into `m` (absent when the prediction is missing). */
static mrb_status score_item(const char *ref_path, const char *pred_path, int *labels_mode, const char *regions_text,
                             region *rg_out, size_t *nrg_out, cJSON *m)
{
    mrb_array *ref = NULL, *pred = NULL, *ru = NULL, *pu = NULL, *rm = NULL, *pm = NULL;
    double spacing[3];
    mrb_status st = mrb_image_read(ref_path, &ref, spacing);
    struct stat sb;
    if (st == MRB_OK && stat(pred_path, &sb) != 0) goto done; /* missing prediction: no values */
    if (st == MRB_OK) st = mrb_image_read(pred_path, &pred, NULL);
    if (st == MRB_OK && !mrb_array_same_shape(ref, pred)) {
        char a[64], b[64];
        st = mrb_error(MRB_ERR_INVALID, "%s: shape %s differs from the reference %s (%s)", pred_path,
                       mrb_array_shape_str(pred, a, sizeof a), mrb_array_shape_str(ref, b, sizeof b), ref_path);
    }
    if (st != MRB_OK) goto done;
    if (*labels_mode < 0) *labels_mode = mrb_seg_is_label_dtype(ref->dtype);
    if (*labels_mode != mrb_seg_is_label_dtype(ref->dtype)) {
        st = mrb_error(MRB_ERR_INVALID, "%s: the reference folder mixes label maps and images", ref_path);
        goto done;
    }
    if (*labels_mode) {
        for (int i = 0; i < 3 && st == MRB_OK; i++)
            if (!(spacing[i] > 0))
                st = mrb_error(MRB_ERR_INVALID,
                               "%s: spacing %g along axis %d is not a positive number (distances need it)", ref_path,
                               spacing[i], i);
        if (st == MRB_OK) st = mrb_seg_labels_u8(ref, ref_path, &ru);
        if (st == MRB_OK)
            st = mrb_seg_is_label_dtype(pred->dtype)
                     ? mrb_seg_labels_u8(pred, pred_path, &pu)
                     : mrb_error(MRB_ERR_INVALID, "%s: expected a label map (integer file)", pred_path);
        if (st == MRB_OK && *nrg_out == 0) st = parse_regions(regions_text, ru, rg_out, nrg_out);
        for (size_t k = 0; k < *nrg_out && st == MRB_OK; k++) {
            mrb_seg_opts o;
            mrb_seg_opts_default(&o);
            st = mrb_seg_opts_set_group(&o, rg_out[k].labels);
            mrb_seg_result r;
            if (st == MRB_OK) st = mrb_seg_evaluate(ru, pu, spacing, &o, &r);
            if (st != MRB_OK) break;
            char id[64];
            snprintf(id, sizeof id, "dice_%.31s", rg_out[k].name);
            cJSON_AddNumberToObject(m, id, r.dice);
            snprintf(id, sizeof id, "hd95_%.31s", rg_out[k].name);
            cJSON_AddItemToObject(m, id, isfinite(r.hd95) ? cJSON_CreateNumber(r.hd95) : cJSON_CreateNull());
        }
    } else {
        rm = mrb_array_magnitude(ref);
        pm = mrb_array_magnitude(pred);
        double v[3];
        st = rm && pm ? mrb_metric_psnr(rm, pm, 0, &v[0]) : MRB_ERR_NOMEM;
        if (st == MRB_OK) st = mrb_metric_ssim(rm, pm, NULL, &v[1]);
        if (st == MRB_OK) st = mrb_metric_nmse(rm, pm, &v[2]);
        if (st == MRB_OK) {
            cJSON_AddNumberToObject(m, "psnr", v[0]);
            cJSON_AddNumberToObject(m, "ssim", v[1]);
            cJSON_AddNumberToObject(m, "nmse", v[2]);
        }
    }
done:
    mrb_array_free(ref), mrb_array_free(pred), mrb_array_free(ru), mrb_array_free(pu), mrb_array_free(rm),
        mrb_array_free(pm);
    return st;
}

mrb_status mrb_folders_to_results(const char *ref_dir, const char *pred_dir, const char *name, const char *regions,
                                  cJSON **results)
{
    *results = NULL;
    char **files = NULL;
    size_t nf = 0;
    MRB_TRY(list_nifti(ref_dir, &files, &nf));
    mrb_status st =
        nf ? MRB_OK
           : mrb_error(MRB_ERR_INVALID, "%s: no NIfTI files (*.nii, *.nii.gz) in the reference folder", ref_dir);
    DIR *pd = st == MRB_OK ? opendir(pred_dir) : NULL;
    if (st == MRB_OK && !pd) st = mrb_error(MRB_ERR_IO, "%s: cannot open the prediction folder", pred_dir);
    if (pd) closedir(pd);
    cJSON *r = cJSON_CreateObject(), *items = cJSON_CreateArray();
    region rg[FOLDER_MAX_REGIONS];
    size_t nrg = 0;
    int labels_mode = -1;
    mrb_sha256 sha;
    mrb_sha256_init(&sha);
    for (size_t i = 0; i < nf && st == MRB_OK; i++) {
        char ref_path[MRB_REPORT_PATH], pred_path[MRB_REPORT_PATH], id[256], hex[65];
        snprintf(ref_path, sizeof ref_path, "%s/%s", ref_dir, files[i]);
        snprintf(pred_path, sizeof pred_path, "%s/%s", pred_dir, files[i]);
        item_id(files[i], id, sizeof id);
        st = mrb_sha256_file(ref_path, hex);
        if (st != MRB_OK) break;
        mrb_sha256_update(&sha, files[i], strlen(files[i]) + 1);
        mrb_sha256_update(&sha, hex, 64);
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "id", id);
        cJSON *m = cJSON_AddObjectToObject(it, "metrics");
        cJSON_AddItemToArray(items, it);
        st = score_item(ref_path, pred_path, &labels_mode, regions, rg, &nrg, m);
        if (st != MRB_OK) mrb_error_context(st, "scoring %s", name);
    }
    for (size_t i = 0; i < nf; i++) free(files[i]);
    free(files);
    if (st != MRB_OK) {
        cJSON_Delete(r), cJSON_Delete(items);
        return st;
    }
    char data_sha[65];
    mrb_sha256_final(&sha, data_sha);
    /* Metric definitions and per-case summaries. */
    cJSON_AddNumberToObject(r, "schema_version", 1);
    cJSON_AddStringToObject(r, "kind", "mrbench-results");
    cJSON *ctx = cJSON_AddObjectToObject(r, "context");
    cJSON_AddStringToObject(ctx, "source", "prediction folder");
    cJSON_AddStringToObject(ctx, "predictions", pred_dir);
    cJSON *suite = cJSON_AddObjectToObject(r, "suite");
    cJSON_AddStringToObject(suite, "name", "prediction-folders");
    cJSON_AddStringToObject(suite, "file", ref_dir);
    cJSON_AddStringToObject(suite, "sha256", data_sha);
    cJSON *defs = cJSON_AddObjectToObject(suite, "metric_definitions");
    if (labels_mode == 1) {
        for (size_t k = 0; k < nrg; k++) {
            char id[64];
            snprintf(id, sizeof id, "dice_%.31s", rg[k].name);
            add_def(defs, id, "dice",
                    "Dice of the label group (mrb_seg_evaluate; both empty 1, one empty 0: BraTS policy)", "", 1,
                    rg[k].labels);
            snprintf(id, sizeof id, "hd95_%.31s", rg[k].name);
            add_def(defs, id, "hd95",
                    "95th-percentile Hausdorff distance, max of the two directed percentiles (MONAI, BraTS)", "mm", 0,
                    rg[k].labels);
        }
    } else {
        add_def(defs, "psnr", "psnr", "PSNR of magnitudes, R = max(reference) (fastMRI)", "dB", 1, NULL);
        add_def(defs, "ssim", "ssim", "SSIM (scikit-image defaults), R = max(reference)", "", 1, NULL);
        add_def(defs, "nmse", "nmse", "NMSE (fastMRI)", "", 0, NULL);
    }
    cJSON *ds = cJSON_AddArrayToObject(r, "datasets");
    cJSON *d0 = cJSON_CreateObject();
    cJSON_AddStringToObject(d0, "id", "reference");
    cJSON_AddStringToObject(d0, "manifest", ref_dir);
    cJSON_AddStringToObject(d0, "data_sha256", data_sha);
    cJSON_AddItemToArray(ds, d0);
    cJSON *cases = cJSON_AddArrayToObject(r, "cases");
    cJSON *c = cJSON_CreateObject();
    char key[512];
    snprintf(key, sizeof key, "reference/predictions/%s", name);
    cJSON_AddStringToObject(c, "key", key);
    cJSON_AddStringToObject(c, "dataset", "reference");
    cJSON_AddStringToObject(c, "sampling", "predictions");
    cJSON_AddStringToObject(c, "method", name);
    cJSON_AddStringToObject(c, "method_name", name);
    cJSON_AddStringToObject(c, "status", "ok");
    cJSON_AddItemToObject(c, "items", items);
    cJSON *ms = cJSON_AddObjectToObject(c, "metrics");
    const cJSON *def;
    size_t ni = (size_t)cJSON_GetArraySize(items);
    double *v = malloc((ni ? ni : 1) * sizeof *v);
    if (!v) {
        cJSON_Delete(c), cJSON_Delete(r);
        return mrb_error(MRB_ERR_NOMEM, "out of memory");
    }
    cJSON_ArrayForEach(def, defs) {
        size_t k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, items) v[k++] = rp_num(rp_get(it, "metrics"), def->string);
        cJSON_AddItemToObject(ms, def->string, mrb_summary_json(v, ni));
    }
    free(v);
    cJSON_AddItemToArray(cases, c);
    *results = r;
    return MRB_OK;
}
