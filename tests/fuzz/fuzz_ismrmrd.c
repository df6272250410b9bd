/* libFuzzer target: arbitrary bytes as an ISMRMRD raw-data file (HDF5),
 * read as `mrbench score/recon FILE.h5` reads one without a fastMRI kspace
 * (mrb_ismrmrd_read, repetition 0, with the sampling mask). The bytes go to
 * a file in the target's folder; every HDF5 id the reader opens must be
 * closed again (mrb_fuzz_h5_check). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_hdf5_options.h"
#include "fuzz_util.h"
#include "mrbench/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mrb_fuzz_h5_begin();
    char path[600];
    mrb_fuzz_write("fuzz.h5", data, size, path, sizeof path);
    mrb_array *k = NULL, *mask = NULL;
    mrb_fuzz_begin();
    mrb_status st = mrb_fuzz_check(mrb_ismrmrd_read(path, 0, &k, &mask), "mrb_ismrmrd_read");
    mrb_fuzz_h5_check("mrb_ismrmrd_read");
    if (st == MRB_OK) {
        if (!k || !mask || k->dtype != MRB_C64 || k->ndim != 4 || mask->ndim != 3) abort();
        float acquired = 0;
        const float *m = mask->data;
        for (size_t i = 0, n = mrb_array_count(mask); i < n; i++) acquired += m[i];
        if (!(acquired > 0)) abort();
    } else if (k || mask) {
        abort();
    }
    mrb_array_free(k);
    mrb_array_free(mask);
    return 0;
}
