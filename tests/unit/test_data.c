/* Phantoms, coil maps and k-space simulation (impl/data). */
#include <complex.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/data.h"
#include "mrbench/fft.h"
#include "mrbench/registry.h"
#include "mrbench/util.h"

/* float32 rounding of sums of up to 10 ellipse intensities (the golden file
 * is float32 of a float64 sum; the generator sums in float64 too). */
static const double GOLDEN_TOL = 1e-6;
/* Sum of squares of normalised coil maps: float32 values. */
static const double SOS_TOL = 1e-5;
/* Centred orthonormal FFT (float32 FFTW) against a float64 direct DFT,
 * relative to the largest k-space value. */
static const double DFT_REL_TOL = 2e-6;
/* Measured SNR of the simulated noise against the request, in dB, for
 * 2^17 complex samples (standard error of the noise power about 0.3 %). */
static const double SNR_TOL_DB = 0.1;
/* SHA-256 of cine items 0 and 1 (seed 2017, size 48, 6 frames, 2 coils;
 * image, labels and coil maps in that order) written by the generator before
 * the realism options existed (commit ebf92cd): with the options at their
 * defaults the output must not change by a bit. */
static const char CINE_DEFAULT_SHA256[] = "9cff0711691e69d852ae1049af7ea78151379ba7e6420197fcc062917a22fff7";
/* Sub-pixel position of a disc from its labels: the centroid of the about 600
 * pixels of the LV epicardial disc at 128 x 128 moves by well under 0.1 pixel
 * when the boundary is redrawn. */
static const double CENTROID_TOL_PX = 0.1;
static const double PI_D = 3.14159265358979323846;

typedef struct gen {
    const mrb_dataset_desc *d;
    mrb_params p;
} gen;

static gen make_gen(const char *name)
{
    gen g;
    g.d = mrb_dataset_find(name);
    cr_assert_not_null(g.d, "dataset %s registered", name);
    mrb_params_defaults(&g.p, g.d->params, g.d->nparams);
    return g;
}

static void set(gen *g, const char *key, const char *value)
{
    mrb_status st = mrb_params_set_text(&g->p, g->d->params, g->d->nparams, key, value, "test");
    cr_assert_eq(st, MRB_OK, "%s=%s: %s", key, value, mrb_error_message());
}

static void generate(gen *g, uint64_t seed, size_t index, mrb_item *item)
{
    mrb_status st = g->d->generate(&g->p, seed, index, item);
    cr_assert_eq(st, MRB_OK, "%s item %zu: %s", g->d->name, index, mrb_error_message());
    cr_assert_eq(mrb_array_check_finite(item->image, "image"), MRB_OK);
}

static int arrays_equal(const mrb_array *a, const mrb_array *b)
{
    if (!a || !b) return a == b;
    return a->dtype == b->dtype && mrb_array_same_shape(a, b) && memcmp(a->data, b->data, mrb_array_bytes(a)) == 0;
}

static float *read_golden(const char *name, size_t count)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/data/%s", MRB_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "golden file %s", path);
    float *v = malloc(count * sizeof *v);
    cr_assert_eq(fread(v, sizeof *v, count, f), count, "golden file %s has %zu floats", path, count);
    fclose(f);
    return v;
}

static void check_golden(const char *supersample, const char *file)
{
    gen g = make_gen("shepp-logan");
    set(&g, "size", "128");
    set(&g, "variation", "0");
    set(&g, "supersample", supersample);
    mrb_item item;
    generate(&g, 1, 0, &item);
    cr_assert_eq(item.image->dims[0], 128);
    cr_assert_eq(item.image->dims[1], 128);
    cr_assert_eq(item.image->dims[2], 1);
    float *ref = read_golden(file, 128 * 128);
    const float complex *x = item.image->data;
    double worst = 0.0;
    for (size_t k = 0; k < 128 * 128; k++) {
        double d = cabs(x[k] - ref[k]);
        if (d > worst) worst = d;
        cr_assert_float_eq(cimagf(x[k]), 0.0f, 0.0, "real image without smooth_phase");
    }
    cr_expect_leq(worst, GOLDEN_TOL, "max |generated - golden| = %g (supersample %s)", worst, supersample);
    free(ref);
    mrb_item_clear(&item);
}

Test(data, shepp_logan_matches_matlab_pixel_centres)
{
    /* supersample 1 is MATLAB phantom('Modified Shepp-Logan', 128) */
    check_golden("1", "shepp_logan_128_ss1.f32");
}

Test(data, shepp_logan_supersampled_matches_reference)
{
    check_golden("4", "shepp_logan_128_ss4.f32");
}

Test(data, shepp_logan_antialiased_edges)
{
    /* Supersampling gives intermediate values on edges (no staircase):
     * the outer skull edge (intensity 1 to 0) must show values strictly
     * between 0 and 1 on many pixels. */
    gen g = make_gen("shepp-logan");
    set(&g, "variation", "0");
    mrb_item item;
    generate(&g, 1, 0, &item);
    const float complex *x = item.image->data;
    size_t partial = 0;
    for (size_t k = 0; k < mrb_array_count(item.image); k++) {
        float v = crealf(x[k]);
        if (v > 0.05f && v < 0.15f) partial++; /* outside-skull edge pixels: between 0 and the 0.2 brain */
    }
    cr_expect_geq(partial, 256, "%zu edge pixels with partial coverage", partial);
    mrb_item_clear(&item);
}

