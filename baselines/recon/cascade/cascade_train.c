/* Training of the Deep Cascade as in the authors' released code: loss = mean
 * squared error over complex pixels + 1e-6 sum ||W||^2 (weights, not biases),
 * Adam with learning rate 1e-3, a new undersampling mask for every minibatch,
 * validation PSNR after every epoch. Checkpoints (weights, Adam moments, epoch
 * and step) are safetensors files written atomically; a run resumed from a
 * checkpoint continues exactly as if it had not stopped (same seed). With
 * opts.device (mrbench train --device gpu) the steps run on that device and
 * this file keeps the rest: sample order, masks, minibatches, checkpoints
 * and resume; validation runs on the device too when it can reconstruct. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mrbench/fft.h"
#include "mrbench/nn.h"
#include "mrbench/registry.h"
#include "recon/cascade/cascade_internal.h"

/* Released code (Schlemper et al., github.com/js3611/Deep-MRI-Reconstruction):
 * Adam lr 1e-3, l2 1e-6, batch 10 (2D) / 1 (2D+t), 10 epochs in the demos,
 * acceleration 4 and 10 always-sampled centre lines in cartesian_mask. */
#define TRAIN_LR 1e-3
#define TRAIN_WEIGHT_DECAY 1e-6
#define TRAIN_BATCH_2D 10
#define TRAIN_BATCH_2DT 1
#define TRAIN_EPOCHS 10
#define TRAIN_ACCELERATION 4.0
#define TRAIN_CENTRE_LINES 10
#define CHECKPOINT_FORMAT "mrbench-deep-cascade-checkpoint"

mrb_cascade_train_opts mrb_cascade_train_defaults(int temporal)
{
    mrb_cascade_train_opts o;
    memset(&o, 0, sizeof o);
    o.arch = mrb_cascade_arch_default(temporal);
    o.acceleration = TRAIN_ACCELERATION;
    o.sample_n = TRAIN_CENTRE_LINES;
    o.epochs = TRAIN_EPOCHS;
    o.batch = temporal ? TRAIN_BATCH_2DT : TRAIN_BATCH_2D;
    o.lr = TRAIN_LR;
    o.weight_decay = TRAIN_WEIGHT_DECAY;
    o.nthreads = 1;
    return o;
}

typedef struct sampler_ctx {
    const mrb_sampler_desc *desc;
    mrb_params params;
} sampler_ctx;

static mrb_status sampler_mask(void *ctx, uint64_t seed, size_t nx, size_t ny, size_t nt, mrb_array **mask)
{
    sampler_ctx *s = ctx;
    return s->desc->make(&s->params, seed, nx, ny, nt, mask);
}

typedef struct trainer {
    const mrb_cascade_train_opts *o;
    mrb_status (*make_mask)(void *, uint64_t, size_t, size_t, size_t, mrb_array **);
    void *mask_ctx;
    size_t nx, ny, nt, snt, svol; /* snt: frames per sample (nt for 2D+t, 1 for 2D) */
    size_t nsamples, batch;
    uint64_t data_hash; /* FNV-1a over the training and validation items: a checkpoint belongs to its data */
    mrb_cascade *net;
    mrb_optim *opt;
    mrb_adam_cfg adam;
    void *dev; /* the device's state when o->device */
    mrb_named_tensor *params;
    size_t nparams;
    int *decay;
    /* minibatch buffers */
    float *ks, *mask, *zf; /* batch * svol complex / real / complex */
    mrb_tensor *x0, *target, *dout;
} trainer;

