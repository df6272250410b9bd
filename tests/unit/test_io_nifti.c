/* NIfTI-1/2 reader and writer: files written by nibabel (an independent
 * implementation) read voxel for voxel, header geometry as nibabel reports
 * it, round trips of every dtype, and nibabel reading mrbench's files. */
#include <cjson/cJSON.h>
#include <math.h>
#include <zlib.h>

#include "test_io_util.h"

/* float32 header fields (NIfTI-1 stores pixdim, srow, quatern as float). */
#define TOL_HEADER_F32 1e-5
/* qform: for a quaternion with 1 - (b^2 + c^2 + d^2) below 1e-7, the NIfTI
 * reference library (nifti1_io.c nifti_quatern_to_mat44, followed here)
 * sets a = 0 while nibabel takes sqrt(1 - |q|^2): elements then differ by up
 * to sqrt(1e-7) * pixdim, i.e. < 1e-3 for pixdim <= 3 mm. */
#define TOL_QFORM_VS_NIBABEL 1e-3
/* Scaled data are returned as float32: nibabel scales in float64, so
 * values and sums agree to float32 rounding (2^-24 = 6e-8), relative. */
#define TOL_SUM_REL 1e-6
/* Voxels of formula files hold small integers: exact in every dtype. */
#define TOL_VOXEL 0.0

typedef struct nib_case {
    const char *name;
    mrb_dtype dtype;
    int ndim;
    size_t dims[5];
    int version;
    int swapped;
    double factor, slope, inter; /* expected = (formula * factor) * slope + inter */
} nib_case;

static const nib_case nib_cases[] = {
    {"nib_i16.nii", MRB_I16, 3, {5, 4, 3}, 1, 0, 1, 1, 0},
    {"nib_u8.nii.gz", MRB_U8, 3, {5, 4, 3}, 1, 0, 1, 1, 0},
    {"nib_f64_be_4d.nii", MRB_F64, 4, {4, 3, 2, 3}, 1, 1, 1, 1, 0},
    {"nib_i16_scaled.nii", MRB_F32, 3, {5, 4, 3}, 1, 0, 1, 0.5, -3.0},
    {"nib_c64.nii.gz", MRB_C64, 3, {5, 4, 3}, 1, 0, 1, 1, 0},
    {"nib2_f32_be_5d.nii", MRB_F32, 5, {3, 2, 2, 2, 2}, 2, 1, 1, 1, 0},
    {"nib2_i32.nii.gz", MRB_I32, 3, {5, 4, 3}, 2, 0, 1, 1, 0},
    {"nib_i8.nii", MRB_I16, 3, {5, 4, 3}, 1, 0, 1, 1, 0},
    {"nib_u16.nii", MRB_I32, 3, {5, 4, 3}, 1, 0, 1000, 1, 0},
};

Test(io_nifti, nibabel_files_read_voxel_for_voxel,
     .description = "files nibabel wrote (LE/BE, gz, NIfTI-2, 4-D/5-D, scaled, every dtype) "
                    "read with the right dtype, dims and every voxel value")
{
    for (size_t c = 0; c < sizeof nib_cases / sizeof nib_cases[0]; c++) {
        const nib_case *k = &nib_cases[c];
        mrb_array *a = NULL;
        mrb_nifti_meta meta;
        mrb_status st = mrb_nifti_read(golden(k->name), &a, &meta);
        cr_assert_eq(st, MRB_OK, "%s: %s", k->name, mrb_error_message());
        cr_assert_eq(a->dtype, k->dtype, "%s: dtype %s", k->name, mrb_dtype_name(a->dtype));
        cr_assert_eq(a->ndim, k->ndim, "%s: ndim %d", k->name, a->ndim);
        for (int d = 0; d < k->ndim; d++) cr_assert_eq(a->dims[d], k->dims[d], "%s dim %d", k->name, d);
        cr_assert_eq(meta.version, k->version, "%s version", k->name);
        cr_assert_eq(meta.swapped, k->swapped, "%s swapped", k->name);
        size_t n = mrb_array_count(a);
        for (size_t i = 0; i < n; i++) {
            double want = formula_at(a, i) * k->factor * k->slope + k->inter;
            cr_assert(fabs(value_at(a, i) - want) <= TOL_VOXEL, "%s voxel %zu: %g != %g", k->name, i, value_at(a, i),
                      want);
            if (a->dtype == MRB_C64)
                cr_assert(fabs(imag_at(a, i) - 2 * want) <= TOL_VOXEL, "%s voxel %zu imag", k->name, i);
        }
        mrb_array_free(a);
    }
}

static cJSON *load_expected(void)
{
    FILE *f = fopen(golden("expected.json"), "rb");
    cr_assert_not_null(f, "expected.json");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = '\0';
    fclose(f);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j, "expected.json parses");
    return j;
}

