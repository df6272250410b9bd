/* The runner: expands a suite into cases, generates data and masks once per
 * (dataset, sampling), times each method (setup apart from runs, warm-up
 * excluded), scores it, journals each finished case and writes results.json
 * atomically. */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <complex.h>
#include <fnmatch.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mrbench/backend.h"
#include "mrbench/data.h"
#include "mrbench/registry.h"
#include "mrbench/report.h"
#include "mrbench/rng.h"
#include "mrbench/runner.h"
#include "mrbench/stats.h"
#include "mrbench/util.h"
#include "run/runner_internal.h"

void openblas_set_num_threads(int num_threads);

#define JOURNAL_NAME "cases.jsonl"
#define RESULTS_NAME "results.json"

/* ---------- small JSON helpers ---------- */

cJSON *mrb_params_to_json(const mrb_params *p);
cJSON *mrb_params_to_json(const mrb_params *p)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < p->count; i++) {
        const mrb_param_value *v = &p->v[i];
        switch (v->type) {
        case MRB_PARAM_NUMBER:
        case MRB_PARAM_INT: cJSON_AddNumberToObject(o, v->name, v->num); break;
        case MRB_PARAM_BOOL: cJSON_AddBoolToObject(o, v->name, v->num != 0); break;
        case MRB_PARAM_STRING: cJSON_AddStringToObject(o, v->name, v->str); break;
        }
    }
    return o;
}

cJSON *mrb_summary_json(const double *x, size_t n)
{
    mrb_summary s;
    mrb_summarize(x, n, &s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)s.n);
    cJSON_AddNumberToObject(o, "n_nan", (double)s.n_nan);
    cJSON_AddNumberToObject(o, "mean", s.mean);
    cJSON_AddNumberToObject(o, "std", s.std);
    cJSON_AddNumberToObject(o, "median", s.median);
    cJSON_AddNumberToObject(o, "min", s.min);
    cJSON_AddNumberToObject(o, "max", s.max);
    cJSON_AddNumberToObject(o, "q1", s.q1);
    cJSON_AddNumberToObject(o, "q3", s.q3);
    cJSON_AddNumberToObject(o, "cv", s.n > 0 && s.mean != 0 ? s.std / s.mean : 0);
    return o;
}

/* An integer written exactly: cJSON prints a number with 15 significant
 * digits whenever that reads back within DBL_EPSILON, which rounds integers
 * of 16 digits (9007199254740991 becomes 9.00719925474099e+15). */
static cJSON *exact_uint(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(buf);
}

/* A dataset's recorded seed: the top 53 bits of derive(suite seed, generator
 * name), which the generator gets, so that JSON readers using doubles read it
 * exactly too. */
static uint64_t dataset_seed_record(const mrb_suite *s, size_t d)
{
    return mrb_seed_derive(s->seed, s->datasets[d].desc->name, 0) >> 11;
}

static cJSON *number_array(const double *x, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[i]));
    return a;
}

/* ---------- journal ---------- */

typedef struct journal {
    FILE *f;
    cJSON **cases;    /* by case index; NULL = not finished */
    cJSON **datasets; /* by dataset index; NULL = not recorded */
    size_t ncases, ndatasets;
} journal;

static mrb_status journal_append(journal *j, cJSON *line, const char *path)
{
    char *text = cJSON_PrintUnformatted(line);
    if (!text) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    int ok = fprintf(j->f, "%s\n", text) >= 0 && fflush(j->f) == 0 && fsync(fileno(j->f)) == 0;
    free(text);
    if (!ok) return mrb_error(MRB_ERR_IO, "%s: cannot append to the journal", path);
    return MRB_OK;
}

static size_t find_case_index(const mrb_suite *s, const char *key)
{
    char buf[3 * MRB_ID_MAX + 4];
    for (size_t c = 0; c < mrb_suite_case_count(s); c++) {
        mrb_suite_case_key(s, c, buf, sizeof buf);
        if (strcmp(buf, key) == 0) return c;
    }
    return (size_t)-1;
}

/* The SHA-256 of every file a method parameter names (e.g. a network's
 * weights), so that a result says which network, not only which path. */