static mrb_status check_items(const char *what, const mrb_array *const *items, size_t n, trainer *t)
{
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        const mrb_array *a = items[i];
        if (!a) return mrb_error(MRB_ERR_INVALID, "cascade training: %s item %zu is missing", what, i);
        size_t nt = a->ndim >= 3 ? a->dims[2] : 1;
        if (a->dtype != MRB_C64 || a->ndim < 2 || (a->ndim > 3 && mrb_array_count(a) != a->dims[0] * a->dims[1] * nt))
            return mrb_error(MRB_ERR_INVALID, "cascade training: %s item %zu must be MRB_C64 [nx, ny, nt]", what, i);
        if (!t->nx) {
            t->nx = a->dims[0];
            t->ny = a->dims[1];
            t->nt = nt;
        } else if (a->dims[0] != t->nx || a->dims[1] != t->ny || nt != t->nt) {
            return mrb_error(MRB_ERR_INVALID,
                             "cascade training: %s item %zu is %s, not %zux%zux%zu like the first item", what, i,
                             mrb_array_shape_str(a, buf, sizeof buf), t->nx, t->ny, t->nt);
        }
    }
    return MRB_OK;
}

static void trainer_free(trainer *t)
{
    if (t->dev) t->o->device->close(t->dev);
    mrb_cascade_free(t->net);
    mrb_optim_free(t->opt);
    free(t->params);
    free(t->decay);
    mrb_free(t->ks);
    mrb_free(t->mask);
    mrb_free(t->zf);
    mrb_tensor_free(t->x0);
    mrb_tensor_free(t->target);
    mrb_tensor_free(t->dout);
}

static mrb_tensor *sample_tensor(const trainer *t, size_t n, int grad)
{
    return t->o->arch.temporal ? mrb_tensor_create5(n, 2, t->nt, t->ny, t->nx, grad)
                               : mrb_tensor_create4(n, 2, t->ny, t->nx, grad);
}

/* One sample's ground truth (item, frame) as complex svol values. */
static const float *sample_image(const trainer *t, size_t s)
{
    if (t->o->arch.temporal) return t->o->train[s]->data;
    size_t item = s / t->nt, frame = s % t->nt;
    return (const float *)t->o->train[item]->data + 2 * frame * t->nx * t->ny;
}

mrb_status mrb_cascade_train_inputs(const float *images, const float *mask, size_t nx, size_t ny, size_t snt, size_t n,
                                    float *kspace, float *zf, mrb_tensor *x0, mrb_tensor *target)
{
    size_t values = n * nx * ny * snt, dims[3] = {nx, ny, snt * n};
    if (mrb_tensor_count(x0) != 2 * values || mrb_tensor_count(target) != 2 * values || x0->shape[0] != n ||
        target->shape[0] != n)
        return mrb_error(MRB_ERR_INVALID, "cascade training: input and target tensors must hold %zu x 2 x %zu values",
                         n, nx * ny * snt);
    mrb_nn_complex_to_tensor(images, target);
    if (kspace != images) memcpy(kspace, images, 2 * values * sizeof(float));
    MRB_TRY(mrb_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, kspace, mrb_nn_threads()));
    for (size_t i = 0; i < values; i++)
        if (mask[i] == 0.0f) kspace[2 * i] = kspace[2 * i + 1] = 0.0f;
    MRB_TRY(mrb_cascade_zero_filled(kspace, nx, ny, snt * n, zf));
    mrb_nn_complex_to_tensor(zf, x0);
    return MRB_OK;
}

/* Fills the minibatch: its images (in ks) and masks; on the CPU also the
 * masked k-space (in place of the images), zero-filled input and target. A
 * device derives those itself from the images. */
static mrb_status load_batch(trainer *t, const size_t *idx, size_t nb, uint64_t step)
{
    size_t sv = t->svol;
    for (size_t b = 0; b < nb; b++) {
        memcpy(t->ks + 2 * b * sv, sample_image(t, idx[b]), 2 * sv * sizeof(float));
        mrb_array *m = NULL;
        uint64_t seed = mrb_seed_derive(t->o->seed, "cascade-train-mask", step * t->batch + b);
        mrb_status st = t->make_mask(t->mask_ctx, seed, t->nx, t->ny, t->snt, &m);
        if (st != MRB_OK) return mrb_error_context(st, "cascade training: mask");
        if (!m || m->dtype != MRB_F32 || mrb_array_count(m) != sv) {
            mrb_array_free(m);
            return mrb_error(MRB_ERR_RUN, "cascade training: the mask generator returned a wrong mask");
        }
        memcpy(t->mask + b * sv, m->data, sv * sizeof(float));
        mrb_array_free(m);
    }
    if (t->dev) return MRB_OK;
    return mrb_cascade_train_inputs(t->ks, t->mask, t->nx, t->ny, t->snt, nb, t->ks, t->zf, t->x0, t->target);
}