static void check_deterministic(const char *name, const char *const *kv, size_t nkv)
{
    gen g = make_gen(name);
    for (size_t i = 0; i + 1 < nkv; i += 2) set(&g, kv[i], kv[i + 1]);
    mrb_item a, b, c, d;
    generate(&g, 42, 1, &a);
    generate(&g, 42, 1, &b);
    generate(&g, 43, 1, &c);
    generate(&g, 42, 2, &d);
    cr_expect(arrays_equal(a.image, b.image), "%s: same seed and index give identical images", name);
    cr_expect(arrays_equal(a.labels, b.labels), "%s: identical labels", name);
    cr_expect(arrays_equal(a.sens, b.sens), "%s: identical coil maps", name);
    cr_expect_str_eq(a.id, b.id);
    cr_expect(!arrays_equal(a.image, c.image), "%s: different seeds give different images", name);
    cr_expect(!arrays_equal(a.image, d.image), "%s: different items give different images", name);
    cr_expect_str_neq(a.id, d.id);
    mrb_item_clear(&a);
    mrb_item_clear(&b);
    mrb_item_clear(&c);
    mrb_item_clear(&d);
}

Test(data, shepp_logan_deterministic)
{
    static const char *const kv[] = {"size", "64", "coils", "4", "smooth_phase", "true"};
    check_deterministic("shepp-logan", kv, 6);
}

Test(data, brain_deterministic)
{
    static const char *const kv[] = {"size", "64", "coils", "4"};
    check_deterministic("brain", kv, 4);
}

Test(data, cine_deterministic)
{
    static const char *const kv[] = {"size", "48", "frames", "6", "coils", "2"};
    check_deterministic("cine", kv, 6);
}

Test(data, cine_with_realism_deterministic)
{
    static const char *const kv[] = {"size",       "48", "frames",       "6",  "snr_db", "20",
                                     "resp_drift", "2",  "cycle_jitter", "0.2"};
    check_deterministic("cine", kv, 10);
}

Test(data, shepp_logan_variation_zero_is_standard_for_every_item)
{
    gen g = make_gen("shepp-logan");
    set(&g, "size", "64");
    set(&g, "variation", "0");
    mrb_item a, b;
    generate(&g, 5, 0, &a);
    generate(&g, 99, 3, &b);
    cr_expect(arrays_equal(a.image, b.image), "without variation and phase every item is the standard phantom");
    mrb_item_clear(&a);
    mrb_item_clear(&b);
}

Test(data, count_is_cases_and_out_of_range_is_an_error)
{
    for (size_t k = 0; mrb_dataset_table[k]; k++) {
        gen g = make_gen(mrb_dataset_table[k]->name);
        set(&g, "cases", "7");
        cr_expect_eq(g.d->count(&g.p), 7, "%s count", g.d->name);
        mrb_item item;
        mrb_status st = g.d->generate(&g.p, 1, 7, &item);
        cr_expect_eq(st, MRB_ERR_INVALID, "%s item 7 of 7 is rejected", g.d->name);
        cr_expect_not_null(strstr(mrb_error_message(), "out of range"), "message: %s", mrb_error_message());
        cr_expect_null(item.image);
    }
}

Test(data, smooth_phase_keeps_magnitude)
{
    /* The smooth phase multiplies by a unit-modulus field: the magnitude is
     * unchanged and the phase covers a wide range. */
    const double MAG_TOL = 1e-6;
    gen g = make_gen("brain");
    set(&g, "size", "64");
    mrb_item plain, phased;
    generate(&g, 8, 0, &plain);
    set(&g, "smooth_phase", "1");
    generate(&g, 8, 0, &phased);
    const float complex *a = plain.image->data, *b = phased.image->data;
    double lo = 10, hi = -10;
    for (size_t k = 0; k < mrb_array_count(plain.image); k++) {
        cr_assert_float_eq(cabsf(b[k]), cabsf(a[k]), MAG_TOL);
        if (cabsf(a[k]) > 0.1f) {
            double ph = cargf(b[k]);
            lo = fmin(lo, ph);
            hi = fmax(hi, ph);
        }
    }
    cr_expect_gt(hi - lo, 1.0, "phase range %g rad", hi - lo);
    mrb_item_clear(&plain);
    mrb_item_clear(&phased);
}

Test(data, brain_is_textured_not_piecewise_constant)
{
    /* Texture and shading: inside the brain, neighbouring pixels differ
     * almost everywhere (a piecewise-constant phantom would repeat values). */
    gen g = make_gen("brain");
    set(&g, "size", "128");
    mrb_item item;
    generate(&g, 3, 0, &item);
    const float complex *x = item.image->data;
    size_t n = 128, equal = 0, total = 0;
    float vmax = 0.0f;
    for (size_t j = 32; j < 96; j++)
        for (size_t i = 32; i < 95; i++) {
            total++;
            equal += crealf(x[j * n + i]) == crealf(x[j * n + i + 1]);
        }
    for (size_t k = 0; k < n * n; k++) vmax = fmaxf(vmax, cabsf(x[k]));
    cr_expect_lt((double)equal / (double)total, 0.01, "%zu of %zu neighbours equal", equal, total);
    cr_expect_gt(vmax, 0.5f);
    cr_expect_lt(vmax, 1.5f);
    mrb_item_clear(&item);
}

