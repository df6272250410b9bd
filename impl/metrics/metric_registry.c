/* The metric table: one line per registered metric. */
#include "mrbench/registry.h"

const mrb_metric_desc *const mrb_metric_table[] = {
    NULL,
};
