/* ISMRMRD raw data (HDF5) into Cartesian k-space.
 *
 * Layout: ISMRMRD 1.x (ismrmrd/ismrmrd.h, dataset.c): group /dataset with
 * `data`, a 1-D array of the compound {head: AcquisitionHeader, traj:
 * vlen float, data: vlen float}, and `xml`, the XML header as one
 * variable-length string. An acquisition's data are complex float
 * [active_channels][number_of_samples] (samples fastest). */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "mrbench/io.h"

#define ISMRMRD_GROUP "/dataset"
#define ISMRMRD_DATA "/dataset/data"
#define ISMRMRD_XML "/dataset/xml"

/* Acquisition flags (ismrmrd.h, ISMRMRD_AcquisitionFlags; bit = flag - 1). */
#define ACQ_FLAG(n) (UINT64_C(1) << ((n)-1))
#define ACQ_IS_NOISE_MEASUREMENT ACQ_FLAG(19)
#define ACQ_IS_REVERSE ACQ_FLAG(22)
#define ACQ_IS_NAVIGATION_DATA ACQ_FLAG(23)
#define ACQ_IS_PHASECORR_DATA ACQ_FLAG(24)
#define ACQ_IS_HPFEEDBACK_DATA ACQ_FLAG(26)
#define ACQ_IS_DUMMYSCAN_DATA ACQ_FLAG(27)
#define ACQ_IS_RTFEEDBACK_DATA ACQ_FLAG(28)
#define ACQ_IS_SURFACECOILCORRECTIONSCAN_DATA ACQ_FLAG(29)
/* Acquisitions that are not k-space samples of the image. */
#define ACQ_NOT_IMAGE                                                                                                  \
    (ACQ_IS_NOISE_MEASUREMENT | ACQ_IS_NAVIGATION_DATA | ACQ_IS_PHASECORR_DATA | ACQ_IS_HPFEEDBACK_DATA |              \
     ACQ_IS_DUMMYSCAN_DATA | ACQ_IS_RTFEEDBACK_DATA | ACQ_IS_SURFACECOILCORRECTIONSCAN_DATA)
/* The XML header is a few kB; anything longer than this is not one. */
#define ISMRMRD_XML_MAX_BYTES (16u << 20)
/* encodedSpace/matrixSize/y is an xs:unsignedShort (ismrmrd.xsd). */
#define ISMRMRD_MATRIX_MAX 65535
/* k-space lines (ny x slices) per acquired line, for k-space larger than
 * MRB_IO_UNCHECKED_BYTES. Lines never acquired stay 0, and undersampling in
 * use is at most ~16 (32 with partial Fourier), but slice indices need not
 * start at 0 (a file split per slice keeps its index): up to that size any
 * layout is taken. Beyond it, more than 1024 lines per acquired line are not
 * this file's data, and allocating them would let a few kB of header ask
 * for any amount of memory (the same bound as deflate's maximum ratio in the
 * NIfTI and HDF5 readers). */
#define ISMRMRD_MAX_LINES_PER_ACQUIRED 1024

typedef struct acq_idx {
    uint16_t step1, step2, slice, repetition;
} acq_idx;
typedef struct acq_head {
    uint64_t flags;
    uint16_t number_of_samples;
    uint16_t active_channels;
    acq_idx idx;
} acq_head;
typedef struct acq_mem {
    acq_head head;
    hvl_t data;
} acq_mem;

typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static void close_id(hid_t id, herr_t (*fn)(hid_t))
{
    if (id >= 0) fn(id);
}

