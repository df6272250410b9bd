/* mrbench file formats: NIfTI-1/2, BART .cfl/.hdr, fastMRI and ISMRMRD HDF5,
 * PNG output.
 *
 * Every reader validates what it reads (header sizes against the file
 * length, dims > 0, size products that do not overflow, known datatypes,
 * complete gzip streams) and returns MRB_ERR_INVALID (bad content),
 * MRB_ERR_IO (cannot open/read/write), MRB_ERR_UNSUPPORTED (valid but not
 * handled) or MRB_ERR_NOMEM, with a message that names the file and the
 * problem. On error *out is NULL and nothing is leaked. Arrays returned
 * through `out` are owned by the caller (mrb_array_free).
 *
 * Axis order: mrbench dims[0] varies fastest, as in NIfTI and BART, so
 * NIfTI dim[1..n] and BART dims map one to one. HDF5 is C order (last index
 * fastest); the HDF5 readers reverse or permute axes as documented below. */
#ifndef MRBENCH_IO_H
#define MRBENCH_IO_H

#include <stddef.h>
#include <stdint.h>
#include "array.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ NIfTI */

/* NIfTI header fields that survive a read/write round trip. Matrices are
 * row-major 4x4 (x' = m[0][0] x + m[0][1] y + m[0][2] z + m[0][3]). */
typedef struct mrb_nifti_meta {
    int version;      /* 1 or 2; on write 0 means 1 */
    int datatype;     /* NIfTI datatype code of the file (read only) */
    int swapped;      /* 1 when the file was opposite-endian (read only) */
    int ndim;         /* dim[0] (read only) */
    int64_t dim[8];   /* dim[0..7] as stored (read only) */
    double pixdim[8]; /* pixdim[0] = qfac (+-1), pixdim[1..7] spacing */
    int qform_code;   /* 0 unknown, 1 scanner, 2 aligned, 3 talairach, 4 mni */
    int sform_code;
    double quatern[3];  /* quatern_b, c, d */
    double qoffset[3];  /* qoffset_x, y, z */
    double qform[4][4]; /* from the quaternion, pixdim and qfac (read only) */
    double sform[4][4]; /* srow_x, srow_y, srow_z, then 0 0 0 1 */
    double scl_slope;   /* as stored (read only: data are returned scaled) */
    double scl_inter;
    int xyzt_units;
    int intent_code;
    char descrip[81];
} mrb_nifti_meta;

/* NIfTI-1 meta for an image at `spacing` mm (NULL: 1 mm): qform and sform
 * codes 1 (scanner), identity rotation, sform diag(spacing), no offset. */
void mrb_nifti_meta_default(mrb_nifti_meta *meta, const double spacing[3]);

/* Reads a .nii or .nii.gz (gzip detected from the content, not the name),
 * NIfTI-1 or NIfTI-2, either endianness. Datatypes: uint8 -> MRB_U8,
 * int16 -> MRB_I16, int32 -> MRB_I32, float32 -> MRB_F32, float64 ->
 * MRB_F64, complex64 -> MRB_C64; int8 -> MRB_I16 and uint16 -> MRB_I32
 * (widened, exact). Other datatype codes known to NIfTI give
 * MRB_ERR_UNSUPPORTED; unknown codes MRB_ERR_INVALID.
 * Scaling: when scl_slope is finite, non-zero, and (slope, inter) is not
 * (1, 0), real data are returned scaled, value * slope + inter, as MRB_F32
 * (MRB_F64 for float64 data); complex data are never scaled (NIfTI-1
 * standard). The array has dim[0] axes of sizes dim[1..dim[0]].
 * `meta` may be NULL. */
mrb_status mrb_nifti_read(const char *path, mrb_array **out, mrb_nifti_meta *meta);
/* The same from bytes in memory (the file's content, gzipped or not);
 * `name` is used in messages. */
mrb_status mrb_nifti_read_mem(const void *buf, size_t len, const char *name, mrb_array **out, mrb_nifti_meta *meta);
/* Writes `a` (any mrbench dtype, up to 7 axes) as NIfTI-1 (meta->version
 * 2: NIfTI-2), gzip-compressed (level 1, as nibabel) when the path ends in
 * ".gz". meta NULL:
 * mrb_nifti_meta_default(1 mm). Spacing comes from meta->pixdim[1..7],
 * the sform and qform from meta; no scaling (slope 0) is written. */
mrb_status mrb_nifti_write(const char *path, const mrb_array *a, const mrb_nifti_meta *meta);

/* ------------------------------------------------------------------ BART */

