/* Static compressed sensing (cs-wavelet, cs-tv): exact solutions, objective
 * decrease, data consistency, gains over zero-filling, refusal of bad input. */
#include "test_cs_util.h"

#include "mrbench/linop.h"
#include "recon/cs/cs.h"

/* One thread: on a loaded 2-core CI machine OpenMP barriers with 2 threads
 * can cost more than the work; threads_agree checks the threaded path. */
#define NTHREADS 1
/* FISTA converges linearly when M = I (strongly convex): after 200
 * iterations it sits at the soft-thresholding solution to float accuracy. */
#define EXACT_RTOL 1e-4
/* FISTA is not monotone: allow 1% bumps between checkpoints. */
#define OBJECTIVE_BUMP 1.01
/* objective after 200 iterations within 0.1% of the value after 800 */
#define CONVERGED_RTOL 1e-3
/* with a negligible lambda, sampled k-space is reproduced to 1% */
#define DC_RTOL 1e-2
/* CS must beat zero-filling by at least this at R = 4 (the spec's BART
 * measurement on Shepp-Logan: ~40 dB against ~25 dB zero-filled) */
#define CS_GAIN_DB 3.0
/* A mask of 2s instead of 1s is the same problem with the data term scaled
 * by 4: FISTA with step 0.95 / L reaches about the same image (lambda acts
 * 4x weaker relative to the data), within this. */
#define WEIGHTED_MASK_DB 1.0

typedef struct problem {
    mrb_array *truth, *kspace, *mask, *sens;
    mrb_recon_input in;
} problem;

static problem make_problem(size_t nx, size_t ny, size_t nc, double accel, int give_sens, uint64_t seed)
{
    problem p = {0};
    p.truth = mrb_array_create3(MRB_C64, nx, ny, 1);
    p.mask = mrb_array_create3(MRB_F32, nx, ny, 1);
    cr_assert(p.truth && p.mask);
    cs_test_phantom(p.truth->data, nx, ny, 0);
    float complex *sens = NULL;
    if (nc > 1) {
        size_t sd[4] = {nx, ny, 1, nc};
        p.sens = mrb_array_create(MRB_C64, 4, sd);
        cs_test_coils(p.sens->data, nx, ny, nc);
        sens = p.sens->data;
    }
    p.kspace = cs_test_kspace(p.truth, sens, nc);
    if (accel <= 1) {
        float *m = p.mask->data;
        for (size_t i = 0; i < nx * ny; i++) m[i] = 1;
    } else {
        cs_test_mask(p.mask->data, nx, ny, accel, nx / 8, 0, seed);
    }
    p.in.kspace = p.kspace;
    p.in.mask = p.mask;
    p.in.sens = give_sens ? p.sens : NULL;
    p.in.nthreads = NTHREADS;
    p.in.seed = seed;
    return p;
}

static void free_problem(problem *p)
{
    mrb_array_free(p->truth);
    mrb_array_free(p->kspace);
    mrb_array_free(p->mask);
    mrb_array_free(p->sens);
}

/* 0.5 ||M F x - y||^2 + lambda ||W x||_1 (single coil, unshifted W). */
static double objective(const problem *p, const mrb_array *x, double lambda)
{
    size_t nx = x->dims[0], ny = x->dims[1], n = nx * ny;
    size_t dims[3] = {nx, ny, 1};
    mrb_linop *w = mrb_linop_wavelet_create(3, dims, 16, 1);
    mrb_array *k = mrb_array_clone(x), *c = mrb_array_clone(x);
    cr_assert(w && k && c);
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, k, 1), MRB_OK);
    cr_assert_eq(mrb_linop_forward(w, c->data, x->data), MRB_OK);
    const float complex *kv = k->data, *y = p->kspace->data, *cv = c->data;
    const float *m = p->mask->data;
    double data = 0, l1 = 0;
    for (size_t i = 0; i < n; i++) {
        double complex r = m[i] * (kv[i] - y[i]);
        data += creal(r * conj(r));
        l1 += cabsf(cv[i]);
    }
    mrb_linop_free(w);
    mrb_array_free(k);
    mrb_array_free(c);
    return 0.5 * data + lambda * l1;
}

