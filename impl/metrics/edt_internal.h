/* Internal to impl/metrics: the EDT restricted to query voxels. */
#ifndef MRBENCH_METRICS_EDT_INTERNAL_H
#define MRBENCH_METRICS_EDT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mrbench/status.h"

/* As mrb_edt_squared, but exact only at voxels where query != 0 (query NULL:
 * everywhere): the last axis pass skips the lines without a query voxel,
 * leaving partial values there. */
mrb_status mrb_edt_squared_query(const uint8_t *feature, const uint8_t *query, int ndim, const size_t *dims,
                                 const double *spacing, int nthreads, double *out_sq);

#endif