static double weight_norm2(const trainer *t)
{
    double s = 0;
    for (size_t i = 0; i < t->nparams; i++) {
        if (!t->decay[i]) continue;
        size_t n = mrb_tensor_count(t->params[i].t);
        for (size_t j = 0; j < n; j++) s += (double)t->params[i].t->data[j] * t->params[i].t->data[j];
    }
    return s;
}

static mrb_status finite_loss(double loss, uint64_t step)
{
    if (isfinite(loss)) return MRB_OK;
    return mrb_error(MRB_ERR_RUN, "cascade training: the loss is not finite at step %llu", (unsigned long long)step);
}

static mrb_status train_step(trainer *t, const size_t *idx, uint64_t step, double *loss)
{
    MRB_TRY(load_batch(t, idx, t->batch, step));
    if (t->dev) {
        double mse, wn2;
        MRB_TRY(t->o->device->step(t->dev, t->ks, t->mask, step + 1, &mse, &wn2));
        *loss = mse + t->o->weight_decay * wn2;
        return finite_loss(*loss, step);
    }
    mrb_dc_data d = {.nx = t->nx, .ny = t->ny, .nt = t->snt, .n = t->batch, .kspace = t->ks, .mask = t->mask};
    const mrb_tensor *out;
    MRB_TRY(mrb_cascade_forward(t->net, t->x0, &d, 1, &out));
    mrb_tensor pred = *out;
    pred.grad = t->dout->grad;
    mrb_tensor_zero_grad(t->dout);
    double mse;
    /* mean over complex pixels of |e|^2 = 2 x the mean over the real entries */
    MRB_TRY(mrb_nn_mse_loss(&pred, t->target, 2.0f, &mse));
    mrb_cascade_zero_grad(t->net);
    MRB_TRY(mrb_cascade_backward(t->net, t->dout->grad));
    mrb_optim_step(t->opt);
    *loss = mse + t->o->weight_decay * weight_norm2(t);
    return finite_loss(*loss, step);
}

/* Mean complex PSNR over the validation items: 10 log10(max|ref|^2 / mean|rec - ref|^2). */
static mrb_status validate(trainer *t, double *psnr)
{
    const mrb_cascade_train_opts *o = t->o;
    *psnr = NAN;
    if (!o->nval) return MRB_OK;
    size_t vol = t->nx * t->ny * t->nt;
    size_t kd[4] = {t->nx, t->ny, t->nt, 1};
    mrb_array *ks = mrb_array_create(MRB_C64, 4, kd), *rec = mrb_array_create3(MRB_C64, t->nx, t->ny, t->nt);
    mrb_status st = (ks && rec) ? MRB_OK : MRB_ERR_NOMEM;
    double sum = 0;
    for (size_t i = 0; st == MRB_OK && i < o->nval; i++) {
        mrb_array *m = NULL;
        st = t->make_mask(t->mask_ctx, mrb_seed_derive(o->seed, "cascade-val-mask", i), t->nx, t->ny, t->nt, &m);
        if (st == MRB_OK && (!m || mrb_array_count(m) != vol))
            st = mrb_error(MRB_ERR_RUN, "cascade training: the mask generator returned a wrong mask");
        if (st == MRB_OK) {
            memcpy(ks->data, o->val[i]->data, vol * 2 * sizeof(float));
            st = mrb_fft_centered(MRB_FFT_FORWARD, 2, 3, kd, ks->data, mrb_nn_threads());
        }
        if (st == MRB_OK)
            st = t->dev && o->device->reconstruct ? o->device->reconstruct(t->dev, ks, m, rec)
                                                  : mrb_cascade_reconstruct(t->net, ks, m, rec);
        if (st == MRB_OK) {
            const float complex *ref = o->val[i]->data, *x = rec->data;
            double peak = 0, err = 0;
            for (size_t j = 0; j < vol; j++) {
                double a = cabsf(ref[j]);
                if (a > peak) peak = a;
                double e = cabsf(x[j] - ref[j]);
                err += e * e;
            }
            err /= (double)vol;
            sum += 10.0 * log10(peak * peak / (err > 0 ? err : 1e-30));
        }
        mrb_array_free(m);
    }
    mrb_array_free(ks);
    mrb_array_free(rec);
    if (st == MRB_OK) *psnr = sum / (double)o->nval;
    return st;
}

