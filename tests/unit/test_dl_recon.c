/* DLMRI and DLTG as registered methods (baselines/recon/dl/dl_recon.c):
 * both beat zero-filling on small phantoms, keep the data, are deterministic
 * across thread counts, report their time split, and reject what they
 * cannot handle. The phantoms are made here from ellipses
 * (tests/unit/test_dl_common.h). */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "mrbench/dl.h"
#include "mrbench/registry.h"
#include "test_dl_common.h"

/* Minimum PSNR gain over zero-filling (dB). Measured on these phantoms:
 * DLMRI with its defaults +1.2 dB (64x64, 2D variable-density R = 4; the
 * constant error threshold 0.023 keeps up to 10 atoms per patch, which also
 * represent aliasing), +4.4 dB with err_thr 0.05 and 8 outer iterations;
 * DLTG +4.3 dB (48x48x8,
 * Cartesian R = 4, 8 outer iterations). The bounds leave room for platform
 * differences in float rounding. */
#define MIN_GAIN_DLMRI_DB 0.5
#define MIN_GAIN_DLMRI_LOOSE_DB 3.0
#define MIN_GAIN_DLTG_DB 3.0
/* Sampled k-space of the result vs the data, relative to max |y|. */
#define DATA_REL_TOL 1e-5

typedef struct recon_case {
    mrb_array *truth, *mask, *kspace, *zf, *out;
    mrb_recon_input in;
} recon_case;

/* centre = 0: 2D variable-density random mask; else Cartesian lines with
 * `centre` lines around k = 0. */
static recon_case make_case(size_t nx, size_t ny, size_t nt, double R, size_t centre, int nthreads)
{
    recon_case c;
    c.truth = dl_test_phantom(nx, ny, nt);
    c.mask = centre ? dl_test_mask(nx, ny, nt, R, centre, 2024) : dl_test_mask_2d(nx, ny, nt, R, 2024);
    c.kspace = dl_test_kspace(c.truth, c.mask);
    c.zf = mrb_array_create3(MRB_C64, nx, ny, nt);
    c.out = mrb_array_create3(MRB_C64, nx, ny, nt);
    cr_assert(c.truth && c.mask && c.kspace && c.zf && c.out);
    c.in = (mrb_recon_input){.kspace = c.kspace, .mask = c.mask, .sens = NULL, .nthreads = nthreads, .seed = 7};
    const mrb_method_desc *zf = mrb_method_find("zero-filling");
    cr_assert_not_null(zf);
    void *st = NULL;
    cr_assert_eq(zf->setup(NULL, &c.in, &st), MRB_OK);
    cr_assert_eq(zf->run(st, &c.in, c.zf), MRB_OK);
    zf->teardown(st);
    return c;
}

static void free_case(recon_case *c)
{
    mrb_array_free(c->truth);
    mrb_array_free(c->mask);
    mrb_array_free(c->kspace);
    mrb_array_free(c->zf);
    mrb_array_free(c->out);
}

/* Runs a method with defaults plus `key=value` overrides; returns the stats. */
static mrb_dl_stats run_method(const char *name, recon_case *c, const char *const *kv, size_t nkv)
{
    const mrb_method_desc *m = mrb_method_find(name);
    cr_assert_not_null(m, "method %s not registered", name);
    mrb_params p;
    mrb_params_defaults(&p, m->params, m->nparams);
    for (size_t i = 0; i < nkv; i += 2)
        cr_assert_eq(mrb_params_set_text(&p, m->params, m->nparams, kv[i], kv[i + 1], "test"), MRB_OK, "%s",
                     mrb_error_message());
    void *st = NULL;
    cr_assert_eq(m->setup(&p, &c->in, &st), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(m->run(st, &c->in, c->out), MRB_OK, "%s", mrb_error_message());
    mrb_dl_stats s;
    cr_assert_eq(mrb_dl_stats_get(st, &s), MRB_OK);
    m->teardown(st);
    return s;
}

static void assert_data_kept(const recon_case *c)
{
    mrb_array *k = mrb_array_clone(c->out);
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, k, 1), MRB_OK);
    const float complex *s = k->data, *y = c->kspace->data;
    const float *m = c->mask->data;
    double scale = 0;
    for (size_t i = 0; i < mrb_array_count(c->mask); i++)
        if (cabsf(y[i]) > scale) scale = cabsf(y[i]);
    for (size_t i = 0; i < mrb_array_count(c->mask); i++)
        if (m[i] != 0) cr_assert_leq(cabsf(s[i] - y[i]), DATA_REL_TOL * scale, "sampled location %zu", i);
    mrb_array_free(k);
}

Test(dl_recon, dlmri_beats_zero_filling_on_a_phantom)
{
    /* property: DLMRI with its defaults gains over zero-filling at R = 4 with
     * 2D variable-density sampling and keeps the measured k-space */
    recon_case c = make_case(64, 64, 1, 4, 0, 2);
    mrb_dl_stats s = run_method("dlmri", &c, NULL, 0);
    double zf = dl_test_psnr(c.truth, c.zf), dl = dl_test_psnr(c.truth, c.out);
    cr_log_info("dlmri 64x64 R=4: zero-filling %.2f dB, dlmri %.2f dB, %.2f s", zf, dl, s.seconds_total);
    cr_assert_geq(dl, zf + MIN_GAIN_DLMRI_DB, "dlmri %.2f dB vs zero-filling %.2f dB", dl, zf);
    assert_data_kept(&c);
    cr_assert_eq(s.outer_iters, 15);
    cr_assert_eq(s.patches, 2 * 64 * 64, "patches per outer iteration (both parts)");
    cr_assert_gt(s.mean_atoms, 0);
    cr_assert_leq(s.mean_atoms, 10);
    static const char *const loose[] = {"err_thr", "0.05", "outer_iters", "8"};
    run_method("dlmri", &c, loose, 4);
    double dl2 = dl_test_psnr(c.truth, c.out);
    cr_log_info("dlmri err_thr 0.05: %.2f dB", dl2);
    cr_assert_geq(dl2, zf + MIN_GAIN_DLMRI_LOOSE_DB, "dlmri (err_thr 0.05) %.2f dB vs %.2f dB", dl2, zf);
    free_case(&c);
}

