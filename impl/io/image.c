/* Reading and writing images by file name, for command-line tools that
 * accept any supported format. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_internal.h"
#include "mrbench/io.h"

/* Separates an HDF5 file name from a dataset name: "file.h5#dataset". */
#define H5_DATASET_SEPARATOR '#'
/* Dataset written by mrb_image_write to an .h5 without a dataset name. */
#define H5_DEFAULT_DATASET "image"

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Splits "x.h5#ds" into a new file name and a pointer to ds (NULL when
 * absent); returns NULL when the name is not an HDF5 name. */
static char *split_h5(const char *path, const char **dataset)
{
    *dataset = NULL;
    const char *hash = strrchr(path, H5_DATASET_SEPARATOR);
    size_t n = hash ? (size_t)(hash - path) : strlen(path);
    char *file = malloc(strlen(path) + 1);
    if (!file) return NULL;
    memcpy(file, path, n);
    file[n] = '\0';
    if (mrb_io_ends_with(file, ".h5") || mrb_io_ends_with(file, ".hdf5")) {
        if (hash && hash[1]) *dataset = hash + 1;
        return file;
    }
    /* a '#' elsewhere in the name (a folder "a#b/x.h5") is part of it */
    strcpy(file, path);
    if (hash && (mrb_io_ends_with(file, ".h5") || mrb_io_ends_with(file, ".hdf5"))) return file;
    free(file);
    return NULL;
}

static int is_h5_name(const char *path)
{
    const char *ds;
    char *f = split_h5(path, &ds);
    free(f);
    return f != NULL;
}

/* A .hdr that starts with '#' is BART's; NIfTI headers start with a binary
 * sizeof_hdr. A file that cannot be opened counts as BART's, so that the
 * BART reader reports why. */
static int hdr_is_bart(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    int c = fgetc(f);
    fclose(f);
    return c == '#';
}

static mrb_status read_h5(const char *path, mrb_array **out)
{
    const char *ds = NULL;
    char *file = split_h5(path, &ds);
    if (!file) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
    mrb_status st;
    int fastmri = ds && mrb_io_h5_has_dataset(file, "kspace");
    if (fastmri && strcmp(ds, "kspace") == 0) {
        st = mrb_fastmri_read(file, out, NULL, NULL);
    } else if (fastmri && strncmp(ds, "reconstruction_", 15) == 0) {
        st = mrb_fastmri_read_image(file, ds, out);
    } else if (ds) {
        st = mrb_h5_read_dataset(file, ds, out);
    } else if (mrb_io_h5_has_dataset(file, "kspace")) {
        st = mrb_fastmri_read(file, out, NULL, NULL);
    } else if (mrb_io_h5_has_dataset(file, H5_DEFAULT_DATASET)) {
        st = mrb_h5_read_dataset(file, H5_DEFAULT_DATASET, out);
    } else if (mrb_io_h5_has_dataset(file, "/dataset/data")) {
        st = mrb_ismrmrd_read(file, 0, out, NULL);
    } else {
        st = mrb_fastmri_read(file, out, NULL, NULL);
    }
    free(file);
    return st;
}

mrb_status mrb_image_read(const char *path, mrb_array **out, double spacing[3])
{
    *out = NULL;
    if (spacing)
        for (int i = 0; i < 3; i++) spacing[i] = 1.0;
    if (!path || !*path) return mrb_error(MRB_ERR_INVALID, "image: empty file name");
    if (mrb_io_ends_with(path, ".nii") || mrb_io_ends_with(path, ".nii.gz")) {
        mrb_nifti_meta meta;
        MRB_TRY(mrb_nifti_read(path, out, &meta));
        if (spacing) {
            /* NIfTI xyzt_units bits 0-2: 1 metre, 2 mm, 3 micron, 0 unknown (taken as mm) */
            int units = meta.xyzt_units & 7;
            double to_mm = units == 1 ? 1000.0 : units == 3 ? 1e-3 : 1.0;
            for (int i = 0; i < 3 && i < meta.ndim; i++) spacing[i] = fabs(meta.pixdim[i + 1]) * to_mm;
        }
        return MRB_OK;
    }
    if (is_h5_name(path)) return read_h5(path, out);
    if (mrb_io_ends_with(path, ".cfl")) return mrb_cfl_read(path, out);
    if (mrb_io_ends_with(path, ".hdr")) {
        if (hdr_is_bart(path)) return mrb_cfl_read(path, out);
        return mrb_error(MRB_ERR_UNSUPPORTED, "%s: not a BART header (Analyze/NIfTI .hdr/.img pairs are not supported)",
                         path);
    }
    size_t n = strlen(path);
    char *cfl = malloc(n + 5);
    if (!cfl) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
    memcpy(cfl, path, n);
    strcpy(cfl + n, ".cfl");
    int exists = file_exists(cfl);
    free(cfl);
    if (exists) return mrb_cfl_read(path, out);
    if (!file_exists(path)) return mrb_error(MRB_ERR_IO, "%s: cannot open: no such file (nor %s.cfl)", path, path);
    return mrb_error(MRB_ERR_UNSUPPORTED, "%s: unknown image format (expected .nii, .nii.gz, .cfl/.hdr, .h5)", path);
}

static mrb_status write_png_auto(const char *path, const mrb_array *a)
{
    if (a->dtype == MRB_C64 || a->ndim > 3 || (a->ndim == 3 && a->dims[2] != 1))
        return mrb_error(MRB_ERR_INVALID, "%s: PNG needs a real 2-D array", path);
    mrb_array *f = mrb_array_magnitude(a);
    if (!f) return mrb_error_context(MRB_ERR_NOMEM, "%s", path);
    const float *v = f->data;
    size_t n = mrb_array_count(f);
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    if (!(hi > lo)) {
        /* constant or empty image: a window around it keeps it grey-level 0 */
        lo = isfinite(lo) ? lo : 0.0f;
        hi = lo + 1.0f;
    }
    mrb_status st = mrb_png_write_gray(path, v, a->dims[0], a->ndim > 1 ? a->dims[1] : 1, lo, hi);
    mrb_array_free(f);
    return st;
}

mrb_status mrb_image_write(const char *path, const mrb_array *a, const double spacing[3])
{
    if (!path || !*path) return mrb_error(MRB_ERR_INVALID, "image: empty file name");
    if (!a) return mrb_error(MRB_ERR_INVALID, "%s: no array to write", path);
    if (mrb_io_ends_with(path, ".nii") || mrb_io_ends_with(path, ".nii.gz")) {
        mrb_nifti_meta meta;
        mrb_nifti_meta_default(&meta, spacing);
        return mrb_nifti_write(path, a, &meta);
    }
    if (mrb_io_ends_with(path, ".png")) return write_png_auto(path, a);
    if (is_h5_name(path)) {
        const char *ds = NULL;
        char *file = split_h5(path, &ds);
        if (!file) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", path);
        mrb_status st = mrb_h5_write_dataset(file, ds ? ds : H5_DEFAULT_DATASET, a, 1);
        free(file);
        return st;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (mrb_io_ends_with(path, ".cfl") || mrb_io_ends_with(path, ".hdr") || !strchr(base, '.'))
        return mrb_cfl_write(path, a, NULL);
    return mrb_error(MRB_ERR_UNSUPPORTED, "%s: unknown image format (expected .nii, .nii.gz, .cfl, .h5, .png)", path);
}
