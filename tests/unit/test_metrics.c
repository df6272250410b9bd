/* Properties of the image and label metrics and of the exact EDT:
 * identities, symmetries, brute-force cross-checks, empty-mask policies,
 * input validation, determinism across thread counts, and the registry. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/metrics.h"
#include "mrbench/registry.h"
#include "mrbench/rng.h"

/* Brute-force sums in the tests use another order than the library. */
#define BRUTE_REL_TOL 1e-10
/* Squared distances are sums of a few squared multiples of the spacing. */
#define EDT_REL_TOL 1e-12
/* Distances from the library vs brute force over surfaces, in mm. */
#define DIST_ABS_TOL_MM 1e-9

static mrb_array *random_image(mrb_rng *rng, size_t nx, size_t ny, size_t nz)
{
    mrb_array *a = nz ? mrb_array_create3(MRB_F32, nx, ny, nz) : mrb_array_create2(MRB_F32, nx, ny);
    cr_assert(a);
    float *d = a->data;
    for (size_t i = 0; i < mrb_array_count(a); i++) d[i] = (float)mrb_rng_uniform(rng);
    return a;
}

static mrb_array *perturbed(mrb_rng *rng, const mrb_array *a, double amount)
{
    mrb_array *b = mrb_array_clone(a);
    cr_assert(b);
    float *d = b->data;
    for (size_t i = 0; i < mrb_array_count(b); i++) d[i] = (float)fabs(d[i] + amount * mrb_rng_normal(rng));
    return b;
}

/* ------------------------------------------------------- image metrics -- */

Test(metrics_image, identical_images_give_zero_errors_and_ssim_one)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, 1);
    mrb_array *a = random_image(&rng, 37, 29, 3);
    double v;
    cr_assert_eq(mrb_metric_mse(a, a, &v), MRB_OK);
    cr_expect_eq(v, 0.0);
    cr_assert_eq(mrb_metric_mae(a, a, &v), MRB_OK);
    cr_expect_eq(v, 0.0);
    cr_assert_eq(mrb_metric_nmse(a, a, &v), MRB_OK);
    cr_expect_eq(v, 0.0);
    cr_assert_eq(mrb_metric_psnr(a, a, 0.0, &v), MRB_OK);
    cr_expect(isinf(v) && v > 0, "PSNR of identical images is +inf, got %g", v);
    cr_assert_eq(mrb_metric_ssim(a, a, NULL, &v), MRB_OK);
    cr_expect_float_eq(v, 1.0, 1e-15, "SSIM of identical images is 1, got %.17g", v);
    mrb_ssim_opts o;
    mrb_ssim_opts_gaussian(&o);
    cr_assert_eq(mrb_metric_ssim(a, a, &o, &v), MRB_OK);
    cr_expect_float_eq(v, 1.0, 1e-15, "Gaussian SSIM of identical images is 1, got %.17g", v);
    mrb_array_free(a);
}

Test(metrics_image, psnr_of_a_constant_offset_is_known)
{
    /* x = ref + 0.25 everywhere: MSE = 0.0625, R = max(ref) = 2. */
    mrb_array *ref = mrb_array_create2(MRB_F32, 16, 8), *x = mrb_array_create2(MRB_F32, 16, 8);
    float *r = ref->data, *t = x->data;
    for (size_t i = 0; i < 128; i++) {
        r[i] = (float)(i % 3);
        t[i] = r[i] + 0.25f;
    }
    double v;
    cr_assert_eq(mrb_metric_mse(ref, x, &v), MRB_OK);
    cr_expect_eq(v, 0.0625);
    cr_assert_eq(mrb_metric_mae(ref, x, &v), MRB_OK);
    cr_expect_eq(v, 0.25);
    cr_assert_eq(mrb_metric_psnr(ref, x, 0.0, &v), MRB_OK);
    cr_expect_float_eq(v, 10.0 * log10(4.0 / 0.0625), 1e-12);
    cr_assert_eq(mrb_metric_psnr(ref, x, 1.0, &v), MRB_OK);
    cr_expect_float_eq(v, 10.0 * log10(1.0 / 0.0625), 1e-12, "explicit data range is used");
    mrb_array_free(ref);
    mrb_array_free(x);
}

