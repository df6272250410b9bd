/* The method table: one line per registered reconstruction method. */
#include "mrbench/registry.h"

extern const mrb_method_desc mrb_method_zerofill;
extern const mrb_method_desc mrb_method_cascade_2d;
extern const mrb_method_desc mrb_method_cascade_2dt;

const mrb_method_desc *const mrb_method_table[] = {
    &mrb_method_zerofill,
    &mrb_method_cascade_2d,
    &mrb_method_cascade_2dt,
    NULL,
};
