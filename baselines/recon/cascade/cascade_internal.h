/* Helpers shared by the Deep Cascade files (not public). */
#ifndef MRB_CASCADE_INTERNAL_H
#define MRB_CASCADE_INTERNAL_H

#include <stddef.h>

#include "mrbench/fft.h"
#include "mrbench/nn.h"

/* image = F^H kspace_masked for `count` frames of [nx, ny] (interleaved complex). */
mrb_status mrb_cascade_zero_filled(const float *kspace_masked, size_t nx, size_t ny, size_t count,
                                   float *image);

#endif