/* SSIM by the definition: every window summed directly (O(N win^2)). */
static double ssim_brute(const mrb_array *ref, const mrb_array *x, const mrb_ssim_opts *o)
{
    size_t nx = ref->dims[0], ny = ref->dims[1], nz = ref->ndim == 3 ? ref->dims[2] : 1;
    int r = o->gaussian ? (int)(3.5 * o->sigma + 0.5) : o->win_size / 2;
    int w = 2 * r + 1;
    double g[64];
    double gs = 0;
    for (int k = 0; k < w; k++) {
        g[k] = o->gaussian ? exp(-0.5 * (k - r) * (k - r) / (o->sigma * o->sigma)) : 1.0;
        gs += g[k];
    }
    for (int k = 0; k < w; k++) g[k] /= gs;
    double R = o->data_range;
    if (R <= 0) {
        R = -INFINITY;
        for (size_t i = 0; i < mrb_array_count(ref); i++)
            if (((float *)ref->data)[i] > R) R = ((float *)ref->data)[i];
    }
    double np2 = (double)w * w, cov = o->sample_covariance ? np2 / (np2 - 1) : 1.0;
    double c1 = (o->k1 * R) * (o->k1 * R), c2 = (o->k2 * R) * (o->k2 * R), total = 0;
    for (size_t z = 0; z < nz; z++) {
        const float *a = (const float *)ref->data + z * nx * ny, *b = (const float *)x->data + z * nx * ny;
        double sum = 0;
        for (size_t j = (size_t)r; j + (size_t)r < ny; j++)
            for (size_t i = (size_t)r; i + (size_t)r < nx; i++) {
                double ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
                for (int dy = -r; dy <= r; dy++)
                    for (int dx = -r; dx <= r; dx++) {
                        double wt = g[dx + r] * g[dy + r];
                        double p = a[(j + dy) * nx + i + dx], q = b[(j + dy) * nx + i + dx];
                        ux += wt * p;
                        uy += wt * q;
                        uxx += wt * p * p;
                        uyy += wt * q * q;
                        uxy += wt * p * q;
                    }
                double vx = cov * (uxx - ux * ux), vy = cov * (uyy - uy * uy);
                double vxy = cov * (uxy - ux * uy);
                sum += (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            }
        total += sum / ((double)(nx - 2 * r) * (double)(ny - 2 * r));
    }
    return total / (double)nz;
}

Test(metrics_image, ssim_box_sums_match_direct_window_sums)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, 2);
    /* Taller than SSIM_ROW_CHUNK rows so that running sums restart mid-slice. */
    mrb_array *a = random_image(&rng, 41, 77, 2);
    mrb_array *b = perturbed(&rng, a, 0.2);
    mrb_ssim_opts o;
    double v;
    int windows[] = {3, 7, 11};
    for (size_t k = 0; k < 3; k++) {
        mrb_ssim_opts_default(&o);
        o.win_size = windows[k];
        cr_assert_eq(mrb_metric_ssim(a, b, &o, &v), MRB_OK);
        double want = ssim_brute(a, b, &o);
        cr_expect(fabs(v - want) <= BRUTE_REL_TOL * fabs(want), "window %d: %.15g vs %.15g", windows[k], v, want);
    }
    mrb_ssim_opts_gaussian(&o);
    o.data_range = 1.5;
    cr_assert_eq(mrb_metric_ssim(a, b, &o, &v), MRB_OK);
    double want = ssim_brute(a, b, &o);
    cr_expect(fabs(v - want) <= BRUTE_REL_TOL * fabs(want), "Gaussian: %.15g vs %.15g", v, want);
    o.sigma = 1.0; /* 9 taps */
    cr_assert_eq(mrb_metric_ssim(a, b, &o, &v), MRB_OK);
    want = ssim_brute(a, b, &o);
    cr_expect(fabs(v - want) <= BRUTE_REL_TOL * fabs(want), "Gaussian sigma 1: %.15g vs %.15g", v, want);
    double per[2];
    cr_assert_eq(mrb_metric_ssim_slices(a, b, &o, per, &v), MRB_OK);
    cr_expect_eq(v, (per[0] + per[1]) / 2, "volume SSIM is the mean of the slice SSIMs");
    mrb_array_free(a);
    mrb_array_free(b);
}

