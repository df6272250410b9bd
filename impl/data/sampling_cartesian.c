/* Cartesian line masks: "cartesian-vd" (deep cascade cartesian_mask),
 * "fastmri-random" (fastMRI RandomMaskFunc), "fastmri-equispaced" (fastMRI
 * EquispacedMaskFunc, optionally EquispacedMaskFractionFunc).
 * Lines run along dims[1] (phase encoding) and are constant along dims[0]
 * (readout); each frame t of an [nx, ny, nt] mask is drawn independently. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

/* Deep cascade (Schlemper et al. 2017, released code utils/compressed_sensing.py
 * cartesian_mask): Gaussian density exp(-(k - N/2)^2 / (2 sigma^2)) with
 * sigma = N / 10, plus a uniform floor 1 / (2R). */
static const double CVD_SIGMA_FRACTION = 0.1;

static const mrb_param_spec CVD_PARAMS[] = {
    {"acceleration", MRB_PARAM_NUMBER, 4, 1, 64, NULL, NULL, "requested acceleration R (int(N/R) lines per frame)"},
    {"centre_lines", MRB_PARAM_INT, 8, 0, 4096, NULL, NULL,
     "fully sampled centre lines (deep cascade demos: 8; its code default: 10)"},
};

/* fastMRI's defaults for 4x (the knee challenge pairs 0.08 with 4x and 0.04 with 8x). */
static const mrb_param_spec FASTMRI_RANDOM_PARAMS[] = {
    {"acceleration", MRB_PARAM_NUMBER, 4, 1, 64, NULL, NULL, "requested acceleration R"},
    {"centre_fraction", MRB_PARAM_NUMBER, 0.08, 0, 1, NULL, NULL,
     "fraction of lines fully sampled at the centre (round(N * fraction) lines)"},
};

static const mrb_param_spec FASTMRI_EQUI_PARAMS[] = {
    {"acceleration", MRB_PARAM_NUMBER, 4, 1, 64, NULL, NULL, "requested acceleration R"},
    {"centre_fraction", MRB_PARAM_NUMBER, 0.08, 0, 1, NULL, NULL,
     "fraction of lines fully sampled at the centre (round(N * fraction) lines)"},
    {"adjust_for_centre", MRB_PARAM_BOOL, 0, 0, 1, NULL, NULL,
     "0: every R-th line (EquispacedMaskFunc); 1: spacing adjusted so the total is about N/R "
     "(EquispacedMaskFractionFunc, fastMRI v0.1's EquispacedMaskFunc)"},
};

static double nominal_acceleration(const mrb_params *p)
{
    return mrb_params_num(p, "acceleration");
}

static mrb_status create_mask(const char *name, size_t nx, size_t ny, size_t nt, mrb_array **mask)
{
    MRB_TRY(mrb_data_check_mask_shape(name, nx, ny, nt, mask));
    *mask = mrb_array_create3(MRB_F32, nx, ny, nt);
    if (!*mask) return mrb_error_context(MRB_ERR_NOMEM, "sampler %s", name);
    return MRB_OK;
}

/* Copies the line pattern of frame t (ny flags) along the readout axis. */
static void fill_frame(mrb_array *mask, size_t t, const unsigned char *lines)
{
    size_t nx = mask->dims[0], ny = mask->dims[1];
    float *m = (float *)mask->data + t * nx * ny;
    for (size_t j = 0; j < ny; j++)
        if (lines[j])
            for (size_t i = 0; i < nx; i++) m[j * nx + i] = 1.0f;
}

