/* Every committed bad file (tests/golden/io/bad/, made by make_golden.py)
 * is refused with the expected status and a message that names the file
 * and the problem; no array is returned. Leaks on these exit paths are
 * caught when the suite runs under AddressSanitizer (LeakSanitizer). */
#include "test_io_util.h"

typedef enum reader { R_NIFTI, R_CFL, R_FASTMRI, R_ISMRMRD, R_IMAGE } reader;

typedef struct bad_case {
    const char *file;
    reader how;
    mrb_status status;
    const char *message; /* substring of the error message */
} bad_case;

static const bad_case bad_cases[] = {
    /* NIfTI-1 */
    {"truncated_header.nii", R_NIFTI, MRB_ERR_INVALID, "header truncated (200 of 348 bytes"},
    {"truncated_data.nii", R_NIFTI, MRB_ERR_INVALID, "data truncated"},
    {"wrong_magic.nii", R_NIFTI, MRB_ERR_INVALID, "bad magic"},
    {"pair_magic.nii", R_NIFTI, MRB_ERR_UNSUPPORTED, "separate .hdr/.img pair"},
    {"dim0_zero.nii", R_NIFTI, MRB_ERR_INVALID, "dim[0] = 0 (1 to 7 allowed)"},
    {"dim0_eight.nii", R_NIFTI, MRB_ERR_INVALID, "dim[0] = 8 (1 to 7 allowed)"},
    {"dim_zero.nii", R_NIFTI, MRB_ERR_INVALID, "dim[2] = 0 is not positive"},
    {"dim_negative.nii", R_NIFTI, MRB_ERR_INVALID, "dim[1] = -5 is not positive"},
    {"dims_overflow.nii", R_NIFTI, MRB_ERR_INVALID, "dims overflow"},
    {"unknown_datatype.nii", R_NIFTI, MRB_ERR_INVALID, "unknown datatype code 999"},
    {"unsupported_rgb24.nii", R_NIFTI, MRB_ERR_UNSUPPORTED, "datatype rgb24 (code 128) is not supported"},
    {"bitpix_mismatch.nii", R_NIFTI, MRB_ERR_INVALID, "bitpix 32 does not match datatype int16"},
    {"vox_offset_small.nii", R_NIFTI, MRB_ERR_INVALID, "bad vox_offset 100"},
    {"vox_offset_fraction.nii", R_NIFTI, MRB_ERR_INVALID, "bad vox_offset 352.5"},
    {"vox_offset_beyond.nii", R_NIFTI, MRB_ERR_INVALID, "data truncated"},
    {"vox_offset_nan.nii", R_NIFTI, MRB_ERR_INVALID, "bad vox_offset"},
    {"pixdim_inf.nii", R_NIFTI, MRB_ERR_INVALID, "pixdim[1] is not finite"},
    {"sizeof_hdr.nii", R_NIFTI, MRB_ERR_INVALID, "not a NIfTI file (sizeof_hdr 123"},
    {"empty.nii", R_NIFTI, MRB_ERR_INVALID, "empty file"},
    /* gzip */
    {"gzip_truncated.nii.gz", R_NIFTI, MRB_ERR_INVALID, "gzip stream truncated"},
    {"gzip_bad_crc.nii.gz", R_NIFTI, MRB_ERR_INVALID, "incorrect data check"},
    {"gzip_garbage.nii.gz", R_NIFTI, MRB_ERR_INVALID, "corrupt gzip stream"},
    {"gzip_no_trailer.nii.gz", R_NIFTI, MRB_ERR_INVALID, "gzip stream truncated"},
    {"gzip_claims_huge.nii.gz", R_NIFTI, MRB_ERR_INVALID, "the file holds (gzip, at most)"},
    /* NIfTI-2 */
    {"nifti2_truncated_header.nii", R_NIFTI, MRB_ERR_INVALID, "header truncated (400 of 540 bytes"},
    {"nifti2_dims_overflow.nii", R_NIFTI, MRB_ERR_INVALID, "overflow"},
    {"nifti2_vox_offset_negative.nii", R_NIFTI, MRB_ERR_INVALID, "bad vox_offset -8"},
    {"nifti2_dim_negative.nii", R_NIFTI, MRB_ERR_INVALID, "dim[1] = -1 is not positive"},
    /* BART */
    {"cfl_size_mismatch", R_CFL, MRB_ERR_INVALID, ".cfl size mismatch: the .hdr dims need 160 bytes, the .cfl has 128"},
    {"cfl_garbage_hdr", R_CFL, MRB_ERR_INVALID, "text before the first '#' section (garbage)"},
    {"cfl_no_dims", R_CFL, MRB_ERR_INVALID, "no \"# Dimensions\" section"},
    {"cfl_dim_zero", R_CFL, MRB_ERR_INVALID, "dimension 1 is 0"},
    {"cfl_dim_negative", R_CFL, MRB_ERR_INVALID, "bad character '-'"},
    {"cfl_dims_overflow", R_CFL, MRB_ERR_INVALID, "dims overflow"},
    {"cfl_too_many_dims", R_CFL, MRB_ERR_INVALID, "more than 16 dimensions"},
    {"cfl_binary_hdr", R_CFL, MRB_ERR_INVALID, "NUL byte"},
    {"cfl_missing_data", R_CFL, MRB_ERR_IO, "cfl_missing_data.cfl: cannot open"},
    {"cfl_empty_hdr", R_CFL, MRB_ERR_INVALID, ".hdr is empty"},
    {"cfl_dims_twice", R_CFL, MRB_ERR_INVALID, "dimensions given twice"},
    {"cfl_nine_axes", R_CFL, MRB_ERR_UNSUPPORTED, "9 axes"},
    /* HDF5 */
    {"not_hdf5.h5", R_FASTMRI, MRB_ERR_INVALID, "not an HDF5 file"},
    {"h5_no_kspace.h5", R_FASTMRI, MRB_ERR_INVALID, "no dataset 'kspace'"},
    {"h5_kspace_float.h5", R_FASTMRI, MRB_ERR_INVALID, "kspace must be complex64"},
    {"h5_kspace_int64.h5", R_FASTMRI, MRB_ERR_UNSUPPORTED, "signed 8-byte integers"},
    {"h5_rss_wrong_slices.h5", R_FASTMRI, MRB_ERR_INVALID, "reconstruction_esc must be float32"},
    {"h5_truncated.h5", R_FASTMRI, MRB_ERR_INVALID, "h5_truncated.h5"},
    /* ISMRMRD */
    {"ismrmrd_samples_mismatch.h5", R_ISMRMRD, MRB_ERR_INVALID, "has 3 samples x 1 channels, earlier ones 8 x 1"},
    {"ismrmrd_step1_outside.h5", R_ISMRMRD, MRB_ERR_INVALID, "kspace_encode_step_1 = 40 outside the encoded matrix"},
    {"ismrmrd_3d_encoding.h5", R_ISMRMRD, MRB_ERR_UNSUPPORTED, "3-D encoding"},
    {"ismrmrd_data_short.h5", R_ISMRMRD, MRB_ERR_INVALID, "holds 14 floats, its header needs 16"},
    {"ismrmrd_no_data.h5", R_ISMRMRD, MRB_ERR_INVALID, "no ISMRMRD dataset /dataset/data"},
    {"ismrmrd_data_not_compound.h5", R_ISMRMRD, MRB_ERR_INVALID, "not a 1-D compound dataset"},
    /* generic dispatch */
    {"missing_file.nii", R_IMAGE, MRB_ERR_IO, "missing_file.nii: cannot open"},
    {"unknown.xyz", R_IMAGE, MRB_ERR_UNSUPPORTED, "unknown image format"},
    {"missing_base", R_IMAGE, MRB_ERR_IO, "missing_base: cannot open: no such file (nor "},
};