static void add_param_files(cJSON *cj, const mrb_params *p)
{
    cJSON *files = NULL;
    for (size_t i = 0; i < p->count; i++) {
        struct stat sb;
        const char *v = p->v[i].str;
        if (p->v[i].type != MRB_PARAM_STRING || !v[0] || stat(v, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        char hex[65];
        if (mrb_sha256_file(v, hex) != MRB_OK) continue;
        if (!files) files = cJSON_AddObjectToObject(cj, "method_files_sha256");
        cJSON_AddStringToObject(files, p->v[i].name, hex);
    }
}

static int case_ok(const cJSON *c)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
    return cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0;
}

mrb_status mrb_journal_parse(const mrb_suite *s, const char *path, char *text, size_t len, cJSON **cases,
                             cJSON **datasets, char **kept_out, size_t *kept_len)
{
    *kept_out = NULL;
    *kept_len = 0;
    size_t ncases = mrb_suite_case_count(s);
    char *kept = malloc(len + 1);
    if (!kept) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
    size_t used = 0;
    char *line = text;
    int lineno = 0;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (!nl) break; /* torn last line: dropped */
        *nl = '\0';
        lineno++;
        cJSON *o = cJSON_Parse(line);
        const cJSON *ev = o ? cJSON_GetObjectItemCaseSensitive(o, "event") : NULL;
        if (!o || !cJSON_IsString(ev)) {
            cJSON_Delete(o);
            free(kept);
            return mrb_error(MRB_ERR_INVALID, "%s:%d: not a journal line", path, lineno);
        }
        if (strcmp(ev->valuestring, "start") == 0) {
            const cJSON *sha = cJSON_GetObjectItemCaseSensitive(o, "suite_sha256");
            if (!cJSON_IsString(sha) || strcmp(sha->valuestring, s->sha256) != 0) {
                cJSON_Delete(o);
                free(kept);
                return mrb_error(MRB_ERR_INVALID,
                                 "%s: the journal belongs to a different suite file (SHA-256 "
                                 "differs); resume with the same suite or choose another --out",
                                 path);
            }
        } else if (strcmp(ev->valuestring, "case") == 0) {
            const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key");
            size_t c = cJSON_IsString(key) ? find_case_index(s, key->valuestring) : (size_t)-1;
            /* An ok entry stands; a failed one gives way to a later line (its retry). */
            cJSON *entry = c < ncases && !case_ok(cases[c]) ? cJSON_DetachItemFromObjectCaseSensitive(o, "case") : NULL;
            if (entry) {
                cJSON_Delete(cases[c]);
                cases[c] = entry;
            }
        } else if (strcmp(ev->valuestring, "dataset") == 0) {
            const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "index");
            if (cJSON_IsNumber(idx) && idx->valuedouble >= 0 && idx->valuedouble < (double)s->ndatasets &&
                !datasets[(size_t)idx->valuedouble])
                datasets[(size_t)idx->valuedouble] = cJSON_DetachItemFromObjectCaseSensitive(o, "dataset");
        }
        cJSON_Delete(o);
        size_t l = strlen(line);
        memcpy(kept + used, line, l);
        used += l;
        kept[used++] = '\n';
        line = nl + 1;
    }
    *kept_out = kept;
    *kept_len = used;
    return MRB_OK;
}

/* Reads an existing journal for --resume (mrb_journal_parse) and rewrites
 * the file so appends continue from a clean state. */
static mrb_status journal_open(journal *j, const mrb_suite *s, const char *path, int resume, const char *start_line)
{
    size_t kept_len = 0;
    char *kept = NULL;
    if (resume && access(path, F_OK) == 0) {
        char *text = NULL;
        size_t len = 0;
        MRB_TRY(mrb_read_file(path, &text, &len));
        mrb_status st = mrb_journal_parse(s, path, text, len, j->cases, j->datasets, &kept, &kept_len);
        free(text);
        MRB_TRY(st);
    }
    if (!kept) {
        kept = malloc(strlen(start_line) + 2);
        if (!kept) return mrb_error(MRB_ERR_NOMEM, "out of memory");
        kept_len = (size_t)sprintf(kept, "%s\n", start_line);
    }
    mrb_status st = mrb_write_file_atomic(path, kept, kept_len);
    free(kept);
    if (st != MRB_OK) return st;
    j->f = fopen(path, "a");
    if (!j->f) return mrb_error(MRB_ERR_IO, "%s: cannot open the journal for appending", path);
    return MRB_OK;
}

/* ---------- progress ---------- */

typedef struct progress {
    int bar, quiet;
    size_t total, done;
    double start;
} progress;

static void fmt_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, len, "--:--");
        return;
    }
    long t = s > 3.6e8 ? 360000000L : (long)(s + 0.5); /* clamp: 100000 h */
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%02ld:%02ld", t / 60, t % 60);
}

