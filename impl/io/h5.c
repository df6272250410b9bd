/* HDF5 datasets, fastMRI files (libhdf5).
 *
 * HDF5 stores C order (last index fastest); mrbench dims[0] is fastest, so
 * a dataset of HDF5 shape [d0, ..., dn-1] is an mrbench array of dims
 * [dn-1, ..., d0] with the same bytes. fastMRI files additionally have
 * their readout and phase axes transposed and slices and coils swapped, so
 * that readout is mrbench's dims[0] (see mrbench/io.h). */
#include <complex.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "mrbench/io.h"

/* fastMRI dataset and attribute names (fastMRI data README, data.md). */
#define FASTMRI_KSPACE "kspace"
#define FASTMRI_RSS "reconstruction_rss"
#define FASTMRI_ESC "reconstruction_esc"
#define FASTMRI_HEADER "ismrmrd_header"
/* An attribute string longer than this is rejected (ISMRMRD XML headers
 * are a few kB). */
#define H5_MAX_STRING_BYTES (64u << 20)

/* HDF5 prints its error stack by default; library code must not print. */
typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;
static void quiet_begin(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_end(const h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static void close_id(hid_t id, herr_t (*fn)(hid_t))
{
    if (id >= 0) fn(id);
}

/* Memory type of complex float: {r: float32, i: float32} as h5py writes
 * it, or {real, imag} as ISMRMRD does. */
static hid_t complex_type(const char *re, const char *im)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, 2 * sizeof(float));
    if (t < 0) return t;
    H5Tinsert(t, re, 0, H5T_NATIVE_FLOAT);
    H5Tinsert(t, im, sizeof(float), H5T_NATIVE_FLOAT);
    return t;
}

/* Nesting of the types mrbench reads (ISMRMRD: acquisition, header, idx). */
#define H5_TYPE_MAX_DEPTH 8

static int type_sane(hid_t t, int depth)
{
    if (depth > H5_TYPE_MAX_DEPTH) return 0;
    H5T_class_t cls = H5Tget_class(t);
    if (cls == H5T_ARRAY || cls == H5T_VLEN) {
        hid_t base = H5Tget_super(t);
        int ok = base >= 0 && type_sane(base, depth + 1);
        close_id(base, H5Tclose);
        return ok;
    }
    if (cls != H5T_COMPOUND) return cls != H5T_NO_CLASS;
    size_t size = H5Tget_size(t);
    int n = H5Tget_nmembers(t);
    int ok = size > 0 && n >= 0;
    for (int i = 0; ok && i < n; i++) {
        hid_t mt = H5Tget_member_type(t, (unsigned)i);
        size_t off = H5Tget_member_offset(t, (unsigned)i), msize = mt >= 0 ? H5Tget_size(mt) : 0;
        ok = mt >= 0 && msize > 0 && off <= size && msize <= size - off && type_sane(mt, depth + 1);
        close_id(mt, H5Tclose);
    }
    return ok;
}

int mrb_io_h5_type_sane(hid_t type)
{
    return type_sane(type, 0);
}

mrb_status mrb_io_h5_check_declared(hid_t d, double declared, const char *path, const char *what)
{
    if (declared <= MRB_IO_UNCHECKED_BYTES) return MRB_OK;
    hid_t plist = H5Dget_create_plist(d);
    H5D_layout_t layout = plist >= 0 ? H5Pget_layout(plist) : H5D_LAYOUT_ERROR;
    close_id(plist, H5Pclose);
    if (layout == H5D_VIRTUAL) return MRB_OK;
    double stored = (double)H5Dget_storage_size(d);
    if (declared <= stored * MRB_IO_DEFLATE_MAX_RATIO) return MRB_OK;
    return mrb_error(MRB_ERR_INVALID,
                     "%s: %s declares %.0f bytes but stores %.0f, more than deflate's %u:1 can expand to "
                     "(corrupt header, or data not written)",
                     path, what, declared, stored, MRB_IO_DEFLATE_MAX_RATIO);
}

/* Maps a file datatype to an mrbench dtype and the memory type to read it
 * with (*mem is created and must be closed). */
