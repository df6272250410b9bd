/* NIfTI-1 and NIfTI-2 (.nii, .nii.gz) reading and writing.
 *
 * Header layouts: nifti1.h (NIfTI DFWG, 2004) and nifti2.h (2011); both are
 * reproduced field by field by the offsets below. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "mrbench/io.h"

/* sizeof_hdr of the two versions (nifti1.h, nifti2.h). */
#define NIFTI1_HDR_SIZE 348
#define NIFTI2_HDR_SIZE 540
/* Header + the 4-byte extension flag: the smallest vox_offset of a
 * single-file .nii (nifti1.h "vox_offset" comment; nifti2.h). */
#define NIFTI1_MIN_VOX_OFFSET 352
#define NIFTI2_MIN_VOX_OFFSET 544
#define NIFTI_MAX_DIMS 7

/* Datatype codes (nifti1.h, "NIFTI1 DATATYPES"). */
enum {
    DT_UINT8 = 2,
    DT_INT16 = 4,
    DT_INT32 = 8,
    DT_FLOAT32 = 16,
    DT_COMPLEX64 = 32,
    DT_FLOAT64 = 64,
    DT_RGB24 = 128,
    DT_INT8 = 256,
    DT_UINT16 = 512,
    DT_UINT32 = 768,
    DT_INT64 = 1024,
    DT_UINT64 = 1280,
    DT_FLOAT128 = 1536,
    DT_COMPLEX128 = 1792,
    DT_COMPLEX256 = 2048,
    DT_RGBA32 = 2304
};

/* Byte offsets of the fields used, NIfTI-1 (nifti1.h struct nifti_1_header). */
enum {
    N1_SIZEOF_HDR = 0,
    N1_DIM_INFO = 39,
    N1_DIM = 40,
    N1_INTENT_CODE = 68,
    N1_DATATYPE = 70,
    N1_BITPIX = 72,
    N1_PIXDIM = 76,
    N1_VOX_OFFSET = 108,
    N1_SCL_SLOPE = 112,
    N1_SCL_INTER = 116,
    N1_XYZT_UNITS = 123,
    N1_DESCRIP = 148,
    N1_QFORM_CODE = 252,
    N1_SFORM_CODE = 254,
    N1_QUATERN_B = 256,
    N1_QOFFSET_X = 268,
    N1_SROW_X = 280,
    N1_MAGIC = 344
};
/* NIfTI-2 (nifti2.h struct nifti_2_header). */
enum {
    N2_SIZEOF_HDR = 0,
    N2_MAGIC = 4,
    N2_DATATYPE = 12,
    N2_BITPIX = 14,
    N2_DIM = 16,
    N2_PIXDIM = 104,
    N2_VOX_OFFSET = 168,
    N2_SCL_SLOPE = 176,
    N2_SCL_INTER = 184,
    N2_DESCRIP = 240,
    N2_QFORM_CODE = 344,
    N2_SFORM_CODE = 348,
    N2_QUATERN_B = 352,
    N2_QOFFSET_X = 376,
    N2_SROW_X = 400,
    N2_XYZT_UNITS = 500,
    N2_INTENT_CODE = 504
};

static const char n1_magic[4] = {'n', '+', '1', '\0'};
static const char n1_pair_magic[4] = {'n', 'i', '1', '\0'};
static const char n2_magic[8] = {'n', '+', '2', '\0', '\r', '\n', '\032', '\n'};
static const char n2_pair_magic[4] = {'n', 'i', '2', '\0'};

/* ---- field access in the file's byte order ---- */

typedef struct hdr_view {
    const unsigned char *b;
    int swap;
} hdr_view;

