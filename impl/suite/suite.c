/* Suite loading and strict validation (schema v1, documented in suites/README.md). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/suite.h"
#include "mrbench/util.h"

#define WARMUP_DEFAULT 1
#define REPEATS_DEFAULT 3
#define WARMUP_MAX 100
#define REPEATS_MAX 1000
#define LIST_MAX 64 /* entries per suite section */

typedef struct ctx {
    const char *file;
    const char *base_dir;
} ctx;

static mrb_status fail(const ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static mrb_status fail(const ctx *c, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && path[0]) return mrb_error(MRB_ERR_INVALID, "%s: %s: %s", c->file, path, msg);
    return mrb_error(MRB_ERR_INVALID, "%s: %s", c->file, msg);
}

static const char *json_type_name(const cJSON *j)
{
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "an invalid value";
}

static void join_path(char *out, size_t len, const char *parent, const char *key)
{
    if (parent && parent[0])
        snprintf(out, len, "%s.%s", parent, key);
    else
        snprintf(out, len, "%s", key);
}

/* Rejects unknown and duplicate keys, suggesting the nearest valid key. */
static mrb_status check_keys(const ctx *c, const cJSON *obj, const char *path, const char *const *allowed,
                             size_t nallowed)
{
    for (const cJSON *child = obj->child; child; child = child->next) {
        char where[512];
        join_path(where, sizeof where, path, child->string);
        int known = 0;
        for (size_t i = 0; i < nallowed; i++)
            if (strcmp(child->string, allowed[i]) == 0) known = 1;
        if (!known) {
            const char *near = mrb_nearest(child->string, allowed, nallowed);
            if (near) return fail(c, where, "unknown key '%s' (did you mean '%s'?)", child->string, near);
            char list[512] = "";
            for (size_t i = 0; i < nallowed; i++) {
                strncat(list, allowed[i], sizeof list - strlen(list) - 3);
                if (i + 1 < nallowed) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return fail(c, where, "unknown key '%s' (valid keys: %s)", child->string, list);
        }
        for (const cJSON *other = child->next; other; other = other->next)
            if (strcmp(other->string, child->string) == 0) return fail(c, where, "duplicate key '%s'", child->string);
    }
    return MRB_OK;
}

static mrb_status get_string(const ctx *c, const cJSON *obj, const char *key, const char *path, int required, char *out,
                             size_t len)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    char where[512];
    join_path(where, sizeof where, path, key);
    if (!j) {
        if (required) return fail(c, path[0] ? path : NULL, "missing required key '%s'", key);
        return MRB_OK;
    }
    if (!cJSON_IsString(j)) return fail(c, where, "expected a string, got %s", json_type_name(j));
    if (strlen(j->valuestring) >= len) return fail(c, where, "string longer than %zu characters", len - 1);
    snprintf(out, len, "%s", j->valuestring);
    return MRB_OK;
}

static mrb_status check_id(const ctx *c, const char *where, const char *id)
{
    if (!id[0]) return fail(c, where, "expected a non-empty id");
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return fail(c, where, "id '%s' may only hold letters, digits, '-', '_' and '.'", id);
    return MRB_OK;
}

static mrb_status get_int(const ctx *c, const cJSON *obj, const char *key, const char *path, long lo, long hi,
                          long *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return MRB_OK;
    char where[512];
    join_path(where, sizeof where, path, key);
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < (double)lo ||
        j->valuedouble > (double)hi)
        return fail(c, where, "expected an integer in [%ld, %ld], got %s", lo, hi,
                    cJSON_IsNumber(j) ? "a value out of range" : json_type_name(j));
    *out = (long)j->valuedouble;
    return MRB_OK;
}

/* Validates a "params" object against a registered schema. */
/* A descriptor's own check of its parameters' combination, at `path`. */
static mrb_status check_params(const ctx *c, const char *path, mrb_status (*check)(const mrb_params *),
                               const mrb_params *p)
{
    if (!check || check(p) == MRB_OK) return MRB_OK;
    return fail(c, path, "%s", mrb_error_message()); /* fail formats before it sets the message */
}