static mrb_status map_type(const char *path, const char *ds, hid_t ftype, mrb_dtype *dt, hid_t *mem)
{
    *mem = -1;
    H5T_class_t cls = H5Tget_class(ftype);
    size_t size = H5Tget_size(ftype);
    if (cls == H5T_INTEGER) {
        H5T_sign_t sign = H5Tget_sign(ftype);
        if (size == 1 && sign == H5T_SGN_NONE) {
            *dt = MRB_U8;
            *mem = H5Tcopy(H5T_NATIVE_UINT8);
        } else if (size == 2 && sign == H5T_SGN_2) {
            *dt = MRB_I16;
            *mem = H5Tcopy(H5T_NATIVE_INT16);
        } else if (size == 4 && sign == H5T_SGN_2) {
            *dt = MRB_I32;
            *mem = H5Tcopy(H5T_NATIVE_INT32);
        } else {
            return mrb_error(MRB_ERR_UNSUPPORTED,
                             "%s: dataset %s: %s %zu-byte integers are not read (uint8, int16, int32, float32, "
                             "float64, complex and bool are)",
                             path, ds, sign == H5T_SGN_NONE ? "unsigned" : "signed", size);
        }
    } else if (cls == H5T_ENUM && size == 1) {
        /* h5py's bool (fastMRI's `mask`): an enum over int8, FALSE 0 and TRUE 1;
         * read in its native enum type, whose bytes are the member values */
        hid_t base = H5Tget_super(ftype);
        int ok = base >= 0 && H5Tget_class(base) == H5T_INTEGER && H5Tget_size(base) == 1;
        if (base >= 0) H5Tclose(base);
        if (!ok) return mrb_error(MRB_ERR_UNSUPPORTED, "%s: dataset %s: an enum not over 1-byte integers", path, ds);
        *dt = MRB_U8;
        *mem = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    } else if (cls == H5T_FLOAT) {
        if (size == 4) {
            *dt = MRB_F32;
            *mem = H5Tcopy(H5T_NATIVE_FLOAT);
        } else if (size == 8) {
            *dt = MRB_F64;
            *mem = H5Tcopy(H5T_NATIVE_DOUBLE);
        } else {
            return mrb_error(MRB_ERR_UNSUPPORTED, "%s: dataset %s: %zu-byte floats", path, ds, size);
        }
    } else if (cls == H5T_COMPOUND) {
        int n = H5Tget_nmembers(ftype);
        int ok = n == 2;
        if (ok && !mrb_io_h5_type_sane(ftype))
            return mrb_error(MRB_ERR_INVALID, "%s: dataset %s: corrupt compound type (a member lies outside it)", path,
                             ds);
        const char *real_name = "r";
        for (int i = 0; ok && i < 2; i++) {
            char *mname = H5Tget_member_name(ftype, (unsigned)i);
            hid_t mt = H5Tget_member_type(ftype, (unsigned)i);
            /* h5py writes {r, i}; ISMRMRD writes {real, imag} */
            ok = mname && (strcmp(mname, i == 0 ? "r" : "i") == 0 || strcmp(mname, i == 0 ? "real" : "imag") == 0) &&
                 mt >= 0 && H5Tget_class(mt) == H5T_FLOAT;
            if (ok && i == 0) real_name = strcmp(mname, "r") == 0 ? "r" : "real";
            if (mname) H5free_memory(mname);
            close_id(mt, H5Tclose);
        }
        if (!ok)
            return mrb_error(MRB_ERR_UNSUPPORTED, "%s: dataset %s: compound type is not complex {r, i} or {real, imag}",
                             path, ds);
        *dt = MRB_C64;
        *mem = complex_type(strcmp(real_name, "r") == 0 ? "r" : "real", strcmp(real_name, "r") == 0 ? "i" : "imag");
    } else {
        return mrb_error(MRB_ERR_UNSUPPORTED, "%s: dataset %s: unsupported HDF5 type class %d", path, ds, (int)cls);
    }
    if (*mem < 0) return mrb_error(MRB_ERR_NOMEM, "%s: HDF5 type creation failed", path);
    return MRB_OK;
}

