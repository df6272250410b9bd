/* Methods "cascade-2d" and "cascade-2dt": Deep Cascade of CNNs inference from
 * a safetensors weights file (Schlemper et al., IEEE TMI 2017). Single coil,
 * as in the paper. 2D reconstructs each frame of [nx, ny, nt] on its own;
 * 2D+t the whole series with data sharing. */
#include <stdlib.h>
#include <string.h>

#include "mrbench/nn.h"
#include "mrbench/registry.h"
#include "recon/cascade/cascade_internal.h"

const mrb_param_spec mrb_cascade_method_params[MRB_CASCADE_METHOD_NPARAMS] = {
    {"weights", MRB_PARAM_STRING, 0, 0, 0, "", NULL,
     "safetensors weights file written by mrb_cascade_train / mrbench train (relative to the current directory)"},
};

mrb_status mrb_cascade_method_open(int temporal, const char *method, const mrb_params *p, const mrb_recon_input *in,
                                   mrb_cascade **out)
{
    *out = NULL;
    const char *path = mrb_params_str(p, "weights");
    if (!path || !*path)
        return mrb_error(MRB_ERR_INVALID, "method %s: parameter 'weights' (a safetensors file) is required", method);
    const mrb_array *ks = in->kspace;
    char buf[64];
    if (ks->dtype != MRB_C64 || ks->ndim < 2 || (ks->ndim >= 4 && ks->dims[3] != 1) || in->sens)
        return mrb_error(MRB_ERR_UNSUPPORTED, "method %s: single-coil k-space [nx, ny, nt, 1] only (got %s%s)", method,
                         mrb_array_shape_str(ks, buf, sizeof buf), in->sens ? " with coil maps" : "");
    const mrb_array *mask = in->mask;
    size_t vol = ks->dims[0] * ks->dims[1] * (ks->ndim >= 3 ? ks->dims[2] : 1);
    char mbuf[64];
    if (mask->dtype != MRB_F32 || mrb_array_count(mask) != vol || mask->dims[0] != ks->dims[0] ||
        mask->dims[1] != ks->dims[1])
        return mrb_error(MRB_ERR_INVALID, "method %s: mask %s does not match k-space %s", method,
                         mrb_array_shape_str(mask, mbuf, sizeof mbuf), mrb_array_shape_str(ks, buf, sizeof buf));
    mrb_nn_set_threads(in->nthreads > 0 ? in->nthreads : 1);
    mrb_cascade *c;
    mrb_status st = mrb_cascade_open(path, &c);
    if (st != MRB_OK) return mrb_error_context(st, "method %s", method);
    if (mrb_cascade_get_arch(c)->temporal != temporal) {
        mrb_cascade_free(c);
        return mrb_error(MRB_ERR_INVALID, "method %s: %s holds a %s network (use %s)", method, path,
                         temporal ? "2D" : "2D+t", temporal ? "cascade-2d" : "cascade-2dt");
    }
    *out = c;
    return MRB_OK;
}

static mrb_status cascade_setup_common(int temporal, const char *method, const mrb_params *p, const mrb_recon_input *in,
                                       void **state)
{
    mrb_cascade *c;
    MRB_TRY(mrb_cascade_method_open(temporal, method, p, in, &c));
    *state = c;
    return MRB_OK;
}

static mrb_status cascade_2d_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    return cascade_setup_common(0, "cascade-2d", p, in, state);
}

static mrb_status cascade_2dt_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    return cascade_setup_common(1, "cascade-2dt", p, in, state);
}

static mrb_status cascade_run(void *state, const mrb_recon_input *in, mrb_array *out)
{
    mrb_nn_set_threads(in->nthreads > 0 ? in->nthreads : 1);
    return mrb_cascade_reconstruct(state, in->kspace, in->mask, out);
}

static void cascade_teardown(void *state)
{
    mrb_cascade_free(state);
}

const mrb_method_desc mrb_method_cascade_2d = {
    .name = "cascade-2d",
    .description = "Deep Cascade of CNNs, 2D (D5-C5: 3x3 convs, residual, noiseless data consistency; "
                   "Schlemper et al. 2017); weights from a safetensors file",
    .params = mrb_cascade_method_params,
    .nparams = MRB_CASCADE_METHOD_NPARAMS,
    .setup = cascade_2d_setup,
    .run = cascade_run,
    .teardown = cascade_teardown,
};

const mrb_method_desc mrb_method_cascade_2dt = {
    .name = "cascade-2dt",
    .description = "Deep Cascade of CNNs, 2D+t (D5-C10(S): 3x3x3 convs, data sharing, data consistency; "
                   "Schlemper et al. 2017); weights from a safetensors file",
    .params = mrb_cascade_method_params,
    .nparams = MRB_CASCADE_METHOD_NPARAMS,
    .setup = cascade_2dt_setup,
    .run = cascade_run,
    .teardown = cascade_teardown,
};