static void get_raw(const hdr_view *h, size_t off, void *dst, size_t size)
{
    memcpy(dst, h->b + off, size);
    if (h->swap) mrb_io_swap(dst, 1, size);
}
static int16_t get_i16(const hdr_view *h, size_t off)
{
    int16_t v;
    get_raw(h, off, &v, sizeof v);
    return v;
}
static int32_t get_i32(const hdr_view *h, size_t off)
{
    int32_t v;
    get_raw(h, off, &v, sizeof v);
    return v;
}
static int64_t get_i64(const hdr_view *h, size_t off)
{
    int64_t v;
    get_raw(h, off, &v, sizeof v);
    return v;
}
static double get_f32(const hdr_view *h, size_t off)
{
    float v;
    get_raw(h, off, &v, sizeof v);
    return v;
}
static double get_f64(const hdr_view *h, size_t off)
{
    double v;
    get_raw(h, off, &v, sizeof v);
    return v;
}

/* ---- datatypes ---- */

typedef struct dtype_info {
    int code;
    int bitpix;
    const char *name;
    int supported;     /* 1: read into `storage` (then maybe widened) */
    mrb_dtype storage; /* mrbench dtype of the returned array (unscaled) */
} dtype_info;

static const dtype_info dtype_table[] = {
    {DT_UINT8, 8, "uint8", 1, MRB_U8},
    {DT_INT16, 16, "int16", 1, MRB_I16},
    {DT_INT32, 32, "int32", 1, MRB_I32},
    {DT_FLOAT32, 32, "float32", 1, MRB_F32},
    {DT_COMPLEX64, 64, "complex64", 1, MRB_C64},
    {DT_FLOAT64, 64, "float64", 1, MRB_F64},
    {DT_INT8, 8, "int8", 1, MRB_I16},
    {DT_UINT16, 16, "uint16", 1, MRB_I32},
    {DT_RGB24, 24, "rgb24", 0, MRB_U8},
    {DT_UINT32, 32, "uint32", 0, MRB_F64},
    {DT_INT64, 64, "int64", 0, MRB_F64},
    {DT_UINT64, 64, "uint64", 0, MRB_F64},
    {DT_FLOAT128, 128, "float128", 0, MRB_F64},
    {DT_COMPLEX128, 128, "complex128", 0, MRB_C64},
    {DT_COMPLEX256, 256, "complex256", 0, MRB_C64},
    {DT_RGBA32, 32, "rgba32", 0, MRB_U8},
};

static const dtype_info *dtype_lookup(int code)
{
    for (size_t i = 0; i < sizeof dtype_table / sizeof dtype_table[0]; i++)
        if (dtype_table[i].code == code) return &dtype_table[i];
    return NULL;
}

static int dtype_code(mrb_dtype d)
{
    switch (d) {
    case MRB_U8: return DT_UINT8;
    case MRB_I16: return DT_INT16;
    case MRB_I32: return DT_INT32;
    case MRB_F32: return DT_FLOAT32;
    case MRB_C64: return DT_COMPLEX64;
    case MRB_F64: return DT_FLOAT64;
    }
    return 0;
}

/* Bytes per element in the file; 1 for components of swapped items. */
static size_t file_elem_bytes(const dtype_info *t)
{
    return (size_t)t->bitpix / 8;
}
/* Byte-swap unit: complex types swap each component. */
static size_t swap_unit(const dtype_info *t)
{
    return t->code == DT_COMPLEX64 ? 4 : file_elem_bytes(t);
}

/* ---- geometry ---- */

static void identity4(double m[4][4])
{
    memset(m, 0, 16 * sizeof(double));
    for (int i = 0; i < 4; i++) m[i][i] = 1.0;
}

