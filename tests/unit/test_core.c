/* Core utilities: SHA-256 against FIPS 180-4 vectors, RNG determinism and
 * range, parameter validation, atomic writes, suggestions, thread caps. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mrbench/array.h"
#include "mrbench/params.h"
#include "mrbench/rng.h"
#include "mrbench/stats.h"
#include "mrbench/util.h"

Test(core, sha256_known_vectors)
{
    char hex[65];
    mrb_sha256_hex("", 0, hex);
    cr_expect_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    mrb_sha256_hex("abc", 3, hex);
    cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    mrb_sha256_hex(two, strlen(two), hex);
    cr_expect_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in uneven pieces */
    mrb_sha256 s;
    mrb_sha256_init(&s);
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        mrb_sha256_update(&s, chunk, n);
        left -= n;
    }
    mrb_sha256_final(&s, hex);
    cr_expect_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(core, rng_is_deterministic_and_in_range)
{
    mrb_rng a, b;
    mrb_rng_seed(&a, 42);
    mrb_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) cr_assert_eq(mrb_rng_next(&a), mrb_rng_next(&b));
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        double u = mrb_rng_uniform(&a);
        cr_assert(u >= 0 && u < 1);
        double z = mrb_rng_normal(&b);
        sum += z;
        sq += z * z;
    }
    cr_expect_leq(fabs(sum / 100000), 0.02, "normal mean %g", sum / 100000);
    cr_expect_leq(fabs(sq / 100000 - 1), 0.02, "normal variance %g", sq / 100000);
    for (int i = 0; i < 1000; i++) cr_assert_lt(mrb_rng_below(&a, 7), 7);
    cr_expect_neq(mrb_seed_derive(1, "a", 0), mrb_seed_derive(1, "b", 0));
    cr_expect_neq(mrb_seed_derive(1, "a", 0), mrb_seed_derive(1, "a", 1));
    cr_expect_eq(mrb_seed_derive(1, "a", 3), mrb_seed_derive(1, "a", 3));
}

static const mrb_param_spec spec[] = {
    {"lambda", MRB_PARAM_NUMBER, 0.01, 0, 10, NULL, NULL, "weight"},
    {"iters", MRB_PARAM_INT, 30, 1, 1000, NULL, NULL, "iterations"},
    {"shifts", MRB_PARAM_BOOL, 1, 0, 1, NULL, NULL, "random shifts"},
    {"wavelet", MRB_PARAM_STRING, 0, 0, 0, "db2", "haar|db2|db4", "family"},
};

Test(core, params_defaults_and_checked_setters)
{
    mrb_params p;
    mrb_params_defaults(&p, spec, 4);
    cr_expect_eq(mrb_params_num(&p, "lambda"), 0.01);
    cr_expect_eq(mrb_params_int(&p, "iters"), 30);
    cr_expect_str_eq(mrb_params_str(&p, "wavelet"), "db2");
    cr_expect_eq(mrb_params_set_text(&p, spec, 4, "iters", "100", "x"), MRB_OK);
    cr_expect_eq(mrb_params_int(&p, "iters"), 100);
    cr_expect_eq(mrb_params_set_text(&p, spec, 4, "iters", "1.5", "x"), MRB_ERR_INVALID);
    cr_expect_eq(mrb_params_set_text(&p, spec, 4, "lambda", "-1", "x"), MRB_ERR_INVALID);
    cr_expect_eq(mrb_params_set_text(&p, spec, 4, "lambda", "nan", "x"), MRB_ERR_INVALID);
    cr_expect_eq(mrb_params_set_text(&p, spec, 4, "wavelet", "db3", "x"), MRB_ERR_INVALID);
    cr_expect(strstr(mrb_error_message(), "haar|db2|db4") != NULL);
    cr_expect_eq(mrb_params_set_text(&p, spec, 4, "nope", "1", "x"), MRB_ERR_INVALID);
}

Test(core, summary_statistics_match_numpy_definitions)
{
    double x[] = {3, 1, 4, 1, 5, 9, 2, 6, NAN};
    mrb_summary s;
    mrb_summarize(x, 9, &s);
    cr_expect_eq(s.n, 8);
    cr_expect_eq(s.n_nan, 1);
    cr_expect_float_eq(s.mean, 3.875, 1e-12);
    cr_expect_float_eq(s.median, 3.5, 1e-12);
    cr_expect_float_eq(s.q1, 1.75, 1e-12); /* numpy.percentile(x, 25) */
    cr_expect_float_eq(s.q3, 5.25, 1e-12);
    cr_expect_float_eq(s.std, 2.748376, 1e-6); /* numpy.std(x, ddof=1) */
}

Test(core, atomic_write_replaces_whole_file)
{
    char path[] = "/tmp/mrbench-test-atomic-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(mrb_write_file_atomic(path, "first version", 13), MRB_OK);
    cr_assert_eq(mrb_write_file_atomic(path, "second", 6), MRB_OK);
    char *data;
    size_t len;
    cr_assert_eq(mrb_read_file(path, &data, &len), MRB_OK);
    cr_expect_eq(len, 6);
    cr_expect_str_eq(data, "second");
    free(data);
    unlink(path);
    cr_expect_eq(mrb_write_file_atomic("/nonexistent-dir/x", "a", 1), MRB_ERR_IO);
}

Test(core, nearest_suggests_close_names_only)
{
    const char *names[] = {"metrics", "methods", "sampling", "datasets"};
    cr_expect_str_eq(mrb_nearest("metrcs", names, 4), "metrics");
    cr_expect_str_eq(mrb_nearest("dataset", names, 4), "datasets");
    cr_expect_null(mrb_nearest("zzzzzzzz", names, 4));
}

Test(core, threads_usable_is_capped_at_the_processors)
{
    int procs = omp_get_num_procs();
    cr_expect_eq(mrb_threads_usable(0), 1);
    cr_expect_eq(mrb_threads_usable(1), 1);
    cr_expect_eq(mrb_threads_usable(procs), procs);
    cr_expect_eq(mrb_threads_usable(procs + 15), procs, "16 threads on %d processors", procs);
}

Test(core, array_create_rejects_overflow_and_zero)
{
    size_t huge[3] = {(size_t)1 << 40, (size_t)1 << 40, 16};
    cr_expect_null(mrb_array_create(MRB_C64, 3, huge));
    size_t zero[2] = {4, 0};
    cr_expect_null(mrb_array_create(MRB_F32, 2, zero));
    mrb_array *a = mrb_array_create2(MRB_C64, 3, 5);
    cr_assert_not_null(a);
    cr_expect_eq((uintptr_t)a->data % MRB_ALIGNMENT, 0);
    cr_expect_eq(mrb_array_count(a), 15);
    float *f = a->data;
    f[7] = NAN;
    cr_expect_eq(mrb_array_check_finite(a, "x"), MRB_ERR_INVALID);
    mrb_array_free(a);
    mrb_array_free(NULL);
}
