/* Sampling masks (impl/data): determinism, acceleration, centre, structure. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/data.h"
#include "mrbench/registry.h"

/* Achieved acceleration within 5 % of the request (the benchmark's
 * acceptance rule for masks). */
static const double R_TOL = 0.05;

typedef struct smp {
    const mrb_sampler_desc *d;
    mrb_params p;
} smp;

static smp make_smp(const char *name)
{
    smp s;
    s.d = mrb_sampler_find(name);
    cr_assert_not_null(s.d, "sampler %s registered", name);
    mrb_params_defaults(&s.p, s.d->params, s.d->nparams);
    return s;
}

static void set(smp *s, const char *key, const char *value)
{
    mrb_status st = mrb_params_set_text(&s->p, s->d->params, s->d->nparams, key, value, "test");
    cr_assert_eq(st, MRB_OK, "%s=%s: %s", key, value, mrb_error_message());
}

static mrb_array *make_mask(smp *s, uint64_t seed, size_t nx, size_t ny, size_t nt)
{
    mrb_array *m = NULL;
    mrb_status st = s->d->make(&s->p, seed, nx, ny, nt, &m);
    cr_assert_eq(st, MRB_OK, "%s %zux%zux%zu: %s", s->d->name, nx, ny, nt, mrb_error_message());
    cr_assert_eq(m->dtype, MRB_F32);
    cr_assert_eq(m->ndim, 3);
    cr_assert_eq(m->dims[0], nx);
    cr_assert_eq(m->dims[1], ny);
    cr_assert_eq(m->dims[2], nt);
    const float *v = m->data;
    for (size_t k = 0; k < mrb_array_count(m); k++) cr_assert(v[k] == 0.0f || v[k] == 1.0f, "binary mask");
    return m;
}

static int masks_equal(const mrb_array *a, const mrb_array *b)
{
    return mrb_array_same_shape(a, b) && memcmp(a->data, b->data, mrb_array_bytes(a)) == 0;
}

static float at(const mrb_array *m, size_t i, size_t j, size_t t)
{
    return ((const float *)m->data)[(t * m->dims[1] + j) * m->dims[0] + i];
}

static const char *const ALL_SAMPLERS[] = {"cartesian-vd", "fastmri-random", "fastmri-equispaced", "poisson", "radial"};

Test(data_sampling, every_sampler_deterministic_in_seed)
{
    for (size_t k = 0; k < sizeof ALL_SAMPLERS / sizeof *ALL_SAMPLERS; k++) {
        smp s = make_smp(ALL_SAMPLERS[k]);
        mrb_array *a = make_mask(&s, 10, 64, 64, 3);
        mrb_array *b = make_mask(&s, 10, 64, 64, 3);
        mrb_array *c = make_mask(&s, 11, 64, 64, 3);
        cr_expect(masks_equal(a, b), "%s: same seed, identical mask", s.d->name);
        cr_expect(!masks_equal(a, c), "%s: different seed, different mask", s.d->name);
        cr_expect_eq(s.d->nominal_acceleration(&s.p), 4.0, "%s nominal R is the request", s.d->name);
        mrb_array_free(a);
        mrb_array_free(b);
        mrb_array_free(c);
    }
}

static void check_acceleration(const char *name, const char *extra_key, const char *extra_value)
{
    static const size_t sizes[] = {256, 128};
    static const char *const rs[] = {"2", "4", "6", "8"};
    for (size_t si = 0; si < 2; si++)
        for (size_t ri = 0; ri < 4; ri++) {
            smp s = make_smp(name);
            set(&s, "acceleration", rs[ri]);
            if (extra_key) set(&s, extra_key, extra_value);
            size_t n = sizes[si];
            mrb_array *m = make_mask(&s, 3, n, n, 1);
            double want = atof(rs[ri]), got = mrb_mask_acceleration(m);
            cr_expect(fabs(got - want) <= R_TOL * want, "%s %s=%s: R = %g at %zu requested %g", name,
                      extra_key ? extra_key : "", extra_key ? extra_value : "", got, n, want);
            mrb_array_free(m);
        }
}

