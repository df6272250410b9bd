/* BART .cfl/.hdr: phantoms written by BART itself read correctly, round
 * trips of every dtype, the command recorded, and BART reading mrbench's
 * files. */
#include <complex.h>
#include <cjson/cJSON.h>
#include <math.h>

#include "test_io_util.h"

/* Sums of a BART phantom (float32 data, summed in double by both sides). */
#define TOL_SUM_REL 1e-9

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

Test(io_cfl, bart_phantoms_read_as_bart_wrote_them,
     .description = "cfl files written by `bart phantom` (single and 4-coil) give BART's dims "
                    "(trailing singletons dropped), sums and sampled values")
{
    static const char *names[] = {"bart_phantom64", "bart_phantom16_4coils"};
    cJSON *j = load_expected();
    for (size_t f = 0; f < 2; f++) {
        const cJSON *e = cJSON_GetObjectItem(j, names[f]);
        mrb_array *a = NULL;
        cr_assert_eq(mrb_cfl_read(golden(names[f]), &a), MRB_OK, "%s", mrb_error_message());
        cr_assert_eq(a->dtype, MRB_C64);
        const cJSON *bd = cJSON_GetObjectItem(e, "bart_dims");
        int last = 0;
        for (int d = 0; d < cJSON_GetArraySize(bd); d++)
            if (cJSON_GetArrayItem(bd, d)->valueint > 1) last = d;
        cr_assert_eq(a->ndim, last + 1, "%s ndim %d", names[f], a->ndim);
        for (int d = 0; d < a->ndim; d++) cr_assert_eq(a->dims[d], (size_t)cJSON_GetArrayItem(bd, d)->valueint);
        const float complex *z = a->data;
        double sr = 0, si = 0;
        for (size_t i = 0; i < mrb_array_count(a); i++) {
            sr += crealf(z[i]);
            si += cimagf(z[i]);
        }
        double wr = cJSON_GetObjectItem(e, "sum_re")->valuedouble;
        double wi = cJSON_GetObjectItem(e, "sum_im")->valuedouble;
        cr_assert(fabs(sr - wr) <= TOL_SUM_REL * (1 + fabs(wr)), "%s sum re %g %g", names[f], sr, wr);
        cr_assert(fabs(si - wi) <= TOL_SUM_REL * (1 + fabs(wi)), "%s sum im", names[f]);
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(e, "samples")) {
            size_t i = (size_t)cJSON_GetArrayItem(s, 0)->valuedouble;
            cr_assert_eq(crealf(z[i]), (float)cJSON_GetArrayItem(s, 1)->valuedouble, "%s %zu", names[f], i);
            cr_assert_eq(cimagf(z[i]), (float)cJSON_GetArrayItem(s, 2)->valuedouble, "%s %zu", names[f], i);
        }
        mrb_array_free(a);
    }
    cJSON_Delete(j);
}

static const mrb_dtype all_dtypes[] = {MRB_U8, MRB_I16, MRB_I32, MRB_F32, MRB_F64, MRB_C64};

Test(io_cfl, round_trip_every_dtype,
     .description = "every dtype written as complex and read back equals the input (real part, "
                    "zero imaginary for real input); the .hdr has 16 dims and the command")
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    const size_t dims[4] = {5, 4, 1, 3};
    for (size_t t = 0; t < 6; t++) {
        mrb_array *a = mrb_array_create(all_dtypes[t], 4, dims);
        fill_formula(a);
        char base[256];
        snprintf(base, sizeof base, "%s/rt_%s", dir, mrb_dtype_name(a->dtype));
        cr_assert_eq(mrb_cfl_write(base, a, "mrbench test\nsecond line"), MRB_OK, "%s", mrb_error_message());
        mrb_array *b = NULL;
        cr_assert_eq(mrb_cfl_read(base, &b), MRB_OK, "%s", mrb_error_message());
        cr_assert_eq(b->dtype, MRB_C64);
        cr_assert(mrb_array_same_shape(a, b), "%s shape", base);
        for (size_t i = 0; i < mrb_array_count(a); i++) {
            cr_assert_eq(value_at(b, i), value_at(a, i), "%s %zu", base, i);
            cr_assert_eq(imag_at(b, i), imag_at(a, i), "%s %zu imag", base, i);
        }
        char hdr_path[300], text[512];
        snprintf(hdr_path, sizeof hdr_path, "%s.hdr", base);
        FILE *f = fopen(hdr_path, "r");
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        cr_assert_str_eq(text, "# Dimensions\n5 4 1 3 1 1 1 1 1 1 1 1 1 1 1 1 \n"
                               "# Command\nmrbench test second line\n");
        mrb_array_free(a);
        mrb_array_free(b);
    }
    tmpdir_remove(dir);
}