Test(metrics_image, results_do_not_depend_on_thread_count)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, 3);
    mrb_array *a = random_image(&rng, 256, 240, 3);
    mrb_array *b = perturbed(&rng, a, 0.1);
    double v1[6], v2[6], v3[6];
    double *sets[3] = {v1, v2, v3};
    int threads[3] = {1, 2, 1};
    int saved = omp_get_max_threads();
    mrb_ssim_opts g;
    mrb_ssim_opts_gaussian(&g);
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(threads[t]);
        double *v = sets[t];
        cr_assert_eq(mrb_metric_mse(a, b, &v[0]), MRB_OK);
        cr_assert_eq(mrb_metric_mae(a, b, &v[1]), MRB_OK);
        cr_assert_eq(mrb_metric_nmse(a, b, &v[2]), MRB_OK);
        cr_assert_eq(mrb_metric_psnr(a, b, 0, &v[3]), MRB_OK);
        cr_assert_eq(mrb_metric_ssim(a, b, NULL, &v[4]), MRB_OK);
        cr_assert_eq(mrb_metric_ssim(a, b, &g, &v[5]), MRB_OK);
    }
    omp_set_num_threads(saved);
    cr_expect_arr_eq(v1, v2, sizeof v1, "1 thread vs 2 threads: bitwise different");
    cr_expect_arr_eq(v1, v3, sizeof v1, "run to run: bitwise different");
    mrb_array_free(a);
    mrb_array_free(b);
}

Test(metrics_image, bad_inputs_are_rejected_with_a_message)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, 4);
    mrb_array *a = random_image(&rng, 16, 16, 0), *b = random_image(&rng, 16, 15, 0);
    double v;
    cr_expect_eq(mrb_metric_mse(a, b, &v), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "shape mismatch"), "message: %s", mrb_error_message());
    mrb_array *c = mrb_array_clone(a);
    ((float *)c->data)[5] = NAN;
    cr_expect_eq(mrb_metric_psnr(a, c, 0, &v), MRB_ERR_INVALID, "NaN in the test image");
    cr_expect_eq(mrb_metric_ssim(c, a, NULL, &v), MRB_ERR_INVALID, "NaN in the reference");
    mrb_array *zero = mrb_array_create2(MRB_F32, 16, 16);
    cr_expect_eq(mrb_metric_psnr(zero, a, 0, &v), MRB_ERR_INVALID, "zero data range");
    cr_expect(strstr(mrb_error_message(), "data range"), "message: %s", mrb_error_message());
    cr_expect_eq(mrb_metric_nmse(zero, a, &v), MRB_ERR_INVALID, "zero-norm reference");
    cr_expect_eq(mrb_metric_ssim(zero, a, NULL, &v), MRB_ERR_INVALID, "zero data range");
    mrb_array *u8 = mrb_array_create2(MRB_U8, 16, 16);
    cr_expect_eq(mrb_metric_mae(u8, u8, &v), MRB_ERR_INVALID, "wrong dtype");
    mrb_ssim_opts o;
    mrb_ssim_opts_default(&o);
    o.win_size = 6;
    cr_expect_eq(mrb_metric_ssim(a, a, &o, &v), MRB_ERR_INVALID, "even window");
    o.win_size = 17;
    cr_expect_eq(mrb_metric_ssim(a, a, &o, &v), MRB_ERR_INVALID, "window larger than the image");
    mrb_ssim_opts_gaussian(&o);
    o.win_size = 7;
    cr_expect_eq(mrb_metric_ssim(a, a, &o, &v), MRB_ERR_INVALID, "Gaussian window mismatch");
    mrb_array_free(a);
    mrb_array_free(b);
    mrb_array_free(c);
    mrb_array_free(zero);
    mrb_array_free(u8);
}

/* ------------------------------------------------------------------ EDT -- */