Test(data_sampling, cartesian_vd_acceleration_within_5_percent)
{
    check_acceleration("cartesian-vd", NULL, NULL);
}

Test(data_sampling, poisson_acceleration_within_5_percent)
{
    check_acceleration("poisson", NULL, NULL);
}

Test(data_sampling, poisson_variable_density_acceleration_within_5_percent)
{
    check_acceleration("poisson", "variable_density", "1");
}

Test(data_sampling, radial_acceleration_within_5_percent)
{
    check_acceleration("radial", NULL, NULL);
    check_acceleration("radial", "golden_angle", "1");
}

Test(data_sampling, fastmri_equispaced_fraction_acceleration_within_5_percent)
{
    check_acceleration("fastmri-equispaced", "adjust_for_centre", "1");
}

Test(data_sampling, fastmri_random_acceleration_within_5_percent_on_average)
{
    /* RandomMaskFunc draws each line independently: R holds in expectation
     * (over 40 seeds, the mean line count within 5 %). */
    static const char *const rs[] = {"2", "4", "6", "8"};
    for (size_t ri = 0; ri < 4; ri++) {
        smp s = make_smp("fastmri-random");
        set(&s, "acceleration", rs[ri]);
        double lines = 0;
        for (uint64_t seed = 0; seed < 40; seed++) {
            mrb_array *m = make_mask(&s, seed, 16, 256, 1);
            lines += 256.0 / mrb_mask_acceleration(m);
            mrb_array_free(m);
        }
        double got = 256.0 / (lines / 40.0), want = atof(rs[ri]);
        cr_expect(fabs(got - want) <= R_TOL * want, "mean R = %g requested %g", got, want);
    }
}

Test(data_sampling, cartesian_masks_are_lines_with_full_centre)
{
    /* Lines along dims[1]: every column of a frame is constant along dims[0]
     * (readout); the centre lines are all sampled. */
    struct {
        const char *name;
        size_t centre;
    } cases[] = {{"cartesian-vd", 8}, {"fastmri-random", 10}, {"fastmri-equispaced", 10}};
    for (size_t c = 0; c < 3; c++) {
        smp s = make_smp(cases[c].name);
        set(&s, "acceleration", "6");
        mrb_array *m = make_mask(&s, 5, 40, 128, 4);
        for (size_t t = 0; t < 4; t++)
            for (size_t j = 0; j < 128; j++)
                for (size_t i = 1; i < 40; i++)
                    cr_assert_eq(at(m, i, j, t), at(m, 0, j, t), "%s: constant along readout", cases[c].name);
        /* cartesian-vd: [N/2 - 4, N/2 + 4); fastMRI: round(0.08 * 128) = 10 at pad (128 - 10 + 1) / 2 = 59 */
        size_t first = c == 0 ? 64 - 4 : 59;
        for (size_t t = 0; t < 4; t++)
            for (size_t j = first; j < first + cases[c].centre; j++)
                cr_expect_eq(at(m, 0, j, t), 1.0f, "%s: centre line %zu frame %zu sampled", cases[c].name, j, t);
        mrb_array_free(m);
    }
}