/* The memory type: just the fields used; HDF5 converts by member name. */
static hid_t acq_type(hid_t *parts)
{
    parts[0] = H5Tcreate(H5T_COMPOUND, sizeof(acq_idx));
    H5Tinsert(parts[0], "kspace_encode_step_1", HOFFSET(acq_idx, step1), H5T_NATIVE_UINT16);
    H5Tinsert(parts[0], "kspace_encode_step_2", HOFFSET(acq_idx, step2), H5T_NATIVE_UINT16);
    H5Tinsert(parts[0], "slice", HOFFSET(acq_idx, slice), H5T_NATIVE_UINT16);
    H5Tinsert(parts[0], "repetition", HOFFSET(acq_idx, repetition), H5T_NATIVE_UINT16);
    parts[1] = H5Tcreate(H5T_COMPOUND, sizeof(acq_head));
    H5Tinsert(parts[1], "flags", HOFFSET(acq_head, flags), H5T_NATIVE_UINT64);
    H5Tinsert(parts[1], "number_of_samples", HOFFSET(acq_head, number_of_samples), H5T_NATIVE_UINT16);
    H5Tinsert(parts[1], "active_channels", HOFFSET(acq_head, active_channels), H5T_NATIVE_UINT16);
    H5Tinsert(parts[1], "idx", HOFFSET(acq_head, idx), parts[0]);
    parts[2] = H5Tvlen_create(H5T_NATIVE_FLOAT);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(acq_mem));
    H5Tinsert(t, "head", HOFFSET(acq_mem, head), parts[1]);
    H5Tinsert(t, "data", HOFFSET(acq_mem, data), parts[2]);
    return t;
}

/* encodedSpace/matrixSize/y of the XML header, or 0 when absent. */
static long xml_encoded_y(const char *xml)
{
    const char *enc = strstr(xml, "<encodedSpace>");
    const char *end = enc ? strstr(enc, "</encodedSpace>") : NULL;
    const char *mat = enc ? strstr(enc, "<matrixSize>") : NULL;
    const char *y = mat ? strstr(mat, "<y>") : NULL;
    if (!y || !end || y > end) return 0;
    char *stop = NULL;
    long v = strtol(y + 3, &stop, 10);
    if (!stop || strncmp(stop, "</y>", 4) != 0 || v <= 0) return 0;
    return v;
}

static long read_xml_y(hid_t file)
{
    if (H5Lexists(file, ISMRMRD_XML, H5P_DEFAULT) <= 0) return 0;
    hid_t d = H5Dopen2(file, ISMRMRD_XML, H5P_DEFAULT);
    hid_t ft = d >= 0 ? H5Dget_type(d) : -1;
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hid_t mt = -1;
    long y = 0;
    if (ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0 &&
        H5Sget_simple_extent_npoints(sp) == 1) {
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        /* libhdf5 does not convert between character sets: read UTF-8 (as
         * h5py writes strings) as UTF-8, ASCII (the ISMRMRD library) as ASCII */
        H5Tset_cset(mt, H5Tget_cset(ft));
        char *xml = NULL;
        if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &xml) >= 0 && xml) {
            if (strnlen(xml, ISMRMRD_XML_MAX_BYTES) < ISMRMRD_XML_MAX_BYTES) y = xml_encoded_y(xml);
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, &xml);
        }
    }
    close_id(mt, H5Tclose);
    close_id(ft, H5Tclose);
    close_id(sp, H5Sclose);
    close_id(d, H5Dclose);
    return y;
}

typedef struct geometry {
    size_t nx, ny, nslices, nc;
} geometry;

