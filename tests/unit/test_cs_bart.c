/* bart-pics adapter: a clear error without bart, and (where the Debian
 * package bart is installed) agreement with mrbench's cs-wavelet at the same
 * lambda and iterations on a small phantom. */
#include "test_cs_util.h"

#include <unistd.h>

#include "mrbench/util.h"

#define N 64
/* The two solvers differ in wavelet boundary handling (BART extends, mrbench
 * is periodic) and random shifts: PSNRs agree to within this. */
#define BART_AGREEMENT_DB 1.0

static int have_bart(void)
{
    const char *dirs[] = {"/usr/bin/bart", "/usr/local/bin/bart"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (access(dirs[i], X_OK) == 0) return 1;
    return 0;
}

typedef struct problem {
    mrb_array *truth, *kspace, *mask;
    mrb_recon_input in;
} problem;

static problem make_problem(size_t nt)
{
    problem p = {0};
    p.truth = mrb_array_create3(MRB_C64, N, N, nt);
    p.mask = mrb_array_create3(MRB_F32, N, N, nt);
    for (size_t t = 0; t < nt; t++) {
        cs_test_phantom((float complex *)p.truth->data + t * N * N, N, N, 0);
        cs_test_mask((float *)p.mask->data + t * N * N, N, N, 3, 12, 0, 17 + t);
    }
    p.kspace = cs_test_kspace(p.truth, NULL, 1);
    p.in.kspace = p.kspace;
    p.in.mask = p.mask;
    p.in.nthreads = 1;
    p.in.seed = 3;
    return p;
}

static void free_problem(problem *p)
{
    mrb_array_free(p->truth);
    mrb_array_free(p->kspace);
    mrb_array_free(p->mask);
}

Test(bart_pics, missing_program_is_a_clear_error,
     .description = "a bart program that does not exist gives MRB_ERR_UNSUPPORTED naming it")
{
    problem p = make_problem(1);
    mrb_array *out = mrb_array_create3(MRB_C64, N, N, 1);
    mrb_status st = cs_test_run("bart-pics", &p.in, out, "bart", "/nonexistent/bart", NULL);
    cr_assert_eq(st, MRB_ERR_UNSUPPORTED);
    cr_assert(strstr(mrb_error_message(), "/nonexistent/bart") != NULL, "%s", mrb_error_message());
    mrb_array_free(out);
    free_problem(&p);
}

Test(bart_pics, refuses_dynamic_data, .description = "2D+t input is refused as unsupported")
{
    problem p = make_problem(3);
    mrb_array *out = mrb_array_create3(MRB_C64, N, N, 3);
    cr_assert_eq(cs_test_run("bart-pics", &p.in, out, NULL), MRB_ERR_UNSUPPORTED);
    mrb_array_free(out);
    free_problem(&p);
}

Test(bart_pics, refuses_nan, .description = "NaN k-space is refused before bart runs")
{
    problem p = make_problem(1);
    ((float *)p.kspace->data)[5] = NAN;
    mrb_array *out = mrb_array_create3(MRB_C64, N, N, 1);
    cr_assert_eq(cs_test_run("bart-pics", &p.in, out, NULL), MRB_ERR_INVALID);
    mrb_array_free(out);
    free_problem(&p);
}

Test(bart_pics, agrees_with_cs_wavelet,
     .description = "bart pics -R W and cs-wavelet reach the same PSNR at the same lambda")
{
    if (!have_bart()) cr_skip_test("bart is not installed (Debian package bart)");
    problem p = make_problem(1);
    mrb_array *a = mrb_array_create3(MRB_C64, N, N, 1), *b = mrb_array_create3(MRB_C64, N, N, 1);
    cr_assert_eq(cs_test_run("bart-pics", &p.in, a, "iterations", "50", NULL), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(cs_test_run("cs-wavelet", &p.in, b, "iterations", "50", NULL), MRB_OK);
    double pa = cs_test_psnr(p.truth, a), pb = cs_test_psnr(p.truth, b);
    cr_log_info("64x64 R=3: bart pics %.2f dB, cs-wavelet %.2f dB", pa, pb);
    cr_assert(fabs(pa - pb) < BART_AGREEMENT_DB, "bart %.2f dB vs mrbench %.2f dB", pa, pb);
    mrb_array_free(a);
    mrb_array_free(b);
    free_problem(&p);
}

/* Phases come from clocks read inside run, the total from the caller's
 * clock around it: allow this much for rounding between the two. */
#define PHASE_SUM_ABS_TOL 1e-3

Test(bart_pics, phases_are_disjoint_parts_of_the_run,
     .description = "the time split adds up to at most the run's wall time and holds no CPU time")
{
    if (!have_bart()) cr_skip_test("bart is not installed (Debian package bart)");
    problem p = make_problem(1);
    p.in.nthreads = 2; /* with threads, CPU time exceeds wall time: it must not be a phase */
    const mrb_method_desc *d = mrb_method_find("bart-pics");
    cr_assert(d && d->phases);
    mrb_params prm;
    mrb_params_defaults(&prm, d->params, d->nparams);
    void *state = NULL;
    cr_assert_eq(d->setup(&prm, &p.in, &state), MRB_OK, "%s", mrb_error_message());
    mrb_array *out = mrb_array_create3(MRB_C64, N, N, 1);
    double t0 = mrb_now();
    cr_assert_eq(d->run(state, &p.in, out), MRB_OK, "%s", mrb_error_message());
    double total = mrb_now() - t0;
    const char *names[8];
    double secs[8], sum = 0;
    size_t n = d->phases(state, names, secs, 8);
    cr_assert_geq(n, 3);
    int pics = 0;
    for (size_t i = 0; i < n; i++) {
        cr_log_info("%s %.4f s", names[i], secs[i]);
        cr_assert_geq(secs[i], 0, "%s is negative", names[i]);
        cr_assert_null(strstr(names[i], "cpu"), "CPU time %s overlaps the wall time", names[i]);
        pics += strcmp(names[i], "bart_pics") == 0 || strcmp(names[i], "bart_process") == 0;
        sum += secs[i];
    }
    cr_assert_eq(pics, 1, "one phase holds BART's own work");
    cr_assert_leq(sum, total + PHASE_SUM_ABS_TOL, "phases add up to %.4f s, the run took %.4f s", sum, total);
    d->teardown(state);
    mrb_array_free(out);
    free_problem(&p);
}