Test(data_sampling, cartesian_vd_line_count_and_independent_frames)
{
    /* int(N/R) lines per frame; frames drawn independently; lines near the
     * centre chosen more often than lines at the edge (Gaussian density). */
    smp s = make_smp("cartesian-vd");
    set(&s, "acceleration", "4");
    size_t ny = 128, nt = 30;
    mrb_array *m = make_mask(&s, 9, 8, ny, nt);
    size_t near = 0, far = 0;
    for (size_t t = 0; t < nt; t++) {
        size_t lines = 0;
        for (size_t j = 0; j < ny; j++) lines += at(m, 0, j, t) != 0.0f;
        cr_expect_eq(lines, 32, "frame %zu has int(128/4) = 32 lines", t);
        for (size_t j = 0; j < ny; j++) {
            if (j >= 64 + 4 && j < 64 + 20) near += at(m, 0, j, t) != 0.0f;
            if (j >= 112) far += at(m, 0, j, t) != 0.0f;
        }
    }
    size_t differ = 0;
    for (size_t t = 1; t < nt; t++)
        differ +=
            memcmp((float *)m->data + t * 8 * ny, (float *)m->data + (t - 1) * 8 * ny, 8 * ny * sizeof(float)) != 0;
    cr_expect_eq(differ, nt - 1, "consecutive frames differ");
    cr_expect_gt(near, 2 * far, "near-centre selections %zu vs edge %zu", near, far);
    mrb_array_free(m);
}

Test(data_sampling, fastmri_equispaced_every_r_th_line)
{
    /* EquispacedMaskFunc: outside the centre, sampled lines are R apart. */
    smp s = make_smp("fastmri-equispaced");
    set(&s, "acceleration", "4");
    mrb_array *m = make_mask(&s, 2, 4, 256, 1);
    long last = -1;
    size_t pad = (256 - 20 + 1) / 2; /* round(0.08 * 256) = 20 centre lines */
    for (size_t j = 0; j < 256; j++) {
        if (at(m, 0, j, 0) == 0.0f || (j >= pad && j < pad + 20)) continue;
        if (last >= 0 && !((size_t)last < pad && j >= pad + 20)) cr_expect_eq(j - (size_t)last, 4, "line %zu", j);
        last = (long)j;
    }
    double r = mrb_mask_acceleration(m);
    /* N/R lines plus the centre lines not already on the comb */
    cr_expect(r > 3.0 && r < 3.5, "achieved R %g below the nominal 4", r);
    mrb_array_free(m);
}

Test(data_sampling, poisson_calibration_square_and_spread)
{
    /* Full calibration square; outside it, far fewer 4-neighbour pairs of
     * sampled points than independent random sampling of the same density
     * would give (the Poisson-disc spacing). */
    smp s = make_smp("poisson");
    set(&s, "acceleration", "4");
    size_t n = 128;
    mrb_array *m = make_mask(&s, 1, n, n, 2);
    for (size_t t = 0; t < 2; t++)
        for (size_t j = 64 - 12; j < 64 + 12; j++)
            for (size_t i = 64 - 12; i < 64 + 12; i++) cr_assert_eq(at(m, i, j, t), 1.0f, "calibration point");
    size_t pts = 0, pairs = 0, cells = 0;
    for (size_t j = 0; j + 1 < n; j++)
        for (size_t i = 0; i + 1 < n; i++) {
            if (i >= 64 - 14 && i < 64 + 14 && j >= 64 - 14 && j < 64 + 14) continue;
            cells++;
            if (at(m, i, j, 0) == 0.0f) continue;
            pts++;
            pairs += at(m, i + 1, j, 0) != 0.0f;
            pairs += at(m, i, j + 1, 0) != 0.0f;
        }
    double density = (double)pts / (double)cells;
    double random_pairs = 2.0 * (double)pts * density;
    cr_expect_lt((double)pairs, 0.25 * random_pairs, "%zu adjacent pairs vs %g for random sampling", pairs,
                 random_pairs);
    cr_expect(memcmp(m->data, (float *)m->data + n * n, n * n * sizeof(float)) != 0, "frames drawn independently");
    mrb_array_free(m);
}

