/* HDF5: fastMRI files written by h5py read with the documented axis
 * mapping (readout = fastMRI height = mrbench dims[0]), attributes, round trips, h5py reading mrbench's files, and
 * generic datasets of every dtype. */
#include <complex.h>
#include <math.h>

#include "test_io_util.h"

/* fastMRI test files: kspace[s][c][h][w] = w + 10 h + 100 s + i (c + 1)
 * with HDF5 shape [2, coils, 6, 5] (height 6 = readout, width 5 = phase),
 * reconstruction[s][h][w] = w + 10 h + 100 s with shape [2, 4, 3]
 * (make_golden.py). Exact. */
static float complex kspace_value(size_t s, size_t c, size_t h, size_t w)
{
    return (float)(w + 10 * h + 100 * s) + (float)(c + 1) * I;
}

/* mrbench(x, y, s, c) = hdf5[s][c][x][y]: x runs along fastMRI's height
 * (readout), y along its width (phase-encoding lines). */
static void check_fastmri(const char *name, const mrb_array *k, const mrb_array *r, size_t nc, size_t coil_offset)
{
    cr_assert_eq(k->dtype, MRB_C64);
    cr_assert_eq(k->ndim, 4);
    cr_assert_eq(k->dims[0], 6u, "%s nx = height (readout)", name);
    cr_assert_eq(k->dims[1], 5u, "%s ny = width (phase encoding)", name);
    cr_assert_eq(k->dims[2], 2u, "%s nt = slices", name);
    cr_assert_eq(k->dims[3], nc, "%s nc = coils", name);
    const float complex *z = k->data;
    for (size_t c = 0; c < nc; c++)
        for (size_t s = 0; s < 2; s++)
            for (size_t y = 0; y < 5; y++)
                for (size_t x = 0; x < 6; x++) {
                    float complex v = z[x + 6 * (y + 5 * (s + 2 * c))];
                    cr_assert_eq(v, kspace_value(s, c + coil_offset, x, y), "%s (%zu,%zu,%zu,%zu)", name, x, y, s, c);
                }
    cr_assert_not_null(r, "%s recon", name);
    cr_assert_eq(r->dtype, MRB_F32);
    cr_assert_eq(r->ndim, 3);
    cr_assert_eq(r->dims[0], 4u, "%s recon h first, as k-space's readout", name);
    cr_assert_eq(r->dims[1], 3u, "%s recon w", name);
    cr_assert_eq(r->dims[2], 2u);
    const float *v = r->data;
    for (size_t s = 0; s < 2; s++)
        for (size_t y = 0; y < 3; y++)
            for (size_t x = 0; x < 4; x++)
                cr_assert_eq(v[x + 4 * (y + 3 * s)], (float)(y + 10 * x + 100 * s), "%s recon", name);
}

Test(io_h5, fastmri_multicoil_from_h5py,
     .description = "h5py kspace [slices, coils, height, width] becomes [height (readout), width "
                    "(phase), slices, coils] with mrbench(x,y,s,c) = hdf5[s][c][x][y]; recon [slices, h, w] "
                    "becomes [h, w, slices]; attributes read")
{
    mrb_array *k = NULL, *r = NULL;
    mrb_fastmri_meta meta;
    cr_assert_eq(mrb_fastmri_read(golden("fastmri_multicoil.h5"), &k, &r, &meta), MRB_OK, "%s", mrb_error_message());
    check_fastmri("multicoil", k, r, 3, 0);
    cr_assert_eq(meta.multicoil, 1);
    cr_assert_str_eq(meta.ismrmrd_header, "<?xml version=\"1.0\"?><ismrmrdHeader><encoding/></ismrmrdHeader>");
    cr_assert_str_eq(meta.acquisition, "CORPD_FBK");
    cr_assert_str_eq(meta.patient_id, "mrbench-synthetic");
    cr_assert_eq(meta.max, 0.5);
    cr_assert_eq(meta.norm, 12.25);
    mrb_fastmri_meta_clear(&meta);
    cr_assert_null(meta.ismrmrd_header);
    mrb_array_free(k);
    mrb_array_free(r);
}