static mrb_status parse_params(const ctx *c, const cJSON *obj, const char *path, const char *what,
                               const mrb_param_spec *spec, size_t nspec, mrb_params *out, int keep_existing)
{
    if (!keep_existing) mrb_params_defaults(out, spec, nspec);
    if (!obj) return MRB_OK;
    if (!cJSON_IsObject(obj)) return fail(c, path, "expected an object, got %s", json_type_name(obj));
    for (const cJSON *j = obj->child; j; j = j->next) {
        char where[512];
        join_path(where, sizeof where, path, j->string);
        const mrb_param_spec *s = NULL;
        for (size_t i = 0; i < nspec; i++)
            if (strcmp(spec[i].name, j->string) == 0) s = &spec[i];
        if (!s) {
            const char *names[MRB_PARAMS_MAX];
            for (size_t i = 0; i < nspec; i++) names[i] = spec[i].name;
            const char *near = mrb_nearest(j->string, names, nspec);
            if (near) return fail(c, where, "%s has no parameter '%s' (did you mean '%s'?)", what, j->string, near);
            if (nspec == 0) return fail(c, where, "%s takes no parameters", what);
            return fail(c, where, "%s has no parameter '%s' (see `mrbench list`)", what, j->string);
        }
        for (const cJSON *o = j->next; o; o = o->next)
            if (strcmp(o->string, j->string) == 0) return fail(c, where, "duplicate key '%s'", j->string);
        mrb_param_value *v = NULL;
        for (size_t i = 0; i < out->count; i++)
            if (strcmp(out->v[i].name, s->name) == 0) v = &out->v[i];
        MRB_ASSERT(v);
        char msg[200];
        switch (s->type) {
        case MRB_PARAM_NUMBER:
        case MRB_PARAM_INT:
            if (!cJSON_IsNumber(j))
                return fail(c, where, "expected %s, got %s", s->type == MRB_PARAM_INT ? "an integer" : "a number",
                            json_type_name(j));
            if (!mrb_param_check_number(s, j->valuedouble, msg, sizeof msg)) return fail(c, where, "%s", msg);
            v->num = j->valuedouble;
            break;
        case MRB_PARAM_BOOL:
            if (!cJSON_IsBool(j)) return fail(c, where, "expected true or false, got %s", json_type_name(j));
            v->num = cJSON_IsTrue(j) ? 1 : 0;
            break;
        case MRB_PARAM_STRING: {
            if (!cJSON_IsString(j)) return fail(c, where, "expected a string, got %s", json_type_name(j));
            char key[128];
            snprintf(key, sizeof key, "%s", s->name);
            mrb_status st = mrb_params_set_text(out, spec, nspec, key, j->valuestring, path);
            if (st != MRB_OK) return fail(c, NULL, "%s", mrb_error_message());
            break;
        }
        }
        v->given = 1;
    }
    return MRB_OK;
}

static mrb_status check_array(const ctx *c, const cJSON *root, const char *key, int required, const cJSON **out)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = a;
    if (!a) return required ? fail(c, NULL, "missing required key '%s'", key) : MRB_OK;
    if (!cJSON_IsArray(a)) return fail(c, key, "expected an array, got %s", json_type_name(a));
    int n = cJSON_GetArraySize(a);
    if (required && n == 0) return fail(c, key, "expected at least one entry");
    if (n > LIST_MAX) return fail(c, key, "at most %d entries", LIST_MAX);
    return MRB_OK;
}

static void resolve_path(const ctx *c, const char *rel, char *out, size_t len)
{
    if (rel[0] == '/' || !c->base_dir || !c->base_dir[0])
        snprintf(out, len, "%s", rel);
    else
        snprintf(out, len, "%s/%s", c->base_dir, rel);
}

/* "files": [{"path", "sha256", "source"?}]: each file must exist and match
 * its checksum before a data set is used (paths relative to the manifest). */
static mrb_status verify_manifest_files(const ctx *mc, const cJSON *m)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(m, "files");
    if (!files) return MRB_OK;
    if (!cJSON_IsArray(files)) return fail(mc, "files", "expected an array, got %s", json_type_name(files));
    static const char *const keys[] = {"path", "sha256", "source"};
    size_t i = 0;
    for (const cJSON *f = files->child; f; f = f->next, i++) {
        char where[64], path[MRB_PATH_MAX] = "", sha[80] = "", source[512] = "", full[2 * MRB_PATH_MAX];
        snprintf(where, sizeof where, "files[%zu]", i);
        if (!cJSON_IsObject(f)) return fail(mc, where, "expected an object, got %s", json_type_name(f));
        MRB_TRY(check_keys(mc, f, where, keys, 3));
        MRB_TRY(get_string(mc, f, "path", where, 1, path, sizeof path));
        MRB_TRY(get_string(mc, f, "sha256", where, 1, sha, sizeof sha));
        MRB_TRY(get_string(mc, f, "source", where, 0, source, sizeof source));
        if (path[0] == '/')
            snprintf(full, sizeof full, "%s", path);
        else {
            char dir[MRB_PATH_MAX];
            snprintf(dir, sizeof dir, "%s", mc->file);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
            else
                snprintf(dir, sizeof dir, ".");
            snprintf(full, sizeof full, "%s/%s", dir, path);
        }
        char hex[65];
        if (mrb_sha256_file(full, hex) != MRB_OK)
            return fail(mc, where, "%s%s%s", mrb_error_message(), source[0] ? "; get it from: " : "", source);
        if (strcmp(hex, sha) != 0)
            return fail(mc, where, "%s: SHA-256 mismatch (expected %.16s..., file has %.16s...)", full, sha, hex);
    }
    return MRB_OK;
}