Test(metrics_edt, matches_brute_force_on_random_2d_and_3d_grids)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, 5);
    for (int trial = 0; trial < 24; trial++) {
        int ndim = 1 + trial % 3;
        size_t dims[3] = {1, 1, 1};
        double sp[3];
        size_t n = 1;
        for (int d = 0; d < ndim; d++) {
            dims[d] = 1 + mrb_rng_below(&rng, 13);
            sp[d] = 0.3 + 2.5 * mrb_rng_uniform(&rng);
            n *= dims[d];
        }
        double density = trial % 4 == 0 ? 0.01 : 0.15;
        uint8_t *f = calloc(n, 1);
        double *got = malloc(n * sizeof *got);
        for (size_t i = 0; i < n; i++) f[i] = mrb_rng_uniform(&rng) < density;
        cr_assert_eq(mrb_edt_squared(f, ndim, dims, sp, 0, got), MRB_OK);
        for (size_t i = 0; i < n; i++) {
            size_t p[3] = {i % dims[0], (i / dims[0]) % dims[1], i / (dims[0] * dims[1])};
            double best = INFINITY;
            for (size_t j = 0; j < n; j++) {
                if (!f[j]) continue;
                size_t q[3] = {j % dims[0], (j / dims[0]) % dims[1], j / (dims[0] * dims[1])};
                double s = 0;
                for (int d = 0; d < ndim; d++) {
                    double dd = ((double)p[d] - (double)q[d]) * sp[d];
                    s += dd * dd;
                }
                if (s < best) best = s;
            }
            if (isinf(best))
                cr_expect(isinf(got[i]), "no feature: infinite distance");
            else
                cr_expect(fabs(got[i] - best) <= EDT_REL_TOL * (best + 1.0),
                          "trial %d voxel %zu: %.17g vs brute force %.17g", trial, i, got[i], best);
        }
        free(f);
        free(got);
    }
}

Test(metrics_edt, rejects_bad_spacing_and_rank)
{
    uint8_t f[4] = {1, 0, 0, 0};
    double out[4];
    size_t dims[2] = {2, 2};
    double bad[2] = {1.0, 0.0};
    cr_expect_eq(mrb_edt_squared(f, 2, dims, bad, 1, out), MRB_ERR_INVALID);
    cr_expect_eq(mrb_edt_squared(f, 4, dims, NULL, 1, out), MRB_ERR_INVALID);
}

/* ---------------------------------------------------------- label maps -- */

static mrb_array *random_labels(mrb_rng *rng, size_t nx, size_t ny, size_t nz, double p)
{
    mrb_array *a = nz ? mrb_array_create3(MRB_U8, nx, ny, nz) : mrb_array_create2(MRB_U8, nx, ny);
    uint8_t *d = a->data;
    for (size_t i = 0; i < mrb_array_count(a); i++)
        d[i] = mrb_rng_uniform(rng) < p ? (uint8_t)(1 + mrb_rng_below(rng, 4)) : 0;
    return a;
}

/* Surface by definition (mask with a face neighbour outside the mask or the
 * array), on the full array. */
static int on_surface(const uint8_t *m, const size_t *n, int ndim, size_t x, size_t y, size_t z)
{
    size_t i = (z * n[1] + y) * n[0] + x;
    if (!m[i]) return 0;
    size_t c[3] = {x, y, z};
    for (int d = 0; d < ndim; d++) {
        if (c[d] == 0 || c[d] + 1 == n[d]) return 1;
        size_t stride = d == 0 ? 1 : d == 1 ? n[0] : n[0] * n[1];
        if (!m[i - stride] || !m[i + stride]) return 1;
    }
    return 0;
}

/* All directed distances from surface A to surface B by brute force. */
static size_t brute_directed(const uint8_t *a, const uint8_t *b, const size_t *n, int ndim, const double *sp,
                             double *out)
{
    size_t count = n[0] * n[1] * n[2], k = 0;
    for (size_t i = 0; i < count; i++) {
        size_t p[3] = {i % n[0], (i / n[0]) % n[1], i / (n[0] * n[1])};
        if (!on_surface(a, n, ndim, p[0], p[1], p[2])) continue;
        double best = INFINITY;
        for (size_t j = 0; j < count; j++) {
            size_t q[3] = {j % n[0], (j / n[0]) % n[1], j / (n[0] * n[1])};
            if (!on_surface(b, n, ndim, q[0], q[1], q[2])) continue;
            double s = 0;
            for (int d = 0; d < ndim; d++) {
                double dd = ((double)p[d] - (double)q[d]) * sp[d];
                s += dd * dd;
            }
            if (s < best) best = s;
        }
        out[k++] = sqrt(best);
    }
    return k;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double sorted_percentile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_double);
    double h = (double)(n - 1) * q / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

