/* The dataset and sampler tables: one line per registered generator. */
#include "mrbench/registry.h"

const mrb_dataset_desc *const mrb_dataset_table[] = {
    NULL,
};

const mrb_sampler_desc *const mrb_sampler_table[] = {
    NULL,
};
