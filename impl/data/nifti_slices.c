/* Real images from files: 2D slices of a NIfTI volume (e.g. the Colin27 T1
 * brain that Debian's mricron-data ships), centre-cropped, scaled to a
 * maximum of 1, with an optional smooth synthetic phase (as the fastMRI and
 * deep-cascade simulation studies give magnitude-only images), as complex
 * ground truth for simulated-k-space reconstruction. The manifest that names
 * the file records its SHA-256, which the suite loader verifies before use. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/data_internal.h"
#include "mrbench/io.h"

/* Smooth phase as the phantoms use it (modes up to 3, peak pi). */
#define FILE_PHASE_KMAX 3
#define FILE_PHASE_PEAK 3.14159265358979323846

static const mrb_param_spec file_params[] = {
    {"path", MRB_PARAM_STRING, 0, 0, 0, "/usr/share/mricron/templates/ch2.nii.gz", NULL,
     "NIfTI volume (the manifest pins its SHA-256)"},
    {"first_slice", MRB_PARAM_INT, 60, 0, 100000, NULL, NULL, "first slice along the third axis"},
    {"cases", MRB_PARAM_INT, 20, 1, 100000, NULL, NULL, "number of slices (items)"},
    {"slice_step", MRB_PARAM_INT, 3, 1, 1000, NULL, NULL, "slices between consecutive items"},
    {"crop_x", MRB_PARAM_INT, 0, 0, 4096, NULL, NULL,
     "centre crop along x (0: keep; an even size suits the FFT and wavelets)"},
    {"crop_y", MRB_PARAM_INT, 0, 0, 4096, NULL, NULL, "centre crop along y (0: keep)"},
    {"smooth_phase", MRB_PARAM_BOOL, 1, 0, 1, NULL, NULL, "multiply by a smooth random phase (peak pi)"},
};

static mrb_status file_generate(const mrb_params *p, uint64_t seed, size_t index, mrb_item *out)
{
    memset(out, 0, sizeof *out);
    size_t cases = (size_t)mrb_params_int(p, "cases");
    if (index >= cases)
        return mrb_error(MRB_ERR_INVALID, "nifti-slices: item %zu out of range (cases = %zu)", index, cases);
    const char *path = mrb_params_str(p, "path");
    mrb_array *vol = NULL;
    double spacing[3];
    MRB_TRY(mrb_image_read(path, &vol, spacing));
    mrb_status st = MRB_OK;
    size_t nx = vol->dims[0], ny = vol->ndim > 1 ? vol->dims[1] : 1, nz = vol->ndim > 2 ? vol->dims[2] : 1;
    size_t z = (size_t)mrb_params_int(p, "first_slice") + index * (size_t)mrb_params_int(p, "slice_step");
    size_t cx = (size_t)mrb_params_int(p, "crop_x"), cy = (size_t)mrb_params_int(p, "crop_y");
    if (cx == 0) cx = nx;
    if (cy == 0) cy = ny;
    if (vol->ndim > 3 && mrb_array_count(vol) != nx * ny * nz)
        st = mrb_error(MRB_ERR_INVALID, "%s: expected a 3-D volume", path);
    else if (z >= nz)
        st = mrb_error(MRB_ERR_INVALID, "%s: slice %zu of item %zu is beyond the volume's %zu slices", path, z, index,
                       nz);
    else if (cx > nx || cy > ny)
        st = mrb_error(MRB_ERR_INVALID, "%s: crop %zux%zu is larger than the slice %zux%zu", path, cx, cy, nx, ny);
    mrb_array *mag = st == MRB_OK ? mrb_array_magnitude(vol) : NULL;
    if (st == MRB_OK && !mag) st = MRB_ERR_NOMEM;
    mrb_array *img = st == MRB_OK ? mrb_array_create3(MRB_C64, cx, cy, 1) : NULL;
    if (st == MRB_OK && !img) st = MRB_ERR_NOMEM;
    if (st == MRB_OK) {
        const float *src = (const float *)mag->data + z * nx * ny;
        size_t x0 = (nx - cx) / 2, y0 = (ny - cy) / 2;
        float hi = 0;
        for (size_t y = 0; y < cy; y++)
            for (size_t x = 0; x < cx; x++) hi = fmaxf(hi, src[(y + y0) * nx + x + x0]);
        if (!(hi > 0)) st = mrb_error(MRB_ERR_INVALID, "%s: slice %zu is empty in the crop", path, z);
        float complex *d = img->data;
        for (size_t y = 0; y < cy && st == MRB_OK; y++)
            for (size_t x = 0; x < cx; x++) d[y * cx + x] = src[(y + y0) * nx + x + x0] / hi;
    }
    if (st == MRB_OK && mrb_params_bool(p, "smooth_phase"))
        st = mrb_data_apply_smooth_phase(img, mrb_seed_derive(seed, "file-phase", index), FILE_PHASE_KMAX,
                                         FILE_PHASE_PEAK);
    mrb_array_free(mag);
    mrb_array_free(vol);
    if (st != MRB_OK) {
        mrb_array_free(img);
        return st;
    }
    out->image = img;
    out->spacing[0] = spacing[0];
    out->spacing[1] = spacing[1];
    out->spacing[2] = spacing[2];
    snprintf(out->id, sizeof out->id, "slice-%04zu", z);
    return MRB_OK;
}

const mrb_dataset_desc mrb_dataset_nifti_slices = {
    .name = "nifti-slices",
    .description = "2D slices of a real NIfTI volume (e.g. Debian mricron-data's Colin27 T1), cropped, max 1, smooth "
                   "synthetic phase",
    .params = file_params,
    .nparams = sizeof file_params / sizeof file_params[0],
    .count = mrb_data_count_cases,
    .generate = file_generate,
};