/* Reads a data-set manifest (datasets/README.md) into d. */
static mrb_status load_manifest(const ctx *c, const char *where, const char *rel, const cJSON *suite_params,
                                const char *split, mrb_suite_dataset *d)
{
    resolve_path(c, rel, d->manifest, sizeof d->manifest);
    char *text = NULL;
    size_t len = 0;
    if (mrb_read_file(d->manifest, &text, &len) != MRB_OK) return fail(c, where, "manifest %s", mrb_error_message());
    mrb_sha256_hex(text, len, d->manifest_sha256);
    const char *end = NULL;
    cJSON *m = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!m) {
        free(text);
        return fail(c, where, "manifest %s is not valid JSON", d->manifest);
    }
    ctx mc = {d->manifest, c->base_dir};
    mrb_status st = MRB_OK;
    static const char *const keys[] = {"mrbench_dataset", "name",    "description", "generator", "params",
                                       "splits",          "licence", "source",      "files"};
    char generator[MRB_ID_MAX] = "";
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(m, "mrbench_dataset");
    if (!cJSON_IsObject(m))
        st = fail(&mc, NULL, "expected a JSON object");
    else if (!cJSON_IsNumber(ver) || ver->valuedouble != 1)
        st = fail(&mc, "mrbench_dataset", "expected manifest schema version 1");
    if (st == MRB_OK) st = check_keys(&mc, m, "", keys, sizeof keys / sizeof *keys);
    if (st == MRB_OK) st = verify_manifest_files(&mc, m);
    if (st == MRB_OK) st = get_string(&mc, m, "generator", "", 1, generator, sizeof generator);
    if (st == MRB_OK) {
        d->desc = mrb_dataset_find(generator);
        if (!d->desc) st = fail(&mc, "generator", "no registered dataset generator '%s'", generator);
    }
    if (st == MRB_OK)
        st = parse_params(&mc, cJSON_GetObjectItemCaseSensitive(m, "params"), "params", generator, d->desc->params,
                          d->desc->nparams, &d->params, 0);
    /* a problem inside the manifest names the suite entry that uses it too */
    if (st != MRB_OK) mrb_error_context(st, "%s: %s", c->file, where);
    if (st == MRB_OK && suite_params) {
        char p[512];
        snprintf(p, sizeof p, "%s.params", where);
        st = parse_params(c, suite_params, p, generator, d->desc->params, d->desc->nparams, &d->params, 1);
    }
    if (st == MRB_OK) {
        size_t count = d->desc->count(&d->params);
        const cJSON *splits = cJSON_GetObjectItemCaseSensitive(m, "splits");
        const char *want = split[0] ? split : "test";
        if (strcmp(want, "all") == 0 || !splits) {
            if (split[0] && strcmp(split, "all") != 0 && !splits)
                st = fail(c, where, "split '%s' requested but manifest %s has no splits", split, d->manifest);
            else {
                d->indices = calloc(count ? count : 1, sizeof *d->indices);
                for (size_t i = 0; d->indices && i < count; i++) d->indices[i] = i;
                d->nindices = count;
                snprintf(d->split, sizeof d->split, "all");
            }
        } else {
            const cJSON *list = cJSON_GetObjectItemCaseSensitive(splits, want);
            if (!cJSON_IsArray(list)) {
                st = fail(c, where, "manifest %s has no split '%s'", d->manifest, want);
            } else {
                int n = cJSON_GetArraySize(list);
                d->indices = calloc(n ? (size_t)n : 1, sizeof *d->indices);
                d->nindices = 0;
                for (const cJSON *e = list->child; e && st == MRB_OK; e = e->next) {
                    if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble != floor(e->valuedouble) ||
                        e->valuedouble >= (double)count)
                        st = fail(&mc, "splits", "split '%s' holds an index that is not an item (0..%zu)", want,
                                  count ? count - 1 : 0);
                    else
                        d->indices[d->nindices++] = (size_t)e->valuedouble;
                }
                snprintf(d->split, sizeof d->split, "%s", want);
            }
        }
    }
    cJSON_Delete(m);
    free(text);
    return st;
}

static mrb_status parse_datasets(const ctx *c, const cJSON *root, mrb_suite *s)
{
    const cJSON *arr;
    MRB_TRY(check_array(c, root, "datasets", 1, &arr));
    s->ndatasets = (size_t)cJSON_GetArraySize(arr);
    s->datasets = calloc(s->ndatasets, sizeof *s->datasets);
    if (!s->datasets) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    static const char *const keys[] = {"id", "generator", "manifest", "params", "split"};
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[64];
        snprintf(path, sizeof path, "datasets[%zu]", i);
        mrb_suite_dataset *d = &s->datasets[i];
        if (!cJSON_IsObject(e)) return fail(c, path, "expected an object, got %s", json_type_name(e));
        MRB_TRY(check_keys(c, e, path, keys, sizeof keys / sizeof *keys));
        char generator[MRB_ID_MAX] = "", manifest[MRB_PATH_MAX] = "";
        MRB_TRY(get_string(c, e, "generator", path, 0, generator, sizeof generator));
        MRB_TRY(get_string(c, e, "manifest", path, 0, manifest, sizeof manifest));
        MRB_TRY(get_string(c, e, "split", path, 0, d->split, sizeof d->split));
        if (!generator[0] && !manifest[0]) return fail(c, path, "needs either 'generator' or 'manifest'");
        if (generator[0] && manifest[0]) return fail(c, path, "give either 'generator' or 'manifest', not both");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(e, "params");
        if (manifest[0]) {
            MRB_TRY(load_manifest(c, path, manifest, params, d->split, d));
        } else {
            d->desc = mrb_dataset_find(generator);
            if (!d->desc) {
                const char *near = mrb_dataset_nearest(generator);
                char where[96];
                snprintf(where, sizeof where, "%s.generator", path);
                if (near) return fail(c, where, "unknown generator '%s' (did you mean '%s'?)", generator, near);
                return fail(c, where, "unknown generator '%s' (see `mrbench list`)", generator);
            }
            if (d->split[0] && strcmp(d->split, "all") != 0)
                return fail(c, path, "'split' needs a 'manifest' (inline generators use all items)");
            char where[96];
            snprintf(where, sizeof where, "%s.params", path);
            MRB_TRY(parse_params(c, params, where, generator, d->desc->params, d->desc->nparams, &d->params, 0));
            size_t count = d->desc->count(&d->params);
            d->indices = calloc(count ? count : 1, sizeof *d->indices);
            if (!d->indices) return mrb_error(MRB_ERR_NOMEM, "out of memory");
            for (size_t k = 0; k < count; k++) d->indices[k] = k;
            d->nindices = count;
            snprintf(d->split, sizeof d->split, "all");
        }
        if (d->nindices == 0) return fail(c, path, "selects no items");
        snprintf(d->id, sizeof d->id, "%s", d->desc->name);
        MRB_TRY(get_string(c, e, "id", path, 0, d->id, sizeof d->id));
        char where[96];
        snprintf(where, sizeof where, "%s.id", path);
        MRB_TRY(check_id(c, where, d->id));
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->datasets[k].id, d->id) == 0)
                return fail(c, where, "duplicate id '%s' (also datasets[%zu]); give each an 'id'", d->id, k);
    }
    return MRB_OK;
}