/* Reads dataset `ds` with the axes reversed; *h5_rank gets the HDF5 rank. */
static mrb_status read_dataset(hid_t file, const char *path, const char *ds, mrb_array **out)
{
    *out = NULL;
    hid_t d = -1, ftype = -1, mem = -1, space = -1;
    mrb_array *a = NULL;
    mrb_status st = MRB_OK;
    if (H5Lexists(file, ds, H5P_DEFAULT) <= 0) {
        st = mrb_error(MRB_ERR_INVALID, "%s: no dataset '%s'", path, ds);
        goto done;
    }
    d = H5Dopen2(file, ds, H5P_DEFAULT);
    if (d < 0) {
        st = mrb_error(MRB_ERR_INVALID, "%s: '%s' is not a readable dataset", path, ds);
        goto done;
    }
    ftype = H5Dget_type(d);
    space = H5Dget_space(d);
    if (ftype < 0 || space < 0) {
        st = mrb_error(MRB_ERR_INVALID, "%s: dataset %s: cannot read type or shape", path, ds);
        goto done;
    }
    mrb_dtype dt = MRB_F32;
    st = map_type(path, ds, ftype, &dt, &mem);
    if (st != MRB_OK) goto done;
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 1 || rank > MRB_MAX_DIMS) {
        st = mrb_error(rank == 0 ? MRB_ERR_INVALID : MRB_ERR_UNSUPPORTED,
                       "%s: dataset %s has rank %d (1 to %d supported)", path, ds, rank, MRB_MAX_DIMS);
        goto done;
    }
    hsize_t hd[MRB_MAX_DIMS] = {0};
    H5Sget_simple_extent_dims(space, hd, NULL);
    size_t dims[MRB_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        if (hd[i] == 0 || hd[i] > SIZE_MAX) {
            st = mrb_error(MRB_ERR_INVALID, "%s: dataset %s: axis %d has size %llu", path, ds, i,
                           (unsigned long long)hd[i]);
            goto done;
        }
        dims[rank - 1 - i] = (size_t)hd[i];
    }
    /* Sizes in the header are just numbers: checked against what the file
     * stores before allocating. */
    double elements = 1;
    for (int i = 0; i < rank; i++) elements *= (double)hd[i];
    char what[128];
    snprintf(what, sizeof what, "dataset %s", ds);
    st = mrb_io_h5_check_declared(d, elements * (double)H5Tget_size(ftype), path, what);
    if (st != MRB_OK) goto done;
    a = mrb_array_create(dt, rank, dims);
    if (!a) {
        st = mrb_error_context(MRB_ERR_INVALID, "%s: dataset %s", path, ds);
        goto done;
    }
    if (H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0) {
        st = mrb_error(MRB_ERR_IO, "%s: dataset %s: read failed (corrupt or truncated file)", path, ds);
        goto done;
    }
    *out = a;
    a = NULL;
done:
    mrb_array_free(a);
    close_id(mem, H5Tclose);
    close_id(ftype, H5Tclose);
    close_id(space, H5Sclose);
    close_id(d, H5Dclose);
    return st;
}

static mrb_status open_file(const char *path, hid_t *file)
{
    htri_t is = H5Fis_hdf5(path);
    if (is < 0) return mrb_error(MRB_ERR_IO, "%s: cannot open", path);
    if (is == 0) return mrb_error(MRB_ERR_INVALID, "%s: not an HDF5 file", path);
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0) return mrb_error(MRB_ERR_INVALID, "%s: cannot open as HDF5 (corrupt?)", path);
    return MRB_OK;
}

mrb_status mrb_h5_read_dataset(const char *path, const char *dataset, mrb_array **out)
{
    *out = NULL;
    h5_quiet q;
    quiet_begin(&q);
    hid_t file = -1;
    mrb_status st = open_file(path, &file);
    if (st == MRB_OK) st = read_dataset(file, path, dataset, out);
    close_id(file, H5Fclose);
    quiet_end(&q);
    return st;
}

