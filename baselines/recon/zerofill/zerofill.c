/* Zero-filled reconstruction: x = F^H (M y).
 * Multi-coil: SENSE combination sum_c conj(S_c) x_c / sum_c |S_c|^2 when coil
 * maps are given, root-sum-of-squares (a real image) when they are not. */
#include <complex.h>
#include <math.h>
#include <string.h>

#include "mrbench/fft.h"
#include "mrbench/registry.h"

static mrb_status zerofill_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    (void)p;
    (void)in;
    *state = NULL;
    return MRB_OK;
}

static mrb_status zerofill_run(void *state, const mrb_recon_input *in, mrb_array *out)
{
    (void)state;
    const mrb_array *ks = in->kspace;
    size_t nx = ks->dims[0], ny = ks->dims[1], nt = ks->dims[2], nc = ks->dims[3];
    size_t frame = nx * ny, vol = frame * nt;
    mrb_array *coil = mrb_array_clone(ks);
    if (!coil) return MRB_ERR_NOMEM;
    float complex *c = coil->data;
    const float *m = in->mask->data;
    for (size_t ic = 0; ic < nc; ic++)
        for (size_t i = 0; i < vol; i++) c[ic * vol + i] *= m[i];
    mrb_status st = mrb_fft_centered(MRB_FFT_INVERSE, 2, coil->ndim, coil->dims, coil->data, in->nthreads);
    if (st != MRB_OK) {
        mrb_array_free(coil);
        return st;
    }
    float complex *x = out->data;
    if (nc == 1) {
        memcpy(x, c, vol * sizeof *x);
    } else if (in->sens) {
        const float complex *s = in->sens->data;
        for (size_t t = 0; t < nt; t++)
            for (size_t i = 0; i < frame; i++) {
                float complex acc = 0;
                float norm = 0;
                for (size_t ic = 0; ic < nc; ic++) {
                    float complex sv = s[ic * frame + i];
                    acc += conjf(sv) * c[ic * vol + t * frame + i];
                    norm += crealf(sv) * crealf(sv) + cimagf(sv) * cimagf(sv);
                }
                x[t * frame + i] = norm > 0 ? acc / norm : 0;
            }
    } else {
        for (size_t i = 0; i < vol; i++) {
            float acc = 0;
            for (size_t ic = 0; ic < nc; ic++) {
                float complex v = c[ic * vol + i];
                acc += crealf(v) * crealf(v) + cimagf(v) * cimagf(v);
            }
            x[i] = sqrtf(acc);
        }
    }
    mrb_array_free(coil);
    return MRB_OK;
}

static void zerofill_teardown(void *state)
{
    (void)state;
}

const mrb_method_desc mrb_method_zerofill = {
    .name = "zero-filling",
    .description = "Zero-filled inverse FFT of the undersampled k-space (SENSE or RSS coil combination)",
    .params = NULL,
    .nparams = 0,
    .setup = zerofill_setup,
    .run = zerofill_run,
    .teardown = zerofill_teardown,
};
