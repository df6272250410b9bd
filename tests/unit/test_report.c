/* Reports, compare and leaderboard on the committed results files of
 * tests/golden/report/ (values chosen by hand, see make_report_golden.py):
 * table cells, CSV and LaTeX rows, published reference rows only where the
 * setting matches, speed-ups; compare's verdicts on a planted drop, an
 * improvement, a slow-down, tolerances and refusals; leaderboard ranks with
 * ties, deterministic bootstrap stability and a self-contained HTML page;
 * newer and corrupted results files refused with a clear message. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mrbench/io.h"
#include "mrbench/report.h"
#include "mrbench/runner.h"
#include "mrbench/util.h"

#define RUN_A MRB_SOURCE_DIR "/tests/golden/report/run_cine_a.json"
#define RUN_B MRB_SOURCE_DIR "/tests/golden/report/run_cine_b.json"
#define PUBLISHED MRB_SOURCE_DIR "/baselines/published"

static cJSON *load(const char *path)
{
    cJSON *r = NULL;
    cr_assert_eq(mrb_results_load(path, &r), MRB_OK, "%s", mrb_error_message());
    return r;
}

static char *tmpdir(void)
{
    char *t = strdup("/tmp/mrb_test_report_XXXXXX");
    cr_assert_not_null(mkdtemp(t));
    return t;
}

static char *slurp(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = NULL;
    cr_assert_eq(mrb_read_file(path, &text, NULL), MRB_OK, "%s", mrb_error_message());
    return text;
}

static void rmtree(char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(dir);
}

#define EXPECT_HAS(text, needle) cr_expect(strstr(text, needle) != NULL, "missing: %s", needle)
#define EXPECT_LACKS(text, needle) cr_expect(strstr(text, needle) == NULL, "unexpected: %s", needle)

Test(report, merged_tables_cells_reference_rows_and_speedups)
{
    cJSON *r[2] = {load(RUN_A), load(RUN_B)};
    cJSON *pub = NULL;
    cr_assert_eq(mrb_published_load(PUBLISHED, &pub), MRB_OK, "%s", mrb_error_message());
    char *dir = tmpdir();
    mrb_report_opts o = {.per_case = 1, .baseline = "cs", .published = pub, .no_plots = 1};
    mrb_report_outcome oc;
    cr_assert_eq(mrb_report_write_many((const cJSON *const *)r, 2, dir, &o, &oc), MRB_OK, "%s", mrb_error_message());
    char *md = slurp(dir, "report.md"), *csv = slurp(dir, "report.csv"), *tex = slurp(dir, "report.tex");
    /* mean (std) per method x setting; a method seen again in file 2 is "(run 2)" */
    EXPECT_HAS(md, "| method | cine R=4 (r4) | cine R=8 (r8) |");
    EXPECT_HAS(md, "| zf | 25 (1) | 21 (1) |");
    EXPECT_HAS(md, "| cs | 28 (1) | 25 (2) |");
    EXPECT_HAS(md, "| zf (run 2) | 25 (1) | 21 (1) |");
    EXPECT_HAS(md, "| cnn | 31 (1) | 27 (1.73) |");
    EXPECT_HAS(md, "| cnn | 0.03 (0.01) | 0.1167 (0.0289) |");
    /* published rows: PSNR at R = 4 and 8 on cine data, marked */
    EXPECT_HAS(md, "| *CNN [Schlemper 2017]* (published, not measured here) | *31 (1.08)* | *25.2 (1)* |");
    EXPECT_HAS(md, "| *DLTG [Schlemper 2017]* (published, not measured here) | *27.5 (1.31)* | *22.6 (0.95)* |");
    EXPECT_HAS(md, "| *CNN 2D [Schlemper 2017]* (published, not measured here) | *0.69* | *0.69* |");
    const char *nmse = strstr(md, "## nmse"), *timing = strstr(md, "## Time per reconstruction");
    cr_assert(nmse && timing && nmse < timing);
    char *nmse_section = strndup(nmse, (size_t)(timing - nmse));
    EXPECT_LACKS(nmse_section, "Schlemper");
    EXPECT_LACKS(md, "EMMA"); /* a Dice reference never matches a PSNR table */
    free(nmse_section);
    /* timing and speed-up against cs (median 1.1 s) */
    EXPECT_HAS(md, "| cs | 1.1 [1.02, 1.18] | 1.1 [1.02, 1.18] |");
    EXPECT_HAS(md, "| zf | 100x | 100x |");
    EXPECT_HAS(md, "| cnn | 20x | 20x |");
    /* per-item table */
    EXPECT_HAS(md, "| item | zf | cs | zf (run 2) | cnn |");
    EXPECT_HAS(md, "| cine-0002 | 22 | 27 | 22 | 29 |");
    /* CSV: long format with full precision; reference rows marked "published" */
    EXPECT_HAS(csv, "table,source,method,dataset,sampling,acceleration,item,metric,n,n_nan,mean,std,median,q1,q3,min,"
                    "max,speedup,citation\n");
    EXPECT_HAS(csv, "\nmetric,measured,cs,cine,r8,8,,psnr,3,0,25,2,25,24,26,23,27,,\n");
    EXPECT_HAS(csv, "\nmetric,published,CNN [Schlemper 2017],cine,r4,4,,psnr,10,,31,1.0800000000000001,");
    EXPECT_HAS(csv, "\ntime_s,measured,cnn,cine,r4,4,,time_s,6,0,");
    EXPECT_HAS(csv, ",20,\n"); /* cnn's speed-up in full precision */
    EXPECT_HAS(csv, "\nper_item,measured,cnn,cine,r8,8,cine-0002,psnr,1,0,29,");
    /* LaTeX */
    EXPECT_HAS(tex, "cs & 28 (1) & 25 (2) \\\\");
    EXPECT_HAS(tex, "\\textit{CNN [Schlemper 2017]}$^\\dagger$ & \\textit{31 (1.08)} & \\textit{25.2 (1)} \\\\");
    EXPECT_HAS(tex, "\\toprule");
    free(md), free(csv), free(tex);
    rmtree(dir);
    cJSON_Delete(pub);
    cJSON_Delete(r[0]);
    cJSON_Delete(r[1]);
}