static void check_matrix(const char *what, double m[4][4], const cJSON *rows, double tol)
{
    cr_assert(cJSON_IsArray(rows), "%s: rows", what);
    for (int r = 0; r < 4; r++) {
        const cJSON *row = cJSON_GetArrayItem(rows, r);
        for (int c = 0; c < 4; c++) {
            double want = cJSON_GetArrayItem(row, c)->valuedouble;
            cr_assert(fabs(m[r][c] - want) <= tol * (1 + fabs(want)), "%s[%d][%d]: %.9g != %.9g", what, r, c, m[r][c],
                      want);
        }
    }
}

Test(io_nifti, qform_and_sform_match_nibabel,
     .description = "the qform (from the quaternion) and the sform of a rotated image equal "
                    "nibabel's get_qform()/get_sform(), codes kept")
{
    cJSON *j = load_expected();
    const cJSON *e = cJSON_GetObjectItem(j, "nib_i16.nii");
    mrb_array *a = NULL;
    mrb_nifti_meta meta;
    cr_assert_eq(mrb_nifti_read(golden("nib_i16.nii"), &a, &meta), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(meta.qform_code, 1);
    cr_assert_eq(meta.sform_code, 2);
    check_matrix("qform", meta.qform, cJSON_GetObjectItem(e, "qform"), TOL_HEADER_F32);
    check_matrix("sform", meta.sform, cJSON_GetObjectItem(e, "sform"), TOL_HEADER_F32);
    cr_assert(fabs(meta.pixdim[1] - 1.5) < TOL_HEADER_F32 && fabs(meta.pixdim[3] - 2.5) < TOL_HEADER_F32);
    mrb_array_free(a);
    cJSON_Delete(j);
}

Test(io_nifti, nibabel_test_data_statistics,
     .description = "nibabel's own test files (big-endian, 4-D, NIfTI-2 gz) give the shape, "
                    "sums, sampled voxels, pixdim and affines nibabel reports")
{
    static const char *names[] = {"nibabel_anatomical.nii", "nibabel_functional.nii",
                                  "nibabel_reoriented_anat_moved.nii", "nibabel_example_nifti2.nii.gz",
                                  "nibabel_standard.nii.gz"};
    cJSON *j = load_expected();
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        const cJSON *e = cJSON_GetObjectItem(j, names[f]);
        cr_assert_not_null(e, "%s in expected.json", names[f]);
        mrb_array *a = NULL;
        mrb_nifti_meta meta;
        cr_assert_eq(mrb_nifti_read(golden(names[f]), &a, &meta), MRB_OK, "%s: %s", names[f], mrb_error_message());
        const cJSON *shape = cJSON_GetObjectItem(e, "shape");
        cr_assert_eq(a->ndim, cJSON_GetArraySize(shape), "%s ndim", names[f]);
        for (int d = 0; d < a->ndim; d++)
            cr_assert_eq(a->dims[d], (size_t)cJSON_GetArrayItem(shape, d)->valuedouble, "%s dim %d", names[f], d);
        size_t n = mrb_array_count(a);
        double sum = 0, sum2 = 0;
        for (size_t i = 0; i < n; i++) {
            double v = value_at(a, i), w = imag_at(a, i);
            sum += v;
            sum2 += v * v + w * w;
        }
        double want = cJSON_GetObjectItem(e, "sum_re")->valuedouble;
        double want2 = cJSON_GetObjectItem(e, "sum_abs2")->valuedouble;
        cr_assert(fabs(sum - want) <= TOL_SUM_REL * (1 + fabs(want)), "%s sum %g != %g", names[f], sum, want);
        cr_assert(fabs(sum2 - want2) <= TOL_SUM_REL * (1 + fabs(want2)), "%s sum2", names[f]);
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(e, "samples")) {
            size_t i = (size_t)cJSON_GetArrayItem(s, 0)->valuedouble;
            double v = cJSON_GetArrayItem(s, 1)->valuedouble;
            cr_assert(fabs(value_at(a, i) - v) <= TOL_SUM_REL * fabs(v), "%s sample %zu: %.9g != %.9g", names[f], i,
                      value_at(a, i), v);
        }
        const cJSON *pix = cJSON_GetObjectItem(e, "pixdim");
        for (int d = 1; d <= a->ndim && d < 8; d++)
            cr_assert(fabs(meta.pixdim[d] - cJSON_GetArrayItem(pix, d)->valuedouble) < TOL_HEADER_F32, "%s pixdim %d",
                      names[f], d);
        cr_assert_eq(meta.sform_code, cJSON_GetObjectItem(e, "sform_code")->valueint, "%s", names[f]);
        cr_assert_eq(meta.qform_code, cJSON_GetObjectItem(e, "qform_code")->valueint, "%s", names[f]);
        if (meta.sform_code > 0) check_matrix(names[f], meta.sform, cJSON_GetObjectItem(e, "sform"), TOL_HEADER_F32);
        if (meta.qform_code > 0)
            check_matrix(names[f], meta.qform, cJSON_GetObjectItem(e, "qform"), TOL_QFORM_VS_NIBABEL);
        mrb_array_free(a);
    }
    cJSON_Delete(j);
}