int mrb_io_h5_has_dataset(const char *path, const char *name)
{
    h5_quiet q;
    quiet_begin(&q);
    int found = 0;
    if (H5Fis_hdf5(path) > 0) {
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (file >= 0) {
            found = H5Lexists(file, name, H5P_DEFAULT) > 0;
            H5Fclose(file);
        }
    }
    quiet_end(&q);
    return found;
}

/* ---- attributes ---- */

/* Reads a string attribute (fixed or variable length) into a new buffer. */
static mrb_status read_string_attr(hid_t obj, const char *path, const char *name, char **out)
{
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return MRB_OK;
    hid_t at = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = at >= 0 ? H5Aget_type(at) : -1;
    hid_t sp = at >= 0 ? H5Aget_space(at) : -1;
    hid_t mt = -1;
    mrb_status st = MRB_OK;
    if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_npoints(sp) != 1) {
        st = mrb_error(MRB_ERR_INVALID, "%s: attribute %s is not a single string", path, name);
        goto done;
    }
    if (H5Tis_variable_str(ft) > 0) {
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char *v = NULL;
        if (H5Aread(at, mt, &v) < 0 || !v) {
            st = mrb_error(MRB_ERR_INVALID, "%s: attribute %s: read failed", path, name);
            goto done;
        }
        size_t n = strnlen(v, H5_MAX_STRING_BYTES + 1);
        if (n <= H5_MAX_STRING_BYTES) *out = malloc(n + 1);
        if (*out) {
            memcpy(*out, v, n);
            (*out)[n] = '\0';
        }
        H5free_memory(v);
        if (n > H5_MAX_STRING_BYTES)
            st = mrb_error(MRB_ERR_INVALID, "%s: attribute %s is too long", path, name);
        else if (!*out)
            st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
    } else {
        size_t n = H5Tget_size(ft);
        if (n == 0 || n > H5_MAX_STRING_BYTES) {
            st = mrb_error(MRB_ERR_INVALID, "%s: attribute %s has size %zu", path, name, n);
            goto done;
        }
        mt = H5Tcopy(ft);
        char *buf = calloc(n + 1, 1);
        if (!buf) {
            st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        if (H5Aread(at, mt, buf) < 0) {
            free(buf);
            st = mrb_error(MRB_ERR_INVALID, "%s: attribute %s: read failed", path, name);
            goto done;
        }
        *out = buf;
    }
done:
    close_id(mt, H5Tclose);
    close_id(ft, H5Tclose);
    close_id(sp, H5Sclose);
    close_id(at, H5Aclose);
    return st;
}

static double read_number_attr(hid_t obj, const char *name)
{
    double v = NAN;
    if (H5Aexists(obj, name) <= 0) return v;
    hid_t at = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = at >= 0 ? H5Aget_type(at) : -1;
    hid_t sp = at >= 0 ? H5Aget_space(at) : -1;
    if (ft >= 0 && sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
        (H5Tget_class(ft) == H5T_FLOAT || H5Tget_class(ft) == H5T_INTEGER)) {
        if (H5Aread(at, H5T_NATIVE_DOUBLE, &v) < 0) v = NAN;
    }
    close_id(ft, H5Tclose);
    close_id(sp, H5Sclose);
    close_id(at, H5Aclose);
    return v;
}

static void copy_trunc(char *dst, size_t cap, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return;
    }
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void mrb_fastmri_meta_clear(mrb_fastmri_meta *meta)
{
    if (!meta) return;
    free(meta->ismrmrd_header);
    memset(meta, 0, sizeof *meta);
}

/* ---- fastMRI ---- */

/* fastMRI stores k-space as HDF5 [slices, (coils,) height, width] with the
 * readout along height and the phase-encoding lines along width (its masks
 * select width columns). Reversed, that is [width, height, (coils,) slices],
 * while mrbench wants [readout, phase, slices, coils]: each plane of the two
 * fastest axes is transposed and, with swap_outer, the next two axes are
 * swapped, (i, j, p, q) -> (j, i, q, p) (without: (j, i, p, q)). Applied to
 * its own result it gives the input back, so the writer uses it too. Missing
 * trailing axes count as 1; the result has `ndim` (3 or 4) axes. */
