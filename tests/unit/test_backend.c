/* Backend registry: the CPU backend is always listed, and without a usable
 * GPU the detection says why (built without CUDA, no driver, no device).
 * GPU twins of methods exist only in CUDA builds and are interchangeable
 * with their CPU method: same name and parameter table. */
#include <criterion/criterion.h>
#include <string.h>

#include "mrbench/backend.h"
#include "mrbench/registry.h"

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

Test(backend, gpu_twins_match_their_cpu_methods)
{
    size_t twins = 0;
    for (size_t i = 0; mrb_method_table[i]; i++) {
        const mrb_method_desc *cpu = mrb_method_table[i], *gpu = mrb_method_find_gpu(cpu->name);
        if (!gpu) continue;
        twins++;
        cr_expect_neq(gpu, cpu, "%s: the twin is the CPU method itself", cpu->name);
        cr_expect_str_eq(gpu->name, cpu->name);
        cr_expect_eq(gpu->nparams, cpu->nparams, "%s: parameter tables differ in length", cpu->name);
        for (size_t k = 0; k < gpu->nparams && k < cpu->nparams; k++) {
            cr_expect_str_eq(gpu->params[k].name, cpu->params[k].name, "%s parameter %zu", cpu->name, k);
            cr_expect_eq(gpu->params[k].type, cpu->params[k].type, "%s parameter %s", cpu->name, cpu->params[k].name);
            cr_expect_eq(gpu->params[k].def, cpu->params[k].def, "%s parameter %s", cpu->name, cpu->params[k].name);
        }
        cr_expect_not_null(gpu->setup);
        cr_expect_not_null(gpu->run);
        cr_expect_not_null(gpu->teardown);
    }
    cr_expect_null(mrb_method_find_gpu("no-such-method"));
    cr_expect_null(mrb_method_find_gpu(NULL));
    if (mrb_backend_find("cuda"))
        cr_expect_geq(twins, 3, "a CUDA build has the cascade and cs-wavelet twins");
    else
        cr_expect_eq(twins, 0, "a build without CUDA has no GPU twins");
}