/* nifti1_io.c nifti_quatern_to_mat44 (NIfTI reference library). */
static void quatern_to_mat(const mrb_nifti_meta *m, double r[4][4])
{
    double b = m->quatern[0], c = m->quatern[1], d = m->quatern[2];
    double a = 1.0 - (b * b + c * c + d * d);
    if (a < 1.e-7) {
        double n = sqrt(b * b + c * c + d * d);
        if (n > 0) {
            b /= n;
            c /= n;
            d /= n;
        }
        a = 0.0;
    } else {
        a = sqrt(a);
    }
    double xd = m->pixdim[1] > 0 ? m->pixdim[1] : 1.0;
    double yd = m->pixdim[2] > 0 ? m->pixdim[2] : 1.0;
    double zd = m->pixdim[3] > 0 ? m->pixdim[3] : 1.0;
    if (m->pixdim[0] < 0) zd = -zd;
    identity4(r);
    r[0][0] = (a * a + b * b - c * c - d * d) * xd;
    r[0][1] = 2.0 * (b * c - a * d) * yd;
    r[0][2] = 2.0 * (b * d + a * c) * zd;
    r[1][0] = 2.0 * (b * c + a * d) * xd;
    r[1][1] = (a * a + c * c - b * b - d * d) * yd;
    r[1][2] = 2.0 * (c * d - a * b) * zd;
    r[2][0] = 2.0 * (b * d - a * c) * xd;
    r[2][1] = 2.0 * (c * d + a * b) * yd;
    r[2][2] = (a * a + d * d - c * c - b * b) * zd;
    r[0][3] = m->qoffset[0];
    r[1][3] = m->qoffset[1];
    r[2][3] = m->qoffset[2];
}

void mrb_nifti_meta_default(mrb_nifti_meta *meta, const double spacing[3])
{
    memset(meta, 0, sizeof *meta);
    meta->version = 1;
    meta->pixdim[0] = 1.0;
    for (int i = 1; i < 8; i++) meta->pixdim[i] = 1.0;
    if (spacing)
        for (int i = 0; i < 3; i++) meta->pixdim[i + 1] = spacing[i];
    meta->qform_code = 1;
    meta->sform_code = 1;
    /* NIFTI_UNITS_MM (2) | NIFTI_UNITS_SEC (8), nifti1.h. */
    meta->xyzt_units = 2 | 8;
    identity4(meta->sform);
    for (int i = 0; i < 3; i++) meta->sform[i][i] = meta->pixdim[i + 1];
    quatern_to_mat(meta, meta->qform);
}

/* ---- reading ---- */

typedef struct parsed_hdr {
    int version;
    int swap;
    const dtype_info *type;
    int ndim;
    size_t dims[NIFTI_MAX_DIMS];
    size_t count;
    uint64_t data_bytes;
    uint64_t vox_offset;
    int hdr_size;
    double slope, inter;
} parsed_hdr;

