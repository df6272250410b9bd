/* What mrbench derives from results.json files (impl/report/README.md):
 *
 *  - reports: tables in Markdown, CSV and LaTeX (mean (std) per method x
 *    setting, per-item tables, timing with speed-ups against a baseline),
 *    gnuplot plots (PNG and SVG; without gnuplot the tables are written and
 *    the missing plots are named), published reference rows;
 *  - compare: paired per-item differences between two runs of one suite,
 *    Wilcoxon signed-rank tests, bootstrap intervals, timing verdicts;
 *  - leaderboard: challenge-style rankings of the methods of several runs
 *    (rank-then-aggregate, aggregate-then-rank, bootstrap stability) as
 *    Markdown, CSV and one self-contained HTML page. */
#ifndef MRBENCH_REPORT_H
#define MRBENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRB_REPORT_MAX_PLOTS 64
#define MRB_REPORT_PATH 1100

typedef struct mrb_report_outcome {
    char markdown[MRB_REPORT_PATH];                    /* report.md */
    char csv[MRB_REPORT_PATH];                         /* report.csv (every table, long format) */
    char latex[MRB_REPORT_PATH];                       /* report.tex */
    char plots[MRB_REPORT_MAX_PLOTS][MRB_REPORT_PATH]; /* PNG files drawn (an SVG twin sits beside each) */
    size_t nplots;
    char skipped[512]; /* why plots were not drawn ("" if they were) */
} mrb_report_outcome;

typedef struct mrb_report_opts {
    int per_case;                  /* add per-item tables (one row per item) */
    const char *baseline;          /* method label for speed-up ratios, NULL for none */
    const struct cJSON *published; /* reference entries (mrb_published_load), NULL for none */
    int no_plots;                  /* 1: tables only */
} mrb_report_opts;

struct cJSON;
/* One results tree, default options (what the runner writes after a run). */
mrb_status mrb_report_write(const struct cJSON *results, const char *out_dir, mrb_report_outcome *outcome);
/* Several results trees merged into one report. A method whose case
 * (dataset, sampling, method id) already appeared in an earlier file is
 * labelled "<id> (run k)", k the 1-based file position. */
mrb_status mrb_report_write_many(const struct cJSON *const *results, size_t nresults, const char *out_dir,
                                 const mrb_report_opts *opts, mrb_report_outcome *outcome);
/* Path of the gnuplot executable on PATH (or $MRBENCH_GNUPLOT), NULL if none. */
const char *mrb_gnuplot_path(void);

/* Reads every *.json file of dir (baselines/published/, format in its
 * README.md) into one array of reference entries, each with its source's
 * citation fields; the caller owns *entries (cJSON_Delete). */
mrb_status mrb_published_load(const char *dir, struct cJSON **entries);

/* ---------- compare ---------- */

#define MRB_COMPARE_MAX_TOL 32

typedef struct mrb_compare_opts {
    size_t ntol; /* tolerances from the command line, in metric units */
    char tol_metric[MRB_COMPARE_MAX_TOL][64];
    double tol_value[MRB_COMPARE_MAX_TOL];
    double alpha;          /* false discovery rate for accuracy tests (<= 0: MRB_COMPARE_ALPHA) */
    double time_threshold; /* minimum practical timing effect (<= 0: MRB_COMPARE_TIME_THRESHOLD) */
    double time_alpha;     /* Mann-Whitney level for timing (<= 0: MRB_COMPARE_TIME_ALPHA) */
    size_t resamples;      /* bootstrap resamples (0: MRB_COMPARE_RESAMPLES) */
    uint64_t seed;         /* bootstrap seed */
    int force;             /* compare runs of different suites or data */
    int time_gate;         /* a significant timing slow-down also counts as a regression */
} mrb_compare_opts;

/* False discovery rate of the Benjamini-Hochberg procedure over the accuracy
 * tests of one comparison: the conventional 5 %. */
#define MRB_COMPARE_ALPHA 0.05
/* Timing: a change smaller than 10 % is SAME whatever its p-value (mise CI
 * uses 10 %, asv compare a factor 1.1). */