Test(report, no_reference_rows_when_the_data_set_does_not_match)
{
    cJSON *r = load(RUN_A);
    cJSON *pub = NULL;
    cr_assert_eq(mrb_published_load(PUBLISHED, &pub), MRB_OK, "%s", mrb_error_message());
    cJSON *ds = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "datasets"), 0);
    cJSON_ReplaceItemInObject(ds, "generator", cJSON_CreateString("shepp-logan"));
    char *dir = tmpdir();
    mrb_report_opts o = {.published = pub, .no_plots = 1};
    cr_assert_eq(mrb_report_write_many((const cJSON *const *)&r, 1, dir, &o, NULL), MRB_OK, "%s", mrb_error_message());
    char *md = slurp(dir, "report.md");
    EXPECT_HAS(md, "| zf | 25 (1) | 21 (1) |");
    EXPECT_LACKS(md, "published, not measured here");
    free(md);
    rmtree(dir);
    cJSON_Delete(pub);
    cJSON_Delete(r);
}

Test(report, failed_cases_are_marked_and_listed)
{
    cJSON *r = load(RUN_A);
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "cases"), 3); /* cine/r8/cs */
    cJSON_ReplaceItemInObject(c, "status", cJSON_CreateString("failed"));
    cJSON_AddStringToObject(c, "error", "cs: diverged at iteration 3");
    char *dir = tmpdir();
    mrb_report_opts o = {.no_plots = 1};
    cr_assert_eq(mrb_report_write_many((const cJSON *const *)&r, 1, dir, &o, NULL), MRB_OK, "%s", mrb_error_message());
    char *md = slurp(dir, "report.md");
    EXPECT_HAS(md, "| cs | 28 (1) | failed |");
    EXPECT_HAS(md, "## Failed cases");
    EXPECT_HAS(md, "- `cine/r8/cs` (cs): cs: diverged at iteration 3");
    free(md);
    rmtree(dir);
    cJSON_Delete(r);
}

/* Adds timing.phases_s {names[i]: {median: medians[i]}} to a case. */
static void add_phases(cJSON *c, const char *const *names, const double *medians, int n)
{
    cJSON *ph = cJSON_AddObjectToObject(cJSON_GetObjectItem(c, "timing"), "phases_s");
    for (int i = 0; i < n; i++) cJSON_AddNumberToObject(cJSON_AddObjectToObject(ph, names[i]), "median", medians[i]);
}

Test(report, phase_shares_only_for_disjoint_phases)
{
    /* property: phases that add up to at most the run (1.1 s) get shares of
     * their sum; phases that add up to more (three views of one time, or
     * thread seconds) are listed without shares, with a note */
    cJSON *r = load(RUN_A);
    cJSON *cases = cJSON_GetObjectItem(r, "cases");
    static const char *const disjoint[] = {"dictionary", "sparse_coding"};
    static const double disjoint_s[] = {0.6, 0.4};
    add_phases(cJSON_GetArrayItem(cases, 1), disjoint, disjoint_s, 2); /* cine/r4/cs, run 1.1 s */
    static const char *const views[] = {"bart_process_wall", "bart_process_cpu", "bart_reported_total"};
    static const double views_s[] = {1.1, 2.1, 0.9};
    add_phases(cJSON_GetArrayItem(cases, 3), views, views_s, 3); /* cine/r8/cs, run 1.1 s */
    char *dir = tmpdir();
    mrb_report_opts o = {.no_plots = 1};
    cr_assert_eq(mrb_report_write_many((const cJSON *const *)&r, 1, dir, &o, NULL), MRB_OK, "%s", mrb_error_message());
    char *md = slurp(dir, "report.md");
    EXPECT_HAS(md, "| cs | cine | r4 | dictionary 0.6 (60%); sparse_coding 0.4 (40%); |");
    EXPECT_HAS(md, "| cs | cine | r8 | bart_process_wall 1.1; bart_process_cpu 2.1; bart_reported_total 0.9; "
                   "overlapping phases: 4.1 s in all, more than the run's 1.1 s, so no shares; |");
    free(md);
    rmtree(dir);
    cJSON_Delete(r);
}