static mrb_array *zero_filled(const problem *p)
{
    mrb_array *out = mrb_array_create3(MRB_C64, p->truth->dims[0], p->truth->dims[1], 1);
    cr_assert_eq(cs_test_run("zero-filling", &p->in, out, NULL), MRB_OK);
    return out;
}

Test(cs_wavelet, exact_with_full_sampling,
     .description = "with M = I the minimiser is W^H soft(W F^H y, lambda): FISTA reaches it")
{
    problem p = make_problem(64, 64, 1, 1, 0, 1);
    const double lambda = 0.05;
    mrb_array *out = mrb_array_create3(MRB_C64, 64, 64, 1);
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, out, "lambda", "0.05", "iterations", "200", "shifts", "0", "scaling",
                             "0", NULL),
                 MRB_OK, "%s", mrb_error_message());
    /* closed form: soft-threshold the wavelet coefficients of the image */
    size_t dims[3] = {64, 64, 1};
    mrb_linop *w = mrb_linop_wavelet_create(3, dims, 16, 1);
    mrb_array *c = mrb_array_clone(p.truth), *ref = mrb_array_clone(p.truth);
    cr_assert_eq(mrb_linop_forward(w, c->data, p.truth->data), MRB_OK);
    float complex *cv = c->data;
    for (size_t i = 0; i < 64 * 64; i++) {
        float a = cabsf(cv[i]);
        cv[i] = a > lambda ? cv[i] * (float)(1 - lambda / a) : 0;
    }
    cr_assert_eq(mrb_linop_adjoint(w, ref->data, c->data), MRB_OK);
    const float complex *o = out->data, *r = ref->data;
    double err = 0, nrm = 0;
    for (size_t i = 0; i < 64 * 64; i++) {
        err += cabsf(o[i] - r[i]) * cabsf(o[i] - r[i]);
        nrm += cabsf(r[i]) * cabsf(r[i]);
    }
    cr_assert(sqrt(err / nrm) < EXACT_RTOL, "relative error %g", sqrt(err / nrm));
    /* and the thresholding did something: the solution differs from the image */
    cr_assert(cs_test_psnr(p.truth, ref) < 60);
    mrb_linop_free(w);
    mrb_array_free(c);
    mrb_array_free(ref);
    mrb_array_free(out);
    free_problem(&p);
}

Test(cs_wavelet, objective_decreases_and_converges,
     .description = "FISTA (fixed grid) lowers the objective and converges at R = 4")
{
    problem p = make_problem(64, 64, 1, 4, 0, 2);
    const long checkpoints[] = {1, 3, 10, 30, 100, 200};
    double prev = INFINITY, f200 = 0;
    mrb_array *out = mrb_array_create3(MRB_C64, 64, 64, 1);
    for (size_t k = 0; k < sizeof checkpoints / sizeof checkpoints[0]; k++) {
        char it[16];
        snprintf(it, sizeof it, "%ld", checkpoints[k]);
        cr_assert_eq(cs_test_run("cs-wavelet", &p.in, out, "lambda", "0.01", "iterations", it, "shifts", "0", "scaling",
                                 "0", NULL),
                     MRB_OK);
        double f = objective(&p, out, 0.01);
        cr_assert(f <= prev * OBJECTIVE_BUMP, "objective %g after %ld iterations > %g before", f, checkpoints[k], prev);
        prev = f;
        f200 = f;
    }
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, out, "lambda", "0.01", "iterations", "800", "shifts", "0", "scaling",
                             "0", NULL),
                 MRB_OK);
    double f800 = objective(&p, out, 0.01);
    cr_assert(fabs(f200 - f800) <= CONVERGED_RTOL * f800, "f200 %g f800 %g", f200, f800);
    mrb_array *x0 = mrb_array_create3(MRB_C64, 64, 64, 1);
    double zero = objective(&p, x0, 0.01);
    mrb_array_free(x0);
    cr_assert(f800 < 0.5 * zero, "the solution must beat x = 0 clearly");
    mrb_array_free(out);
    free_problem(&p);
}