/* ---- checkpoints: parameters + Adam moments, with epoch and step ---- */

typedef struct ckpt_meta {
    int epoch, ok_format, temporal, n_c, n_d, n_f;
    unsigned long long step, seed;
    /* the training the checkpoint belongs to, and its tensors' hash (absent in older checkpoints) */
    int has_setup, has_tensors_hash;
    unsigned long long batch, data_hash, tensors_hash;
    double lr, weight_decay, val_psnr;
    char shape[64];
} ckpt_meta;

static void ckpt_collect(void *ctx, const char *k, const char *v)
{
    ckpt_meta *m = ctx;
    if (!strcmp(k, "format"))
        m->ok_format = !strcmp(v, CHECKPOINT_FORMAT);
    else if (!strcmp(k, "epoch"))
        m->epoch = atoi(v);
    else if (!strcmp(k, "step"))
        m->step = strtoull(v, NULL, 10);
    else if (!strcmp(k, "seed"))
        m->seed = strtoull(v, NULL, 10);
    else if (!strcmp(k, "arch"))
        m->temporal = !strcmp(v, "2dt");
    else if (!strcmp(k, "n_c"))
        m->n_c = atoi(v);
    else if (!strcmp(k, "n_d"))
        m->n_d = atoi(v);
    else if (!strcmp(k, "n_f"))
        m->n_f = atoi(v);
    else if (!strcmp(k, "batch"))
        m->batch = strtoull(v, NULL, 10), m->has_setup = 1;
    else if (!strcmp(k, "lr"))
        m->lr = strtod(v, NULL);
    else if (!strcmp(k, "weight_decay"))
        m->weight_decay = strtod(v, NULL);
    else if (!strcmp(k, "shape"))
        snprintf(m->shape, sizeof m->shape, "%s", v);
    else if (!strcmp(k, "data_fnv1a64"))
        m->data_hash = strtoull(v, NULL, 16);
    else if (!strcmp(k, "tensors_fnv1a64"))
        m->tensors_hash = strtoull(v, NULL, 16), m->has_tensors_hash = 1;
    else if (!strcmp(k, "val_psnr"))
        m->val_psnr = strtod(v, NULL);
}

static uint64_t tensors_hash(const mrb_named_tensor *ts, size_t n)
{
    uint64_t h = MRB_FNV1A64_BASIS;
    for (size_t i = 0; i < n; i++) h = mrb_cascade_fnv1a(h, ts[i].t->data, mrb_tensor_count(ts[i].t) * sizeof(float));
    return h;
}

/* Named list of parameters followed by the optimiser moments (tensor views on
 * the optimiser's buffers: views[] holds their headers). */