Test(metrics_seg, surface_distances_match_brute_force_over_the_whole_array)
{
    /* The library restricts the EDT to the masks' bounding box; brute force
     * over the whole array checks that nothing is lost. */
    mrb_rng rng;
    mrb_rng_seed(&rng, 6);
    for (int trial = 0; trial < 12; trial++) {
        int threed = trial % 2;
        size_t n[3] = {4 + mrb_rng_below(&rng, 14), 4 + mrb_rng_below(&rng, 14),
                       threed ? 3 + mrb_rng_below(&rng, 8) : 1};
        double sp[3] = {0.5 + mrb_rng_uniform(&rng), 0.5 + 2 * mrb_rng_uniform(&rng), 0.5 + 3 * mrb_rng_uniform(&rng)};
        mrb_array *ra = random_labels(&rng, n[0], n[1], threed ? n[2] : 0, 0.3);
        mrb_array *rb = random_labels(&rng, n[0], n[1], threed ? n[2] : 0, 0.3);
        mrb_seg_opts o;
        mrb_seg_opts_default(&o);
        cr_assert_eq(mrb_seg_opts_set_group(&o, "1,3"), MRB_OK);
        mrb_seg_result r;
        cr_assert_eq(mrb_seg_evaluate(ra, rb, sp, &o, &r), MRB_OK, "%s", mrb_error_message());
        size_t count = n[0] * n[1] * n[2];
        uint8_t *a = malloc(count), *b = malloc(count);
        for (size_t i = 0; i < count; i++) {
            uint8_t va = ((uint8_t *)ra->data)[i], vb = ((uint8_t *)rb->data)[i];
            a[i] = va == 1 || va == 3;
            b[i] = vb == 1 || vb == 3;
        }
        double *dab = malloc(count * sizeof *dab), *dba = malloc(count * sizeof *dba);
        double *pool = malloc(2 * count * sizeof *pool);
        int ndim = threed ? 3 : 2;
        size_t na = brute_directed(a, b, n, ndim, sp, dab);
        size_t nb = brute_directed(b, a, n, ndim, sp, dba);
        cr_assert(na > 0 && nb > 0);
        cr_expect_eq(r.n_surface_ref, na, "trial %d: surface voxel count", trial);
        double hd = 0, sum = 0;
        for (size_t i = 0; i < na; i++) {
            hd = fmax(hd, dab[i]);
            sum += dab[i];
            pool[i] = dab[i];
        }
        for (size_t i = 0; i < nb; i++) {
            hd = fmax(hd, dba[i]);
            sum += dba[i];
            pool[na + i] = dba[i];
        }
        cr_expect(fabs(r.hd - hd) <= DIST_ABS_TOL_MM, "trial %d: HD %g vs %g", trial, r.hd, hd);
        cr_expect(fabs(r.assd - sum / (double)(na + nb)) <= DIST_ABS_TOL_MM, "trial %d: ASSD", trial);
        double pab = sorted_percentile(dab, na, 95), pba = sorted_percentile(dba, nb, 95);
        double pp = sorted_percentile(pool, na + nb, 95);
        cr_expect(fabs(r.hd95_max - fmax(pab, pba)) <= DIST_ABS_TOL_MM, "trial %d: HD95 max", trial);
        cr_expect(fabs(r.hd95_pooled - pp) <= DIST_ABS_TOL_MM, "trial %d: HD95 pooled", trial);
        cr_expect(fabs(r.hd95_mean - 0.5 * (pab + pba)) <= DIST_ABS_TOL_MM, "trial %d: HD95 mean", trial);
        free(a);
        free(b);
        free(dab);
        free(dba);
        free(pool);
        mrb_array_free(ra);
        mrb_array_free(rb);
    }
}

Test(metrics_seg, metrics_are_symmetric_and_a_mask_matches_itself)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, 7);
    mrb_array *a = random_labels(&rng, 30, 25, 12, 0.2), *b = random_labels(&rng, 30, 25, 12, 0.2);
    double sp[3] = {0.7, 0.9, 2.5};
    mrb_seg_opts o;
    mrb_seg_opts_default(&o);
    cr_assert_eq(mrb_seg_opts_set_group(&o, "1,2,4"), MRB_OK);
    mrb_seg_result ab, ba, aa;
    cr_assert_eq(mrb_seg_evaluate(a, b, sp, &o, &ab), MRB_OK);
    cr_assert_eq(mrb_seg_evaluate(b, a, sp, &o, &ba), MRB_OK);
    cr_expect_eq(ab.dice, ba.dice, "Dice is symmetric");
    cr_expect_eq(ab.jaccard, ba.jaccard, "Jaccard is symmetric");
    cr_expect_eq(ab.hd, ba.hd, "HD is symmetric");
    cr_expect_eq(ab.hd95_max, ba.hd95_max, "HD95 max is symmetric");
    cr_expect_eq(ab.hd95_pooled, ba.hd95_pooled, "HD95 pooled is symmetric");
    cr_expect_eq(ab.hd95_ref_to_pred, ba.hd95_pred_to_ref, "directed HD95 swaps");
    cr_expect_float_eq(ab.assd, ba.assd, 1e-12, "ASSD is symmetric");
    cr_expect_eq(ab.sensitivity, ba.precision, "sensitivity(a,b) = precision(b,a)");
    cr_expect_float_eq(ab.voldiff_ml, -ba.voldiff_ml, 1e-12, "volume difference changes sign");
    cr_assert_eq(mrb_seg_evaluate(a, a, sp, &o, &aa), MRB_OK);
    cr_expect_eq(aa.dice, 1.0);
    cr_expect_eq(aa.hd, 0.0, "HD of a mask with itself");
    cr_expect_eq(aa.hd95, 0.0);
    cr_expect_eq(aa.assd, 0.0);
    cr_expect_eq(aa.nsd, 1.0);
    cr_expect_eq(aa.policy_applied, 0);
    mrb_array_free(a);
    mrb_array_free(b);
}