static void progress_update(progress *p, const char *key, const char *detail)
{
    if (p->quiet) return;
    double elapsed = mrb_now() - p->start;
    double eta = p->done ? elapsed / (double)p->done * (double)(p->total - p->done) : NAN;
    char el[32], et[32];
    fmt_duration(elapsed, el, sizeof el);
    fmt_duration(eta, et, sizeof et);
    if (p->bar) {
        const int width = 24;
        int filled = p->total ? (int)(width * p->done / p->total) : width;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r\033[K[%s] %zu/%zu cases  %s elapsed  ETA %s  %s", bar, p->done, p->total, el, et, key);
        if (p->done == p->total) fputc('\n', stderr);
    } else {
        fprintf(stderr, "[%zu/%zu] %s %s (elapsed %s, ETA %s)\n", p->done, p->total, key, detail, el, et);
    }
    fflush(stderr);
}

/* ---------- data ---------- */

typedef struct data_cache {
    size_t dataset; /* index of the cached dataset, (size_t)-1 = none */
    mrb_item *items;
    size_t nitems;
    size_t sampling; /* index of the cached masks and k-space */
    mrb_array **masks;
    mrb_array **kspace;
    double *achieved_r;
} data_cache;

static void cache_free_sampling(data_cache *dc)
{
    for (size_t i = 0; i < dc->nitems; i++) {
        if (dc->masks) mrb_array_free(dc->masks[i]);
        if (dc->kspace) mrb_array_free(dc->kspace[i]);
    }
    free(dc->masks);
    free(dc->kspace);
    free(dc->achieved_r);
    dc->masks = dc->kspace = NULL;
    dc->achieved_r = NULL;
    dc->sampling = (size_t)-1;
}

static void cache_free(data_cache *dc)
{
    cache_free_sampling(dc);
    for (size_t i = 0; i < dc->nitems; i++) mrb_item_clear(&dc->items[i]);
    free(dc->items);
    dc->items = NULL;
    dc->nitems = 0;
    dc->dataset = (size_t)-1;
}

static mrb_status load_dataset(const mrb_suite *s, size_t d, data_cache *dc, cJSON **record)
{
    cache_free(dc);
    const mrb_suite_dataset *ds = &s->datasets[d];
    dc->items = calloc(ds->nindices, sizeof *dc->items);
    if (!dc->items) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    dc->nitems = ds->nindices;
    dc->dataset = d;
    /* Data depend on the generator and the suite seed, not on the id the
     * suite gives them, so two suites with one seed see the same items. */
    uint64_t seed = mrb_seed_derive(s->seed, ds->desc->name, 0);
    mrb_sha256 sha;
    mrb_sha256_init(&sha);
    cJSON *items = cJSON_CreateArray();
    for (size_t i = 0; i < ds->nindices; i++) {
        mrb_item *it = &dc->items[i];
        mrb_status st = ds->desc->generate(&ds->params, seed, ds->indices[i], it);
        if (st == MRB_OK && (!it->image || it->image->dtype != MRB_C64))
            st = mrb_error(MRB_ERR_RUN, "generator returned no complex image");
        if (st != MRB_OK) {
            cJSON_Delete(items);
            return mrb_error_context(st, "datasets '%s' item %zu", ds->id, ds->indices[i]);
        }
        if (!it->id[0]) snprintf(it->id, sizeof it->id, "%s-%04zu", ds->desc->name, ds->indices[i]);
        mrb_sha256_update(&sha, it->image->data, mrb_array_bytes(it->image));
        if (it->sens) mrb_sha256_update(&sha, it->sens->data, mrb_array_bytes(it->sens));
        cJSON_AddItemToArray(items, cJSON_CreateString(it->id));
    }
    char hex[65];
    mrb_sha256_final(&sha, hex);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", ds->id);
    cJSON_AddStringToObject(r, "generator", ds->desc->name);
    cJSON_AddItemToObject(r, "params", mrb_params_to_json(&ds->params));
    if (ds->manifest[0]) {
        cJSON_AddStringToObject(r, "manifest", ds->manifest);
        cJSON_AddStringToObject(r, "manifest_sha256", ds->manifest_sha256);
    }
    cJSON_AddStringToObject(r, "split", ds->split);
    cJSON_AddItemToObject(r, "seed", exact_uint(dataset_seed_record(s, d)));
    cJSON_AddStringToObject(r, "data_sha256", hex);
    char shape[64];
    cJSON_AddStringToObject(r, "shape", mrb_array_shape_str(dc->items[0].image, shape, sizeof shape));
    cJSON_AddNumberToObject(r, "coils", dc->items[0].sens ? (double)dc->items[0].sens->dims[3] : 1);
    cJSON_AddItemToObject(r, "items", items);
    *record = r;
    return MRB_OK;
}

/* Fully sampled k-space of the item (noiseless: the data sets carry their own
 * noise settings), then the mask applied. */
static mrb_status undersample(const mrb_item *it, const mrb_array *mask, mrb_array **out)
{
    MRB_TRY(mrb_simulate_kspace(it, 0.0, 0, out));
    float complex *kd = (*out)->data;
    const float *m = mask->data;
    size_t vol = mrb_array_count(mask), nc = (*out)->dims[3];
    if (mrb_array_count(*out) != vol * nc) {
        mrb_array_free(*out);
        *out = NULL;
        return mrb_error(MRB_ERR_RUN, "mask shape does not match the k-space");
    }
    for (size_t c = 0; c < nc; c++)
        for (size_t i = 0; i < vol; i++) kd[c * vol + i] *= m[i];
    return MRB_OK;
}

static mrb_status load_sampling(const mrb_suite *s, size_t d, size_t m, data_cache *dc)
{
    cache_free_sampling(dc);
    const mrb_suite_sampling *sm = &s->samplings[m];
    dc->masks = calloc(dc->nitems, sizeof *dc->masks);
    dc->kspace = calloc(dc->nitems, sizeof *dc->kspace);
    dc->achieved_r = calloc(dc->nitems, sizeof *dc->achieved_r);
    if (!dc->masks || !dc->kspace || !dc->achieved_r) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    dc->sampling = m;
    char tag[2 * MRB_ID_MAX + 8];
    snprintf(tag, sizeof tag, "mask|%s|%s", sm->id, s->datasets[d].id);
    for (size_t i = 0; i < dc->nitems; i++) {
        const mrb_array *x = dc->items[i].image;
        size_t nt = x->ndim > 2 ? x->dims[2] : 1;
        uint64_t seed = mrb_seed_derive(s->seed, tag, s->datasets[d].indices[i]);
        mrb_status st = sm->desc->make(&sm->params, seed, x->dims[0], x->dims[1], nt, &dc->masks[i]);
        if (st != MRB_OK) return mrb_error_context(st, "sampling '%s'", sm->id);
        const float *mk = dc->masks[i]->data;
        size_t n = mrb_array_count(dc->masks[i]);
        double sampled = 0;
        for (size_t k = 0; k < n; k++) sampled += mk[k] != 0;
        if (sampled == 0) return mrb_error(MRB_ERR_RUN, "sampling '%s': mask samples nothing", sm->id);
        dc->achieved_r[i] = (double)n / sampled;
        MRB_TRY(undersample(&dc->items[i], dc->masks[i], &dc->kspace[i]));
    }
    return MRB_OK;
}

/* ---------- one case ---------- */

static long peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_maxrss;
}

