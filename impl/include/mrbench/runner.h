/* Running a suite: cases, timing, journal, results.json with provenance.
 *
 * Output folder layout (results/README.md):
 *   results.json   the canonical results (schema v1), written atomically
 *   cases.jsonl    the journal: one line per finished case, appended and
 *                  fsynced; `--resume` skips the cases it holds
 *   report.md, plot PNGs   derived from results.json by the report module */
#ifndef MRBENCH_RUNNER_H
#define MRBENCH_RUNNER_H

#include "report.h"
#include "suite.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRB_RESULTS_SCHEMA_VERSION 1

typedef enum mrb_device { MRB_DEVICE_CPU = 0, MRB_DEVICE_GPU } mrb_device;

typedef struct mrb_run_opts {
    const char *out_dir;
    mrb_device device;
    int nthreads;
    const char *filter; /* glob on case keys, NULL = all */
    int resume;
    int quiet;
    int progress_bar; /* 1: redraw one line on a terminal; 0: plain lines */
    const char *command_line;
} mrb_run_opts;

typedef struct mrb_run_summary {
    size_t cases_total;
    size_t cases_run;
    size_t cases_skipped; /* already in the journal as ok (resume) */
    size_t cases_retried; /* in the journal as failed, run again (resume); counted in cases_run */
    size_t cases_filtered;
    size_t cases_failed;
    char results_path[MRB_PATH_MAX + 32];
    mrb_report_outcome report; /* what the report step wrote */
} mrb_run_summary;

/* Runs the suite. Refuses, before touching opts->out_dir, a filter that
 * matches no case (mrb_run_check_filter). */
mrb_status mrb_run_suite(const mrb_suite *suite, const mrb_run_opts *opts, mrb_run_summary *summary);

/* How many of the suite's cases the glob `filter` (fnmatch on the case key
 * dataset/sampling/method; NULL = all) selects, in *matched (may be NULL).
 * MRB_ERR_INVALID, with a message naming the filter and the number of cases,
 * when it selects none. */
mrb_status mrb_run_check_filter(const mrb_suite *suite, const char *filter, size_t *matched);

/* Reads and checks a results.json (schema version, kind); the caller owns
 * the returned cJSON tree (cJSON_Delete). */
struct cJSON;
mrb_status mrb_results_load(const char *path, struct cJSON **out);

/* Fills a cJSON object with the run's provenance (see results/README.md). */
struct cJSON *mrb_provenance(const mrb_run_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
