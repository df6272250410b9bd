/* The GPU cs-wavelet (gpu/recon/cs_wavelet_cuda.cu) against the CPU: its
 * db2 wavelet with grid shifts against the wavelet operator of impl/linop,
 * its soft threshold against mrb_cs_soft_threshold, and the whole method
 * against mrb_method_cs_wavelet on registry phantoms and masks, single and
 * multi-coil, static and 2D+t. The descriptor and argument checks run
 * without a GPU. */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "cuda_test_util.h"
#include "mrb_cuda.h"
#include "mrbench/array.h"
#include "mrbench/data.h"
#include "mrbench/linop.h"
#include "mrbench/registry.h"
/* internal headers of the two implementations */
#include "../../baselines/recon/cs/cs.h"
#include "../../gpu/recon/cs_cuda.h"

/* cs_wavelet_cuda.cu restates cs.h's shape struct for C++. */
_Static_assert(sizeof(mrb_cs_shape) == 4 * sizeof(size_t),
               "gpu/recon/cs_wavelet_cuda.cu restates mrb_cs_shape as four size_t");

/* The wavelet and soft-threshold kernels round each operation as the CPU
 * loops do (no fused multiply-adds): only compiler differences remain. */
#define WAVELET_REL_TOL 1e-6
#define SOFT_THRESHOLD_REL_TOL 1e-6
/* W_s^H W_s = I up to float rounding through a few 4-tap levels. */
#define ROUND_TRIP_REL_TOL 1e-6
/* The whole method after 30 FISTA iterations: cuFFT against FFTW and the
 * order of the sums are all that differ (the task's bound). */
#define CS_GPU_REL_TOL 1e-4
/* Two runs on one GPU state: the same kernels on the same data. */
#define SAME_STATE_REL_TOL 1e-6
/* BART pics default (baselines/recon/cs/cs_wavelet.c): bands down to 16. */
#define CSW_MINSIZE 16

/* ---- wavelet ----------------------------------------------------------- */

/* W_s and W_s^H of the GPU against the CPU operator on [nx, ny, nt] random
 * data with grid shift (sx, sy); `levels` is what the CPU operator builds
 * for this shape and minsize (checked, so each case covers what it names). */
static void check_wavelet(size_t nx, size_t ny, size_t nt, size_t minsize, int levels, size_t sx, size_t sy)
{
    size_t dims[3] = {nx, ny, nt}, n = nx * ny * nt, nf = 2 * n;
    mrb_linop *w = mrb_linop_wavelet_create(3, dims, minsize, 1);
    cr_assert_not_null(w, "%s", mrb_error_message());
    cr_assert_eq(mrb_linop_wavelet_levels(w), levels, "%zux%zu minsize %zu: %d levels, expected %d", nx, ny, minsize,
                 mrb_linop_wavelet_levels(w), levels);
    cr_assert_eq(mrb_linop_wavelet_set_shift(w, sx, sy), MRB_OK);

    float *x = alloc_floats(nf), *c = alloc_floats(nf);
    float *ref_fwd = alloc_floats(nf), *ref_adj = alloc_floats(nf);
    fill_uniform(x, nf, nx * 131 + ny);
    fill_uniform(c, nf, nx * 137 + ny + 1);
    cr_assert_eq(mrb_linop_forward(w, ref_fwd, x), MRB_OK);
    cr_assert_eq(mrb_linop_adjoint(w, ref_adj, c), MRB_OK);

    float *dx = to_device(x, nf), *dc = to_device(c, nf), *dtmp = to_device(NULL, nf);
    float *dy = to_device(NULL, nf), *dz = to_device(NULL, nf);
    cr_assert_eq(mrb_cuda_wavelet_forward(dx, dy, dtmp, nx, ny, nt, levels, sx, sy), MRB_OK, "%s", mrb_error_message());
    float *fwd = to_host(dy, nf);
    double err = rel_l2_error(fwd, ref_fwd, nf);
    cr_expect_leq(err, WAVELET_REL_TOL, "forward %zux%zux%zu, %d levels, shift (%zu, %zu): relative error %.3g", nx, ny,
                  nt, levels, sx, sy, err);

    cr_assert_eq(mrb_cuda_wavelet_adjoint(dc, dz, dtmp, nx, ny, nt, levels, sx, sy), MRB_OK, "%s", mrb_error_message());
    float *adj = to_host(dz, nf), *c_after = to_host(dc, nf);
    err = rel_l2_error(adj, ref_adj, nf);
    cr_expect_leq(err, WAVELET_REL_TOL, "adjoint %zux%zux%zu, %d levels, shift (%zu, %zu): relative error %.3g", nx, ny,
                  nt, levels, sx, sy, err);
    cr_expect_eq(memcmp(c_after, c, nf * sizeof(float)), 0, "the adjoint changed its input");

    /* orthogonality on the device: W_s^H W_s x = x */
    cr_assert_eq(mrb_cuda_wavelet_adjoint(dy, dz, dtmp, nx, ny, nt, levels, sx, sy), MRB_OK);
    float *back = to_host(dz, nf);
    err = rel_l2_error(back, x, nf);
    cr_expect_leq(err, ROUND_TRIP_REL_TOL, "round trip %zux%zux%zu: relative error %.3g", nx, ny, nt, err);

    free(back);
    free(adj);
    free(c_after);
    free(fwd);
    mrb_cuda_free(dx);
    mrb_cuda_free(dc);
    mrb_cuda_free(dtmp);
    mrb_cuda_free(dy);
    mrb_cuda_free(dz);
    free(x);
    free(c);
    free(ref_fwd);
    free(ref_adj);
    mrb_linop_free(w);
}

