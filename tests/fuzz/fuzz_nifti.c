/* libFuzzer target: arbitrary bytes as a .nii or .nii.gz file. The reader
 * must return a status (never crash, leak or read out of bounds), and on
 * success the array must match its own dims. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mrbench/array.h"
#include "mrbench/io.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mrb_array *a = NULL;
    mrb_nifti_meta meta;
    mrb_fuzz_begin();
    mrb_status st = mrb_fuzz_check(mrb_nifti_read_mem(data, size, "fuzz.nii", &a, &meta), "mrb_nifti_read_mem");
    if (st == MRB_OK) {
        if (!a || mrb_array_count(a) == 0) abort();
        /* touch every byte so that a short allocation shows up under ASan */
        volatile uint8_t sink = 0;
        const uint8_t *p = a->data;
        for (size_t i = 0, n = mrb_array_bytes(a); i < n; i++) sink ^= p[i];
        (void)sink;
    } else if (a) {
        abort(); /* a failed read must leave *out NULL */
    }
    mrb_array_free(a);
    return 0;
}
