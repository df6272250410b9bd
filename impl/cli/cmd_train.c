/* mrbench train: fits the weights of a suite's learned method (the Deep
 * Cascade) from the suite's `training` section, so that `mrbench run` on the
 * same file then evaluates the trained network. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "mrbench/backend.h"
#include "mrbench/runner.h"
#include "mrbench/nn.h"
#include "mrbench/registry.h"
#include "mrbench/rng.h"
#include "mrbench/suite.h"
#include "mrbench/util.h"

/* Plain (non-terminal) progress: this many lines per epoch besides the epoch summary. */
#define PLAIN_LINES_PER_EPOCH 4
#define BAR_WIDTH 24

static const char help[] = "usage: mrbench train SUITE.json [options]\n"
                           "\n"
                           "Trains the learned method named by the suite's 'training' section (cascade-2d or\n"
                           "cascade-2dt) on the training split of its data set, with masks from its sampling pattern\n"
                           "(a new mask per minibatch), validates after every epoch (mean PSNR over the validation\n"
                           "split), writes a resumable checkpoint each epoch and the final weights (safetensors,\n"
                           "atomically) to training.weights. 'mrbench run SUITE.json' then evaluates them.\n"
                           "\n"
                           "options:\n"
                           "  --device cpu|gpu  where the training steps and validation run (default cpu); gpu\n"
                           "                    exits 3 when unavailable. Masks, minibatches and checkpoints stay\n"
                           "                    on the CPU; GPU and CPU runs agree to float rounding, not bit for bit\n"
                           "  --threads N       threads for FFTW, OpenMP and OpenBLAS (default: all cores)\n"
                           "  --epochs N        override training.epochs\n"
                           "  --resume          continue from training.checkpoint when it exists (same result as an\n"
                           "                    uninterrupted run)\n"
                           "  --quiet           no progress output\n"
                           "  -h, --help        this help\n"
                           "\n"
                           "The weights file's metadata records how it was made: 'provenance' and 'training' (JSON),\n"
                           "training_steps, training_epochs, training_val_psnr (suites/README.md).\n";

typedef struct mask_source {
    const mrb_suite_sampling *sampling[MRB_TRAIN_SAMPLINGS_MAX];
    size_t n;
} mask_source;

/* With several sampling patterns (mixed accelerations) the mask's seed also
 * picks the pattern, uniformly; with one, the seed goes to it unchanged. */
static mrb_status suite_mask(void *ctx, uint64_t seed, size_t nx, size_t ny, size_t nt, mrb_array **mask)
{
    const mask_source *m = ctx;
    size_t k = 0;
    if (m->n > 1) {
        mrb_rng rng;
        mrb_rng_seed(&rng, mrb_seed_derive(seed, "training-sampling", 0));
        k = (size_t)mrb_rng_below(&rng, m->n);
    }
    const mrb_suite_sampling *s = m->sampling[k];
    return s->desc->make(&s->params, seed, nx, ny, nt, mask);
}

typedef struct progress_state {
    int quiet, bar;
    int epochs;
    size_t steps_per_epoch;
    int started;
    size_t first_step; /* global step at the start of this process (resume) */
    double t0;         /* when this process started training */
    double loss_sum;
    size_t loss_n;
    size_t last_plain; /* step of the last plain line */
    double last_psnr;
} progress_state;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void format_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, len, "--");
        return;
    }
    long v = (long)(s + 0.5);
    if (v >= 3600)
        snprintf(buf, len, "%ldh%02ldm", v / 3600, (v / 60) % 60);
    else if (v >= 60)
        snprintf(buf, len, "%ldm%02lds", v / 60, v % 60);
    else
        snprintf(buf, len, "%lds", v);
}

