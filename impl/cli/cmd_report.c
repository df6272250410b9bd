#include <cjson/cJSON.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "mrbench/report.h"
#include "mrbench/runner.h"
#include "mrbench/util.h"

static const char help[] =
    "usage: mrbench report RESULTS.json [--out DIR]\n"
    "\n"
    "Writes report.md (mean (std) tables per method x setting, timing table) and the plots\n"
    "(gnuplot; skipped with a message when gnuplot is missing) from a results file.\n"
    "\n"
    "options:\n"
    "  --out DIR   where to write (default: the folder of RESULTS.json)\n"
    "  -h, --help  this help\n";

int mrb_cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {{"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (ch == 'o') out = optarg;
        else if (ch == 'h') {
            fputs(help, stdout);
            return 0;
        } else return mrb_cli_usage("report", "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 1) return mrb_cli_usage("report", "expected one results file");
    const char *path = argv[optind];
    cJSON *results = NULL;
    mrb_status st = mrb_results_load(path, &results);
    if (st != MRB_OK) return mrb_cli_fail("report", st);
    char dir[1100];
    if (out) snprintf(dir, sizeof dir, "%s", out);
    else {
        char *copy = strdup(path);
        snprintf(dir, sizeof dir, "%s", copy ? dirname(copy) : ".");
        free(copy);
    }
    st = mrb_mkdirs(dir);
    mrb_report_outcome oc;
    if (st == MRB_OK) st = mrb_report_write(results, dir, &oc);
    cJSON_Delete(results);
    if (st != MRB_OK) return mrb_cli_fail("report", st);
    printf("report:  %s\n", oc.markdown);
    for (size_t i = 0; i < oc.nplots; i++) printf("plot:    %s\n", oc.plots[i]);
    if (oc.skipped[0]) printf("plots skipped: %s\n", oc.skipped);
    return 0;
}