static size_t count_label(const mrb_array *lab, size_t t, unsigned char value)
{
    size_t npix = lab->dims[0] * lab->dims[1], c = 0;
    const unsigned char *l = (const unsigned char *)lab->data + t * npix;
    for (size_t k = 0; k < npix; k++) c += l[k] == value;
    return c;
}

Test(data, cine_labels_follow_a_periodic_cardiac_cycle)
{
    gen g = make_gen("cine");
    set(&g, "size", "128");
    set(&g, "frames", "24");
    mrb_item item;
    generate(&g, 11, 0, &item);
    const mrb_array *lab = item.labels;
    cr_assert_not_null(lab);
    cr_assert_eq(lab->dtype, MRB_U8);
    cr_assert_eq(lab->dims[2], 24);
    size_t area[24];
    size_t amax = 0, amin = SIZE_MAX, tmin = 0;
    for (size_t t = 0; t < 24; t++) {
        area[t] = count_label(lab, t, 3);
        cr_expect_gt(count_label(lab, t, 1), 50, "RV present in frame %zu", t);
        cr_expect_gt(count_label(lab, t, 2), 50, "myocardium present in frame %zu", t);
        if (area[t] > amax) amax = area[t];
        if (area[t] < amin) {
            amin = area[t];
            tmin = t;
        }
    }
    const unsigned char *l = lab->data;
    for (size_t k = 0; k < mrb_array_count(lab); k++) cr_assert_leq(l[k], 3, "ACDC labels 0..3");
    /* frame 0 is end diastole, end systole in the first half of the cycle */
    cr_expect_eq(area[0], amax, "LV area largest at frame 0 (ED): %zu vs %zu", area[0], amax);
    cr_expect(tmin > 4 && tmin < 12, "end systole at frame %zu", tmin);
    cr_expect_lt((double)amin, 0.6 * (double)amax, "LV area ES %zu vs ED %zu", amin, amax);
    /* periodic: the step from the last frame back to frame 0 is no larger
     * than the largest frame-to-frame step within the cycle */
    size_t max_step = 0;
    for (size_t t = 1; t < 24; t++) {
        size_t d = area[t] > area[t - 1] ? area[t] - area[t - 1] : area[t - 1] - area[t];
        if (d > max_step) max_step = d;
    }
    size_t wrap = area[0] > area[23] ? area[0] - area[23] : area[23] - area[0];
    cr_expect_leq(wrap, max_step, "wrap-around step %zu vs largest step %zu", wrap, max_step);
    /* the same phase sampled at twice the frame rate gives the same labels */
    set(&g, "frames", "48");
    mrb_item fine;
    generate(&g, 11, 0, &fine);
    size_t npix = 128 * 128;
    for (size_t t = 0; t < 24; t++)
        cr_expect(memcmp((const unsigned char *)lab->data + t * npix,
                         (const unsigned char *)fine.labels->data + 2 * t * npix, npix) == 0,
                  "frame %zu of 24 equals frame %zu of 48", t, 2 * t);
    /* labels change with the phase */
    cr_expect(memcmp(l, l + tmin * npix, npix) != 0, "ED and ES labels differ");
    mrb_item_clear(&fine);
    mrb_item_clear(&item);
}

static void hash_item(mrb_sha256 *s, const mrb_item *it)
{
    mrb_sha256_update(s, it->image->data, mrb_array_bytes(it->image));
    mrb_sha256_update(s, it->labels->data, mrb_array_bytes(it->labels));
    if (it->sens) mrb_sha256_update(s, it->sens->data, mrb_array_bytes(it->sens));
}

Test(data, cine_realism_off_by_default_is_bit_identical)
{
    gen g = make_gen("cine");
    set(&g, "size", "48");
    set(&g, "frames", "6");
    set(&g, "coils", "2");
    gen zero = g;
    set(&zero, "snr_db", "0");
    set(&zero, "resp_drift", "0");
    set(&zero, "cycle_jitter", "0");
    mrb_sha256 s, sz;
    mrb_sha256_init(&s);
    mrb_sha256_init(&sz);
    for (size_t i = 0; i < 2; i++) {
        mrb_item it, iz;
        generate(&g, 2017, i, &it);
        generate(&zero, 2017, i, &iz);
        hash_item(&s, &it);
        hash_item(&sz, &iz);
        mrb_item_clear(&it);
        mrb_item_clear(&iz);
    }
    char hex[65], hexz[65];
    mrb_sha256_final(&s, hex);
    mrb_sha256_final(&sz, hexz);
    cr_expect_str_eq(hex, CINE_DEFAULT_SHA256, "default cine output changed");
    cr_expect_str_eq(hexz, CINE_DEFAULT_SHA256, "explicit zeros differ from the defaults");
}