static int on_progress(void *ctx, const mrb_cascade_progress *p)
{
    progress_state *s = ctx;
    if (s->quiet) return 0;
    if (!s->started) {
        s->started = 1;
        /* first call of this process: p->step counts the step just taken */
        s->first_step = p->step > 0 ? p->step - 1 : 0;
        s->last_plain = s->first_step;
    }
    size_t total = s->steps_per_epoch * (size_t)s->epochs;
    double elapsed = now_s() - s->t0;
    size_t done = p->step - s->first_step;
    double eta = done ? elapsed / (double)done * (double)(total > p->step ? total - p->step : 0) : NAN;
    char seta[32], sel[32];
    format_duration(eta, seta, sizeof seta);
    format_duration(elapsed, sel, sizeof sel);
    size_t in_epoch = p->step - (size_t)(p->epoch - 1) * s->steps_per_epoch;
    if (p->epoch_end) {
        double mean = s->loss_n ? s->loss_sum / (double)s->loss_n : NAN;
        s->last_psnr = p->val_psnr;
        if (s->bar) fputs("\r\033[K", stderr);
        fprintf(stderr, "epoch %d/%d: step %zu, mean loss %.4g, validation PSNR %.2f dB, elapsed %s, ETA %s\n",
                p->epoch, s->epochs, p->step, mean, p->val_psnr, sel, seta);
        s->loss_sum = 0;
        s->loss_n = 0;
        return 0;
    }
    s->loss_sum += p->loss;
    s->loss_n++;
    if (s->bar) {
        size_t fill = s->steps_per_epoch ? in_epoch * BAR_WIDTH / s->steps_per_epoch : 0;
        char bar[BAR_WIDTH + 1];
        for (size_t i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        char spsnr[32] = "--";
        if (isfinite(s->last_psnr)) snprintf(spsnr, sizeof spsnr, "%.2f dB", s->last_psnr);
        fprintf(stderr, "\r\033[Kepoch %d/%d [%s] step %zu/%zu loss %.4g val PSNR %s ETA %s", p->epoch, s->epochs, bar,
                in_epoch, s->steps_per_epoch, p->loss, spsnr, seta);
        fflush(stderr);
    } else {
        size_t every = s->steps_per_epoch / PLAIN_LINES_PER_EPOCH;
        if (every == 0) every = 1;
        if (p->step - s->last_plain >= every && in_epoch < s->steps_per_epoch) {
            s->last_plain = p->step;
            fprintf(stderr, "epoch %d/%d: step %zu/%zu, loss %.4g, elapsed %s, ETA %s\n", p->epoch, s->epochs, in_epoch,
                    s->steps_per_epoch, p->loss, sel, seta);
        }
    }
    return 0;
}

/* Absolute form of a path whose file (and folders) need not exist yet: the
 * realpath of its longest existing folder prefix + the rest. */
static int canonical_path(const char *path, char *out, size_t len)
{
    char real[PATH_MAX];
    if (realpath(path, real)) {
        snprintf(out, len, "%s", real);
        return 0;
    }
    const char *slash = strrchr(path, '/');
    if (!slash) {
        if (!getcwd(real, sizeof real)) return -1;
        snprintf(out, len, "%s/%s", real, path);
        return 0;
    }
    if (slash == path) {
        snprintf(out, len, "%s", path);
        return 0;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (canonical_path(dir, out, len) != 0) return -1;
    size_t used = strlen(out);
    snprintf(out + used, len - used, "%s", slash);
    return 0;
}

/* mkdir -p of the folder holding `path`. */
static mrb_status make_parent(const char *path)
{
    char dir[MRB_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return MRB_OK;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return mrb_error(MRB_ERR_IO, "cannot create folder %s: %s", dir, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return mrb_error(MRB_ERR_IO, "cannot create folder %s: %s", dir, strerror(errno));
    return MRB_OK;
}

/* Whether `path` can be written (atomically: a file next to it is created
 * and removed), before hours of training rather than after. */
static mrb_status check_writable(const char *path)
{
    char probe[MRB_PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s.probe-%ld", path, (long)getpid());
    FILE *f = fopen(probe, "wb");
    if (!f) return mrb_error(MRB_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    fclose(f);
    remove(probe);
    return MRB_OK;
}

/* The trained method must be a Deep Cascade of the same kind as the
 * architecture, and its `weights` parameter must name training.weights
 * (methods resolve `weights` against the current folder, the training
 * section against the suite file). Returns 0 or prints the reason and returns 2. */
static int check_method(const mrb_suite *s)
{
    const mrb_suite_training *tr = &s->training;
    const mrb_suite_method *m = &s->methods[tr->method];
    int temporal;
    if (strcmp(m->desc->name, "cascade-2d") == 0)
        temporal = 0;
    else if (strcmp(m->desc->name, "cascade-2dt") == 0)
        temporal = 1;
    else {
        fprintf(
            stderr,
            "mrbench train: %s: training.method '%s' is method '%s'; only cascade-2d and cascade-2dt can be trained\n",
            s->path, m->id, m->desc->name);
        return MRB_EXIT_BAD_INPUT;
    }
    if (temporal != tr->temporal) {
        fprintf(stderr, "mrbench train: %s: training.architecture.temporal is %s but method '%s' is %s\n", s->path,
                tr->temporal ? "true" : "false", m->id, m->desc->name);
        return MRB_EXIT_BAD_INPUT;
    }
    const char *w = mrb_params_str(&m->params, "weights");
    char a[2 * PATH_MAX + 2], b[2 * PATH_MAX + 2];
    if (!w || !*w || canonical_path(w, a, sizeof a) != 0 || canonical_path(tr->weights, b, sizeof b) != 0 ||
        strcmp(a, b) != 0) {
        fprintf(stderr,
                "mrbench train: %s: methods '%s' params.weights ('%s', relative to the current folder) must name "
                "the file training.weights writes (%s); run from the folder the suite expects\n",
                s->path, m->id, w ? w : "", tr->weights);
        return MRB_EXIT_BAD_INPUT;
    }
    return 0;
}

static mrb_status generate_split(const mrb_suite *s, const size_t *idx, size_t n, const char *split, mrb_array **out)
{
    const mrb_suite_dataset *ds = &s->datasets[s->training.dataset];
    /* the runner's derivation: the same seed gives the same items in `mrbench run` */
    uint64_t seed = mrb_seed_derive(s->seed, ds->desc->name, 0);
    for (size_t i = 0; i < n; i++) {
        mrb_item item;
        memset(&item, 0, sizeof item);
        mrb_status st = ds->desc->generate(&ds->params, seed, idx[i], &item);
        if (st == MRB_OK && (!item.image || item.image->dtype != MRB_C64))
            st = mrb_error(MRB_ERR_RUN, "generator returned no complex image");
        if (st == MRB_OK && item.sens)
            st = mrb_error(MRB_ERR_UNSUPPORTED, "the Deep Cascade is single-coil; set the data set's coils to 1");
        if (st != MRB_OK) {
            mrb_item_clear(&item);
            return mrb_error_context(st, "datasets '%s' %s item %zu", ds->id, split, idx[i]);
        }
        out[i] = item.image;
        item.image = NULL;
        mrb_item_clear(&item);
    }
    return MRB_OK;
}

/* What the weights file records of how it was made: "provenance" (as in
 * results.json: build, machine, GPU, device, threads, command) and
 * "training" (suite, data, masks, architecture, optimiser, seed), each a
 * JSON text. *prov and *train are cJSON_PrintUnformatted strings (free). */
static mrb_status training_meta(const mrb_suite *s, const mrb_cascade_train_opts *o, int gpu, const char *cmdline,
                                char **prov, char **train)
{
    const mrb_suite_training *tr = &s->training;
    mrb_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.device = gpu ? MRB_DEVICE_GPU : MRB_DEVICE_CPU;
    ro.nthreads = o->nthreads;
    ro.command_line = cmdline;
    cJSON *p = mrb_provenance(&ro), *t = cJSON_CreateObject();
    if (t) {
        cJSON_AddStringToObject(t, "suite", s->name);
        cJSON_AddStringToObject(t, "suite_sha256", s->sha256);
        cJSON_AddStringToObject(t, "method", s->methods[tr->method].id);
        cJSON_AddStringToObject(t, "dataset", s->datasets[tr->dataset].id);
        cJSON_AddStringToObject(t, "manifest_sha256", s->datasets[tr->dataset].manifest_sha256);
        cJSON_AddStringToObject(t, "train_split", tr->train_split);
        cJSON_AddStringToObject(t, "val_split", tr->val_split);
        cJSON *samp = cJSON_AddArrayToObject(t, "sampling");
        for (size_t k = 0; k < tr->nsamplings; k++)
            cJSON_AddItemToArray(samp, cJSON_CreateString(s->samplings[tr->samplings[k]].id));
        cJSON_AddNumberToObject(t, "items_train", (double)tr->ntrain);
        cJSON_AddNumberToObject(t, "items_val", (double)tr->nval);
        cJSON_AddNumberToObject(t, "epochs", o->epochs);
        cJSON_AddNumberToObject(t, "batch_size", o->batch);
        cJSON_AddNumberToObject(t, "learning_rate", o->lr);
        cJSON_AddNumberToObject(t, "weight_decay", o->weight_decay);
        char seed[24];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
        cJSON_AddStringToObject(t, "seed", seed); /* 64 bits: a JSON number would round it */
        cJSON_AddStringToObject(t, "device", gpu ? "gpu" : "cpu");
    }
    *prov = p ? cJSON_PrintUnformatted(p) : NULL;
    *train = t ? cJSON_PrintUnformatted(t) : NULL;
    cJSON_Delete(p);
    cJSON_Delete(t);
    if (*prov && *train) return MRB_OK;
    free(*prov);
    free(*train);
    *prov = *train = NULL;
    return mrb_error(MRB_ERR_NOMEM, "out of memory for the training provenance");
}

int mrb_cmd_train(int argc, char **argv)
{
    static const struct option longopts[] = {{"threads", required_argument, 0, 't'},
                                             {"epochs", required_argument, 0, 'e'},
                                             {"resume", no_argument, 0, 'r'},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"device", required_argument, 0, 'd'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    char cmdline[2048]; /* as typed: getopt permutes argv */
    mrb_cli_command_line(argc, argv, cmdline, sizeof cmdline);
    long threads = sysconf(_SC_NPROCESSORS_ONLN), epochs = 0;
    int resume = 0, quiet = 0, gpu = 0;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 't':
            if (mrb_cli_parse_int(optarg, 1, 1024, &threads) != 0)
                return mrb_cli_usage("train", "--threads takes an integer from 1 to 1024, not '%s'", optarg);
            break;
        case 'e':
            if (mrb_cli_parse_int(optarg, 1, 100000, &epochs) != 0)
                return mrb_cli_usage("train", "--epochs takes an integer from 1 to 100000, not '%s'", optarg);
            break;
        case 'd': {
            int rc = mrb_cli_parse_device("train", optarg, &gpu);
            if (rc) return rc;
            break;
        }
        case 'r': resume = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return mrb_cli_usage("train", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return mrb_cli_usage("train", "expected one suite file");
    const mrb_cascade_train_device *device = NULL;
    if (gpu) {
        /* CUDA builds have the device; builds without CUDA fail the check */
        device = mrb_cascade_train_device_gpu();
        mrb_status dst = mrb_gpu_require("--device gpu");
        if (dst != MRB_OK) return mrb_cli_fail("train", dst);
    }
    mrb_suite *suite = NULL;
    mrb_status st = mrb_suite_load(argv[optind], &suite);
    if (st != MRB_OK) return mrb_cli_fail("train", st);
    const mrb_suite_training *tr = &suite->training;
    if (!tr->present) {
        fprintf(stderr, "mrbench train: %s has no 'training' section (nothing to train)\n", suite->path);
        mrb_suite_free(suite);
        return MRB_EXIT_BAD_INPUT;
    }
    int rc = check_method(suite);
    if (rc) {
        mrb_suite_free(suite);
        return rc;
    }
    const mrb_suite_method *method = &suite->methods[tr->method];
    mrb_array **train = calloc(tr->ntrain, sizeof *train), **val = calloc(tr->nval ? tr->nval : 1, sizeof *val);
    if (!train || !val) st = mrb_error(MRB_ERR_NOMEM, "out of memory");
    if (st == MRB_OK) st = generate_split(suite, tr->train_indices, tr->ntrain, tr->train_split, train);
    if (st == MRB_OK) st = generate_split(suite, tr->val_indices, tr->nval, tr->val_split, val);
    if (st == MRB_OK) st = make_parent(tr->weights);
    if (st == MRB_OK) st = make_parent(tr->checkpoint);
    if (st == MRB_OK) st = check_writable(tr->weights);
    if (st == MRB_OK) st = check_writable(tr->checkpoint);

    mask_source masks;
    memset(&masks, 0, sizeof masks);
    for (size_t k = 0; k < tr->nsamplings; k++) masks.sampling[masks.n++] = &suite->samplings[tr->samplings[k]];
    char sampling_ids[MRB_TRAIN_SAMPLINGS_MAX * (MRB_ID_MAX + 4)] = "";
    for (size_t k = 0; k < masks.n; k++) {
        size_t used = strlen(sampling_ids);
        snprintf(sampling_ids + used, sizeof sampling_ids - used, "%s'%s'", k ? ", " : "", masks.sampling[k]->id);
    }
    mrb_cascade_train_opts o = mrb_cascade_train_defaults(tr->temporal);
    o.arch.n_c = tr->n_c;
    o.arch.n_d = tr->n_d;
    o.arch.n_f = tr->n_f;
    o.train = (const mrb_array *const *)train;
    o.ntrain = tr->ntrain;
    o.val = (const mrb_array *const *)val;
    o.nval = tr->nval;
    o.make_mask = suite_mask;
    o.mask_ctx = &masks;
    o.epochs = epochs ? (int)epochs : tr->epochs;
    o.batch = tr->batch_size;
    o.lr = tr->learning_rate;
    o.weight_decay = tr->weight_decay;
    o.seed = mrb_seed_derive(suite->seed, method->id, 0);
    o.nthreads = mrb_threads_usable((int)threads); /* more than the cores only slows training */
    o.checkpoint = tr->checkpoint;
    o.resume = resume;
    o.weights_out = tr->weights;
    o.device = device;
    char *prov = NULL, *train_json = NULL;
    if (st == MRB_OK) st = training_meta(suite, &o, gpu, cmdline, &prov, &train_json);
    const char *meta[4] = {"provenance", prov, "training", train_json};
    o.weights_meta = meta;
    o.nweights_meta = 2;

    progress_state ps;
    memset(&ps, 0, sizeof ps);
    ps.quiet = quiet;
    ps.bar = isatty(STDERR_FILENO);
    ps.epochs = o.epochs;
    ps.last_psnr = NAN;
    if (st == MRB_OK) {
        const mrb_array *first = train[0];
        size_t nt = first->ndim >= 3 ? first->dims[2] : 1;
        size_t nsamples = tr->temporal ? tr->ntrain : tr->ntrain * nt;
        size_t batch = (size_t)o.batch < nsamples ? (size_t)o.batch : nsamples;
        ps.steps_per_epoch = nsamples / batch;
        char shape[64];
        if (!quiet)
            fprintf(stderr,
                    "mrbench train: suite '%s', method '%s' (%s D%d-C%d, %d filters), %zu training / %zu validation "
                    "items of %s from '%s', masks %s%s, %d epoch(s) of %zu steps (batch %zu), %s, %d thread(s)\n",
                    suite->name, method->id, tr->temporal ? "2D+t" : "2D", tr->n_d, tr->n_c, tr->n_f, tr->ntrain,
                    tr->nval, mrb_array_shape_str(first, shape, sizeof shape), suite->datasets[tr->dataset].id,
                    sampling_ids, masks.n > 1 ? " (one drawn per mask)" : "", o.epochs, ps.steps_per_epoch, batch,
                    device ? "steps on the GPU" : "CPU", o.nthreads);
        o.progress = on_progress;
        o.progress_ctx = &ps;
    }
    double psnr = NAN, t0 = now_s();
    ps.t0 = t0;
    if (st == MRB_OK) st = mrb_cascade_train(&o, &psnr);
    double elapsed = now_s() - t0;
    for (size_t i = 0; train && i < tr->ntrain; i++) mrb_array_free(train[i]);
    for (size_t i = 0; val && i < tr->nval; i++) mrb_array_free(val[i]);
    free(train);
    free(val);
    free(prov);
    free(train_json);
    if (st != MRB_OK) {
        rc = mrb_cli_fail("train", st);
        mrb_suite_free(suite);
        return rc;
    }
    if (!quiet) {
        char sel[32];
        format_duration(elapsed, sel, sizeof sel);
        fprintf(stderr, "mrbench train: done in %s (%.1f s), final validation PSNR %.2f dB\n", sel, elapsed, psnr);
        printf("weights:    %s\n", tr->weights);
        printf("checkpoint: %s\n", tr->checkpoint);
    }
    mrb_suite_free(suite);
    return MRB_EXIT_OK;
}
