/* Deep Cascade of CNNs for MR reconstruction (Schlemper, Caballero, Hajnal,
 * Price, Rueckert, IEEE TMI 2017): n_c cascades of [n_d convolutions (3x3 in
 * 2D, 3x3x3 in 2D+t), n_f filters, ReLU after all but the last] + residual +
 * data consistency; 2D+t adds a data-sharing layer at the start of each
 * cascade (see mrb_nn_datashare_forward for the channel layout: the input and
 * windows of 1, 3, 5, 7, 9 frames, 12 channels).
 *
 * Parameter names follow a PyTorch module with
 *   self.cascades = ModuleList([Cascade(...)]) ; Cascade.conv = ModuleList([Conv2d/Conv3d ...])
 * and, for the noisy DC with a learnable lambda, Cascade.dc.lmbda (shape [1]):
 *   cascades.{i}.conv.{j}.weight / .bias, cascades.{i}.dc.lmbda */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mrbench/nn.h"
#include "recon/cascade/cascade_internal.h"

/* D5-C5 for 2D and D5-C10(S) for 2D+t with 64 filters (Schlemper et al. 2017,
 * section IV and the released models). */
#define CASCADE_2D_NC 5
#define CASCADE_2DT_NC 10
#define CASCADE_ND 5
#define CASCADE_NF 64
#define CASCADE_NAME_MAX 64

struct mrb_cascade {
    mrb_cascade_arch arch;
    mrb_conv **conv;     /* n_c * n_d */
    mrb_tensor **lambda; /* n_c tensors [1] (noisy DC only) */
    char (*names)[CASCADE_NAME_MAX];
    size_t nparams;
    /* activations for the current input shape */
    int ndim;
    size_t shape[MRB_NN_MAX_DIMS]; /* input [N, 2, (nt,) ny, nx] */
    int train;                     /* activations allocated for training */
    mrb_tensor **xin;              /* n_c + 1: cascade inputs; xin[n_c] is the output */
    mrb_tensor **ds;               /* n_c (2D+t) */
    mrb_tensor **res;              /* n_c */
    mrb_tensor **act;              /* n_c * n_d (aliases in inference) */
    mrb_tensor **owned;            /* the distinct activation tensors */
    size_t nowned;
    mrb_dc_data data; /* of the last forward (caller's buffers) */
};

mrb_cascade_arch mrb_cascade_arch_default(int temporal)
{
    mrb_cascade_arch a;
    memset(&a, 0, sizeof a);
    a.temporal = temporal ? 1 : 0;
    a.n_c = temporal ? CASCADE_2DT_NC : CASCADE_2D_NC;
    a.n_d = CASCADE_ND;
    a.n_f = CASCADE_NF;
    a.lambda = -1.0;
    a.lambda_trainable = 0;
    return a;
}

const mrb_cascade_arch *mrb_cascade_get_arch(const mrb_cascade *c)
{
    return &c->arch;
}

static void free_activations(mrb_cascade *c)
{
    for (size_t i = 0; i < c->nowned; i++) mrb_tensor_free(c->owned[i]);
    free(c->owned);
    c->owned = NULL;
    c->nowned = 0;
    size_t nc = (size_t)c->arch.n_c, nd = (size_t)c->arch.n_d;
    if (c->xin) memset(c->xin, 0, (nc + 1) * sizeof *c->xin);
    if (c->ds) memset(c->ds, 0, nc * sizeof *c->ds);
    if (c->res) memset(c->res, 0, nc * sizeof *c->res);
    if (c->act) memset(c->act, 0, nc * nd * sizeof *c->act);
    c->ndim = 0;
}

void mrb_cascade_free(mrb_cascade *c)
{
    if (!c) return;
    free_activations(c);
    size_t nc = (size_t)c->arch.n_c, nd = (size_t)c->arch.n_d;
    if (c->conv)
        for (size_t i = 0; i < nc * nd; i++) mrb_conv_free(c->conv[i]);
    if (c->lambda)
        for (size_t i = 0; i < nc; i++) mrb_tensor_free(c->lambda[i]);
    free(c->conv);
    free(c->lambda);
    free(c->names);
    free(c->xin);
    free(c->ds);
    free(c->res);
    free(c->act);
    free(c);
}