/* The implementation a case runs: the method's GPU twin under --device gpu
 * when it has one, else the CPU method. */
static const mrb_method_desc *case_method(const mrb_suite_method *me, mrb_device device)
{
    const mrb_method_desc *gpu = device == MRB_DEVICE_GPU ? mrb_method_find_gpu(me->desc->name) : NULL;
    return gpu ? gpu : me->desc;
}

static mrb_status run_case(const mrb_suite *s, size_t c, const data_cache *dc, int nthreads, mrb_device device,
                           cJSON **out, char *detail, size_t detail_len)
{
    size_t d, m, k;
    mrb_suite_case(s, c, &d, &m, &k);
    const mrb_suite_method *me = &s->methods[k];
    const mrb_method_desc *impl = case_method(me, device);
    char key[3 * MRB_ID_MAX + 4];
    mrb_suite_case_key(s, c, key, sizeof key);

    cJSON *cj = cJSON_CreateObject();
    cJSON_AddStringToObject(cj, "key", key);
    cJSON_AddStringToObject(cj, "dataset", s->datasets[d].id);
    cJSON_AddStringToObject(cj, "sampling", s->samplings[m].id);
    cJSON_AddStringToObject(cj, "sampler", s->samplings[m].desc->name);
    cJSON_AddItemToObject(cj, "sampler_params", mrb_params_to_json(&s->samplings[m].params));
    cJSON_AddNumberToObject(cj, "acceleration", s->samplings[m].desc->nominal_acceleration(&s->samplings[m].params));
    cJSON_AddStringToObject(cj, "method", me->id);
    cJSON_AddStringToObject(cj, "method_name", me->desc->name);
    cJSON_AddItemToObject(cj, "method_params", mrb_params_to_json(&me->params));
    add_param_files(cj, &me->params);
    cJSON_AddStringToObject(cj, "device", impl != me->desc ? "gpu" : "cpu");

    size_t nitems = dc->nitems, nmet = s->nmetrics;
    size_t nsamples = nitems * (size_t)s->repeats;
    double *times = calloc(nsamples ? nsamples : 1, sizeof *times);
    double *setup = calloc(nitems, sizeof *setup);
    double *values = calloc(nitems * nmet, sizeof *values);
    cJSON *items = cJSON_AddArrayToObject(cj, "items");
    mrb_status st = times && setup && values ? MRB_OK : mrb_error(MRB_ERR_NOMEM, "out of memory");
    size_t ns = 0;
    /* The method's own time split: last timed run of each item, per phase. */
    enum { MAX_PHASES = 16 };
    const char *phase_names[MAX_PHASES] = {0};
    size_t nphases = 0;
    double *phase_s = calloc(MAX_PHASES * (nitems ? nitems : 1), sizeof *phase_s);
    if (!phase_s) st = mrb_error(MRB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nitems && st == MRB_OK; i++) {
        const mrb_item *it = &dc->items[i];
        mrb_recon_input in = {dc->kspace[i], dc->masks[i], it->sens, nthreads,
                              mrb_seed_derive(s->seed, me->id, s->datasets[d].indices[i])};
        mrb_array *recon = mrb_array_create3(MRB_C64, it->image->dims[0], it->image->dims[1],
                                             it->image->ndim > 2 ? it->image->dims[2] : 1);
        if (!recon) {
            st = MRB_ERR_NOMEM;
            break;
        }
        void *state = NULL;
        double t0 = mrb_now();
        st = impl->setup(&me->params, &in, &state);
        setup[i] = mrb_now() - t0;
        for (int w = 0; st == MRB_OK && i == 0 && w < s->warmup; w++) st = impl->run(state, &in, recon);
        for (int r = 0; st == MRB_OK && r < s->repeats; r++) {
            t0 = mrb_now();
            st = impl->run(state, &in, recon);
            times[ns++] = mrb_now() - t0;
        }
        if (st == MRB_OK && impl->phases) {
            const char *names[MAX_PHASES];
            double secs[MAX_PHASES];
            size_t np = impl->phases(state, names, secs, MAX_PHASES);
            for (size_t q = 0; q < np && q < MAX_PHASES; q++) {
                size_t slot = 0;
                while (slot < nphases && strcmp(phase_names[slot], names[q]) != 0) slot++;
                if (slot == nphases) phase_names[nphases++] = names[q];
                phase_s[slot * nitems + i] = secs[q];
            }
        }
        if (impl->teardown) impl->teardown(state);
        if (st == MRB_OK) st = mrb_array_check_finite(recon, "reconstruction");
        cJSON *ij = cJSON_CreateObject();
        cJSON_AddStringToObject(ij, "id", it->id);
        cJSON_AddNumberToObject(ij, "achieved_acceleration", dc->achieved_r[i]);
        cJSON *mj = cJSON_AddObjectToObject(ij, "metrics");
        if (st == MRB_OK) {
            mrb_array *ref_mag = mrb_array_magnitude(it->image);
            mrb_array *rec_mag = mrb_array_magnitude(recon);
            if (!ref_mag || !rec_mag) st = MRB_ERR_NOMEM;
            for (size_t q = 0; q < nmet && st == MRB_OK; q++) {
                double v = NAN;
                st = s->metrics[q].desc->image(&s->metrics[q].params, ref_mag, rec_mag, &v);
                if (st != MRB_OK) mrb_error_context(st, "metric '%s'", s->metrics[q].id);
                values[q * nitems + i] = v;
                cJSON_AddNumberToObject(mj, s->metrics[q].id, v);
            }
            mrb_array_free(ref_mag);
            mrb_array_free(rec_mag);
        }
        cJSON_AddItemToObject(
            ij, "time_s",
            number_array(times + ns - (st == MRB_OK ? (size_t)s->repeats : 0), st == MRB_OK ? (size_t)s->repeats : 0));
        cJSON_AddNumberToObject(ij, "setup_s", setup[i]);
        cJSON_AddItemToArray(items, ij);
        mrb_array_free(recon);
        if (st != MRB_OK) mrb_error_context(st, "item %s", it->id);
    }
    if (st == MRB_OK) {
        cJSON_AddStringToObject(cj, "status", "ok");
        cJSON *agg = cJSON_AddObjectToObject(cj, "metrics");
        size_t pos = 0;
        for (size_t q = 0; q < nmet; q++) {
            cJSON_AddItemToObject(agg, s->metrics[q].id, mrb_summary_json(values + q * nitems, nitems));
            mrb_summary sm;
            mrb_summarize(values + q * nitems, nitems, &sm);
            if (pos < detail_len)
                pos += (size_t)snprintf(detail + pos, detail_len - pos, "%s%s %.4g", q ? ", " : "", s->metrics[q].id,
                                        sm.mean);
        }
        double rs[64];
        size_t nr = nitems < 64 ? nitems : 64;
        for (size_t i = 0; i < nr; i++) rs[i] = dc->achieved_r[i];
        cJSON_AddItemToObject(cj, "achieved_acceleration", mrb_summary_json(rs, nr));
        cJSON *timing = cJSON_AddObjectToObject(cj, "timing");
        cJSON_AddNumberToObject(timing, "warmup", s->warmup);
        cJSON_AddNumberToObject(timing, "repeats_per_item", s->repeats);
        cJSON_AddNumberToObject(timing, "threads", nthreads);
        cJSON_AddItemToObject(timing, "run_s", mrb_summary_json(times, ns));
        cJSON_AddItemToObject(timing, "setup_s", mrb_summary_json(setup, nitems));
        cJSON_AddItemToObject(timing, "samples_s", number_array(times, ns));
        cJSON_AddNumberToObject(timing, "peak_rss_kb", (double)peak_rss_kb());
        if (nphases) {
            cJSON *ph = cJSON_AddObjectToObject(timing, "phases_s");
            for (size_t q = 0; q < nphases; q++)
                cJSON_AddItemToObject(ph, phase_names[q], mrb_summary_json(phase_s + q * nitems, nitems));
        }
        mrb_summary ts;
        mrb_summarize(times, ns, &ts);
        if (pos < detail_len) snprintf(detail + pos, detail_len - pos, "; %.3g s", ts.median);
    } else {
        cJSON_AddStringToObject(cj, "status", "failed");
        cJSON_AddStringToObject(cj, "error", mrb_error_message());
        snprintf(detail, detail_len, "FAILED: %s", mrb_error_message());
    }
    free(times);
    free(setup);
    free(values);
    free(phase_s);
    *out = cj;
    return st == MRB_ERR_NOMEM ? st : MRB_OK; /* a failed case is recorded, not fatal */
}