Test(io_cfl, extension_on_the_base_name_is_accepted, .description = "x, x.cfl and x.hdr name the same pair")
{
    mrb_array *a = NULL, *b = NULL, *c = NULL;
    cr_assert_eq(mrb_cfl_read(golden("bart_phantom64"), &a), MRB_OK);
    cr_assert_eq(mrb_cfl_read(golden("bart_phantom64.cfl"), &b), MRB_OK);
    cr_assert_eq(mrb_cfl_read(golden("bart_phantom64.hdr"), &c), MRB_OK);
    cr_assert_eq(memcmp(a->data, b->data, mrb_array_bytes(a)), 0);
    cr_assert_eq(memcmp(a->data, c->data, mrb_array_bytes(a)), 0);
    mrb_array_free(a);
    mrb_array_free(b);
    mrb_array_free(c);
}

Test(io_cfl, bart_reads_mrbench_files,
     .description = "BART (independent tool) reads a cfl mrbench wrote: `bart scale 2` of it, "
                    "read back, is exactly twice the input")
{
    if (system("command -v bart >/dev/null 2>&1") != 0) cr_skip_test("Debian bart not installed");
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    const size_t dims[4] = {6, 5, 1, 2};
    mrb_array *a = mrb_array_create(MRB_C64, 4, dims);
    fill_formula(a);
    char in[256], out[256], cmd[700];
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    cr_assert_eq(mrb_cfl_write(in, a, "mrbench test"), MRB_OK);
    snprintf(cmd, sizeof cmd, "bart scale 2 %s %s >/dev/null 2>&1", in, out);
    cr_assert_eq(system(cmd), 0, "bart scale failed");
    mrb_array *b = NULL;
    cr_assert_eq(mrb_cfl_read(out, &b), MRB_OK, "%s", mrb_error_message());
    cr_assert(mrb_array_same_shape(a, b));
    for (size_t i = 0; i < mrb_array_count(a); i++) {
        cr_assert_eq(value_at(b, i), 2 * value_at(a, i));
        cr_assert_eq(imag_at(b, i), 2 * imag_at(a, i));
    }
    mrb_array_free(a);
    mrb_array_free(b);
    tmpdir_remove(dir);
}

Test(io_cfl, header_variants_accepted,
     .description = "CRLF line ends, fewer than 16 dims, extra sections before the dims and "
                    "blank lines parse as BART does")
{
    const char *hdr = "# Command\r\nphantom\r\n\r\n# Dimensions\r\n2 3\r\n# Creator\r\nx\r\n";
    float complex data[6] = {1, 2, 3, 4, 5, 6 * I};
    mrb_array *a = NULL;
    cr_assert_eq(mrb_cfl_read_mem(hdr, strlen(hdr), data, sizeof data, "crlf", &a), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(a->ndim, 2);
    cr_assert_eq(a->dims[0], 2u);
    cr_assert_eq(a->dims[1], 3u);
    cr_assert_eq(cimagf(((float complex *)a->data)[5]), 6.0f);
    mrb_array_free(a);
}
