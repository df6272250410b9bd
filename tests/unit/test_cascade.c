/* Deep Cascade: parameter counts of the paper's architectures, whole-network
 * gradients against finite differences (2D and 2D+t, noiseless and learnable
 * noisy DC), data consistency of the output, weights files (round trip,
 * architecture and corruption errors), the registered methods, and training
 * (loss decreases, deterministic, resumable bit for bit; on a device through
 * mrb_cascade_train_opts.device, equal to the CPU). */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mrbench/fft.h"
#include "mrbench/nn.h"
#include "mrbench/registry.h"

/* Schlemper et al. 2017 / specs/recon.md: D5-C5 2D has 565,770 parameters. */
#define D5C5_PARAMS 565770u
/* D5-C10(S) 2D+t: per cascade 12*64*27+64 + 3*(64*64*27+64) + 64*2*27+2. */
#define D5C10S_PARAMS 3562260u
/* Whole-network finite differences in float through ReLUs and FFTs. The
 * network is piecewise linear: a step that moves a unit across its ReLU kink
 * spoils one central difference, so each entry is compared at three steps and
 * must agree at one of them (a wrong gradient disagrees at all). */
static const double NET_FD_EPS[3] = {1e-3, 3e-4, 1e-4};
#define NET_FD_RTOL 1e-2
#define NET_FD_ATOL 2e-2
#define DC_TOL 1e-4

static char *tmp_path(const char *stem)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "/tmp/mrb_test_cascade_%s_%ld.safetensors", stem, (long)getpid());
    return buf[k];
}

Test(cascade, parameter_counts_of_the_paper_architectures)
{
    mrb_cascade *c;
    mrb_cascade_arch a = mrb_cascade_arch_default(0);
    cr_assert_eq(mrb_cascade_create(&a, 1, &c), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(mrb_cascade_param_count(c), D5C5_PARAMS);
    mrb_named_tensor ts[64];
    size_t n = mrb_cascade_params(c, ts, 64);
    cr_expect_eq(n, 50u);
    cr_expect_str_eq(ts[0].name, "cascades.0.conv.0.weight");
    cr_expect_str_eq(ts[49].name, "cascades.4.conv.4.bias");
    cr_expect_eq(ts[0].t->ndim, 4);
    cr_expect_eq(ts[0].t->shape[0], 64u);
    cr_expect_eq(ts[0].t->shape[1], 2u);
    mrb_cascade_free(c);
    a = mrb_cascade_arch_default(1);
    cr_assert_eq(mrb_cascade_create(&a, 1, &c), MRB_OK);
    cr_expect_eq(mrb_cascade_param_count(c), D5C10S_PARAMS);
    cr_expect_eq(a.n_c, 10);
    mrb_cascade_free(c);
}

typedef struct net_problem {
    mrb_cascade *c;
    mrb_tensor *x0, *r;
    float *ks, *mask;
    mrb_dc_data d;
} net_problem;

static void make_net(net_problem *p, int temporal, double lambda, int trainable, size_t n, size_t nx, size_t ny,
                     size_t nt)
{
    mrb_cascade_arch a = mrb_cascade_arch_default(temporal);
    a.n_c = 2;
    a.n_d = 3;
    a.n_f = 4;
    a.lambda = lambda;
    a.lambda_trainable = trainable;
    cr_assert_eq(mrb_cascade_create(&a, 99, &p->c), MRB_OK, "%s", mrb_error_message());
    size_t vol = nx * ny * nt;
    mrb_rng r;
    mrb_rng_seed(&r, 5);
    /* image: smooth-ish random; k-space measured on a random mask */
    float *img = calloc(2 * vol * n, sizeof(float));
    for (size_t i = 0; i < 2 * vol * n; i++) img[i] = (float)mrb_rng_normal(&r);
    p->ks = calloc(2 * vol * n, sizeof(float));
    p->mask = calloc(vol * n, sizeof(float));
    memcpy(p->ks, img, 2 * vol * n * sizeof(float));
    size_t dims[3] = {nx, ny, nt * n};
    mrb_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, p->ks, 1);
    for (size_t i = 0; i < vol * n; i++) {
        p->mask[i] = mrb_rng_uniform(&r) < 0.5 ? 1.0f : 0.0f;
        if (p->mask[i] == 0.0f) p->ks[2 * i] = p->ks[2 * i + 1] = 0.0f;
    }
    memcpy(img, p->ks, 2 * vol * n * sizeof(float));
    mrb_fft_centered(MRB_FFT_INVERSE, 2, 3, dims, img, 1);
    p->x0 = temporal ? mrb_tensor_create5(n, 2, nt, ny, nx, 0) : mrb_tensor_create4(n, 2, ny, nx, 0);
    p->r = temporal ? mrb_tensor_create5(n, 2, nt, ny, nx, 0) : mrb_tensor_create4(n, 2, ny, nx, 0);
    mrb_nn_complex_to_tensor(img, p->x0);
    for (size_t i = 0; i < mrb_tensor_count(p->r); i++) p->r->data[i] = (float)mrb_rng_normal(&r);
    p->d = (mrb_dc_data){.nx = nx, .ny = ny, .nt = nt, .n = n, .kspace = p->ks, .mask = p->mask};
    free(img);
}

static void free_net(net_problem *p)
{
    mrb_cascade_free(p->c);
    mrb_tensor_free(p->x0);
    mrb_tensor_free(p->r);
    free(p->ks);
    free(p->mask);
}