Test(metrics_seg, two_single_voxels_are_their_anisotropic_distance_apart)
{
    mrb_array *a = mrb_array_create3(MRB_U8, 9, 8, 7), *b = mrb_array_create3(MRB_U8, 9, 8, 7);
    ((uint8_t *)a->data)[(1 * 8 + 2) * 9 + 3] = 1; /* (3, 2, 1) */
    ((uint8_t *)b->data)[(5 * 8 + 6) * 9 + 8] = 1; /* (8, 6, 5) */
    double sp[3] = {0.5, 1.5, 3.0};
    mrb_seg_result r;
    cr_assert_eq(mrb_seg_evaluate(a, b, sp, NULL, &r), MRB_OK);
    double want = sqrt(pow(5 * 0.5, 2) + pow(4 * 1.5, 2) + pow(4 * 3.0, 2));
    cr_expect_float_eq(r.hd, want, 1e-12);
    cr_expect_float_eq(r.hd95, want, 1e-12);
    cr_expect_float_eq(r.assd, want, 1e-12);
    cr_expect_eq(r.dice, 0.0);
    cr_expect_float_eq(r.vol_ref_ml, 0.5 * 1.5 * 3.0 / 1000.0, 1e-18, "one voxel in ml");
    mrb_array_free(a);
    mrb_array_free(b);
}

Test(metrics_seg, empty_mask_policies)
{
    mrb_array *full = mrb_array_create2(MRB_U8, 20, 10), *none = mrb_array_create2(MRB_U8, 20, 10);
    for (size_t i = 50; i < 70; i++) ((uint8_t *)full->data)[i] = 1;
    mrb_seg_opts o;
    mrb_seg_opts_default(&o);
    mrb_seg_result r;
    double sp[3] = {1.0, 2.0, 1.0};
    double diag = sqrt(20.0 * 20.0 + 20.0 * 20.0);

    cr_assert_eq(mrb_seg_evaluate(none, none, sp, &o, &r), MRB_OK);
    cr_expect(r.dice == 1.0 && r.hd95 == 0.0 && r.hd == 0.0 && r.nsd == 1.0 && r.policy_applied,
              "brats, both empty: Dice 1, distances 0");
    cr_assert_eq(mrb_seg_evaluate(full, none, sp, &o, &r), MRB_OK);
    cr_expect(r.dice == 0.0 && r.hd95 == MRB_BRATS_EMPTY_DISTANCE_MM && r.hd == MRB_BRATS_EMPTY_DISTANCE_MM &&
                  r.nsd == 0.0,
              "brats, one empty: Dice 0, HD95 373.13");
    cr_expect_eq(r.sensitivity, 0.0);
    cr_expect(r.ref_empty == 0 && r.pred_empty == 1);

    o.empty = MRB_EMPTY_NAN;
    cr_assert_eq(mrb_seg_evaluate(none, none, sp, &o, &r), MRB_OK);
    cr_expect(isnan(r.dice) && isnan(r.hd95) && isnan(r.assd) && isnan(r.nsd), "nan, both empty");
    cr_expect_eq(r.specificity, 1.0, "specificity is defined when both are empty");
    cr_assert_eq(mrb_seg_evaluate(none, full, sp, &o, &r), MRB_OK);
    cr_expect(r.dice == 0.0 && isnan(r.hd95) && isnan(r.sensitivity) && r.precision == 0.0,
              "nan, reference empty: Dice 0 is defined, HD95 and sensitivity are not");

    o.empty = MRB_EMPTY_WORST;
    cr_assert_eq(mrb_seg_evaluate(full, none, sp, &o, &r), MRB_OK);
    cr_expect_float_eq(r.hd95, diag, 1e-12, "worst: the image diagonal in mm");
    cr_expect_float_eq(r.diagonal_mm, diag, 1e-12);
    cr_assert_eq(mrb_seg_evaluate(none, none, sp, &o, &r), MRB_OK);
    cr_expect(r.dice == 0.0 && r.hd == r.diagonal_mm, "worst, both empty");
    mrb_array_free(full);
    mrb_array_free(none);
}