#define MRB_COMPARE_TIME_THRESHOLD 0.10
/* Timing: Mann-Whitney level on raw samples (asv uses 0.002 when reachable;
 * a case has few samples, so 0.01 keeps the test reachable). */
#define MRB_COMPARE_TIME_ALPHA 0.01
/* Bootstrap resamples for the interval of the mean difference. */
#define MRB_COMPARE_RESAMPLES 2000
/* Confidence level of the bootstrap interval. */
#define MRB_COMPARE_CI_LEVEL 0.95

typedef struct mrb_compare_outcome {
    size_t cases; /* cases present and ok in both runs */
    size_t tests; /* accuracy comparisons (case x metric) */
    size_t worse, better, ambiguous, same;
    size_t slower, faster, time_ambiguous;
    size_t lost;        /* cases ok in BASE and failed, missing or without a metric's values in NEW */
    size_t regressions; /* what the exit status counts: worse + lost (+ slower with time_gate) */
} mrb_compare_outcome;

/* Compares NEW against BASE. Refuses (MRB_ERR_INVALID) runs of different
 * suites (name or SHA-256) or data (a dataset's data_sha256) unless
 * opts->force. On success *json is the comparison (caller frees with
 * cJSON_Delete) and *markdown a malloc'ed text (caller frees). */
mrb_status mrb_compare(const struct cJSON *base, const struct cJSON *now, const mrb_compare_opts *opts,
                       struct cJSON **json, char **markdown, mrb_compare_outcome *outcome);
/* The default tolerance of a metric (metric name as registered), documented in impl/report/README.md. */
double mrb_compare_default_tolerance(const char *metric);

/* ---------- leaderboard ---------- */

typedef struct mrb_leaderboard_opts {
    const char *const *metrics; /* metric ids to rank (NULL: every metric all entries share) */
    size_t nmetrics;
    size_t resamples; /* bootstrap resamples for stability (0: MRB_LEADERBOARD_RESAMPLES) */
    uint64_t seed;
    const char *title; /* NULL: "mrbench leaderboard" */
} mrb_leaderboard_opts;

/* Bootstrap resamples of items for the ranking stability (challengeR uses 1000). */
#define MRB_LEADERBOARD_RESAMPLES 1000

/* Builds the leaderboard of every method of every submission (results
 * trees; names label them, e.g. file names). *board is a JSON tree owned by
 * the caller. */
mrb_status mrb_leaderboard(const struct cJSON *const *submissions, const char *const *names, size_t n,
                           const mrb_leaderboard_opts *opts, struct cJSON **board);

typedef struct mrb_leaderboard_outcome {
    char markdown[MRB_REPORT_PATH]; /* leaderboard.md */
    char csv[MRB_REPORT_PATH];      /* leaderboard.csv */
    char html[MRB_REPORT_PATH];     /* leaderboard.html */
    char json[MRB_REPORT_PATH];     /* leaderboard.json */
} mrb_leaderboard_outcome;

/* A prediction folder as a submission: every *.nii / *.nii.gz file of
 * ref_dir is scored against the file of the same name in pred_dir (a
 * missing prediction gives no values: it ranks last). Label maps (integer
 * files) get dice_<region> and hd95_<region> (BraTS policy for empty masks,
 * HD95 as MONAI/BraTS); `regions` is "brats" (wt 1,2,4; tc 1,4; et 4),
 * "NAME=L,L;NAME=L", or NULL for every label of the first reference map on
 * its own. Images get psnr, ssim and nmse on magnitudes. *results is a
 * results tree (one case named `name`) that mrb_leaderboard accepts;
 * its data_sha256 covers the reference files. */
mrb_status mrb_folders_to_results(const char *ref_dir, const char *pred_dir, const char *name, const char *regions,
                                  struct cJSON **results);

/* Writes leaderboard.{md,csv,html,json} into out_dir. */
mrb_status mrb_leaderboard_write(const struct cJSON *board, const char *out_dir, mrb_leaderboard_outcome *outcome);

#ifdef __cplusplus
}
#endif
#endif
