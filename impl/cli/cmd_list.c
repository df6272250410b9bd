#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "mrbench/registry.h"

static const char help[] = "usage: mrbench list [datasets|samplers|methods|metrics]\n"
                           "\n"
                           "Lists what is registered, with one-line descriptions and each parameter's type, default,\n"
                           "range and meaning. Without an argument, lists all four kinds.\n";

static const char *type_name(mrb_param_type t)
{
    switch (t) {
    case MRB_PARAM_NUMBER: return "number";
    case MRB_PARAM_INT: return "integer";
    case MRB_PARAM_BOOL: return "bool";
    case MRB_PARAM_STRING: return "string";
    }
    return "?";
}

static void print_params(const mrb_param_spec *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("      %-18s %-7s ", p[i].name, type_name(p[i].type));
        switch (p[i].type) {
        case MRB_PARAM_NUMBER:
        case MRB_PARAM_INT: printf("default %g, range [%g, %g]", p[i].def, p[i].min, p[i].max); break;
        case MRB_PARAM_BOOL: printf("default %s", p[i].def != 0 ? "true" : "false"); break;
        case MRB_PARAM_STRING:
            printf("default \"%s\"", p[i].def_str ? p[i].def_str : "");
            if (p[i].choices) printf(", one of %s", p[i].choices);
            break;
        }
        printf("\n      %-18s         %s\n", "", p[i].help ? p[i].help : "");
    }
}

#define LIST_KIND(title, table)                                                                                        \
    do {                                                                                                               \
        printf("%s:\n", title);                                                                                        \
        for (size_t i = 0; table[i]; i++) {                                                                            \
            printf("  %-20s %s\n", table[i]->name, table[i]->description);                                             \
            print_params(table[i]->params, table[i]->nparams);                                                         \
        }                                                                                                              \
        printf("\n");                                                                                                  \
    } while (0)

int mrb_cmd_list(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    if (strcmp(what, "-h") == 0 || strcmp(what, "--help") == 0) {
        fputs(help, stdout);
        return 0;
    }
    if (argc > 2) return mrb_cli_usage("list", "expected at most one kind");
    int all = strcmp(what, "all") == 0, shown = 0;
    if (all || strcmp(what, "datasets") == 0) {
        LIST_KIND("datasets", mrb_dataset_table);
        shown = 1;
    }
    if (all || strcmp(what, "samplers") == 0) {
        LIST_KIND("samplers", mrb_sampler_table);
        shown = 1;
    }
    if (all || strcmp(what, "methods") == 0) {
        printf("methods ([gpu]: has a GPU twin in this build, used by run --device gpu):\n");
        for (size_t i = 0; mrb_method_table[i]; i++) {
            const mrb_method_desc *m = mrb_method_table[i];
            printf("  %-20s %s%s\n", m->name, mrb_method_find_gpu(m->name) ? "[gpu] " : "", m->description);
            print_params(m->params, m->nparams);
        }
        printf("\n");
        shown = 1;
    }
    if (all || strcmp(what, "metrics") == 0) {
        printf("metrics:\n");
        for (size_t i = 0; mrb_metric_table[i]; i++) {
            const mrb_metric_desc *m = mrb_metric_table[i];
            printf("  %-20s %s [%s%s%s, %s is better]\n", m->name, m->description, m->image ? "image" : "",
                   m->image && m->labels ? "+" : "", m->labels ? "labels" : "",
                   m->higher_is_better ? "higher" : "lower");
            print_params(m->params, m->nparams);
        }
        printf("\n");
        shown = 1;
    }
    if (!shown) return mrb_cli_usage("list", "unknown kind '%s' (datasets, samplers, methods or metrics)", what);
    return 0;
}
