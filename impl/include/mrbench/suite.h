/* Suites: the JSON files that drive mrbench runs (schema v1, suites/README.md).
 *
 * A suite names datasets, sampling patterns, methods and metrics; their
 * cross product defines the cases, each with the stable key
 * "<dataset id>/<sampling id>/<method id>". Loading validates strictly: a
 * syntax error names file, line and column; an unknown key names the JSON
 * path and suggests the nearest valid key; a wrong type or range names the
 * JSON path and what was expected. */
#ifndef MRBENCH_SUITE_H
#define MRBENCH_SUITE_H

#include <stddef.h>
#include <stdint.h>
#include "params.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRB_SUITE_SCHEMA_VERSION 1
#define MRB_ID_MAX 64
/* The largest suite seed, 2^53 - 1: JSON numbers are read as doubles, which
 * hold every integer up to this exactly (RFC 8259, section 6); a larger one
 * would silently become another seed. */
#define MRB_SUITE_SEED_MAX 9007199254740991ULL
#define MRB_PATH_MAX 1024

typedef struct mrb_suite_dataset {
    char id[MRB_ID_MAX];
    const mrb_dataset_desc *desc;
    mrb_params params;
    char manifest[MRB_PATH_MAX]; /* resolved path, empty for inline generators */
    char manifest_sha256[65];
    char split[16];  /* "all" or a split name of the manifest */
    size_t *indices; /* item indices to use */
    size_t nindices;
} mrb_suite_dataset;

typedef struct mrb_suite_sampling {
    char id[MRB_ID_MAX];
    const mrb_sampler_desc *desc;
    mrb_params params;
} mrb_suite_sampling;

typedef struct mrb_suite_method {
    char id[MRB_ID_MAX];
    const mrb_method_desc *desc;
    mrb_params params;
} mrb_suite_method;

typedef struct mrb_suite_metric {
    char id[MRB_ID_MAX]; /* column name in results; defaults to the metric name */
    const mrb_metric_desc *desc;
    mrb_params params;
} mrb_suite_metric;

/* Optional "training" section: how `mrbench train` fits a learned method. */
#define MRB_TRAIN_SAMPLINGS_MAX 8
typedef struct mrb_suite_training {
    int present;
    size_t dataset;                            /* index into datasets[]: must be a manifest with splits */
    size_t sampling;                           /* index into sampling[]: masks drawn on the fly (= samplings[0]) */
    size_t samplings[MRB_TRAIN_SAMPLINGS_MAX]; /* "sampling": one id or a list; with several, */
    size_t nsamplings;                         /* each mask comes from one drawn by its seed */
    size_t method;                             /* index into methods[]: the method whose weights are trained */
    size_t *train_indices, *val_indices;
    size_t ntrain, nval;
    char train_split[16], val_split[16];
    int temporal;      /* 0: 2D network, 1: 2D+t */
    int n_c, n_d, n_f; /* cascades, conv layers per cascade, filters */
    int epochs, batch_size;
    double learning_rate, weight_decay;
    char weights[MRB_PATH_MAX];    /* output safetensors, resolved against the suite folder */
    char checkpoint[MRB_PATH_MAX]; /* resumable checkpoint (default: weights + ".ckpt") */
} mrb_suite_training;

typedef struct mrb_suite {
    char name[MRB_ID_MAX];
    char description[512];
    char path[MRB_PATH_MAX]; /* file it was read from, or "<embedded:quickstart>" */
    char sha256[65];         /* of the file's bytes */
    uint64_t seed;           /* 0..MRB_SUITE_SEED_MAX; results record it as an exact integer */
    mrb_suite_dataset *datasets;
    size_t ndatasets;
    mrb_suite_sampling *samplings;
    size_t nsamplings;
    mrb_suite_method *methods;
    size_t nmethods;
    mrb_suite_metric *metrics;
    size_t nmetrics;
    int warmup;                         /* untimed runs before the measured ones, per case */
    int repeats;                        /* timed runs per item */
    char report_metrics[8][MRB_ID_MAX]; /* metric ids shown in report tables */
    size_t nreport_metrics;
    char plot_metric[MRB_ID_MAX]; /* metric plotted against acceleration ("" = none) */
    char *text;                   /* the suite's JSON text, echoed into results.json */
    mrb_suite_training training;
} mrb_suite;

/* Parses and validates text[0..len), which must be followed by a NUL at
 * text[len]; `display_name` is used in messages (the path), `base_dir`
 * resolves relative manifest paths. */
mrb_status mrb_suite_parse(const char *text, size_t len, const char *display_name, const char *base_dir,
                           mrb_suite **out);
mrb_status mrb_suite_load(const char *path, mrb_suite **out);
/* The quickstart suite compiled into the program. */
mrb_status mrb_suite_load_embedded(const char *name, mrb_suite **out);
void mrb_suite_free(mrb_suite *s);

size_t mrb_suite_case_count(const mrb_suite *s);
/* Case c (0 <= c < count) in the suite's fixed order: dataset-major, then
 * sampling, then method. */
void mrb_suite_case(const mrb_suite *s, size_t c, size_t *dataset, size_t *sampling, size_t *method);
void mrb_suite_case_key(const mrb_suite *s, size_t c, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