/* BART's maximum number of dimensions in .hdr files (BART misc/mri.h DIMS). */
#define MRB_CFL_DIMS 16

/* Reads base.hdr and base.cfl (a trailing ".cfl" or ".hdr" on `base` is
 * accepted). The data must be exactly 8 * prod(dims) bytes of little-endian
 * complex float. Trailing singleton dims are dropped (at least one axis is
 * kept); more than MRB_MAX_DIMS non-singleton leading axes give
 * MRB_ERR_UNSUPPORTED. Result: MRB_C64. */
mrb_status mrb_cfl_read(const char *base, mrb_array **out);
/* The same from the .hdr text and the .cfl bytes in memory. */
mrb_status mrb_cfl_read_mem(const char *hdr, size_t hdr_len, const void *cfl, size_t cfl_len, const char *name,
                            mrb_array **out);
/* Writes base.hdr ("# Dimensions" with 16 dims, then "# Command" with
 * `command` when it is not NULL, newlines replaced by spaces) and base.cfl.
 * Real arrays are converted to complex. */
mrb_status mrb_cfl_write(const char *base, const mrb_array *a, const char *command);

/* ------------------------------------------------------------------ HDF5 */

/* fastMRI layout (fastMRI's data README and paper, Zbontar et al. 2018):
 * dataset `kspace` complex64 [slices, coils, height, width] (multi-coil) or
 * [slices, height, width] (single-coil), HDF5 C order, with the readout
 * (frequency encoding, 2x oversampled: 640 in the knee data) along height
 * and the phase-encoding lines along width: fastMRI's masks, and a file's
 * own `mask` dataset of shape (width,), select width columns. mrbench
 * k-space is MRB_C64 [nx = height (readout), ny = width (phase encoding),
 * nt = slices, nc = coils] (nc = 1 single-coil), i.e.
 * mrbench(x, y, s, c) = hdf5[s][c][x][y], so that mrbench's line masks and
 * a fastMRI `mask` read as [ny] lines sample the same columns.
 * `reconstruction_rss` or `reconstruction_esc` float32 [slices, h, w]
 * becomes MRB_F32 [h, w, slices] (mrbench(x, y, s) = hdf5[s][x][y]), the
 * image axes matching the k-space axes. Complex HDF5 data are the compound
 * {r: float32, i: float32} that h5py writes. A dataset named in
 * `file.h5#dataset` (mrb_h5_read_dataset) only has its axes reversed;
 * mrb_image_read reads a fastMRI file's `#kspace` and `#reconstruction_*`
 * in the fastMRI orientation above. */
typedef struct mrb_fastmri_meta {
    int multicoil;        /* 1: kspace was 4-D */
    char *ismrmrd_header; /* attribute `ismrmrd_header` or NULL; owned */
    char acquisition[64]; /* attribute `acquisition` or "" */
    char patient_id[128]; /* attribute `patient_id` or "" */
    double max;           /* attribute `max` or NaN */
    double norm;          /* attribute `norm` or NaN */
} mrb_fastmri_meta;
void mrb_fastmri_meta_clear(mrb_fastmri_meta *meta); /* frees, zeroes */

/* kspace required; recon (NULL to skip) gets reconstruction_rss or
 * reconstruction_esc, or stays NULL when the file has neither. */
mrb_status mrb_fastmri_read(const char *path, mrb_array **kspace, mrb_array **recon, mrb_fastmri_meta *meta);
/* One reconstruction dataset (reconstruction_rss or reconstruction_esc)
 * alone, as mrb_fastmri_read gives it: MRB_F32 [h, w, slices]. */
mrb_status mrb_fastmri_read_image(const char *path, const char *dataset, mrb_array **out);
/* The inverse of mrb_fastmri_read: kspace MRB_C64 [nx, ny, ns, nc] is
 * written as HDF5 [ns, nc, nx, ny] (nc = 1: single-coil [ns, nx, ny] and
 * recon as reconstruction_esc; nc > 1: reconstruction_rss). recon MRB_F32
 * [h, w, ns] (HDF5 [ns, h, w]) or NULL; ismrmrd_header may be NULL. */
mrb_status mrb_fastmri_write(const char *path, const mrb_array *kspace, const mrb_array *recon,
                             const char *ismrmrd_header);

/* Any numeric HDF5 dataset (integer, float, or {r, i} compound) with the
 * axes reversed (mrbench dims[0] = the last HDF5 axis). Integer and float
 * datasets keep their class: uint8, int16, int32, float32, float64 map to
 * the mrbench dtypes, other integer widths give MRB_ERR_UNSUPPORTED. */
