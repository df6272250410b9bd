/* mrbench arrays: dense, 64-byte aligned, up to MRB_MAX_DIMS axes.
 *
 * Axis order: dims[0] varies fastest (as in NIfTI and BART .cfl). Image
 * conventions: dims[0] = x (readout), dims[1] = y (phase encoding),
 * dims[2] = z or t, dims[3] = coil for multi-coil data.
 * Complex data (MRB_C64) are interleaved float pairs (re, im), identical in
 * layout to C99 float complex and to fftwf_complex. */
#ifndef MRBENCH_ARRAY_H
#define MRBENCH_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRB_MAX_DIMS 8
#define MRB_ALIGNMENT 64

typedef enum mrb_dtype {
    MRB_F32 = 0,
    MRB_C64, /* complex float */
    MRB_F64,
    MRB_U8,
    MRB_I16,
    MRB_I32
} mrb_dtype;

typedef struct mrb_array {
    int ndim;
    size_t dims[MRB_MAX_DIMS];
    mrb_dtype dtype;
    void *data; /* owned by the array */
} mrb_array;

/* Zero-initialised array; NULL (and the error message set) on failure,
 * including a size that overflows size_t. */
mrb_array *mrb_array_create(mrb_dtype dtype, int ndim, const size_t *dims);
mrb_array *mrb_array_create2(mrb_dtype dtype, size_t d0, size_t d1);
mrb_array *mrb_array_create3(mrb_dtype dtype, size_t d0, size_t d1, size_t d2);
mrb_array *mrb_array_clone(const mrb_array *a);
void mrb_array_free(mrb_array *a); /* NULL is a no-op */

size_t mrb_array_count(const mrb_array *a);
size_t mrb_array_bytes(const mrb_array *a);
size_t mrb_dtype_size(mrb_dtype dtype);
const char *mrb_dtype_name(mrb_dtype dtype);
/* 1 when both arrays have the same ndim and dims (dtype not compared). */
int mrb_array_same_shape(const mrb_array *a, const mrb_array *b);
/* Shape as "256x256x20" into buf. */
const char *mrb_array_shape_str(const mrb_array *a, char *buf, size_t len);

/* |z| of a complex array (or a copy of a real one) as MRB_F32. */
mrb_array *mrb_array_magnitude(const mrb_array *a);
/* MRB_OK when every value is finite, else MRB_ERR_INVALID naming `what`. */
mrb_status mrb_array_check_finite(const mrb_array *a, const char *what);

/* 64-byte aligned allocation (zeroed); free with mrb_free. */
void *mrb_malloc(size_t bytes);
void mrb_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
