/* bart-pics adapter: a clear error without bart, and (where the Debian
 * package bart is installed) agreement with mrbench's cs-wavelet at the same
 * lambda and iterations on a small phantom. */
#include "test_cs_util.h"

#include <unistd.h>

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