Test(report, missing_gnuplot_still_writes_tables_and_names_the_plots)
{
    cJSON *r = load(RUN_A);
    char *dir = tmpdir();
    setenv("MRBENCH_GNUPLOT", "/nonexistent/gnuplot", 1);
    mrb_report_outcome oc;
    cr_assert_eq(mrb_report_write(r, dir, &oc), MRB_OK, "%s", mrb_error_message());
    unsetenv("MRBENCH_GNUPLOT");
    cr_expect_eq(oc.nplots, 0);
    cr_expect(strstr(oc.skipped, "gnuplot not found") != NULL, "skipped: %s", oc.skipped);
    char *md = slurp(dir, "report.md");
    EXPECT_HAS(md, "plot skipped (gnuplot not found)");
    EXPECT_HAS(md, "plot_psnr_cine.gp");
    EXPECT_HAS(md, "time_cine.gp");
    EXPECT_HAS(md, "| cs | 28 (1) | 25 (2) |");
    free(md);
    rmtree(dir);
    cJSON_Delete(r);
}

Test(report, newer_schema_and_corrupted_results_are_refused_clearly)
{
    char *dir = tmpdir();
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(mrb_read_file(RUN_A, &text, &len), MRB_OK);
    char path[1200];
    snprintf(path, sizeof path, "%s/cut.json", dir);
    cr_assert_eq(mrb_write_file_atomic(path, text, len / 2), MRB_OK);
    cJSON *r = NULL;
    cr_expect_eq(mrb_results_load(path, &r), MRB_ERR_INVALID);
    cr_expect_null(r);
    cr_expect(strstr(mrb_error_message(), "not valid JSON") && strstr(mrb_error_message(), "cut.json"), "message: %s",
              mrb_error_message());
    cJSON *j = cJSON_Parse(text);
    cJSON_ReplaceItemInObject(j, "schema_version", cJSON_CreateNumber(2));
    char *newer = cJSON_Print(j);
    snprintf(path, sizeof path, "%s/newer.json", dir);
    cr_assert_eq(mrb_write_file_atomic(path, newer, strlen(newer)), MRB_OK);
    cr_expect_eq(mrb_results_load(path, &r), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "newer than this mrbench") != NULL, "message: %s", mrb_error_message());
    free(newer);
    cJSON_Delete(j);
    /* a metric value that is not a number (or null for NaN) and a case without its key are refused, not read as
     * NaN or skipped */
    j = cJSON_Parse(text);
    cJSON *item =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "cases"), 1), "items"), 0);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(item, "metrics"), "psnr", cJSON_CreateString("31.2"));
    char *str = cJSON_Print(j);
    snprintf(path, sizeof path, "%s/string.json", dir);
    cr_assert_eq(mrb_write_file_atomic(path, str, strlen(str)), MRB_OK);
    cr_expect_eq(mrb_results_load(path, &r), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "cases[1].items[0].metrics.psnr: expected a number or null") != NULL,
              "message: %s", mrb_error_message());
    free(str);
    cJSON_Delete(j);
    j = cJSON_Parse(text);
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "cases"), 0), "key");
    str = cJSON_Print(j);
    snprintf(path, sizeof path, "%s/nokey.json", dir);
    cr_assert_eq(mrb_write_file_atomic(path, str, strlen(str)), MRB_OK);
    cr_expect_eq(mrb_results_load(path, &r), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "cases[0].key: expected a string") != NULL, "message: %s",
              mrb_error_message());
    free(str);
    cJSON_Delete(j);
    free(text);
    rmtree(dir);
}

/* ---------- compare ---------- */

static cJSON *find_case(cJSON *r, const char *key)
{
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(r, "cases"))
        if (strcmp(cJSON_GetObjectItem(c, "key")->valuestring, key) == 0) return c;
    cr_assert_fail("no case %s", key);
    return NULL;
}

static void shift_metric(cJSON *r, const char *key, const char *metric, double delta)
{
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(find_case(r, key), "items")) {
        cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(it, "metrics"), metric);
        cJSON_SetNumberValue(m, m->valuedouble + delta);
    }
}

static const cJSON *row(const cJSON *cmp, const char *key, const char *metric)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(cmp, "accuracy"))
        if (strcmp(cJSON_GetObjectItem(a, "case")->valuestring, key) == 0 &&
            strcmp(cJSON_GetObjectItem(a, "metric")->valuestring, metric) == 0)
            return a;
    cr_assert_fail("no comparison %s %s", key, metric);
    return NULL;
}

