#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "mrbench/report.h"
#include "mrbench/runner.h"
#include "mrbench/util.h"

#define LEADERBOARD_MAX_FILES 64
#define LEADERBOARD_MAX_METRICS 16

static const char help[] = "usage: mrbench leaderboard SUBMISSION.json... [--out DIR] [--metrics a,b,...]\n"
                           "                           [--resamples N] [--seed S] [--title TEXT]\n"
                           "       mrbench leaderboard --reference REF_DIR [--regions R] PRED_DIR... [options]\n"
                           "\n"
                           "Challenge-style ranking of every method of every submission (a results.json of a run):\n"
                           "rank-then-aggregate (entries ranked on every item and metric, ranks averaged, as BraTS),\n"
                           "aggregate-then-rank (ranked on each metric's mean), and the ranking's stability under a\n"
                           "seeded bootstrap over items. Ties share the average rank; a missing value ranks last.\n"
                           "Writes leaderboard.md, leaderboard.csv, leaderboard.json and a self-contained\n"
                           "leaderboard.html (sortable tables, inline SVG chart, no network resources).\n"
                           "With --reference, each PRED_DIR is a submission: its NIfTI files are scored against the\n"
                           "files of the same name in REF_DIR (a missing file ranks last); label maps get Dice and\n"
                           "HD95 per region, images PSNR, SSIM and NMSE.\n"
                           "\n"
                           "options:\n"
                           "  --out DIR          where to write (default: leaderboard)\n"
                           "  --metrics LIST     metric ids to rank (default: every metric all submissions define)\n"
                           "  --resamples N      bootstrap resamples (default 1000)\n"
                           "  --seed S           bootstrap seed (default 0)\n"
                           "  --title TEXT       page title\n"
                           "  --reference DIR    ground-truth folder: the arguments are prediction folders\n"
                           "  --regions R        label regions: brats (wt 1,2,4; tc 1,4; et 4) or NAME=L,L;NAME=L\n"
                           "                     (default: every label of the first reference map on its own)\n"
                           "  -h, --help         this help\n";

/* A submission's name: the last two components of its path ("run-a/results.json"),
 * since every run writes a file called results.json. */
static const char *short_name(const char *path)
{
    const char *end = path + strlen(path), *p = end;
    int slashes = 0;
    while (p > path) {
        if (p[-1] == '/' && ++slashes == 2) break;
        p--;
    }
    return p;
}

int mrb_cmd_leaderboard(int argc, char **argv)
{
    static const struct option longopts[] = {{"out", required_argument, 0, 'o'},
                                             {"metrics", required_argument, 0, 'm'},
                                             {"resamples", required_argument, 0, 'r'},
                                             {"seed", required_argument, 0, 's'},
                                             {"title", required_argument, 0, 't'},
                                             {"help", no_argument, 0, 'h'},
                                             {"reference", required_argument, 0, 'R'},
                                             {"regions", required_argument, 0, 'G'},
                                             {0, 0, 0, 0}};
    const char *out = "leaderboard", *reference = NULL, *regions = NULL;
    char metric_buf[1024] = "";
    const char *metrics[LEADERBOARD_MAX_METRICS];
    mrb_leaderboard_opts o = {0};
    opterr = 0;
    optind = 1;
    int ch;
    long lv;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 'm': {
            snprintf(metric_buf, sizeof metric_buf, "%s", optarg);
            o.nmetrics = 0;
            for (char *save = NULL, *tok = strtok_r(metric_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (o.nmetrics == LEADERBOARD_MAX_METRICS)
                    return mrb_cli_usage("leaderboard", "at most %d metrics", LEADERBOARD_MAX_METRICS);
                metrics[o.nmetrics++] = tok;
            }
            o.metrics = metrics;
            break;
        }
        case 'r':
            if (mrb_cli_parse_int(optarg, 1, 100000, &lv))
                return mrb_cli_usage("leaderboard", "--resamples expects an integer in [1, 100000], got '%s'", optarg);
            o.resamples = (size_t)lv;
            break;
        case 's':
            if (mrb_cli_parse_int(optarg, 0, 0x7fffffffL, &lv))
                return mrb_cli_usage("leaderboard", "--seed expects an integer in [0, 2^31), got '%s'", optarg);
            o.seed = (uint64_t)lv;
            break;
        case 't': o.title = optarg; break;
        case 'R': reference = optarg; break;
        case 'G': regions = optarg; break;
        case 'h': fputs(help, stdout); return 0;
        default: return mrb_cli_usage("leaderboard", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    size_t n = (size_t)(argc - optind);
    if (n < 1)
        return mrb_cli_usage("leaderboard",
                             "expected at least one submission (results.json or, with --reference, a folder)");
    if (regions && !reference) return mrb_cli_usage("leaderboard", "--regions needs --reference");
    if (n > LEADERBOARD_MAX_FILES) return mrb_cli_usage("leaderboard", "at most %d submissions", LEADERBOARD_MAX_FILES);
    cJSON *subs[LEADERBOARD_MAX_FILES] = {0};
    const char *names[LEADERBOARD_MAX_FILES];
    char short_names[LEADERBOARD_MAX_FILES][256];
    mrb_status st = MRB_OK;
    for (size_t i = 0; i < n && st == MRB_OK; i++) {
        const char *arg = argv[optind + (int)i];
        names[i] = short_names[i];
        if (reference) {
            /* A prediction folder is named by its last component (the team). */
            char path[1024];
            snprintf(path, sizeof path, "%s", arg);
            size_t len = strlen(path);
            while (len > 1 && path[len - 1] == '/') path[--len] = '\0';
            const char *slash = strrchr(path, '/');
            snprintf(short_names[i], sizeof short_names[i], "%s", slash && slash[1] ? slash + 1 : path);
            st = mrb_folders_to_results(reference, arg, short_names[i], regions, &subs[i]);
        } else {
            snprintf(short_names[i], sizeof short_names[i], "%s", short_name(arg));
            st = mrb_results_load(arg, &subs[i]);
        }
    }
    cJSON *board = NULL;
    mrb_leaderboard_outcome oc;
    if (st == MRB_OK) st = mrb_leaderboard((const cJSON *const *)subs, names, n, &o, &board);
    if (st == MRB_OK) st = mrb_leaderboard_write(board, out, &oc);
    for (size_t i = 0; i < n; i++) cJSON_Delete(subs[i]);
    cJSON_Delete(board);
    if (st != MRB_OK) return mrb_cli_fail("leaderboard", st);
    printf("leaderboard: %s\n             %s\n             %s\n             %s\n", oc.markdown, oc.csv, oc.html,
           oc.json);
    return 0;
}