/* ---------- results ---------- */

static cJSON *build_results(const mrb_suite *s, const mrb_run_opts *opts, const journal *j, const char *started,
                            size_t filtered)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "schema_version", MRB_RESULTS_SCHEMA_VERSION);
    cJSON_AddStringToObject(r, "kind", "mrbench-results");
    cJSON *ctx = mrb_provenance(opts);
    cJSON *warnings = cJSON_GetObjectItemCaseSensitive(ctx, "warnings");
    for (size_t k = 0; opts->device == MRB_DEVICE_GPU && k < s->nmethods; k++) {
        if (case_method(&s->methods[k], opts->device) != s->methods[k].desc) continue;
        char w[2 * MRB_ID_MAX + 96];
        snprintf(w, sizeof w, "method '%s' (%s) has no GPU implementation: it ran on the CPU", s->methods[k].id,
                 s->methods[k].desc->name);
        cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
    }
    cJSON_AddStringToObject(ctx, "started", started);
    char now[32];
    mrb_iso_time(mrb_wall_time(), now);
    cJSON_AddStringToObject(ctx, "finished", now);
    cJSON_AddItemToObject(r, "context", ctx);

    cJSON *sj = cJSON_AddObjectToObject(r, "suite");
    cJSON_AddStringToObject(sj, "name", s->name);
    cJSON_AddStringToObject(sj, "description", s->description);
    cJSON_AddStringToObject(sj, "file", s->path);
    cJSON_AddStringToObject(sj, "sha256", s->sha256);
    cJSON_AddItemToObject(sj, "seed", exact_uint(s->seed));
    if (opts->filter) cJSON_AddStringToObject(sj, "filter", opts->filter);
    cJSON *defs = cJSON_AddObjectToObject(sj, "metric_definitions");
    for (size_t q = 0; q < s->nmetrics; q++) {
        char def[512] = "";
        if (s->metrics[q].desc->definition) s->metrics[q].desc->definition(&s->metrics[q].params, def, sizeof def);
        cJSON *d = cJSON_AddObjectToObject(defs, s->metrics[q].id);
        cJSON_AddStringToObject(d, "metric", s->metrics[q].desc->name);
        cJSON_AddStringToObject(d, "definition", def);
        cJSON_AddStringToObject(d, "unit", s->metrics[q].desc->unit ? s->metrics[q].desc->unit : "");
        cJSON_AddBoolToObject(d, "higher_is_better", s->metrics[q].desc->higher_is_better);
        cJSON_AddItemToObject(d, "params", mrb_params_to_json(&s->metrics[q].params));
    }
    cJSON *report = cJSON_AddObjectToObject(sj, "report");
    cJSON *rm = cJSON_AddArrayToObject(report, "metrics");
    for (size_t i = 0; i < s->nreport_metrics; i++) cJSON_AddItemToArray(rm, cJSON_CreateString(s->report_metrics[i]));
    cJSON_AddStringToObject(report, "plot", s->plot_metric);
    cJSON *parsed = cJSON_Parse(s->text);
    if (parsed) {
        cJSON *seed = exact_uint(s->seed); /* the parsed text holds it as a double */
        if (!cJSON_ReplaceItemInObjectCaseSensitive(parsed, "seed", seed)) cJSON_Delete(seed);
        cJSON_AddItemToObject(sj, "definition", parsed);
    }

    cJSON *ds = cJSON_AddArrayToObject(r, "datasets");
    for (size_t d = 0; d < j->ndatasets; d++) {
        if (!j->datasets[d]) continue;
        cJSON *rec = cJSON_Duplicate(j->datasets[d], 1);
        /* A record read back from the journal holds its seed as a double. */
        cJSON *seed = exact_uint(dataset_seed_record(s, d));
        if (!cJSON_IsObject(rec) || !cJSON_ReplaceItemInObjectCaseSensitive(rec, "seed", seed)) cJSON_Delete(seed);
        cJSON_AddItemToArray(ds, rec);
    }
    cJSON *cases = cJSON_AddArrayToObject(r, "cases");
    size_t done = 0, failed = 0;
    for (size_t c = 0; c < j->ncases; c++) {
        if (!j->cases[c]) continue;
        done++;
        const cJSON *stj = cJSON_GetObjectItemCaseSensitive(j->cases[c], "status");
        if (cJSON_IsString(stj) && strcmp(stj->valuestring, "ok") != 0) failed++;
        cJSON_AddItemToArray(cases, cJSON_Duplicate(j->cases[c], 1));
    }
    cJSON *sum = cJSON_AddObjectToObject(r, "summary");
    cJSON_AddNumberToObject(sum, "cases_total", (double)mrb_suite_case_count(s));
    cJSON_AddNumberToObject(sum, "cases_done", (double)done);
    cJSON_AddNumberToObject(sum, "cases_failed", (double)failed);
    cJSON_AddNumberToObject(sum, "cases_filtered_out", (double)filtered);
    return r;
}

