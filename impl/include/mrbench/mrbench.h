/* mrbench: the umbrella header. Each header below documents its part of the
 * library in place; together they are the manual of libmrbench. */
#ifndef MRBENCH_MRBENCH_H
#define MRBENCH_MRBENCH_H

#include "status.h"   /* status codes, error messages */
#include "array.h"    /* arrays and axis conventions */
#include "params.h"   /* parameter schemas */
#include "rng.h"      /* deterministic random numbers */
#include "util.h"     /* SHA-256, atomic files, time */
#include "fft.h"      /* centred orthonormal FFT */
#include "backend.h"  /* CPU and CUDA backends, GPU detection */
#include "registry.h" /* datasets, samplers, methods, metrics */
#include "data.h"     /* phantoms, masks, coil maps, k-space simulation */
#include "io.h"       /* NIfTI, BART cfl, HDF5, PNG */
#include "metrics.h"  /* image and segmentation metrics */
#include "linop.h"    /* linear operators with adjoints (forward models, wavelets) */
#include "nn.h"       /* CNN engine, DC layer, Deep Cascade, safetensors */
#include "stats.h"    /* descriptive statistics */
#include "suite.h"    /* suites (schema v1) */
#include "runner.h"   /* running suites, results.json */
#include "report.h"   /* tables and plots */

#endif
