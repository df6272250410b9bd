/* Metrics against golden values from independent implementations:
 * scikit-image (PSNR, SSIM), numpy (NMSE, MSE, MAE), SciPy exact EDT with
 * the MedPy surface definition (HD, HD95 pooled/max/mean, ASSD, ASD, NSD).
 * The cases and the script that made them are in tests/golden/metrics/. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mrbench/metrics.h"

#define GOLDEN_DIR MRB_SOURCE_DIR "/tests/golden/metrics/"
/* Image metrics: relative tolerance against scikit-image / numpy (float64). */
#define IMAGE_REL_TOL 1e-4
/* MSE, MAE, NMSE are plain sums in double: only the summation order differs. */
#define SUM_REL_TOL 1e-10
/* Surface distances against SciPy's exact EDT, in mm. */
#define DIST_ABS_TOL_MM 1e-6
/* NSD is a ratio of integer counts: identical unless a distance sits at tau. */
#define NSD_ABS_TOL 1e-12

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static unsigned char *read_blob(const char *path, size_t *len)
{
    gzFile g = gzopen(path, "rb");
    cr_assert(g, "cannot open %s", path);
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (n == cap) buf = realloc(buf, cap *= 2);
        cr_assert(buf);
        int got = gzread(g, buf + n, (unsigned)(cap - n));
        cr_assert(got >= 0, "gzread failed on %s", path);
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(g);
    *len = n;
    return buf;
}

static cJSON *load_golden(unsigned char **blob, size_t *blob_len)
{
    char *text = read_text(GOLDEN_DIR "golden.json");
    cJSON *doc = cJSON_Parse(text);
    free(text);
    cr_assert(doc, "golden.json does not parse");
    *blob = read_blob(GOLDEN_DIR "arrays.bin.gz", blob_len);
    return doc;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "golden value '%s' missing", key);
    return v->valuedouble;
}

/* The array described by {offset, dtype, dims} in the blob. */
static mrb_array *array_from(const cJSON *desc, const unsigned char *blob, size_t blob_len)
{
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(desc, "dims");
    const char *dtype = cJSON_GetObjectItemCaseSensitive(desc, "dtype")->valuestring;
    size_t d[3];
    int ndim = cJSON_GetArraySize(dims);
    cr_assert(ndim >= 2 && ndim <= 3);
    for (int i = 0; i < ndim; i++) d[i] = (size_t)cJSON_GetArrayItem(dims, i)->valuedouble;
    mrb_dtype t = strcmp(dtype, "f32") == 0 ? MRB_F32 : MRB_U8;
    mrb_array *a = mrb_array_create(t, ndim, d);
    cr_assert(a);
    size_t off = (size_t)num(desc, "offset");
    cr_assert(off + mrb_array_bytes(a) <= blob_len, "golden array beyond the blob");
    memcpy(a->data, blob + off, mrb_array_bytes(a));
    return a;
}

static void expect_rel(double got, double want, double tol, const char *what, const char *name)
{
    double scale = fabs(want) > 0 ? fabs(want) : 1.0;
    cr_expect(fabs(got - want) <= tol * scale, "%s %s: got %.12g, want %.12g", name, what, got, want);
}

static void expect_abs(double got, double want, double tol, const char *what, const char *name, const char *labels)
{
    cr_expect(fabs(got - want) <= tol, "%s {%s} %s: got %.12g, want %.12g", name, labels, what, got, want);
}

Test(metrics_golden, image_metrics_match_skimage_and_numpy)
{
    unsigned char *blob;
    size_t blob_len;
    cJSON *doc = load_golden(&blob, &blob_len);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(doc, "image_cases");
    cr_assert(cJSON_GetArraySize(cases) >= 10);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(c, "expected");
        mrb_array *ref = array_from(cJSON_GetObjectItemCaseSensitive(c, "ref"), blob, blob_len);
        mrb_array *x = array_from(cJSON_GetObjectItemCaseSensitive(c, "test"), blob, blob_len);
        double v;
        cr_assert_eq(mrb_metric_mse(ref, x, &v), MRB_OK, "%s: %s", name, mrb_error_message());
        expect_rel(v, num(e, "mse"), SUM_REL_TOL, "MSE", name);
        cr_assert_eq(mrb_metric_mae(ref, x, &v), MRB_OK);
        expect_rel(v, num(e, "mae"), SUM_REL_TOL, "MAE", name);
        cr_assert_eq(mrb_metric_nmse(ref, x, &v), MRB_OK);
        expect_rel(v, num(e, "nmse"), SUM_REL_TOL, "NMSE", name);
        cr_assert_eq(mrb_metric_psnr(ref, x, 0.0, &v), MRB_OK);
        expect_rel(v, num(e, "psnr"), IMAGE_REL_TOL, "PSNR", name);
        /* An explicit data range equal to max(ref) gives the same number. */
        double v2;
        cr_assert_eq(mrb_metric_psnr(ref, x, num(e, "data_range"), &v2), MRB_OK);
        cr_expect_eq(v, v2, "%s: PSNR with R given differs", name);
        cr_assert_eq(mrb_metric_ssim(ref, x, NULL, &v), MRB_OK, "%s: %s", name, mrb_error_message());
        expect_rel(v, num(e, "ssim"), IMAGE_REL_TOL, "SSIM (uniform 7x7)", name);
        if (cJSON_GetObjectItemCaseSensitive(e, "ssim_gaussian")) {
            mrb_ssim_opts o;
            mrb_ssim_opts_gaussian(&o);
            cr_assert_eq(mrb_metric_ssim(ref, x, &o, &v), MRB_OK, "%s: %s", name, mrb_error_message());
            expect_rel(v, num(e, "ssim_gaussian"), IMAGE_REL_TOL, "SSIM (Gaussian 11x11)", name);
        }
        mrb_array_free(ref);
        mrb_array_free(x);
    }
    cJSON_Delete(doc);
    free(blob);
}