static void rotated_meta(mrb_nifti_meta *m, int version)
{
    const double spacing[3] = {1.5, 2.0, 2.5};
    mrb_nifti_meta_default(m, spacing);
    m->version = version;
    m->sform_code = 2;
    double c = cos(0.3), s = sin(0.3);
    m->sform[0][0] = c * 1.5;
    m->sform[0][1] = -s * 2.0;
    m->sform[1][0] = s * 1.5;
    m->sform[1][1] = c * 2.0;
    m->sform[0][3] = -10.5;
    m->sform[1][3] = 20.25;
    m->sform[2][3] = 3.0;
    /* The same rotation as a quaternion about z: (cos(0.15), 0, 0, sin(0.15)). */
    m->quatern[2] = sin(0.15);
    m->qoffset[0] = -10.5;
    m->qoffset[1] = 20.25;
    m->qoffset[2] = 3.0;
    snprintf(m->descrip, sizeof m->descrip, "mrbench round trip");
}

static const mrb_dtype all_dtypes[] = {MRB_U8, MRB_I16, MRB_I32, MRB_F32, MRB_F64, MRB_C64};

Test(io_nifti, round_trip_every_dtype_version_and_compression,
     .description = "write then read gives identical bytes, dims, spacing, codes and matrices "
                    "for 6 dtypes x NIfTI-1/2 x .nii/.nii.gz")
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    const size_t dims[4] = {5, 4, 3, 2};
    for (size_t t = 0; t < 6; t++)
        for (int version = 1; version <= 2; version++)
            for (int gz = 0; gz <= 1; gz++) {
                mrb_array *a = mrb_array_create(all_dtypes[t], 4, dims);
                fill_formula(a);
                mrb_nifti_meta m, r;
                rotated_meta(&m, version);
                char path[256];
                snprintf(path, sizeof path, "%s/rt_%s_v%d%s", dir, mrb_dtype_name(a->dtype), version,
                         gz ? ".nii.gz" : ".nii");
                cr_assert_eq(mrb_nifti_write(path, a, &m), MRB_OK, "%s", mrb_error_message());
                mrb_array *b = NULL;
                cr_assert_eq(mrb_nifti_read(path, &b, &r), MRB_OK, "%s: %s", path, mrb_error_message());
                cr_assert_eq(b->dtype, a->dtype, "%s", path);
                cr_assert(mrb_array_same_shape(a, b), "%s shape", path);
                cr_assert_eq(memcmp(a->data, b->data, mrb_array_bytes(a)), 0, "%s data", path);
                cr_assert_eq(r.version, version);
                cr_assert_eq(r.sform_code, 2);
                cr_assert_eq(r.qform_code, 1);
                cr_assert_str_eq(r.descrip, "mrbench round trip");
                double tol = version == 1 ? TOL_HEADER_F32 : 1e-15;
                for (int i = 0; i < 4; i++)
                    for (int k = 0; k < 4; k++) {
                        cr_assert(fabs(r.sform[i][k] - m.sform[i][k]) <= tol, "%s sform", path);
                        /* the quaternion encodes the same rotation as the sform */
                        cr_assert(fabs(r.qform[i][k] - m.sform[i][k]) <= 10 * tol, "%s qform[%d][%d] %g %g", path, i, k,
                                  r.qform[i][k], m.sform[i][k]);
                    }
                for (int d = 1; d <= 3; d++) cr_assert(fabs(r.pixdim[d] - m.pixdim[d]) <= tol);
                mrb_array_free(a);
                mrb_array_free(b);
            }
    tmpdir_remove(dir);
}