Test(cs_wavelet, data_consistency, .description = "a tiny lambda reproduces the sampled k-space")
{
    problem p = make_problem(64, 64, 1, 3, 0, 3);
    mrb_array *out = mrb_array_create3(MRB_C64, 64, 64, 1);
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, out, "lambda", "1e-6", "iterations", "100", NULL), MRB_OK);
    mrb_array *k = mrb_array_clone(out);
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, k, 1), MRB_OK);
    const float complex *kv = k->data, *y = p.kspace->data;
    const float *m = p.mask->data;
    double err = 0, nrm = 0;
    for (size_t i = 0; i < 64 * 64; i++)
        if (m[i]) {
            err += cabsf(kv[i] - y[i]) * cabsf(kv[i] - y[i]);
            nrm += cabsf(y[i]) * cabsf(y[i]);
        }
    cr_assert(sqrt(err / nrm) < DC_RTOL, "k-space mismatch %g", sqrt(err / nrm));
    mrb_array_free(k);
    mrb_array_free(out);
    free_problem(&p);
}

Test(cs_wavelet, beats_zero_filling, .description = "l1-wavelet CS beats zero-filling by 3 dB at R = 4")
{
    problem p = make_problem(128, 128, 1, 4, 0, 4);
    mrb_array *out = mrb_array_create3(MRB_C64, 128, 128, 1);
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, out, "iterations", "100", NULL), MRB_OK);
    mrb_array *zf = zero_filled(&p);
    double cs = cs_test_psnr(p.truth, out), z = cs_test_psnr(p.truth, zf);
    cr_log_info("cs-wavelet R=4 128x128: %.2f dB, zero-filled %.2f dB", cs, z);
    cr_assert(cs > z + CS_GAIN_DB, "cs %.2f dB vs zero-filled %.2f dB", cs, z);
    mrb_array_free(zf);
    mrb_array_free(out);
    free_problem(&p);
}

Test(cs_wavelet, multicoil_given_and_estimated_maps,
     .description = "multi-coil CS with given or estimated maps beats SENSE zero-filling")
{
    for (int give = 1; give >= 0; give--) {
        problem p = make_problem(96, 96, 4, 4, give, 5);
        mrb_array *out = mrb_array_create3(MRB_C64, 96, 96, 1);
        cr_assert_eq(cs_test_run("cs-wavelet", &p.in, out, "iterations", "60", NULL), MRB_OK, "%s",
                     mrb_error_message());
        p.in.sens = p.sens; /* zero-filled with the true maps: the fair baseline */
        mrb_array *zf = zero_filled(&p);
        double cs = cs_test_psnr(p.truth, out), z = cs_test_psnr(p.truth, zf);
        cr_log_info("cs-wavelet 4 coils (%s maps): %.2f dB, zero-filled %.2f dB", give ? "given" : "estimated", cs, z);
        cr_assert(cs > z + CS_GAIN_DB, "cs %.2f dB vs zero-filled %.2f dB", cs, z);
        mrb_array_free(zf);
        mrb_array_free(out);
        free_problem(&p);
    }
}

Test(cs_wavelet, deterministic_in_seed, .description = "the same seed gives bit-identical output")
{
    problem p = make_problem(64, 64, 1, 4, 0, 6);
    mrb_array *a = mrb_array_create3(MRB_C64, 64, 64, 1), *b = mrb_array_create3(MRB_C64, 64, 64, 1);
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, a, NULL), MRB_OK);
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, b, NULL), MRB_OK);
    cr_assert_eq(memcmp(a->data, b->data, mrb_array_bytes(a)), 0);
    mrb_array_free(a);
    mrb_array_free(b);
    free_problem(&p);
}

