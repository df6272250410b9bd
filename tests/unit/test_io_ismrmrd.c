/* ISMRMRD raw data written by ismrmrd_generate_cartesian_shepp_logan (an
 * independent tool): k-space equals the centred orthonormal FFT of the
 * coil images the tool stores; accelerated, multi-repetition files with
 * noise scans give the lines h5py extracts. */
#include <cjson/cJSON.h>
#include <complex.h>
#include <math.h>

#include "mrbench/fft.h"
#include "test_io_util.h"

/* The tool's noiseless k-space equals a centred orthonormal FFT of its coil
 * images to 1.3e-7 (data.md); float FFTs of 128 points add ~1e-7. */
#define TOL_KSPACE_VS_FFT 1e-6
/* Sums over float32 k-space in double on both sides, relative. */
#define TOL_SUM_REL 1e-9

Test(io_ismrmrd, noiseless_kspace_is_fft_of_coil_images,
     .description = "k-space [nx, ny, 1, nc] read from ISMRMRD acquisitions equals the centred "
                    "orthonormal 2-D FFT of /dataset/coil_images; every line acquired")
{
    mrb_array *k = NULL, *mask = NULL, *ci = NULL;
    cr_assert_eq(mrb_ismrmrd_read(golden("ismrmrd_noiseless.h5"), 0, &k, &mask), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(k->ndim, 4);
    cr_assert_eq(k->dims[0], 16u, "readout with 2x oversampling");
    cr_assert_eq(k->dims[1], 8u);
    cr_assert_eq(k->dims[2], 1u);
    cr_assert_eq(k->dims[3], 2u);
    for (size_t i = 0; i < mrb_array_count(mask); i++) cr_assert_eq(((float *)mask->data)[i], 1.0f);
    cr_assert_eq(mrb_h5_read_dataset(golden("ismrmrd_noiseless.h5"), "dataset/coil_images", &ci), MRB_OK, "%s",
                 mrb_error_message());
    cr_assert_eq(ci->dims[0], 16u);
    cr_assert_eq(ci->dims[1], 8u);
    cr_assert_eq(ci->dims[2], 2u, "coils after ky in the reversed HDF5 axes");
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, ci, 1), MRB_OK, "%s", mrb_error_message());
    const float complex *a = k->data, *b = ci->data;
    double peak = 0;
    for (size_t i = 0; i < mrb_array_count(k); i++) {
        cr_assert(cabsf(a[i] - b[i]) <= TOL_KSPACE_VS_FFT, "sample %zu: |%g%+gi - %g%+gi|", i, crealf(a[i]),
                  cimagf(a[i]), crealf(b[i]), cimagf(b[i]));
        if (cabsf(a[i]) > peak) peak = cabsf(a[i]);
    }
    cr_assert_gt(peak, 0.1, "k-space is not empty");
    mrb_array_free(k);
    mrb_array_free(mask);
    mrb_array_free(ci);
}

static cJSON *load_expected(void)
{
    FILE *f = fopen(golden("expected.json"), "rb");
    cr_assert_not_null(f);
    char *text = calloc(1, 1 << 20);
    size_t len = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    text[len] = '\0';
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j);
    return j;
}

