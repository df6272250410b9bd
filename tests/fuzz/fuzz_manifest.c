/* libFuzzer target: arbitrary bytes as a data-set manifest (datasets/NAME.json,
 * read by the suite loader for every suite entry with a "manifest": split
 * selection, parameter overrides, the training section's splits, and the
 * "files" checksums). The bytes are written to m.json in the target's
 * folder and a fixed suite that uses it is parsed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mrbench/suite.h"

static const char suite[] =
    "{\"mrbench_suite\": 1, \"name\": \"fuzz-manifest\", \"seed\": 1,\n"
    " \"datasets\": [{\"id\": \"test\", \"manifest\": \"m.json\", \"split\": \"test\"},\n"
    "              {\"id\": \"all\", \"manifest\": \"m.json\", \"split\": \"all\", \"params\": {\"cases\": 3}}],\n"
    " \"sampling\": [{\"id\": \"r4\", \"sampler\": \"cartesian-vd\", \"params\": {\"acceleration\": 4}}],\n"
    " \"methods\": [{\"id\": \"cascade\", \"method\": \"cascade-2d\", \"params\": {\"weights\": \"w.safetensors\"}}],\n"
    " \"metrics\": [\"psnr\"],\n"
    " \"training\": {\"dataset\": \"test\", \"sampling\": \"r4\", \"method\": \"cascade\", \"weights\": "
    "\"w.safetensors\",\n"
    "              \"architecture\": {\"n_c\": 1, \"n_d\": 2, \"n_f\": 2}, \"epochs\": 1}}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    mrb_fuzz_write("m.json", data, size, path, sizeof path);
    mrb_suite *s = NULL;
    mrb_fuzz_begin();
    mrb_status st =
        mrb_fuzz_check(mrb_suite_parse(suite, strlen(suite), "fuzz.json", mrb_fuzz_dir(), &s), "mrb_suite_parse");
    if ((st == MRB_OK) != (s != NULL)) abort();
    if (s) {
        for (size_t d = 0; d < s->ndatasets; d++)
            if (s->datasets[d].nindices == 0 || !s->datasets[d].indices) abort();
        if (s->training.present && (s->training.ntrain == 0 || s->training.nval == 0)) abort();
    }
    mrb_suite_free(s);
    return 0;
}