static mrb_status parse_header(const char *name, const unsigned char *b, int version, int swap, parsed_hdr *p,
                               mrb_nifti_meta *m)
{
    hdr_view h = {b, swap};
    memset(m, 0, sizeof *m);
    p->version = m->version = version;
    p->swap = m->swapped = swap;
    p->hdr_size = version == 1 ? NIFTI1_HDR_SIZE : NIFTI2_HDR_SIZE;

    if (version == 1) {
        if (memcmp(b + N1_MAGIC, n1_pair_magic, 4) == 0)
            return mrb_error(MRB_ERR_UNSUPPORTED, "%s: magic 'ni1' marks a separate .hdr/.img pair (not supported)",
                             name);
        if (memcmp(b + N1_MAGIC, n1_magic, 4) != 0)
            return mrb_error(MRB_ERR_INVALID, "%s: bad magic (expected 'n+1')", name);
    } else {
        if (memcmp(b + N2_MAGIC, n2_pair_magic, 4) == 0)
            return mrb_error(MRB_ERR_UNSUPPORTED, "%s: magic 'ni2' marks a separate .hdr/.img pair (not supported)",
                             name);
        if (memcmp(b + N2_MAGIC, n2_magic, 8) != 0)
            return mrb_error(MRB_ERR_INVALID, "%s: bad magic (expected 'n+2' and its signature)", name);
    }

    int datatype = version == 1 ? get_i16(&h, N1_DATATYPE) : get_i16(&h, N2_DATATYPE);
    int bitpix = version == 1 ? get_i16(&h, N1_BITPIX) : get_i16(&h, N2_BITPIX);
    for (int i = 0; i < 8; i++) m->dim[i] = version == 1 ? get_i16(&h, N1_DIM + 2 * i) : get_i64(&h, N2_DIM + 8 * i);
    for (int i = 0; i < 8; i++)
        m->pixdim[i] = version == 1 ? get_f32(&h, N1_PIXDIM + 4 * i) : get_f64(&h, N2_PIXDIM + 8 * i);
    double vox = version == 1 ? get_f32(&h, N1_VOX_OFFSET) : (double)get_i64(&h, N2_VOX_OFFSET);
    int64_t vox_i64 = version == 1 ? 0 : get_i64(&h, N2_VOX_OFFSET);
    m->scl_slope = version == 1 ? get_f32(&h, N1_SCL_SLOPE) : get_f64(&h, N2_SCL_SLOPE);
    m->scl_inter = version == 1 ? get_f32(&h, N1_SCL_INTER) : get_f64(&h, N2_SCL_INTER);
    m->qform_code = version == 1 ? get_i16(&h, N1_QFORM_CODE) : get_i32(&h, N2_QFORM_CODE);
    m->sform_code = version == 1 ? get_i16(&h, N1_SFORM_CODE) : get_i32(&h, N2_SFORM_CODE);
    for (int i = 0; i < 3; i++) {
        m->quatern[i] = version == 1 ? get_f32(&h, N1_QUATERN_B + 4 * i) : get_f64(&h, N2_QUATERN_B + 8 * i);
        m->qoffset[i] = version == 1 ? get_f32(&h, N1_QOFFSET_X + 4 * i) : get_f64(&h, N2_QOFFSET_X + 8 * i);
    }
    identity4(m->sform);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            m->sform[r][c] =
                version == 1 ? get_f32(&h, N1_SROW_X + 16 * r + 4 * c) : get_f64(&h, N2_SROW_X + 32 * r + 8 * c);
    m->xyzt_units = version == 1 ? b[N1_XYZT_UNITS] : get_i32(&h, N2_XYZT_UNITS);
    m->intent_code = version == 1 ? get_i16(&h, N1_INTENT_CODE) : get_i32(&h, N2_INTENT_CODE);
    memcpy(m->descrip, b + (version == 1 ? N1_DESCRIP : N2_DESCRIP), 80);
    m->descrip[80] = '\0';
    m->datatype = datatype;
    m->ndim = (int)m->dim[0];

    /* datatype */
    const dtype_info *t = dtype_lookup(datatype);
    if (!t) return mrb_error(MRB_ERR_INVALID, "%s: unknown datatype code %d", name, datatype);
    if (!t->supported)
        return mrb_error(MRB_ERR_UNSUPPORTED, "%s: datatype %s (code %d) is not supported", name, t->name, datatype);
    if (bitpix != t->bitpix)
        return mrb_error(MRB_ERR_INVALID, "%s: bitpix %d does not match datatype %s (%d bits)", name, bitpix, t->name,
                         t->bitpix);
    p->type = t;

    /* dims */
    if (m->dim[0] < 1 || m->dim[0] > NIFTI_MAX_DIMS)
        return mrb_error(MRB_ERR_INVALID, "%s: dim[0] = %lld (1 to %d allowed)", name, (long long)m->dim[0],
                         NIFTI_MAX_DIMS);
    p->ndim = (int)m->dim[0];
    uint64_t count = 1;
    for (int i = 1; i <= p->ndim; i++) {
        if (m->dim[i] <= 0)
            return mrb_error(MRB_ERR_INVALID, "%s: dim[%d] = %lld is not positive", name, i, (long long)m->dim[i]);
        uint64_t d = (uint64_t)m->dim[i];
        if (d > SIZE_MAX || count > UINT64_MAX / d || count * d > SIZE_MAX)
            return mrb_error(MRB_ERR_INVALID, "%s: dims overflow the addressable size", name);
        count *= d;
        p->dims[i - 1] = (size_t)d;
    }
    size_t esize = file_elem_bytes(t);
    if (count > UINT64_MAX / esize || count * esize > SIZE_MAX)
        return mrb_error(MRB_ERR_INVALID, "%s: data size overflows", name);
    p->count = (size_t)count;
    p->data_bytes = count * esize;

    /* vox_offset */
    if (version == 1) {
        if (!isfinite(vox) || vox < 0 || vox != floor(vox) || vox > (double)INT32_MAX)
            return mrb_error(MRB_ERR_INVALID, "%s: bad vox_offset %g", name, vox);
        p->vox_offset = (uint64_t)vox;
        /* vox_offset 0 in a .nii means "right after the header"
         * (nifti1_io.c, nifti_read_header). */
        if (p->vox_offset == 0) p->vox_offset = NIFTI1_MIN_VOX_OFFSET;
        if (p->vox_offset < NIFTI1_MIN_VOX_OFFSET)
            return mrb_error(MRB_ERR_INVALID, "%s: bad vox_offset %g (at least %d in a .nii)", name, vox,
                             NIFTI1_MIN_VOX_OFFSET);
    } else {
        if (vox_i64 < 0) return mrb_error(MRB_ERR_INVALID, "%s: bad vox_offset %lld", name, (long long)vox_i64);
        p->vox_offset = vox_i64 == 0 ? NIFTI2_MIN_VOX_OFFSET : (uint64_t)vox_i64;
        if (p->vox_offset < NIFTI2_MIN_VOX_OFFSET)
            return mrb_error(MRB_ERR_INVALID, "%s: bad vox_offset %lld (at least %d in a .nii)", name,
                             (long long)vox_i64, NIFTI2_MIN_VOX_OFFSET);
    }

    /* scaling: nifti1.h, "if the scl_slope field is nonzero" */
    p->slope = m->scl_slope;
    p->inter = m->scl_inter;
    if (!isfinite(p->slope) || p->slope == 0.0 || t->code == DT_COMPLEX64) {
        p->slope = 1.0;
        p->inter = 0.0;
    }
    if (!isfinite(p->inter)) p->inter = 0.0;

    for (int i = 1; i < 8; i++)
        if (!isfinite(m->pixdim[i])) return mrb_error(MRB_ERR_INVALID, "%s: pixdim[%d] is not finite", name, i);
    if (!isfinite(m->pixdim[0])) m->pixdim[0] = 1.0;
    quatern_to_mat(m, m->qform);
    return MRB_OK;
}