Test(io_nifti, nibabel_reads_mrbench_files,
     .description = "nibabel (independent reader) loads every file mrbench writes with the "
                    "same voxels, dtype, zooms and affine")
{
    if (!have_debian_python("nibabel, numpy")) cr_skip_test("Debian python3-nibabel not installed");
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    const size_t dims[4] = {5, 4, 3, 2};
    for (size_t t = 0; t < 6; t++)
        for (int version = 1; version <= 2; version++) {
            mrb_array *a = mrb_array_create(all_dtypes[t], 4, dims);
            fill_formula(a);
            mrb_nifti_meta m;
            rotated_meta(&m, version);
            char path[256];
            snprintf(path, sizeof path, "%s/rt_%s_v%d%s", dir, mrb_dtype_name(a->dtype), version,
                     version == 2 ? ".nii.gz" : ".nii");
            cr_assert_eq(mrb_nifti_write(path, a, &m), MRB_OK, "%s", mrb_error_message());
            mrb_array_free(a);
        }
    char cmd[512];
    snprintf(cmd, sizeof cmd, DEBIAN_PYTHON " %scheck_written.py nifti %s", GOLDEN_IO, dir);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "check_written.py nifti failed (%d)", rc);
    tmpdir_remove(dir);
}

Test(io_nifti, memory_and_file_reads_agree,
     .description = "mrb_nifti_read_mem on the bytes of a .nii.gz gives the same array as "
                    "mrb_nifti_read")
{
    FILE *f = fopen(golden("nibabel_example_nifti2.nii.gz"), "rb");
    cr_assert_not_null(f);
    unsigned char buf[32768];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    mrb_array *a = NULL, *b = NULL;
    cr_assert_eq(mrb_nifti_read_mem(buf, len, "mem", &a, NULL), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_nifti_read(golden("nibabel_example_nifti2.nii.gz"), &b, NULL), MRB_OK);
    cr_assert(mrb_array_same_shape(a, b));
    cr_assert_eq(memcmp(a->data, b->data, mrb_array_bytes(a)), 0);
    mrb_array_free(a);
    mrb_array_free(b);
}

Test(io_nifti, concatenated_gzip_members_read_as_one_stream,
     .description = "a .nii.gz made of two gzip members (as gzip -c a >> f; gzip -c b >> f "
                    "makes) reads like the uncompressed file")
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    char path[256];
    snprintf(path, sizeof path, "%s/two_members.nii.gz", dir);
    FILE *f = fopen(golden("nib_i16.nii"), "rb");
    unsigned char raw[1024];
    size_t len = fread(raw, 1, sizeof raw, f);
    fclose(f);
    for (int part = 0; part < 2; part++) {
        gzFile gz = gzopen(path, part == 0 ? "wb" : "ab");
        size_t half = len / 2;
        const unsigned char *p = part == 0 ? raw : raw + half;
        size_t n = part == 0 ? half : len - half;
        cr_assert_eq(gzwrite(gz, p, (unsigned)n), (int)n);
        cr_assert_eq(gzclose(gz), Z_OK);
    }
    mrb_array *a = NULL, *b = NULL;
    cr_assert_eq(mrb_nifti_read(path, &a, NULL), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_nifti_read(golden("nib_i16.nii"), &b, NULL), MRB_OK);
    cr_assert_eq(memcmp(a->data, b->data, mrb_array_bytes(a)), 0);
    mrb_array_free(a);
    mrb_array_free(b);
    tmpdir_remove(dir);
}

Test(io_nifti, writer_limits,
     .description = "NIfTI-1 refuses a 40000-long axis (int16 dims) that NIfTI-2 stores; "
                    "8 non-singleton axes are refused; trailing singleton 8th axis accepted")
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    char path[256];
    snprintf(path, sizeof path, "%s/long.nii", dir);
    mrb_array *a = mrb_array_create2(MRB_U8, 40000, 1);
    mrb_nifti_meta m;
    mrb_nifti_meta_default(&m, NULL);
    cr_assert_eq(mrb_nifti_write(path, a, &m), MRB_ERR_INVALID);
    cr_assert_not_null(strstr(mrb_error_message(), "use NIfTI-2"), "%s", mrb_error_message());
    m.version = 2;
    cr_assert_eq(mrb_nifti_write(path, a, &m), MRB_OK, "%s", mrb_error_message());
    mrb_array *b = NULL;
    cr_assert_eq(mrb_nifti_read(path, &b, NULL), MRB_OK);
    cr_assert_eq(b->dims[0], 40000u);
    mrb_array_free(b);
    mrb_array_free(a);
    size_t d8[8] = {2, 2, 2, 2, 2, 2, 2, 2};
    a = mrb_array_create(MRB_U8, 8, d8);
    cr_assert_eq(mrb_nifti_write(path, a, NULL), MRB_ERR_INVALID);
    mrb_array_free(a);
    d8[7] = 1;
    a = mrb_array_create(MRB_U8, 8, d8);
    cr_assert_eq(mrb_nifti_write(path, a, NULL), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_nifti_read(path, &b, NULL), MRB_OK);
    cr_assert_eq(b->ndim, 7);
    mrb_array_free(a);
    mrb_array_free(b);
    tmpdir_remove(dir);
}