Test(data_sampling, poisson_variable_density_denser_at_centre)
{
    smp s = make_smp("poisson");
    set(&s, "acceleration", "6");
    set(&s, "variable_density", "1");
    set(&s, "calib", "8");
    size_t n = 128;
    mrb_array *m = make_mask(&s, 1, n, n, 1);
    size_t inner = 0, inner_n = 0, outer = 0, outer_n = 0;
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < n; i++) {
            double r = hypot((double)i - 64.0, (double)j - 64.0) / 64.0;
            if (r > 0.15 && r < 0.4) inner_n++, inner += at(m, i, j, 0) != 0.0f;
            if (r > 0.75 && r < 1.0) outer_n++, outer += at(m, i, j, 0) != 0.0f;
        }
    double di = (double)inner / (double)inner_n, dout = (double)outer / (double)outer_n;
    cr_expect_gt(di, 1.8 * dout, "density %g near the centre vs %g at the edge", di, dout);
    mrb_array_free(m);
}

Test(data_sampling, radial_spokes_through_centre)
{
    /* The centre is sampled in every frame; golden-angle frames differ; a
     * sampled point far from the centre has its point-mirror sampled too
     * (spokes are full diameters), up to rounding at the grid edge. */
    smp s = make_smp("radial");
    set(&s, "acceleration", "8");
    set(&s, "golden_angle", "1");
    size_t n = 128;
    mrb_array *m = make_mask(&s, 4, n, n, 3);
    for (size_t t = 0; t < 3; t++) cr_expect_eq(at(m, 64, 64, t), 1.0f, "centre sampled in frame %zu", t);
    cr_expect(memcmp(m->data, (float *)m->data + n * n, n * n * sizeof(float)) != 0, "golden-angle frames differ");
    size_t mirrored = 0, total = 0;
    for (size_t j = 1; j < n; j++)
        for (size_t i = 1; i < n; i++)
            if (at(m, i, j, 0) != 0.0f && hypot((double)i - 64, (double)j - 64) < 60) {
                total++;
                mirrored += at(m, 128 - i, 128 - j, 0) != 0.0f;
            }
    cr_expect_gt((double)mirrored, 0.9 * (double)total, "%zu of %zu points mirrored", mirrored, total);
    mrb_array_free(m);
}

Test(data_sampling, mask_acceleration_definition)
{
    size_t dims[3] = {4, 4, 2};
    mrb_array *m = mrb_array_create(MRB_F32, 3, dims);
    float *v = m->data;
    v[0] = v[5] = v[17] = v[31] = 1.0f;
    cr_expect_float_eq(mrb_mask_acceleration(m), 32.0 / 4.0, 1e-12);
    memset(v, 0, 32 * sizeof *v);
    cr_expect(isinf(mrb_mask_acceleration(m)), "nothing sampled: infinite R");
    cr_expect(isnan(mrb_mask_acceleration(NULL)));
    mrb_array_free(m);
}

Test(data_sampling, invalid_requests_are_errors)
{
    smp s = make_smp("cartesian-vd");
    set(&s, "centre_lines", "200");
    mrb_array *m = NULL;
    cr_expect_eq(s.d->make(&s.p, 1, 64, 128, 1, &m), MRB_ERR_INVALID);
    cr_expect_null(m);
    smp p = make_smp("poisson");
    set(&p, "acceleration", "8");
    set(&p, "calib", "32");
    cr_expect_eq(p.d->make(&p.p, 1, 64, 64, 1, &m), MRB_ERR_INVALID, "calibration alone exceeds the budget");
    cr_expect_not_null(strstr(mrb_error_message(), "calib"), "%s", mrb_error_message());
    cr_expect_null(m);
    /* a centre larger than the line budget would silently give a lower R than asked */
    smp c = make_smp("cartesian-vd");
    set(&c, "acceleration", "8"); /* int(32 / 8) = 4 lines, the default centre is 8 */
    cr_expect_eq(c.d->make(&c.p, 1, 32, 32, 1, &m), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "centre_lines"), "%s", mrb_error_message());
    cr_expect_null(m);
    set(&c, "centre_lines", "4"); /* exactly the budget: the centre alone, R = 8 */
    m = make_mask(&c, 1, 32, 32, 1);
    cr_expect_float_eq(mrb_mask_acceleration(m), 8.0, 1e-12);
    mrb_array_free(m);
    m = NULL;
    smp f = make_smp("fastmri-random");
    set(&f, "acceleration", "8");
    set(&f, "centre_fraction", "0.3"); /* round(64 * 0.3) = 19 centre lines > 64 / 8 */
    cr_expect_eq(f.d->make(&f.p, 1, 64, 64, 1, &m), MRB_ERR_INVALID);
    cr_expect_null(m);
}