/* Mean |x|^2 of a and of a - b over the whole array. */
static void power_and_error(const mrb_array *a, const mrb_array *b, double *pa, double *pd)
{
    const float complex *x = a->data, *y = b->data;
    size_t n = mrb_array_count(a);
    *pa = *pd = 0.0;
    for (size_t k = 0; k < n; k++) {
        *pa += pow(cabsf(x[k]), 2);
        *pd += pow(cabsf(y[k] - x[k]), 2);
    }
    *pa /= (double)n;
    *pd /= (double)n;
}

Test(data, cine_noise_has_requested_snr_white_and_seeded)
{
    gen g = make_gen("cine");
    set(&g, "size", "64");
    set(&g, "frames", "16");
    set(&g, "cases", "8");
    gen noisy = g;
    set(&noisy, "snr_db", "25");
    mrb_item clean, a, b, other;
    generate(&g, 5, 3, &clean);
    generate(&noisy, 5, 3, &a);
    generate(&noisy, 5, 3, &b);
    generate(&noisy, 5, 4, &other);
    cr_expect(arrays_equal(a.image, b.image), "noise deterministic in (seed, item)");
    cr_expect(arrays_equal(a.labels, clean.labels), "noise leaves the labels alone");
    /* 2^16 complex samples: standard error of the noise power 0.4 % (0.02 dB) */
    double ps, pn;
    power_and_error(clean.image, a.image, &ps, &pn);
    double snr = 10.0 * log10(ps / pn);
    cr_expect_float_eq(snr, 25.0, SNR_TOL_DB, "measured image SNR %.3f dB", snr);
    /* circular white noise: real and imaginary parts carry half the power
     * each, zero mean, and the power is the same everywhere in the field of
     * view (outside the body as inside) */
    const float complex *x = clean.image->data, *y = a.image->data;
    size_t n = mrb_array_count(clean.image);
    double re2 = 0, im2 = 0, mre = 0, mim = 0, first = 0, second = 0;
    for (size_t k = 0; k < n; k++) {
        float complex e = y[k] - x[k];
        re2 += crealf(e) * crealf(e);
        im2 += cimagf(e) * cimagf(e);
        mre += crealf(e);
        mim += cimagf(e);
        if (k % 64 < 16)
            first += pow(cabsf(e), 2); /* left quarter: outside the body */
        else if (k % 64 >= 24 && k % 64 < 40)
            second += pow(cabsf(e), 2); /* centre: heart */
    }
    double sigma = sqrt(pn);
    cr_expect_float_eq(re2 / (re2 + im2), 0.5, 0.02, "real part carries %.3f of the noise power", re2 / (re2 + im2));
    cr_expect_leq(fabs(mre / (double)n), 5.0 * sigma / sqrt((double)n), "mean of the real part");
    cr_expect_leq(fabs(mim / (double)n), 5.0 * sigma / sqrt((double)n), "mean of the imaginary part");
    cr_expect_float_eq(first / second, 1.0, 0.05, "noise power outside/inside the body %.3f", first / second);
    /* a different item draws different noise */
    double po, pno;
    power_and_error(a.image, other.image, &po, &pno);
    cr_expect_gt(pno, 0.0);
    mrb_item_clear(&clean);
    mrb_item_clear(&a);
    mrb_item_clear(&b);
    mrb_item_clear(&other);
    /* multi-coil data cannot carry image noise: it would be the same in every coil */
    set(&noisy, "coils", "2");
    mrb_item bad;
    cr_expect_eq(noisy.d->generate(&noisy.p, 5, 3, &bad), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "coils") != NULL, "%s", mrb_error_message());
}

/* Centroid (pixels) of the LV epicardial disc (labels 2 and 3) in frame t. */
static void lv_centroid(const mrb_array *lab, size_t t, double *cx, double *cy)
{
    size_t n = lab->dims[0], npix = n * lab->dims[1];
    const unsigned char *l = (const unsigned char *)lab->data + t * npix;
    double sx = 0, sy = 0, c = 0;
    for (size_t k = 0; k < npix; k++)
        if (l[k] == 2 || l[k] == 3) {
            sx += (double)(k % n);
            sy += (double)(k / n);
            c += 1;
        }
    *cx = sx / c;
    *cy = sy / c;
}