Test(dl_recon, dltg_beats_zero_filling_on_a_sequence)
{
    /* property: DLTG (4x4x4 patches, TG term) gains over zero-filling on a
     * 2D+t sequence at R = 4, keeps the data, and reports its time split */
    recon_case c = make_case(48, 48, 8, 4, 6, 2);
    static const char *const kv[] = {"outer_iters", "8"};
    mrb_dl_stats s = run_method("dltg", &c, kv, 2);
    double zf = dl_test_psnr(c.truth, c.zf), dl = dl_test_psnr(c.truth, c.out);
    cr_log_info("dltg 48x48x8 R=4: zero-filling %.2f dB, dltg %.2f dB, %.2f s", zf, dl, s.seconds_total);
    cr_assert_geq(dl, zf + MIN_GAIN_DLTG_DB, "dltg %.2f dB vs zero-filling %.2f dB", dl, zf);
    assert_data_kept(&c);
    double parts = s.seconds_dictionary + s.seconds_coding + s.seconds_averaging + s.seconds_consistency;
    cr_assert_gt(s.seconds_coding, 0);
    cr_assert_gt(s.seconds_consistency, 0);
    cr_assert_leq(parts, s.seconds_total * 1.01 + 1e-3, "split %g exceeds total %g", parts, s.seconds_total);
    free_case(&c);
}

Test(dl_recon, dlmri_frames_in_parallel_split_the_wall_time)
{
    /* property: with frames reconstructed concurrently (4 frames, 2
     * threads) the four phases are still disjoint parts of the run: they add
     * up to at most its wall time (summed thread seconds would be about
     * twice that), and each is positive */
    recon_case c = make_case(24, 24, 4, 3, 4, 2);
    static const char *const kv[] = {"outer_iters", "2", "ksvd_iters", "5"};
    mrb_dl_stats s = run_method("dlmri", &c, kv, 4);
    double parts = s.seconds_dictionary + s.seconds_coding + s.seconds_averaging + s.seconds_consistency;
    cr_log_info("dlmri 24x24x4 on 2 threads: phases %.3f s of %.3f s", parts, s.seconds_total);
    cr_assert_gt(s.seconds_dictionary, 0);
    cr_assert_gt(s.seconds_coding, 0);
    cr_assert_leq(parts, s.seconds_total * 1.01 + 1e-3, "split %g exceeds total %g", parts, s.seconds_total);
    free_case(&c);
}

Test(dl_recon, results_do_not_depend_on_the_thread_count)
{
    /* property: bitwise identical reconstructions with 1 and 2 threads, for
     * both methods (DLMRI on 2 frames, run concurrently with 2 threads) */
    static const char *const kv[] = {"outer_iters", "2", "ksvd_iters", "5"};
    const char *names[2] = {"dlmri", "dltg"};
    for (int k = 0; k < 2; k++) {
        recon_case a = make_case(24, 24, 4, 3, 4, 1), b = make_case(24, 24, 4, 3, 4, 2);
        run_method(names[k], &a, kv, 4);
        run_method(names[k], &b, kv, 4);
        cr_assert_eq(memcmp(a.out->data, b.out->data, mrb_array_bytes(a.out)), 0, "%s differs between 1 and 2 threads",
                     names[k]);
        free_case(&a);
        free_case(&b);
    }
}

Test(dl_recon, rejects_what_it_cannot_handle)
{
    /* property: multi-coil input, patches larger than the image and
     * non-DL states give errors with messages */
    const mrb_method_desc *m = mrb_method_find("dltg");
    cr_assert_not_null(m);
    mrb_params p;
    mrb_params_defaults(&p, m->params, m->nparams);
    size_t dims[4] = {8, 8, 2, 2};
    mrb_array *ks = mrb_array_create(MRB_C64, 4, dims), *mask = mrb_array_create3(MRB_F32, 8, 8, 2);
    mrb_recon_input in = {.kspace = ks, .mask = mask, .nthreads = 1, .seed = 1};
    void *st = NULL;
    cr_assert_eq(m->setup(&p, &in, &st), MRB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(mrb_error_message(), "single-coil"), "%s", mrb_error_message());
    ks->dims[3] = 1; /* one coil, but 2 frames < 4-frame patches */
    ks->ndim = 3;
    cr_assert_eq(m->setup(&p, &in, &st), MRB_ERR_INVALID);
    cr_assert_not_null(strstr(mrb_error_message(), "exceeds"), "%s", mrb_error_message());
    mrb_dl_stats s;
    int not_a_state = 0;
    cr_assert_eq(mrb_dl_stats_get(&not_a_state, &s), MRB_ERR_INVALID);
    mrb_array_free(ks);
    mrb_array_free(mask);
}