mrb_status mrb_cascade_create(const mrb_cascade_arch *arch, uint64_t seed, mrb_cascade **out)
{
    *out = NULL;
    if (arch->n_c < 1 || arch->n_d < 2 || arch->n_f < 1)
        return mrb_error(MRB_ERR_INVALID, "cascade: n_c %d, n_d %d, n_f %d (need n_c >= 1, n_d >= 2, n_f >= 1)",
                         arch->n_c, arch->n_d, arch->n_f);
    mrb_cascade *c = calloc(1, sizeof *c);
    if (!c) return mrb_error(MRB_ERR_NOMEM, "cascade: out of memory");
    c->arch = *arch;
    c->arch.temporal = arch->temporal ? 1 : 0;
    size_t nc = (size_t)arch->n_c, nd = (size_t)arch->n_d, nf = (size_t)arch->n_f;
    int noisy = arch->lambda >= 0;
    c->conv = calloc(nc * nd, sizeof *c->conv);
    c->lambda = calloc(nc, sizeof *c->lambda);
    c->nparams = nc * nd * 2 + (noisy ? nc : 0);
    c->names = calloc(c->nparams, sizeof *c->names);
    c->xin = calloc(nc + 1, sizeof *c->xin);
    c->ds = calloc(nc, sizeof *c->ds);
    c->res = calloc(nc, sizeof *c->res);
    c->act = calloc(nc * nd, sizeof *c->act);
    if (!c->conv || !c->lambda || !c->names || !c->xin || !c->ds || !c->res || !c->act) {
        mrb_cascade_free(c);
        return mrb_error(MRB_ERR_NOMEM, "cascade: out of memory");
    }
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    int rank = arch->temporal ? 3 : 2;
    size_t cin0 = arch->temporal ? MRB_DS_CHANNELS : 2;
    for (size_t i = 0; i < nc; i++) {
        for (size_t j = 0; j < nd; j++) {
            size_t cin = j == 0 ? cin0 : nf, cout = j == nd - 1 ? 2 : nf;
            mrb_conv_cfg cfg = mrb_conv_cfg_same(rank, cin, cout, 3, j == nd - 1 ? MRB_ACT_NONE : MRB_ACT_RELU);
            mrb_status st = mrb_conv_create(&cfg, &c->conv[i * nd + j]);
            if (st != MRB_OK) {
                mrb_cascade_free(c);
                return st;
            }
            mrb_conv_init_he(c->conv[i * nd + j], &rng);
        }
        if (noisy) {
            size_t one = 1;
            c->lambda[i] = mrb_tensor_create(1, &one, 1);
            if (!c->lambda[i]) {
                mrb_cascade_free(c);
                return MRB_ERR_NOMEM;
            }
            c->lambda[i]->data[0] = (float)arch->lambda;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < nc; i++) {
        for (size_t j = 0; j < nd; j++) {
            snprintf(c->names[k++], CASCADE_NAME_MAX, "cascades.%zu.conv.%zu.weight", i, j);
            snprintf(c->names[k++], CASCADE_NAME_MAX, "cascades.%zu.conv.%zu.bias", i, j);
        }
        if (noisy) snprintf(c->names[k++], CASCADE_NAME_MAX, "cascades.%zu.dc.lmbda", i);
    }
    *out = c;
    return MRB_OK;
}

size_t mrb_cascade_params(mrb_cascade *c, mrb_named_tensor *out, size_t cap)
{
    size_t nc = (size_t)c->arch.n_c, nd = (size_t)c->arch.n_d, k = 0;
    for (size_t i = 0; i < nc; i++) {
        for (size_t j = 0; j < nd; j++) {
            mrb_conv *cv = c->conv[i * nd + j];
            if (k < cap) out[k] = (mrb_named_tensor){c->names[k], cv->weight};
            k++;
            if (k < cap) out[k] = (mrb_named_tensor){c->names[k], cv->bias};
            k++;
        }
        if (c->lambda[i]) {
            if (k < cap) out[k] = (mrb_named_tensor){c->names[k], c->lambda[i]};
            k++;
        }
    }
    return k;
}

size_t mrb_cascade_param_count(const mrb_cascade *c)
{
    size_t nc = (size_t)c->arch.n_c, nd = (size_t)c->arch.n_d, total = 0;
    for (size_t i = 0; i < nc * nd; i++) {
        total += mrb_tensor_count(c->conv[i]->weight);
        total += mrb_tensor_count(c->conv[i]->bias);
    }
    for (size_t i = 0; i < nc; i++)
        if (c->lambda[i]) total += 1;
    return total;
}

void mrb_cascade_zero_grad(mrb_cascade *c)
{
    size_t nc = (size_t)c->arch.n_c, nd = (size_t)c->arch.n_d;
    for (size_t i = 0; i < nc * nd; i++) {
        mrb_tensor_zero_grad(c->conv[i]->weight);
        mrb_tensor_zero_grad(c->conv[i]->bias);
    }
    for (size_t i = 0; i < nc; i++) mrb_tensor_zero_grad(c->lambda[i]);
}

static mrb_tensor *own(mrb_cascade *c, size_t channels, int grad)
{
    size_t s[MRB_NN_MAX_DIMS];
    memcpy(s, c->shape, sizeof s);
    s[1] = channels;
    mrb_tensor *t = mrb_tensor_create(c->ndim, s, grad);
    if (t) c->owned[c->nowned++] = t;
    return t;
}

/* Allocates the activations for input shape x (once per shape and mode).
 * Inference keeps two alternating feature tensors; training keeps all. */
static mrb_status ensure_activations(mrb_cascade *c, const mrb_tensor *x, int train)
{
    if (c->ndim == x->ndim && !memcmp(c->shape, x->shape, (size_t)x->ndim * sizeof(size_t)) && c->train >= train)
        return MRB_OK;
    free_activations(c);
    size_t nc = (size_t)c->arch.n_c, nd = (size_t)c->arch.n_d, nf = (size_t)c->arch.n_f;
    c->owned = calloc(4 * nc + 2 + nc * nd, sizeof *c->owned);
    if (!c->owned) return mrb_error(MRB_ERR_NOMEM, "cascade: out of memory");
    c->ndim = x->ndim;
    memset(c->shape, 0, sizeof c->shape);
    memcpy(c->shape, x->shape, (size_t)x->ndim * sizeof(size_t));
    c->train = train;
    int ok = 1;
    for (size_t i = 0; i <= nc && ok; i++) ok = (c->xin[i] = own(c, 2, train && i > 0)) != NULL;
    for (size_t i = 0; i < nc && ok; i++) {
        ok = (c->res[i] = own(c, 2, train)) != NULL;
        if (ok && c->arch.temporal) ok = (c->ds[i] = own(c, MRB_DS_CHANNELS, train && i > 0)) != NULL;
    }
    if (train) {
        for (size_t k = 0; k < nc * nd && ok; k++) ok = (c->act[k] = own(c, k % nd == nd - 1 ? 2 : nf, 1)) != NULL;
    } else if (ok) {
        mrb_tensor *ping = own(c, nf, 0), *pong = ping ? own(c, nf, 0) : NULL;
        mrb_tensor *last = pong ? own(c, 2, 0) : NULL;
        ok = last != NULL;
        for (size_t k = 0; k < nc * nd && ok; k++) c->act[k] = k % nd == nd - 1 ? last : ((k % nd) % 2 ? pong : ping);
    }
    if (!ok) {
        free_activations(c);
        return MRB_ERR_NOMEM;
    }
    return MRB_OK;
}

static double dc_lambda(const mrb_cascade *c, size_t i)
{
    if (!c->lambda[i]) return -1.0;
    float l = c->lambda[i]->data[0];
    return l > 0.0f ? (double)l : 0.0; /* lambda is a precision ratio: kept >= 0 */
}

mrb_status mrb_cascade_forward(mrb_cascade *c, const mrb_tensor *x0, const mrb_dc_data *d, int train,
                               const mrb_tensor **out)
{
    char buf[64];
    int want = c->arch.temporal ? 5 : 4;
    if (x0->ndim != want || x0->shape[1] != 2)
        return mrb_error(MRB_ERR_INVALID, "cascade: input tensor %s (expected [N, 2, %sny, nx])",
                         mrb_tensor_shape_str(x0, buf, sizeof buf), c->arch.temporal ? "nt, " : "");
    MRB_TRY(ensure_activations(c, x0, train));
    c->data = *d;
    size_t nc = (size_t)c->arch.n_c, nd = (size_t)c->arch.n_d;
    memcpy(c->xin[0]->data, x0->data, mrb_tensor_count(x0) * sizeof(float));
    for (size_t i = 0; i < nc; i++) {
        const mrb_tensor *h = c->xin[i];
        if (c->arch.temporal) {
            MRB_TRY(mrb_nn_datashare_forward(c->xin[i], d, i == 0, c->ds[i]));
            h = c->ds[i];
        }
        for (size_t j = 0; j < nd; j++) {
            MRB_TRY(mrb_conv_forward(c->conv[i * nd + j], h, c->act[i * nd + j]));
            h = c->act[i * nd + j];
        }
        MRB_TRY(mrb_nn_add_forward(c->xin[i], h, c->res[i]));
        MRB_TRY(mrb_nn_dc_forward(c->res[i], d, dc_lambda(c, i), c->xin[i + 1]));
    }
    *out = c->xin[nc];
    return MRB_OK;
}

mrb_status mrb_cascade_backward(mrb_cascade *c, const float *dout)
{
    if (!c->ndim || !c->train) return mrb_error(MRB_ERR_INVALID, "cascade: backward needs a training forward first");
    size_t nc = (size_t)c->arch.n_c, nd = (size_t)c->arch.n_d;
    for (size_t i = 0; i < c->nowned; i++) mrb_tensor_zero_grad(c->owned[i]);
    memcpy(c->xin[nc]->grad, dout, mrb_tensor_count(c->xin[nc]) * sizeof(float));
    const mrb_dc_data *d = &c->data;
    for (size_t ii = nc; ii-- > 0;) {
        double dl = 0.0;
        int learn = c->lambda[ii] && c->arch.lambda_trainable;
        MRB_TRY(mrb_nn_dc_backward(c->res[ii], d, dc_lambda(c, ii), c->xin[ii + 1], learn ? &dl : NULL));
        if (learn) c->lambda[ii]->grad[0] += (float)dl;
        mrb_tensor *last = c->act[ii * nd + nd - 1];
        MRB_TRY(mrb_nn_add_backward(c->xin[ii], last, c->res[ii]));
        for (size_t j = nd; j-- > 0;) {
            mrb_tensor *in = j ? c->act[ii * nd + j - 1] : (c->arch.temporal ? c->ds[ii] : c->xin[ii]);
            MRB_TRY(mrb_conv_backward(c->conv[ii * nd + j], in, c->act[ii * nd + j]));
        }
        if (c->arch.temporal && ii > 0) MRB_TRY(mrb_nn_datashare_backward(c->xin[ii], d, 0, c->ds[ii]));
    }
    return MRB_OK;
}

/* ---- weights files ---- */

#define CASCADE_FORMAT "mrbench-deep-cascade"

uint64_t mrb_cascade_fnv1a(uint64_t h, const void *p, size_t n)
{
    /* FNV-1a 64-bit (Fowler, Noll, Vo): offset basis and prime from the reference. */
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t weights_hash(mrb_cascade *c)
{
    mrb_named_tensor *ts = calloc(c->nparams, sizeof *ts);
    uint64_t h = MRB_FNV1A64_BASIS;
    if (!ts) return 0;
    size_t n = mrb_cascade_params(c, ts, c->nparams);
    for (size_t i = 0; i < n; i++) h = mrb_cascade_fnv1a(h, ts[i].t->data, mrb_tensor_count(ts[i].t) * sizeof(float));
    free(ts);
    return h;
}

mrb_status mrb_cascade_save(const mrb_cascade *cc, const char *path)
{
    return mrb_cascade_save_meta(cc, path, NULL, 0);
}

/* The architecture's metadata pairs, then the caller's. */
#define CASCADE_META_PAIRS 9

mrb_status mrb_cascade_save_meta(const mrb_cascade *cc, const char *path, const char *const *extra, size_t nextra)
{
    mrb_cascade *c = (mrb_cascade *)cc; /* parameters are only read */
    mrb_named_tensor *ts = calloc(c->nparams, sizeof *ts);
    const char **meta = malloc((2 * CASCADE_META_PAIRS + 2 * nextra) * sizeof *meta);
    if (!ts || !meta) {
        free(ts);
        free(meta);
        return mrb_error(MRB_ERR_NOMEM, "cascade: out of memory");
    }
    size_t n = mrb_cascade_params(c, ts, c->nparams);
    char snc[16], snd[16], snf[16], slam[32], strain[4], shash[24], scount[24];
    snprintf(snc, sizeof snc, "%d", c->arch.n_c);
    snprintf(snd, sizeof snd, "%d", c->arch.n_d);
    snprintf(snf, sizeof snf, "%d", c->arch.n_f);
    snprintf(slam, sizeof slam, "%.9g", c->arch.lambda);
    snprintf(strain, sizeof strain, "%d", c->arch.lambda_trainable ? 1 : 0);
    snprintf(shash, sizeof shash, "%016llx", (unsigned long long)weights_hash(c));
    snprintf(scount, sizeof scount, "%zu", mrb_cascade_param_count(c));
    const char *arch[2 * CASCADE_META_PAIRS] = {"format",
                                                CASCADE_FORMAT,
                                                "arch",
                                                c->arch.temporal ? "2dt" : "2d",
                                                "n_c",
                                                snc,
                                                "n_d",
                                                snd,
                                                "n_f",
                                                snf,
                                                "dc_lambda",
                                                slam,
                                                "dc_lambda_trainable",
                                                strain,
                                                "parameters",
                                                scount,
                                                "weights_fnv1a64",
                                                shash};
    memcpy(meta, arch, sizeof arch);
    if (nextra) memcpy(meta + 2 * CASCADE_META_PAIRS, extra, 2 * nextra * sizeof *meta);
    mrb_status st = mrb_safetensors_write(path, ts, n, meta, CASCADE_META_PAIRS + nextra);
    free(ts);
    free(meta);
    return st;
}

typedef struct file_meta {
    int has_format, temporal, n_c, n_d, n_f, lambda_trainable, has_hash;
    double lambda;
    uint64_t hash;
} file_meta;

/* A metadata integer: the whole string a decimal int, else -1. */
static int meta_int(const char *value)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end || errno || v < INT_MIN || v > INT_MAX) return -1;
    return (int)v;
}