Test(io_ismrmrd, accelerated_repetitions_match_h5py,
     .description = "with noise scans, acceleration 2, calibration lines and 2 repetitions, "
                    "each repetition gives h5py's k-space (sums, samples) and acquired lines")
{
    cJSON *j = load_expected();
    for (unsigned rep = 0; rep < 2; rep++) {
        char key[64];
        snprintf(key, sizeof key, "ismrmrd_accel.h5#%u", rep);
        const cJSON *e = cJSON_GetObjectItem(j, key);
        cr_assert_not_null(e, "%s", key);
        mrb_array *k = NULL, *mask = NULL;
        cr_assert_eq(mrb_ismrmrd_read(golden("ismrmrd_accel.h5"), rep, &k, &mask), MRB_OK, "%s", mrb_error_message());
        const cJSON *shape = cJSON_GetObjectItem(e, "shape");
        for (int d = 0; d < 4; d++)
            cr_assert_eq(k->dims[d], (size_t)cJSON_GetArrayItem(shape, d)->valueint, "%s dim %d", key, d);
        const float complex *z = k->data;
        double sr = 0, si = 0;
        for (size_t i = 0; i < mrb_array_count(k); i++) {
            sr += crealf(z[i]);
            si += cimagf(z[i]);
        }
        double wr = cJSON_GetObjectItem(e, "sum_re")->valuedouble;
        double wi = cJSON_GetObjectItem(e, "sum_im")->valuedouble;
        cr_assert(fabs(sr - wr) <= TOL_SUM_REL * (1 + fabs(wr)), "%s sum", key);
        cr_assert(fabs(si - wi) <= TOL_SUM_REL * (1 + fabs(wi)), "%s sum im", key);
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(e, "samples")) {
            size_t i = (size_t)cJSON_GetArrayItem(s, 0)->valuedouble;
            cr_assert_eq(crealf(z[i]), (float)cJSON_GetArrayItem(s, 1)->valuedouble, "%s %zu", key, i);
            cr_assert_eq(cimagf(z[i]), (float)cJSON_GetArrayItem(s, 2)->valuedouble, "%s %zu", key, i);
        }
        int acquired[64] = {0};
        const cJSON *l;
        cJSON_ArrayForEach(l, cJSON_GetObjectItem(e, "lines")) acquired[l->valueint] = 1;
        for (size_t y = 0; y < k->dims[1]; y++)
            cr_assert_eq(((float *)mask->data)[k->dims[0] * y], (float)acquired[y], "%s line %zu", key, y);
        mrb_array_free(k);
        mrb_array_free(mask);
    }
    cJSON_Delete(j);
    mrb_array *k = NULL;
    cr_assert_eq(mrb_ismrmrd_read(golden("ismrmrd_accel.h5"), 9, &k, NULL), MRB_ERR_INVALID);
    cr_assert_not_null(strstr(mrb_error_message(), "no image acquisitions with repetition 9"));
    cr_assert_null(k);
}

/* Writes a minimal ISMRMRD file with h5py (XML header as a UTF-8 string, as
 * h5py writes str): acquisitions of 8 samples x 2 channels at the given
 * kspace_encode_step_1 and slice values, and encodedSpace matrixSize y. */
static void write_small_ismrmrd(const char *path, long xml_y, const char *lines)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             DEBIAN_PYTHON
             " - <<'EOF'\n"
             "import h5py, numpy as np\n"
             "idx = np.dtype([('kspace_encode_step_1', '<u2'), ('kspace_encode_step_2', '<u2'), ('slice', '<u2'),"
             " ('repetition', '<u2')])\n"
             "head = np.dtype([('flags', '<u8'), ('number_of_samples', '<u2'), ('active_channels', '<u2'),"
             " ('idx', idx)])\n"
             "vf = h5py.vlen_dtype(np.dtype('<f4'))\n"
             "lines = [%s]\n"
             "a = np.zeros(len(lines), dtype=[('head', head), ('data', vf)])\n"
             "for i, (y, s) in enumerate(lines):\n"
             "    a[i]['head']['number_of_samples'], a[i]['head']['active_channels'] = 8, 2\n"
             "    a[i]['head']['idx']['kspace_encode_step_1'], a[i]['head']['idx']['slice'] = y, s\n"
             "    a[i]['data'] = np.arange(32, dtype='<f4') + i\n"
             "with h5py.File('%s', 'w') as f:\n"
             "    g = f.create_group('dataset')\n"
             "    g.create_dataset('data', data=a)\n"
             "    xml = '<ismrmrdHeader><encoding><encodedSpace><matrixSize><x>8</x><y>%ld</y><z>1</z></matrixSize>"
             "</encodedSpace></encoding></ismrmrdHeader>'\n"
             "    g.create_dataset('xml', data=[xml], dtype=h5py.string_dtype())\n"
             "EOF\n",
             lines, path, xml_y);
    cr_assert_eq(system(cmd), 0, "h5py could not write %s", path);
}

