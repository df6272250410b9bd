/* Optimisers: Adam (Kingma & Ba, ICLR 2015) and SGD with momentum, both with
 * L2 weight decay added to the gradient (the loss + c ||w||^2 of the Deep
 * Cascade's released code). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/nn.h"

typedef enum { OPT_ADAM, OPT_SGD } opt_kind;

struct mrb_optim {
    opt_kind kind;
    size_t n;
    mrb_tensor **params;
    int *decay;
    float **m, **v; /* moments (v unused for SGD) */
    mrb_adam_cfg adam;
    mrb_sgd_cfg sgd;
    uint64_t t;
};

mrb_adam_cfg mrb_adam_defaults(void)
{
    /* Kingma & Ba 2015, Algorithm 1 defaults. */
    mrb_adam_cfg c = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.0};
    return c;
}

static mrb_status optim_alloc(mrb_tensor *const *params, const int *decay_mask, size_t n, int nmom, mrb_optim **out)
{
    mrb_optim *o = calloc(1, sizeof *o);
    if (!o) return mrb_error(MRB_ERR_NOMEM, "optimiser: out of memory");
    o->n = n;
    o->params = calloc(n ? n : 1, sizeof *o->params);
    o->decay = calloc(n ? n : 1, sizeof *o->decay);
    o->m = calloc(n ? n : 1, sizeof *o->m);
    o->v = calloc(n ? n : 1, sizeof *o->v);
    if (!o->params || !o->decay || !o->m || !o->v) {
        mrb_optim_free(o);
        return mrb_error(MRB_ERR_NOMEM, "optimiser: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (!params[i]->grad) {
            mrb_optim_free(o);
            return mrb_error(MRB_ERR_INVALID, "optimiser: parameter %zu has no gradient", i);
        }
        o->params[i] = params[i];
        o->decay[i] = decay_mask ? decay_mask[i] : 1;
        size_t cnt = mrb_tensor_count(params[i]);
        o->m[i] = mrb_malloc(cnt * sizeof(float));
        if (nmom > 1) o->v[i] = mrb_malloc(cnt * sizeof(float));
        if (!o->m[i] || (nmom > 1 && !o->v[i])) {
            mrb_optim_free(o);
            return mrb_error(MRB_ERR_NOMEM, "optimiser: out of memory");
        }
    }
    *out = o;
    return MRB_OK;
}

mrb_status mrb_optim_adam_create(mrb_tensor *const *params, const int *decay_mask, size_t n, const mrb_adam_cfg *cfg,
                                 mrb_optim **out)
{
    *out = NULL;
    MRB_TRY(optim_alloc(params, decay_mask, n, 2, out));
    (*out)->kind = OPT_ADAM;
    (*out)->adam = *cfg;
    return MRB_OK;
}

mrb_status mrb_optim_sgd_create(mrb_tensor *const *params, const int *decay_mask, size_t n, const mrb_sgd_cfg *cfg,
                                mrb_optim **out)
{
    *out = NULL;
    MRB_TRY(optim_alloc(params, decay_mask, n, 1, out));
    (*out)->kind = OPT_SGD;
    (*out)->sgd = *cfg;
    return MRB_OK;
}

void mrb_optim_step(mrb_optim *o)
{
    o->t++;
    for (size_t i = 0; i < o->n; i++) {
        mrb_tensor *p = o->params[i];
        long cnt = (long)mrb_tensor_count(p);
        float *w = p->data, *g = p->grad, *m = o->m[i], *v = o->v[i];
        if (o->kind == OPT_ADAM) {
            const mrb_adam_cfg *c = &o->adam;
            double wd = o->decay[i] ? 2.0 * c->weight_decay : 0.0;
            double bc1 = 1.0 - pow(c->beta1, (double)o->t), bc2 = 1.0 - pow(c->beta2, (double)o->t);
            float b1 = (float)c->beta1, b2 = (float)c->beta2;
            float step = (float)(c->lr / bc1), eps = (float)c->eps;
            float rbc2 = (float)(1.0 / sqrt(bc2)), fwd = (float)wd;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
            for (long j = 0; j < cnt; j++) {
                float gj = g[j] + fwd * w[j];
                m[j] = b1 * m[j] + (1.0f - b1) * gj;
                v[j] = b2 * v[j] + (1.0f - b2) * gj * gj;
                w[j] -= step * m[j] / (sqrtf(v[j]) * rbc2 + eps);
            }
        } else {
            const mrb_sgd_cfg *c = &o->sgd;
            float fwd = o->decay[i] ? (float)(2.0 * c->weight_decay) : 0.0f;
            float mu = (float)c->momentum, lr = (float)c->lr;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
            for (long j = 0; j < cnt; j++) {
                float gj = g[j] + fwd * w[j];
                m[j] = mu * m[j] + gj;
                w[j] -= lr * (mu != 0.0f ? m[j] : gj);
            }
        }
    }
}

void mrb_optim_free(mrb_optim *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) {
        if (o->m) mrb_free(o->m[i]);
        if (o->v) mrb_free(o->v[i]);
    }
    free(o->params);
    free(o->decay);
    free(o->m);
    free(o->v);
    free(o);
}

uint64_t mrb_optim_steps(const mrb_optim *o)
{
    return o->t;
}

void mrb_optim_set_steps(mrb_optim *o, uint64_t steps)
{
    o->t = steps;
}

size_t mrb_optim_nstate(const mrb_optim *o)
{
    return o->kind == OPT_ADAM ? 2 * o->n : o->n;
}

float *mrb_optim_state(mrb_optim *o, size_t index, size_t *count)
{
    if (index >= mrb_optim_nstate(o)) return NULL;
    size_t i = index % o->n;
    *count = mrb_tensor_count(o->params[i]);
    return index < o->n ? o->m[i] : o->v[i];
}
