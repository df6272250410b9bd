/* Registries of datasets, samplers, methods and metrics.
 *
 * Each kind is a table of descriptors (name, description, parameter schema,
 * entry points). Adding a method is one new file with one descriptor and one
 * line in its family's table; nothing switches on names.
 *
 * Data conventions shared by every entry point:
 *   image  MRB_C64 [nx, ny, nt]          (nt = 1 for static 2D images)
 *   kspace MRB_C64 [nx, ny, nt, nc]      (nc = 1 for single coil)
 *   mask   MRB_F32 [nx, ny, nt]          (1 sampled, 0 not)
 *   sens   MRB_C64 [nx, ny, 1, nc]       (NULL for single coil)
 *   labels MRB_U8  [nx, ny, nt] or [nx, ny, nz]
 * k-space is the centred orthonormal DFT of the (coil) image, as BART
 * `fft -u` and fastMRI define it (see mrbench/fft.h). */
#ifndef MRBENCH_REGISTRY_H
#define MRBENCH_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include "array.h"
#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One item (test case image or volume) of a data set, with ground truth. */
typedef struct mrb_item {
    char id[64];
    mrb_array *image;  /* ground truth, required */
    mrb_array *sens;   /* coil maps or NULL */
    mrb_array *labels; /* label map or NULL */
    double spacing[3]; /* mm per voxel along dims 0..2 */
    double frame_ms;   /* > 0: dims[2] is time, this many ms between frames (cine) */
} mrb_item;
void mrb_item_clear(mrb_item *item); /* frees the arrays, leaves a zeroed item */

typedef struct mrb_dataset_desc {
    const char *name;
    const char *description;
    const mrb_param_spec *params;
    size_t nparams;
    /* Number of items for these parameters. */
    size_t (*count)(const mrb_params *p);
    /* Item `index`, deterministic in (params, seed, index). */
    mrb_status (*generate)(const mrb_params *p, uint64_t seed, size_t index, mrb_item *out);
} mrb_dataset_desc;

typedef struct mrb_sampler_desc {
    const char *name;
    const char *description;
    const mrb_param_spec *params;
    size_t nparams;
    /* Mask MRB_F32 [nx, ny, nt], deterministic in (params, seed). */
    mrb_status (*make)(const mrb_params *p, uint64_t seed, size_t nx, size_t ny, size_t nt, mrb_array **mask);
    /* The acceleration the user asked for (the x axis of tables and plots). */
    double (*nominal_acceleration)(const mrb_params *p);
} mrb_sampler_desc;

/* What a reconstruction method is given. The method must not modify it. */
typedef struct mrb_recon_input {
    const mrb_array *kspace;
    const mrb_array *mask;
    const mrb_array *sens; /* NULL for single coil */
    int nthreads;
    uint64_t seed;
} mrb_recon_input;

typedef struct mrb_method_desc {
    const char *name;
    const char *description;
    const mrb_param_spec *params;
    size_t nparams;
    /* Plans, weights, workspaces for the input's shape; timed apart from run. */
    mrb_status (*setup)(const mrb_params *p, const mrb_recon_input *in, void **state);
    /* Reconstructs into out (MRB_C64 [nx, ny, nt], allocated by the caller). */
    mrb_status (*run)(void *state, const mrb_recon_input *in, mrb_array *out);
    void (*teardown)(void *state); /* NULL state is a no-op */
    /* Optional (may be NULL): the method's own time split of its last run,
     * e.g. sparse coding / dictionary update / data consistency, so that the
     * next speed-up is visible in the report. Writes up to `max` phase names
     * (static strings) and seconds; returns how many. */
    size_t (*phases)(void *state, const char **names, double *seconds, size_t max);
    /* Optional: refuses parameter values that no input can satisfy (e.g. a
     * patch stride longer than the patch), so that a suite fails validation
     * instead of every case at run time; MRB_ERR_INVALID naming them. */
    mrb_status (*check)(const mrb_params *p);
} mrb_method_desc;

typedef struct mrb_metric_desc {
    const char *name;
    const char *description;
    const char *unit;
    int higher_is_better;
    const mrb_param_spec *params;
    size_t nparams;
    /* The exact definition used, for results.json (e.g. data range, window). */
    void (*definition)(const mrb_params *p, char *buf, size_t len);
    /* Image metric on magnitudes MRB_F32 [nx, ny, nslices]; NULL if not an image metric. */
    mrb_status (*image)(const mrb_params *p, const mrb_array *ref, const mrb_array *test, double *value);
    /* Label-map metric on MRB_U8 arrays with voxel spacing; NULL if not a label metric. */
    mrb_status (*labels)(const mrb_params *p, const mrb_array *ref, const mrb_array *test, const double spacing[3],
                         double *value);
    /* Optional: as mrb_method_desc.check (e.g. an even SSIM window). */
    mrb_status (*check)(const mrb_params *p);
} mrb_metric_desc;

/* The tables: NULL-terminated arrays defined by each family. */
extern const mrb_dataset_desc *const mrb_dataset_table[];
extern const mrb_sampler_desc *const mrb_sampler_table[];
extern const mrb_method_desc *const mrb_method_table[];
extern const mrb_metric_desc *const mrb_metric_table[];

const mrb_dataset_desc *mrb_dataset_find(const char *name);
const mrb_sampler_desc *mrb_sampler_find(const char *name);
const mrb_method_desc *mrb_method_find(const char *name);
const mrb_metric_desc *mrb_metric_find(const char *name);

/* The registered name nearest to a misspelt one (for "did you mean"), or
 * NULL when none is close. */
const char *mrb_dataset_nearest(const char *name);
const char *mrb_sampler_nearest(const char *name);
const char *mrb_method_nearest(const char *name);
const char *mrb_metric_nearest(const char *name);

/* GPU twins: the CUDA implementation of the method called `name` (same name,
 * parameters and results as the CPU method, checked against it by
 * tests/gpu/), or NULL when there is none or the build has no CUDA.
 * `mrbench run --device gpu` takes a method's twin when it has one. */
const mrb_method_desc *mrb_method_find_gpu(const char *name);

#ifdef __cplusplus
}
#endif
#endif