/* Checks every image acquisition of the repetition and finds the geometry. */
static mrb_status scan(const char *path, const acq_mem *acq, size_t n, unsigned rep, long xml_y, geometry *g)
{
    size_t used = 0, max_y = 0, max_slice = 0;
    for (size_t i = 0; i < n; i++) {
        const acq_head *h = &acq[i].head;
        if ((h->flags & ACQ_NOT_IMAGE) || h->idx.repetition != rep) continue;
        if (h->number_of_samples == 0 || h->active_channels == 0)
            return mrb_error(MRB_ERR_INVALID, "%s: acquisition %zu has %u samples and %u channels", path, i,
                             h->number_of_samples, h->active_channels);
        if (used == 0) {
            g->nx = h->number_of_samples;
            g->nc = h->active_channels;
        } else if (h->number_of_samples != g->nx || h->active_channels != g->nc) {
            return mrb_error(MRB_ERR_INVALID,
                             "%s: acquisition %zu has %u samples x %u channels, earlier ones %zu x "
                             "%zu (not Cartesian)",
                             path, i, h->number_of_samples, h->active_channels, g->nx, g->nc);
        }
        if ((uint64_t)acq[i].data.len != 2u * (uint64_t)g->nx * g->nc || !acq[i].data.p)
            return mrb_error(MRB_ERR_INVALID, "%s: acquisition %zu holds %zu floats, its header needs %zu", path, i,
                             (size_t)acq[i].data.len, 2 * g->nx * g->nc);
        if (h->idx.step2 != 0)
            return mrb_error(MRB_ERR_UNSUPPORTED, "%s: acquisition %zu: 3-D encoding (kspace_encode_step_2 = %u)", path,
                             i, h->idx.step2);
        if (h->idx.step1 > max_y) max_y = h->idx.step1;
        if (h->idx.slice > max_slice) max_slice = h->idx.slice;
        used++;
    }
    if (used == 0) return mrb_error(MRB_ERR_INVALID, "%s: no image acquisitions with repetition %u", path, rep);
    if (xml_y > ISMRMRD_MATRIX_MAX)
        return mrb_error(MRB_ERR_INVALID, "%s: XML header: encodedSpace matrixSize y = %ld (at most %d)", path, xml_y,
                         ISMRMRD_MATRIX_MAX);
    g->ny = xml_y > 0 ? (size_t)xml_y : max_y + 1;
    if (max_y >= g->ny)
        return mrb_error(MRB_ERR_INVALID, "%s: kspace_encode_step_1 = %zu outside the encoded matrix (y = %zu)", path,
                         max_y, g->ny);
    g->nslices = max_slice + 1;
    double kspace_bytes = (double)g->ny * (double)g->nslices * (double)g->nx * (double)g->nc * 2 * sizeof(float);
    if (kspace_bytes > MRB_IO_UNCHECKED_BYTES &&
        (double)g->ny * (double)g->nslices > (double)used * ISMRMRD_MAX_LINES_PER_ACQUIRED)
        return mrb_error(MRB_ERR_INVALID,
                         "%s: %zu acquired lines for a k-space of %zu lines x %zu slices (more than %d lines "
                         "per acquired line)",
                         path, used, g->ny, g->nslices, ISMRMRD_MAX_LINES_PER_ACQUIRED);
    return MRB_OK;
}