/* Converts the file's elements (already in host byte order) in `raw` to
 * the returned array. */
static mrb_status convert(const char *name, const parsed_hdr *p, mrb_array *raw, mrb_array **out)
{
    int scaled = !(p->slope == 1.0 && p->inter == 0.0);
    int widen = p->type->code == DT_INT8 || p->type->code == DT_UINT16;
    if (!scaled && !widen) {
        *out = raw;
        return MRB_OK;
    }
    mrb_dtype target = scaled ? (p->type->code == DT_FLOAT64 ? MRB_F64 : MRB_F32) : p->type->storage;
    mrb_array *res = mrb_array_create(target, p->ndim, p->dims);
    if (!res) {
        mrb_array_free(raw);
        return mrb_error_context(MRB_ERR_NOMEM, "%s", name);
    }
    size_t n = p->count;
    const void *src = raw->data;
    double slope = p->slope, inter = p->inter;
    for (size_t i = 0; i < n; i++) {
        double v;
        switch (p->type->code) {
        case DT_UINT8: v = ((const uint8_t *)src)[i]; break;
        case DT_INT8: v = ((const int8_t *)src)[i]; break;
        case DT_INT16: v = ((const int16_t *)src)[i]; break;
        case DT_UINT16: v = ((const uint16_t *)src)[i]; break;
        case DT_INT32: v = ((const int32_t *)src)[i]; break;
        case DT_FLOAT32: v = ((const float *)src)[i]; break;
        default: v = ((const double *)src)[i]; break;
        }
        if (scaled) v = v * slope + inter;
        switch (target) {
        case MRB_F32: ((float *)res->data)[i] = (float)v; break;
        case MRB_F64: ((double *)res->data)[i] = v; break;
        case MRB_I16: ((int16_t *)res->data)[i] = (int16_t)v; break;
        default: ((int32_t *)res->data)[i] = (int32_t)v; break;
        }
    }
    mrb_array_free(raw);
    *out = res;
    return MRB_OK;
}

