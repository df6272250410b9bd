/* Helpers shared by the Deep Cascade files (not public). */
#ifndef MRB_CASCADE_INTERNAL_H
#define MRB_CASCADE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mrbench/fft.h"
#include "mrbench/nn.h"
#include "mrbench/registry.h"

/* FNV-1a 64-bit (Fowler, Noll, Vo) of n bytes continuing from h; start from
 * MRB_FNV1A64_BASIS. Weights files and checkpoints carry it over their tensors. */
#define MRB_FNV1A64_BASIS 0xcbf29ce484222325ULL
uint64_t mrb_cascade_fnv1a(uint64_t h, const void *p, size_t n);

/* y = kspace where the mask is non-zero, 0 elsewhere (n complex values,
 * interleaved; n mask values): the measured data the DC layers take. */
void mrb_cascade_mask_kspace(const float *kspace, const float *mask, size_t n, float *y);

/* image = F^H kspace_masked for `count` frames of [nx, ny] (interleaved complex). */
mrb_status mrb_cascade_zero_filled(const float *kspace_masked, size_t nx, size_t ny, size_t count, float *image);

/* The methods cascade-2d / cascade-2dt and their GPU twins share the
 * parameter table and the set-up: checks the input (single coil) and opens
 * the weights file named by 'weights', which must hold a network of the
 * given kind (temporal: 2D+t); the mask must have the k-space's shape.
 * Threads for the CPU engine from the input. */
#define MRB_CASCADE_METHOD_NPARAMS 1
extern const mrb_param_spec mrb_cascade_method_params[MRB_CASCADE_METHOD_NPARAMS];
mrb_status mrb_cascade_method_open(int temporal, const char *method, const mrb_params *p, const mrb_recon_input *in,
                                   mrb_cascade **out);

#endif