/* The repository must hold at least this many bad files (task spec). */
#define MIN_BAD_FILES 20

Test(io_bad, every_bad_file_is_refused_with_its_message,
     .description = "each bad file gives its expected status, no array, and a message naming "
                    "the file and the problem")
{
    size_t n = sizeof bad_cases / sizeof bad_cases[0];
    cr_assert_geq(n, MIN_BAD_FILES);
    for (size_t i = 0; i < n; i++) {
        const bad_case *c = &bad_cases[i];
        char path[1024];
        snprintf(path, sizeof path, "%sbad/%s", GOLDEN_IO, c->file);
        mrb_array *a = (mrb_array *)&path; /* any non-NULL value: must be reset */
        mrb_array *recon = (mrb_array *)&path;
        mrb_error_clear();
        mrb_status st = MRB_OK;
        switch (c->how) {
        case R_NIFTI: st = mrb_nifti_read(path, &a, NULL); break;
        case R_CFL: st = mrb_cfl_read(path, &a); break;
        case R_FASTMRI: {
            mrb_fastmri_meta meta;
            st = mrb_fastmri_read(path, &a, &recon, &meta);
            cr_assert_null(meta.ismrmrd_header, "%s: meta left allocated", c->file);
            cr_assert_null(recon, "%s: recon returned on error", c->file);
            break;
        }
        case R_ISMRMRD: {
            st = mrb_ismrmrd_read(path, 0, &a, &recon);
            cr_assert_null(recon, "%s: mask returned on error", c->file);
            break;
        }
        case R_IMAGE: st = mrb_image_read(path, &a, NULL); break;
        }
        const char *msg = mrb_error_message();
        cr_assert_eq(st, c->status, "%s: status %s (%s), expected %s", c->file, mrb_status_name(st), msg,
                     mrb_status_name(c->status));
        cr_assert_null(a, "%s: array returned on error", c->file);
        cr_assert_not_null(strstr(msg, c->message), "%s: message \"%s\" lacks \"%s\"", c->file, msg, c->message);
        const char *base = c->file;
        char stem[256];
        snprintf(stem, sizeof stem, "%s", base);
        char *dot = strstr(stem, ".");
        if (dot) *dot = '\0';
        cr_assert_not_null(strstr(msg, stem), "%s: message \"%s\" does not name the file", c->file, msg);
    }
}