static void check_refusals(const char *method)
{
    problem p = make_problem(32, 32, 1, 2, 0, 7);
    mrb_array *out = mrb_array_create3(MRB_C64, 32, 32, 1);
    /* NaN in k-space */
    ((float *)p.kspace->data)[10] = NAN;
    cr_assert_eq(cs_test_run(method, &p.in, out, NULL), MRB_ERR_INVALID, "%s: NaN accepted", method);
    cr_assert(strstr(mrb_error_message(), "k-space") != NULL, "%s", mrb_error_message());
    ((float *)p.kspace->data)[10] = 0;
    /* all-zero mask */
    memset(p.mask->data, 0, mrb_array_bytes(p.mask));
    cr_assert_eq(cs_test_run(method, &p.in, out, NULL), MRB_ERR_INVALID, "%s: empty mask", method);
    cr_assert(strstr(mrb_error_message(), "mask") != NULL, "%s", mrb_error_message());
    /* mask of another shape */
    mrb_array *small = mrb_array_create3(MRB_F32, 16, 32, 1);
    p.in.mask = small;
    cr_assert_eq(cs_test_run(method, &p.in, out, NULL), MRB_ERR_INVALID, "%s: shape", method);
    mrb_array_free(small);
    mrb_array_free(out);
    free_problem(&p);
}

Test(cs_wavelet, refuses_bad_input, .description = "NaN k-space, empty mask, shape mismatch refused")
{
    check_refusals("cs-wavelet");
}

Test(cs_tv, refuses_bad_input, .description = "NaN k-space, empty mask, shape mismatch refused")
{
    check_refusals("cs-tv");
}

Test(cs_tv, beats_zero_filling, .description = "TV CS beats zero-filling by 3 dB at R = 4")
{
    problem p = make_problem(128, 128, 1, 4, 0, 8);
    mrb_array *out = mrb_array_create3(MRB_C64, 128, 128, 1);
    cr_assert_eq(cs_test_run("cs-tv", &p.in, out, NULL), MRB_OK, "%s", mrb_error_message());
    mrb_array *zf = zero_filled(&p);
    double cs = cs_test_psnr(p.truth, out), z = cs_test_psnr(p.truth, zf);
    cr_log_info("cs-tv R=4 128x128: %.2f dB, zero-filled %.2f dB", cs, z);
    cr_assert(cs > z + CS_GAIN_DB, "cs-tv %.2f dB vs zero-filled %.2f dB", cs, z);
    mrb_array_free(zf);
    mrb_array_free(out);
    free_problem(&p);
}

/* TV objective 0.5 ||M F x - y||^2 + lambda sum_i |grad x|_2 (single coil). */
static double tv_objective(const problem *p, const mrb_array *x, double lambda)
{
    size_t nx = x->dims[0], ny = x->dims[1], n = nx * ny;
    size_t dims[3] = {nx, ny, 1};
    mrb_linop *d = mrb_linop_fdiff_create(3, dims, 0x3, 1);
    mrb_array *k = mrb_array_clone(x);
    float complex *g = mrb_malloc(2 * n * sizeof *g);
    cr_assert(d && k && g);
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, k, 1), MRB_OK);
    cr_assert_eq(mrb_linop_forward(d, (float *)g, x->data), MRB_OK);
    const float complex *kv = k->data, *y = p->kspace->data;
    const float *m = p->mask->data;
    double data = 0, tv = 0;
    for (size_t i = 0; i < n; i++) {
        double complex r = m[i] * (kv[i] - y[i]);
        data += creal(r * conj(r));
        tv += sqrt(cabsf(g[i]) * cabsf(g[i]) + cabsf(g[n + i]) * cabsf(g[n + i]));
    }
    mrb_linop_free(d);
    mrb_array_free(k);
    mrb_free(g);
    return 0.5 * data + lambda * tv;
}