mrb_status mrb_ismrmrd_read(const char *path, unsigned repetition, mrb_array **kspace, mrb_array **mask)
{
    *kspace = NULL;
    if (mask) *mask = NULL;
    h5_quiet q;
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = -1, d = -1, ft = -1, sp = -1, mt = -1, parts[3] = {-1, -1, -1};
    acq_mem *acq = NULL;
    int have_vlen = 0;
    mrb_array *k = NULL, *m = NULL;
    mrb_status st = MRB_OK;
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        st = is < 0 ? mrb_error(MRB_ERR_IO, "%s: cannot open", path)
                    : mrb_error(MRB_ERR_INVALID, "%s: not an HDF5 file", path);
        goto done;
    }
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        st = mrb_error(MRB_ERR_INVALID, "%s: cannot open as HDF5 (corrupt?)", path);
        goto done;
    }
    if (H5Lexists(file, ISMRMRD_GROUP, H5P_DEFAULT) <= 0 || H5Lexists(file, ISMRMRD_DATA, H5P_DEFAULT) <= 0) {
        st = mrb_error(MRB_ERR_INVALID, "%s: no ISMRMRD dataset %s", path, ISMRMRD_DATA);
        goto done;
    }
    d = H5Dopen2(file, ISMRMRD_DATA, H5P_DEFAULT);
    ft = d >= 0 ? H5Dget_type(d) : -1;
    sp = d >= 0 ? H5Dget_space(d) : -1;
    if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_COMPOUND || H5Sget_simple_extent_ndims(sp) != 1) {
        st = mrb_error(MRB_ERR_INVALID, "%s: %s is not a 1-D compound dataset of acquisitions", path, ISMRMRD_DATA);
        goto done;
    }
    if (!mrb_io_h5_type_sane(ft)) {
        st = mrb_error(MRB_ERR_INVALID, "%s: %s: corrupt compound type (a member lies outside it)", path, ISMRMRD_DATA);
        goto done;
    }
    hssize_t npts = H5Sget_simple_extent_npoints(sp);
    /* the extent is just a number in the header: checked against what the
     * file stores before the acquisitions are allocated */
    if (npts <= 0 || (uint64_t)npts > SIZE_MAX / sizeof(acq_mem)) {
        st = mrb_error(MRB_ERR_INVALID, "%s: %s declares %lld acquisitions", path, ISMRMRD_DATA, (long long)npts);
        goto done;
    }
    st = mrb_io_h5_check_declared(d, (double)npts * (double)sizeof(acq_mem), path, ISMRMRD_DATA);
    if (st != MRB_OK) goto done;
    size_t n = (size_t)npts;
    mt = acq_type(parts);
    acq = calloc(n, sizeof *acq);
    if (mt < 0 || parts[0] < 0 || parts[1] < 0 || parts[2] < 0 || !acq) {
        st = mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, acq) < 0) {
        st = mrb_error(MRB_ERR_INVALID, "%s: %s: cannot read acquisitions (not ISMRMRD headers, or corrupt)", path,
                       ISMRMRD_DATA);
        goto done;
    }
    have_vlen = 1;
    geometry g = {0, 0, 0, 0};
    st = scan(path, acq, n, repetition, read_xml_y(file), &g);
    if (st != MRB_OK) goto done;
    size_t kd[4] = {g.nx, g.ny, g.nslices, g.nc};
    k = mrb_array_create(MRB_C64, 4, kd);
    m = mask ? mrb_array_create(MRB_F32, 3, kd) : NULL;
    if (!k || (mask && !m)) {
        st = mrb_error_context(MRB_ERR_NOMEM, "%s", path);
        goto done;
    }
    float *kz = k->data;
    for (size_t i = 0; i < n; i++) {
        const acq_head *h = &acq[i].head;
        if ((h->flags & ACQ_NOT_IMAGE) || h->idx.repetition != repetition) continue;
        const float *src = acq[i].data.p;
        int reverse = (h->flags & ACQ_IS_REVERSE) != 0;
        size_t y = h->idx.step1, z = h->idx.slice;
        for (size_t c = 0; c < g.nc; c++)
            for (size_t s = 0; s < g.nx; s++) {
                size_t xs = reverse ? g.nx - 1 - s : s;
                size_t dst = xs + g.nx * (y + g.ny * (z + g.nslices * c));
                kz[2 * dst] = src[2 * (c * g.nx + s)];
                kz[2 * dst + 1] = src[2 * (c * g.nx + s) + 1];
            }
        if (m)
            for (size_t s = 0; s < g.nx; s++) ((float *)m->data)[s + g.nx * (y + g.ny * z)] = 1.0f;
    }
    *kspace = k;
    k = NULL;
    if (mask) {
        *mask = m;
        m = NULL;
    }
done:
    if (have_vlen) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, acq);
    free(acq);
    mrb_array_free(k);
    mrb_array_free(m);
    close_id(mt, H5Tclose);
    for (int i = 2; i >= 0; i--) close_id(parts[i], H5Tclose);
    close_id(ft, H5Tclose);
    close_id(sp, H5Sclose);
    close_id(d, H5Dclose);
    close_id(file, H5Fclose);
    H5Eset_auto2(H5E_DEFAULT, q.func, q.data);
    return st;
}
