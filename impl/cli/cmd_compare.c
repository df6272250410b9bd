#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "mrbench/report.h"
#include "mrbench/runner.h"
#include "mrbench/util.h"

static const char help[] =
    "usage: mrbench compare BASE.json NEW.json [--tol METRIC=VALUE]... [--json FILE] [--md FILE]\n"
    "                       [--alpha A] [--time-threshold F] [--time-alpha A] [--resamples N]\n"
    "                       [--seed S] [--time-gate] [--force]\n"
    "\n"
    "Compares two runs of one suite. Accuracy: per case and metric, the paired differences\n"
    "NEW - BASE over items with the same id; Wilcoxon signed-rank test (exact for up to 50\n"
    "differences without ties, else normal approximation with tie and continuity correction),\n"
    "Benjamini-Hochberg over all comparisons, a seeded bootstrap interval of the mean difference;\n"
    "verdict IDENTICAL, SAME (within tolerance), BETTER, WORSE or AMBIGUOUS. Timing: ratio of\n"
    "median times, Mann-Whitney U on the raw samples and a minimum effect: SAME, FASTER, SLOWER\n"
    "or AMBIGUOUS. Markdown goes to stdout (or --md FILE). Rules: impl/report/README.md.\n"
    "\n"
    "options:\n"
    "  --tol METRIC=VALUE   tolerance in the metric's unit (metric id or name; repeatable);\n"
    "                       defaults: psnr 0.05 dB, ssim 0.0005, nmse 5e-05, dice 0.0005, nsd 0.0005,\n"
    "                       hd, hd95, assd 0.05 mm, voldiff 0.05 ml, others 0\n"
    "  --json FILE          write the comparison as JSON\n"
    "  --md FILE            write the Markdown to FILE instead of stdout\n"
    "  --alpha A            false discovery rate for accuracy (default 0.05)\n"
    "  --time-threshold F   minimum timing effect (default 0.10 = 10 %)\n"
    "  --time-alpha A       Mann-Whitney level for timing, BH-adjusted (default 0.01)\n"
    "  --resamples N        bootstrap resamples (default 2000)\n"
    "  --seed S             bootstrap seed (default 0)\n"
    "  --time-gate          a significant slow-down beyond the threshold also fails (exit 1)\n"
    "  --force              compare runs of different suites or data sets\n"
    "  -h, --help           this help\n"
    "\n"
    "A case that is ok in BASE and failed, missing or without any value of a metric in NEW\n"
    "is lost: a regression, named on stderr. Cases only in NEW, or failed in BASE, are not.\n"
    "\n"
    "exit status: 0 no regression; 1 a metric got significantly worse beyond its tolerance, or a\n"
    "case was lost (or slower, with --time-gate); 2 bad input, or runs of different suites/data\n"
    "without --force.\n";

static int parse_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v == v)) return -1;
    *out = v;
    return 0;
}