static mrb_status parse_samplings(const ctx *c, const cJSON *root, mrb_suite *s)
{
    const cJSON *arr;
    MRB_TRY(check_array(c, root, "sampling", 1, &arr));
    s->nsamplings = (size_t)cJSON_GetArraySize(arr);
    s->samplings = calloc(s->nsamplings, sizeof *s->samplings);
    if (!s->samplings) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    static const char *const keys[] = {"id", "sampler", "params"};
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[64], where[96];
        snprintf(path, sizeof path, "sampling[%zu]", i);
        mrb_suite_sampling *m = &s->samplings[i];
        if (!cJSON_IsObject(e)) return fail(c, path, "expected an object, got %s", json_type_name(e));
        MRB_TRY(check_keys(c, e, path, keys, sizeof keys / sizeof *keys));
        char name[MRB_ID_MAX] = "";
        MRB_TRY(get_string(c, e, "sampler", path, 1, name, sizeof name));
        m->desc = mrb_sampler_find(name);
        snprintf(where, sizeof where, "%s.sampler", path);
        if (!m->desc) {
            const char *near = mrb_sampler_nearest(name);
            if (near) return fail(c, where, "unknown sampler '%s' (did you mean '%s'?)", name, near);
            return fail(c, where, "unknown sampler '%s' (see `mrbench list`)", name);
        }
        snprintf(where, sizeof where, "%s.params", path);
        MRB_TRY(parse_params(c, cJSON_GetObjectItemCaseSensitive(e, "params"), where, name, m->desc->params,
                             m->desc->nparams, &m->params, 0));
        snprintf(m->id, sizeof m->id, "%s-r%g", name, m->desc->nominal_acceleration(&m->params));
        MRB_TRY(get_string(c, e, "id", path, 0, m->id, sizeof m->id));
        snprintf(where, sizeof where, "%s.id", path);
        MRB_TRY(check_id(c, where, m->id));
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->samplings[k].id, m->id) == 0)
                return fail(c, where, "duplicate id '%s' (also sampling[%zu]); give each an 'id'", m->id, k);
    }
    return MRB_OK;
}

static mrb_status parse_methods(const ctx *c, const cJSON *root, mrb_suite *s)
{
    const cJSON *arr;
    MRB_TRY(check_array(c, root, "methods", 1, &arr));
    s->nmethods = (size_t)cJSON_GetArraySize(arr);
    s->methods = calloc(s->nmethods, sizeof *s->methods);
    if (!s->methods) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    static const char *const keys[] = {"id", "method", "params"};
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[64], where[96];
        snprintf(path, sizeof path, "methods[%zu]", i);
        mrb_suite_method *m = &s->methods[i];
        if (!cJSON_IsObject(e)) return fail(c, path, "expected an object, got %s", json_type_name(e));
        MRB_TRY(check_keys(c, e, path, keys, sizeof keys / sizeof *keys));
        char name[MRB_ID_MAX] = "";
        MRB_TRY(get_string(c, e, "method", path, 1, name, sizeof name));
        m->desc = mrb_method_find(name);
        snprintf(where, sizeof where, "%s.method", path);
        if (!m->desc) {
            const char *near = mrb_method_nearest(name);
            if (near) return fail(c, where, "unknown method '%s' (did you mean '%s'?)", name, near);
            return fail(c, where, "unknown method '%s' (see `mrbench list`)", name);
        }
        snprintf(where, sizeof where, "%s.params", path);
        MRB_TRY(parse_params(c, cJSON_GetObjectItemCaseSensitive(e, "params"), where, name, m->desc->params,
                             m->desc->nparams, &m->params, 0));
        MRB_TRY(check_params(c, where, m->desc->check, &m->params));
        snprintf(m->id, sizeof m->id, "%s", name);
        MRB_TRY(get_string(c, e, "id", path, 0, m->id, sizeof m->id));
        snprintf(where, sizeof where, "%s.id", path);
        MRB_TRY(check_id(c, where, m->id));
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->methods[k].id, m->id) == 0)
                return fail(c, where, "duplicate id '%s' (also methods[%zu]); give each an 'id'", m->id, k);
    }
    return MRB_OK;
}