Test(metrics_golden, label_metrics_match_scipy_edt_recipes)
{
    unsigned char *blob;
    size_t blob_len;
    cJSON *doc = load_golden(&blob, &blob_len);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(doc, "seg_cases");
    cr_assert(cJSON_GetArraySize(cases) >= 30);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        mrb_array *ref = array_from(cJSON_GetObjectItemCaseSensitive(c, "ref"), blob, blob_len);
        mrb_array *pred = array_from(cJSON_GetObjectItemCaseSensitive(c, "pred"), blob, blob_len);
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(c, "spacing");
        double spacing[3];
        for (int i = 0; i < 3; i++) spacing[i] = cJSON_GetArrayItem(sp, i)->valuedouble;
        const cJSON *g;
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(c, "groups")) {
            const char *labels = cJSON_GetObjectItemCaseSensitive(g, "labels")->valuestring;
            mrb_seg_opts o;
            mrb_seg_opts_default(&o);
            cr_assert_eq(mrb_seg_opts_set_group(&o, labels), MRB_OK);
            mrb_seg_result r, rn;
            cr_assert_eq(mrb_seg_evaluate(ref, pred, spacing, &o, &r), MRB_OK, "%s: %s", name, mrb_error_message());
            o.percentile_mode = MRB_PERCENTILE_NEAREST;
            o.tau = 2.5;
            cr_assert_eq(mrb_seg_evaluate(ref, pred, spacing, &o, &rn), MRB_OK);

            cr_expect_eq(r.tp, (uint64_t)num(g, "tp"), "%s {%s} TP", name, labels);
            cr_expect_eq(r.fp, (uint64_t)num(g, "fp"), "%s {%s} FP", name, labels);
            cr_expect_eq(r.fn, (uint64_t)num(g, "fn"), "%s {%s} FN", name, labels);
            cr_expect_eq(r.tn, (uint64_t)num(g, "tn"), "%s {%s} TN", name, labels);
            cr_expect(r.dice == num(g, "dice"), "%s {%s} Dice %.17g vs %.17g", name, labels, r.dice, num(g, "dice"));
            cr_expect(r.jaccard == num(g, "jaccard"), "%s {%s} Jaccard", name, labels);
            cr_expect_eq(r.n_surface_ref, (uint64_t)num(g, "n_surface_ref"), "%s {%s} surface voxels of the reference",
                         name, labels);
            cr_expect_eq(r.n_surface_pred, (uint64_t)num(g, "n_surface_pred"),
                         "%s {%s} surface voxels of the prediction", name, labels);
            expect_abs(r.hd, num(g, "hd"), DIST_ABS_TOL_MM, "HD", name, labels);
            expect_abs(r.hd95_pooled, num(g, "hd95_pooled"), DIST_ABS_TOL_MM, "HD95 pooled", name, labels);
            expect_abs(r.hd95_max, num(g, "hd95_max"), DIST_ABS_TOL_MM, "HD95 max", name, labels);
            expect_abs(r.hd95, num(g, "hd95_max"), DIST_ABS_TOL_MM, "HD95 default (max)", name, labels);
            expect_abs(r.hd95_mean, num(g, "hd95_mean"), DIST_ABS_TOL_MM, "HD95 mean", name, labels);
            expect_abs(rn.hd95_pooled, num(g, "hd95_pooled_nearest"), DIST_ABS_TOL_MM, "HD95 pooled nearest rank", name,
                       labels);
            expect_abs(rn.hd95_max, num(g, "hd95_max_nearest"), DIST_ABS_TOL_MM, "HD95 max nearest rank", name, labels);
            if (cJSON_GetObjectItemCaseSensitive(g, "hd95_ref_to_pred")) {
                expect_abs(r.hd95_ref_to_pred, num(g, "hd95_ref_to_pred"), DIST_ABS_TOL_MM, "directed HD95 ref->pred",
                           name, labels);
                expect_abs(r.hd95_pred_to_ref, num(g, "hd95_pred_to_ref"), DIST_ABS_TOL_MM, "directed HD95 pred->ref",
                           name, labels);
            }
            expect_abs(r.assd, num(g, "assd"), DIST_ABS_TOL_MM, "ASSD", name, labels);
            expect_abs(r.asd, num(g, "asd"), DIST_ABS_TOL_MM, "ASD", name, labels);
            expect_abs(r.nsd, num(g, "nsd_1"), NSD_ABS_TOL, "NSD tau 1", name, labels);
            expect_abs(rn.nsd, num(g, "nsd_2.5"), NSD_ABS_TOL, "NSD tau 2.5", name, labels);
        }
        mrb_array_free(ref);
        mrb_array_free(pred);
    }
    cJSON_Delete(doc);
    free(blob);
}