static inline void transpose_plane(char *restrict dst, const char *restrict src, size_t n0, size_t n1, size_t elem)
{
    for (size_t j = 0; j < n1; j++)
        for (size_t i = 0; i < n0; i++) memcpy(dst + (j + n1 * i) * elem, src + (i + n0 * j) * elem, elem);
}

static mrb_array *transpose_planes(const mrb_array *a, int swap_outer, int ndim)
{
    size_t n[4] = {1, 1, 1, 1};
    for (int i = 0; i < a->ndim && i < 4; i++) n[i] = a->dims[i];
    size_t dims[4] = {n[1], n[0], swap_outer ? n[3] : n[2], swap_outer ? n[2] : n[3]};
    mrb_array *b = mrb_array_create(a->dtype, ndim, dims);
    if (!b) return NULL;
    size_t elem = mrb_dtype_size(a->dtype), plane = n[0] * n[1] * elem;
    for (size_t q = 0; q < n[3]; q++)
        for (size_t p = 0; p < n[2]; p++) {
            size_t to = swap_outer ? q + n[3] * p : p + n[2] * q;
            char *dst = (char *)b->data + to * plane;
            const char *src = (const char *)a->data + (p + n[2] * q) * plane;
            /* constant element sizes let the copy inline (C64 k-space, F32 images) */
            if (elem == sizeof(float complex))
                transpose_plane(dst, src, n[0], n[1], sizeof(float complex));
            else if (elem == sizeof(float))
                transpose_plane(dst, src, n[0], n[1], sizeof(float));
            else
                transpose_plane(dst, src, n[0], n[1], elem);
        }
    return b;
}

mrb_status mrb_fastmri_read_image(const char *path, const char *dataset, mrb_array **out)
{
    *out = NULL;
    if (strcmp(dataset, FASTMRI_RSS) != 0 && strcmp(dataset, FASTMRI_ESC) != 0)
        return mrb_error(MRB_ERR_INVALID, "%s: %s is not a fastMRI reconstruction (%s or %s)", path, dataset,
                         FASTMRI_RSS, FASTMRI_ESC);
    mrb_array *r = NULL;
    MRB_TRY(mrb_h5_read_dataset(path, dataset, &r));
    if (r->dtype != MRB_F32 || r->ndim != 3) {
        mrb_status st = mrb_error(MRB_ERR_INVALID, "%s: %s must be float32 [slices, h, w], not %s with %d axes", path,
                                  dataset, mrb_dtype_name(r->dtype), r->ndim);
        mrb_array_free(r);
        return st;
    }
    *out = transpose_planes(r, 0, 3);
    mrb_array_free(r);
    return *out ? MRB_OK : mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
}