int mrb_cmd_compare(int argc, char **argv)
{
    static const struct option longopts[] = {{"tol", required_argument, 0, 't'},
                                             {"json", required_argument, 0, 'j'},
                                             {"md", required_argument, 0, 'm'},
                                             {"alpha", required_argument, 0, 'a'},
                                             {"time-threshold", required_argument, 0, 'T'},
                                             {"time-alpha", required_argument, 0, 'A'},
                                             {"resamples", required_argument, 0, 'r'},
                                             {"seed", required_argument, 0, 's'},
                                             {"time-gate", no_argument, 0, 'g'},
                                             {"force", no_argument, 0, 'f'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    mrb_compare_opts o = {0};
    const char *json_path = NULL, *md_path = NULL;
    opterr = 0;
    optind = 1;
    int ch;
    long lv;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 't': {
            const char *eq = strchr(optarg, '=');
            double v;
            if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof o.tol_metric[0] || parse_double(eq + 1, &v) ||
                v < 0)
                return mrb_cli_usage("compare", "--tol expects METRIC=VALUE with VALUE >= 0, got '%s'", optarg);
            if (o.ntol == MRB_COMPARE_MAX_TOL)
                return mrb_cli_usage("compare", "at most %d --tol options", MRB_COMPARE_MAX_TOL);
            snprintf(o.tol_metric[o.ntol], sizeof o.tol_metric[0], "%.*s", (int)(eq - optarg), optarg);
            o.tol_value[o.ntol++] = v;
            break;
        }
        case 'j': json_path = optarg; break;
        case 'm': md_path = optarg; break;
        case 'a':
            if (parse_double(optarg, &o.alpha) || !(o.alpha > 0 && o.alpha < 1))
                return mrb_cli_usage("compare", "--alpha expects a number in (0, 1), got '%s'", optarg);
            break;
        case 'T':
            if (parse_double(optarg, &o.time_threshold) || !(o.time_threshold > 0 && o.time_threshold < 10))
                return mrb_cli_usage("compare", "--time-threshold expects a number in (0, 10), got '%s'", optarg);
            break;
        case 'A':
            if (parse_double(optarg, &o.time_alpha) || !(o.time_alpha > 0 && o.time_alpha < 1))
                return mrb_cli_usage("compare", "--time-alpha expects a number in (0, 1), got '%s'", optarg);
            break;
        case 'r':
            if (mrb_cli_parse_int(optarg, 1, 1000000, &lv))
                return mrb_cli_usage("compare", "--resamples expects an integer in [1, 1000000], got '%s'", optarg);
            o.resamples = (size_t)lv;
            break;
        case 's':
            if (mrb_cli_parse_int(optarg, 0, 0x7fffffffL, &lv))
                return mrb_cli_usage("compare", "--seed expects an integer in [0, 2^31), got '%s'", optarg);
            o.seed = (uint64_t)lv;
            break;
        case 'g': o.time_gate = 1; break;
        case 'f': o.force = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return mrb_cli_usage("compare", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2) return mrb_cli_usage("compare", "expected BASE.json and NEW.json");
    cJSON *base = NULL, *now = NULL, *json = NULL;
    char *md = NULL;
    mrb_compare_outcome oc;
    mrb_status st = mrb_results_load(argv[optind], &base);
    if (st == MRB_OK) st = mrb_results_load(argv[optind + 1], &now);
    if (st == MRB_OK) st = mrb_compare(base, now, &o, &json, &md, &oc);
    cJSON_Delete(base);
    cJSON_Delete(now);
    if (st == MRB_OK && json_path) {
        char *text = cJSON_Print(json);
        st = text ? mrb_write_file_atomic(json_path, text, strlen(text)) : mrb_error(MRB_ERR_NOMEM, "out of memory");
        free(text);
    }
    if (st == MRB_OK && md_path)
        st = mrb_write_file_atomic(md_path, md, strlen(md));
    else if (st == MRB_OK)
        fputs(md, stdout);
    free(md);
    if (st != MRB_OK) {
        cJSON_Delete(json);
        return mrb_cli_fail("compare", st);
    }
    if (oc.regressions) {
        fprintf(stderr, "mrbench compare: %zu regression(s): %zu metric comparison(s) worse, %zu case(s) lost%s\n",
                oc.regressions, oc.worse, oc.lost, o.time_gate ? ", or timing slower" : "");
        const cJSON *l;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(json, "lost")) {
            const cJSON *key = cJSON_GetObjectItemCaseSensitive(l, "case");
            const cJSON *why = cJSON_GetObjectItemCaseSensitive(l, "reason");
            fprintf(stderr, "mrbench compare: lost case '%s': %s\n", cJSON_IsString(key) ? key->valuestring : "",
                    cJSON_IsString(why) ? why->valuestring : "");
        }
    }
    cJSON_Delete(json);
    return oc.regressions ? MRB_EXIT_RUN_FAILED : MRB_EXIT_OK;
}