Test(cs_tv, objective_decreases_and_converges,
     .description = "ADMM lowers the TV objective and settles (fixed point of more iterations)")
{
    problem p = make_problem(64, 64, 1, 4, 0, 9);
    mrb_array *out = mrb_array_create3(MRB_C64, 64, 64, 1);
    double f[3];
    const char *iters[3] = {"5", "50", "200"};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(cs_test_run("cs-tv", &p.in, out, "lambda", "0.01", "iterations", iters[k], "scaling", "0", NULL),
                     MRB_OK);
        f[k] = tv_objective(&p, out, 0.01);
    }
    cr_log_info("cs-tv objective after 5/50/200: %g %g %g", f[0], f[1], f[2]);
    cr_assert(f[1] <= f[0] * OBJECTIVE_BUMP && f[2] <= f[1] * OBJECTIVE_BUMP);
    /* the gap to the 200-iteration value shrinks at least 5-fold from 5 to 50 */
    cr_assert(f[1] - f[2] <= 0.2 * (f[0] - f[2]), "not settling: %g %g %g", f[0], f[1], f[2]);
    mrb_array_free(out);
    free_problem(&p);
}

Test(cs_wavelet, threads_agree, .description = "2 threads give the 1-thread result (to rounding)")
{
    problem p = make_problem(128, 128, 2, 4, 1, 10);
    mrb_array *a = mrb_array_create3(MRB_C64, 128, 128, 1), *b = mrb_array_create3(MRB_C64, 128, 128, 1);
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, a, "iterations", "10", NULL), MRB_OK);
    p.in.nthreads = 2;
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, b, "iterations", "10", NULL), MRB_OK);
    const float complex *x = a->data, *y = b->data;
    double err = 0, nrm = 0;
    for (size_t i = 0; i < 128 * 128; i++) {
        err += cabsf(x[i] - y[i]) * cabsf(x[i] - y[i]);
        nrm += cabsf(x[i]) * cabsf(x[i]);
    }
    cr_assert(sqrt(err / nrm) < 1e-5, "relative difference %g", sqrt(err / nrm));
    mrb_array_free(a);
    mrb_array_free(b);
    free_problem(&p);
}

/* Sets a method parameter from text, returning the status (not asserting). */
static mrb_status set_param(const char *method, const char *key, const char *value)
{
    const mrb_method_desc *d = mrb_method_find(method);
    cr_assert_not_null(d);
    mrb_params p;
    mrb_params_defaults(&p, d->params, d->nparams);
    return mrb_params_set_text(&p, d->params, d->nparams, key, value, method);
}

Test(cs_wavelet, step_stops_at_the_convergence_bound,
     .description = "step above 1/L = 1 is refused by the schema; step = 1/L converges")
{
    /* FISTA converges for step <= 1/L (Beck and Teboulle 2009); at L = 1
     * step 1.5 already gave |x| ~ 2e8 and step 5 ~ 4e25 with status ok */
    const char *too_large[] = {"1.5", "5", "10"};
    for (size_t i = 0; i < sizeof too_large / sizeof too_large[0]; i++)
        cr_assert_neq(set_param("cs-wavelet", "step", too_large[i]), MRB_OK, "step %s accepted", too_large[i]);
    cr_assert_eq(set_param("cs-wavelet", "step", "1"), MRB_OK, "%s", mrb_error_message());
    problem p = make_problem(64, 64, 1, 4, 0, 11);
    mrb_array *out = mrb_array_create3(MRB_C64, 64, 64, 1);
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, out, "step", "1", "iterations", "100", NULL), MRB_OK, "%s",
                 mrb_error_message());
    mrb_array *zf = zero_filled(&p);
    double cs = cs_test_psnr(p.truth, out), z = cs_test_psnr(p.truth, zf);
    cr_assert(cs > z + CS_GAIN_DB, "step 1: %.2f dB vs zero-filled %.2f dB", cs, z);
    mrb_array_free(zf);
    mrb_array_free(out);
    free_problem(&p);
}