Test(data_sampling, cartesian_vd_matches_deep_cascade_inclusion_probabilities)
{
    /* Independent reference: tests/golden/data/make_cartesian_vd.py runs the
     * deep cascade's cartesian_mask (numpy random.choice without
     * replacement) 20000 times; every line's inclusion frequency here (4000
     * frames) must agree within Z_TOL binomial standard errors of the
     * difference (plus 1e-6 for the printed rounding). */
    const double Z_TOL = 5.0;
    const size_t FRAMES = 4000;
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/data/cartesian_vd_inclusion.txt", MRB_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "golden file %s", path);
    size_t n, centre, draws;
    double acc;
    int cases = 0;
    while (fscanf(f, "%zu %lf %zu %zu", &n, &acc, &centre, &draws) == 4) {
        double *ref = malloc(n * sizeof *ref);
        for (size_t j = 0; j < n; j++) cr_assert_eq(fscanf(f, "%lf", &ref[j]), 1, "golden value %zu", j);
        smp s = make_smp("cartesian-vd");
        char buf[32];
        snprintf(buf, sizeof buf, "%g", acc);
        set(&s, "acceleration", buf);
        snprintf(buf, sizeof buf, "%zu", centre);
        set(&s, "centre_lines", buf);
        mrb_array *m = make_mask(&s, 77, 2, n, FRAMES);
        for (size_t j = 0; j < n; j++) {
            double freq = 0;
            for (size_t t = 0; t < FRAMES; t++) freq += at(m, 0, j, t);
            freq /= (double)FRAMES;
            double p = 0.5 * (freq + ref[j]);
            double se = sqrt(p * (1.0 - p) * (1.0 / (double)FRAMES + 1.0 / (double)draws));
            cr_expect_leq(fabs(freq - ref[j]), Z_TOL * se + 1e-6, "N %zu R %g line %zu: %g vs reference %g", n, acc, j,
                          freq, ref[j]);
        }
        mrb_array_free(m);
        free(ref);
        cases++;
    }
    fclose(f);
    cr_expect_eq(cases, 2, "both golden cases read");
}

Test(data_sampling, fastmri_random_line_probability)
{
    /* Outside the centre every line is sampled independently with
     * probability (N/R - num_low) / (N - num_low): checked per line over
     * 3000 frames within Z_TOL standard errors. */
    const double Z_TOL = 5.0;
    const size_t FRAMES = 3000, N = 128;
    smp s = make_smp("fastmri-random");
    set(&s, "acceleration", "4");
    mrb_array *m = make_mask(&s, 5, 2, N, FRAMES);
    size_t num_low = 10, pad = (N - num_low + 1) / 2; /* round(0.08 * 128) = 10 */
    double prob = (128.0 / 4.0 - 10.0) / (128.0 - 10.0);
    double se = sqrt(prob * (1 - prob) / (double)FRAMES);
    for (size_t j = 0; j < N; j++) {
        if (j >= pad && j < pad + num_low) continue;
        double freq = 0;
        for (size_t t = 0; t < FRAMES; t++) freq += at(m, 0, j, t);
        freq /= (double)FRAMES;
        cr_expect_leq(fabs(freq - prob), Z_TOL * se, "line %zu: %g vs %g", j, freq, prob);
    }
    mrb_array_free(m);
}
