/* libFuzzer target: arbitrary bytes as a file of published reference
 * numbers (`mrbench report --published DIR`, format in
 * baselines/published/README.md): mrb_published_load of a folder holding
 * it, then the report of the results seed tests/fuzz/corpus/results/
 * seed-tiny-run.json with those reference rows (matching, footnotes, the
 * Markdown, CSV and LaTeX cells of fuzzed strings and numbers). */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "mrbench/report.h"
#include "mrbench/runner.h"
#include "mrbench/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cJSON *results;
    char dir[600], path[700], out[600];
    if (!results &&
        mrb_results_load(MRB_SOURCE_DIR "/tests/fuzz/corpus/results/seed-tiny-run.json", &results) != MRB_OK) {
        fprintf(stderr, "fuzz_published: %s\n", mrb_error_message());
        abort();
    }
    snprintf(dir, sizeof dir, "%s/published", mrb_fuzz_dir());
    snprintf(out, sizeof out, "%s/out", mrb_fuzz_dir());
    if (mrb_mkdirs(dir) != MRB_OK || mrb_mkdirs(out) != MRB_OK) abort();
    mrb_fuzz_write("published/entries.json", data, size, path, sizeof path);

    cJSON *entries = NULL;
    mrb_fuzz_begin();
    mrb_status st = mrb_fuzz_check(mrb_published_load(dir, &entries), "mrb_published_load");
    if ((st == MRB_OK) != (entries != NULL)) abort();
    if (entries) {
        const cJSON *one[1] = {results};
        mrb_report_opts ro = {.per_case = 1, .published = entries, .no_plots = 1};
        mrb_report_outcome roc;
        mrb_fuzz_begin();
        mrb_fuzz_check(mrb_report_write_many(one, 1, out, &ro, &roc), "mrb_report_write_many");
    }
    cJSON_Delete(entries);
    return 0;
}