mrb_status mrb_fastmri_read(const char *path, mrb_array **kspace, mrb_array **recon, mrb_fastmri_meta *meta)
{
    *kspace = NULL;
    if (recon) *recon = NULL;
    if (meta) memset(meta, 0, sizeof *meta);
    h5_quiet q;
    quiet_begin(&q);
    hid_t file = -1;
    mrb_array *k = NULL, *r = NULL;
    char *hdr = NULL, *acq = NULL, *pid = NULL;
    mrb_status st = open_file(path, &file);
    if (st != MRB_OK) goto done;
    st = read_dataset(file, path, FASTMRI_KSPACE, &k);
    if (st != MRB_OK) goto done;
    if (k->dtype != MRB_C64 || (k->ndim != 3 && k->ndim != 4)) {
        st = mrb_error(MRB_ERR_INVALID, "%s: kspace must be complex64 [slices, (coils,) kx, ky], not %s with %d axes",
                       path, mrb_dtype_name(k->dtype), k->ndim);
        goto done;
    }
    int multicoil = k->ndim == 4;
    mrb_array *t = transpose_planes(k, multicoil, 4);
    if (!t) {
        st = mrb_error_context(MRB_ERR_NOMEM, "%s", path);
        goto done;
    }
    mrb_array_free(k);
    k = t;
    if (recon) {
        const char *name = H5Lexists(file, FASTMRI_RSS, H5P_DEFAULT) > 0   ? FASTMRI_RSS
                           : H5Lexists(file, FASTMRI_ESC, H5P_DEFAULT) > 0 ? FASTMRI_ESC
                                                                           : NULL;
        if (name) {
            st = read_dataset(file, path, name, &r);
            if (st != MRB_OK) goto done;
            if (r->dtype != MRB_F32 || r->ndim != 3 || r->dims[2] != k->dims[2]) {
                st = mrb_error(MRB_ERR_INVALID, "%s: %s must be float32 [slices, h, w] with %zu slices", path, name,
                               k->dims[2]);
                goto done;
            }
            mrb_array *rt = transpose_planes(r, 0, 3);
            if (!rt) {
                st = mrb_error_context(MRB_ERR_NOMEM, "%s", path);
                goto done;
            }
            mrb_array_free(r);
            r = rt;
        }
    }
    if (meta) {
        st = read_string_attr(file, path, FASTMRI_HEADER, &hdr);
        if (st == MRB_OK) st = read_string_attr(file, path, "acquisition", &acq);
        if (st == MRB_OK) st = read_string_attr(file, path, "patient_id", &pid);
        if (st != MRB_OK) goto done;
        meta->multicoil = multicoil;
        meta->ismrmrd_header = hdr;
        hdr = NULL;
        copy_trunc(meta->acquisition, sizeof meta->acquisition, acq);
        copy_trunc(meta->patient_id, sizeof meta->patient_id, pid);
        meta->max = read_number_attr(file, "max");
        meta->norm = read_number_attr(file, "norm");
    }
    *kspace = k;
    k = NULL;
    if (recon) {
        *recon = r;
        r = NULL;
    }
done:
    mrb_array_free(k);
    mrb_array_free(r);
    free(hdr);
    free(acq);
    free(pid);
    close_id(file, H5Fclose);
    quiet_end(&q);
    return st;
}

/* ---- writing ---- */

static mrb_status write_ds(hid_t file, const char *path, const char *ds, const mrb_array *a, const size_t *h5_dims,
                           int rank)
{
    hsize_t hd[MRB_MAX_DIMS] = {0};
    for (int i = 0; i < rank; i++) hd[i] = h5_dims[i];
    hid_t ft = -1, sp = -1, d = -1;
    mrb_status st = MRB_OK;
    switch (a->dtype) {
    case MRB_C64: ft = complex_type("r", "i"); break;
    case MRB_F32: ft = H5Tcopy(H5T_NATIVE_FLOAT); break;
    case MRB_F64: ft = H5Tcopy(H5T_NATIVE_DOUBLE); break;
    case MRB_U8: ft = H5Tcopy(H5T_NATIVE_UINT8); break;
    case MRB_I16: ft = H5Tcopy(H5T_NATIVE_INT16); break;
    case MRB_I32: ft = H5Tcopy(H5T_NATIVE_INT32); break;
    }
    sp = H5Screate_simple(rank, hd, NULL);
    if (ft < 0 || sp < 0) {
        st = mrb_error(MRB_ERR_IO, "%s: HDF5 type/space creation failed", path);
        goto done;
    }
    if (H5Lexists(file, ds, H5P_DEFAULT) > 0 && H5Ldelete(file, ds, H5P_DEFAULT) < 0) {
        st = mrb_error(MRB_ERR_IO, "%s: cannot replace dataset %s", path, ds);
        goto done;
    }
    d = H5Dcreate2(file, ds, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0)
        st = mrb_error(MRB_ERR_IO, "%s: cannot write dataset %s", path, ds);
done:
    close_id(d, H5Dclose);
    close_id(sp, H5Sclose);
    close_id(ft, H5Tclose);
    return st;
}