/* The parts of each case that report, compare and leaderboard read: the
 * identifying strings, and per item an id and metric values that are numbers
 * or null (NaN). A hand-edited or foreign file that breaks them would
 * otherwise be read as NaN or skipped without a word. */
static mrb_status check_cases(const char *path, const cJSON *cases)
{
    static const char *const strings[] = {"key", "dataset", "sampling", "method", "status"};
    size_t i = 0;
    for (const cJSON *c = cases->child; c; c = c->next, i++) {
        if (!cJSON_IsObject(c)) return mrb_error(MRB_ERR_INVALID, "%s: cases[%zu]: expected an object", path, i);
        for (size_t k = 0; k < sizeof strings / sizeof *strings; k++)
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, strings[k])))
                return mrb_error(MRB_ERR_INVALID, "%s: cases[%zu].%s: expected a string", path, i, strings[k]);
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(c, "items");
        if (!cJSON_IsArray(items))
            return mrb_error(MRB_ERR_INVALID, "%s: cases[%zu].items: expected an array", path, i);
        size_t j = 0;
        for (const cJSON *it = items->child; it; it = it->next, j++) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(it, "metrics");
            if (!cJSON_IsObject(it) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "id")) ||
                !cJSON_IsObject(m))
                return mrb_error(MRB_ERR_INVALID,
                                 "%s: cases[%zu].items[%zu]: expected an object with an id and metrics", path, i, j);
            for (const cJSON *v = m->child; v; v = v->next)
                if (!cJSON_IsNumber(v) && !cJSON_IsNull(v))
                    return mrb_error(MRB_ERR_INVALID,
                                     "%s: cases[%zu].items[%zu].metrics.%s: expected a number or null (NaN)", path, i,
                                     j, v->string);
        }
    }
    return MRB_OK;
}