Test(data, cine_respiratory_drift_is_monotonic_bounded_and_not_periodic)
{
    /* resp_drift A (pixels, peak-to-peak over a breath of 3 to 5 heartbeats):
     * the heart starts where the static phantom has it, moves one way only
     * (the frames lie inside one inspiration or expiration), by at least
     * A sin^2(pi 15/16 / 5) = 0.31 A by the last frame (so it does not come
     * back: not periodic over the sequence) and at most A, near the image
     * vertical (+/- 30 degrees). The labels give the displacement: clean and
     * drifting hearts contract identically. */
    const double amp = 4.0;
    gen g = make_gen("cine");
    set(&g, "size", "128");
    set(&g, "frames", "16");
    set(&g, "cases", "8");
    set(&g, "smooth_phase", "false");
    gen drift = g;
    set(&drift, "resp_drift", "4");
    for (size_t item = 0; item < 8; item++) {
        mrb_item clean, moved;
        generate(&g, 9, item, &clean);
        generate(&drift, 9, item, &moved);
        double prev = 0.0, dx = 0, dy = 0;
        for (size_t t = 0; t < 16; t++) {
            double x0, y0, x1, y1;
            lv_centroid(clean.labels, t, &x0, &y0);
            lv_centroid(moved.labels, t, &x1, &y1);
            dx = x1 - x0;
            dy = y1 - y0;
            double d = hypot(dx, dy);
            if (t == 0) cr_expect_leq(d, CENTROID_TOL_PX, "item %zu: frame 0 in place (%.3f px)", item, d);
            cr_expect_geq(d, prev - CENTROID_TOL_PX, "item %zu frame %zu: %.3f px after %.3f (monotonic)", item, t, d,
                          prev);
            cr_expect_leq(d, amp + CENTROID_TOL_PX, "item %zu frame %zu: %.3f px within the excursion", item, t, d);
            if (d > prev) prev = d;
        }
        double last = hypot(dx, dy);
        cr_expect_geq(last, 0.31 * amp - CENTROID_TOL_PX, "item %zu: last frame %.3f px from the first", item, last);
        double off_vertical = atan2(fabs(dx), fabs(dy)) * 180.0 / PI_D;
        cr_expect_leq(off_vertical, 35.0, "item %zu: drift %.1f degrees from the vertical", item, off_vertical);
        mrb_item_clear(&clean);
        mrb_item_clear(&moved);
    }
}

Test(data, cine_cycle_jitter_changes_the_cycles_per_sequence)
{
    /* cycle_jitter j: the frames span 1 + u cycles, u in [-j, j]. Frame 0 is
     * still end diastole, but end systole (37.5 % of a cycle, frame 6 of 16)
     * moves to frame 0.375 nt / (1 + u), from item to item; without jitter it
     * stays within a frame of 6 (near-equal areas around the minimum). */
    gen g = make_gen("cine");
    set(&g, "size", "64");
    set(&g, "frames", "16");
    set(&g, "cases", "12");
    gen jit = g;
    set(&jit, "cycle_jitter", "0.3");
    size_t es_min = 99, es_max = 0, clean_min = 99, clean_max = 0;
    for (size_t item = 0; item < 12; item++) {
        mrb_item clean, j;
        generate(&g, 3, item, &clean);
        generate(&jit, 3, item, &j);
        size_t npix = 64 * 64;
        cr_expect(memcmp(clean.labels->data, j.labels->data, npix) == 0, "item %zu: frame 0 is end diastole", item);
        size_t tc = 0, tj = 0, ac = SIZE_MAX, aj = SIZE_MAX;
        for (size_t t = 0; t < 16; t++) {
            size_t a = count_label(clean.labels, t, 3), b = count_label(j.labels, t, 3);
            if (a < ac) ac = a, tc = t;
            if (b < aj) aj = b, tj = t;
        }
        if (tc < clean_min) clean_min = tc;
        if (tc > clean_max) clean_max = tc;
        /* 0.375 * 16 / 1.3 = 4.6 .. 0.375 * 16 / 0.7 = 8.6, +/- one frame */
        cr_expect(tj >= 3 && tj <= 10, "item %zu: end systole at frame %zu", item, tj);
        if (tj < es_min) es_min = tj;
        if (tj > es_max) es_max = tj;
        mrb_item_clear(&clean);
        mrb_item_clear(&j);
    }
    cr_expect(clean_min >= 5 && clean_max <= 7, "without jitter end systole at frames %zu .. %zu", clean_min,
              clean_max);
    cr_expect_geq(es_max - es_min, clean_max - clean_min + 2, "end systole moves with the jitter: frames %zu .. %zu",
                  es_min, es_max);
}

Test(data, cine_image_matches_labels)
{
    /* LV blood is bright, myocardium dark: mean magnitude over label 3 well
     * above label 2 in every frame. */
    gen g = make_gen("cine");
    set(&g, "size", "64");
    set(&g, "frames", "20");
    mrb_item item;
    generate(&g, 2, 1, &item);
    size_t npix = 64 * 64;
    const float complex *x = item.image->data;
    const unsigned char *l = item.labels->data;
    for (size_t t = 0; t < 20; t++) {
        double s[4] = {0}, c[4] = {0};
        for (size_t k = 0; k < npix; k++) {
            s[l[t * npix + k]] += cabsf(x[t * npix + k]);
            c[l[t * npix + k]] += 1;
        }
        cr_expect_gt(s[3] / c[3], 2.0 * s[2] / c[2], "frame %zu: LV blood brighter than myocardium", t);
        cr_expect_gt(s[1] / c[1], 2.0 * s[2] / c[2], "frame %zu: RV blood brighter than myocardium", t);
    }
    mrb_item_clear(&item);
}