static void collect_meta(void *ctx, const char *key, const char *value)
{
    file_meta *m = ctx;
    if (!strcmp(key, "format"))
        m->has_format = !strcmp(value, CASCADE_FORMAT);
    else if (!strcmp(key, "arch"))
        m->temporal = !strcmp(value, "2dt") ? 1 : (!strcmp(value, "2d") ? 0 : -1);
    else if (!strcmp(key, "n_c"))
        m->n_c = meta_int(value);
    else if (!strcmp(key, "n_d"))
        m->n_d = meta_int(value);
    else if (!strcmp(key, "n_f"))
        m->n_f = meta_int(value);
    else if (!strcmp(key, "dc_lambda"))
        m->lambda = strtod(value, NULL);
    else if (!strcmp(key, "dc_lambda_trainable"))
        m->lambda_trainable = atoi(value);
    else if (!strcmp(key, "weights_fnv1a64")) {
        m->hash = strtoull(value, NULL, 16);
        m->has_hash = 1;
    }
}

/* The parameter count of an architecture as mrb_cascade_create lays it out
 * (n_d >= 2 convolutions of 3x3 or 3x3x3 weights and a bias each: first
 * cin0 -> n_f, then n_f -> n_f, last n_f -> 2; one lambda per cascade for
 * the noisy DC), in double: metadata can ask for more than size_t holds. */