static mrb_status parse_metrics(const ctx *c, const cJSON *root, mrb_suite *s)
{
    const cJSON *arr;
    MRB_TRY(check_array(c, root, "metrics", 1, &arr));
    s->nmetrics = (size_t)cJSON_GetArraySize(arr);
    s->metrics = calloc(s->nmetrics, sizeof *s->metrics);
    if (!s->metrics) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    static const char *const keys[] = {"id", "metric", "params"};
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[64], where[96];
        snprintf(path, sizeof path, "metrics[%zu]", i);
        mrb_suite_metric *m = &s->metrics[i];
        char name[MRB_ID_MAX] = "";
        const cJSON *params = NULL;
        if (cJSON_IsString(e)) {
            snprintf(name, sizeof name, "%s", e->valuestring);
        } else if (cJSON_IsObject(e)) {
            MRB_TRY(check_keys(c, e, path, keys, sizeof keys / sizeof *keys));
            MRB_TRY(get_string(c, e, "metric", path, 1, name, sizeof name));
            params = cJSON_GetObjectItemCaseSensitive(e, "params");
        } else {
            return fail(c, path, "expected a metric name or an object, got %s", json_type_name(e));
        }
        m->desc = mrb_metric_find(name);
        if (!m->desc) {
            const char *near = mrb_metric_nearest(name);
            if (near) return fail(c, path, "unknown metric '%s' (did you mean '%s'?)", name, near);
            return fail(c, path, "unknown metric '%s' (see `mrbench list`)", name);
        }
        if (!m->desc->image)
            return fail(c, path, "metric '%s' scores label maps; reconstruction suites need image metrics", name);
        snprintf(where, sizeof where, "%s.params", path);
        MRB_TRY(parse_params(c, params, where, name, m->desc->params, m->desc->nparams, &m->params, 0));
        MRB_TRY(check_params(c, where, m->desc->check, &m->params));
        snprintf(m->id, sizeof m->id, "%s", name);
        if (cJSON_IsObject(e)) MRB_TRY(get_string(c, e, "id", path, 0, m->id, sizeof m->id));
        snprintf(where, sizeof where, "%s.id", path);
        MRB_TRY(check_id(c, where, m->id));
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->metrics[k].id, m->id) == 0)
                return fail(c, where, "duplicate metric id '%s' (also metrics[%zu]); give each an 'id'", m->id, k);
    }
    return MRB_OK;
}

static int metric_known(const mrb_suite *s, const char *id)
{
    for (size_t i = 0; i < s->nmetrics; i++)
        if (strcmp(s->metrics[i].id, id) == 0) return 1;
    return 0;
}

static mrb_status parse_timing_report(const ctx *c, const cJSON *root, mrb_suite *s)
{
    s->warmup = WARMUP_DEFAULT;
    s->repeats = REPEATS_DEFAULT;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "timing");
    if (t) {
        if (!cJSON_IsObject(t)) return fail(c, "timing", "expected an object, got %s", json_type_name(t));
        static const char *const keys[] = {"warmup", "repeats"};
        MRB_TRY(check_keys(c, t, "timing", keys, 2));
        long v = s->warmup;
        MRB_TRY(get_int(c, t, "warmup", "timing", 0, WARMUP_MAX, &v));
        s->warmup = (int)v;
        v = s->repeats;
        MRB_TRY(get_int(c, t, "repeats", "timing", 1, REPEATS_MAX, &v));
        s->repeats = (int)v;
    }
    /* Report defaults: every metric in the tables (up to 8), the first one plotted. */
    for (size_t i = 0; i < s->nmetrics && i < 8; i++)
        snprintf(s->report_metrics[s->nreport_metrics++], MRB_ID_MAX, "%s", s->metrics[i].id);
    snprintf(s->plot_metric, sizeof s->plot_metric, "%s", s->metrics[0].id);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "report");
    if (!r) return MRB_OK;
    if (!cJSON_IsObject(r)) return fail(c, "report", "expected an object, got %s", json_type_name(r));
    static const char *const keys[] = {"metrics", "plot"};
    MRB_TRY(check_keys(c, r, "report", keys, 2));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "metrics");
    if (m) {
        if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) < 1 || cJSON_GetArraySize(m) > 8)
            return fail(c, "report.metrics", "expected an array of 1 to 8 metric ids");
        s->nreport_metrics = 0;
        size_t i = 0;
        for (const cJSON *e = m->child; e; e = e->next, i++) {
            char where[64];
            snprintf(where, sizeof where, "report.metrics[%zu]", i);
            if (!cJSON_IsString(e)) return fail(c, where, "expected a string, got %s", json_type_name(e));
            if (!metric_known(s, e->valuestring))
                return fail(c, where, "'%s' is not one of the suite's metrics", e->valuestring);
            snprintf(s->report_metrics[s->nreport_metrics++], MRB_ID_MAX, "%s", e->valuestring);
        }
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "plot");
    if (p) {
        if (cJSON_IsNull(p) || (cJSON_IsBool(p) && !cJSON_IsTrue(p))) {
            s->plot_metric[0] = '\0';
        } else if (cJSON_IsString(p)) {
            if (!metric_known(s, p->valuestring))
                return fail(c, "report.plot", "'%s' is not one of the suite's metrics", p->valuestring);
            snprintf(s->plot_metric, sizeof s->plot_metric, "%s", p->valuestring);
        } else {
            return fail(c, "report.plot", "expected a metric id, false or null, got %s", json_type_name(p));
        }
    }
    return MRB_OK;
}

/* Indices of split `name` of the manifest at `path` (already validated once
 * by load_manifest). */