Test(data, coil_maps_normalised_and_seeded)
{
    mrb_array *s = NULL, *s2 = NULL, *s3 = NULL;
    cr_assert_eq(mrb_coil_maps(96, 80, 8, 7, &s), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_coil_maps(96, 80, 8, 7, &s2), MRB_OK);
    cr_assert_eq(mrb_coil_maps(96, 80, 8, 8, &s3), MRB_OK);
    cr_assert_eq(s->ndim, 4);
    cr_assert_eq(s->dims[0], 96);
    cr_assert_eq(s->dims[1], 80);
    cr_assert_eq(s->dims[2], 1);
    cr_assert_eq(s->dims[3], 8);
    size_t npix = 96 * 80;
    const float complex *m = s->data;
    for (size_t k = 0; k < npix; k++) {
        double sos = 0;
        for (size_t c = 0; c < 8; c++) sos += pow(cabsf(m[c * npix + k]), 2);
        cr_assert_float_eq(sos, 1.0, SOS_TOL, "pixel %zu: sum |S|^2 = %.8f", k, sos);
    }
    cr_expect(arrays_equal(s, s2), "same seed, same maps");
    cr_expect(!arrays_equal(s, s3), "different seed, different maps");
    /* smooth: neighbouring pixels of one coil differ by a small fraction of
     * the map's peak, and each coil is brightest near its own side */
    const double SMOOTH_TOL = 0.1;
    for (size_t c = 0; c < 8; c++) {
        double peak = 0, step = 0;
        for (size_t j = 0; j < 80; j++)
            for (size_t i = 0; i + 1 < 96; i++) {
                const float complex *mc = m + c * npix + j * 96;
                peak = fmax(peak, cabsf(mc[i]));
                step = fmax(step, cabsf(mc[i + 1] - mc[i]));
            }
        cr_expect_lt(step, SMOOTH_TOL * peak, "coil %zu: largest step %g vs peak %g", c, step, peak);
        cr_expect_gt(peak, 0.5, "coil %zu dominates somewhere", c);
    }
    mrb_array_free(s);
    mrb_array_free(s2);
    mrb_array_free(s3);
    mrb_array *bad = NULL;
    cr_expect_eq(mrb_coil_maps(96, 80, 0, 1, &bad), MRB_ERR_INVALID);
    cr_expect_null(bad);
}

Test(data, kspace_equals_direct_dft_of_coil_images)
{
    /* k_c(u, v) = 1/sqrt(N) sum_x,y S_c x exp(-2 pi i ((x - nx/2)(u - nx/2)/nx + ...)):
     * the centred orthonormal DFT evaluated directly in float64. */
    gen g = make_gen("cine");
    set(&g, "size", "32");
    set(&g, "frames", "3");
    set(&g, "coils", "3");
    mrb_item item;
    generate(&g, 4, 0, &item);
    mrb_array *k = NULL;
    cr_assert_eq(mrb_simulate_kspace(&item, 0.0, 1, &k), MRB_OK, "%s", mrb_error_message());
    size_t n = 32, nt = 3, nc = 3, npix = n * n;
    cr_assert_eq(k->ndim, 4);
    cr_assert_eq(k->dims[2], nt);
    cr_assert_eq(k->dims[3], nc);
    const float complex *x = item.image->data, *s = item.sens->data, *kd = k->data;
    double worst = 0, peak = 0;
    for (size_t c = 0; c < nc; c++)
        for (size_t t = 0; t < nt; t++)
            for (size_t v = 0; v < n; v++)
                for (size_t u = 0; u < n; u++) {
                    double complex acc = 0;
                    for (size_t yy = 0; yy < n; yy++)
                        for (size_t xx = 0; xx < n; xx++) {
                            double ph =
                                -2.0 * PI_D *
                                (((double)xx - 16.0) * ((double)u - 16.0) + ((double)yy - 16.0) * ((double)v - 16.0)) /
                                32.0;
                            acc += (double complex)s[c * npix + yy * n + xx] *
                                   (double complex)x[t * npix + yy * n + xx] * cexp(I * ph);
                        }
                    acc /= 32.0;
                    double complex got = kd[(c * nt + t) * npix + v * n + u];
                    worst = fmax(worst, cabs(got - acc));
                    peak = fmax(peak, cabs(acc));
                }
    cr_expect_leq(worst, DFT_REL_TOL * peak, "max error %g vs peak %g", worst, peak);
    mrb_array_free(k);
    mrb_item_clear(&item);
}

Test(data, kspace_noise_has_requested_snr)
{
    gen g = make_gen("shepp-logan");
    set(&g, "size", "128");
    set(&g, "coils", "8");
    mrb_item item;
    generate(&g, 4, 0, &item);
    mrb_array *clean = NULL, *noisy = NULL, *noisy2 = NULL;
    cr_assert_eq(mrb_simulate_kspace(&item, 0.0, 1, &clean), MRB_OK);
    cr_assert_eq(mrb_simulate_kspace(&item, 20.0, 1, &noisy), MRB_OK);
    cr_assert_eq(mrb_simulate_kspace(&item, 20.0, 1, &noisy2), MRB_OK);
    cr_expect(arrays_equal(noisy, noisy2), "noise deterministic in the seed");
    size_t n = mrb_array_count(clean);
    const float complex *a = clean->data, *b = noisy->data;
    double ps = 0, pn = 0;
    for (size_t k = 0; k < n; k++) {
        ps += pow(cabsf(a[k]), 2);
        pn += pow(cabsf(b[k] - a[k]), 2);
    }
    double snr = 10.0 * log10(ps / pn);
    cr_expect_float_eq(snr, 20.0, SNR_TOL_DB, "measured SNR %.3f dB", snr);
    mrb_array_free(clean);
    mrb_array_free(noisy);
    mrb_array_free(noisy2);
    mrb_item_clear(&item);
}