static double arch_param_count(int temporal, int n_c, int n_d, int n_f, int noisy)
{
    double k = temporal ? 27 : 9, cin0 = temporal ? MRB_DS_CHANNELS : 2, nf = n_f;
    double first = nf * cin0 * k + nf, middle = nf * nf * k + nf, last = 2 * nf * k + 2;
    return (first + (n_d - 2) * middle + last + (noisy ? 1 : 0)) * n_c;
}

static mrb_status read_arch(const char *path, file_meta *m)
{
    memset(m, 0, sizeof *m);
    m->temporal = -1;
    m->lambda = -1.0;
    MRB_TRY(mrb_safetensors_read_meta(path, collect_meta, m));
    if (!m->has_format)
        return mrb_error(MRB_ERR_INVALID, "%s: not a Deep Cascade weights file (metadata format != %s)", path,
                         CASCADE_FORMAT);
    if (m->temporal < 0 || m->n_c < 1 || m->n_d < 2 || m->n_f < 1)
        return mrb_error(MRB_ERR_INVALID, "%s: invalid architecture metadata (arch, n_c, n_d, n_f)", path);
    /* The weights are in the file: an architecture larger than the file is
     * refused before the network is allocated (a few bytes of metadata must
     * not make mrb_cascade_open allocate gigabytes). */
    double bytes = arch_param_count(m->temporal, m->n_c, m->n_d, m->n_f, m->lambda >= 0) * sizeof(float);
    struct stat sb;
    if (stat(path, &sb) == 0 && bytes > (double)sb.st_size)
        return mrb_error(MRB_ERR_INVALID,
                         "%s: architecture %s n_c=%d n_d=%d n_f=%d needs %.0f bytes of weights, the file has %lld "
                         "(corrupt metadata or truncated file)",
                         path, m->temporal ? "2dt" : "2d", m->n_c, m->n_d, m->n_f, bytes, (long long)sb.st_size);
    return MRB_OK;
}

