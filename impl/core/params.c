#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/params.h"

void mrb_params_defaults(mrb_params *p, const mrb_param_spec *spec, size_t nspec)
{
    MRB_ASSERT(nspec <= MRB_PARAMS_MAX);
    memset(p, 0, sizeof *p);
    p->count = nspec;
    for (size_t i = 0; i < nspec; i++) {
        mrb_param_value *v = &p->v[i];
        v->name = spec[i].name;
        v->type = spec[i].type;
        v->num = spec[i].def;
        if (spec[i].type == MRB_PARAM_STRING && spec[i].def_str) snprintf(v->str, sizeof v->str, "%s", spec[i].def_str);
    }
}

static mrb_param_value *find_value(mrb_params *p, const char *name)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->v[i].name, name) == 0) return &p->v[i];
    return NULL;
}

static const mrb_param_value *find_value_const(const mrb_params *p, const char *name)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->v[i].name, name) == 0) return &p->v[i];
    return NULL;
}

int mrb_param_check_number(const mrb_param_spec *s, double v, char *msg, size_t len)
{
    if (!isfinite(v)) {
        snprintf(msg, len, "expected a finite number");
        return 0;
    }
    if (s->type == MRB_PARAM_INT && v != floor(v)) {
        snprintf(msg, len, "expected an integer in [%g, %g]", s->min, s->max);
        return 0;
    }
    if (v < s->min || v > s->max) {
        snprintf(msg, len, "expected %s in [%g, %g], got %g", s->type == MRB_PARAM_INT ? "an integer" : "a number",
                 s->min, s->max, v);
        return 0;
    }
    return 1;
}

static int choice_ok(const char *choices, const char *value)
{
    if (!choices) return 1;
    size_t n = strlen(value);
    const char *c = choices;
    while (*c) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, value, n) == 0) return 1;
        if (!bar) break;
        c = bar + 1;
    }
    return 0;
}

mrb_status mrb_params_set_text(mrb_params *p, const mrb_param_spec *spec, size_t nspec, const char *key,
                               const char *value, const char *where)
{
    const mrb_param_spec *s = NULL;
    for (size_t i = 0; i < nspec; i++)
        if (strcmp(spec[i].name, key) == 0) s = &spec[i];
    if (!s) return mrb_error(MRB_ERR_INVALID, "%s: unknown parameter '%s'", where, key);
    mrb_param_value *v = find_value(p, key);
    MRB_ASSERT(v);
    char msg[160];
    switch (s->type) {
    case MRB_PARAM_NUMBER:
    case MRB_PARAM_INT: {
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        if (end == value || *end != '\0' || errno == ERANGE)
            return mrb_error(MRB_ERR_INVALID, "%s.%s: expected a number, got '%s'", where, key, value);
        if (!mrb_param_check_number(s, d, msg, sizeof msg))
            return mrb_error(MRB_ERR_INVALID, "%s.%s: %s", where, key, msg);
        v->num = d;
        break;
    }
    case MRB_PARAM_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            v->num = 1;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            v->num = 0;
        else
            return mrb_error(MRB_ERR_INVALID, "%s.%s: expected true or false", where, key);
        break;
    case MRB_PARAM_STRING:
        if (strlen(value) >= sizeof v->str)
            return mrb_error(MRB_ERR_INVALID, "%s.%s: string longer than %d characters", where, key,
                             MRB_PARAM_STR_MAX - 1);
        if (!choice_ok(s->choices, value))
            return mrb_error(MRB_ERR_INVALID, "%s.%s: expected one of %s, got '%s'", where, key, s->choices, value);
        snprintf(v->str, sizeof v->str, "%s", value);
        break;
    }
    v->given = 1;
    return MRB_OK;
}

double mrb_params_num(const mrb_params *p, const char *name)
{
    const mrb_param_value *v = find_value_const(p, name);
    MRB_ASSERT(v && v->type != MRB_PARAM_STRING);
    return v->num;
}

long mrb_params_int(const mrb_params *p, const char *name)
{
    return (long)mrb_params_num(p, name);
}

int mrb_params_bool(const mrb_params *p, const char *name)
{
    return mrb_params_num(p, name) != 0;
}

const char *mrb_params_str(const mrb_params *p, const char *name)
{
    const mrb_param_value *v = find_value_const(p, name);
    MRB_ASSERT(v && v->type == MRB_PARAM_STRING);
    return v->str;
}
