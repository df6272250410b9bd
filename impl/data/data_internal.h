/* Helpers shared by the phantom and sampler files of impl/data (not public). */
#ifndef MRBENCH_DATA_INTERNAL_H
#define MRBENCH_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mrbench/data.h"
#include "mrbench/params.h"
#include "mrbench/registry.h"
#include "mrbench/rng.h"

/* Descriptors listed in data_registry.c. */
extern const mrb_dataset_desc mrb_dataset_shepp_logan;
extern const mrb_dataset_desc mrb_dataset_brain;
extern const mrb_dataset_desc mrb_dataset_cine;
extern const mrb_dataset_desc mrb_dataset_brain_tumour;
extern const mrb_dataset_desc mrb_dataset_thick_slice;
extern const mrb_dataset_desc mrb_dataset_nifti_slices;
extern const mrb_sampler_desc mrb_sampler_cartesian_vd;
extern const mrb_sampler_desc mrb_sampler_fastmri_random;
extern const mrb_sampler_desc mrb_sampler_fastmri_equispaced;
extern const mrb_sampler_desc mrb_sampler_poisson;
extern const mrb_sampler_desc mrb_sampler_radial;

/* Phantom coordinates, as MATLAB's phantom(): pixel centres span [-1, 1]
 * inclusive; x grows with dims[0], y decreases with dims[1] (row 0 is the
 * top of the displayed image, y = +1). Requires n >= 2. */
double mrb_data_coord_x(size_t i, size_t n);
double mrb_data_coord_y(size_t j, size_t n);

/* Fraction of a pixel covered by a region, from the signed distance of the
 * pixel centre to the region's boundary in pixels (negative inside): a
 * one-pixel linear ramp, the analytic anti-aliasing of a straight edge. */
double mrb_data_coverage(double signed_distance_px);

/* Smooth random field on the phantom grid: a sum of 2D Fourier modes with at
 * most kmax half-cycles across the field of view and Gaussian-decaying
 * random amplitudes, shifted to zero mean and scaled to max |f| = 1.
 * gx, gy (may be NULL) receive the analytic gradient d f / dx, d f / dy in
 * phantom coordinates. Arrays hold nx * ny doubles, dims[0] fastest. */
mrb_status mrb_data_smooth_field(mrb_rng *rng, size_t nx, size_t ny, int kmax, double *f, double *gx, double *gy);

/* Filtered-noise texture: white Gaussian noise blurred by a separable
 * Gaussian of sigma_px pixels (periodic boundaries), zero mean and unit
 * standard deviation; nx * ny doubles. */
mrb_status mrb_data_noise_texture(mrb_rng *rng, size_t nx, size_t ny, double sigma_px, double *tex);

/* Multiplies every frame of image (MRB_C64 [nx, ny, nt]) by the same smooth
 * random phase exp(i phi), phi a smooth field (kmax half-cycles) with peak
 * |phi| = peak_rad. */
mrb_status mrb_data_apply_smooth_phase(mrb_array *image, uint64_t seed, int kmax, double peak_rad);

/* Attaches coil maps (seeded from `seed`) to item->sens when ncoils > 1. */
mrb_status mrb_data_attach_coils(mrb_item *item, size_t ncoils, uint64_t seed);

/* Writes "<name>-<index, 4 digits>" into item->id. */
void mrb_data_item_id(mrb_item *item, const char *name, size_t index);

/* Number of items for datasets with a "cases" parameter. */
size_t mrb_data_count_cases(const mrb_params *p);

/* Checks the common sampler arguments; `name` names the sampler. */
mrb_status mrb_data_check_mask_shape(const char *name, size_t nx, size_t ny, size_t nt, mrb_array **mask);

#endif