static mrb_status cvd_make(const mrb_params *p, uint64_t seed, size_t nx, size_t ny, size_t nt, mrb_array **mask)
{
    double acc = mrb_params_num(p, "acceleration");
    size_t centre = (size_t)mrb_params_int(p, "centre_lines");
    if (centre > ny)
        return mrb_error(MRB_ERR_INVALID,
                         "sampler cartesian-vd: centre_lines = %zu exceeds the %zu phase-encoding lines", centre, ny);
    /* the released cartesian_mask fails here too (a negative number of lines to draw) */
    if ((double)centre > floor((double)ny / acc))
        return mrb_error(MRB_ERR_INVALID,
                         "sampler cartesian-vd: centre_lines = %zu exceed the int(N/R) = %g lines of %zu at "
                         "acceleration %g (fewer centre lines or a lower acceleration)",
                         centre, floor((double)ny / acc), ny, acc);
    MRB_TRY(create_mask("cartesian-vd", nx, ny, nt, mask));
    double *pdf = malloc(ny * sizeof *pdf);
    double *w = malloc(ny * sizeof *w);
    unsigned char *lines = malloc(ny);
    if (!pdf || !w || !lines) {
        free(pdf);
        free(w);
        free(lines);
        mrb_array_free(*mask);
        *mask = NULL;
        return mrb_error(MRB_ERR_NOMEM, "sampler cartesian-vd: out of memory");
    }
    double sigma = CVD_SIGMA_FRACTION * (double)ny;
    size_t c0 = ny / 2 - centre / 2, c1 = ny / 2 + centre / 2;
    if (centre % 2) c1++; /* odd centre_lines: one more line above k = 0 */
    size_t available = 0;
    for (size_t k = 0; k < ny; k++) {
        double d = (double)k - 0.5 * (double)ny;
        pdf[k] = exp(-0.5 * d * d / (sigma * sigma)) + 1.0 / (2.0 * acc);
        if (k >= c0 && k < c1)
            pdf[k] = 0.0;
        else
            available++;
    }
    long n_lines = (long)((double)ny / acc) - (long)(c1 - c0);
    if (n_lines < 0) n_lines = 0;
    if ((size_t)n_lines > available) n_lines = (long)available;
    mrb_rng rng;
    mrb_rng_seed(&rng, mrb_seed_derive(seed, "cartesian-vd", 0));
    for (size_t t = 0; t < nt; t++) {
        memcpy(w, pdf, ny * sizeof *w);
        memset(lines, 0, ny);
        for (size_t k = c0; k < c1; k++) lines[k] = 1;
        /* numpy.random.choice(N, n, replace=False, p=pdf): successive draws
         * proportional to the weights of the lines not yet taken. */
        for (long d = 0; d < n_lines; d++) {
            double total = 0.0;
            for (size_t k = 0; k < ny; k++) total += w[k];
            double u = mrb_rng_uniform(&rng) * total;
            size_t pick = ny;
            double acc_w = 0.0;
            for (size_t k = 0; k < ny; k++) {
                if (w[k] <= 0.0) continue;
                acc_w += w[k];
                pick = k;
                if (u < acc_w) break;
            }
            MRB_ASSERT(pick < ny);
            lines[pick] = 1;
            w[pick] = 0.0;
        }
        fill_frame(*mask, t, lines);
    }
    free(pdf);
    free(w);
    free(lines);
    return MRB_OK;
}

/* fastMRI: num_low_frequencies = round(N * centre_fraction) (Python's round,
 * ties to even), placed at pad = (N - num_low + 1) // 2. */
static size_t fastmri_centre(const mrb_params *p, size_t ny, size_t *pad)
{
    double frac = mrb_params_num(p, "centre_fraction");
    size_t num_low = (size_t)nearbyint((double)ny * frac);
    if (num_low > ny) num_low = ny;
    *pad = (ny - num_low + 1) / 2;
    return num_low;
}

static mrb_status fastmri_random_make(const mrb_params *p, uint64_t seed, size_t nx, size_t ny, size_t nt,
                                      mrb_array **mask)
{
    double acc = mrb_params_num(p, "acceleration");
    size_t pad;
    size_t num_low = fastmri_centre(p, ny, &pad);
    /* fastMRI's RandomMaskFunc would keep the centre alone: a lower acceleration than asked */
    if ((double)num_low > (double)ny / acc)
        return mrb_error(MRB_ERR_INVALID,
                         "sampler fastmri-random: centre of %zu lines exceeds N/R = %g of %zu lines at acceleration "
                         "%g (a smaller centre_fraction or a lower acceleration)",
                         num_low, (double)ny / acc, ny, acc);
    MRB_TRY(create_mask("fastmri-random", nx, ny, nt, mask));
    unsigned char *lines = malloc(ny);
    if (!lines) {
        mrb_array_free(*mask);
        *mask = NULL;
        return mrb_error(MRB_ERR_NOMEM, "sampler fastmri-random: out of memory");
    }
    /* RandomMaskFunc.calculate_acceleration_mask */
    double prob = num_low < ny ? ((double)ny / acc - (double)num_low) / (double)(ny - num_low) : 0.0;
    mrb_rng rng;
    mrb_rng_seed(&rng, mrb_seed_derive(seed, "fastmri-random", 0));
    for (size_t t = 0; t < nt; t++) {
        for (size_t k = 0; k < ny; k++) lines[k] = mrb_rng_uniform(&rng) < prob;
        for (size_t k = pad; k < pad + num_low; k++) lines[k] = 1;
        fill_frame(*mask, t, lines);
    }
    free(lines);
    return MRB_OK;
}