static mrb_status read_stream(mrb_io_stream *s, mrb_array **out, mrb_nifti_meta *meta_out)
{
    const char *name = s->name;
    unsigned char b[NIFTI2_HDR_SIZE];
    size_t got = 0;
    MRB_TRY(mrb_io_stream_read(s, b, NIFTI1_HDR_SIZE, &got));
    if (got == 0) return mrb_error(MRB_ERR_INVALID, "%s: empty file", name);
    if (got < 4)
        return mrb_error(MRB_ERR_INVALID, "%s: header truncated (%zu of %d bytes present)", name, got, NIFTI1_HDR_SIZE);
    int32_t sizeof_hdr, swapped;
    memcpy(&sizeof_hdr, b, 4);
    swapped = sizeof_hdr;
    mrb_io_swap(&swapped, 1, 4);
    int version, swap;
    if (sizeof_hdr == NIFTI1_HDR_SIZE || swapped == NIFTI1_HDR_SIZE) {
        version = 1;
        swap = sizeof_hdr != NIFTI1_HDR_SIZE;
    } else if (sizeof_hdr == NIFTI2_HDR_SIZE || swapped == NIFTI2_HDR_SIZE) {
        version = 2;
        swap = sizeof_hdr != NIFTI2_HDR_SIZE;
    } else {
        return mrb_error(MRB_ERR_INVALID, "%s: not a NIfTI file (sizeof_hdr %d, expected 348 or 540)", name,
                         (int)sizeof_hdr);
    }
    int hdr_size = version == 1 ? NIFTI1_HDR_SIZE : NIFTI2_HDR_SIZE;
    if (got < NIFTI1_HDR_SIZE)
        return mrb_error(MRB_ERR_INVALID, "%s: header truncated (%zu of %d bytes present)", name, got, hdr_size);
    if (version == 2) {
        size_t more = 0;
        MRB_TRY(mrb_io_stream_read(s, b + NIFTI1_HDR_SIZE, NIFTI2_HDR_SIZE - NIFTI1_HDR_SIZE, &more));
        if (more < NIFTI2_HDR_SIZE - NIFTI1_HDR_SIZE)
            return mrb_error(MRB_ERR_INVALID, "%s: header truncated (%zu of %d bytes present)", name, got + more,
                             hdr_size);
    }
    parsed_hdr p;
    mrb_nifti_meta meta;
    MRB_TRY(parse_header(name, b, version, swap, &p, &meta));

    /* Everything up to vox_offset (extension flag and extensions). */
    uint64_t gap = p.vox_offset - (uint64_t)hdr_size;
    uint64_t left = mrb_io_stream_max_left(s);
    if (gap > left || p.data_bytes > left - gap)
        return mrb_error(MRB_ERR_INVALID,
                         "%s: data truncated: the header needs %llu bytes of data at offset "
                         "%llu, the file holds %s%llu bytes after the header",
                         name, (unsigned long long)p.data_bytes, (unsigned long long)p.vox_offset,
                         s->gz ? "(gzip, at most) " : "", (unsigned long long)left);
    MRB_TRY(mrb_io_stream_skip(s, gap, "extension area before vox_offset"));

    mrb_array *raw = NULL;
    if (p.type->code == DT_INT8 || p.type->code == DT_UINT16) {
        /* Read as a byte array of the file's element size, then widen. */
        size_t rdims[1] = {(size_t)p.data_bytes};
        raw = mrb_array_create(MRB_U8, 1, rdims);
    } else {
        raw = mrb_array_create(p.type->storage, p.ndim, p.dims);
    }
    if (!raw) return mrb_error_context(MRB_ERR_NOMEM, "%s", name);
    mrb_status st = mrb_io_stream_read_exact(s, raw->data, (size_t)p.data_bytes, "image data");
    if (st == MRB_OK) st = mrb_io_stream_finish(s);
    if (st != MRB_OK) {
        mrb_array_free(raw);
        return st;
    }
    if (p.swap) mrb_io_swap(raw->data, (size_t)p.data_bytes / swap_unit(p.type), swap_unit(p.type));
    mrb_array *res = NULL;
    MRB_TRY(convert(name, &p, raw, &res));
    *out = res;
    if (meta_out) *meta_out = meta;
    return MRB_OK;
}

