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

#define REPORT_MAX_FILES 64

static const char help[] =
    "usage: mrbench report RESULTS.json... [--out DIR] [--per-case] [--baseline METHOD]\n"
    "                      [--published DIR|none] [--no-plots]\n"
    "\n"
    "Writes report.md, report.csv and report.tex (mean (std) per method x setting, timing\n"
    "median [q1, q3]) and plots (gnuplot, PNG and SVG: metric vs acceleration, time per method\n"
    "on a log scale, box plots of per-item values, time vs problem size; skipped with a message\n"
    "when gnuplot is missing). Several results files merge into one report; a method already\n"
    "seen for the same setting in an earlier file is labelled '<id> (run k)'.\n"
    "Published reference numbers appear as marked rows where the setting matches\n"
    "(baselines/published/README.md).\n"
    "\n"
    "options:\n"
    "  --out DIR             where to write (default: the folder of the first RESULTS.json)\n"
    "  --per-case            add per-item tables\n"
    "  --baseline METHOD     add speed-ups against this method label (its median / the method's)\n"
    "  --published DIR|none  folder of published numbers (default: $MRBENCH_PUBLISHED, else the\n"
    "                        source tree's baselines/published when present; none: no reference rows)\n"
    "  --no-plots            tables only\n"
    "  -h, --help            this help\n";

/* The folder of published numbers: --published, $MRBENCH_PUBLISHED, the
 * build's source tree, or none. */
static const char *published_dir(const char *given)
{
    if (given) return strcmp(given, "none") == 0 ? NULL : given;
    const char *env = getenv("MRBENCH_PUBLISHED");
    if (env && env[0]) return strcmp(env, "none") == 0 ? NULL : env;
#ifdef MRB_PUBLISHED_DIR
    static char dir[] = MRB_PUBLISHED_DIR;
    FILE *probe = fopen(MRB_PUBLISHED_DIR "/README.md", "r");
    if (probe) {
        fclose(probe);
        return dir;
    }
#endif
    return NULL;
}

int mrb_cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {{"out", required_argument, 0, 'o'},
                                             {"per-case", no_argument, 0, 'c'},
                                             {"baseline", required_argument, 0, 'b'},
                                             {"published", required_argument, 0, 'p'},
                                             {"no-plots", no_argument, 0, 'n'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *out = NULL, *pub = NULL;
    mrb_report_opts opts = {0};
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (ch == 'o')
            out = optarg;
        else if (ch == 'c')
            opts.per_case = 1;
        else if (ch == 'b')
            opts.baseline = optarg;
        else if (ch == 'p')
            pub = optarg;
        else if (ch == 'n')
            opts.no_plots = 1;
        else if (ch == 'h') {
            fputs(help, stdout);
            return 0;
        } else
            return mrb_cli_usage("report", "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    size_t n = (size_t)(argc - optind);
    if (n < 1) return mrb_cli_usage("report", "expected at least one results file");
    if (n > REPORT_MAX_FILES) return mrb_cli_usage("report", "at most %d results files", REPORT_MAX_FILES);
    cJSON *results[REPORT_MAX_FILES] = {0};
    mrb_status st = MRB_OK;
    for (size_t i = 0; i < n && st == MRB_OK; i++) st = mrb_results_load(argv[optind + (int)i], &results[i]);
    cJSON *published = NULL;
    const char *pdir = published_dir(pub);
    if (st == MRB_OK && pdir) st = mrb_published_load(pdir, &published);
    opts.published = published;
    char dir[1100];
    if (out)
        snprintf(dir, sizeof dir, "%s", out);
    else {
        char *copy = strdup(argv[optind]);
        snprintf(dir, sizeof dir, "%s", copy ? dirname(copy) : ".");
        free(copy);
    }
    if (st == MRB_OK) st = mrb_mkdirs(dir);
    mrb_report_outcome oc;
    if (st == MRB_OK) st = mrb_report_write_many((const cJSON *const *)results, n, dir, &opts, &oc);
    for (size_t i = 0; i < n; i++) cJSON_Delete(results[i]);
    cJSON_Delete(published);
    if (st != MRB_OK) return mrb_cli_fail("report", st);
    printf("report:  %s\n", oc.markdown);
    printf("tables:  %s, %s\n", oc.csv, oc.latex);
    for (size_t i = 0; i < oc.nplots; i++) printf("plot:    %s\n", oc.plots[i]);
    if (oc.skipped[0]) printf("plots skipped: %s\n", oc.skipped);
    return 0;
}