Test(io_bad, every_committed_bad_file_is_in_the_table,
     .description = "no bad file in tests/golden/io/bad/ goes untested")
{
    DIR *d = opendir(GOLDEN_IO "bad");
    cr_assert_not_null(d);
    struct dirent *e;
    size_t count = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char stem[256];
        snprintf(stem, sizeof stem, "%s", e->d_name);
        /* a .hdr/.cfl pair is one entry, named without the extension */
        size_t sl = strlen(stem);
        if (sl > 4 && (strcmp(stem + sl - 4, ".hdr") == 0 || strcmp(stem + sl - 4, ".cfl") == 0)) stem[sl - 4] = '\0';
        int found = 0;
        for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
            if (strcmp(bad_cases[i].file, stem) == 0) found = 1;
        cr_assert(found, "bad/%s has no expected error in the table", e->d_name);
        count++;
    }
    closedir(d);
    cr_assert_geq(count, MIN_BAD_FILES);
}

Test(io_bad, truncation_at_every_length_is_refused,
     .description = "every proper prefix of a valid .nii and .nii.gz is refused without a "
                    "crash or an array (exhaustive truncation)")
{
    static const char *names[] = {"nib_i16.nii", "nib_c64.nii.gz", "nib2_i32.nii.gz"};
    for (size_t f = 0; f < 3; f++) {
        FILE *fp = fopen(golden(names[f]), "rb");
        cr_assert_not_null(fp);
        unsigned char buf[4096];
        size_t len = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        mrb_array *a = NULL;
        cr_assert_eq(mrb_nifti_read_mem(buf, len, names[f], &a, NULL), MRB_OK);
        mrb_array_free(a);
        for (size_t cut = 0; cut < len; cut++) {
            mrb_status st = mrb_nifti_read_mem(buf, cut, names[f], &a, NULL);
            cr_assert_eq(st, MRB_ERR_INVALID, "%s cut at %zu: %s", names[f], cut, mrb_error_message());
            cr_assert_null(a);
        }
    }
}

