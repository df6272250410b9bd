#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "mrbench/suite.h"

static const char help[] =
    "usage: mrbench validate SUITE.json...\n"
    "\n"
    "Checks each suite (JSON syntax, schema v1, registered names, parameter types and ranges,\n"
    "manifests) without running it. Prints one line per suite; the first problem of a bad\n"
    "suite names the file, the JSON path and what was expected. Exit 0 when all are valid, 2 otherwise.\n";

int mrb_cmd_validate(int argc, char **argv)
{
    if (argc < 2) return mrb_cli_usage("validate", "expected a suite file");
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(help, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1]) return mrb_cli_usage("validate", "unknown option '%s'", argv[i]);
    }
    for (int i = 1; i < argc; i++) {
        mrb_suite *s = NULL;
        mrb_status st = mrb_suite_load(argv[i], &s);
        if (st != MRB_OK) {
            rc = mrb_cli_fail("validate", st);
            continue;
        }
        printf("%s: valid (suite '%s', %zu datasets x %zu sampling x %zu methods = %zu cases, %zu metrics)\n", argv[i],
               s->name, s->ndatasets, s->nsamplings, s->nmethods, mrb_suite_case_count(s), s->nmetrics);
        mrb_suite_free(s);
    }
    return rc;
}