Test(metrics_seg, one_slice_volume_scores_as_2d)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, 8);
    mrb_array *a2 = random_labels(&rng, 20, 18, 0, 0.4), *b2 = random_labels(&rng, 20, 18, 0, 0.4);
    mrb_array *a3 = mrb_array_create3(MRB_U8, 20, 18, 1), *b3 = mrb_array_create3(MRB_U8, 20, 18, 1);
    memcpy(a3->data, a2->data, 360);
    memcpy(b3->data, b2->data, 360);
    double sp[3] = {0.8, 1.1, 4.0};
    mrb_seg_result r2, r3;
    cr_assert_eq(mrb_seg_evaluate(a2, b2, sp, NULL, &r2), MRB_OK);
    cr_assert_eq(mrb_seg_evaluate(a3, b3, sp, NULL, &r3), MRB_OK);
    cr_expect_eq(r2.hd95, r3.hd95);
    cr_expect_eq(r2.assd, r3.assd);
    cr_expect_eq(r2.n_surface_ref, r3.n_surface_ref);
    mrb_array_free(a2);
    mrb_array_free(b2);
    mrb_array_free(a3);
    mrb_array_free(b3);
}

Test(metrics_seg, results_do_not_depend_on_thread_count)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, 9);
    mrb_array *a = random_labels(&rng, 64, 64, 40, 0.3), *b = random_labels(&rng, 64, 64, 40, 0.3);
    double sp[3] = {0.7, 0.7, 3.0};
    mrb_seg_opts o;
    mrb_seg_opts_default(&o);
    mrb_seg_result r[3];
    int threads[3] = {1, 2, 2};
    for (int t = 0; t < 3; t++) {
        o.nthreads = threads[t];
        cr_assert_eq(mrb_seg_evaluate(a, b, sp, &o, &r[t]), MRB_OK);
    }
    double v[3][8];
    for (int t = 0; t < 3; t++) {
        double x[8] = {r[t].dice,      r[t].hd,   r[t].hd95_max, r[t].hd95_pooled,
                       r[t].hd95_mean, r[t].assd, r[t].asd,      r[t].nsd};
        memcpy(v[t], x, sizeof x);
    }
    cr_expect_arr_eq(v[0], v[1], sizeof v[0], "1 thread vs 2 threads");
    cr_expect_arr_eq(v[1], v[2], sizeof v[0], "run to run");
    mrb_array_free(a);
    mrb_array_free(b);
}

