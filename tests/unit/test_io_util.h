/* Helpers shared by the io tests (header only; not a test binary). */
#ifndef MRBENCH_TEST_IO_UTIL_H
#define MRBENCH_TEST_IO_UTIL_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mrbench/array.h"
#include "mrbench/io.h"

#define GOLDEN_IO MRB_SOURCE_DIR "/tests/golden/io/"
/* Debian's interpreter, which sees python3-nibabel, -h5py, -skimage. */
#define DEBIAN_PYTHON "/usr/bin/python3"

static inline char *golden(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s%s", GOLDEN_IO, name);
    return buf[k];
}

/* A fresh temporary folder, removed (with its files) by tmpdir_remove. */
static inline void tmpdir_make(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/mrb_io_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp");
}

static inline void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static inline int have_debian_python(const char *modules)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, DEBIAN_PYTHON " -c 'import %s' >/dev/null 2>&1", modules);
    return access(DEBIAN_PYTHON, X_OK) == 0 && system(cmd) == 0;
}

/* The test formula of make_golden.py: 1 + sum_d idx[d] * 3^d, dims[0]
 * fastest. */
static inline double formula_at(const mrb_array *a, size_t linear)
{
    double v = 1.0, w = 1.0;
    for (int d = 0; d < a->ndim; d++) {
        v += (double)(linear % a->dims[d]) * w;
        linear /= a->dims[d];
        w *= 3.0;
    }
    return v;
}

static inline double value_at(const mrb_array *a, size_t i)
{
    switch (a->dtype) {
    case MRB_F32: return ((const float *)a->data)[i];
    case MRB_C64: return ((const float *)a->data)[2 * i];
    case MRB_F64: return ((const double *)a->data)[i];
    case MRB_U8: return ((const uint8_t *)a->data)[i];
    case MRB_I16: return ((const int16_t *)a->data)[i];
    case MRB_I32: return ((const int32_t *)a->data)[i];
    }
    return 0;
}

static inline double imag_at(const mrb_array *a, size_t i)
{
    return a->dtype == MRB_C64 ? ((const float *)a->data)[2 * i + 1] : 0.0;
}

/* Fills `a` with the formula (complex: imaginary part = 2 * real). */
static inline void fill_formula(mrb_array *a)
{
    size_t n = mrb_array_count(a);
    for (size_t i = 0; i < n; i++) {
        double v = formula_at(a, i);
        switch (a->dtype) {
        case MRB_F32: ((float *)a->data)[i] = (float)v; break;
        case MRB_C64:
            ((float *)a->data)[2 * i] = (float)v;
            ((float *)a->data)[2 * i + 1] = (float)(2 * v);
            break;
        case MRB_F64: ((double *)a->data)[i] = v; break;
        case MRB_U8: ((uint8_t *)a->data)[i] = (uint8_t)v; break;
        case MRB_I16: ((int16_t *)a->data)[i] = (int16_t)v; break;
        case MRB_I32: ((int32_t *)a->data)[i] = (int32_t)v; break;
        }
    }
}

#endif
