/* libFuzzer target: arbitrary bytes as a results.json, through what the
 * commands that read results do with it: mrb_results_load (`report`,
 * `compare`, `leaderboard`), the report tables with per-item tables, a
 * speed-up baseline and the published reference rows (`mrbench report
 * --no-plots --per-case --baseline zero-filling`), a comparison of the run
 * with itself (`mrbench compare --force`) and a leaderboard with its files
 * (`mrbench leaderboard`). Bootstrap resamples are few, to keep it fast. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "mrbench/report.h"
#include "mrbench/runner.h"
#include "mrbench/util.h"

#define FUZZ_RESAMPLES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static cJSON *published;
    char path[600], out[600];
    if (!ready) {
        /* the reference rows of the source tree, when it is there */
        if (mrb_published_load(MRB_SOURCE_DIR "/baselines/published", &published) != MRB_OK) published = NULL;
        ready = 1;
    }
    mrb_fuzz_write("results.json", data, size, path, sizeof path);
    snprintf(out, sizeof out, "%s/out", mrb_fuzz_dir());
    cJSON *r = NULL;
    mrb_fuzz_begin();
    mrb_status st = mrb_fuzz_check(mrb_results_load(path, &r), "mrb_results_load");
    if ((st == MRB_OK) != (r != NULL)) abort();
    if (!r) return 0;

    const cJSON *one[1] = {r};
    mrb_report_opts ro = {.per_case = 1, .baseline = "zero-filling", .published = published, .no_plots = 1};
    mrb_report_outcome roc;
    mrb_fuzz_begin();
    st = mrb_fuzz_check(mrb_mkdirs(out), "mrb_mkdirs");
    if (st == MRB_OK) mrb_fuzz_check(mrb_report_write_many(one, 1, out, &ro, &roc), "mrb_report_write_many");

    mrb_compare_opts co = {0};
    co.force = 1;
    co.resamples = FUZZ_RESAMPLES;
    cJSON *cmp = NULL;
    char *md = NULL;
    mrb_compare_outcome coc;
    mrb_fuzz_begin();
    st = mrb_fuzz_check(mrb_compare(r, r, &co, &cmp, &md, &coc), "mrb_compare");
    if (st == MRB_OK && (!cmp || !md)) abort();
    cJSON_Delete(cmp);
    free(md);

    const char *names[1] = {"fuzz/results.json"};
    mrb_leaderboard_opts lo = {0};
    lo.resamples = FUZZ_RESAMPLES;
    cJSON *board = NULL;
    mrb_leaderboard_outcome loc;
    mrb_fuzz_begin();
    st = mrb_fuzz_check(mrb_leaderboard(one, names, 1, &lo, &board), "mrb_leaderboard");
    if (st == MRB_OK) mrb_fuzz_check(mrb_leaderboard_write(board, out, &loc), "mrb_leaderboard_write");
    cJSON_Delete(board);
    cJSON_Delete(r);
    return 0;
}
