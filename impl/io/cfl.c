/* BART .cfl/.hdr reading and writing.
 *
 * Format (BART src/misc/io.c, read_cfl_header / write_cfl_header): a text
 * .hdr with a "# Dimensions" line followed by up to 16 dims, and a .cfl of
 * complex float pairs, dims[0] fastest, little-endian. */
#include <complex.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "mrbench/io.h"

/* A .hdr longer than this is not a BART header (BART's own limit is 4096
 * bytes, src/misc/io.c; allow more for long "# Command" lines). */
#define CFL_HDR_MAX_BYTES (1u << 20)
#define CFL_ELEM_BYTES 8

static const char *line_end(const char *p, const char *end)
{
    while (p < end && *p != '\n') p++;
    return p;
}

/* Parses one dims line [p, e) into dims and its count into *ndims. */
static mrb_status parse_dims(const char *name, const char *p, const char *e, uint64_t *dims, int *ndims)
{
    int n = 0;
    while (p < e) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p == e) break;
        if (*p < '0' || *p > '9')
            return mrb_error(MRB_ERR_INVALID, "%s: .hdr: bad character '%c' in the dimensions", name,
                             (*p >= 32 && *p < 127) ? *p : '?');
        uint64_t v = 0;
        while (p < e && *p >= '0' && *p <= '9') {
            unsigned digit = (unsigned)(*p - '0');
            if (v > (UINT64_MAX - digit) / 10)
                return mrb_error(MRB_ERR_INVALID, "%s: .hdr: dimension %d overflows", name, n);
            v = v * 10 + digit;
            p++;
        }
        if (p < e && !(*p == ' ' || *p == '\t' || *p == '\r'))
            return mrb_error(MRB_ERR_INVALID, "%s: .hdr: bad character in dimension %d", name, n);
        if (n == MRB_CFL_DIMS)
            return mrb_error(MRB_ERR_INVALID, "%s: .hdr: more than %d dimensions", name, MRB_CFL_DIMS);
        if (v == 0) return mrb_error(MRB_ERR_INVALID, "%s: .hdr: dimension %d is 0", name, n);
        dims[n++] = v;
    }
    if (n == 0) return mrb_error(MRB_ERR_INVALID, "%s: .hdr: no dimensions", name);
    *ndims = n;
    return MRB_OK;
}

static mrb_status parse_hdr(const char *name, const char *hdr, size_t len, uint64_t *dims)
{
    if (len == 0) return mrb_error(MRB_ERR_INVALID, "%s: .hdr is empty", name);
    if (len > CFL_HDR_MAX_BYTES)
        return mrb_error(MRB_ERR_INVALID, "%s: .hdr is %zu bytes (not a BART header)", name, len);
    if (memchr(hdr, '\0', len))
        return mrb_error(MRB_ERR_INVALID, "%s: .hdr contains a NUL byte (not a text header)", name);
    const char *p = hdr, *end = hdr + len;
    int in_dims = 0, found = 0, in_section = 0;
    for (int i = 0; i < MRB_CFL_DIMS; i++) dims[i] = 1;
    while (p < end) {
        const char *e = line_end(p, end);
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q < e && *q == '#') {
            const char *t = q + 1;
            while (t < e && *t == ' ') t++;
            size_t tl = (size_t)(e - t);
            while (tl > 0 && (t[tl - 1] == '\r' || t[tl - 1] == ' ')) tl--;
            in_dims = tl == 10 && memcmp(t, "Dimensions", 10) == 0;
            in_section = 1;
        } else if (q < e) {
            if (!in_section)
                return mrb_error(MRB_ERR_INVALID, "%s: .hdr: text before the first '#' section (garbage)", name);
            if (in_dims) {
                if (found) return mrb_error(MRB_ERR_INVALID, "%s: .hdr: dimensions given twice", name);
                int n = 0;
                MRB_TRY(parse_dims(name, q, e, dims, &n));
                found = 1;
                in_dims = 0;
            }
        }
        p = e < end ? e + 1 : e;
    }
    if (!found) return mrb_error(MRB_ERR_INVALID, "%s: .hdr: no \"# Dimensions\" section", name);
    return MRB_OK;
}

mrb_status mrb_cfl_read_mem(const char *hdr, size_t hdr_len, const void *cfl, size_t cfl_len, const char *name,
                            mrb_array **out)
{
    *out = NULL;
    if (!name) name = "(memory)";
    uint64_t dims[MRB_CFL_DIMS];
    MRB_TRY(parse_hdr(name, hdr, hdr_len, dims));
    uint64_t count = 1;
    int ndim = 1;
    for (int i = 0; i < MRB_CFL_DIMS; i++) {
        if (count > UINT64_MAX / dims[i] || count * dims[i] > SIZE_MAX / CFL_ELEM_BYTES)
            return mrb_error(MRB_ERR_INVALID, "%s: .hdr: dims overflow the addressable size", name);
        count *= dims[i];
        if (dims[i] > 1) ndim = i + 1;
    }
    uint64_t need = count * CFL_ELEM_BYTES;
    if (need != cfl_len)
        return mrb_error(MRB_ERR_INVALID, "%s: .cfl size mismatch: the .hdr dims need %llu bytes, the .cfl has %zu",
                         name, (unsigned long long)need, cfl_len);
    if (ndim > MRB_MAX_DIMS)
        return mrb_error(MRB_ERR_UNSUPPORTED, "%s: %d axes (mrbench arrays hold at most %d)", name, ndim, MRB_MAX_DIMS);
    size_t adims[MRB_MAX_DIMS];
    for (int i = 0; i < ndim; i++) adims[i] = (size_t)dims[i];
    mrb_array *a = mrb_array_create(MRB_C64, ndim, adims);
    if (!a) return mrb_error_context(MRB_ERR_NOMEM, "%s", name);
    memcpy(a->data, cfl, (size_t)need);
    if (!mrb_io_host_is_le()) mrb_io_swap(a->data, (size_t)count * 2, 4);
    *out = a;
    return MRB_OK;
}