static const char *verdict(const cJSON *cmp, const char *key, const char *metric)
{
    return cJSON_GetObjectItem(row(cmp, key, metric), "verdict")->valuestring;
}

Test(compare, identical_runs_are_identical_and_pass)
{
    cJSON *a = load(RUN_A), *b = load(RUN_A), *j = NULL;
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(oc.regressions, 0);
    cr_expect_eq(oc.tests, 8, "4 cases x 2 metrics");
    cr_expect_eq(oc.same, 8);
    cr_expect_str_eq(verdict(j, "cine/r4/cs", "psnr"), "IDENTICAL");
    EXPECT_HAS(md, "**no regression**");
    free(md);
    cJSON_Delete(j), cJSON_Delete(a), cJSON_Delete(b);
}

Test(compare, planted_half_decibel_drop_is_a_regression)
{
    cJSON *a = load(RUN_A), *b = load(RUN_A), *j = NULL;
    shift_metric(b, "cine/r4/cs", "psnr", -0.5);
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(oc.regressions, 1);
    cr_expect_eq(oc.worse, 1);
    cr_expect_str_eq(verdict(j, "cine/r4/cs", "psnr"), "WORSE");
    cr_expect_str_eq(verdict(j, "cine/r8/cs", "psnr"), "IDENTICAL");
    const cJSON *r = row(j, "cine/r4/cs", "psnr");
    cr_expect(fabs(cJSON_GetObjectItem(r, "mean_diff")->valuedouble + 0.5) < 1e-12);
    cr_expect(fabs(cJSON_GetObjectItem(r, "ci_low")->valuedouble + 0.5) < 1e-12, "constant shift: degenerate interval");
    EXPECT_HAS(md, "**REGRESSION**");
    free(md);
    cJSON_Delete(j);
    /* The same drop within a looser tolerance is SAME; an improvement is BETTER. */
    o.ntol = 1;
    snprintf(o.tol_metric[0], sizeof o.tol_metric[0], "psnr");
    o.tol_value[0] = 1.0;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK);
    cr_expect_eq(oc.regressions, 0);
    cr_expect_str_eq(verdict(j, "cine/r4/cs", "psnr"), "SAME");
    free(md);
    cJSON_Delete(j);
    o.ntol = 0;
    cr_assert_eq(mrb_compare(b, a, &o, &j, &md, &oc), MRB_OK);
    cr_expect_eq(oc.regressions, 0);
    cr_expect_str_eq(verdict(j, "cine/r4/cs", "psnr"), "BETTER");
    free(md);
    cJSON_Delete(j), cJSON_Delete(a), cJSON_Delete(b);
}

Test(compare, lower_is_better_metrics_regress_upwards)
{
    cJSON *a = load(RUN_A), *b = load(RUN_A), *j = NULL;
    shift_metric(b, "cine/r8/zf", "nmse", 0.01);
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK);
    cr_expect_str_eq(verdict(j, "cine/r8/zf", "nmse"), "WORSE");
    cr_expect_eq(oc.regressions, 1);
    free(md);
    cJSON_Delete(j), cJSON_Delete(a), cJSON_Delete(b);
}

Test(compare, mixed_small_changes_are_ambiguous_not_regressions)
{
    cJSON *a = load(RUN_A), *b = load(RUN_A), *j = NULL;
    cJSON *items = cJSON_GetObjectItem(find_case(b, "cine/r4/zf"), "items");
    double delta[3] = {-0.9, 0.1, -0.1};
    for (int i = 0; i < 3; i++) {
        cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(items, i), "metrics"), "psnr");
        cJSON_SetNumberValue(m, m->valuedouble + delta[i]);
    }
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK);
    cr_expect_str_eq(verdict(j, "cine/r4/zf", "psnr"), "AMBIGUOUS");
    cr_expect_eq(oc.regressions, 0);
    free(md);
    cJSON_Delete(j), cJSON_Delete(a), cJSON_Delete(b);
}

Test(compare, three_times_slower_is_slower_and_gates_only_when_asked)
{
    cJSON *a = load(RUN_A), *b = load(RUN_A), *j = NULL;
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(b, "cases")) {
        cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(cJSON_GetObjectItem(c, "timing"), "samples_s"))
            cJSON_SetNumberValue(s, s->valuedouble * 3);
    }
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK);
    cr_expect_eq(oc.slower, 4);
    cr_expect_eq(oc.regressions, 0, "timing does not gate by default");
    const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "timing"), 0);
    cr_expect_str_eq(cJSON_GetObjectItem(t, "verdict")->valuestring, "SLOWER");
    cr_expect(fabs(cJSON_GetObjectItem(t, "ratio")->valuedouble - 3) < 1e-12);
    free(md);
    cJSON_Delete(j);
    o.time_gate = 1;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK);
    cr_expect_eq(oc.regressions, 4);
    free(md);
    cJSON_Delete(j), cJSON_Delete(a), cJSON_Delete(b);
}