Test(data, kspace_single_coil_without_maps)
{
    /* No coil maps: one coil, k-space is the FFT of the image itself, and the
     * inverse FFT gives the image back. */
    const double ROUNDTRIP_TOL = 1e-5;
    gen g = make_gen("shepp-logan");
    set(&g, "size", "64");
    mrb_item item;
    generate(&g, 4, 0, &item);
    mrb_array *k = NULL;
    cr_assert_eq(mrb_simulate_kspace(&item, 0.0, 1, &k), MRB_OK);
    cr_assert_eq(k->dims[3], 1);
    cr_assert_eq(mrb_fft_array(MRB_FFT_INVERSE, 2, k, 1), MRB_OK);
    const float complex *a = item.image->data, *b = k->data;
    for (size_t p = 0; p < 64 * 64; p++) cr_assert_float_eq(cabsf(a[p] - b[p]), 0.0f, ROUNDTRIP_TOL);
    mrb_array_free(k);
    mrb_item_clear(&item);
}

static void check_manifest(const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/datasets/%s", MRB_SOURCE_DIR, file);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "manifest %s", path);
    char text[16384];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    cJSON *m = cJSON_Parse(text);
    cr_assert_not_null(m, "%s is valid JSON", file);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(m, "mrbench_dataset");
    cr_expect(cJSON_IsNumber(ver) && ver->valuedouble == 1, "%s: schema version 1", file);
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "licence")), "generated; CC0");
    cr_expect_not_null(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name")));
    cr_expect_not_null(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "description")));
    const char *gname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "generator"));
    cr_assert_not_null(gname, "%s: generator", file);
    gen g = make_gen(gname);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
    for (const cJSON *p = params ? params->child : NULL; p; p = p->next) {
        char value[64];
        if (cJSON_IsBool(p))
            snprintf(value, sizeof value, "%s", cJSON_IsTrue(p) ? "true" : "false");
        else if (cJSON_IsNumber(p))
            snprintf(value, sizeof value, "%.17g", p->valuedouble);
        else
            cr_assert_fail("%s: parameter %s is neither a number nor a bool", file, p->string);
        set(&g, p->string, value);
    }
    size_t count = g.d->count(&g.p);
    /* splits: disjoint, in range, together every item */
    unsigned char *seen = calloc(count, 1);
    const cJSON *splits = cJSON_GetObjectItemCaseSensitive(m, "splits");
    size_t total = 0;
    static const char *const names[] = {"train", "val", "test"};
    for (size_t s = 0; s < 3; s++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(splits, names[s]);
        cr_assert(cJSON_IsArray(list), "%s: split %s", file, names[s]);
        for (const cJSON *e = list->child; e; e = e->next) {
            cr_assert(cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < (double)count, "%s: index in range",
                      file);
            size_t idx = (size_t)e->valuedouble;
            cr_expect_eq(seen[idx], 0, "%s: item %zu in one split only", file, idx);
            seen[idx] = 1;
            total++;
        }
    }
    cr_expect_eq(total, count, "%s: the splits cover all %zu items", file, count);
    free(seen);
    cJSON_Delete(m);
}

Test(data, manifests_are_valid)
{
    check_manifest("shepp-logan-256.json");
    check_manifest("brain-256.json");
    check_manifest("cine-128.json");
    check_manifest("cine-train-64-realistic.json");
    check_manifest("brain-tumour-96.json");
}

Test(data, brain_tumour_deterministic)
{
    static const char *const kv[] = {"size", "32", "slices", "16"};
    check_deterministic("brain-tumour", kv, 4);
}

static double channel_mean(const mrb_item *item, int ch, unsigned char label)
{
    size_t nvox = item->labels->dims[0] * item->labels->dims[1] * item->labels->dims[2];
    const float *im = (const float *)item->image->data + (size_t)ch * nvox;
    const unsigned char *l = item->labels->data;
    double s = 0, c = 0;
    for (size_t k = 0; k < nvox; k++)
        if (l[k] == label) s += im[k], c += 1;
    return c > 0 ? s / c : NAN;
}