static mrb_status manifest_split(const ctx *c, const char *where, const char *path, const char *name, size_t count,
                                 size_t **idx, size_t *n)
{
    char *text = NULL;
    size_t len = 0;
    if (mrb_read_file(path, &text, &len) != MRB_OK) return fail(c, where, "manifest %s", mrb_error_message());
    cJSON *m = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "splits"), name);
    mrb_status st = MRB_OK;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) {
        st = fail(c, where, "manifest %s has no non-empty split '%s'", path, name);
    } else {
        *idx = calloc((size_t)cJSON_GetArraySize(list), sizeof **idx);
        *n = 0;
        for (const cJSON *e = list->child; e && st == MRB_OK && *idx; e = e->next) {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= (double)count ||
                e->valuedouble != floor(e->valuedouble))
                st = fail(c, where, "manifest %s: split '%s' holds an index that is not an item", path, name);
            else
                (*idx)[(*n)++] = (size_t)e->valuedouble;
        }
        if (!*idx) st = mrb_error(MRB_ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(m);
    return st;
}

static mrb_status find_id(const ctx *c, const cJSON *t, const char *key, const char *kind, size_t n,
                          const char *(*id_at)(const mrb_suite *, size_t), const mrb_suite *s, size_t *out)
{
    char id[MRB_ID_MAX] = "", where[64];
    snprintf(where, sizeof where, "training.%s", key);
    MRB_TRY(get_string(c, t, key, "training", 1, id, sizeof id));
    for (size_t i = 0; i < n; i++)
        if (strcmp(id_at(s, i), id) == 0) {
            *out = i;
            return MRB_OK;
        }
    return fail(c, where, "'%s' is not the id of one of the suite's %s", id, kind);
}

static const char *dataset_id(const mrb_suite *s, size_t i)
{
    return s->datasets[i].id;
}
static const char *sampling_id(const mrb_suite *s, size_t i)
{
    return s->samplings[i].id;
}
static const char *method_id(const mrb_suite *s, size_t i)
{
    return s->methods[i].id;
}

/* training.sampling: one sampling id, or a list of distinct ids (mixed
 * accelerations: each mask is drawn from one of them). */
static mrb_status training_samplings(const ctx *c, const cJSON *t, const mrb_suite *s, mrb_suite_training *tr)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(t, "sampling");
    if (!cJSON_IsArray(j)) {
        MRB_TRY(find_id(c, t, "sampling", "sampling patterns", s->nsamplings, sampling_id, s, &tr->sampling));
        tr->samplings[0] = tr->sampling;
        tr->nsamplings = 1;
        return MRB_OK;
    }
    int n = cJSON_GetArraySize(j);
    if (n < 1 || n > MRB_TRAIN_SAMPLINGS_MAX)
        return fail(c, "training.sampling", "expected 1 to %d sampling ids, got %d", MRB_TRAIN_SAMPLINGS_MAX, n);
    tr->nsamplings = 0;
    for (const cJSON *e = j->child; e; e = e->next) {
        char where[64];
        snprintf(where, sizeof where, "training.sampling[%zu]", tr->nsamplings);
        if (!cJSON_IsString(e)) return fail(c, where, "expected a string, got %s", json_type_name(e));
        size_t k = 0;
        while (k < s->nsamplings && strcmp(s->samplings[k].id, e->valuestring) != 0) k++;
        if (k == s->nsamplings)
            return fail(c, where, "'%s' is not the id of one of the suite's sampling patterns", e->valuestring);
        for (size_t q = 0; q < tr->nsamplings; q++)
            if (tr->samplings[q] == k) return fail(c, where, "'%s' is listed twice", e->valuestring);
        tr->samplings[tr->nsamplings++] = k;
    }
    tr->sampling = tr->samplings[0];
    return MRB_OK;
}