static double net_loss(net_problem *p)
{
    const mrb_tensor *out;
    cr_assert_eq(mrb_cascade_forward(p->c, p->x0, &p->d, 1, &out), MRB_OK, "%s", mrb_error_message());
    double s = 0;
    for (size_t i = 0; i < mrb_tensor_count(out); i++) s += (double)out->data[i] * p->r->data[i];
    return s;
}

static void check_net_gradients(int temporal, double lambda, int trainable)
{
    net_problem p;
    if (temporal)
        make_net(&p, 1, lambda, trainable, 1, 6, 4, 3);
    else
        make_net(&p, 0, lambda, trainable, 2, 6, 5, 1);
    net_loss(&p);
    mrb_cascade_zero_grad(p.c);
    cr_assert_eq(mrb_cascade_backward(p.c, p.r->data), MRB_OK, "%s", mrb_error_message());
    mrb_named_tensor ts[32];
    size_t n = mrb_cascade_params(p.c, ts, 32);
    int checked = 0;
    for (size_t k = 0; k < n; k++) {
        mrb_tensor *t = ts[k].t;
        size_t cnt = mrb_tensor_count(t);
        int is_lambda = strstr(ts[k].name, ".dc.") != NULL;
        size_t stride = cnt > 6 ? cnt / 6 : 1;
        for (size_t i = 0; i < cnt; i += stride) {
            float keep = t->data[i];
            double fd[3], best = INFINITY, g = t->grad[i];
            for (int e = 0; e < 3; e++) {
                t->data[i] = keep + (float)NET_FD_EPS[e];
                double lp = net_loss(&p);
                t->data[i] = keep - (float)NET_FD_EPS[e];
                double lm = net_loss(&p);
                t->data[i] = keep;
                /* the step actually taken in float */
                double h = (double)(keep + (float)NET_FD_EPS[e]) - (double)(keep - (float)NET_FD_EPS[e]);
                fd[e] = (lp - lm) / h;
                double err = fabs(g - fd[e]) - NET_FD_RTOL * fabs(fd[e]);
                if (err < best) best = err;
            }
            if (is_lambda && !trainable) continue; /* a fixed lambda has no gradient */
            cr_expect(best <= NET_FD_ATOL, "%s[%zu]: backward %g vs fd %g, %g, %g", ts[k].name, i, g, fd[0], fd[1],
                      fd[2]);
            checked++;
        }
    }
    cr_expect(checked > 20);
    free_net(&p);
}

Test(cascade, gradients_2d_noiseless_match_fd)
{
    check_net_gradients(0, -1.0, 0);
}

Test(cascade, gradients_2d_noisy_learnable_lambda_match_fd)
{
    check_net_gradients(0, 0.5, 1);
}

Test(cascade, gradients_2dt_with_data_sharing_match_fd)
{
    check_net_gradients(1, -1.0, 0);
}

Test(cascade, noiseless_output_is_data_consistent)
{
    net_problem p;
    make_net(&p, 1, -1.0, 0, 1, 8, 6, 4);
    const mrb_tensor *out;
    cr_assert_eq(mrb_cascade_forward(p.c, p.x0, &p.d, 0, &out), MRB_OK);
    size_t vol = 8 * 6 * 4;
    float complex *k = malloc(vol * sizeof *k);
    mrb_nn_tensor_to_complex(out, (float *)k);
    size_t dims[3] = {8, 6, 4};
    mrb_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, (float *)k, 1);
    const float complex *y = (const float complex *)p.ks;
    int sampled = 0;
    for (size_t i = 0; i < vol; i++)
        if (p.mask[i] != 0.0f) {
            sampled++;
            cr_expect(cabsf(k[i] - y[i]) <= DC_TOL * (1 + cabsf(y[i])), "k-space %zu", i);
        }
    cr_expect(sampled > 0);
    free(k);
    free_net(&p);
}

Test(cascade, weights_round_trip_and_errors)
{
    net_problem p;
    make_net(&p, 0, -1.0, 0, 1, 6, 5, 1);
    const char *path = tmp_path("weights");
    cr_assert_eq(mrb_cascade_save(p.c, path), MRB_OK, "%s", mrb_error_message());
    const mrb_tensor *out;
    cr_assert_eq(mrb_cascade_forward(p.c, p.x0, &p.d, 0, &out), MRB_OK);
    size_t cnt = mrb_tensor_count(out);
    float *ref = malloc(cnt * sizeof(float));
    memcpy(ref, out->data, cnt * sizeof(float));

    mrb_cascade *c2;
    cr_assert_eq(mrb_cascade_open(path, &c2), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(mrb_cascade_get_arch(c2)->n_f, 4);
    cr_assert_eq(mrb_cascade_forward(c2, p.x0, &p.d, 0, &out), MRB_OK);
    cr_expect(memcmp(out->data, ref, cnt * sizeof(float)) == 0, "reloaded network gives a different output");

    /* a network of another architecture refuses the file */
    mrb_cascade_arch other = *mrb_cascade_get_arch(c2);
    other.n_f = 5;
    mrb_cascade *c3;
    cr_assert_eq(mrb_cascade_create(&other, 1, &c3), MRB_OK);
    cr_expect_eq(mrb_cascade_load(c3, path), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "n_f=4") != NULL, "%s", mrb_error_message());
    mrb_cascade_free(c3);

    /* corrupted data are detected by the recorded hash */
    FILE *f = fopen(path, "r+b");
    fseek(f, -3, SEEK_END);
    fputc(0x5a, f);
    fclose(f);
    cr_expect_eq(mrb_cascade_load(c2, path), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "hash") != NULL, "%s", mrb_error_message());
    /* a truncated file names the tensor that is cut */
    long size;
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(path, size - 40), 0);
    cr_expect_eq(mrb_cascade_load(c2, path), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "cascades.1.conv.2") != NULL, "%s", mrb_error_message());
    remove(path);
    free(ref);
    mrb_cascade_free(c2);
    free_net(&p);
}

