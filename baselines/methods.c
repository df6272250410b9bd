/* The method table: one line per registered reconstruction method. */
#include "mrbench/registry.h"

extern const mrb_method_desc mrb_method_zerofill;

const mrb_method_desc *const mrb_method_table[] = {
    &mrb_method_zerofill,
    NULL,
};