Test(io_bad, hdf5_dataset_declaring_more_than_it_stores_is_refused,
     .description = "a few-kB HDF5 file whose kspace, image or ISMRMRD acquisitions declare "
                    "petabytes (chunks never written) is refused before anything is allocated")
{
    /* Found by tests/fuzz/fuzz_h5.c: the readers allocated whatever the
     * dataspace declared (a 2 kB file asked for 10^17 bytes; under
     * AddressSanitizer an abort, otherwise gigabytes zeroed or NOMEM). */
    if (!have_debian_python("h5py, numpy")) cr_skip_test("needs " DEBIAN_PYTHON " with h5py (python3-h5py)");
    char dir[64], cmd[2048];
    tmpdir_make(dir, sizeof dir);
    snprintf(
        cmd, sizeof cmd,
        DEBIAN_PYTHON
        " - '%s' <<'EOF'\n"
        "import sys, h5py, numpy as np\n"
        "d = sys.argv[1]\n"
        "with h5py.File(d + '/kspace.h5', 'w') as f:\n"
        "    f.create_dataset('kspace', shape=(1 << 16, 1 << 16, 1 << 16), dtype=np.complex64, chunks=(1, 1, 64))\n"
        "    f.create_dataset('image', shape=(1 << 20, 1 << 20), dtype=np.float32, chunks=(1, 64))\n"
        "vf = h5py.vlen_dtype(np.dtype('<f4'))\n"
        "head = np.dtype([('flags', '<u8'), ('number_of_samples', '<u2'), ('active_channels', '<u2')])\n"
        "with h5py.File(d + '/ismrmrd.h5', 'w') as f:\n"
        "    f.create_group('dataset').create_dataset('data', shape=(1 << 40,), chunks=(1,),\n"
        "                                             dtype=[('head', head), ('data', vf)])\n"
        "EOF\n",
        dir);
    cr_assert_eq(system(cmd), 0, "h5py could not write the files");
    char path[128];
    snprintf(path, sizeof path, "%s/kspace.h5", dir);
    mrb_array *a = NULL, *b = NULL;
    mrb_fastmri_meta meta;
    cr_expect_eq(mrb_fastmri_read(path, &a, &b, &meta), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "dataset kspace declares 2251799813685248 bytes but stores 0"), "%s",
                       mrb_error_message());
    cr_expect(a == NULL && b == NULL);
    cr_expect_eq(mrb_h5_read_dataset(path, "image", &a), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "but stores 0, more than deflate"), "%s", mrb_error_message());
    cr_expect_null(a);
    snprintf(path, sizeof path, "%s/ismrmrd.h5", dir);
    cr_expect_eq(mrb_ismrmrd_read(path, 0, &a, &b), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "/dataset/data declares"), "%s", mrb_error_message());
    cr_expect(a == NULL && b == NULL);
    tmpdir_remove(dir);
}