Test(cascade, architecture_metadata_larger_than_the_file_is_refused)
{
    /* Found while writing tests/fuzz/fuzz_safetensors.c: mrb_cascade_open built the
     * network the metadata describe before reading a tensor, so a few bytes
     * ("n_f": "100000": 4 x 10^11 bytes per layer) made it allocate without
     * bound; n_c etc. were read with atoi. */
    const char *path = tmp_path("huge_arch");
    static const char *const n_f[] = {"100000", "99999999999", "4x"};
    for (size_t i = 0; i < sizeof n_f / sizeof *n_f; i++) {
        char header[512];
        snprintf(header, sizeof header,
                 "{\"__metadata__\":{\"format\":\"mrbench-deep-cascade\",\"arch\":\"2d\",\"n_c\":\"5\",\"n_d\":"
                 "\"5\",\"n_f\":\"%s\"}}",
                 n_f[i]);
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        size_t hl = strlen(header);
        for (int k = 0; k < 8; k++) fputc((int)((hl >> (8 * k)) & 0xff), f);
        fwrite(header, 1, hl, f);
        fclose(f);
        mrb_cascade *c = NULL;
        cr_expect_eq(mrb_cascade_open(path, &c), MRB_ERR_INVALID, "n_f %s", n_f[i]);
        cr_expect_null(c);
        const char *want = i == 0 ? "n_f=100000 needs" : "invalid architecture metadata";
        cr_expect(strstr(mrb_error_message(), path) != NULL && strstr(mrb_error_message(), want) != NULL, "n_f %s: %s",
                  n_f[i], mrb_error_message());
    }
    remove(path);
}

Test(cascade, registered_methods_reconstruct_from_a_weights_file)
{
    const mrb_method_desc *m2 = mrb_method_find("cascade-2d"), *mt = mrb_method_find("cascade-2dt");
    cr_assert(m2 && mt, "cascade methods registered");
    mrb_cascade_arch a = mrb_cascade_arch_default(1);
    a.n_c = 2;
    a.n_d = 2;
    a.n_f = 3;
    mrb_cascade *c;
    cr_assert_eq(mrb_cascade_create(&a, 4, &c), MRB_OK);
    const char *path = tmp_path("method");
    cr_assert_eq(mrb_cascade_save(c, path), MRB_OK);
    size_t nx = 8, ny = 6, nt = 3, vol = nx * ny * nt;
    size_t kd[4] = {nx, ny, nt, 1};
    mrb_array *ks = mrb_array_create(MRB_C64, 4, kd), *mask = mrb_array_create3(MRB_F32, nx, ny, nt);
    mrb_array *out = mrb_array_create3(MRB_C64, nx, ny, nt), *ref = mrb_array_create3(MRB_C64, nx, ny, nt);
    mrb_rng r;
    mrb_rng_seed(&r, 8);
    float *kv = ks->data, *mv = mask->data;
    for (size_t i = 0; i < vol; i++) {
        kv[2 * i] = (float)mrb_rng_normal(&r);
        kv[2 * i + 1] = (float)mrb_rng_normal(&r);
        mv[i] = (i / nx) % 3 == 0 ? 1.0f : 0.0f;
    }
    mrb_params prm;
    mrb_params_defaults(&prm, mt->params, mt->nparams);
    cr_assert_eq(mrb_params_set_text(&prm, mt->params, mt->nparams, "weights", path, "test"), MRB_OK);
    mrb_recon_input in = {.kspace = ks, .mask = mask, .sens = NULL, .nthreads = 1, .seed = 0};
    void *state;
    cr_assert_eq(mt->setup(&prm, &in, &state), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mt->run(state, &in, out), MRB_OK, "%s", mrb_error_message());
    mt->teardown(state);
    cr_assert_eq(mrb_cascade_reconstruct(c, ks, mask, ref), MRB_OK);
    cr_expect(memcmp(out->data, ref->data, vol * 8) == 0, "method output equals mrb_cascade_reconstruct");
    /* measured samples are kept exactly (noiseless DC) */
    size_t dims[3] = {nx, ny, nt};
    mrb_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, out->data, 1);
    const float *ov = out->data;
    for (size_t i = 0; i < vol; i++)
        if (mv[i] != 0.0f) cr_expect(fabsf(ov[2 * i] - kv[2 * i]) < DC_TOL * (1 + fabsf(kv[2 * i])));
    /* the 2D method refuses a 2D+t file */
    mrb_params_defaults(&prm, m2->params, m2->nparams);
    mrb_params_set_text(&prm, m2->params, m2->nparams, "weights", path, "test");
    cr_expect_eq(m2->setup(&prm, &in, &state), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "cascade-2dt") != NULL, "%s", mrb_error_message());
    /* a missing file is an error naming it */
    mrb_params_set_text(&prm, m2->params, m2->nparams, "weights", "/nonexistent/w.safetensors", "test");
    cr_expect_neq(m2->setup(&prm, &in, &state), MRB_OK);
    cr_expect(strstr(mrb_error_message(), "/nonexistent/w.safetensors") != NULL, "%s", mrb_error_message());
    remove(path);
    mrb_cascade_free(c);
    mrb_array_free(ks);
    mrb_array_free(mask);
    mrb_array_free(out);
    mrb_array_free(ref);
}