Test(io_ismrmrd, utf8_xml_header_gives_the_encoded_matrix,
     .description = "an XML header stored as a UTF-8 string (h5py) is read: encodedSpace y = 6 sets "
                    "ny although only lines 0..3 are acquired, and a line past y is an error")
{
    if (!have_debian_python("h5py, numpy")) cr_skip_test("needs " DEBIAN_PYTHON " with h5py (python3-h5py)");
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/utf8.h5", dir);
    /* before the fix the header was not converted (ASCII memory type, UTF-8
     * file type) and ny silently became max(step_1) + 1 = 4 */
    write_small_ismrmrd(path, 6, "(0, 0), (1, 0), (2, 0), (3, 0)");
    mrb_array *k = NULL, *mask = NULL;
    cr_assert_eq(mrb_ismrmrd_read(path, 0, &k, &mask), MRB_OK, "%s", mrb_error_message());
    cr_expect_eq(k->dims[0], 8u);
    cr_expect_eq(k->dims[1], 6u, "ny from the UTF-8 XML header");
    cr_expect_eq(((float *)mask->data)[8 * 5], 0.0f, "line 5 not acquired");
    mrb_array_free(k);
    mrb_array_free(mask);
    write_small_ismrmrd(path, 4, "(0, 0), (4, 0)");
    cr_expect_eq(mrb_ismrmrd_read(path, 0, &k, NULL), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "outside the encoded matrix (y = 4)"), "%s", mrb_error_message());
    cr_expect_null(k);
    tmpdir_remove(dir);
}

Test(io_ismrmrd, matrix_far_larger_than_the_acquired_lines_is_refused,
     .description = "an XML matrix y beyond 65535, or a slice index that makes the k-space larger than "
                    "512 MiB and more than 1024 lines per acquired line, is refused before the k-space "
                    "is allocated; a file of one slice whose index is not 0 is read")
{
    /* Found while writing tests/fuzz/fuzz_ismrmrd.c: one acquisition with
     * <y>2000000000</y> made the reader allocate 256 GB. */
    if (!have_debian_python("h5py, numpy")) cr_skip_test("needs " DEBIAN_PYTHON " with h5py (python3-h5py)");
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/huge.h5", dir);
    mrb_array *k = NULL, *mask = NULL;
    write_small_ismrmrd(path, 2000000000L, "(0, 0)");
    cr_expect_eq(mrb_ismrmrd_read(path, 0, &k, &mask), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "encodedSpace matrixSize y = 2000000000 (at most 65535)"), "%s",
                       mrb_error_message());
    cr_expect(k == NULL && mask == NULL);
    write_small_ismrmrd(path, 65535, "(0, 0), (1, 65535)"); /* 550 GB of k-space */
    cr_expect_eq(mrb_ismrmrd_read(path, 0, &k, &mask), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "2 acquired lines for a k-space of 65535 lines x 65536 slices"),
                       "%s", mrb_error_message());
    cr_expect(k == NULL && mask == NULL);
    /* one slice kept at its index 150 (a file split per slice): read, as 151 slices */
    write_small_ismrmrd(path, 4, "(0, 150), (1, 150), (2, 150), (3, 150)");
    cr_expect_eq(mrb_ismrmrd_read(path, 0, &k, &mask), MRB_OK, "%s", mrb_error_message());
    if (k) cr_expect_eq(k->dims[2], 151u);
    mrb_array_free(k);
    mrb_array_free(mask);
    tmpdir_remove(dir);
}