mrb_status mrb_nifti_read_mem(const void *buf, size_t len, const char *name, mrb_array **out, mrb_nifti_meta *meta)
{
    *out = NULL;
    if (!name) name = "(memory)";
    mrb_io_stream s;
    MRB_TRY(mrb_io_stream_open(&s, buf, len, name));
    mrb_status st = read_stream(&s, out, meta);
    mrb_io_stream_close(&s);
    return st;
}

mrb_status mrb_nifti_read(const char *path, mrb_array **out, mrb_nifti_meta *meta)
{
    *out = NULL;
    mrb_io_map map;
    MRB_TRY(mrb_io_map_file(path, &map));
    mrb_status st = mrb_nifti_read_mem(map.data, map.len, path, out, meta);
    mrb_io_unmap(&map);
    return st;
}

/* ---- writing ---- */

static void put(unsigned char *b, size_t off, const void *v, size_t size)
{
    memcpy(b + off, v, size);
}
static void put_i16(unsigned char *b, size_t off, int v)
{
    int16_t x = (int16_t)v;
    put(b, off, &x, 2);
}
static void put_i32(unsigned char *b, size_t off, int64_t v)
{
    int32_t x = (int32_t)v;
    put(b, off, &x, 4);
}
static void put_i64(unsigned char *b, size_t off, int64_t v)
{
    put(b, off, &v, 8);
}
static void put_f32(unsigned char *b, size_t off, double v)
{
    float x = (float)v;
    put(b, off, &x, 4);
}
static void put_f64(unsigned char *b, size_t off, double v)
{
    put(b, off, &v, 8);
}

/* The header is written in the host's byte order; readers detect the order
 * from sizeof_hdr (nifti1.h). */