static mrb_status ckpt_list(trainer *t, mrb_named_tensor **out, mrb_tensor **views, char (**names)[96], size_t *n)
{
    size_t ns = mrb_optim_nstate(t->opt), total = t->nparams + ns;
    *out = calloc(total, sizeof **out);
    *views = calloc(ns ? ns : 1, sizeof **views);
    *names = calloc(ns ? ns : 1, sizeof **names);
    if (!*out || !*views || !*names) return mrb_error(MRB_ERR_NOMEM, "cascade training: out of memory");
    for (size_t i = 0; i < t->nparams; i++) (*out)[i] = t->params[i];
    for (size_t k = 0; k < ns; k++) {
        size_t cnt, pi = k % t->nparams;
        float *buf = mrb_optim_state(t->opt, k, &cnt);
        (*views)[k] = *t->params[pi].t;
        (*views)[k].data = buf;
        (*views)[k].grad = NULL;
        snprintf((*names)[k], 96, "optimizer.%s.%s", k < t->nparams ? "exp_avg" : "exp_avg_sq", t->params[pi].name);
        (*out)[t->nparams + k] = (mrb_named_tensor){(*names)[k], &(*views)[k]};
    }
    *n = total;
    return MRB_OK;
}

static mrb_status ckpt_write(trainer *t, const char *path, int epoch, uint64_t step, double psnr)
{
    mrb_named_tensor *ts = NULL;
    mrb_tensor *views = NULL;
    char(*names)[96] = NULL;
    size_t n = 0;
    mrb_status st = ckpt_list(t, &ts, &views, &names, &n);
    if (st == MRB_OK) {
        const mrb_cascade_arch *a = mrb_cascade_get_arch(t->net);
        char se[16], ss[24], sd[24], snc[16], snd[16], snf[16], sb[24], slr[32], swd[32], ssh[64], sdh[24], sth[24],
            sps[32];
        snprintf(sb, sizeof sb, "%zu", t->batch);
        snprintf(slr, sizeof slr, "%.17g", t->o->lr);
        snprintf(swd, sizeof swd, "%.17g", t->o->weight_decay);
        snprintf(ssh, sizeof ssh, "%zux%zux%zu", t->nx, t->ny, t->nt);
        snprintf(sdh, sizeof sdh, "%016llx", (unsigned long long)t->data_hash);
        snprintf(sth, sizeof sth, "%016llx", (unsigned long long)tensors_hash(ts, n));
        snprintf(sps, sizeof sps, "%.17g", psnr);
        snprintf(se, sizeof se, "%d", epoch);
        snprintf(ss, sizeof ss, "%llu", (unsigned long long)step);
        snprintf(sd, sizeof sd, "%llu", (unsigned long long)t->o->seed);
        snprintf(snc, sizeof snc, "%d", a->n_c);
        snprintf(snd, sizeof snd, "%d", a->n_d);
        snprintf(snf, sizeof snf, "%d", a->n_f);
        /* key, value pairs */
        /* clang-format off */
        const char *meta[] = {"format", CHECKPOINT_FORMAT, "arch", a->temporal ? "2dt" : "2d",
                              "n_c", snc, "n_d", snd, "n_f", snf,
                              "epoch", se, "step", ss, "seed", sd,
                              "batch", sb, "lr", slr, "weight_decay", swd, "shape", ssh,
                              "data_fnv1a64", sdh, "tensors_fnv1a64", sth, "val_psnr", sps};
        /* clang-format on */
        st = mrb_safetensors_write(path, ts, n, meta, sizeof meta / sizeof *meta / 2);
    }
    free(ts);
    free(views);
    free(names);
    return st;
}

