/* Published reference numbers (the JSON files of baselines/published):
 * loading and checking. Matching to report columns is rp_published_match. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/util.h"
#include "report/report_internal.h"

#define PUBLISHED_FORMAT_VERSION 1

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static mrb_status check_entry(const char *path, size_t i, const cJSON *e)
{
    static const char *strings[] = {"id", "method", "table", "setting", "metric"};
    if (!cJSON_IsObject(e)) return mrb_error(MRB_ERR_INVALID, "%s: entries[%zu]: expected an object", path, i);
    for (size_t k = 0; k < sizeof strings / sizeof *strings; k++)
        if (!cJSON_IsString(rp_get(e, strings[k])))
            return mrb_error(MRB_ERR_INVALID, "%s: entries[%zu].%s: expected a string", path, i, strings[k]);
    if (!cJSON_IsNumber(rp_get(e, "value")))
        return mrb_error(MRB_ERR_INVALID, "%s: entries[%zu].value: expected a number", path, i);
    static const char *optional_numbers[] = {"std", "n", "acceleration"};
    for (size_t k = 0; k < sizeof optional_numbers / sizeof *optional_numbers; k++) {
        const cJSON *v = rp_get(e, optional_numbers[k]);
        if (v && !cJSON_IsNumber(v) && !cJSON_IsNull(v))
            return mrb_error(MRB_ERR_INVALID, "%s: entries[%zu].%s: expected a number or null", path, i,
                             optional_numbers[k]);
    }
    if (!cJSON_IsArray(rp_get2(e, "match", "datasets")))
        return mrb_error(MRB_ERR_INVALID, "%s: entries[%zu].match.datasets: expected an array of names", path, i);
    return MRB_OK;
}

static mrb_status load_one(const char *path, cJSON *all)
{
    char *text = NULL;
    size_t len = 0;
    MRB_TRY(mrb_read_file(path, &text, &len));
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    if (!doc) return mrb_error(MRB_ERR_INVALID, "%s: not valid JSON", path);
    mrb_status st = MRB_OK;
    const cJSON *ver = rp_get(doc, "mrbench_published"), *source = rp_get(doc, "source"),
                *entries = rp_get(doc, "entries");
    if (!cJSON_IsNumber(ver) || ver->valuedouble != PUBLISHED_FORMAT_VERSION)
        st = mrb_error(MRB_ERR_INVALID, "%s: mrbench_published: expected %d", path, PUBLISHED_FORMAT_VERSION);
    else if (!cJSON_IsString(rp_get(source, "citation")) || !cJSON_IsString(rp_get(source, "short")))
        st = mrb_error(MRB_ERR_INVALID, "%s: source: expected 'citation' and 'short' strings", path);
    else if (!cJSON_IsArray(entries))
        st = mrb_error(MRB_ERR_INVALID, "%s: entries: expected an array", path);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        if (st != MRB_OK) break;
        st = check_entry(path, i++, e);
        if (st != MRB_OK) break;
        cJSON *copy = cJSON_Duplicate(e, 1);
        if (!copy) {
            st = mrb_error(MRB_ERR_NOMEM, "out of memory");
            break;
        }
        const cJSON *s;
        cJSON_ArrayForEach(s, source)
            if (!rp_get(copy, s->string)) cJSON_AddItemToObject(copy, s->string, cJSON_Duplicate(s, 1));
        cJSON_AddStringToObject(copy, "file", path);
        cJSON_AddItemToArray(all, copy);
    }
    cJSON_Delete(doc);
    return st;
}

mrb_status mrb_published_load(const char *dir, cJSON **entries)
{
    *entries = NULL;
    DIR *d = opendir(dir);
    if (!d) return mrb_error(MRB_ERR_IO, "%s: cannot open the folder of published numbers", dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    mrb_status st = MRB_OK;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0) continue;
        char **nn = realloc(names, (n + 1) * sizeof *names);
        if (!nn || !(nn[n] = strdup(de->d_name))) {
            names = nn ? nn : names;
            st = mrb_error(MRB_ERR_NOMEM, "out of memory");
            break;
        }
        names = nn;
        n++;
    }
    closedir(d);
    if (names) qsort(names, n, sizeof *names, cmp_str);
    cJSON *all = cJSON_CreateArray();
    if (!all && st == MRB_OK) st = mrb_error(MRB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == MRB_OK; i++) {
        char path[MRB_REPORT_PATH];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        st = load_one(path, all);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (st != MRB_OK) {
        cJSON_Delete(all);
        return st;
    }
    *entries = all;
    return MRB_OK;
}