/* ---- training ---- */

/* Lines along x kept: every 3rd phase-encode line plus the centre, per frame,
 * shifted by the seed so masks differ between minibatches. */
static mrb_status line_mask(void *ctx, uint64_t seed, size_t nx, size_t ny, size_t nt, mrb_array **mask)
{
    (void)ctx;
    *mask = mrb_array_create3(MRB_F32, nx, ny, nt);
    if (!*mask) return MRB_ERR_NOMEM;
    float *m = (*mask)->data;
    for (size_t t = 0; t < nt; t++)
        for (size_t y = 0; y < ny; y++) {
            int keep = (y + seed + t) % 3 == 0 || (y >= ny / 2 - 1 && y <= ny / 2);
            for (size_t x = 0; x < nx; x++) m[(t * ny + y) * nx + x] = keep ? 1.0f : 0.0f;
        }
    return MRB_OK;
}

static mrb_array **make_images(size_t n, size_t nx, size_t ny, size_t nt, uint64_t seed)
{
    mrb_array **a = calloc(n, sizeof *a);
    mrb_rng r;
    mrb_rng_seed(&r, seed);
    for (size_t k = 0; k < n; k++) {
        a[k] = mrb_array_create3(MRB_C64, nx, ny, nt);
        float complex *v = a[k]->data;
        /* a few smooth blobs: structure the network can learn */
        for (int b = 0; b < 3; b++) {
            double cx = mrb_rng_uniform(&r) * nx, cy = mrb_rng_uniform(&r) * ny, s = 1.5 + 2 * mrb_rng_uniform(&r);
            double amp = 0.5 + mrb_rng_uniform(&r);
            for (size_t t = 0; t < nt; t++)
                for (size_t y = 0; y < ny; y++)
                    for (size_t x = 0; x < nx; x++) {
                        double dx = x - cx - 0.3 * t, dy = y - cy;
                        v[(t * ny + y) * nx + x] += (float)(amp * exp(-(dx * dx + dy * dy) / (2 * s * s)));
                    }
        }
    }
    return a;
}

typedef struct progress_log {
    double first_loss, last_loss;
    double psnr[8];
    int epochs;
    size_t steps;
} progress_log;

static int log_progress(void *ctx, const mrb_cascade_progress *p)
{
    progress_log *l = ctx;
    if (p->epoch_end) {
        if (p->epoch - 1 < 8) l->psnr[p->epoch - 1] = p->val_psnr;
        l->epochs = p->epoch;
    } else {
        if (p->step == 1) l->first_loss = p->loss;
        l->last_loss = p->loss;
        l->steps = p->step;
    }
    return 0;
}

static unsigned char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*len);
    if (fread(b, 1, (size_t)*len, f) != (size_t)*len) *len = -1;
    fclose(f);
    return b;
}

static mrb_cascade_train_opts small_opts(const mrb_array *const *tr, size_t ntr, const mrb_array *const *va, size_t nva)
{
    mrb_cascade_train_opts o = mrb_cascade_train_defaults(0);
    o.arch.n_c = 2;
    o.arch.n_d = 3;
    o.arch.n_f = 8;
    o.train = tr;
    o.ntrain = ntr;
    o.val = va;
    o.nval = nva;
    o.make_mask = line_mask;
    o.batch = 2;
    o.epochs = 3;
    o.seed = 1234;
    o.nthreads = 1;
    return o;
}

Test(cascade_train, loss_decreases_deterministic_and_resumable, .timeout = 120)
{
    size_t ntr = 6, nva = 2;
    mrb_array **tr = make_images(ntr, 12, 12, 1, 1), **va = make_images(nva, 12, 12, 1, 2);
    progress_log log1 = {0};
    mrb_cascade_train_opts o = small_opts((const mrb_array *const *)tr, ntr, (const mrb_array *const *)va, nva);
    o.epochs = 4;
    o.progress = log_progress;
    o.progress_ctx = &log1;
    o.weights_out = tmp_path("train_a");
    double psnr;
    cr_assert_eq(mrb_cascade_train(&o, &psnr), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(log1.epochs, 4);
    cr_expect_eq(log1.steps, 12u);
    cr_expect(log1.last_loss < log1.first_loss, "loss %g -> %g", log1.first_loss, log1.last_loss);
    cr_expect(log1.psnr[3] > log1.psnr[0], "validation PSNR %g -> %g dB", log1.psnr[0], log1.psnr[3]);
    cr_expect(isfinite(psnr) && psnr == log1.psnr[3]);

    /* 2 epochs, stop, resume from the checkpoint to 4: the same weights, bit for bit */
    const char *ck = tmp_path("train_ckpt");
    remove(ck);
    o.progress = NULL;
    o.checkpoint = ck;
    o.resume = 1;
    o.epochs = 2;
    o.weights_out = NULL;
    cr_assert_eq(mrb_cascade_train(&o, NULL), MRB_OK, "%s", mrb_error_message());
    o.epochs = 4;
    o.weights_out = tmp_path("train_b");
    cr_assert_eq(mrb_cascade_train(&o, NULL), MRB_OK, "%s", mrb_error_message());
    long la = 0, lb = 0;
    unsigned char *a = slurp(tmp_path("train_a"), &la), *b = slurp(o.weights_out, &lb);
    cr_assert(a && b);
    cr_expect(la == lb && la > 0 && memcmp(a, b, (size_t)la) == 0, "resumed training equals uninterrupted training");
    free(a);
    free(b);

    /* a checkpoint of another seed is refused */
    o.seed = 99;
    cr_expect_eq(mrb_cascade_train(&o, NULL), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "seed") != NULL, "%s", mrb_error_message());
    remove(ck);
    remove(tmp_path("train_a"));
    remove(o.weights_out);
    for (size_t i = 0; i < ntr; i++) mrb_array_free(tr[i]);
    for (size_t i = 0; i < nva; i++) mrb_array_free(va[i]);
    free(tr);
    free(va);
}

