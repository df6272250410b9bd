/* Parameter schemas of registered datasets, samplers, methods and metrics,
 * and the validated parameter sets built from them. */
#ifndef MRBENCH_PARAMS_H
#define MRBENCH_PARAMS_H

#include <stddef.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mrb_param_type {
    MRB_PARAM_NUMBER = 0, /* double */
    MRB_PARAM_INT,        /* integer-valued double */
    MRB_PARAM_BOOL,
    MRB_PARAM_STRING
} mrb_param_type;

typedef struct mrb_param_spec {
    const char *name;
    mrb_param_type type;
    double def;          /* default for NUMBER, INT, BOOL */
    double min, max;     /* inclusive range for NUMBER and INT */
    const char *def_str; /* default for STRING */
    const char *choices; /* STRING: allowed values separated by '|', or NULL for any */
    const char *help;
} mrb_param_spec;

#define MRB_PARAMS_MAX 32
#define MRB_PARAM_STR_MAX 256

typedef struct mrb_param_value {
    const char *name; /* points into the spec */
    mrb_param_type type;
    double num;
    char str[MRB_PARAM_STR_MAX];
    int given; /* 1 if set by the user, 0 if defaulted */
} mrb_param_value;

typedef struct mrb_params {
    size_t count;
    mrb_param_value v[MRB_PARAMS_MAX];
} mrb_params;

/* Fills every parameter with its default. */
void mrb_params_defaults(mrb_params *p, const mrb_param_spec *spec, size_t nspec);
/* Sets one parameter from text (command line KEY=VALUE), checking type and
 * range; the error names `where` and the key. */
mrb_status mrb_params_set_text(mrb_params *p, const mrb_param_spec *spec, size_t nspec, const char *key,
                               const char *value, const char *where);
/* Value lookups; asking for a name not in the schema is a programmer error. */
double mrb_params_num(const mrb_params *p, const char *name);
long mrb_params_int(const mrb_params *p, const char *name);
int mrb_params_bool(const mrb_params *p, const char *name);
const char *mrb_params_str(const mrb_params *p, const char *name);
/* Checks a value against the spec's type and range; on failure writes
 * "expected ..." into msg. */
int mrb_param_check_number(const mrb_param_spec *s, double v, char *msg, size_t len);

#ifdef __cplusplus
}
#endif
#endif