/* base without a trailing .cfl/.hdr, in a new buffer. */
static char *strip_ext(const char *base)
{
    size_t n = strlen(base);
    if (mrb_io_ends_with(base, ".cfl") || mrb_io_ends_with(base, ".hdr")) n -= 4;
    char *s = malloc(n + 5);
    if (!s) return NULL;
    memcpy(s, base, n);
    s[n] = '\0';
    return s;
}

static char *with_ext(const char *stem, const char *ext)
{
    size_t n = strlen(stem);
    char *s = malloc(n + strlen(ext) + 1);
    if (!s) return NULL;
    memcpy(s, stem, n);
    strcpy(s + n, ext);
    return s;
}

mrb_status mrb_cfl_read(const char *base, mrb_array **out)
{
    *out = NULL;
    char *stem = strip_ext(base);
    char *hdr_path = stem ? with_ext(stem, ".hdr") : NULL;
    char *cfl_path = stem ? with_ext(stem, ".cfl") : NULL;
    mrb_status st = MRB_OK;
    mrb_io_map hm = {0}, cm = {0};
    if (!hdr_path || !cfl_path) {
        st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory", base);
        goto done;
    }
    st = mrb_io_map_file(hdr_path, &hm);
    if (st == MRB_OK) st = mrb_io_map_file(cfl_path, &cm);
    if (st == MRB_OK) st = mrb_cfl_read_mem((const char *)hm.data, hm.len, cm.data, cm.len, stem, out);
done:
    mrb_io_unmap(&hm);
    mrb_io_unmap(&cm);
    free(stem);
    free(hdr_path);
    free(cfl_path);
    return st;
}

mrb_status mrb_cfl_write(const char *base, const mrb_array *a, const char *command)
{
    if (!a || !a->data) return mrb_error(MRB_ERR_INVALID, "%s: no array to write", base);
    int ndim = a->ndim;
    if (ndim > MRB_CFL_DIMS) return mrb_error(MRB_ERR_INVALID, "%s: %d axes (BART holds %d)", base, ndim, MRB_CFL_DIMS);
    char *stem = strip_ext(base);
    char *hdr_path = stem ? with_ext(stem, ".hdr") : NULL;
    char *cfl_path = stem ? with_ext(stem, ".cfl") : NULL;
    char *text = NULL;
    float complex *conv = NULL;
    mrb_status st = MRB_OK;
    if (!hdr_path || !cfl_path) {
        st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory", base);
        goto done;
    }
    size_t cmd_len = command ? strlen(command) : 0;
    size_t cap = 64 + MRB_CFL_DIMS * 24 + cmd_len;
    text = malloc(cap);
    if (!text) {
        st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory", base);
        goto done;
    }
    size_t pos = (size_t)snprintf(text, cap, "# Dimensions\n");
    for (int i = 0; i < MRB_CFL_DIMS; i++)
        pos += (size_t)snprintf(text + pos, cap - pos, "%zu ", i < ndim ? a->dims[i] : (size_t)1);
    pos += (size_t)snprintf(text + pos, cap - pos, "\n");
    if (command) {
        pos += (size_t)snprintf(text + pos, cap - pos, "# Command\n");
        for (size_t i = 0; i < cmd_len; i++)
            text[pos++] = (command[i] == '\n' || command[i] == '\r') ? ' ' : command[i];
        text[pos++] = '\n';
    }
    size_t count = mrb_array_count(a);
    const void *data = a->data;
    if (a->dtype != MRB_C64 || !mrb_io_host_is_le()) {
        conv = malloc(count ? count * sizeof *conv : 1);
        if (!conv) {
            st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory", base);
            goto done;
        }
        for (size_t i = 0; i < count; i++) {
            switch (a->dtype) {
            case MRB_C64: conv[i] = ((const float complex *)a->data)[i]; break;
            case MRB_F32: conv[i] = ((const float *)a->data)[i]; break;
            case MRB_F64: conv[i] = (float)((const double *)a->data)[i]; break;
            case MRB_U8: conv[i] = ((const uint8_t *)a->data)[i]; break;
            case MRB_I16: conv[i] = ((const int16_t *)a->data)[i]; break;
            case MRB_I32: conv[i] = (float)((const int32_t *)a->data)[i]; break;
            }
        }
        if (!mrb_io_host_is_le()) mrb_io_swap(conv, count * 2, 4);
        data = conv;
    }
    mrb_io_piece hp = {text, pos};
    st = mrb_io_write_file(hdr_path, &hp, 1, 0);
    if (st == MRB_OK) {
        mrb_io_piece cp = {data, count * CFL_ELEM_BYTES};
        st = mrb_io_write_file(cfl_path, &cp, 1, 0);
    }
done:
    free(conv);
    free(text);
    free(stem);
    free(hdr_path);
    free(cfl_path);
    return st;
}