Test(io_h5, fastmri_singlecoil_from_h5py,
     .description = "single-coil kspace [slices, height, width] becomes [height, width, slices, 1]; a "
                    "fixed-length string header attribute is read; absent attributes are NaN/empty")
{
    mrb_array *k = NULL, *r = NULL;
    mrb_fastmri_meta meta;
    cr_assert_eq(mrb_fastmri_read(golden("fastmri_singlecoil.h5"), &k, &r, &meta), MRB_OK, "%s", mrb_error_message());
    check_fastmri("singlecoil", k, r, 1, 1);
    cr_assert_eq(meta.multicoil, 0);
    cr_assert_not_null(strstr(meta.ismrmrd_header, "<ismrmrdHeader>"));
    cr_assert(isnan(meta.max));
    cr_assert_str_eq(meta.acquisition, "");
    mrb_fastmri_meta_clear(&meta);
    mrb_array_free(k);
    mrb_array_free(r);
}

/* mrbench [nx = 5, ny = 6, 2, nc]: fastMRI height 5, width 6. */
static mrb_array *make_kspace(size_t nc)
{
    const size_t dims[4] = {5, 6, 2, nc};
    mrb_array *k = mrb_array_create(MRB_C64, 4, dims);
    float complex *z = k->data;
    for (size_t c = 0; c < nc; c++)
        for (size_t s = 0; s < 2; s++)
            for (size_t y = 0; y < 6; y++)
                for (size_t x = 0; x < 5; x++) z[x + 5 * (y + 6 * (s + 2 * c))] = kspace_value(s, c, x, y);
    return k;
}

/* mrbench [h = 3, w = 4, 2]. */
static mrb_array *make_recon(void)
{
    mrb_array *r = mrb_array_create3(MRB_F32, 3, 4, 2);
    float *v = r->data;
    for (size_t s = 0; s < 2; s++)
        for (size_t y = 0; y < 4; y++)
            for (size_t x = 0; x < 3; x++) v[x + 3 * (y + 4 * s)] = (float)(y + 10 * x + 100 * s);
    return r;
}

Test(io_h5, fastmri_round_trip_and_h5py_reads_it,
     .description = "mrb_fastmri_write then read gives the same arrays; h5py (independent "
                    "reader) sees fastMRI's [slices, coils, height, width] layout with the readout "
                    "(mrbench nx) along height, and the recon as [slices, h, w]")
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    for (size_t nc = 1; nc <= 3; nc += 2) {
        char path[256];
        snprintf(path, sizeof path, "%s/fastmri_nc%zu.h5", dir, nc);
        mrb_array *k = make_kspace(nc), *r = make_recon();
        cr_assert_eq(mrb_fastmri_write(path, k, r, "<ismrmrdHeader/>"), MRB_OK, "%s", mrb_error_message());
        mrb_array *k2 = NULL, *r2 = NULL;
        mrb_fastmri_meta meta;
        cr_assert_eq(mrb_fastmri_read(path, &k2, &r2, &meta), MRB_OK, "%s", mrb_error_message());
        cr_assert(mrb_array_same_shape(k, k2));
        cr_assert_eq(memcmp(k->data, k2->data, mrb_array_bytes(k)), 0);
        cr_assert_eq(memcmp(r->data, r2->data, mrb_array_bytes(r)), 0);
        cr_assert_str_eq(meta.ismrmrd_header, "<ismrmrdHeader/>");
        cr_assert_eq(meta.multicoil, nc > 1);
        mrb_fastmri_meta_clear(&meta);
        if (have_debian_python("h5py, numpy")) {
            char cmd[512];
            snprintf(cmd, sizeof cmd, DEBIAN_PYTHON " %scheck_written.py fastmri %s 2 %zu 5 6 3 4", GOLDEN_IO, path,
                     nc);
            cr_assert_eq(system(cmd), 0, "h5py check of %s", path);
        }
        mrb_array_free(k);
        mrb_array_free(r);
        mrb_array_free(k2);
        mrb_array_free(r2);
    }
    tmpdir_remove(dir);
}