static mrb_status ckpt_read(trainer *t, const char *path, int *epoch, uint64_t *step, double *psnr)
{
    ckpt_meta m;
    memset(&m, 0, sizeof m);
    MRB_TRY(mrb_safetensors_read_meta(path, ckpt_collect, &m));
    const mrb_cascade_arch *a = &t->o->arch;
    if (!m.ok_format) return mrb_error(MRB_ERR_INVALID, "%s: not a Deep Cascade training checkpoint", path);
    if (m.temporal != a->temporal || m.n_c != a->n_c || m.n_d != a->n_d || m.n_f != a->n_f ||
        m.seed != (unsigned long long)t->o->seed)
        return mrb_error(MRB_ERR_INVALID,
                         "%s: checkpoint of %s n_c=%d n_d=%d n_f=%d seed %llu does not match this training "
                         "(%s n_c=%d n_d=%d n_f=%d seed %llu)",
                         path, m.temporal ? "2dt" : "2d", m.n_c, m.n_d, m.n_f, m.seed, a->temporal ? "2dt" : "2d",
                         a->n_c, a->n_d, a->n_f, (unsigned long long)t->o->seed);
    char shape[64];
    snprintf(shape, sizeof shape, "%zux%zux%zu", t->nx, t->ny, t->nt);
    if (m.has_setup && (m.batch != t->batch || m.lr != t->o->lr || m.weight_decay != t->o->weight_decay ||
                        strcmp(m.shape, shape) != 0 || m.data_hash != t->data_hash))
        return mrb_error(MRB_ERR_INVALID,
                         "%s: checkpoint of another training (batch %llu, lr %g, weight decay %g, items %s, data "
                         "%016llx) than this one (batch %zu, lr %g, weight decay %g, items %s, data %016llx); "
                         "resume only the training that wrote it, or remove the checkpoint",
                         path, m.batch, m.lr, m.weight_decay, m.shape, m.data_hash, t->batch, t->o->lr,
                         t->o->weight_decay, shape, (unsigned long long)t->data_hash);
    mrb_named_tensor *ts = NULL;
    mrb_tensor *views = NULL;
    char(*names)[96] = NULL;
    size_t n = 0;
    mrb_status st = ckpt_list(t, &ts, &views, &names, &n);
    if (st == MRB_OK) st = mrb_safetensors_read(path, ts, n, NULL, NULL);
    if (st == MRB_OK && m.has_tensors_hash && tensors_hash(ts, n) != m.tensors_hash)
        st = mrb_error(MRB_ERR_INVALID, "%s: the checkpoint's tensors do not match their hash (corrupted)", path);
    free(ts);
    free(views);
    free(names);
    *epoch = m.epoch;
    *step = m.step;
    *psnr = m.has_setup ? m.val_psnr : NAN;
    return st;
}