static mrb_status load_into(mrb_cascade *c, const char *path, const file_meta *m)
{
    const mrb_cascade_arch *a = &c->arch;
    if (m->temporal != a->temporal || m->n_c != a->n_c || m->n_d != a->n_d || m->n_f != a->n_f ||
        (m->lambda >= 0) != (a->lambda >= 0))
        return mrb_error(MRB_ERR_INVALID,
                         "%s: architecture %s n_c=%d n_d=%d n_f=%d %s DC does not match the network "
                         "(%s n_c=%d n_d=%d n_f=%d %s DC)",
                         path, m->temporal ? "2dt" : "2d", m->n_c, m->n_d, m->n_f,
                         m->lambda >= 0 ? "noisy" : "noiseless", a->temporal ? "2dt" : "2d", a->n_c, a->n_d, a->n_f,
                         a->lambda >= 0 ? "noisy" : "noiseless");
    mrb_named_tensor *ts = calloc(c->nparams, sizeof *ts);
    if (!ts) return mrb_error(MRB_ERR_NOMEM, "cascade: out of memory");
    size_t n = mrb_cascade_params(c, ts, c->nparams);
    mrb_status st = mrb_safetensors_read(path, ts, n, NULL, NULL);
    free(ts);
    if (st == MRB_OK && m->has_hash && weights_hash(c) != m->hash)
        st = mrb_error(MRB_ERR_INVALID, "%s: weights do not match their recorded hash (corrupt file)", path);
    return st;
}