Test(cs_wavelet, weighted_mask_sets_the_lipschitz_constant,
     .description = "a mask of 2s (L = 4) converges with the default step and refuses step 1 > 1/L")
{
    problem p = make_problem(64, 64, 1, 4, 0, 12);
    mrb_array *ref = mrb_array_create3(MRB_C64, 64, 64, 1), *out = mrb_array_create3(MRB_C64, 64, 64, 1);
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, ref, "iterations", "100", NULL), MRB_OK);
    float *m = p.mask->data;
    for (size_t i = 0; i < 64 * 64; i++) m[i] *= 2;
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, out, "iterations", "100", NULL), MRB_OK, "%s", mrb_error_message());
    double a = cs_test_psnr(p.truth, ref), b = cs_test_psnr(p.truth, out);
    cr_log_info("0/1 mask %.2f dB, 0/2 mask %.2f dB", a, b);
    cr_assert(fabs(a - b) < WEIGHTED_MASK_DB, "0/1 mask %.2f dB, 0/2 mask %.2f dB", a, b);
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, out, "step", "1", NULL), MRB_ERR_INVALID);
    cr_assert(strstr(mrb_error_message(), "exceeds 1/L") != NULL, "%s", mrb_error_message());
    mrb_array_free(ref);
    mrb_array_free(out);
    free_problem(&p);
}

Test(cs_wavelet, divergence_fails_the_run_while_values_are_finite,
     .description = "an under-estimated Lipschitz constant makes FISTA grow; the run fails, not just on inf")
{
    /* The encoding operator is swapped for one with a mask of 2s after
     * setup, so the problem's L (1, from the 0/1 mask) is 4x too small and
     * the default step 0.95 / L is 3.8 / L_true. */
    problem p = make_problem(64, 64, 1, 4, 0, 13);
    mrb_cs_problem pb;
    cr_assert_eq(mrb_cs_problem_setup(&pb, &p.in, "test"), MRB_OK, "%s", mrb_error_message());
    float *mask2 = mrb_malloc(64 * 64 * sizeof *mask2);
    const float *m = p.mask->data;
    for (size_t i = 0; i < 64 * 64; i++) mask2[i] = 2 * m[i];
    size_t kdims[3] = {64, 64, 1};
    mrb_linop_free(pb.enc);
    pb.enc =
        mrb_linop_chain_create(mrb_linop_fft2_create(3, kdims, 1), mrb_linop_mask_create(3, kdims, mask2, 64 * 64, 1));
    cr_assert_not_null(pb.enc);
    mrb_free(mask2);
    cr_assert_eq(mrb_cs_problem_load(&pb, &p.in, 1), MRB_OK);
    mrb_linop *wav = mrb_linop_wavelet_create(3, kdims, 16, 1);
    mrb_cs_fista_work w;
    cr_assert_eq(mrb_cs_fista_work_alloc(&w, pb.nimg), MRB_OK);
    mrb_cs_fista_opts o = {.lambda = 0.005, .step = 0, .iterations = 30, .tolerance = 0, .shifts = 0, .seed = 0};
    mrb_status st = mrb_cs_fista(&pb, wav, &o, &w);
    cr_log_info("%s", mrb_error_message());
    cr_assert_eq(st, MRB_ERR_RUN, "a diverging run reported ok");
    cr_assert(strstr(mrb_error_message(), "diverged") != NULL, "%s", mrb_error_message());
    cr_assert_lt(w.iterations_done, o.iterations, "stopped when the bound was crossed");
    mrb_cs_fista_work_free(&w);
    mrb_linop_free(wav);
    mrb_cs_problem_clear(&pb);
    free_problem(&p);
}