/* A checkpoint belongs to its training: another batch, learning rate or data
 * is refused, a changed tensor is caught by the hash, a finished one resumed
 * keeps its validation PSNR; a batch larger than the samples is refused. */
Test(cascade_train, checkpoint_belongs_to_its_training, .timeout = 120)
{
    size_t ntr = 4, nva = 1;
    mrb_array **tr = make_images(ntr, 12, 12, 1, 1), **va = make_images(nva, 12, 12, 1, 2);
    mrb_cascade_train_opts o = small_opts((const mrb_array *const *)tr, ntr, (const mrb_array *const *)va, nva);
    const char *ck = tmp_path("belongs_ckpt");
    remove(ck);
    o.checkpoint = ck;
    o.resume = 1;
    o.epochs = 2;
    double psnr, again;
    cr_assert_eq(mrb_cascade_train(&o, &psnr), MRB_OK, "%s", mrb_error_message());
    cr_expect(isfinite(psnr));
    cr_assert_eq(mrb_cascade_train(&o, &again), MRB_OK, "%s", mrb_error_message()); /* nothing left to run */
    cr_expect(again == psnr, "resumed finished training reports %g dB, the checkpoint holds %g dB", again, psnr);

    mrb_cascade_train_opts other = o;
    other.lr = 1e-2;
    cr_expect_eq(mrb_cascade_train(&other, NULL), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "checkpoint of another training") != NULL, "%s", mrb_error_message());
    other = o;
    other.batch = 1;
    cr_expect_eq(mrb_cascade_train(&other, NULL), MRB_ERR_INVALID);
    float *v = tr[0]->data; /* the same shapes, other data */
    v[5] += 1.0f;
    cr_expect_eq(mrb_cascade_train(&o, NULL), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "data ") != NULL, "%s", mrb_error_message());
    v[5] -= 1.0f;

    /* one float of the stored tensors changed, the header intact */
    long len = 0;
    unsigned char *b = slurp(ck, &len);
    cr_assert(b && len > 16);
    b[len - 3] ^= 0x40;
    FILE *f = fopen(ck, "wb");
    cr_assert(f && fwrite(b, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    free(b);
    o.epochs = 3;
    cr_expect_eq(mrb_cascade_train(&o, NULL), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "do not match their hash") != NULL, "%s", mrb_error_message());
    remove(ck);

    o.checkpoint = NULL;
    o.batch = 5; /* 4 single-frame items */
    cr_expect_eq(mrb_cascade_train(&o, NULL), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "batch 5 exceeds the 4 training samples") != NULL, "%s", mrb_error_message());
    for (size_t i = 0; i < ntr; i++) mrb_array_free(tr[i]);
    for (size_t i = 0; i < nva; i++) mrb_array_free(va[i]);
    free(tr);
    free(va);
}

Test(cascade_train, temporal_training_runs)
{
    mrb_array **tr = make_images(2, 8, 8, 4, 3);
    mrb_cascade_train_opts o = mrb_cascade_train_defaults(1);
    o.arch.n_c = 2;
    o.arch.n_d = 2;
    o.arch.n_f = 4;
    o.train = (const mrb_array *const *)tr;
    o.ntrain = 2;
    o.val = (const mrb_array *const *)tr;
    o.nval = 1;
    /* masks from the registered "cartesian-vd" sampler (the released code's cartesian_mask) */
    if (!mrb_sampler_find("cartesian-vd")) cr_skip_test("no cartesian-vd sampler registered");
    o.make_mask = NULL;
    o.acceleration = 4;
    o.sample_n = 2;
    o.epochs = 1;
    double psnr;
    cr_assert_eq(mrb_cascade_train(&o, &psnr), MRB_OK, "%s", mrb_error_message());
    cr_expect(isfinite(psnr) && psnr > 0, "validation PSNR %g", psnr);
    for (size_t i = 0; i < 2; i++) mrb_array_free(tr[i]);
    free(tr);
}

/* The inputs of a minibatch: k-space is the images' centred orthonormal FFT
 * on the mask and zero off it; with every line sampled the zero-filled input
 * is the images again; the target is the images; wrong tensors are refused. */
