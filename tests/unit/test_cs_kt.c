/* Dynamic compressed sensing (kt-sparse, kt-focuss) on a small synthetic
 * 2D+t sequence: gains over zero-filling, data consistency, bad input. */
#include "test_cs_util.h"

#define NTHREADS 1
#define NX 64
#define NY 64
#define NT 16
/* both methods must beat zero-filling by at least this at R = 4 */
#define KT_GAIN_DB 3.0
/* k-t FOCUSS fits the sampled data closely (CG on the data term only) */
#define FOCUSS_DC_RTOL 1e-3

typedef struct seq {
    mrb_array *truth, *kspace, *mask, *sens;
    mrb_recon_input in;
} seq;

static seq make_seq(size_t nc, double accel, uint64_t seed)
{
    seq s = {0};
    s.truth = mrb_array_create3(MRB_C64, NX, NY, NT);
    s.mask = mrb_array_create3(MRB_F32, NX, NY, NT);
    cr_assert(s.truth && s.mask);
    for (size_t t = 0; t < NT; t++) {
        cs_test_phantom((float complex *)s.truth->data + t * NX * NY, NX, NY, (double)t / NT);
        /* lines along dims[0] (readout) at phase encodes dims[1], new pattern per frame */
        cs_test_mask((float *)s.mask->data + t * NX * NY, NX, NY, accel, 6, 1, seed * 100 + t);
    }
    float complex *sens = NULL;
    if (nc > 1) {
        size_t sd[4] = {NX, NY, 1, nc};
        s.sens = mrb_array_create(MRB_C64, 4, sd);
        cs_test_coils(s.sens->data, NX, NY, nc);
        sens = s.sens->data;
    }
    s.kspace = cs_test_kspace(s.truth, sens, nc);
    s.in.kspace = s.kspace;
    s.in.mask = s.mask;
    s.in.sens = s.sens;
    s.in.nthreads = NTHREADS;
    s.in.seed = seed;
    return s;
}

static void free_seq(seq *s)
{
    mrb_array_free(s->truth);
    mrb_array_free(s->kspace);
    mrb_array_free(s->mask);
    mrb_array_free(s->sens);
}

static void check_gain(const char *method, size_t nc)
{
    seq s = make_seq(nc, 4, 3);
    mrb_array *out = mrb_array_create3(MRB_C64, NX, NY, NT);
    mrb_array *zf = mrb_array_create3(MRB_C64, NX, NY, NT);
    cr_assert_eq(cs_test_run(method, &s.in, out, NULL), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(cs_test_run("zero-filling", &s.in, zf, NULL), MRB_OK);
    double a = cs_test_psnr(s.truth, out), z = cs_test_psnr(s.truth, zf);
    cr_log_info("%s %zu coil(s), R = 4, %dx%dx%d: %.2f dB, zero-filled %.2f dB", method, nc, NX, NY, NT, a, z);
    cr_assert(a > z + KT_GAIN_DB, "%s: %.2f dB vs zero-filled %.2f dB", method, a, z);
    mrb_array_free(out);
    mrb_array_free(zf);
    free_seq(&s);
}

Test(kt_sparse, beats_zero_filling_single_coil, .description = "k-t SPARSE beats zero-filling (1 coil)")
{
    check_gain("kt-sparse", 1);
}

Test(kt_sparse, beats_zero_filling_multicoil, .description = "k-t SPARSE-SENSE beats zero-filling (4 coils)")
{
    check_gain("kt-sparse", 4);
}

Test(kt_focuss, beats_zero_filling_single_coil, .description = "k-t FOCUSS beats zero-filling (1 coil)")
{
    check_gain("kt-focuss", 1);
}

Test(kt_focuss, beats_zero_filling_multicoil, .description = "k-t FOCUSS beats zero-filling (4 coils)")
{
    check_gain("kt-focuss", 4);
}

Test(kt_focuss, data_consistency, .description = "k-t FOCUSS reproduces the sampled k-space")
{
    seq s = make_seq(1, 4, 5);
    mrb_array *out = mrb_array_create3(MRB_C64, NX, NY, NT);
    cr_assert_eq(cs_test_run("kt-focuss", &s.in, out, "cg_iterations", "40", NULL), MRB_OK);
    mrb_array *k = mrb_array_clone(out);
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, k, 1), MRB_OK);
    const float complex *kv = k->data, *y = s.kspace->data;
    const float *m = s.mask->data;
    double err = 0, nrm = 0;
    for (size_t i = 0; i < (size_t)NX * NY * NT; i++)
        if (m[i]) {
            err += cabsf(kv[i] - y[i]) * cabsf(kv[i] - y[i]);
            nrm += cabsf(y[i]) * cabsf(y[i]);
        }
    cr_log_info("kt-focuss relative k-space residual %g", sqrt(err / nrm));
    cr_assert(sqrt(err / nrm) < FOCUSS_DC_RTOL, "residual %g", sqrt(err / nrm));
    mrb_array_free(k);
    mrb_array_free(out);
    free_seq(&s);
}

