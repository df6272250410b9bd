/* Generic image read/write: the file name picks the format; spacing comes
 * from NIfTI pixdim. */
#include <math.h>

#include "test_io_util.h"

#define TOL_SPACING 1e-6

Test(io_image, read_dispatches_on_the_name,
     .description = ".nii, .nii.gz, .cfl, .hdr, bare BART base, fastMRI and ISMRMRD .h5 and "
                    ".h5#dataset read through mrb_image_read with the format's arrays and spacing")
{
    double sp[3];
    mrb_array *a = NULL;
    cr_assert_eq(mrb_image_read(golden("nib_i16.nii"), &a, sp), MRB_OK, "%s", mrb_error_message());
    cr_assert(fabs(sp[0] - 1.5) < TOL_SPACING && fabs(sp[1] - 2.0) < TOL_SPACING && fabs(sp[2] - 2.5) < TOL_SPACING);
    mrb_array_free(a);
    cr_assert_eq(mrb_image_read(golden("nib_u8.nii.gz"), &a, sp), MRB_OK);
    cr_assert_eq(a->dtype, MRB_U8);
    mrb_array_free(a);
    static const char *bart[] = {"bart_phantom64", "bart_phantom64.cfl", "bart_phantom64.hdr"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(mrb_image_read(golden(bart[i]), &a, sp), MRB_OK, "%s: %s", bart[i], mrb_error_message());
        cr_assert_eq(a->dims[0], 64u);
        cr_assert_eq(sp[0], 1.0);
        mrb_array_free(a);
    }
    cr_assert_eq(mrb_image_read(golden("fastmri_multicoil.h5"), &a, NULL), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(a->ndim, 4);
    cr_assert_eq(a->dims[3], 3u, "fastMRI kspace with coils last");
    mrb_array_free(a);
    /* a fastMRI file's reconstruction named with # reads as mrb_fastmri_read gives it: [h, w, slices] */
    cr_assert_eq(mrb_image_read(golden("fastmri_multicoil.h5#reconstruction_rss"), &a, NULL), MRB_OK);
    cr_assert_eq(a->dtype, MRB_F32);
    cr_assert(a->dims[0] == 4u && a->dims[1] == 3u && a->dims[2] == 2u, "fastMRI orientation");
    cr_assert_eq(((const float *)a->data)[1], 10.0f, "hdf5[0][1][0] = x + 10 y with y = 1");
    mrb_array_free(a);
    cr_assert_eq(mrb_image_read(golden("ismrmrd_noiseless.h5"), &a, NULL), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(a->ndim, 4);
    cr_assert_eq(a->dims[0], 16u, "ISMRMRD readout samples");
    cr_assert_eq(a->dims[3], 2u, "ISMRMRD channels");
    mrb_array_free(a);
    cr_assert_eq(mrb_image_read(golden("nibabel_standard.nii.gz.hdr"), &a, NULL), MRB_ERR_IO);
}

Test(io_image, write_then_read_each_format,
     .description = "mrb_image_write to .nii (with spacing), .nii.gz, .cfl, bare base, .h5, "
                    ".h5#name reads back equal through mrb_image_read; .png is a valid PNG")
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    mrb_array *a = mrb_array_create3(MRB_F32, 6, 5, 1);
    fill_formula(a);
    const double spacing[3] = {0.5, 0.75, 3.0};
    static const char *names[] = {"a.nii", "a.nii.gz", "b.cfl", "c", "d.h5", "e.h5#vol"};
    for (int i = 0; i < 6; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cr_assert_eq(mrb_image_write(path, a, spacing), MRB_OK, "%s: %s", names[i], mrb_error_message());
        mrb_array *b = NULL;
        double sp[3];
        cr_assert_eq(mrb_image_read(path, &b, sp), MRB_OK, "%s: %s", names[i], mrb_error_message());
        for (size_t k = 0; k < 30; k++) cr_assert_eq(value_at(b, k), value_at(a, k), "%s %zu", names[i], k);
        if (i < 2)
            cr_assert(fabs(sp[0] - 0.5) < TOL_SPACING && fabs(sp[1] - 0.75) < TOL_SPACING, "%s spacing", names[i]);
        mrb_array_free(b);
    }
    char png[256];
    snprintf(png, sizeof png, "%s/f.png", dir);
    cr_assert_eq(mrb_image_write(png, a, NULL), MRB_OK, "%s", mrb_error_message());
    FILE *f = fopen(png, "rb");
    unsigned char sig[8];
    cr_assert_eq(fread(sig, 1, 8, f), 8u);
    fclose(f);
    cr_assert_eq(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0);
    char bad[256];
    snprintf(bad, sizeof bad, "%s/x.unknown", dir);
    cr_assert_eq(mrb_image_write(bad, a, NULL), MRB_ERR_UNSUPPORTED);
    mrb_array_free(a);
    tmpdir_remove(dir);
}

Test(io_image, hash_in_a_folder_name_is_not_a_dataset_separator,
     .description = "\"/tmp/x#y/a.h5\" names the file a.h5 in folder x#y, not dataset y/a.h5")
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mrb_io#test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/a.h5", dir);
    mrb_array *a = mrb_array_create2(MRB_I16, 3, 2);
    fill_formula(a);
    cr_assert_eq(mrb_image_write(path, a, NULL), MRB_OK, "%s", mrb_error_message());
    mrb_array *b = NULL;
    cr_assert_eq(mrb_image_read(path, &b, NULL), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(memcmp(a->data, b->data, mrb_array_bytes(a)), 0);
    mrb_array_free(a);
    mrb_array_free(b);
    tmpdir_remove(dir);
}