static const mrb_dtype all_dtypes[] = {MRB_U8, MRB_I16, MRB_I32, MRB_F32, MRB_F64, MRB_C64};

Test(io_h5, dataset_round_trip_every_dtype,
     .description = "mrb_h5_write_dataset/mrb_h5_read_dataset keep dtype, dims and bytes for "
                    "every dtype; several datasets share one file; a dataset is replaced")
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    char path[256];
    snprintf(path, sizeof path, "%s/all.h5", dir);
    const size_t dims[3] = {4, 3, 2};
    for (size_t t = 0; t < 6; t++) {
        mrb_array *a = mrb_array_create(all_dtypes[t], 3, dims);
        fill_formula(a);
        cr_assert_eq(mrb_h5_write_dataset(path, mrb_dtype_name(a->dtype), a, t == 0), MRB_OK, "%s",
                     mrb_error_message());
        mrb_array_free(a);
    }
    /* replace one dataset with a different shape */
    mrb_array *u = mrb_array_create2(MRB_F32, 7, 1);
    cr_assert_eq(mrb_h5_write_dataset(path, "float32", u, 0), MRB_OK, "%s", mrb_error_message());
    for (size_t t = 0; t < 6; t++) {
        mrb_array *a = mrb_array_create(all_dtypes[t], 3, dims);
        fill_formula(a);
        mrb_array *b = NULL;
        cr_assert_eq(mrb_h5_read_dataset(path, mrb_dtype_name(a->dtype), &b), MRB_OK, "%s", mrb_error_message());
        cr_assert_eq(b->dtype, a->dtype);
        if (a->dtype == MRB_F32) {
            cr_assert(mrb_array_same_shape(b, u));
        } else {
            cr_assert(mrb_array_same_shape(a, b));
            cr_assert_eq(memcmp(a->data, b->data, mrb_array_bytes(a)), 0);
        }
        mrb_array_free(a);
        mrb_array_free(b);
    }
    mrb_array_free(u);
    tmpdir_remove(dir);
}

Test(io_h5, h5py_bool_mask_reads_as_u8,
     .description = "h5py stores bool (fastMRI's `mask`) as an enum over int8: read as MRB_U8 0/1; "
                    "int64, which mrbench does not read, is refused naming the types it reads")
{
    if (!have_debian_python("h5py, numpy")) cr_skip_test("Debian's python3-h5py is not installed");
    char dir[64], path[256], cmd[768];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/mask.h5", dir);
    snprintf(cmd, sizeof cmd,
             DEBIAN_PYTHON " -c \"import h5py, numpy as np; f = h5py.File('%s', 'w'); "
                           "f['mask'] = np.array([1, 0, 0, 1, 1, 0], bool); f['i64'] = np.arange(3)\"",
             path);
    cr_assert_eq(system(cmd), 0, "h5py writes %s", path);
    mrb_array *m = NULL;
    cr_assert_eq(mrb_h5_read_dataset(path, "mask", &m), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(m->dtype, MRB_U8);
    cr_assert_eq(mrb_array_count(m), 6u);
    static const uint8_t want[6] = {1, 0, 0, 1, 1, 0};
    cr_expect_arr_eq(m->data, want, 6);
    mrb_array_free(m);
    m = NULL;
    cr_expect_eq(mrb_h5_read_dataset(path, "i64", &m), MRB_ERR_UNSUPPORTED);
    cr_expect_not_null(strstr(mrb_error_message(), "float32"), "%s", mrb_error_message());
    cr_expect_null(m);
    remove(path);
    tmpdir_remove(dir);
}