mrb_status mrb_cascade_load(mrb_cascade *c, const char *path)
{
    file_meta m;
    MRB_TRY(read_arch(path, &m));
    return load_into(c, path, &m);
}

mrb_status mrb_cascade_open(const char *path, mrb_cascade **out)
{
    *out = NULL;
    file_meta m;
    MRB_TRY(read_arch(path, &m));
    mrb_cascade_arch a = mrb_cascade_arch_default(m.temporal);
    a.n_c = m.n_c;
    a.n_d = m.n_d;
    a.n_f = m.n_f;
    a.lambda = m.lambda;
    a.lambda_trainable = m.lambda_trainable;
    mrb_cascade *c;
    MRB_TRY(mrb_cascade_create(&a, 0, &c));
    mrb_status st = load_into(c, path, &m);
    if (st != MRB_OK) {
        mrb_cascade_free(c);
        return st;
    }
    *out = c;
    return MRB_OK;
}

/* ---- reconstruction ---- */

mrb_status mrb_cascade_zero_filled(const float *kspace_masked, size_t nx, size_t ny, size_t count, float *image)
{
    memcpy(image, kspace_masked, nx * ny * count * 2 * sizeof(float));
    size_t dims[3] = {nx, ny, count};
    return mrb_fft_centered(MRB_FFT_INVERSE, 2, 3, dims, image, mrb_nn_threads());
}