Test(cascade_train, minibatch_inputs_from_images)
{
    size_t nx = 8, ny = 6, n = 3, values = nx * ny * n, dims[3] = {nx, ny, n};
    mrb_array **im = make_images(1, nx, ny, n, 5);
    float *images = im[0]->data, *mask = malloc(values * sizeof(float)), *ks = malloc(2 * values * sizeof(float));
    float *zf = malloc(2 * values * sizeof(float)), *ref = malloc(2 * values * sizeof(float));
    mrb_tensor *x0 = mrb_tensor_create4(n, 2, ny, nx, 0), *target = mrb_tensor_create4(n, 2, ny, nx, 0);
    cr_assert(mask && ks && zf && ref && x0 && target);
    for (size_t i = 0; i < values; i++) mask[i] = 1.0f;
    cr_assert_eq(mrb_cascade_train_inputs(images, mask, nx, ny, 1, n, ks, zf, x0, target), MRB_OK, "%s",
                 mrb_error_message());
    for (size_t b = 0; b < n; b++)
        for (size_t i = 0; i < nx * ny; i++) {
            const float *img = images + 2 * (b * nx * ny + i);
            cr_assert_float_eq(x0->data[2 * b * nx * ny + i], img[0], 1e-5, "x0 real, sample %zu", b);
            cr_assert_float_eq(x0->data[(2 * b + 1) * nx * ny + i], img[1], 1e-5, "x0 imaginary, sample %zu", b);
            cr_assert_eq(target->data[2 * b * nx * ny + i], img[0]);
            cr_assert_eq(target->data[(2 * b + 1) * nx * ny + i], img[1]);
        }
    memcpy(ref, images, 2 * values * sizeof(float));
    cr_assert_eq(mrb_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, ref, 1), MRB_OK);
    for (size_t i = 0; i < values; i++) mask[i] = (i / nx) % 2 ? 1.0f : 0.0f; /* every other line */
    cr_assert_eq(mrb_cascade_train_inputs(images, mask, nx, ny, 1, n, ks, zf, x0, target), MRB_OK, "%s",
                 mrb_error_message());
    for (size_t i = 0; i < 2 * values; i++)
        cr_assert_float_eq(ks[i], mask[i / 2] ? ref[i] : 0.0f, 1e-6, "k-space %zu", i);
    /* in place (kspace = images), as the trainer calls it */
    memcpy(zf, images, 2 * values * sizeof(float));
    cr_assert_eq(mrb_cascade_train_inputs(zf, mask, nx, ny, 1, n, zf, ks, x0, target), MRB_OK, "%s",
                 mrb_error_message());
    cr_expect_eq(target->data[1], images[2]);
    mrb_tensor *small = mrb_tensor_create4(n - 1, 2, ny, nx, 0);
    cr_expect_eq(mrb_cascade_train_inputs(images, mask, nx, ny, 1, n, ks, zf, small, target), MRB_ERR_INVALID);
    mrb_tensor_free(small);
    mrb_tensor_free(x0);
    mrb_tensor_free(target);
    free(mask);
    free(ks);
    free(zf);
    free(ref);
    mrb_array_free(im[0]);
    free(im);
}

/* ---- training on a device: the plumbing of mrb_cascade_train_opts.device,
 * through a device that runs the CPU engine on its own copy of the network
 * and optimiser. Its results must equal CPU training bit for bit: the trainer
 * has to hand the device the right batches, step numbers, weights and
 * moments (also after a resume), sync before every checkpoint, validate on
 * the device's weights, and clean up after a failing device. ---- */

typedef struct copy_dev {
    mrb_cascade *net;
    mrb_optim *opt;
    mrb_named_tensor params[64];
    int decay[64];
    size_t nparams, batch, snt;
    float *ks, *zf;
    mrb_tensor *x0, *target, *dout;
    mrb_dc_data d;
} copy_dev;

typedef struct copy_dev_log {
    int opens, closes, syncs, recons;
    size_t steps, fail_at; /* step number that fails (0: none) */
} copy_dev_log;

static copy_dev_log dev_log;

/* The trainable tensors in the trainer's order (fixed lambdas are not). */
static size_t trainable(mrb_cascade *net, mrb_named_tensor *out, int *decay)
{
    mrb_named_tensor all[64];
    size_t n = mrb_cascade_params(net, all, 64), k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strstr(all[i].name, ".dc.") && !mrb_cascade_get_arch(net)->lambda_trainable) continue;
        decay[k] = strstr(all[i].name, ".weight") != NULL;
        out[k++] = all[i];
    }
    return k;
}

static void copy_moments(mrb_optim *dst, mrb_optim *src)
{
    for (size_t i = 0; i < mrb_optim_nstate(src); i++) {
        size_t cnt;
        float *s = mrb_optim_state(src, i, &cnt), *d = mrb_optim_state(dst, i, &cnt);
        memcpy(d, s, cnt * sizeof(float));
    }
}

static void copy_dev_close(void *state)
{
    copy_dev *c = state;
    dev_log.closes++;
    mrb_cascade_free(c->net);
    mrb_optim_free(c->opt);
    mrb_tensor_free(c->x0);
    mrb_tensor_free(c->target);
    mrb_tensor_free(c->dout);
    free(c->ks);
    free(c->zf);
    free(c);
}

