#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "mrbench/fft.h"
#include "mrbench/params.h"

#ifndef MRB_VERSION
#define MRB_VERSION "0.1.0"
#endif

static const mrb_command commands[] = {
    {"run", "run a suite (default: the built-in quickstart) and write results, report and plots", mrb_cmd_run},
    {"validate", "check a suite file without running it", mrb_cmd_validate},
    {"list", "list registered datasets, samplers, methods and metrics with their parameters", mrb_cmd_list},
    {"report", "write tables (Markdown, CSV, LaTeX) and plots from one or more results.json", mrb_cmd_report},
    {"export", "write one item of a dataset (ground truth, labels, coil maps, PNG) to files", mrb_cmd_export},
    {"recon", "reconstruct your own k-space files with a registered method (like bart pics)", mrb_cmd_recon},
    {"train", "train a suite's learned method (Deep Cascade) from its 'training' section", mrb_cmd_train},
    {"score", "score two files (label maps: Dice, HD95, ...; images: PSNR, SSIM, ...)", mrb_cmd_score},
    {"compare", "compare two runs of a suite: per-metric verdicts, timing, exit 1 on a regression", mrb_cmd_compare},
    {"leaderboard", "rank the methods of several runs challenge-style (Markdown, CSV, HTML)", mrb_cmd_leaderboard},
};

static const char usage[] = "usage: mrbench <command> [options]\n"
                            "       mrbench --version | --help\n"
                            "\n"
                            "Benchmark and reproducibility harness for deep learning in MR imaging.\n"
                            "\n"
                            "commands:\n";

static const char exit_codes[] =
    "\n"
    "exit codes: 0 ok; 1 a run failed (a case failed or a numerical error);\n"
    "            2 bad input or usage (file, suite, parameter, shape); 3 device unavailable.\n"
    "'mrbench <command> --help' describes each command.\n";

int mrb_cli_fail(const char *cmd, mrb_status st)
{
    fprintf(stderr, "mrbench %s: %s\n", cmd, mrb_error_message());
    return mrb_status_exit_code(st);
}

int mrb_cli_usage(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mrbench %s: %s; see 'mrbench %s --help'\n", cmd, msg, cmd);
    return MRB_EXIT_BAD_INPUT;
}

void mrb_cli_command_line(int argc, char **argv, char *buf, size_t len)
{
    if (!len) return;
    snprintf(buf, len, "mrbench");
    for (int i = 0; i < argc; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, " %s", argv[i]);
    }
}

int mrb_cli_parse_device(const char *cmd, const char *arg, int *gpu)
{
    if (strcmp(arg, "cpu") == 0 || strcmp(arg, "gpu") == 0) {
        *gpu = arg[0] == 'g';
        return 0;
    }
    return mrb_cli_usage(cmd, "--device takes cpu or gpu, not '%s'", arg);
}

int mrb_cli_params(const char *cmd, const char *owner, const mrb_param_spec *spec, size_t nspec, const char *const *kv,
                   size_t n, mrb_params *p)
{
    mrb_params_defaults(p, spec, nspec);
    for (size_t i = 0; i < n; i++) {
        char key[128];
        const char *eq = strchr(kv[i], '=');
        if (!eq || eq == kv[i] || (size_t)(eq - kv[i]) >= sizeof key)
            return mrb_cli_usage(cmd, "--param takes KEY=VALUE, not '%s'", kv[i]);
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
        if (mrb_params_set_text(p, spec, nspec, key, eq + 1, owner) != MRB_OK)
            return mrb_cli_usage(cmd, "%s", mrb_error_message());
    }
    return 0;
}

int mrb_cli_parse_int(const char *text, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        FILE *out = argc < 2 ? stderr : stdout;
        fputs(usage, out);
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
            fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
        fputs(exit_codes, out);
        return argc < 2 ? MRB_EXIT_BAD_INPUT : MRB_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("mrbench %s\n", MRB_VERSION);
        return MRB_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            int rc = commands[i].main(argc - 1, argv + 1);
            mrb_fft_cleanup();
            return rc;
        }
    }
    fprintf(stderr, "mrbench: unknown command '%s'; see 'mrbench --help'\n", argv[1]);
    return MRB_EXIT_BAD_INPUT;
}