Test(io_bad, hdf5_datasets_that_store_little_but_are_legitimate_are_read,
     .description = "a dataset never written (reads as zeros), one read through its fill value, and "
                    "a virtual dataset (data in another file) store nothing themselves and are read")
{
    /* The check against stored bytes applies above MRB_IO_UNCHECKED_BYTES
     * only, and never to virtual datasets. */
    if (!have_debian_python("h5py, numpy")) cr_skip_test("needs " DEBIAN_PYTHON " with h5py (python3-h5py)");
    char dir[64], cmd[2048];
    tmpdir_make(dir, sizeof dir);
    snprintf(cmd, sizeof cmd,
             DEBIAN_PYTHON " - '%s' <<'EOF'\n"
                           "import sys, h5py, numpy as np\n"
                           "d = sys.argv[1]\n"
                           "with h5py.File(d + '/never.h5', 'w') as f:\n"
                           "    f.create_dataset('image', shape=(64, 64), dtype=np.float32)\n"
                           "with h5py.File(d + '/fill.h5', 'w') as f:\n"
                           "    f.create_dataset('image', shape=(64, 64), dtype=np.float32, fillvalue=1.0)\n"
                           "with h5py.File(d + '/src.h5', 'w') as f:\n"
                           "    f['x'] = np.full((64, 64), 2.0, np.float32)\n"
                           "layout = h5py.VirtualLayout(shape=(64, 64), dtype=np.float32)\n"
                           "layout[:] = h5py.VirtualSource(d + '/src.h5', 'x', shape=(64, 64))\n"
                           "with h5py.File(d + '/vds.h5', 'w') as f:\n"
                           "    f.create_virtual_dataset('image', layout)\n"
                           "EOF\n",
             dir);
    cr_assert_eq(system(cmd), 0, "h5py could not write the files");
    const char *names[3] = {"never", "fill", "vds"};
    const float want[3] = {0.0f, 1.0f, 2.0f};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s.h5", dir, names[i]);
        mrb_array *a = NULL;
        cr_expect_eq(mrb_h5_read_dataset(path, "image", &a), MRB_OK, "%s: %s", names[i], mrb_error_message());
        if (!a) continue;
        cr_expect_eq(mrb_array_count(a), 64 * 64, "%s", names[i]);
        const float *v = a->data;
        cr_expect(a->dtype == MRB_F32 && v[0] == want[i] && v[64 * 64 - 1] == want[i], "%s: %g, want %g", names[i],
                  (double)v[0], (double)want[i]);
        mrb_array_free(a);
    }
    tmpdir_remove(dir);
}

Test(io_bad, hdf5_compound_member_outside_the_type_is_refused,
     .description = "a complex kspace whose member 'i' has its offset corrupted to 2^31 + 4 is "
                    "refused; libhdf5 1.10.8 decodes such a type and its conversion crashes")
{
    /* Found by tests/fuzz/fuzz_h5.c: SEGV in libhdf5's H5T__conv_struct_opt
     * under mrb_fastmri_read's H5Dread. */
    if (!have_debian_python("h5py, numpy")) cr_skip_test("needs " DEBIAN_PYTHON " with h5py (python3-h5py)");
    char dir[64], cmd[1024], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/compound.h5", dir);
    snprintf(cmd, sizeof cmd,
             DEBIAN_PYTHON
             " - '%s' <<'EOF'\n"
             "import sys, h5py, numpy as np\n"
             "with h5py.File(sys.argv[1], 'w') as f:\n"
             "    f.create_dataset('kspace', data=np.ones((2, 3, 4), np.complex64))\n"
             "b = open(sys.argv[1], 'rb').read()\n"
             "member_i = b'i' + bytes(7) + bytes([4, 0, 0, 0])  # name padded to 8, offset 4 (compound v1)\n"
             "assert b.count(member_i) == 1\n"
             "open(sys.argv[1], 'wb').write(b.replace(member_i, b'i' + bytes(7) + bytes([4, 0, 0, 0x80])))\n"
             "EOF\n",
             path);
    cr_assert_eq(system(cmd), 0, "h5py could not write %s", path);
    mrb_array *a = NULL, *b = NULL;
    mrb_fastmri_meta meta;
    cr_expect_eq(mrb_fastmri_read(path, &a, &b, &meta), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "dataset kspace: corrupt compound type"), "%s", mrb_error_message());
    cr_expect(a == NULL && b == NULL);
    cr_expect_eq(mrb_h5_read_dataset(path, "kspace", &a), MRB_ERR_INVALID);
    cr_expect_null(a);
    tmpdir_remove(dir);
}
