/* Backend registry: the CPU backend is always listed, and without a usable
 * GPU the detection says why (built without CUDA, no driver, no device). */
#include <criterion/criterion.h>

#include "mrbench/backend.h"

Test(backend, gpu_unavailable_gives_reason)
{
    char why[512] = "";
    mrb_status st = mrb_gpu_available(why, sizeof why);
    if (st == MRB_OK) cr_skip_test("a GPU is usable here");
    cr_expect_eq(st, MRB_ERR_DEVICE);
    cr_expect_str_not_empty(why);
}

Test(backend, cpu_backend_listed)
{
    cr_expect_not_null(mrb_backend_find("cpu"));
}
