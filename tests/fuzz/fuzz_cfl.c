/* libFuzzer target: arbitrary bytes as a BART .hdr and .cfl pair. The
 * input is split at its first NUL byte: the text before is the .hdr, the
 * bytes after are the .cfl (no NUL: everything is the .hdr, the .cfl is
 * empty). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/array.h"
#include "mrbench/io.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t hdr_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *cfl = nul ? nul + 1 : data + size;
    size_t cfl_len = nul ? size - hdr_len - 1 : 0;
    mrb_array *a = NULL;
    mrb_fuzz_begin();
    mrb_status st =
        mrb_fuzz_check(mrb_cfl_read_mem((const char *)data, hdr_len, cfl, cfl_len, "fuzz", &a), "mrb_cfl_read_mem");
    if (st == MRB_OK) {
        if (!a || a->dtype != MRB_C64 || mrb_array_bytes(a) != cfl_len) abort();
    } else if (a) {
        abort();
    }
    mrb_array_free(a);
    return 0;
}