static mrb_status write_string_attr(hid_t file, const char *path, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = -1;
    mrb_status st = MRB_OK;
    if (t < 0 || sp < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        st = mrb_error(MRB_ERR_IO, "%s: HDF5 string type creation failed", path);
        goto done;
    }
    at = H5Acreate2(file, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (at < 0 || H5Awrite(at, t, &value) < 0) st = mrb_error(MRB_ERR_IO, "%s: cannot write attribute %s", path, name);
done:
    close_id(at, H5Aclose);
    close_id(sp, H5Sclose);
    close_id(t, H5Tclose);
    return st;
}

static hid_t create_file(const char *path, int truncate)
{
    if (!truncate && H5Fis_hdf5(path) > 0) return H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    return H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
}

mrb_status mrb_h5_write_dataset(const char *path, const char *dataset, const mrb_array *a, int truncate)
{
    if (!a || !a->data) return mrb_error(MRB_ERR_INVALID, "%s: no array to write", path);
    h5_quiet q;
    quiet_begin(&q);
    mrb_status st = MRB_OK;
    hid_t file = create_file(path, truncate);
    if (file < 0) {
        st = mrb_error(MRB_ERR_IO, "%s: cannot create or open as HDF5", path);
    } else {
        size_t hd[MRB_MAX_DIMS];
        for (int i = 0; i < a->ndim; i++) hd[i] = a->dims[a->ndim - 1 - i];
        st = write_ds(file, path, dataset, a, hd, a->ndim);
    }
    if (file >= 0 && H5Fclose(file) < 0 && st == MRB_OK)
        st = mrb_error(MRB_ERR_IO, "%s: closing the HDF5 file failed", path);
    quiet_end(&q);
    return st;
}

mrb_status mrb_fastmri_write(const char *path, const mrb_array *kspace, const mrb_array *recon,
                             const char *ismrmrd_header)
{
    if (!kspace || kspace->dtype != MRB_C64 || kspace->ndim < 2 || kspace->ndim > 4)
        return mrb_error(MRB_ERR_INVALID, "%s: kspace must be complex64 [nx, ny, ns, nc]", path);
    size_t nx = kspace->dims[0], ny = kspace->dims[1];
    size_t ns = kspace->ndim > 2 ? kspace->dims[2] : 1;
    size_t nc = kspace->ndim > 3 ? kspace->dims[3] : 1;
    if (recon && (recon->dtype != MRB_F32 || recon->ndim < 2 || recon->ndim > 3 ||
                  (recon->ndim == 3 ? recon->dims[2] : 1) != ns))
        return mrb_error(MRB_ERR_INVALID, "%s: recon must be float32 [h, w, %zu]", path, ns);
    h5_quiet q;
    quiet_begin(&q);
    mrb_status st = MRB_OK;
    mrb_array *kt = NULL, *rt = NULL;
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        st = mrb_error(MRB_ERR_IO, "%s: cannot create", path);
        goto done;
    }
    /* [nx, ny, ns, nc] -> [ny, nx, nc, ns], i.e. HDF5 [ns, (nc,) nx, ny] */
    kt = transpose_planes(kspace, nc > 1, 4);
    rt = recon ? transpose_planes(recon, 0, 3) : NULL;
    if (!kt || (recon && !rt)) {
        st = mrb_error_context(MRB_ERR_NOMEM, "%s", path);
        goto done;
    }
    if (nc > 1) {
        size_t hd[4] = {ns, nc, nx, ny};
        st = write_ds(file, path, FASTMRI_KSPACE, kt, hd, 4);
    } else {
        size_t hd[3] = {ns, nx, ny};
        st = write_ds(file, path, FASTMRI_KSPACE, kt, hd, 3);
    }
    if (st == MRB_OK && recon) {
        size_t hd[3] = {ns, recon->dims[0], recon->dims[1]};
        st = write_ds(file, path, nc > 1 ? FASTMRI_RSS : FASTMRI_ESC, rt, hd, 3);
    }
    if (st == MRB_OK && ismrmrd_header) st = write_string_attr(file, path, FASTMRI_HEADER, ismrmrd_header);
done:
    mrb_array_free(kt);
    mrb_array_free(rt);
    if (file >= 0 && H5Fclose(file) < 0 && st == MRB_OK)
        st = mrb_error(MRB_ERR_IO, "%s: closing the HDF5 file failed", path);
    quiet_end(&q);
    return st;
}
