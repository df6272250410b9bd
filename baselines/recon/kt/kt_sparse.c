/* kt-sparse: k-t SPARSE-SENSE (Otazo, Kim, Axel, Sodickson, MRM 2010) for
 * 2D+t data [nx, ny, nt(, nc)]:
 *
 *   min_x 0.5 ||E x - y||_2^2 + lambda ||F_t x||_1
 *
 * E = M F S the multi-coil (or single-coil) sampling operator, F_t the
 * centred orthonormal temporal FFT (x-f sparsity). Solver: FISTA with the
 * exact prox F_t^H soft(F_t v, step lambda) (F_t is unitary), step 0.95 / L
 * as cs-wavelet, a given step at most 1/L (cs.h). Otazo's released demos use iterative soft thresholding
 * with a temporal FFT or nonlinear CG (the paper's solver is not confirmed,
 * spec recon.md); FISTA solves the same problem. lambda 0.005 (the cine
 * demo's value) applies to k-space scaled by BART's automatic rule (cs.h),
 * and the result is scaled back. */
#include <stdlib.h>

#include "recon/cs/cs.h"

#define KTS_DEFAULT_LAMBDA 0.005
#define KTS_DEFAULT_ITERATIONS 50

static const mrb_param_spec kts_params[] = {
    {"lambda", MRB_PARAM_NUMBER, KTS_DEFAULT_LAMBDA, 0, 1e6, NULL, NULL,
     "l1 weight on the temporal Fourier transform (on scaled data)"},
    {"iterations", MRB_PARAM_INT, KTS_DEFAULT_ITERATIONS, 1, 100000, NULL, NULL, "FISTA iterations"},
    {"tolerance", MRB_PARAM_NUMBER, 0, 0, 1, NULL, NULL,
     "stop when ||x_k - x_{k-1}|| <= tolerance ||x_k|| (0: run every iteration)"},
    {"step", MRB_PARAM_NUMBER, 0, 0, MRB_CS_STEP_MAX, NULL, NULL,
     "FISTA step, at most 1/L (L: Lipschitz constant of the data term, 1 for a 0/1 mask with one coil or "
     "normalised maps; FISTA diverges above 1/L); 0: 0.95 / L"},
    {"scaling", MRB_PARAM_BOOL, 1, 0, 1, NULL, NULL,
     "divide k-space by BART's automatic scale first (output rescaled back)"},
};

typedef struct kts_state {
    mrb_cs_problem pb;
    mrb_linop *ft;
    mrb_cs_fista_opts opts;
    int scaling;
    mrb_cs_fista_work work;
} kts_state;

static void kts_teardown(void *p)
{
    kts_state *s = p;
    if (!s) return;
    mrb_cs_problem_clear(&s->pb);
    mrb_linop_free(s->ft);
    mrb_cs_fista_work_free(&s->work);
    free(s);
}

static mrb_status kts_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    *state = NULL;
    kts_state *s = calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "kt-sparse: out of memory");
    mrb_status st = mrb_cs_problem_setup(&s->pb, in, "kt-sparse");
    if (st != MRB_OK) {
        free(s);
        return st;
    }
    mrb_cs_fista_opts_from_params(p, &s->opts);
    s->scaling = mrb_params_bool(p, "scaling");
    const mrb_cs_shape *sh = &s->pb.shape;
    size_t idims[3] = {sh->nx, sh->ny, sh->nt};
    s->ft = mrb_linop_fftt_create(3, idims, s->pb.nthreads);
    if (!s->ft || mrb_cs_fista_work_alloc(&s->work, s->pb.nimg) != MRB_OK) {
        kts_teardown(s);
        return mrb_error_context(MRB_ERR_NOMEM, "kt-sparse");
    }
    *state = s;
    return MRB_OK;
}

static mrb_status kts_run(void *p, const mrb_recon_input *in, mrb_array *out)
{
    kts_state *s = p;
    MRB_TRY(mrb_cs_check_output(out, &s->pb.shape, "kt-sparse"));
    MRB_TRY(mrb_cs_problem_load(&s->pb, in, s->scaling));
    mrb_status st = mrb_cs_fista(&s->pb, s->ft, &s->opts, &s->work);
    if (st != MRB_OK) return mrb_error_context(st, "kt-sparse");
    mrb_cs_write_output(&s->pb, s->work.x, out);
    return MRB_OK;
}

const mrb_method_desc mrb_method_kt_sparse = {
    .name = "kt-sparse",
    .description = "k-t SPARSE-SENSE (Otazo 2010): l1 in x-f space by FISTA, 2D+t, single or multi-coil",
    .params = kts_params,
    .nparams = sizeof kts_params / sizeof kts_params[0],
    .setup = kts_setup,
    .run = kts_run,
    .teardown = kts_teardown,
};