Test(data, brain_tumour_labels_contrasts_and_paired_domain_shift)
{
    /* BraTS labels only (0, 1, 2, 4); oedema bright in FLAIR, the enhancing
     * rim brighter in T1c than in T1; the shifted domain has the same
     * anatomy and labels (paired cases) but different intensities. */
    gen g = make_gen("brain-tumour");
    set(&g, "size", "64");
    set(&g, "slices", "40");
    for (size_t idx = 0; idx < 3; idx++) {
        mrb_item a, b;
        generate(&g, 17, idx, &a);
        cr_assert_eq(a.image->dtype, MRB_F32);
        cr_assert_eq(a.image->ndim, 4);
        cr_assert_eq(a.image->dims[3], 4);
        cr_assert_eq(a.labels->dims[2], 40);
        size_t nvox = 64 * 64 * 40, count[5] = {0};
        const unsigned char *l = a.labels->data;
        for (size_t k = 0; k < nvox; k++) {
            cr_assert(l[k] == 0 || l[k] == 1 || l[k] == 2 || l[k] == 4, "BraTS label value %u", l[k]);
            count[l[k]]++;
        }
        cr_expect_gt(count[2], 0, "item %zu has oedema", idx);
        cr_expect_gt(count[4], 0, "item %zu has an enhancing rim", idx);
        double flair_oedema = channel_mean(&a, 3, 2), flair_other = channel_mean(&a, 3, 0);
        cr_expect_gt(flair_oedema, 2.0 * flair_other, "FLAIR oedema %g vs elsewhere %g", flair_oedema, flair_other);
        cr_expect_gt(channel_mean(&a, 1, 4), 1.3 * channel_mean(&a, 0, 4), "T1c enhancement");
        set(&g, "domain_shift", "true");
        generate(&g, 17, idx, &b);
        set(&g, "domain_shift", "false");
        cr_expect(arrays_equal(a.labels, b.labels), "item %zu: same labels in both domains", idx);
        cr_expect(!arrays_equal(a.image, b.image), "item %zu: intensities shifted", idx);
        cr_expect_str_neq(a.id, b.id);
        mrb_item_clear(&a);
        mrb_item_clear(&b);
    }
}

Test(data, thick_slice_deterministic_and_isotropic)
{
    static const char *const kv[] = {"size", "32", "slices", "16"};
    check_deterministic("thick-slice", kv, 4);
    gen g = make_gen("thick-slice");
    set(&g, "size", "48");
    set(&g, "slices", "24");
    mrb_item t2, flair;
    generate(&g, 3, 0, &t2);
    set(&g, "contrast", "flair");
    generate(&g, 3, 0, &flair);
    cr_assert_eq(t2.image->dtype, MRB_F32);
    cr_assert_eq(t2.image->ndim, 3);
    cr_assert_eq(t2.image->dims[2], 24);
    cr_expect_float_eq(t2.spacing[2], t2.spacing[0], 1e-12, "isotropic ground truth");
    cr_expect(!arrays_equal(t2.image, flair.image), "contrast selects the channel");
    cr_expect(arrays_equal(t2.labels, flair.labels), "same anatomy in every contrast");
    mrb_item_clear(&t2);
    mrb_item_clear(&flair);
}

Test(data, thick_slices_profiles)
{
    /* On a volume linear in z (v = z), a symmetric slice profile returns the
     * block centre k f + (f - 1) / 2 (boxcar everywhere, Gaussian away from
     * the ends); channels and complex data are averaged alike. */
    const double PROFILE_TOL = 1e-4;
    size_t dims[4] = {3, 2, 20, 2};
    mrb_array *v = mrb_array_create(MRB_F32, 4, dims);
    float *d = v->data;
    for (size_t c = 0; c < 2; c++)
        for (size_t z = 0; z < 20; z++)
            for (size_t q = 0; q < 6; q++) d[(c * 20 + z) * 6 + q] = (float)z + 100.0f * (float)c;
    mrb_array *box = NULL, *gau = NULL;
    cr_assert_eq(mrb_thick_slices(v, 4, MRB_SLICE_BOXCAR, &box), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_thick_slices(v, 4, MRB_SLICE_GAUSSIAN, &gau), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(box->dims[2], 5);
    cr_assert_eq(box->dims[3], 2);
    const float *b = box->data, *g = gau->data;
    for (size_t c = 0; c < 2; c++)
        for (size_t k = 0; k < 5; k++) {
            double want = 4.0 * (double)k + 1.5 + 100.0 * (double)c;
            cr_expect_float_eq(b[(c * 5 + k) * 6], want, PROFILE_TOL, "boxcar slice %zu", k);
            if (k >= 1 && k <= 3) cr_expect_float_eq(g[(c * 5 + k) * 6], want, PROFILE_TOL, "Gaussian slice %zu", k);
        }
    /* the Gaussian profile is wider than the boxcar: on a step it blurs more */
    for (size_t z = 0; z < 20; z++)
        for (size_t q = 0; q < 6; q++) d[z * 6 + q] = z < 8 ? 0.0f : 1.0f;
    mrb_array_free(box);
    mrb_array_free(gau);
    cr_assert_eq(mrb_thick_slices(v, 4, MRB_SLICE_BOXCAR, &box), MRB_OK);
    cr_assert_eq(mrb_thick_slices(v, 4, MRB_SLICE_GAUSSIAN, &gau), MRB_OK);
    b = box->data;
    g = gau->data;
    cr_expect_float_eq(b[1 * 6], 0.0f, PROFILE_TOL, "boxcar block 1 ends before the step");
    cr_expect_gt(g[1 * 6], 0.01f, "Gaussian block 1 sees the step");
    mrb_array_free(box);
    mrb_array_free(gau);
    mrb_array *bad = NULL;
    cr_expect_eq(mrb_thick_slices(v, 21, MRB_SLICE_BOXCAR, &bad), MRB_ERR_INVALID);
    cr_expect_null(bad);
    mrb_array_free(v);
}