Test(compare, refuses_other_suites_and_data_unless_forced)
{
    cJSON *a = load(RUN_A), *b = load(RUN_B), *j = NULL;
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_expect_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "different suites") && strstr(mrb_error_message(), "--force"), "message: %s",
              mrb_error_message());
    cr_expect_null(j);
    o.force = 1;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "warnings")), 1);
    cr_expect_eq(oc.cases, 2, "zf at R = 4 and 8 are in both runs");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "only_in_base")), 2);
    cr_expect_eq(oc.lost, 2, "cases ok in BASE and absent from NEW are lost, forced or not");
    free(md);
    cJSON_Delete(j);
    cJSON *c = load(RUN_A);
    cJSON *ds = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "datasets"), 0);
    cJSON_ReplaceItemInObject(ds, "data_sha256", cJSON_CreateString("ffff"));
    o.force = 0;
    cr_expect_eq(mrb_compare(a, c, &o, &j, &md, &oc), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "data set 'cine' differs") != NULL, "message: %s", mrb_error_message());
    cJSON_Delete(a), cJSON_Delete(b), cJSON_Delete(c);
}

/* A failed case as the runner records it: status, error, items without metrics. */
static void mark_failed(cJSON *r, const char *key)
{
    cJSON *c = find_case(r, key);
    cJSON_ReplaceItemInObject(c, "status", cJSON_CreateString("failed"));
    cJSON_AddStringToObject(c, "error", "bart-pics: the bart program 'bart' was not found");
    cJSON_DeleteItemFromObject(c, "metrics");
    cJSON_DeleteItemFromObject(c, "timing");
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(c, "items"))
        cJSON_ReplaceItemInObject(it, "metrics", cJSON_CreateObject());
}

static void remove_case(cJSON *r, const char *key)
{
    cJSON *cases = cJSON_GetObjectItem(r, "cases");
    int i = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        if (strcmp(cJSON_GetObjectItem(c, "key")->valuestring, key) == 0) break;
        i++;
    }
    cr_assert_not_null(c, "no case %s", key);
    cJSON_DeleteItemFromArray(cases, i);
}

static const char *lost_reason(const cJSON *cmp, const char *key)
{
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItem(cmp, "lost"))
        if (strcmp(cJSON_GetObjectItem(l, "case")->valuestring, key) == 0)
            return cJSON_GetObjectItem(l, "reason")->valuestring;
    return NULL;
}

/* The CI gate must not pass when NEW lost a case that BASE had. */
Test(compare, case_ok_in_base_and_failed_in_new_is_a_regression)
{
    cJSON *a = load(RUN_A), *b = load(RUN_A), *j = NULL;
    mark_failed(b, "cine/r4/cs");
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(oc.lost, 1);
    cr_expect_eq(oc.regressions, 1);
    const char *why = lost_reason(j, "cine/r4/cs");
    cr_assert_not_null(why);
    cr_expect(strstr(why, "failed in NEW") && strstr(why, "bart"), "reason: %s", why);
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "lost")->valuedouble, 1);
    EXPECT_HAS(md, "**REGRESSION**");
    EXPECT_HAS(md, "- `cine/r4/cs`: ok in BASE, failed in NEW: bart-pics");
    free(md);
    cJSON_Delete(j), cJSON_Delete(a), cJSON_Delete(b);
}

Test(compare, case_ok_in_base_and_missing_from_new_is_a_regression)
{
    cJSON *a = load(RUN_A), *b = load(RUN_A), *j = NULL;
    remove_case(b, "cine/r8/zf");
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(oc.lost, 1);
    cr_expect_eq(oc.regressions, 1);
    cr_expect_str_eq(lost_reason(j, "cine/r8/zf"), "ok in BASE, missing from NEW");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "only_in_base")), 1);
    free(md);
    cJSON_Delete(j), cJSON_Delete(a), cJSON_Delete(b);
}

