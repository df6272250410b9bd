/* Internal to the runner (and its fuzz target, tests/fuzz/fuzz_journal.c):
 * reading the journal of an earlier run for --resume; the summary objects
 * of results.json, which the leaderboard's folder scoring writes too. Not a
 * public header. */
#ifndef MRBENCH_RUNNER_INTERNAL_H
#define MRBENCH_RUNNER_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "mrbench/suite.h"

/* A results.json summary of x[0..n): {n, n_nan, mean, std, median, min, max,
 * q1, q3, cv} (results/README.md). */
cJSON *mrb_summary_json(const double *x, size_t n);

/* Parses text[0..len) (NUL-terminated at text[len]; modified in place), the
 * content of the journal `path` (used in messages) of a run of suite s.
 * Every complete line must be a JSON object with a string "event"; a
 * "start" line must carry s's SHA-256; for each case key of s, cases[c] is
 * its first "case" line with "status": "ok", else its last "case" line (a
 * failed case is retried on resume and its retry appended); the first
 * "dataset" line of each index gives
 * datasets[d] (cases has mrb_suite_case_count(s) entries, datasets
 * s->ndatasets, both NULL-initialised; the caller owns what is put there,
 * also on error). A torn last line (no newline) is dropped. *kept (malloc'ed,
 * the caller frees; NULL on error) gets the complete lines, each ending in
 * '\n': what the journal is rewritten to before appends continue. */
mrb_status mrb_journal_parse(const mrb_suite *s, const char *path, char *text, size_t len, cJSON **cases,
                             cJSON **datasets, char **kept, size_t *kept_len);

#endif
