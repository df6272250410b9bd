/* libFuzzer target: arbitrary bytes as the journal (cases.jsonl) of an
 * earlier run of tests/fuzz/tiny_suite.json, read as `mrbench run --resume`
 * reads it (mrb_journal_parse): lines, events, the suite's SHA-256, case
 * keys and data-set indices. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "mrbench/suite.h"
#include "run/runner_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mrb_suite *suite;
    if (!suite && mrb_suite_load(MRB_SOURCE_DIR "/tests/fuzz/tiny_suite.json", &suite) != MRB_OK) {
        fprintf(stderr, "fuzz_journal: %s\n", mrb_error_message());
        abort();
    }
    size_t ncases = mrb_suite_case_count(suite);
    cJSON **cases = calloc(ncases, sizeof *cases);
    cJSON **datasets = calloc(suite->ndatasets, sizeof *datasets);
    char *text = mrb_fuzz_strndup(data, size);
    if (!cases || !datasets) abort();
    char *kept = NULL;
    size_t kept_len = 0;
    mrb_fuzz_begin();
    mrb_status st = mrb_fuzz_check(
        mrb_journal_parse(suite, "cases.jsonl", text, size, cases, datasets, &kept, &kept_len), "mrb_journal_parse");
    if ((st == MRB_OK) != (kept != NULL) || kept_len > size) abort();
    free(kept);
    free(text);
    for (size_t c = 0; c < ncases; c++) cJSON_Delete(cases[c]);
    for (size_t d = 0; d < suite->ndatasets; d++) cJSON_Delete(datasets[d]);
    free(cases);
    free(datasets);
    return 0;
}