Test(compare, case_without_metric_values_in_new_is_a_regression)
{
    cJSON *a = load(RUN_A), *b = load(RUN_A), *j = NULL;
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(find_case(b, "cine/r8/cs"), "items")) {
        cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItem(it, "metrics")) {
            m->type = cJSON_NULL; /* how results.json holds NaN */
        }
    }
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(oc.lost, 1);
    cr_expect_eq(oc.regressions, 1);
    cr_expect_str_eq(verdict(j, "cine/r8/cs", "psnr"), "LOST");
    const char *why = lost_reason(j, "cine/r8/cs");
    cr_assert_not_null(why);
    cr_expect(strstr(why, "no metric values in NEW") != NULL, "reason: %s", why);
    free(md);
    cJSON_Delete(j);
    /* One metric without values is enough; the other is still compared. */
    cJSON_Delete(b);
    b = load(RUN_A);
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(find_case(b, "cine/r8/cs"), "items"))
        cJSON_GetObjectItem(cJSON_GetObjectItem(it, "metrics"), "psnr")->type = cJSON_NULL;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(oc.regressions, 1);
    cr_expect_str_eq(verdict(j, "cine/r8/cs", "psnr"), "LOST");
    cr_expect_str_eq(verdict(j, "cine/r8/cs", "nmse"), "IDENTICAL");
    why = lost_reason(j, "cine/r8/cs");
    cr_assert_not_null(why);
    cr_expect(strstr(why, "no values in NEW for psnr") != NULL, "reason: %s", why);
    free(md);
    cJSON_Delete(j), cJSON_Delete(a), cJSON_Delete(b);
}

Test(compare, cases_new_only_failed_in_base_or_failed_in_both_are_not_regressions)
{
    cJSON *a = load(RUN_A), *b = load(RUN_A), *j = NULL;
    remove_case(a, "cine/r4/zf"); /* only in NEW */
    mark_failed(a, "cine/r8/zf"); /* fixed in NEW */
    mark_failed(a, "cine/r8/cs"); /* failed in both */
    mark_failed(b, "cine/r8/cs");
    char *md = NULL;
    mrb_compare_opts o = {0};
    mrb_compare_outcome oc;
    cr_assert_eq(mrb_compare(a, b, &o, &j, &md, &oc), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(oc.lost, 0);
    cr_expect_eq(oc.regressions, 0);
    cr_expect_eq(oc.cases, 1);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "lost")), 0);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "only_in_new")), 1);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "failed_in_one")), 1);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "failed_in_both")), 1);
    EXPECT_HAS(md, "**no regression**");
    EXPECT_HAS(md, "- `cine/r8/zf`: failed in BASE only");
    EXPECT_HAS(md, "- `cine/r8/cs`: failed in both runs");
    free(md);
    cJSON_Delete(j), cJSON_Delete(a), cJSON_Delete(b);
}

/* ---------- leaderboard ---------- */

static const cJSON *entry(const cJSON *board, const char *label)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(board, "entries"))
        if (strcmp(cJSON_GetObjectItem(e, "label")->valuestring, label) == 0) return e;
    cr_assert_fail("no entry %s", label);
    return NULL;
}

static double score(const cJSON *board, const char *label, const char *scope, const char *key)
{
    const cJSON *v =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(entry(board, label), "scores"), scope), key);
    cr_assert(cJSON_IsNumber(v), "%s %s %s is not a number", label, scope, key);
    return v->valuedouble;
}

/* Items: cine r4 and r8 x 3 = 6. psnr: cnn > cs > zf = zf on every item.
 * nmse (lower better): cnn best except cine r8 item 0 where cnn = cs = 0.1.
 * So cnn ranks 1, cs 2, the two zf entries tie at (3 + 4) / 2 = 3.5. */
Test(leaderboard, ranks_with_ties_and_deterministic_stability)
{
    cJSON *s[2] = {load(RUN_A), load(RUN_B)};
    const char *names[2] = {"a", "b"};
    mrb_leaderboard_opts o = {.resamples = 300, .seed = 5};
    cJSON *b1 = NULL, *b2 = NULL, *b3 = NULL;
    cr_assert_eq(mrb_leaderboard((const cJSON *const *)s, names, 2, &o, &b1), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b1, "entries")), 4);
    cr_expect_eq(cJSON_GetObjectItem(b1, "items")->valuedouble, 6);
    cr_expect_str_eq(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(b1, "entries"), 0), "label")->valuestring, "cnn");
    cr_expect_eq(score(b1, "cnn", "overall", "rank"), 1);
    cr_expect_eq(score(b1, "cs", "overall", "rank"), 2);
    cr_expect_eq(score(b1, "zf [a]", "overall", "rank"), 3.5);
    cr_expect_eq(score(b1, "zf [b]", "overall", "rank"), 3.5);
    cr_expect(fabs(score(b1, "cnn", "nmse", "mean_rank") - 6.5 / 6) < 1e-12, "cnn nmse mean rank %.17g",
              score(b1, "cnn", "nmse", "mean_rank"));
    cr_expect(fabs(score(b1, "cs", "nmse", "mean_rank") - 11.5 / 6) < 1e-12);
    cr_expect_eq(score(b1, "zf [a]", "psnr", "mean_rank"), 3.5);
    cr_expect_eq(score(b1, "cnn", "psnr", "aggregate_then_rank"), 1);
    cr_expect(fabs(score(b1, "cnn", "psnr", "mean") - 29) < 1e-12);
    cr_expect_eq(score(b1, "cnn", "overall", "stability"), 1.0, "cnn is best in every resample");
    /* The same seed gives the same board; the bootstrap draws depend on the seed. */
    cr_assert_eq(mrb_leaderboard((const cJSON *const *)s, names, 2, &o, &b2), MRB_OK);
    char *t1 = cJSON_PrintUnformatted(b1), *t2 = cJSON_PrintUnformatted(b2);
    cr_expect_str_eq(t1, t2);
    /* Only stability can change with the seed; ranks never do. */
    o.seed = 6;
    cr_assert_eq(mrb_leaderboard((const cJSON *const *)s, names, 2, &o, &b3), MRB_OK);
    cr_expect_eq(score(b3, "cs", "overall", "rank"), 2);
    free(t1), free(t2);

    char *dir = tmpdir();
    mrb_leaderboard_outcome oc;
    cr_assert_eq(mrb_leaderboard_write(b1, dir, &oc), MRB_OK, "%s", mrb_error_message());
    char *md = slurp(dir, "leaderboard.md"), *csv = slurp(dir, "leaderboard.csv"),
         *html = slurp(dir, "leaderboard.html");
    EXPECT_HAS(md, "| 1 | cnn | b |");
    EXPECT_HAS(md, "| 3.5 | zf [a] | a |");
    EXPECT_HAS(csv, "\noverall,cnn,b,cnn,1,");
    EXPECT_HAS(html, "<table class=\"sortable\"");
    EXPECT_HAS(html, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
    EXPECT_LACKS(html, " src=");
    EXPECT_LACKS(html, " href=");
    EXPECT_LACKS(html, "https://");
    free(md), free(csv), free(html);
    rmtree(dir);
    cJSON_Delete(b1), cJSON_Delete(b2), cJSON_Delete(b3), cJSON_Delete(s[0]), cJSON_Delete(s[1]);
}