Test(metrics_seg, label_group_and_option_parsing)
{
    mrb_seg_opts o;
    mrb_seg_opts_default(&o);
    cr_expect_eq(mrb_seg_opts_set_group(&o, "1, 2,4"), MRB_OK);
    cr_expect(o.group[1] && o.group[2] && o.group[4] && !o.group[3] && !o.group[0]);
    const char *bad[] = {"", "a", "1,,2", "256", "-1", "1;2", "1,"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(mrb_seg_opts_set_group(&o, bad[i]), MRB_ERR_INVALID, "'%s' accepted", bad[i]);
    cr_expect(o.group[4], "a rejected group leaves the previous one");
    mrb_hd95_variant v;
    cr_expect_eq(mrb_seg_parse_hd95("pooled", &v), MRB_OK);
    cr_expect_eq(v, MRB_HD95_POOLED);
    cr_expect_eq(mrb_seg_parse_hd95("medpy", &v), MRB_ERR_INVALID);
    mrb_empty_policy e;
    cr_expect_eq(mrb_seg_parse_empty("worst", &e), MRB_OK);
    cr_expect_eq(e, MRB_EMPTY_WORST);
    mrb_percentile_mode m;
    cr_expect_eq(mrb_seg_parse_percentile("nearest", &m), MRB_OK);
    cr_expect_eq(m, MRB_PERCENTILE_NEAREST);

    mrb_array *a = mrb_array_create2(MRB_U8, 4, 4), *f = mrb_array_create2(MRB_F32, 4, 4);
    mrb_array *c = mrb_array_create2(MRB_U8, 4, 5);
    mrb_seg_result r;
    cr_expect_eq(mrb_seg_evaluate(a, c, NULL, NULL, &r), MRB_ERR_INVALID, "shape mismatch");
    cr_expect_eq(mrb_seg_evaluate(a, f, NULL, NULL, &r), MRB_ERR_INVALID, "dtype");
    double sp[3] = {1, -1, 1};
    cr_expect_eq(mrb_seg_evaluate(a, a, sp, NULL, &r), MRB_ERR_INVALID, "negative spacing");
    mrb_array_free(a);
    mrb_array_free(f);
    mrb_array_free(c);
}

/* ------------------------------------------------------------ registry -- */

Test(metrics_registry, every_metric_is_complete_and_runs_with_defaults)
{
    const char *names[] = {"psnr",        "ssim",      "nmse",    "mse", "mae",  "dice", "jaccard", "sensitivity",
                           "specificity", "precision", "voldiff", "hd",  "hd95", "assd", "nsd"};
    mrb_rng rng;
    mrb_rng_seed(&rng, 10);
    mrb_array *img = random_image(&rng, 24, 20, 2), *img2 = perturbed(&rng, img, 0.1);
    mrb_array *lab = random_labels(&rng, 24, 20, 6, 0.3), *lab2 = random_labels(&rng, 24, 20, 6, 0.3);
    double sp[3] = {1, 1, 2};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const mrb_metric_desc *m = mrb_metric_find(names[i]);
        cr_assert(m, "metric %s is registered", names[i]);
        cr_expect((m->image != NULL) != (m->labels != NULL), "%s: exactly one entry point", names[i]);
        cr_assert(m->definition);
        mrb_params p;
        mrb_params_defaults(&p, m->params, m->nparams);
        char def[1024] = "";
        m->definition(&p, def, sizeof def);
        cr_expect(strlen(def) > 20, "%s: definition '%s'", names[i], def);
        double v = NAN;
        mrb_status st = m->image ? m->image(&p, img, img2, &v) : m->labels(&p, lab, lab2, sp, &v);
        cr_expect_eq(st, MRB_OK, "%s: %s", names[i], mrb_error_message());
        cr_expect(isfinite(v), "%s: %g", names[i], v);
    }
    mrb_array_free(img);
    mrb_array_free(img2);
    mrb_array_free(lab);
    mrb_array_free(lab2);
}

Test(metrics_registry, hd95_parameters_select_the_variant)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, 11);
    mrb_array *a = random_labels(&rng, 30, 30, 10, 0.2), *b = random_labels(&rng, 30, 30, 10, 0.2);
    double sp[3] = {0.7, 0.7, 3.0};
    const mrb_metric_desc *m = mrb_metric_find("hd95");
    cr_assert(m);
    mrb_seg_opts o;
    mrb_seg_opts_default(&o);
    cr_assert_eq(mrb_seg_opts_set_group(&o, "1,4"), MRB_OK);
    mrb_seg_result r;
    cr_assert_eq(mrb_seg_evaluate(a, b, sp, &o, &r), MRB_OK);
    const char *variants[] = {"max", "pooled", "mean"};
    double want[] = {r.hd95_max, r.hd95_pooled, r.hd95_mean};
    for (int k = 0; k < 3; k++) {
        mrb_params p;
        mrb_params_defaults(&p, m->params, m->nparams);
        cr_assert_eq(mrb_params_set_text(&p, m->params, m->nparams, "labels", "1,4", "test"), MRB_OK);
        cr_assert_eq(mrb_params_set_text(&p, m->params, m->nparams, "hd95", variants[k], "test"), MRB_OK);
        double v;
        cr_assert_eq(m->labels(&p, a, b, sp, &v), MRB_OK);
        cr_expect_eq(v, want[k], "variant %s", variants[k]);
    }
    mrb_params p;
    mrb_params_defaults(&p, m->params, m->nparams);
    cr_expect_eq(mrb_params_set_text(&p, m->params, m->nparams, "hd95", "medpy", "test"), MRB_ERR_INVALID);
    mrb_array_free(a);
    mrb_array_free(b);
}