static mrb_status fastmri_equispaced_make(const mrb_params *p, uint64_t seed, size_t nx, size_t ny, size_t nt,
                                          mrb_array **mask)
{
    double acc = mrb_params_num(p, "acceleration");
    int adjust = mrb_params_bool(p, "adjust_for_centre");
    size_t pad;
    size_t num_low = fastmri_centre(p, ny, &pad);
    double step = acc;
    if (adjust) {
        /* EquispacedMaskFractionFunc: spacing such that the equispaced lines
         * plus the centre come to about N / R in total. */
        double denom = (double)num_low * acc - (double)ny;
        if (denom >= 0.0)
            return mrb_error(MRB_ERR_INVALID,
                             "sampler fastmri-equispaced: centre of %zu lines already holds N/R = %g of %zu lines",
                             num_low, (double)ny / acc, ny);
        step = acc * ((double)num_low - (double)ny) / denom;
    }
    MRB_TRY(create_mask("fastmri-equispaced", nx, ny, nt, mask));
    unsigned char *lines = malloc(ny);
    if (!lines) {
        mrb_array_free(*mask);
        *mask = NULL;
        return mrb_error(MRB_ERR_NOMEM, "sampler fastmri-equispaced: out of memory");
    }
    mrb_rng rng;
    mrb_rng_seed(&rng, mrb_seed_derive(seed, "fastmri-equispaced", 0));
    uint64_t offsets = (uint64_t)nearbyint(step);
    if (offsets < 1) offsets = 1;
    for (size_t t = 0; t < nt; t++) {
        memset(lines, 0, ny);
        double offset = (double)mrb_rng_below(&rng, offsets);
        /* plain: mask[offset::R]; adjusted: np.around(np.arange(offset, N - 1, step)) */
        double stop = adjust ? (double)ny - 1.0 : (double)ny;
        for (size_t k = 0;; k++) {
            double pos = offset + (double)k * step;
            if (pos >= stop) break;
            size_t idx = (size_t)nearbyint(pos);
            if (idx < ny) lines[idx] = 1;
        }
        for (size_t k = pad; k < pad + num_low; k++) lines[k] = 1;
        fill_frame(*mask, t, lines);
    }
    free(lines);
    return MRB_OK;
}

const mrb_sampler_desc mrb_sampler_cartesian_vd = {
    .name = "cartesian-vd",
    .description = "Deep-cascade cartesian_mask: Gaussian variable-density lines (sigma N/10, floor 1/(2R)), "
                   "int(N/R) lines incl. a fully sampled centre, new draw per frame",
    .params = CVD_PARAMS,
    .nparams = sizeof CVD_PARAMS / sizeof CVD_PARAMS[0],
    .make = cvd_make,
    .nominal_acceleration = nominal_acceleration,
};

const mrb_sampler_desc mrb_sampler_fastmri_random = {
    .name = "fastmri-random",
    .description = "fastMRI RandomMaskFunc: centre round(N*fraction) lines, others with probability "
                   "(N/R - centre)/(N - centre)",
    .params = FASTMRI_RANDOM_PARAMS,
    .nparams = sizeof FASTMRI_RANDOM_PARAMS / sizeof FASTMRI_RANDOM_PARAMS[0],
    .make = fastmri_random_make,
    .nominal_acceleration = nominal_acceleration,
};

const mrb_sampler_desc mrb_sampler_fastmri_equispaced = {
    .name = "fastmri-equispaced",
    .description = "fastMRI EquispacedMaskFunc: centre round(N*fraction) lines plus every R-th line from a "
                   "random offset (adjust_for_centre: EquispacedMaskFractionFunc)",
    .params = FASTMRI_EQUI_PARAMS,
    .nparams = sizeof FASTMRI_EQUI_PARAMS / sizeof FASTMRI_EQUI_PARAMS[0],
    .make = fastmri_equispaced_make,
    .nominal_acceleration = nominal_acceleration,
};
