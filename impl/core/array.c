#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/array.h"

void *mrb_malloc(size_t bytes)
{
    size_t rounded = (bytes + MRB_ALIGNMENT - 1) / MRB_ALIGNMENT * MRB_ALIGNMENT;
    if (rounded < bytes) return NULL;
    if (rounded == 0) rounded = MRB_ALIGNMENT;
    void *p = aligned_alloc(MRB_ALIGNMENT, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

void mrb_free(void *p)
{
    free(p);
}

size_t mrb_dtype_size(mrb_dtype dtype)
{
    switch (dtype) {
    case MRB_F32: return 4;
    case MRB_C64: return 8;
    case MRB_F64: return 8;
    case MRB_U8: return 1;
    case MRB_I16: return 2;
    case MRB_I32: return 4;
    }
    return 0;
}

const char *mrb_dtype_name(mrb_dtype dtype)
{
    switch (dtype) {
    case MRB_F32: return "float32";
    case MRB_C64: return "complex64";
    case MRB_F64: return "float64";
    case MRB_U8: return "uint8";
    case MRB_I16: return "int16";
    case MRB_I32: return "int32";
    }
    return "unknown";
}

mrb_array *mrb_array_create(mrb_dtype dtype, int ndim, const size_t *dims)
{
    if (ndim < 1 || ndim > MRB_MAX_DIMS) {
        mrb_error(MRB_ERR_INVALID, "array: %d dimensions (1 to %d allowed)", ndim, MRB_MAX_DIMS);
        return NULL;
    }
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == 0) {
            mrb_error(MRB_ERR_INVALID, "array: dimension %d is zero", i);
            return NULL;
        }
        if (count > SIZE_MAX / dims[i]) {
            mrb_error(MRB_ERR_INVALID, "array: size overflows");
            return NULL;
        }
        count *= dims[i];
    }
    size_t esize = mrb_dtype_size(dtype);
    if (esize == 0 || count > SIZE_MAX / esize) {
        mrb_error(MRB_ERR_INVALID, "array: size overflows");
        return NULL;
    }
    mrb_array *a = calloc(1, sizeof *a);
    if (!a) {
        mrb_error(MRB_ERR_NOMEM, "array: out of memory");
        return NULL;
    }
    a->ndim = ndim;
    a->dtype = dtype;
    for (int i = 0; i < ndim; i++) a->dims[i] = dims[i];
    for (int i = ndim; i < MRB_MAX_DIMS; i++) a->dims[i] = 1;
    a->data = mrb_malloc(count * esize);
    if (!a->data) {
        free(a);
        mrb_error(MRB_ERR_NOMEM, "array: out of memory for %zu elements of %s", count, mrb_dtype_name(dtype));
        return NULL;
    }
    return a;
}

mrb_array *mrb_array_create2(mrb_dtype dtype, size_t d0, size_t d1)
{
    size_t dims[2] = {d0, d1};
    return mrb_array_create(dtype, 2, dims);
}

mrb_array *mrb_array_create3(mrb_dtype dtype, size_t d0, size_t d1, size_t d2)
{
    size_t dims[3] = {d0, d1, d2};
    return mrb_array_create(dtype, 3, dims);
}

mrb_array *mrb_array_clone(const mrb_array *a)
{
    mrb_array *c = mrb_array_create(a->dtype, a->ndim, a->dims);
    if (c) memcpy(c->data, a->data, mrb_array_bytes(a));
    return c;
}

void mrb_array_free(mrb_array *a)
{
    if (!a) return;
    mrb_free(a->data);
    free(a);
}

size_t mrb_array_count(const mrb_array *a)
{
    size_t n = 1;
    for (int i = 0; i < a->ndim; i++) n *= a->dims[i];
    return n;
}

size_t mrb_array_bytes(const mrb_array *a)
{
    return mrb_array_count(a) * mrb_dtype_size(a->dtype);
}

int mrb_array_same_shape(const mrb_array *a, const mrb_array *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

const char *mrb_array_shape_str(const mrb_array *a, char *buf, size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (int i = 0; i < a->ndim && pos < len; i++) {
        int n = snprintf(buf + pos, len - pos, i ? "x%zu" : "%zu", a->dims[i]);
        if (n < 0) break;
        pos += (size_t)n;
    }
    return buf;
}

mrb_array *mrb_array_magnitude(const mrb_array *a)
{
    mrb_array *m = mrb_array_create(MRB_F32, a->ndim, a->dims);
    if (!m) return NULL;
    size_t n = mrb_array_count(a);
    float *out = m->data;
    switch (a->dtype) {
    case MRB_C64: {
        const float complex *in = a->data;
        for (size_t i = 0; i < n; i++) out[i] = cabsf(in[i]);
        break;
    }
    case MRB_F32: {
        const float *in = a->data;
        for (size_t i = 0; i < n; i++) out[i] = fabsf(in[i]);
        break;
    }
    case MRB_F64: {
        const double *in = a->data;
        for (size_t i = 0; i < n; i++) out[i] = (float)fabs(in[i]);
        break;
    }
    case MRB_U8: {
        const uint8_t *in = a->data;
        for (size_t i = 0; i < n; i++) out[i] = in[i];
        break;
    }
    case MRB_I16: {
        const int16_t *in = a->data;
        for (size_t i = 0; i < n; i++) out[i] = (float)abs(in[i]);
        break;
    }
    case MRB_I32: {
        const int32_t *in = a->data;
        for (size_t i = 0; i < n; i++) out[i] = (float)fabs((double)in[i]);
        break;
    }
    }
    return m;
}

mrb_status mrb_array_check_finite(const mrb_array *a, const char *what)
{
    size_t n = mrb_array_count(a);
    const float *f = a->data;
    const double *d = a->data;
    size_t values = n;
    switch (a->dtype) {
    case MRB_C64: values = 2 * n; /* fall through */
    case MRB_F32:
        for (size_t i = 0; i < values; i++)
            if (!isfinite(f[i]))
                return mrb_error(MRB_ERR_INVALID, "%s: non-finite value (%g) at element %zu", what, (double)f[i],
                                 a->dtype == MRB_C64 ? i / 2 : i);
        break;
    case MRB_F64:
        for (size_t i = 0; i < n; i++)
            if (!isfinite(d[i]))
                return mrb_error(MRB_ERR_INVALID, "%s: non-finite value (%g) at element %zu", what, d[i], i);
        break;
    default: break;
    }
    return MRB_OK;
}