static mrb_status parse_training(const ctx *c, const cJSON *root, mrb_suite *s)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "training");
    if (!t) return MRB_OK;
    if (!cJSON_IsObject(t)) return fail(c, "training", "expected an object, got %s", json_type_name(t));
    static const char *const keys[] = {"dataset",       "sampling",     "method",  "train_split",
                                       "val_split",     "architecture", "epochs",  "batch_size",
                                       "learning_rate", "weight_decay", "weights", "checkpoint"};
    MRB_TRY(check_keys(c, t, "training", keys, sizeof keys / sizeof *keys));
    mrb_suite_training *tr = &s->training;
    MRB_TRY(find_id(c, t, "dataset", "datasets", s->ndatasets, dataset_id, s, &tr->dataset));
    MRB_TRY(training_samplings(c, t, s, tr));
    MRB_TRY(find_id(c, t, "method", "methods", s->nmethods, method_id, s, &tr->method));
    snprintf(tr->train_split, sizeof tr->train_split, "train");
    snprintf(tr->val_split, sizeof tr->val_split, "val");
    MRB_TRY(get_string(c, t, "train_split", "training", 0, tr->train_split, sizeof tr->train_split));
    MRB_TRY(get_string(c, t, "val_split", "training", 0, tr->val_split, sizeof tr->val_split));
    const mrb_suite_dataset *d = &s->datasets[tr->dataset];
    if (!d->manifest[0])
        return fail(c, "training.dataset", "'%s' needs a manifest with %s and %s splits", d->id, tr->train_split,
                    tr->val_split);
    size_t count = d->desc->count(&d->params);
    MRB_TRY(manifest_split(c, "training.train_split", d->manifest, tr->train_split, count, &tr->train_indices,
                           &tr->ntrain));
    MRB_TRY(manifest_split(c, "training.val_split", d->manifest, tr->val_split, count, &tr->val_indices, &tr->nval));
    for (size_t i = 0; i < tr->ntrain; i++)
        for (size_t k = 0; k < d->nindices; k++)
            if (tr->train_indices[i] == d->indices[k])
                return fail(c, "training.train_split",
                            "item %zu is in both the training split and the evaluated split '%s'", tr->train_indices[i],
                            d->split);
    /* validation PSNR on training items would measure fit, not generalisation */
    for (size_t i = 0; i < tr->ntrain; i++)
        for (size_t k = 0; k < tr->nval; k++)
            if (tr->train_indices[i] == tr->val_indices[k])
                return fail(c, "training.val_split",
                            "item %zu is in both the training split '%s' and the validation split '%s'",
                            tr->train_indices[i], tr->train_split, tr->val_split);
    long v;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(t, "architecture");
    tr->temporal = 0;
    tr->n_c = 5;
    tr->n_d = 5;
    tr->n_f = 64;
    if (a) {
        if (!cJSON_IsObject(a))
            return fail(c, "training.architecture", "expected an object, got %s", json_type_name(a));
        static const char *const akeys[] = {"temporal", "n_c", "n_d", "n_f"};
        MRB_TRY(check_keys(c, a, "training.architecture", akeys, 4));
        const cJSON *tj = cJSON_GetObjectItemCaseSensitive(a, "temporal");
        if (tj && !cJSON_IsBool(tj)) return fail(c, "training.architecture.temporal", "expected true or false");
        tr->temporal = cJSON_IsTrue(tj);
        if (tr->temporal) tr->n_c = 10; /* released 2D+t model: D5-C10(S) */
        v = tr->n_c;
        MRB_TRY(get_int(c, a, "n_c", "training.architecture", 1, 64, &v));
        tr->n_c = (int)v;
        v = tr->n_d;
        MRB_TRY(get_int(c, a, "n_d", "training.architecture", 2, 64, &v));
        tr->n_d = (int)v;
        v = tr->n_f;
        MRB_TRY(get_int(c, a, "n_f", "training.architecture", 1, 1024, &v));
        tr->n_f = (int)v;
    }
    v = 10;
    MRB_TRY(get_int(c, t, "epochs", "training", 1, 100000, &v));
    tr->epochs = (int)v;
    v = tr->temporal ? 1 : 10; /* released code: batch 10 (2D), 1 (2D+t) */
    MRB_TRY(get_int(c, t, "batch_size", "training", 1, 4096, &v));
    tr->batch_size = (int)v;
    tr->learning_rate = 1e-3;
    tr->weight_decay = 1e-6;
    static const char *const nkeys[] = {"learning_rate", "weight_decay"};
    double *dst[] = {&tr->learning_rate, &tr->weight_decay};
    for (int i = 0; i < 2; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(t, nkeys[i]);
        if (!j) continue;
        char where[64];
        snprintf(where, sizeof where, "training.%s", nkeys[i]);
        if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || j->valuedouble > 10 || (i == 0 && j->valuedouble == 0))
            return fail(c, where, "expected a number in %s, 10]", i == 0 ? "(0" : "[0");
        *dst[i] = j->valuedouble;
    }
    char rel[MRB_PATH_MAX] = "";
    MRB_TRY(get_string(c, t, "weights", "training", 1, rel, sizeof rel));
    resolve_path(c, rel, tr->weights, sizeof tr->weights);
    rel[0] = '\0';
    MRB_TRY(get_string(c, t, "checkpoint", "training", 0, rel, sizeof rel));
    if (rel[0])
        resolve_path(c, rel, tr->checkpoint, sizeof tr->checkpoint);
    else if (strlen(tr->weights) + 6 < sizeof tr->checkpoint)
        snprintf(tr->checkpoint, sizeof tr->checkpoint, "%.1000s.ckpt", tr->weights);
    tr->present = 1;
    return MRB_OK;
}