void mrb_cascade_mask_kspace(const float *kspace, const float *mask, size_t n, float *y)
{
    for (size_t i = 0; i < n; i++) {
        float w = mask[i] != 0.0f ? 1.0f : 0.0f;
        y[2 * i] = w * kspace[2 * i];
        y[2 * i + 1] = w * kspace[2 * i + 1];
    }
}

mrb_status mrb_cascade_reconstruct(mrb_cascade *c, const mrb_array *kspace, const mrb_array *mask, mrb_array *image)
{
    char b1[64], b2[64];
    if (kspace->dtype != MRB_C64 || kspace->ndim < 2 || (kspace->ndim >= 4 && kspace->dims[3] != 1))
        return mrb_error(MRB_ERR_INVALID, "cascade: k-space %s must be single-coil MRB_C64 [nx, ny, nt, 1]",
                         mrb_array_shape_str(kspace, b1, sizeof b1));
    size_t nx = kspace->dims[0], ny = kspace->dims[1], nt = kspace->ndim >= 3 ? kspace->dims[2] : 1;
    size_t vol = nx * ny * nt;
    if (mask->dtype != MRB_F32 || mrb_array_count(mask) != vol || mask->dims[0] != nx || mask->dims[1] != ny)
        return mrb_error(MRB_ERR_INVALID, "cascade: mask %s does not match k-space %s",
                         mrb_array_shape_str(mask, b1, sizeof b1), mrb_array_shape_str(kspace, b2, sizeof b2));
    if (image->dtype != MRB_C64 || mrb_array_count(image) != vol)
        return mrb_error(MRB_ERR_INVALID, "cascade: output image %s does not hold %zux%zux%zu complex pixels",
                         mrb_array_shape_str(image, b1, sizeof b1), nx, ny, nt);
    float *y = mrb_malloc(vol * 2 * sizeof(float));
    float *zf = mrb_malloc(vol * 2 * sizeof(float));
    mrb_status st = (y && zf) ? MRB_OK : mrb_error(MRB_ERR_NOMEM, "cascade: out of memory");
    const float *m = mask->data;
    if (st == MRB_OK) mrb_cascade_mask_kspace(kspace->data, m, vol, y);
    if (st == MRB_OK) st = mrb_cascade_zero_filled(y, nx, ny, nt, zf);
    /* 2D: frames one at a time (the same arithmetic as a batch, less memory). */
    size_t frames = c->arch.temporal ? 1 : nt, per = c->arch.temporal ? vol : nx * ny;
    mrb_tensor *x0 = NULL;
    if (st == MRB_OK) {
        x0 = c->arch.temporal ? mrb_tensor_create5(1, 2, nt, ny, nx, 0) : mrb_tensor_create4(1, 2, ny, nx, 0);
        if (!x0) st = MRB_ERR_NOMEM;
    }
    for (size_t f = 0; st == MRB_OK && f < frames; f++) {
        mrb_dc_data d = {.nx = nx,
                         .ny = ny,
                         .nt = c->arch.temporal ? nt : 1,
                         .n = 1,
                         .kspace = y + 2 * f * per,
                         .mask = m + f * per};
        mrb_nn_complex_to_tensor(zf + 2 * f * per, x0);
        const mrb_tensor *out;
        st = mrb_cascade_forward(c, x0, &d, 0, &out);
        if (st == MRB_OK) mrb_nn_tensor_to_complex(out, (float *)image->data + 2 * f * per);
    }
    mrb_tensor_free(x0);
    mrb_free(y);
    mrb_free(zf);
    return st;
}
