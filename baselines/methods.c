/* The method table: one line per registered reconstruction method. */
#include "mrbench/registry.h"

extern const mrb_method_desc mrb_method_zerofill;
extern const mrb_method_desc mrb_method_cs_wavelet;
extern const mrb_method_desc mrb_method_cs_tv;
extern const mrb_method_desc mrb_method_kt_sparse;
extern const mrb_method_desc mrb_method_kt_focuss;
extern const mrb_method_desc mrb_method_lps;
extern const mrb_method_desc mrb_method_bart_pics;
extern const mrb_method_desc mrb_method_dlmri;
extern const mrb_method_desc mrb_method_dltg;
extern const mrb_method_desc mrb_method_cascade_2d;
extern const mrb_method_desc mrb_method_cascade_2dt;

const mrb_method_desc *const mrb_method_table[] = {
    &mrb_method_zerofill,  &mrb_method_cs_wavelet, &mrb_method_cs_tv,       &mrb_method_kt_sparse,
    &mrb_method_kt_focuss, &mrb_method_lps,        &mrb_method_bart_pics,   &mrb_method_dlmri,
    &mrb_method_dltg,      &mrb_method_cascade_2d, &mrb_method_cascade_2dt, NULL,
};
