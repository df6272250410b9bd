/* "radial": straight spokes through the k-space centre, rasterised onto the
 * Cartesian grid by nearest neighbour; the number of spokes per frame is the
 * one whose achieved acceleration is closest to the request. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

static const double PI = 3.14159265358979323846;
/* Golden angle for radial MRI, pi (sqrt 5 - 1) / 2 = 111.246 degrees
 * (Winkelmann et al., IEEE TMI 2007;26(1):68-76). */
static const double GOLDEN_ANGLE = 1.9416135460476878;
/* Points along a spoke, in pixels: half a pixel, so no grid cell a spoke
 * crosses is skipped by more than rounding. */
static const double SPOKE_STEP = 0.5;

static const mrb_param_spec RADIAL_PARAMS[] = {
    {"acceleration", MRB_PARAM_NUMBER, 4, 1, 1000, NULL, NULL,
     "requested acceleration R; the spoke count per frame giving the closest achieved R is used"},
    {"golden_angle", MRB_PARAM_BOOL, 0, 0, 1, NULL, NULL,
     "0: spokes equally spaced over 180 degrees, rotated by 1/nt of the spacing per frame; "
     "1: successive spokes (across frames) 111.246 degrees apart"},
};

static void draw_spoke(float *frame, size_t nx, size_t ny, double theta)
{
    double cx = (double)(nx / 2), cy = (double)(ny / 2);
    double len = 0.5 * sqrt((double)(nx * nx + ny * ny)) + 1.0;
    double ux = cos(theta), uy = sin(theta);
    long nsteps = (long)ceil(len / SPOKE_STEP);
    for (long s = -nsteps; s <= nsteps; s++) {
        double d = (double)s * SPOKE_STEP;
        double x = floor(cx + d * ux + 0.5), y = floor(cy + d * uy + 0.5);
        if (x < 0.0 || y < 0.0 || x >= (double)nx || y >= (double)ny) continue;
        frame[(size_t)y * nx + (size_t)x] = 1.0f;
    }
}

static size_t draw_mask(float *m, size_t nx, size_t ny, size_t nt, size_t spokes, int golden, double theta0)
{
    size_t npix = nx * ny;
    memset(m, 0, npix * nt * sizeof *m);
    for (size_t t = 0; t < nt; t++)
        for (size_t s = 0; s < spokes; s++) {
            double theta = golden ? theta0 + (double)(t * spokes + s) * GOLDEN_ANGLE
                                  : theta0 + PI * ((double)s + (double)t / (double)nt) / (double)spokes;
            draw_spoke(m + t * npix, nx, ny, theta);
        }
    size_t sampled = 0;
    for (size_t k = 0; k < npix * nt; k++) sampled += m[k] != 0.0f;
    return sampled;
}

static double radial_nominal(const mrb_params *p)
{
    return mrb_params_num(p, "acceleration");
}

static mrb_status radial_make(const mrb_params *p, uint64_t seed, size_t nx, size_t ny, size_t nt, mrb_array **mask)
{
    double acc = mrb_params_num(p, "acceleration");
    int golden = mrb_params_bool(p, "golden_angle");
    MRB_TRY(mrb_data_check_mask_shape("radial", nx, ny, nt, mask));
    *mask = mrb_array_create3(MRB_F32, nx, ny, nt);
    if (!*mask) return mrb_error_context(MRB_ERR_NOMEM, "sampler radial");
    mrb_rng rng;
    mrb_rng_seed(&rng, mrb_seed_derive(seed, "radial", 0));
    double theta0 = PI * mrb_rng_uniform(&rng);
    float *m = (*mask)->data;
    double total = (double)nx * (double)ny * (double)nt;
    /* Achieved R falls as spokes are added; bisect on the spoke count, then
     * keep whichever neighbour is closest to the request. */
    size_t lo = 1, hi = 4 * (nx > ny ? nx : ny);
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        double achieved = total / (double)draw_mask(m, nx, ny, nt, mid, golden, theta0);
        if (achieved > acc)
            lo = mid;
        else
            hi = mid;
    }
    double err_lo = fabs(total / (double)draw_mask(m, nx, ny, nt, lo, golden, theta0) - acc);
    double err_hi = fabs(total / (double)draw_mask(m, nx, ny, nt, hi, golden, theta0) - acc);
    if (err_lo < err_hi) draw_mask(m, nx, ny, nt, lo, golden, theta0);
    return MRB_OK;
}

const mrb_sampler_desc mrb_sampler_radial = {
    .name = "radial",
    .description = "Radial spokes through the centre on the Cartesian grid (nearest neighbour), equally spaced "
                   "or golden angle; spoke count chosen for the requested R",
    .params = RADIAL_PARAMS,
    .nparams = sizeof RADIAL_PARAMS / sizeof RADIAL_PARAMS[0],
    .make = radial_make,
    .nominal_acceleration = radial_nominal,
};