Test(leaderboard, refuses_submissions_on_different_data)
{
    cJSON *s[2] = {load(RUN_A), load(RUN_B)};
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(s[1], "datasets"), 0), "data_sha256",
                              cJSON_CreateString("0123"));
    const char *names[2] = {"a", "b"};
    cJSON *b = NULL;
    cr_expect_eq(mrb_leaderboard((const cJSON *const *)s, names, 2, NULL, &b), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "different data") != NULL, "message: %s", mrb_error_message());
    cJSON_Delete(s[0]), cJSON_Delete(s[1]);
}

Test(leaderboard, refuses_submissions_that_share_no_item)
{
    cJSON *s[2] = {load(RUN_A), load(RUN_B)};
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(s[1], "cases")) /* B on a sampling A never ran */
        cJSON_ReplaceItemInObject((cJSON *)c, "sampling", cJSON_CreateString("another"));
    const char *names[2] = {"a", "b"};
    cJSON *b = NULL;
    cr_expect_eq(mrb_leaderboard((const cJSON *const *)s, names, 2, NULL, &b), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "a and b share no item") != NULL, "message: %s", mrb_error_message());
    cr_expect_null(b);
    cJSON_Delete(s[0]), cJSON_Delete(s[1]);
}

Test(report, plots_are_drawn_as_png_and_svg_when_gnuplot_is_present)
{
    if (!mrb_gnuplot_path()) {
        cr_skip_test("gnuplot not installed (apt-get install gnuplot-nox): plots not drawn");
        return;
    }
    cJSON *r = load(RUN_A);
    char *dir = tmpdir();
    mrb_report_outcome oc;
    cr_assert_eq(mrb_report_write(r, dir, &oc), MRB_OK, "%s", mrb_error_message());
    cr_expect_str_empty(oc.skipped, "skipped: %s", oc.skipped);
    cr_expect_eq(oc.nplots, 3, "psnr vs acceleration, box plot, time per method");
    static const char *files[] = {"plot_psnr_cine.png", "plot_psnr_cine.svg", "box_psnr_cine.png",
                                  "box_psnr_cine.svg",  "time_cine.png",      "time_cine.svg"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *text = slurp(dir, files[i]);
        if (strstr(files[i], ".png"))
            cr_expect(memcmp(text, "\x89PNG", 4) == 0, "%s is not a PNG", files[i]);
        else
            cr_expect(strstr(text, "<svg") != NULL, "%s is not an SVG", files[i]);
        free(text);
    }
    char *md = slurp(dir, "report.md");
    EXPECT_HAS(md, "![cine: psnr vs acceleration (mean +/- std over items)](plot_psnr_cine.png)");
    free(md);
    rmtree(dir);
    cJSON_Delete(r);
}

