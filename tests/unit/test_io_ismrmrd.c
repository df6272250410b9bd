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
    cr_assert_eq(mrb_ismrmrd_read(golden("ismrmrd_noiseless.h5"), 0, &k, &mask), MRB_OK, "%s",
                 mrb_error_message());
    cr_assert_eq(k->ndim, 4);
    cr_assert_eq(k->dims[0], 16u, "readout with 2x oversampling");
    cr_assert_eq(k->dims[1], 8u);
    cr_assert_eq(k->dims[2], 1u);
    cr_assert_eq(k->dims[3], 2u);
    for (size_t i = 0; i < mrb_array_count(mask); i++) cr_assert_eq(((float *)mask->data)[i], 1.0f);
    cr_assert_eq(mrb_h5_read_dataset(golden("ismrmrd_noiseless.h5"), "dataset/coil_images", &ci),
                 MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(ci->dims[0], 16u);
    cr_assert_eq(ci->dims[1], 8u);
    cr_assert_eq(ci->dims[2], 2u, "coils after ky in the reversed HDF5 axes");
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, ci, 1), MRB_OK, "%s", mrb_error_message());
    const float complex *a = k->data, *b = ci->data;
    double peak = 0;
    for (size_t i = 0; i < mrb_array_count(k); i++) {
        cr_assert(cabsf(a[i] - b[i]) <= TOL_KSPACE_VS_FFT, "sample %zu: |%g%+gi - %g%+gi|", i,
                  crealf(a[i]), cimagf(a[i]), crealf(b[i]), cimagf(b[i]));
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
        cr_assert_eq(mrb_ismrmrd_read(golden("ismrmrd_accel.h5"), rep, &k, &mask), MRB_OK, "%s",
                     mrb_error_message());
        const cJSON *shape = cJSON_GetObjectItem(e, "shape");
        for (int d = 0; d < 4; d++)
            cr_assert_eq(k->dims[d], (size_t)cJSON_GetArrayItem(shape, d)->valueint, "%s dim %d",
                         key, d);
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
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(e, "samples"))
        {
            size_t i = (size_t)cJSON_GetArrayItem(s, 0)->valuedouble;
            cr_assert_eq(crealf(z[i]), (float)cJSON_GetArrayItem(s, 1)->valuedouble, "%s %zu", key,
                         i);
            cr_assert_eq(cimagf(z[i]), (float)cJSON_GetArrayItem(s, 2)->valuedouble, "%s %zu", key,
                         i);
        }
        int acquired[64] = {0};
        const cJSON *l;
        cJSON_ArrayForEach(l, cJSON_GetObjectItem(e, "lines")) acquired[l->valueint] = 1;
        for (size_t y = 0; y < k->dims[1]; y++)
            cr_assert_eq(((float *)mask->data)[k->dims[0] * y], (float)acquired[y], "%s line %zu",
                         key, y);
        mrb_array_free(k);
        mrb_array_free(mask);
    }
    cJSON_Delete(j);
    mrb_array *k = NULL;
    cr_assert_eq(mrb_ismrmrd_read(golden("ismrmrd_accel.h5"), 9, &k, NULL), MRB_ERR_INVALID);
    cr_assert_not_null(strstr(mrb_error_message(), "no image acquisitions with repetition 9"));
    cr_assert_null(k);
}