mrb_status mrb_nifti_write(const char *path, const mrb_array *a, const mrb_nifti_meta *meta_in)
{
    mrb_nifti_meta meta;
    if (meta_in)
        meta = *meta_in;
    else
        mrb_nifti_meta_default(&meta, NULL);
    int version = meta.version == 2 ? 2 : 1;
    if (meta.version != 0 && meta.version != 1 && meta.version != 2)
        return mrb_error(MRB_ERR_INVALID, "%s: NIfTI version %d (1 or 2 allowed)", path, meta.version);
    if (!a || !a->data) return mrb_error(MRB_ERR_INVALID, "%s: no array to write", path);
    int ndim = a->ndim;
    while (ndim > NIFTI_MAX_DIMS && a->dims[ndim - 1] == 1) ndim--;
    if (ndim < 1 || ndim > NIFTI_MAX_DIMS)
        return mrb_error(MRB_ERR_INVALID, "%s: %d axes (NIfTI holds at most %d)", path, a->ndim, NIFTI_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (a->dims[i] == 0 || (version == 1 && a->dims[i] > INT16_MAX) || (uint64_t)a->dims[i] > (uint64_t)INT64_MAX)
            return mrb_error(MRB_ERR_INVALID, "%s: dim %d = %zu does not fit NIfTI-%d%s", path, i, a->dims[i], version,
                             version == 1 ? " (max 32767; use NIfTI-2)" : "");
    for (int i = 0; i < 8; i++)
        if (!isfinite(meta.pixdim[i])) return mrb_error(MRB_ERR_INVALID, "%s: pixdim[%d] is not finite", path, i);
    int code = dtype_code(a->dtype);
    const dtype_info *t = dtype_lookup(code);
    if (!t) return mrb_error(MRB_ERR_INVALID, "%s: dtype %d cannot be written", path, a->dtype);

    unsigned char hdr[NIFTI2_MIN_VOX_OFFSET];
    memset(hdr, 0, sizeof hdr);
    size_t hdr_len;
    double qfac = meta.pixdim[0] < 0 ? -1.0 : 1.0;
    if (version == 1) {
        hdr_len = NIFTI1_MIN_VOX_OFFSET;
        put_i32(hdr, N1_SIZEOF_HDR, NIFTI1_HDR_SIZE);
        hdr[38] = 'r'; /* "regular", Analyze 7.5 compatibility (nifti1.h) */
        put_i16(hdr, N1_DIM, ndim);
        for (int i = 1; i < 8; i++) put_i16(hdr, N1_DIM + 2 * i, i <= ndim ? (int)a->dims[i - 1] : 1);
        put_i16(hdr, N1_INTENT_CODE, meta.intent_code);
        put_i16(hdr, N1_DATATYPE, code);
        put_i16(hdr, N1_BITPIX, t->bitpix);
        put_f32(hdr, N1_PIXDIM, qfac);
        for (int i = 1; i < 8; i++) put_f32(hdr, N1_PIXDIM + 4 * i, meta.pixdim[i]);
        put_f32(hdr, N1_VOX_OFFSET, NIFTI1_MIN_VOX_OFFSET);
        hdr[N1_XYZT_UNITS] = (unsigned char)meta.xyzt_units;
        memcpy(hdr + N1_DESCRIP, meta.descrip, strnlen(meta.descrip, 79));
        put_i16(hdr, N1_QFORM_CODE, meta.qform_code);
        put_i16(hdr, N1_SFORM_CODE, meta.sform_code);
        for (int i = 0; i < 3; i++) {
            put_f32(hdr, N1_QUATERN_B + 4 * i, meta.quatern[i]);
            put_f32(hdr, N1_QOFFSET_X + 4 * i, meta.qoffset[i]);
        }
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++) put_f32(hdr, N1_SROW_X + 16 * r + 4 * c, meta.sform[r][c]);
        memcpy(hdr + N1_MAGIC, n1_magic, 4);
    } else {
        hdr_len = NIFTI2_MIN_VOX_OFFSET;
        put_i32(hdr, N2_SIZEOF_HDR, NIFTI2_HDR_SIZE);
        memcpy(hdr + N2_MAGIC, n2_magic, 8);
        put_i16(hdr, N2_DATATYPE, code);
        put_i16(hdr, N2_BITPIX, t->bitpix);
        put_i64(hdr, N2_DIM, ndim);
        for (int i = 1; i < 8; i++) put_i64(hdr, N2_DIM + 8 * i, i <= ndim ? (int64_t)a->dims[i - 1] : 1);
        put_f64(hdr, N2_PIXDIM, qfac);
        for (int i = 1; i < 8; i++) put_f64(hdr, N2_PIXDIM + 8 * i, meta.pixdim[i]);
        put_i64(hdr, N2_VOX_OFFSET, NIFTI2_MIN_VOX_OFFSET);
        memcpy(hdr + N2_DESCRIP, meta.descrip, strnlen(meta.descrip, 79));
        put_i32(hdr, N2_QFORM_CODE, meta.qform_code);
        put_i32(hdr, N2_SFORM_CODE, meta.sform_code);
        for (int i = 0; i < 3; i++) {
            put_f64(hdr, N2_QUATERN_B + 8 * i, meta.quatern[i]);
            put_f64(hdr, N2_QOFFSET_X + 8 * i, meta.qoffset[i]);
        }
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++) put_f64(hdr, N2_SROW_X + 32 * r + 8 * c, meta.sform[r][c]);
        put_i32(hdr, N2_XYZT_UNITS, meta.xyzt_units);
        put_i32(hdr, N2_INTENT_CODE, meta.intent_code);
    }
    /* The 4 bytes after the header are the extension flag: 0, none. */
    mrb_io_piece pieces[2] = {{hdr, hdr_len}, {a->data, mrb_array_bytes(a)}};
    return mrb_io_write_file(path, pieces, 2, mrb_io_ends_with(path, ".gz"));
}