mrb_status mrb_results_load(const char *path, cJSON **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    MRB_TRY(mrb_read_file(path, &text, &len));
    cJSON *r = cJSON_ParseWithLength(text, len);
    free(text);
    if (!r) return mrb_error(MRB_ERR_INVALID, "%s: not valid JSON (truncated or corrupted results file)", path);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(r, "kind");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(r, "schema_version");
    mrb_status st = MRB_OK;
    if (!cJSON_IsObject(r) || !cJSON_IsString(kind) || strcmp(kind->valuestring, "mrbench-results") != 0)
        st = mrb_error(MRB_ERR_INVALID, "%s: not an mrbench results file (no \"kind\": \"mrbench-results\")", path);
    else if (!cJSON_IsNumber(ver))
        st = mrb_error(MRB_ERR_INVALID, "%s: schema_version missing", path);
    else if (ver->valuedouble > MRB_RESULTS_SCHEMA_VERSION)
        st = mrb_error(MRB_ERR_INVALID,
                       "%s: results schema version %g is newer than this mrbench reads (%d); upgrade mrbench", path,
                       ver->valuedouble, MRB_RESULTS_SCHEMA_VERSION);
    else if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r, "cases")) ||
             !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r, "suite")))
        st = mrb_error(MRB_ERR_INVALID, "%s: results file lacks 'suite' or 'cases'", path);
    else
        st = check_cases(path, cJSON_GetObjectItemCaseSensitive(r, "cases"));
    if (st != MRB_OK) {
        cJSON_Delete(r);
        return st;
    }
    *out = r;
    return MRB_OK;
}

/* ---------- the run ---------- */

mrb_status mrb_run_check_filter(const mrb_suite *s, const char *filter, size_t *matched)
{
    size_t ncases = mrb_suite_case_count(s), n = 0;
    char key[3 * MRB_ID_MAX + 4], first[3 * MRB_ID_MAX + 4] = "";
    for (size_t c = 0; c < ncases; c++) {
        mrb_suite_case_key(s, c, key, sizeof key);
        if (c == 0) snprintf(first, sizeof first, "%s", key);
        n += !filter || fnmatch(filter, key, 0) == 0;
    }
    if (matched) *matched = n;
    if (n == 0 && ncases > 0)
        return mrb_error(MRB_ERR_INVALID,
                         "--filter '%s' matches none of the %zu cases of suite '%s' (keys are "
                         "dataset/sampling/method, e.g. '%s'); nothing was run or written",
                         filter, ncases, s->name, first);
    return MRB_OK;
}