static void check_refusals(const char *method)
{
    seq s = make_seq(1, 2, 7);
    mrb_array *out = mrb_array_create3(MRB_C64, NX, NY, NT);
    ((float *)s.kspace->data)[3] = INFINITY;
    cr_assert_eq(cs_test_run(method, &s.in, out, NULL), MRB_ERR_INVALID, "%s: Inf accepted", method);
    ((float *)s.kspace->data)[3] = 0;
    memset(s.mask->data, 0, mrb_array_bytes(s.mask));
    cr_assert_eq(cs_test_run(method, &s.in, out, NULL), MRB_ERR_INVALID, "%s: empty mask", method);
    /* mask with fewer frames than the k-space */
    mrb_array *short_mask = mrb_array_create3(MRB_F32, NX, NY, NT - 1);
    s.in.mask = short_mask;
    cr_assert_eq(cs_test_run(method, &s.in, out, NULL), MRB_ERR_INVALID, "%s: frames", method);
    mrb_array_free(short_mask);
    /* output of the wrong shape */
    s.in.mask = s.mask;
    cs_test_mask(s.mask->data, NX, NY, 2, 6, 1, 1);
    mrb_array *bad = mrb_array_create3(MRB_C64, NX, NY, 1);
    cr_assert_eq(cs_test_run(method, &s.in, bad, NULL), MRB_ERR_INVALID, "%s: output", method);
    mrb_array_free(bad);
    mrb_array_free(out);
    free_seq(&s);
}

Test(kt_sparse, refuses_bad_input, .description = "Inf k-space, empty mask, frame mismatch refused")
{
    check_refusals("kt-sparse");
}

Test(kt_sparse, step_stops_at_the_convergence_bound,
     .description = "FISTA step above 1/L is refused: by the schema above 1, at run time above 1/L of the maps")
{
    /* FISTA converges for step <= 1/L (Beck and Teboulle 2009): L = 1 for a
     * 0/1 mask and normalised maps; these synthetic maps are not normalised
     * (max sum_c |S_c|^2 > 1), so step 1 exceeds 1/L for them */
    const mrb_method_desc *d = mrb_method_find("kt-sparse");
    cr_assert_not_null(d);
    mrb_params p;
    mrb_params_defaults(&p, d->params, d->nparams);
    cr_assert_neq(mrb_params_set_text(&p, d->params, d->nparams, "step", "5", "kt-sparse"), MRB_OK);
    seq s = make_seq(4, 4, 5);
    mrb_array *out = mrb_array_create3(MRB_C64, NX, NY, NT);
    cr_assert_eq(cs_test_run("kt-sparse", &s.in, out, "step", "1", "iterations", "5", NULL), MRB_ERR_INVALID);
    cr_assert(strstr(mrb_error_message(), "exceeds 1/L") != NULL, "%s", mrb_error_message());
    cr_assert_eq(cs_test_run("kt-sparse", &s.in, out, "iterations", "5", NULL), MRB_OK, "%s", mrb_error_message());
    mrb_array_free(out);
    free_seq(&s);
}

Test(kt_focuss, refuses_bad_input, .description = "Inf k-space, empty mask, frame mismatch refused")
{
    check_refusals("kt-focuss");
}

Test(lps, beats_zero_filling_single_coil, .description = "L+S beats zero-filling (1 coil)")
{
    check_gain("lps", 1);
}

Test(lps, beats_zero_filling_multicoil, .description = "L+S beats zero-filling (4 coils)")
{
    check_gain("lps", 4);
}

Test(lps, refuses_bad_input, .description = "Inf k-space, empty mask, frame mismatch refused")
{
    check_refusals("lps");
}

Test(lps, rank_one_sequence_is_kept, .description = "a static (rank-1) sequence fully sampled is returned")
{
    seq s = make_seq(1, 1, 11);
    /* static truth: every frame equals frame 0 */
    for (size_t t = 1; t < NT; t++)
        memcpy((float complex *)s.truth->data + t * NX * NY, s.truth->data, NX * NY * sizeof(float complex));
    mrb_array_free(s.kspace);
    s.kspace = cs_test_kspace(s.truth, NULL, 1);
    s.in.kspace = s.kspace;
    for (size_t i = 0; i < (size_t)NX * NY * NT; i++) ((float *)s.mask->data)[i] = 1;
    mrb_array *out = mrb_array_create3(MRB_C64, NX, NY, NT);
    cr_assert_eq(cs_test_run("lps", &s.in, out, NULL), MRB_OK, "%s", mrb_error_message());
    double psnr = cs_test_psnr(s.truth, out);
    cr_log_info("lps on a static fully sampled sequence: %.2f dB", psnr);
    /* full sampling with data consistency every iteration: near exact */
    cr_assert(psnr > 50, "%.2f dB", psnr);
    mrb_array_free(out);
    free_seq(&s);
}