/* Data sets of different sizes add a time-vs-size plot. */
Test(report, scaling_plot_when_problem_sizes_differ)
{
    if (!mrb_gnuplot_path()) {
        cr_skip_test("gnuplot not installed: scaling plot not drawn");
        return;
    }
    cJSON *r = load(RUN_A), *big = load(RUN_B);
    cJSON *ds = cJSON_GetArrayItem(cJSON_GetObjectItem(big, "datasets"), 0);
    cJSON_ReplaceItemInObject(ds, "shape", cJSON_CreateString("128x128x8"));
    cJSON_ReplaceItemInObject(ds, "id", cJSON_CreateString("cine-big"));
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(big, "cases"))
        cJSON_ReplaceItemInObject(c, "dataset", cJSON_CreateString("cine-big"));
    cJSON *both[2] = {r, big};
    char *dir = tmpdir();
    mrb_report_outcome oc;
    mrb_report_opts o = {0};
    cr_assert_eq(mrb_report_write_many((const cJSON *const *)both, 2, dir, &o, &oc), MRB_OK, "%s", mrb_error_message());
    char *dat = slurp(dir, "scaling.dat");
    EXPECT_HAS(dat, "32768 0.01099999"); /* zf: 64 x 64 x 8 pixels, median 0.011 s (17 digits) */
    EXPECT_HAS(dat, "131072 0.01099999");
    free(dat);
    char *svg = slurp(dir, "scaling.svg");
    free(svg);
    rmtree(dir);
    cJSON_Delete(r), cJSON_Delete(big);
}

/* Prediction folders: three reference label maps (a 6x6x2 block: labels 1,
 * 2 and 4 in layers), "perfect" copies them, "shifted" moves the labels by
 * one voxel, "partial" is perfect but misses one file (ranks last there). */
static void write_labels(const char *dir, const char *file, int shift)
{
    mrb_array *a = mrb_array_create3(MRB_U8, 12, 12, 4);
    cr_assert_not_null(a);
    uint8_t *u = a->data;
    for (size_t z = 1; z < 3; z++)
        for (size_t y = 3; y < 9; y++)
            for (size_t x = 3; x < 9; x++) u[(z * 12 + y) * 12 + x + (size_t)shift] = x < 5 ? 4 : x < 7 ? 1 : 2;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    cr_assert_eq(mrb_nifti_write(path, a, NULL), MRB_OK, "%s", mrb_error_message());
    mrb_array_free(a);
}

Test(leaderboard, prediction_folders_scored_against_a_reference_folder)
{
    char *dir = tmpdir();
    static const char *sub[] = {"ref", "perfect", "shifted", "partial"};
    char path[4][1200];
    for (int i = 0; i < 4; i++) {
        snprintf(path[i], sizeof path[i], "%s/%s", dir, sub[i]);
        cr_assert_eq(mrb_mkdirs(path[i]), MRB_OK);
    }
    static const char *files[] = {"case1.nii.gz", "case2.nii.gz", "case3.nii"};
    for (int f = 0; f < 3; f++) {
        write_labels(path[0], files[f], 0);
        write_labels(path[1], files[f], 0);
        write_labels(path[2], files[f], 1);
        if (f != 1) write_labels(path[3], files[f], 0);
    }
    cJSON *s[3] = {NULL, NULL, NULL};
    const char *names[3] = {"perfect", "shifted", "partial"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(mrb_folders_to_results(path[0], path[i + 1], names[i], "brats", &s[i]), MRB_OK, "%s",
                     mrb_error_message());
    const cJSON *it0 =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(s[0], "cases"), 0), "items"), 0);
    cr_expect_str_eq(cJSON_GetObjectItem(it0, "id")->valuestring, "case1");
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(it0, "metrics"), "dice_wt")->valuedouble, 1.0);
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(it0, "metrics"), "hd95_et")->valuedouble, 0.0);
    const cJSON *it1 =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(s[1], "cases"), 0), "items"), 0);
    double wt = cJSON_GetObjectItem(cJSON_GetObjectItem(it1, "metrics"), "dice_wt")->valuedouble;
    /* 6x6x2 block shifted by one voxel along x: overlap 5/6 of each. */
    cr_expect(fabs(wt - 5.0 / 6.0) < 1e-12, "shifted whole-tumour Dice %.17g", wt);
    cJSON *board = NULL;
    mrb_leaderboard_opts o = {.resamples = 100, .seed = 1};
    cr_assert_eq(mrb_leaderboard((const cJSON *const *)s, names, 3, &o, &board), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(board, "metrics")), 6, "dice and hd95 for wt, tc, et");
    cr_expect_eq(score(board, "perfect", "overall", "rank"), 1);
    cr_expect_eq(score(board, "partial", "dice_wt", "mean_rank"), (1.5 + 3 + 1.5) / 3.0, "the missing case ranks last");
    cr_expect_eq(score(board, "shifted", "overall", "rank"), 3);
    cr_expect_eq(score(board, "partial", "overall", "rank"), 2);
    cJSON *missing = NULL;
    cr_expect_eq(mrb_folders_to_results(path[0], "/nonexistent-folder", "x", NULL, &missing), MRB_ERR_IO);
    cJSON_Delete(board);
    for (int i = 0; i < 3; i++) cJSON_Delete(s[i]);
    rmtree(dir);
}