static mrb_status trainer_init(trainer *t, const mrb_cascade_train_opts *o, sampler_ctx *sc)
{
    memset(t, 0, sizeof *t);
    t->o = o;
    if (!o->train || o->ntrain == 0) return mrb_error(MRB_ERR_INVALID, "cascade training: no training items");
    if (o->epochs < 1 || o->batch < 1)
        return mrb_error(MRB_ERR_INVALID, "cascade training: epochs and batch must be >= 1");
    MRB_TRY(check_items("training", o->train, o->ntrain, t));
    MRB_TRY(check_items("validation", o->val, o->nval, t));
    t->snt = o->arch.temporal ? t->nt : 1;
    t->svol = t->nx * t->ny * t->snt;
    t->nsamples = o->arch.temporal ? o->ntrain : o->ntrain * t->nt;
    if ((size_t)o->batch > t->nsamples)
        return mrb_error(MRB_ERR_INVALID, "cascade training: batch %d exceeds the %zu training samples (%s)", o->batch,
                         t->nsamples, o->arch.temporal ? "series" : "frames of the training items");
    t->batch = (size_t)o->batch;
    t->data_hash = MRB_FNV1A64_BASIS;
    for (size_t i = 0; i < o->ntrain; i++)
        t->data_hash = mrb_cascade_fnv1a(t->data_hash, o->train[i]->data, mrb_array_bytes(o->train[i]));
    for (size_t i = 0; i < o->nval; i++)
        t->data_hash = mrb_cascade_fnv1a(t->data_hash, o->val[i]->data, mrb_array_bytes(o->val[i]));
    if (o->make_mask) {
        t->make_mask = o->make_mask;
        t->mask_ctx = o->mask_ctx;
    } else {
        sc->desc = mrb_sampler_find("cartesian-vd");
        if (!sc->desc)
            return mrb_error(MRB_ERR_UNSUPPORTED,
                             "cascade training: no mask generator given and no 'cartesian-vd' sampler registered");
        mrb_params_defaults(&sc->params, sc->desc->params, sc->desc->nparams);
        char acc[32], centre[32];
        snprintf(acc, sizeof acc, "%.17g", o->acceleration);
        snprintf(centre, sizeof centre, "%d", o->sample_n);
        MRB_TRY(mrb_params_set_text(&sc->params, sc->desc->params, sc->desc->nparams, "acceleration", acc,
                                    "cascade training"));
        MRB_TRY(mrb_params_set_text(&sc->params, sc->desc->params, sc->desc->nparams, "centre_lines", centre,
                                    "cascade training"));
        t->make_mask = sampler_mask;
        t->mask_ctx = sc;
    }
    MRB_TRY(mrb_cascade_create(&o->arch, mrb_seed_derive(o->seed, "cascade-init", 0), &t->net));
    size_t np = mrb_cascade_params(t->net, NULL, 0);
    t->params = calloc(np, sizeof *t->params);
    t->decay = calloc(np, sizeof *t->decay);
    if (!t->params || !t->decay) return mrb_error(MRB_ERR_NOMEM, "cascade training: out of memory");
    t->nparams = mrb_cascade_params(t->net, t->params, np);
    /* decay the convolution weights only (Lasagne regularises weights, not biases) */
    mrb_tensor **pt = calloc(np, sizeof *pt);
    if (!pt) return mrb_error(MRB_ERR_NOMEM, "cascade training: out of memory");
    size_t ntrainable = 0;
    for (size_t i = 0; i < t->nparams; i++) {
        int is_lambda = strstr(t->params[i].name, ".dc.") != NULL;
        if (is_lambda && !o->arch.lambda_trainable) continue;
        t->decay[ntrainable] = strstr(t->params[i].name, ".weight") != NULL;
        t->params[ntrainable] = t->params[i];
        pt[ntrainable++] = t->params[i].t;
    }
    t->adam = mrb_adam_defaults();
    t->adam.lr = o->lr;
    t->adam.weight_decay = o->weight_decay;
    mrb_status st = mrb_optim_adam_create(pt, t->decay, ntrainable, &t->adam, &t->opt);
    free(pt);
    MRB_TRY(st);
    /* the checkpoint stores the trainable tensors (+ moments); fixed lambdas live in the arch */
    t->nparams = ntrainable;
    size_t total = t->batch * t->svol;
    t->ks = mrb_malloc(2 * total * sizeof(float));
    t->mask = mrb_malloc(total * sizeof(float));
    t->zf = mrb_malloc(2 * total * sizeof(float));
    t->x0 = sample_tensor(t, t->batch, 0);
    t->target = sample_tensor(t, t->batch, 0);
    t->dout = sample_tensor(t, t->batch, 1);
    if (!t->ks || !t->mask || !t->zf || !t->x0 || !t->target || !t->dout)
        return mrb_error(MRB_ERR_NOMEM, "cascade training: out of memory for a batch of %zu", t->batch);
    return MRB_OK;
}

/* The final weights with the caller's metadata and how far training went. */
static mrb_status save_weights(trainer *t, uint64_t step, int epochs, double psnr)
{
    const mrb_cascade_train_opts *o = t->o;
    size_t n = o->nweights_meta + 3;
    const char **meta = malloc(2 * n * sizeof *meta);
    if (!meta) return mrb_error(MRB_ERR_NOMEM, "cascade training: out of memory");
    if (o->nweights_meta) memcpy(meta, o->weights_meta, 2 * o->nweights_meta * sizeof *meta);
    char ssteps[24], sepochs[16], spsnr[32];
    snprintf(ssteps, sizeof ssteps, "%llu", (unsigned long long)step);
    snprintf(sepochs, sizeof sepochs, "%d", epochs);
    snprintf(spsnr, sizeof spsnr, "%.6f", psnr);
    const char *own[6] = {"training_steps", ssteps, "training_epochs", sepochs, "training_val_psnr", spsnr};
    memcpy(meta + 2 * o->nweights_meta, own, sizeof own);
    mrb_status st = mrb_cascade_save_meta(t->net, o->weights_out, meta, n);
    free(meta);
    return st;
}