mrb_status mrb_run_suite(const mrb_suite *s, const mrb_run_opts *opts, mrb_run_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    if (opts->device == MRB_DEVICE_GPU) {
        MRB_TRY(mrb_gpu_require("--device gpu"));
        size_t twins = 0;
        for (size_t k = 0; k < s->nmethods; k++) twins += mrb_method_find_gpu(s->methods[k].desc->name) != NULL;
        if (!twins)
            return mrb_error(MRB_ERR_DEVICE, "--device gpu: none of this suite's methods has a GPU "
                                             "implementation (see `mrbench list methods`); use --device cpu");
    }
    /* Before the output folder is touched: a filter that selects nothing would
     * otherwise replace an earlier run's results with empty ones. */
    MRB_TRY(mrb_run_check_filter(s, opts->filter, NULL));
    int nthreads = mrb_threads_usable(opts->nthreads);
    omp_set_num_threads(nthreads);
    openblas_set_num_threads(nthreads);

    MRB_TRY(mrb_mkdirs(opts->out_dir));
    char jpath[MRB_PATH_MAX + 32], rpath[MRB_PATH_MAX + 32];
    snprintf(jpath, sizeof jpath, "%s/%s", opts->out_dir, JOURNAL_NAME);
    snprintf(rpath, sizeof rpath, "%s/%s", opts->out_dir, RESULTS_NAME);
    snprintf(summary->results_path, sizeof summary->results_path, "%s", rpath);

    size_t ncases = mrb_suite_case_count(s);
    journal j = {0};
    j.ncases = ncases;
    j.ndatasets = s->ndatasets;
    j.cases = calloc(ncases, sizeof *j.cases);
    j.datasets = calloc(s->ndatasets, sizeof *j.datasets);
    if (!j.cases || !j.datasets) {
        free(j.cases);
        free(j.datasets);
        return mrb_error(MRB_ERR_NOMEM, "out of memory");
    }
    char started[32];
    mrb_iso_time(mrb_wall_time(), started);
    cJSON *start = cJSON_CreateObject();
    cJSON_AddStringToObject(start, "event", "start");
    cJSON_AddStringToObject(start, "time", started);
    cJSON_AddStringToObject(start, "suite", s->name);
    cJSON_AddStringToObject(start, "suite_sha256", s->sha256);
    cJSON_AddItemToObject(start, "seed", exact_uint(s->seed));
    char *start_line = cJSON_PrintUnformatted(start);
    cJSON_Delete(start);
    mrb_status st =
        start_line ? journal_open(&j, s, jpath, opts->resume, start_line) : mrb_error(MRB_ERR_NOMEM, "out of memory");
    free(start_line);

    /* Which cases run now. */
    unsigned char *pending = calloc(ncases ? ncases : 1, 1);
    size_t nfiltered = 0, npending = 0;
    for (size_t c = 0; st == MRB_OK && c < ncases; c++) {
        char key[3 * MRB_ID_MAX + 4];
        mrb_suite_case_key(s, c, key, sizeof key);
        if (opts->filter && fnmatch(opts->filter, key, 0) != 0) {
            nfiltered++;
            if (j.cases[c]) { /* a filtered case from an earlier run is not reported */
                cJSON_Delete(j.cases[c]);
                j.cases[c] = NULL;
            }
            continue;
        }
        if (case_ok(j.cases[c])) {
            summary->cases_skipped++;
            continue;
        }
        if (j.cases[c]) { /* failed in an earlier run: tried again */
            cJSON_Delete(j.cases[c]);
            j.cases[c] = NULL;
            summary->cases_retried++;
        }
        pending[c] = 1;
        npending++;
    }
    summary->cases_total = ncases;
    summary->cases_filtered = nfiltered;

    progress pg = {opts->progress_bar, opts->quiet, npending, 0, mrb_now()};
    data_cache dc = {(size_t)-1, NULL, 0, (size_t)-1, NULL, NULL, NULL};
    for (size_t c = 0; st == MRB_OK && c < ncases; c++) {
        if (!pending[c]) continue;
        size_t d, m, k;
        mrb_suite_case(s, c, &d, &m, &k);
        if (dc.dataset != d) {
            cJSON *record = NULL;
            st = load_dataset(s, d, &dc, &record);
            if (st != MRB_OK) break;
            if (!j.datasets[d]) {
                cJSON *line = cJSON_CreateObject();
                cJSON_AddStringToObject(line, "event", "dataset");
                cJSON_AddNumberToObject(line, "index", (double)d);
                cJSON_AddItemToObject(line, "dataset", record);
                st = journal_append(&j, line, jpath);
                j.datasets[d] = cJSON_DetachItemFromObjectCaseSensitive(line, "dataset");
                cJSON_Delete(line);
                if (st != MRB_OK) break;
            } else {
                cJSON_Delete(record);
            }
        }
        if (dc.sampling != m) {
            st = load_sampling(s, d, m, &dc);
            if (st != MRB_OK) break;
        }
        char key[3 * MRB_ID_MAX + 4], detail[256] = "";
        mrb_suite_case_key(s, c, key, sizeof key);
        cJSON *cj = NULL;
        st = run_case(s, c, &dc, nthreads, opts->device, &cj, detail, sizeof detail);
        if (st != MRB_OK) {
            cJSON_Delete(cj);
            break;
        }
        const cJSON *cst = cJSON_GetObjectItemCaseSensitive(cj, "status");
        if (strcmp(cst->valuestring, "ok") != 0) summary->cases_failed++;
        cJSON *line = cJSON_CreateObject();
        cJSON_AddStringToObject(line, "event", "case");
        cJSON_AddStringToObject(line, "key", key);
        cJSON_AddItemToObject(line, "case", cj);
        st = journal_append(&j, line, jpath);
        j.cases[c] = cJSON_DetachItemFromObjectCaseSensitive(line, "case");
        cJSON_Delete(line);
        summary->cases_run++;
        pg.done++;
        progress_update(&pg, key, detail);
    }
    cache_free(&dc);
    free(pending);
    if (j.f) fclose(j.f);

    if (st == MRB_OK) {
        /* Failures recorded by earlier (resumed) runs count too. */
        summary->cases_failed = 0;
        for (size_t c = 0; c < ncases; c++) {
            if (j.cases[c] && !case_ok(j.cases[c])) summary->cases_failed++;
        }
        cJSON *results = build_results(s, opts, &j, started, nfiltered);
        char *text = cJSON_Print(results);
        if (!text)
            st = mrb_error(MRB_ERR_NOMEM, "out of memory");
        else {
            size_t len = strlen(text);
            text[len] = '\n';
            st = mrb_write_file_atomic(rpath, text, len + 1);
            free(text);
        }
        if (st == MRB_OK) st = mrb_report_write(results, opts->out_dir, &summary->report);
        cJSON_Delete(results);
    }
    for (size_t c = 0; c < ncases; c++) cJSON_Delete(j.cases[c]);
    for (size_t d = 0; d < s->ndatasets; d++) cJSON_Delete(j.datasets[d]);
    free(j.cases);
    free(j.datasets);
    return st;
}
