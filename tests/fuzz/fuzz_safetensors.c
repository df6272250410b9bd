/* libFuzzer target: arbitrary bytes as a safetensors file, read the three
 * ways mrbench reads one: the metadata alone (mrb_safetensors_read_meta),
 * named F32 tensors of fixed shapes (mrb_safetensors_read, as the training
 * checkpoints are read), and Deep Cascade weights (mrb_cascade_open: the
 * architecture from the metadata, then every tensor; what `mrbench recon
 * cascade-2d --param weights=FILE` and suites do). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mrbench/nn.h"

static void count_meta(void *ctx, const char *key, const char *value)
{
    /* a pair must be two strings */
    if (!key || !value) abort();
    *(size_t *)ctx += strlen(key) + strlen(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    mrb_fuzz_write("weights.safetensors", data, size, path, sizeof path);

    size_t meta_chars = 0;
    mrb_fuzz_begin();
    mrb_fuzz_check(mrb_safetensors_read_meta(path, count_meta, &meta_chars), "mrb_safetensors_read_meta");

    /* the tensor names and shapes of tests/fuzz/corpus/safetensors/two_tensors */
    size_t ad[2] = {3, 2}, bd[1] = {4};
    mrb_tensor *a = mrb_tensor_create(2, ad, 0), *b = mrb_tensor_create(1, bd, 0);
    if (!a || !b) abort();
    mrb_named_tensor ts[2] = {{"layer.0.weight", a}, {"layer.0.bias", b}};
    mrb_fuzz_begin();
    mrb_fuzz_check(mrb_safetensors_read(path, ts, 2, count_meta, &meta_chars), "mrb_safetensors_read");
    mrb_tensor_free(a);
    mrb_tensor_free(b);

    mrb_cascade *c = NULL;
    mrb_fuzz_begin();
    mrb_status st = mrb_fuzz_check(mrb_cascade_open(path, &c), "mrb_cascade_open");
    if ((st == MRB_OK) != (c != NULL)) abort();
    mrb_cascade_free(c);
    return 0;
}