static mrb_status copy_dev_open(mrb_cascade *net, mrb_optim *opt, const mrb_adam_cfg *adam, size_t batch, size_t nx,
                                size_t ny, size_t snt, void **state)
{
    dev_log.opens++;
    copy_dev *c = calloc(1, sizeof *c);
    cr_assert(c);
    const mrb_cascade_arch *a = mrb_cascade_get_arch(net);
    cr_assert_eq(mrb_cascade_create(a, 777, &c->net), MRB_OK); /* other initial weights: the upload must matter */
    mrb_named_tensor host[64];
    int hdecay[64];
    c->nparams = trainable(c->net, c->params, c->decay);
    cr_assert_eq(trainable(net, host, hdecay), c->nparams);
    mrb_tensor *pt[64];
    for (size_t i = 0; i < c->nparams; i++) {
        memcpy(c->params[i].t->data, host[i].t->data, mrb_tensor_count(host[i].t) * sizeof(float));
        pt[i] = c->params[i].t;
    }
    cr_assert_eq(mrb_optim_adam_create(pt, c->decay, c->nparams, adam, &c->opt), MRB_OK);
    copy_moments(c->opt, opt);
    c->batch = batch;
    c->snt = snt;
    c->x0 = a->temporal ? mrb_tensor_create5(batch, 2, snt, ny, nx, 0) : mrb_tensor_create4(batch, 2, ny, nx, 0);
    c->target = a->temporal ? mrb_tensor_create5(batch, 2, snt, ny, nx, 0) : mrb_tensor_create4(batch, 2, ny, nx, 0);
    c->dout = a->temporal ? mrb_tensor_create5(batch, 2, snt, ny, nx, 1) : mrb_tensor_create4(batch, 2, ny, nx, 1);
    c->ks = malloc(2 * batch * nx * ny * snt * sizeof(float));
    c->zf = malloc(2 * batch * nx * ny * snt * sizeof(float));
    cr_assert(c->ks && c->zf);
    c->d = (mrb_dc_data){.nx = nx, .ny = ny, .nt = snt, .n = batch, .kspace = c->ks};
    *state = c;
    return MRB_OK;
}

static mrb_status copy_dev_step(void *state, const float *images, const float *mask, uint64_t t, double *mse,
                                double *weight_norm2)
{
    copy_dev *c = state;
    if (++dev_log.steps == dev_log.fail_at)
        return mrb_error(MRB_ERR_DEVICE, "copy device: step %llu failed", (unsigned long long)t);
    MRB_TRY(mrb_cascade_train_inputs(images, mask, c->d.nx, c->d.ny, c->snt, c->batch, c->ks, c->zf, c->x0, c->target));
    c->d.mask = mask;
    const mrb_tensor *out;
    MRB_TRY(mrb_cascade_forward(c->net, c->x0, &c->d, 1, &out));
    mrb_tensor pred = *out;
    pred.grad = c->dout->grad;
    mrb_tensor_zero_grad(c->dout);
    MRB_TRY(mrb_nn_mse_loss(&pred, c->target, 2.0f, mse));
    mrb_cascade_zero_grad(c->net);
    MRB_TRY(mrb_cascade_backward(c->net, c->dout->grad));
    mrb_optim_set_steps(c->opt, t - 1);
    mrb_optim_step(c->opt);
    *weight_norm2 = 0;
    for (size_t i = 0; i < c->nparams; i++)
        for (size_t j = 0; c->decay[i] && j < mrb_tensor_count(c->params[i].t); j++)
            *weight_norm2 += (double)c->params[i].t->data[j] * c->params[i].t->data[j];
    return MRB_OK;
}

static mrb_status copy_dev_sync(void *state, mrb_cascade *net, mrb_optim *opt)
{
    copy_dev *c = state;
    dev_log.syncs++;
    mrb_named_tensor host[64];
    int hdecay[64];
    trainable(net, host, hdecay);
    for (size_t i = 0; i < c->nparams; i++)
        memcpy(host[i].t->data, c->params[i].t->data, mrb_tensor_count(host[i].t) * sizeof(float));
    copy_moments(opt, c->opt);
    return MRB_OK;
}

static mrb_status copy_dev_reconstruct(void *state, const mrb_array *kspace, const mrb_array *mask, mrb_array *image)
{
    dev_log.recons++;
    return mrb_cascade_reconstruct(((copy_dev *)state)->net, kspace, mask, image);
}

static const mrb_cascade_train_device copy_device = {
    .name = "copy",
    .open = copy_dev_open,
    .step = copy_dev_step,
    .sync = copy_dev_sync,
    .reconstruct = copy_dev_reconstruct,
    .close = copy_dev_close,
};

static int same_file(const char *a, const char *b)
{
    long la = 0, lb = 0;
    unsigned char *x = slurp(a, &la), *y = slurp(b, &lb);
    int same = x && y && la == lb && la > 0 && memcmp(x, y, (size_t)la) == 0;
    free(x);
    free(y);
    return same;
}

