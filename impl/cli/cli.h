/* The mrbench program: one file per subcommand, each with its help text. */
#ifndef MRBENCH_CLI_H
#define MRBENCH_CLI_H

#include <stddef.h>

#include "mrbench/status.h"

typedef struct mrb_command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
} mrb_command;

int mrb_cmd_run(int argc, char **argv);
int mrb_cmd_validate(int argc, char **argv);
int mrb_cmd_list(int argc, char **argv);
int mrb_cmd_report(int argc, char **argv);
int mrb_cmd_score(int argc, char **argv);
int mrb_cmd_recon(int argc, char **argv);
int mrb_cmd_export(int argc, char **argv);
int mrb_cmd_compare(int argc, char **argv);
int mrb_cmd_leaderboard(int argc, char **argv);
int mrb_cmd_train(int argc, char **argv);

/* Prints "mrbench <cmd>: <message>" to stderr and returns the exit code for st. */
int mrb_cli_fail(const char *cmd, mrb_status st);
/* Prints a usage error ("mrbench <cmd>: ...; see 'mrbench <cmd> --help'") and returns 2. */
int mrb_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "mrbench <argv...>" into buf (truncated to len), for provenance. */
void mrb_cli_command_line(int argc, char **argv, char *buf, size_t len);
/* --device cpu|gpu: *gpu = 0 or 1 and 0 returned, or the usage error's exit code. */
int mrb_cli_parse_device(const char *cmd, const char *arg, int *gpu);
/* Fills p with the defaults of spec, then applies "KEY=VALUE" texts, each
 * checked against the schema of `owner`; returns 0, or the exit code after
 * printing a usage error. */
struct mrb_param_spec;
struct mrb_params;
int mrb_cli_params(const char *cmd, const char *owner, const struct mrb_param_spec *spec, size_t nspec,
                   const char *const *kv, size_t n, struct mrb_params *p);
/* Parses a positive integer option value; returns 0 on success. */
int mrb_cli_parse_int(const char *text, long lo, long hi, long *out);

#endif
