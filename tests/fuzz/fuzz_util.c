#define _XOPEN_SOURCE 700 /* nftw */
#include "fuzz_util.h"

#include <ftw.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_dir[512];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_dir(void)
{
    if (fuzz_dir[0]) nftw(fuzz_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *mrb_fuzz_dir(void)
{
    if (fuzz_dir[0]) return fuzz_dir;
    struct stat sb;
    const char *base = getenv("TMPDIR");
    if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    else if (!base || !base[0])
        base = "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/mrb_fuzz_XXXXXX", base);
    if (!mkdtemp(fuzz_dir)) {
        perror("mrb_fuzz_dir: mkdtemp");
        abort();
    }
    atexit(remove_dir);
    return fuzz_dir;
}

void mrb_fuzz_write(const char *name, const void *data, size_t size, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", mrb_fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

char *mrb_fuzz_strndup(const void *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

void mrb_fuzz_begin(void)
{
    mrb_error_clear();
}

mrb_status mrb_fuzz_check(mrb_status st, const char *call)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("MRB_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "%s: %s\n", call, st == MRB_OK ? "ok" : mrb_error_message());
    if (st != MRB_OK && strcmp(mrb_error_message(), "no error message") == 0) {
        fprintf(stderr, "%s failed with status %d (%s) but set no error message\n", call, (int)st, mrb_status_name(st));
        abort();
    }
    return st;
}

static const H5I_type_t h5_kinds[] = {H5I_FILE, H5I_GROUP, H5I_DATATYPE, H5I_DATASPACE, H5I_DATASET, H5I_ATTR};
#define H5_NKINDS (sizeof h5_kinds / sizeof *h5_kinds)
static hsize_t h5_baseline[H5_NKINDS];

static void h5_count(hsize_t *n)
{
    for (size_t i = 0; i < H5_NKINDS; i++)
        if (H5Inmembers(h5_kinds[i], &n[i]) < 0) n[i] = 0;
}

void mrb_fuzz_h5_begin(void)
{
    static int ready;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!ready) h5_count(h5_baseline);
    ready = 1;
}

void mrb_fuzz_h5_check(const char *call)
{
    static const char *const names[] = {"file", "group", "datatype", "dataspace", "dataset", "attribute"};
    hsize_t now[H5_NKINDS];
    h5_count(now);
    for (size_t i = 0; i < H5_NKINDS; i++)
        if (now[i] > h5_baseline[i]) {
            fprintf(stderr, "%s left %llu more HDF5 %s ids open\n", call, (unsigned long long)(now[i] - h5_baseline[i]),
                    names[i]);
            abort();
        }
}
