/* The GPU twins of registered methods: each has the CPU method's name,
 * parameters and output, and tests/gpu/ checks it against the CPU method.
 * mrb_method_find_gpu (impl/core/backend.c) searches this table. */
#include "mrb_cuda.h"

extern const mrb_method_desc mrb_method_cascade_2d_cuda;
extern const mrb_method_desc mrb_method_cascade_2dt_cuda;
extern const mrb_method_desc mrb_method_cs_wavelet_cuda;

const mrb_method_desc *const mrb_cuda_method_table[] = {
    &mrb_method_cascade_2d_cuda,
    &mrb_method_cascade_2dt_cuda,
    &mrb_method_cs_wavelet_cuda,
    NULL,
};
