/* The dataset and sampler tables: one line per registered generator. */
#include "data_internal.h"
#include "mrbench/registry.h"

const mrb_dataset_desc *const mrb_dataset_table[] = {
    &mrb_dataset_shepp_logan,
    &mrb_dataset_brain,
    &mrb_dataset_cine,
    &mrb_dataset_brain_tumour,
    &mrb_dataset_thick_slice,
    &mrb_dataset_nifti_slices,
    NULL,
};

const mrb_sampler_desc *const mrb_sampler_table[] = {
    &mrb_sampler_cartesian_vd, &mrb_sampler_fastmri_random, &mrb_sampler_fastmri_equispaced,
    &mrb_sampler_poisson,      &mrb_sampler_radial,         NULL,
};