Test(cuda_cs, wavelet_2d_matches_cpu, .description = "64x64, 2 levels (BART minsize 16), shifted")
{
    MRB_SKIP_WITHOUT_GPU();
    check_wavelet(64, 64, 1, CSW_MINSIZE, 2, 3, 1);
    check_wavelet(64, 64, 1, CSW_MINSIZE, 2, 0, 0);
}

Test(cuda_cs, wavelet_non_power_of_two_matches_cpu,
     .description = "96x160 (2 levels), and 20x36 whose coarsest band is odd (5x9)")
{
    MRB_SKIP_WITHOUT_GPU();
    check_wavelet(96, 160, 1, CSW_MINSIZE, 2, 5, 2);
    check_wavelet(20, 36, 3, 4, 2, 70, 41); /* shifts beyond the size wrap around */
}

Test(cuda_cs, wavelet_2dt_matches_cpu, .description = "frames of a 2D+t series transform apart")
{
    MRB_SKIP_WITHOUT_GPU();
    check_wavelet(64, 32, 5, CSW_MINSIZE, 1, 1, 3);
    check_wavelet(128, 96, 4, CSW_MINSIZE, 2, 2, 3);
}

Test(cuda_cs, wavelet_deep_pyramid_matches_cpu,
     .description = "minsize 2: 5 levels down to 2x2 bands, where the periodic taps wrap")
{
    MRB_SKIP_WITHOUT_GPU();
    check_wavelet(64, 64, 2, 2, 5, 17, 30);
}

Test(cuda_cs, wavelet_without_levels_is_the_shift,
     .description = "an odd size allows no level: W_s is the grid shift alone")
{
    MRB_SKIP_WITHOUT_GPU();
    check_wavelet(33, 20, 2, 4, 0, 5, 7);
}

/* ---- soft threshold ---------------------------------------------------- */

Test(cuda_cs, soft_threshold_matches_cpu, .description = "values below, at and above the threshold, and exact zeros")
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t n = 5000;
    const float t = 0.5f;
    float *z = alloc_floats(2 * n), *ref = alloc_floats(2 * n);
    fill_uniform(z, 2 * n, 11);
    for (size_t i = 0; i < 8; i++) z[i] = 0.0f; /* |z| = 0 */
    z[8] = t;                                   /* |z| = t */
    z[9] = 0.0f;
    memcpy(ref, z, 2 * n * sizeof(float));
    mrb_cs_soft_threshold((float complex *)ref, n, t, 1);
    float *dz = to_device(z, 2 * n);
    cr_assert_eq(mrb_cuda_soft_threshold(dz, n, t), MRB_OK, "%s", mrb_error_message());
    float *gpu = to_host(dz, 2 * n);
    double err = rel_l2_error(gpu, ref, 2 * n);
    cr_expect_leq(err, SOFT_THRESHOLD_REL_TOL, "relative error %.3g", err);
    size_t zeroed = 0;
    for (size_t i = 0; i < n; i++) zeroed += gpu[2 * i] == 0.0f && gpu[2 * i + 1] == 0.0f;
    cr_expect(zeroed > 10 && zeroed < n, "%zu of %zu values set to zero: both branches taken", zeroed, n);
    free(gpu);
    free(z);
    free(ref);
    mrb_cuda_free(dz);
}

/* ---- the whole method ---------------------------------------------------- */

