/* libFuzzer target: arbitrary bytes as an HDF5 file, read as a fastMRI file
 * (mrb_fastmri_read with the reconstruction and the attributes: `mrbench
 * score/recon FILE.h5`) and as a plain dataset (mrb_h5_read_dataset of
 * "image", what mrb_image_write writes). libhdf5 needs a file name: the
 * bytes go to a file in the target's folder. Every HDF5 id a reader opens
 * must be closed again (mrb_fuzz_h5_check). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_hdf5_options.h"
#include "fuzz_util.h"
#include "mrbench/io.h"

static void touch(const mrb_array *a)
{
    if (!a || mrb_array_count(a) == 0) abort();
    volatile uint8_t sink = 0;
    const uint8_t *p = a->data;
    for (size_t i = 0, n = mrb_array_bytes(a); i < n; i++) sink ^= p[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mrb_fuzz_h5_begin();
    char path[600];
    mrb_fuzz_write("fuzz.h5", data, size, path, sizeof path);

    mrb_array *k = NULL, *recon = NULL;
    mrb_fastmri_meta meta;
    mrb_fuzz_begin();
    mrb_status st = mrb_fuzz_check(mrb_fastmri_read(path, &k, &recon, &meta), "mrb_fastmri_read");
    mrb_fuzz_h5_check("mrb_fastmri_read");
    if (st == MRB_OK) {
        if (k->dtype != MRB_C64 || k->ndim != 4) abort();
        touch(k);
        if (recon) touch(recon);
        mrb_fastmri_meta_clear(&meta);
    } else if (k || recon) {
        abort();
    }
    mrb_array_free(k);
    mrb_array_free(recon);

    mrb_array *a = NULL;
    mrb_fuzz_begin();
    st = mrb_fuzz_check(mrb_h5_read_dataset(path, "image", &a), "mrb_h5_read_dataset");
    mrb_fuzz_h5_check("mrb_h5_read_dataset");
    if (st == MRB_OK)
        touch(a);
    else if (a)
        abort();
    mrb_array_free(a);
    return 0;
}
