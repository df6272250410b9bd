#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "mrbench/report.h"
#include "mrbench/runner.h"

static const char help[] = "usage: mrbench run [SUITE.json] [options]\n"
                           "\n"
                           "Runs every case (dataset x sampling x method) of a suite, journals each finished case in\n"
                           "OUT/cases.jsonl, and writes OUT/results.json (atomically), OUT/report.md and plots.\n"
                           "Without SUITE.json the built-in quickstart suite runs.\n"
                           "\n"
                           "options:\n"
                           "  --out DIR         output folder (default: results/<suite name>)\n"
                           "  --device cpu|gpu  where methods run (default cpu); gpu exits 3 when unavailable\n"
                           "  --threads N       threads for FFTW, OpenMP and OpenBLAS (default: all cores;\n"
                           "                    more than the cores available are not used)\n"
                           "  --filter GLOB     run only cases whose key dataset/sampling/method matches GLOB;\n"
                           "                    a GLOB that matches no case exits 2 and writes nothing\n"
                           "  --resume          skip the cases OUT/cases.jsonl holds as ok and rerun the failed ones;\n"
                           "                    the final results.json is the same as an uninterrupted run's\n"
                           "                    (timings aside)\n"
                           "  --quiet           no progress output\n"
                           "  -h, --help        this help\n";

int mrb_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},     {"device", required_argument, 0, 'd'},
        {"threads", required_argument, 0, 't'}, {"filter", required_argument, 0, 'f'},
        {"resume", no_argument, 0, 'r'},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    mrb_run_opts opts = {0};
    char cmdline[2048]; /* as typed: getopt permutes argv */
    mrb_cli_command_line(argc, argv, cmdline, sizeof cmdline);
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    const char *out = NULL;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 'd': {
            int gpu, rc = mrb_cli_parse_device("run", optarg, &gpu);
            if (rc) return rc;
            opts.device = gpu ? MRB_DEVICE_GPU : MRB_DEVICE_CPU;
            break;
        }
        case 't':
            if (mrb_cli_parse_int(optarg, 1, 1024, &threads) != 0)
                return mrb_cli_usage("run", "--threads takes an integer from 1 to 1024, not '%s'", optarg);
            break;
        case 'f': opts.filter = optarg; break;
        case 'r': opts.resume = 1; break;
        case 'q': opts.quiet = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return mrb_cli_usage("run", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind > 1) return mrb_cli_usage("run", "expected at most one suite file");
    mrb_suite *suite = NULL;
    mrb_status st =
        argc - optind == 1 ? mrb_suite_load(argv[optind], &suite) : mrb_suite_load_embedded("quickstart", &suite);
    if (st != MRB_OK) return mrb_cli_fail("run", st);
    size_t selected = 0;
    st = mrb_run_check_filter(suite, opts.filter, &selected);
    if (st != MRB_OK) {
        mrb_suite_free(suite);
        return mrb_cli_fail("run", st);
    }

    char out_dir[1100];
    if (out)
        snprintf(out_dir, sizeof out_dir, "%s", out);
    else
        snprintf(out_dir, sizeof out_dir, "results/%s", suite->name);
    opts.out_dir = out_dir;
    opts.nthreads = (int)threads;
    opts.progress_bar = isatty(STDERR_FILENO);
    opts.command_line = cmdline;

    if (!opts.quiet && opts.filter)
        fprintf(stderr,
                "mrbench run: suite '%s' (%s), %zu of %zu cases match --filter '%s', %d thread(s), output in %s\n",
                suite->name, suite->path, selected, mrb_suite_case_count(suite), opts.filter, opts.nthreads, out_dir);
    else if (!opts.quiet)
        fprintf(stderr, "mrbench run: suite '%s' (%s), %zu cases, %d thread(s), output in %s\n", suite->name,
                suite->path, mrb_suite_case_count(suite), opts.nthreads, out_dir);
    mrb_run_summary sum;
    st = mrb_run_suite(suite, &opts, &sum);
    mrb_suite_free(suite);
    if (st != MRB_OK) return mrb_cli_fail("run", st);
    if (!opts.quiet) {
        char retried[64] = "";
        if (sum.cases_retried) snprintf(retried, sizeof retried, " (%zu failed before: retried)", sum.cases_retried);
        fprintf(stderr, "mrbench run: %zu case(s) run%s, %zu resumed from the journal, %zu filtered out, %zu failed\n",
                sum.cases_run, retried, sum.cases_skipped, sum.cases_filtered, sum.cases_failed);
        printf("results: %s\n", sum.results_path);
        printf("report:  %s\n", sum.report.markdown);
        for (size_t i = 0; i < sum.report.nplots; i++) printf("plot:    %s\n", sum.report.plots[i]);
        if (sum.report.skipped[0]) printf("plots skipped: %s\n", sum.report.skipped);
    }
    return sum.cases_failed ? MRB_EXIT_RUN_FAILED : MRB_EXIT_OK;
}
