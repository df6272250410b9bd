/* Shared by the report, compare and leaderboard files: a growing text
 * buffer, cJSON accessors, gnuplot invocation and the merged view of
 * several results files. Not a public header. */
#ifndef MRBENCH_REPORT_INTERNAL_H
#define MRBENCH_REPORT_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "mrbench/report.h"

typedef struct rp_buf {
    char *s;
    size_t len, cap;
    int oom; /* an allocation failed: the text is incomplete */
} rp_buf;

void rp_printf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes b to path atomically; MRB_ERR_NOMEM if b ran out of memory. */
mrb_status rp_buf_write(const rp_buf *b, const char *path);

const char *rp_str(const cJSON *o, const char *key);  /* "" when absent */
double rp_num(const cJSON *o, const char *key);       /* NaN when absent */
const cJSON *rp_get(const cJSON *o, const char *key); /* NULL when absent */
const cJSON *rp_get2(const cJSON *o, const char *k1, const char *k2);

/* Text escaped for one cell of a table. */
void rp_md_cell(rp_buf *b, const char *s);   /* '|' escaped */
void rp_csv_cell(rp_buf *b, const char *s);  /* RFC 4180 quoting */
void rp_tex_cell(rp_buf *b, const char *s);  /* LaTeX specials escaped */
void rp_html_text(rp_buf *b, const char *s); /* &, <, >, " escaped */
/* Numbers: %.*g, "NaN"/"inf" spelled out; CSV and JSON use 17 digits. */
void rp_num_text(rp_buf *b, double v, int digits);

/* Runs `gnuplot script` with stderr to log; returns gnuplot's exit code
 * or -1 when it could not be started. */
int rp_run_gnuplot(const char *gnuplot, const char *script, const char *log);

/* A case of one of several merged results files. */
typedef struct rp_case {
    const cJSON *c;       /* the case object */
    const cJSON *results; /* the results tree that holds it */
    size_t file;          /* index of that tree */
    const char *dataset, *sampling, *method_id;
    char label[160]; /* method label: the id, "<id> (run k)" when an earlier file has the same case */
    double acceleration;
    int ok;
} rp_case;

typedef struct rp_set {
    rp_case *cases;
    size_t ncases;
    const cJSON *const *results;
    size_t nresults;
    /* distinct values in order of first appearance */
    const char **labels;
    size_t nlabels;
    const char **datasets;
    size_t ndatasets;
    const char **samplings;
    size_t nsamplings;
    const char **metrics; /* metric ids shown: suite.report.metrics of each file, else all seen */
    size_t nmetrics;
} rp_set;

mrb_status rp_set_build(rp_set *set, const cJSON *const *results, size_t n);
void rp_set_free(rp_set *set);
const rp_case *rp_set_find(const rp_set *set, const char *label, const char *dataset, const char *sampling);
/* Any case of (dataset, sampling), whatever the method (NULL if none). */
const rp_case *rp_set_any(const rp_set *set, const char *dataset, const char *sampling);
/* The metric definition object (suite.metric_definitions.<id>) from the first file that has one. */
const cJSON *rp_set_metric_def(const rp_set *set, const char *metric);
/* The datasets[] entry of a case's file for its dataset id. */
const cJSON *rp_case_dataset(const rp_case *c);
/* Number of pixels (product of the dataset's shape), NaN if unknown. */
double rp_case_size(const rp_case *c);
/* Higher is better for the metric (definition's higher_is_better; 1 if unknown). */
int rp_higher_is_better(const cJSON *def);

/* Published reference rows that match (dataset, sampling column, metric);
 * see impl/report/README.md for the rule. Fills up to max pointers. */
size_t rp_published_match(const cJSON *published, const rp_case *column, const cJSON *metric_def, const char *metric_id,
                          const cJSON **out, size_t max);

#endif
