/* libFuzzer target: arbitrary bytes as a suite file (mrb_suite_parse, what
 * mrb_suite_load does after reading the file: `mrbench run`, `validate`,
 * `train`). Relative manifest paths resolve against the target's folder,
 * which holds one valid manifest, m.json, with train/val/test splits, so
 * that suites naming it (and their training sections) get past the
 * manifest; tests/fuzz/fuzz_manifest.c fuzzes the manifest itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mrbench/suite.h"

static const char manifest[] =
    "{\"mrbench_dataset\": 1, \"name\": \"m\", \"generator\": \"shepp-logan\",\n"
    " \"params\": {\"size\": 16, \"cases\": 6},\n"
    " \"splits\": {\"train\": [0, 1, 2], \"val\": [3], \"test\": [4, 5]}, \"licence\": \"CC0\"}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char path[600];
    if (!ready) {
        mrb_fuzz_write("m.json", manifest, strlen(manifest), path, sizeof path);
        ready = 1;
    }
    char *text = mrb_fuzz_strndup(data, size);
    mrb_suite *s = NULL;
    mrb_fuzz_begin();
    mrb_status st = mrb_fuzz_check(mrb_suite_parse(text, size, "fuzz.json", mrb_fuzz_dir(), &s), "mrb_suite_parse");
    if ((st == MRB_OK) != (s != NULL)) abort();
    if (s) {
        /* what the runner does with a valid suite before it runs anything */
        size_t n = mrb_suite_case_count(s);
        char key[3 * MRB_ID_MAX + 4];
        for (size_t c = 0; c < n; c++) mrb_suite_case_key(s, c, key, sizeof key);
        if (n == 0 || s->nreport_metrics == 0) abort();
    }
    mrb_suite_free(s);
    free(text);
    return 0;
}