mrb_status mrb_cascade_train(const mrb_cascade_train_opts *o, double *final_psnr)
{
    if (final_psnr) *final_psnr = NAN;
    mrb_nn_set_threads(o->nthreads > 0 ? o->nthreads : 1);
    trainer t;
    sampler_ctx sc;
    memset(&sc, 0, sizeof sc);
    mrb_status st = trainer_init(&t, o, &sc);
    int start_epoch = 1;
    uint64_t step = 0;
    double psnr = NAN; /* the last validation: the checkpoint's when no epoch is left to run */
    if (st == MRB_OK && o->checkpoint && o->resume && access(o->checkpoint, F_OK) == 0) {
        int done_epoch = 0;
        st = ckpt_read(&t, o->checkpoint, &done_epoch, &step, &psnr);
        if (st == MRB_OK) {
            mrb_optim_set_steps(t.opt, step);
            start_epoch = done_epoch + 1;
        }
    }
    /* the device starts from the initial or resumed weights and moments */
    if (st == MRB_OK && o->device) st = o->device->open(t.net, t.opt, &t.adam, t.batch, t.nx, t.ny, t.snt, &t.dev);
    size_t *perm = st == MRB_OK ? malloc(t.nsamples * sizeof *perm) : NULL;
    if (st == MRB_OK && !perm) st = mrb_error(MRB_ERR_NOMEM, "cascade training: out of memory");
    size_t nbatches = t.nsamples / (t.batch ? t.batch : 1);
    int stop = 0, last_epoch = start_epoch - 1; /* the last epoch validated and checkpointed */
    for (int epoch = start_epoch; st == MRB_OK && !stop && epoch <= o->epochs; epoch++) {
        mrb_rng rng;
        mrb_rng_seed(&rng, mrb_seed_derive(o->seed, "cascade-epoch", (uint64_t)epoch));
        for (size_t i = 0; i < t.nsamples; i++) perm[i] = i;
        for (size_t i = t.nsamples; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)mrb_rng_below(&rng, i);
            size_t tmp = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = tmp;
        }
        for (size_t b = 0; st == MRB_OK && !stop && b < nbatches; b++) {
            double loss;
            st = train_step(&t, perm + b * t.batch, step, &loss);
            step++;
            if (st == MRB_OK && o->progress) {
                mrb_cascade_progress p = {epoch, (size_t)step, loss, NAN, 0};
                stop = o->progress(o->progress_ctx, &p);
            }
        }
        if (st != MRB_OK || stop) break;
        if (t.dev) st = o->device->sync(t.dev, t.net, t.opt);
        if (st == MRB_OK) st = validate(&t, &psnr);
        if (st == MRB_OK && o->checkpoint) st = ckpt_write(&t, o->checkpoint, epoch, step, psnr);
        if (st == MRB_OK) last_epoch = epoch;
        if (st == MRB_OK && o->progress) {
            mrb_cascade_progress p = {epoch, (size_t)step, NAN, psnr, 1};
            stop = o->progress(o->progress_ctx, &p);
        }
    }
    if (st == MRB_OK && t.dev) st = o->device->sync(t.dev, t.net, t.opt); /* stopped within an epoch */
    if (st == MRB_OK && o->weights_out) st = save_weights(&t, step, last_epoch, psnr);
    if (st == MRB_OK && final_psnr) *final_psnr = psnr;
    free(perm);
    trainer_free(&t);
    return st;
}