mrb_status mrb_h5_read_dataset(const char *path, const char *dataset, mrb_array **out);
/* Writes `a` as dataset `dataset` (created, or the file replaced when
 * `truncate` is 1), axes reversed; MRB_C64 as the {r, i} compound. */
mrb_status mrb_h5_write_dataset(const char *path, const char *dataset, const mrb_array *a, int truncate);

/* ISMRMRD raw data (ISMRMRD 1.x HDF5: compound acquisitions in
 * /dataset/data, XML header in /dataset/xml, as
 * ismrmrd_generate_cartesian_shepp_logan writes) into Cartesian k-space
 * MRB_C64 [nx, ny, nslices, nc]: nx = number_of_samples (readout
 * oversampling kept), ny = encodedSpace matrixSize y of the XML header
 * (max kspace_encode_step_1 + 1 without one), nslices = max slice + 1,
 * nc = active_channels. Only acquisitions of `repetition` are used;
 * noise, navigation, phase-correction, feedback, dummy-scan and
 * surface-coil-correction acquisitions are skipped; parallel-calibration
 * lines are kept (they are k-space samples); a line with the reverse flag
 * is flipped along the readout; a line acquired twice keeps the last.
 * Lines never acquired stay 0. mask (may be NULL) gets MRB_F32
 * [nx, ny, nslices], 1 on acquired lines. 3-D encodings
 * (kspace_encode_step_2 > 0) give MRB_ERR_UNSUPPORTED. */
mrb_status mrb_ismrmrd_read(const char *path, unsigned repetition, mrb_array **kspace, mrb_array **mask);

/* ------------------------------------------------------------------ generic */

/* Reads any supported image by the file name: *.nii, *.nii.gz (NIfTI),
 * *.cfl, *.hdr starting with '#' or a base name with base.cfl present
 * (BART), *.h5[#dataset] (HDF5: the named dataset, axes reversed; with no
 * name, in this order: fastMRI `kspace` as above, the dataset `image` that
 * mrb_image_write writes, ISMRMRD raw data (repetition 0) as
 * mrb_ismrmrd_read).
 * spacing (may be NULL) gets mm per voxel along dims 0..2: NIfTI's |pixdim|
 * in the header's spatial units (metre, mm, micron; unknown taken as mm),
 * 0 where the header gives 0 (unknown: callers that need distances refuse
 * it); 1 for the other formats and for axes beyond the image's. */
mrb_status mrb_image_read(const char *path, mrb_array **out, double spacing[3]);
/* Writes by the file name: *.nii, *.nii.gz (NIfTI-1 at `spacing`, NULL:
 * 1 mm), *.cfl or a name without extension (BART), *.h5[#dataset] (dataset
 * `image` when none is named; the file is replaced), *.png (2-D real
 * arrays, grey, windowed to the array's min..max). */
mrb_status mrb_image_write(const char *path, const mrb_array *a, const double spacing[3]);

/* ------------------------------------------------------------------ PNG */

/* 8-bit grey PNG of img[y * w + x] (x fastest, row y = 0 at the top);
 * values are windowed linearly, lo -> 0 and hi -> 255, clamped; NaN -> 0.
 * Requires hi > lo. */
mrb_status mrb_png_write_gray(const char *path, const float *img, size_t w, size_t h, float lo, float hi);
/* 8-bit RGB PNG of rgb[3 * (y * w + x) + channel]. */
mrb_status mrb_png_write_rgb(const char *path, const uint8_t *rgb, size_t w, size_t h);
/* Grey image windowed as mrb_png_write_gray, with labels[y * w + x] > 0
 * blended on top: out = (1 - alpha) * grey + alpha * colour(label).
 * Colours: matplotlib's "tab10" qualitative table, label 1 = blue
 * (31,119,180), 2 orange (255,127,14), 3 green (44,160,44), 4 red
 * (214,39,40), 5 purple (148,103,189), 6 brown (140,86,75), 7 pink
 * (227,119,194), 8 grey (127,127,127), 9 olive (188,189,34), 10 cyan
 * (23,190,207); label l > 10 uses colour ((l - 1) mod 10) + 1. Label 0 is
 * background (grey only). alpha in [0, 1]. */
mrb_status mrb_png_overlay_labels(const char *path, const float *img, const uint8_t *labels, size_t w, size_t h,
                                  float lo, float hi, float alpha);
/* The colour of label l (l >= 1) as above. */
void mrb_png_label_colour(unsigned label, uint8_t rgb[3]);

#ifdef __cplusplus
}
#endif
#endif