static void device_training_equals_cpu(int temporal)
{
    size_t ntr = temporal ? 2 : 6, nva = 2, nt = temporal ? 4 : 1, n = temporal ? 8 : 12;
    mrb_array **tr = make_images(ntr, n, n, nt, 1), **va = make_images(nva, n, n, nt, 2);
    mrb_cascade_train_opts o = small_opts((const mrb_array *const *)tr, ntr, (const mrb_array *const *)va, nva);
    o.arch.temporal = temporal;
    if (!temporal) { /* noisy DC with a trained lambda: its moments travel too */
        o.arch.lambda = 0.5;
        o.arch.lambda_trainable = 1;
    }
    o.batch = temporal ? 1 : 2;
    o.epochs = 3;
    o.weights_out = tmp_path("dev_cpu");
    double psnr_cpu, psnr_dev;
    cr_assert_eq(mrb_cascade_train(&o, &psnr_cpu), MRB_OK, "%s", mrb_error_message());

    memset(&dev_log, 0, sizeof dev_log);
    o.device = &copy_device;
    o.weights_out = tmp_path("dev_copy");
    cr_assert_eq(mrb_cascade_train(&o, &psnr_dev), MRB_OK, "%s", mrb_error_message());
    size_t steps = 3 * (temporal ? ntr : ntr * nt) / (size_t)o.batch;
    cr_expect_eq(dev_log.steps, steps);
    cr_expect_eq(dev_log.recons, 3 * (int)nva, "validation ran on the device: %d items", dev_log.recons);
    cr_expect(dev_log.opens == 1 && dev_log.closes == 1 && dev_log.syncs == 4, "open %d close %d sync %d",
              dev_log.opens, dev_log.closes, dev_log.syncs);
    cr_expect(psnr_dev == psnr_cpu, "validation PSNR %.9g on the device, %.9g on the CPU", psnr_dev, psnr_cpu);
    cr_expect(same_file(tmp_path("dev_cpu"), o.weights_out), "device training wrote the CPU's weights");

    /* without a device reconstruct, validation runs on the CPU with the synced weights */
    mrb_cascade_train_device no_recon = copy_device;
    no_recon.reconstruct = NULL;
    o.device = &no_recon;
    o.weights_out = tmp_path("dev_norecon");
    cr_assert_eq(mrb_cascade_train(&o, &psnr_dev), MRB_OK, "%s", mrb_error_message());
    cr_expect(psnr_dev == psnr_cpu);
    cr_expect(same_file(tmp_path("dev_cpu"), o.weights_out));

    /* 1 epoch on the device, stop, resume to 3: the weights and moments go up again */
    o.device = &copy_device;
    const char *ck = tmp_path("dev_ckpt");
    remove(ck);
    o.checkpoint = ck;
    o.resume = 1;
    o.epochs = 1;
    o.weights_out = NULL;
    cr_assert_eq(mrb_cascade_train(&o, NULL), MRB_OK, "%s", mrb_error_message());
    o.epochs = 3;
    o.weights_out = tmp_path("dev_resumed");
    cr_assert_eq(mrb_cascade_train(&o, &psnr_dev), MRB_OK, "%s", mrb_error_message());
    cr_expect(psnr_dev == psnr_cpu);
    cr_expect(same_file(tmp_path("dev_cpu"), o.weights_out), "resumed device training equals CPU training");

    /* a device that fails mid-training: its error comes back, the device is closed, no weights */
    remove(ck);
    remove(o.weights_out);
    memset(&dev_log, 0, sizeof dev_log);
    dev_log.fail_at = 2;
    cr_expect_eq(mrb_cascade_train(&o, NULL), MRB_ERR_DEVICE);
    cr_expect(strstr(mrb_error_message(), "copy device: step 2 failed") != NULL, "%s", mrb_error_message());
    cr_expect(dev_log.opens == 1 && dev_log.closes == 1);
    cr_expect(access(o.weights_out, F_OK) != 0, "no weights after a failed training");
    remove(tmp_path("dev_cpu"));
    remove(tmp_path("dev_copy"));
    remove(tmp_path("dev_norecon"));
    for (size_t i = 0; i < ntr; i++) mrb_array_free(tr[i]);
    for (size_t i = 0; i < nva; i++) mrb_array_free(va[i]);
    free(tr);
    free(va);
}

Test(cascade_train, device_2d_equals_cpu_with_resume_and_failure, .timeout = 120)
{
    device_training_equals_cpu(0);
}

Test(cascade_train, device_2dt_equals_cpu_with_resume_and_failure, .timeout = 120)
{
    device_training_equals_cpu(1);
}

/* Golden: a 2-cascade network evaluated with NumPy alone
 * (tests/golden/nn/make_cascade_golden.py), weights written by that script's
 * own safetensors writer. */
#define GOLDEN_TOL 1e-4 /* float32 engine vs float64 NumPy, |x| ~ 1 */

Test(cascade, matches_numpy_golden)
{
    mrb_cascade *c;
    cr_assert_eq(mrb_cascade_open(MRB_SOURCE_DIR "/tests/golden/nn/cascade_tiny.safetensors", &c), MRB_OK, "%s",
                 mrb_error_message());
    const size_t nx = 8, ny = 6;
    size_t kd[4] = {nx, ny, 1, 1};
    mrb_array *ks = mrb_array_create(MRB_C64, 4, kd), *mask = mrb_array_create3(MRB_F32, nx, ny, 1);
    mrb_array *out = mrb_array_create3(MRB_C64, nx, ny, 1);
    mrb_tensor *tk = mrb_tensor_create(3, (size_t[]){ny, nx, 2}, 0), *tm = mrb_tensor_create(2, (size_t[]){ny, nx}, 0);
    mrb_tensor *te = mrb_tensor_create(3, (size_t[]){ny, nx, 2}, 0);
    mrb_named_tensor ts[3] = {{"kspace", tk}, {"mask", tm}, {"expected", te}};
    cr_assert_eq(
        mrb_safetensors_read(MRB_SOURCE_DIR "/tests/golden/nn/cascade_tiny_case.safetensors", ts, 3, NULL, NULL),
        MRB_OK, "%s", mrb_error_message());
    memcpy(ks->data, tk->data, nx * ny * 2 * sizeof(float));
    memcpy(mask->data, tm->data, nx * ny * sizeof(float));
    cr_assert_eq(mrb_cascade_reconstruct(c, ks, mask, out), MRB_OK, "%s", mrb_error_message());
    const float *o = out->data;
    for (size_t i = 0; i < nx * ny * 2; i++)
        cr_expect(fabsf(o[i] - te->data[i]) <= GOLDEN_TOL * (1 + fabsf(te->data[i])), "value %zu: %g vs NumPy %g", i,
                  o[i], te->data[i]);
    mrb_cascade_free(c);
    mrb_array_free(ks);
    mrb_array_free(mask);
    mrb_array_free(out);
    mrb_tensor_free(tk);
    mrb_tensor_free(tm);
    mrb_tensor_free(te);
}
