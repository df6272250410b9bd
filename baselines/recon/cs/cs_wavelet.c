/* cs-wavelet: l1-wavelet compressed sensing (Lustig, Donoho, Pauly, MRM 2007),
 * solved as BART `pics -R W:3:0:lambda` solves it.
 *
 *   min_x 0.5 ||M F S x - y||_2^2 + lambda ||W x||_1
 *
 * The 0.5 on the data term is BART's normalisation, so that lambda means
 * the same here and in `bart pics`. Solver: FISTA (Beck and Teboulle 2009)
 * from x = 0 with step 0.95 / L, where L is the Lipschitz constant of the
 * data gradient (1 for single coil: M F is a projection; max_pixel
 * sum_c |S_c|^2 for coil maps, 1 for normalised maps), as BART's FISTA takes
 * 0.95 over the largest eigenvalue of the normal operator. A given `step`
 * may not exceed 1/L, FISTA's convergence bound (Beck and Teboulle 2009):
 * the parameter stops at 1 (L = 1 for a 0/1 mask), and a run whose maps or
 * mask weights make L larger refuses a step above 1/L; divergence is
 * detected in every iteration and fails the run (cs.h). The prox is exact
 * complex soft thresholding of the coefficients of the orthogonal db2
 * wavelet (every band, the coarse band too, as BART's wavelet3_thresh); with
 * shifts on, the wavelet grid moves by a random circular shift in
 * [0, 2^levels) per axis each iteration (BART's random shifts, seeded here
 * from the input's seed).
 *
 * k-space is first divided by BART's automatic scale (mrb_cs_bart_scaling)
 * and the image multiplied back afterwards (`pics -S`), so lambdas carry
 * over between data sets and to BART. Multi-coil data use the item's coil
 * maps, or maps estimated from the fully sampled centre (cs.h). */
#include <stdlib.h>

#include "mrbench/rng.h"
#include "recon/cs/cs.h"

/* BART pics defaults: lambda given with -R W (0.005 in the spec's
 * measurements), 30 iterations (pics -i default), FISTA step 0.95 / max
 * eigenvalue (BART src/pics.c). */
#define CSW_DEFAULT_LAMBDA 0.005
#define CSW_DEFAULT_ITERATIONS 30
/* BART decomposes the wavelet down to bands of 16 (pics: minsize 16). */
#define CSW_MINSIZE 16

static const mrb_param_spec csw_params[] = {
    {"lambda", MRB_PARAM_NUMBER, CSW_DEFAULT_LAMBDA, 0, 1e6, NULL, NULL,
     "l1-wavelet weight (on data scaled as BART pics scales it)"},
    {"iterations", MRB_PARAM_INT, CSW_DEFAULT_ITERATIONS, 1, 100000, NULL, NULL,
     "FISTA iterations (BART pics -i, default 30)"},
    {"tolerance", MRB_PARAM_NUMBER, 0, 0, 1, NULL, NULL,
     "stop when ||x_k - x_{k-1}|| <= tolerance ||x_k|| (0: run every iteration)"},
    {"shifts", MRB_PARAM_BOOL, 1, 0, 1, NULL, NULL,
     "random circular shifts of the wavelet grid each iteration (BART default; pics -n turns off)"},
    {"step", MRB_PARAM_NUMBER, 0, 0, MRB_CS_STEP_MAX, NULL, NULL,
     "FISTA step, at most 1/L (L: Lipschitz constant of the data term, 1 for a 0/1 mask with one coil or "
     "normalised maps; FISTA diverges above 1/L); 0: 0.95 / L (BART)"},
    {"scaling", MRB_PARAM_BOOL, 1, 0, 1, NULL, NULL,
     "divide k-space by BART's automatic scale first (output rescaled back, as pics -S)"},
};

typedef struct csw_state {
    mrb_cs_problem pb;
    mrb_linop *wav;
    mrb_cs_fista_opts opts;
    int scaling;
    mrb_cs_fista_work work;
} csw_state;

static void csw_teardown(void *p)
{
    csw_state *s = p;
    if (!s) return;
    mrb_cs_problem_clear(&s->pb);
    mrb_linop_free(s->wav);
    mrb_cs_fista_work_free(&s->work);
    free(s);
}

static mrb_status csw_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    *state = NULL;
    csw_state *s = calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "cs-wavelet: out of memory");
    mrb_status st = mrb_cs_problem_setup(&s->pb, in, "cs-wavelet");
    if (st != MRB_OK) {
        free(s);
        return st;
    }
    mrb_cs_fista_opts_from_params(p, &s->opts);
    s->opts.shifts = mrb_params_bool(p, "shifts");
    s->scaling = mrb_params_bool(p, "scaling");
    const mrb_cs_shape *sh = &s->pb.shape;
    size_t idims[3] = {sh->nx, sh->ny, sh->nt};
    s->wav = mrb_linop_wavelet_create(3, idims, CSW_MINSIZE, s->pb.nthreads);
    if (!s->wav || mrb_cs_fista_work_alloc(&s->work, s->pb.nimg) != MRB_OK) {
        csw_teardown(s);
        return mrb_error_context(MRB_ERR_NOMEM, "cs-wavelet");
    }
    *state = s;
    return MRB_OK;
}

static mrb_status csw_run(void *p, const mrb_recon_input *in, mrb_array *out)
{
    csw_state *s = p;
    MRB_TRY(mrb_cs_check_output(out, &s->pb.shape, "cs-wavelet"));
    MRB_TRY(mrb_cs_problem_load(&s->pb, in, s->scaling));
    s->opts.seed = mrb_seed_derive(in->seed, "cs-wavelet", 0);
    mrb_status st = mrb_cs_fista(&s->pb, s->wav, &s->opts, &s->work);
    if (st != MRB_OK) return mrb_error_context(st, "cs-wavelet");
    mrb_cs_write_output(&s->pb, s->work.x, out);
    return MRB_OK;
}

const mrb_method_desc mrb_method_cs_wavelet = {
    .name = "cs-wavelet",
    .description = "l1-wavelet compressed sensing (Lustig 2007) by FISTA with random wavelet shifts, "
                   "as BART pics -R W",
    .params = csw_params,
    .nparams = sizeof csw_params / sizeof csw_params[0],
    .setup = csw_setup,
    .run = csw_run,
    .teardown = csw_teardown,
};