typedef struct cs_case {
    mrb_item item;
    mrb_array *kspace, *mask;
    mrb_recon_input in;
} cs_case;

static void set_param(mrb_params *p, const mrb_param_spec *spec, size_t nspec, const char *key, const char *value)
{
    cr_assert_eq(mrb_params_set_text(p, spec, nspec, key, value, "test"), MRB_OK, "%s=%s: %s", key, value,
                 mrb_error_message());
}

/* Item 0 of `dataset` (size, frames for 2D+t, coils), a Poisson-disc mask at
 * R = 4 and k-space at 30 dB SNR; the item's maps are passed on when
 * give_maps, else the methods estimate them. */
static cs_case make_case(const char *dataset, const char *size, const char *frames, const char *coils, int give_maps,
                         uint64_t seed)
{
    cs_case c;
    memset(&c, 0, sizeof c);
    const mrb_dataset_desc *d = mrb_dataset_find(dataset);
    cr_assert_not_null(d, "dataset %s is not registered", dataset);
    mrb_params p;
    mrb_params_defaults(&p, d->params, d->nparams);
    set_param(&p, d->params, d->nparams, "size", size);
    set_param(&p, d->params, d->nparams, "cases", "1");
    set_param(&p, d->params, d->nparams, "coils", coils);
    if (frames) set_param(&p, d->params, d->nparams, "frames", frames);
    cr_assert_eq(d->generate(&p, seed, 0, &c.item), MRB_OK, "%s", mrb_error_message());

    const mrb_sampler_desc *s = mrb_sampler_find("poisson");
    cr_assert_not_null(s, "sampler poisson is not registered");
    mrb_params sp;
    mrb_params_defaults(&sp, s->params, s->nparams);
    set_param(&sp, s->params, s->nparams, "acceleration", "4");
    const mrb_array *img = c.item.image;
    cr_assert_eq(s->make(&sp, seed, img->dims[0], img->dims[1], img->dims[2], &c.mask), MRB_OK, "%s",
                 mrb_error_message());
    cr_assert_eq(mrb_simulate_kspace(&c.item, 30.0, seed, &c.kspace), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(c.kspace->dims[3], (size_t)atoi(coils));
    c.in.kspace = c.kspace;
    c.in.mask = c.mask;
    c.in.sens = give_maps ? c.item.sens : NULL;
    c.in.nthreads = 1;
    c.in.seed = seed;
    return c;
}

static void free_case(cs_case *c)
{
    mrb_array_free(c->kspace);
    mrb_array_free(c->mask);
    mrb_item_clear(&c->item);
}

static mrb_array *image_like(const cs_case *c)
{
    const mrb_array *img = c->item.image;
    mrb_array *out = mrb_array_create3(MRB_C64, img->dims[0], img->dims[1], img->dims[2]);
    cr_assert_not_null(out);
    return out;
}

/* Runs `d` with the parameters (key, value pairs, NULL-terminated list);
 * `twice` runs a second time on the same state into out2. With phases, the
 * method's phase report is checked: upload, compute and download present
 * and non-negative, compute positive. */
static mrb_array *run_method(const mrb_method_desc *d, const cs_case *c, const char *const *kv, int twice,
                             mrb_array **out2)
{
    mrb_params p;
    mrb_params_defaults(&p, d->params, d->nparams);
    for (size_t i = 0; kv && kv[i]; i += 2) set_param(&p, d->params, d->nparams, kv[i], kv[i + 1]);
    void *state = NULL;
    cr_assert_eq(d->setup(&p, &c->in, &state), MRB_OK, "%s setup: %s", d->name, mrb_error_message());
    mrb_array *out = image_like(c);
    cr_assert_eq(d->run(state, &c->in, out), MRB_OK, "%s run: %s", d->name, mrb_error_message());
    if (twice) {
        *out2 = image_like(c);
        cr_assert_eq(d->run(state, &c->in, *out2), MRB_OK, "%s second run: %s", d->name, mrb_error_message());
    }
    if (d->phases) {
        const char *names[8];
        double secs[8];
        size_t np = d->phases(state, names, secs, 8);
        int seen = 0;
        for (size_t i = 0; i < np; i++) {
            cr_expect_geq(secs[i], 0.0, "phase %s: %g s", names[i], secs[i]);
            if (strcmp(names[i], "upload") == 0 || strcmp(names[i], "download") == 0) seen++;
            if (strcmp(names[i], "compute") == 0) {
                seen++;
                cr_expect_gt(secs[i], 0.0, "compute phase took %g s", secs[i]);
            }
        }
        cr_expect_eq(seen, 3, "the phases name upload, compute and download");
    }
    d->teardown(state);
    return out;
}

/* GPU against CPU on one case with the given parameters. */
static void check_method(const cs_case *c, const char *const *kv, const char *what)
{
    const mrb_method_desc *cpu = mrb_method_find("cs-wavelet");
    cr_assert_not_null(cpu);
    mrb_array *second = NULL;
    mrb_array *ref = run_method(cpu, c, kv, 0, NULL);
    mrb_array *gpu = run_method(&mrb_method_cs_wavelet_cuda, c, kv, 1, &second);
    size_t nf = 2 * mrb_array_count(ref);
    const float *r = ref->data;
    double norm = 0;
    for (size_t i = 0; i < nf; i++) norm += (double)r[i] * r[i];
    cr_assert_gt(norm, 0.0, "%s: the CPU image is zero", what);
    double err = rel_l2_error(gpu->data, ref->data, nf);
    cr_log_info("cs-wavelet GPU vs CPU, %s: relative L2 error %.3g", what, err);
    cr_expect_leq(err, CS_GPU_REL_TOL, "%s: GPU vs CPU relative L2 error %.3g", what, err);
    double again = rel_l2_error(second->data, gpu->data, nf);
    cr_expect_leq(again, SAME_STATE_REL_TOL, "%s: a second run differs by %.3g", what, again);
    mrb_array_free(ref);
    mrb_array_free(gpu);
    mrb_array_free(second);
}

/* 30 iterations (BART pics default), random shifts on, BART scaling on. */
static const char *const DEFAULT_RUN[] = {"iterations", "30", "shifts", "1", NULL};

Test(cuda_cs, method_single_coil_matches_cpu,
     .description = "Shepp-Logan 128x128, one coil, R = 4, 30 iterations, shifts on")
{
    MRB_SKIP_WITHOUT_GPU();
    cs_case c = make_case("shepp-logan", "128", NULL, "1", 0, 21);
    check_method(&c, DEFAULT_RUN, "single coil");
    free_case(&c);
}

Test(cuda_cs, method_multicoil_given_maps_matches_cpu,
     .description = "Shepp-Logan 128x128, 8 coils with the item's maps")
{
    MRB_SKIP_WITHOUT_GPU();
    cs_case c = make_case("shepp-logan", "128", NULL, "8", 1, 22);
    check_method(&c, DEFAULT_RUN, "8 coils, given maps");
    free_case(&c);
}

Test(cuda_cs, method_multicoil_estimated_maps_matches_cpu,
     .description = "Shepp-Logan 128x128, 4 coils, maps estimated from the centre on the host")
{
    MRB_SKIP_WITHOUT_GPU();
    cs_case c = make_case("shepp-logan", "128", NULL, "4", 0, 23);
    check_method(&c, DEFAULT_RUN, "4 coils, estimated maps");
    free_case(&c);
}

Test(cuda_cs, method_2dt_multicoil_matches_cpu,
     .description = "cine 64x64x8, 4 coils, estimated maps: frames share the FISTA iteration")
{
    MRB_SKIP_WITHOUT_GPU();
    cs_case c = make_case("cine", "64", "8", "4", 0, 24);
    check_method(&c, DEFAULT_RUN, "cine 2D+t, 4 coils");
    free_case(&c);
}

Test(cuda_cs, method_options_match_cpu,
     .description = "given step, no scaling, no shifts, and the tolerance stop at the same iteration")
{
    MRB_SKIP_WITHOUT_GPU();
    cs_case c = make_case("shepp-logan", "128", NULL, "1", 0, 25);
    static const char *const options[] = {"lambda", "0.01", "step",       "0.5", "scaling", "0",
                                          "shifts", "0",    "iterations", "60",  NULL};
    check_method(&c, options, "step 0.5, no scaling, no shifts");
    /* with a tolerance of 1e-2 FISTA stops early; stopping one iteration
     * apart would differ by about the tolerance, far above the bound */
    static const char *const stop[] = {"tolerance", "1e-2", "iterations", "200", NULL};
    check_method(&c, stop, "tolerance 1e-2");
    free_case(&c);
}

/* ---- without a GPU ----------------------------------------------------- */

Test(cuda_cs, descriptor_is_the_cpu_methods_twin,
     .description = "same name and the very parameter table of the CPU method; found as its twin")
{
    const mrb_method_desc *cpu = mrb_method_find("cs-wavelet");
    cr_assert_not_null(cpu);
    const mrb_method_desc *g = &mrb_method_cs_wavelet_cuda;
    cr_expect_str_eq(g->name, cpu->name);
    cr_expect_eq(g->params, cpu->params);
    cr_expect_eq(g->nparams, cpu->nparams);
    cr_expect(g->setup && g->run && g->teardown && g->phases);
    cr_expect_eq(mrb_method_find_gpu("cs-wavelet"), g, "mrb_method_find_gpu finds the twin");
    g->teardown(NULL); /* no-op */
}

Test(cuda_cs, setup_refuses_bad_input_without_device_work)
{
    const mrb_method_desc *d = &mrb_method_cs_wavelet_cuda;
    mrb_params p;
    mrb_params_defaults(&p, d->params, d->nparams);
    mrb_array *k = mrb_array_create3(MRB_C64, 32, 32, 1);
    mrb_array *m = mrb_array_create3(MRB_F32, 32, 16, 1);
    cr_assert(k && m);
    mrb_recon_input in = {NULL, m, NULL, 1, 1};
    void *state = (void *)&p;
    cr_expect_eq(d->setup(&p, &in, &state), MRB_ERR_INVALID, "missing k-space");
    cr_expect_null(state);
    in.kspace = k;
    state = (void *)&p;
    cr_expect_eq(d->setup(&p, &in, &state), MRB_ERR_INVALID, "mask of another shape");
    cr_expect_null(state);
    cr_expect(strstr(mrb_error_message(), "cs-wavelet") != NULL, "message names the method: %s", mrb_error_message());
    mrb_array_free(k);
    mrb_array_free(m);
}

Test(cuda_cs, setup_on_valid_input_succeeds_or_names_the_device_problem)
{
    const mrb_method_desc *d = &mrb_method_cs_wavelet_cuda;
    mrb_params p;
    mrb_params_defaults(&p, d->params, d->nparams);
    mrb_array *k = mrb_array_create3(MRB_C64, 32, 32, 1);
    mrb_array *m = mrb_array_create3(MRB_F32, 32, 32, 1);
    cr_assert(k && m);
    float *mv = m->data;
    for (size_t i = 0; i < 32 * 32; i += 3) mv[i] = 1.0f;
    mrb_recon_input in = {k, m, NULL, 1, 1};
    void *state = NULL;
    char why[512];
    mrb_status st = d->setup(&p, &in, &state);
    if (mrb_gpu_available(why, sizeof why) == MRB_OK) {
        cr_expect_eq(st, MRB_OK, "%s", mrb_error_message());
        cr_expect_not_null(state);
    } else {
        cr_expect_eq(st, MRB_ERR_DEVICE, "without a GPU: %s", mrb_error_message());
        cr_expect_null(state);
        cr_expect(strlen(mrb_error_message()) > 0);
    }
    d->teardown(state);
    mrb_array_free(k);
    mrb_array_free(m);
}

Test(cuda_cs, kernels_refuse_bad_arguments_without_device_work)
{
    /* host buffers stand in for device ones: nothing may touch them */
    float *a = alloc_floats(2 * 24 * 24), *b = alloc_floats(2 * 24 * 24);
    float *t = alloc_floats(2 * 24 * 24);
    /* 24 -> 12 -> 6 -> 3: a fourth level would split an odd band */
    cr_expect_eq(mrb_cuda_wavelet_forward(a, b, t, 24, 24, 1, 4, 0, 0), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_wavelet_adjoint(a, b, t, 24, 24, 1, 4, 0, 0), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_wavelet_forward(a, b, t, 24, 24, 1, -1, 0, 0), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_wavelet_forward(a, b, t, 0, 24, 1, 1, 0, 0), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_wavelet_forward(a, b, t, 24, 24, 0, 1, 0, 0), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_wavelet_forward(a, a, t, 24, 24, 1, 1, 0, 0), MRB_ERR_INVALID, "in place");
    cr_expect_eq(mrb_cuda_wavelet_adjoint(a, b, a + 2, 24, 24, 1, 1, 0, 0), MRB_ERR_INVALID,
                 "scratch overlapping the input");
    cr_expect_eq(mrb_cuda_wavelet_adjoint(a, b, NULL, 24, 24, 1, 1, 0, 0), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_soft_threshold(NULL, 4, 0.5f), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_soft_threshold(NULL, 0, 0.5f), MRB_OK, "nothing to do");
    free(a);
    free(b);
    free(t);
}