static void line_col(const char *text, const char *pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < pos && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

mrb_status mrb_suite_parse(const char *text, size_t len, const char *display_name, const char *base_dir,
                           mrb_suite **out)
{
    *out = NULL;
    ctx c = {display_name, base_dir};
    if (len == 0) return fail(&c, NULL, "empty file (expected a JSON object)");
    if (memchr(text, '\0', len)) return fail(&c, NULL, "contains a NUL byte (not a JSON text file)");
    const char *end = NULL;
    /* len + 1: cJSON checks the terminating NUL itself when asked to reject trailing text */
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!root) {
        int line, col;
        line_col(text, end ? end : text, &line, &col);
        if (end && (size_t)(end - text) >= len)
            return mrb_error(MRB_ERR_INVALID, "%s:%d:%d: JSON syntax error: unexpected end of file", display_name, line,
                             col);
        char near[24];
        size_t n = 0;
        for (const char *p = end ? end : ""; *p && *p != '\n' && *p != '\r' && n < 16; p++)
            near[n++] = (*p >= 32 && *p < 127) ? *p : '?';
        near[n] = '\0';
        return mrb_error(MRB_ERR_INVALID, "%s:%d:%d: JSON syntax error near '%s'", display_name, line, col, near);
    }
    mrb_suite *s = calloc(1, sizeof *s);
    if (!s) {
        cJSON_Delete(root);
        return mrb_error(MRB_ERR_NOMEM, "out of memory");
    }
    mrb_status st = MRB_OK;
    static const char *const keys[] = {"mrbench_suite", "name",    "description", "seed",   "datasets", "sampling",
                                       "methods",       "metrics", "timing",      "report", "training"};
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "mrbench_suite");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (!cJSON_IsObject(root))
        st = fail(&c, NULL, "expected a JSON object at the top level");
    else if (!ver)
        st = fail(&c, NULL, "missing required key 'mrbench_suite' (the schema version, 1)");
    else if (!cJSON_IsNumber(ver) || ver->valuedouble != floor(ver->valuedouble))
        st = fail(&c, "mrbench_suite", "expected the schema version as an integer");
    else if (ver->valuedouble > MRB_SUITE_SCHEMA_VERSION)
        st = fail(&c, "mrbench_suite", "schema version %g is newer than this mrbench supports (%d)", ver->valuedouble,
                  MRB_SUITE_SCHEMA_VERSION);
    else if (ver->valuedouble < 1)
        st = fail(&c, "mrbench_suite", "expected schema version 1, got %g", ver->valuedouble);
    if (st == MRB_OK) st = check_keys(&c, root, "", keys, sizeof keys / sizeof *keys);
    if (st == MRB_OK) st = get_string(&c, root, "name", "", 1, s->name, sizeof s->name);
    if (st == MRB_OK) st = check_id(&c, "name", s->name);
    if (st == MRB_OK) st = get_string(&c, root, "description", "", 0, s->description, sizeof s->description);
    if (st == MRB_OK) {
        if (!seed)
            st = fail(&c, NULL, "missing required key 'seed'");
        else if (!cJSON_IsNumber(seed))
            st = fail(&c, "seed", "expected an integer in [0, 2^53 - 1], got %s", json_type_name(seed));
        else if (!(seed->valuedouble >= 0 && seed->valuedouble <= (double)MRB_SUITE_SEED_MAX) ||
                 seed->valuedouble != floor(seed->valuedouble))
            st = fail(&c, "seed", "expected an integer in [0, 2^53 - 1 = %llu] (exact as a JSON number), got %.17g",
                      (unsigned long long)MRB_SUITE_SEED_MAX, seed->valuedouble);
        else
            s->seed = (uint64_t)seed->valuedouble;
    }
    if (st == MRB_OK) st = parse_datasets(&c, root, s);
    if (st == MRB_OK) st = parse_samplings(&c, root, s);
    if (st == MRB_OK) st = parse_methods(&c, root, s);
    if (st == MRB_OK) st = parse_metrics(&c, root, s);
    if (st == MRB_OK) st = parse_timing_report(&c, root, s);
    if (st == MRB_OK) st = parse_training(&c, root, s);
    cJSON_Delete(root);
    if (st == MRB_OK) {
        snprintf(s->path, sizeof s->path, "%s", display_name);
        mrb_sha256_hex(text, len, s->sha256);
        s->text = malloc(len + 1);
        if (!s->text)
            st = mrb_error(MRB_ERR_NOMEM, "out of memory");
        else {
            memcpy(s->text, text, len);
            s->text[len] = '\0';
        }
    }
    if (st != MRB_OK) {
        mrb_suite_free(s);
        return st;
    }
    *out = s;
    return MRB_OK;
}

mrb_status mrb_suite_load(const char *path, mrb_suite **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    MRB_TRY(mrb_read_file(path, &text, &len));
    char *copy = strdup(path);
    if (!copy) {
        free(text);
        return mrb_error(MRB_ERR_NOMEM, "out of memory");
    }
    mrb_status st = mrb_suite_parse(text, len, path, dirname(copy), out);
    free(copy);
    free(text);
    return st;
}

void mrb_suite_free(mrb_suite *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->ndatasets; i++) free(s->datasets[i].indices);
    free(s->training.train_indices);
    free(s->training.val_indices);
    free(s->datasets);
    free(s->samplings);
    free(s->methods);
    free(s->metrics);
    free(s->text);
    free(s);
}

size_t mrb_suite_case_count(const mrb_suite *s)
{
    return s->ndatasets * s->nsamplings * s->nmethods;
}

void mrb_suite_case(const mrb_suite *s, size_t c, size_t *dataset, size_t *sampling, size_t *method)
{
    *method = c % s->nmethods;
    *sampling = (c / s->nmethods) % s->nsamplings;
    *dataset = c / (s->nmethods * s->nsamplings);
}

void mrb_suite_case_key(const mrb_suite *s, size_t c, char *buf, size_t len)
{
    size_t d, m, k;
    mrb_suite_case(s, c, &d, &m, &k);
    snprintf(buf, len, "%s/%s/%s", s->datasets[d].id, s->samplings[m].id, s->methods[k].id);
}

struct mrb_embedded_suite {
    const char *name;
    const char *text;
    size_t len;
};
extern const struct mrb_embedded_suite mrb_embedded_suites[];

mrb_status mrb_suite_load_embedded(const char *name, mrb_suite **out)
{
    for (const struct mrb_embedded_suite *e = mrb_embedded_suites; e->name; e++) {
        if (strcmp(e->name, name) != 0) continue;
        char display[MRB_ID_MAX + 16];
        snprintf(display, sizeof display, "<embedded:%s>", name);
        return mrb_suite_parse(e->text, e->len, display, ".", out);
    }
    return mrb_error(MRB_ERR_INVALID, "no embedded suite named '%s'", name);
}
