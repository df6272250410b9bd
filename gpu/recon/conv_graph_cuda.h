/* One convolution pass through cuDNN's backend (graph) API, cuDNN 9: the
 * engines PyTorch reaches (cudnn-frontend, v8+ API), with the engine
 * configuration chosen by timing the heuristics' candidates on the caller's
 * buffers, as torch.backends.cudnn.benchmark does. Internal to gpu/ and its
 * tests; the cascade uses it when MRBENCH_CUDNN_API=graph
 * (gpu/recon/cascade_cuda.cu).
 *
 * The convolution: 3^rank filter, padding 1, stride 1, dilation 1,
 * cross-correlation, float32 data and accumulation, packed NCHW (rank 2) or
 * NCDHW (rank 3) tensors, filter [cout, cin, 3, 3(, 3)]: the layout of the
 * legacy-API path. alpha = 1, beta = 0: every pass overwrites its output.
 *
 *   pass                       in0   in1   out   (the legacy cuDNN call's order)
 *   MRB_CONV_FORWARD           x     w     y     y  = conv(x, w)
 *   MRB_CONV_BACKWARD_DATA     w     dy    dx    dx = conv^T(dy, w)
 *   MRB_CONV_BACKWARD_FILTER   x     dy    dw    dw = sum over n, space of x dy
 *
 * x and dx are [n, cin, spatial], y and dy [n, cout, spatial].
 *
 * Engine filtering (numerical notes of each engine):
 * - strict FP32 (tf32 = 0): no engine noted TENSOR_CORE, DOWN_CONVERT_INPUTS
 *   or REDUCED_PRECISION_REDUCTION. PyTorch's filter with allow_tf32 = False
 *   (aten/src/ATen/native/cudnn/Conv_v8.cpp) leaves out the first two only
 *   (TF32 on float data shows as the TENSOR_CORE note); the reduced-
 *   precision reduction is left out here as well, stricter than PyTorch;
 * - TF32 (tf32 = 1): only DOWN_CONVERT_INPUTS is left out (float inputs
 *   converted to a 16-bit type), as PyTorch's filter with allow_tf32 =
 *   True: tensor-core engines and any noted REDUCED_PRECISION_REDUCTION
 *   are allowed;
 * - deterministic = 1: none noted NONDETERMINISTIC.
 * MRBENCH_CUDNN_VERBOSE=1 prints every candidate (engine, knobs, notes,
 * workspace, measured time or why it was skipped) to stderr.
 *
 * Device pointers are d_*; work is queued on the stream of the cuDNN handle.
 * Arguments are checked before the device is touched, so a refusal
 * (MRB_ERR_INVALID) needs no GPU. */
#ifndef MRB_CONV_GRAPH_CUDA_H
#define MRB_CONV_GRAPH_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "mrbench/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A cudnnHandle_t (cudnn_graph.h declares it as this pointer type), named
 * here so that C callers need no cuDNN header. */
struct cudnnContext;

typedef enum mrb_conv_pass {
    MRB_CONV_FORWARD = 0,
    MRB_CONV_BACKWARD_DATA,
    MRB_CONV_BACKWARD_FILTER,
    MRB_CONV_NPASSES
} mrb_conv_pass;

/* The three tensors of a convolution, indexing mrb_conv_shape.align. */
enum { MRB_CONV_X = 0, MRB_CONV_W, MRB_CONV_Y, MRB_CONV_NTENSORS };

typedef struct mrb_conv_shape {
    int rank; /* spatial dimensions: 2 or 3 */
    int64_t n, cin, cout;
    int64_t dims[3]; /* spatial sizes, slowest first: (d,) h, w */
    /* Bytes by which the plan may assume each tensor's pointer aligned at
     * run time (4, 8 or 16; 0 means 16), indexed by MRB_CONV_X/W/Y. A
     * smaller alignment admits fewer engines; run refuses pointers that
     * break it. */
    int align[MRB_CONV_NTENSORS];
} mrb_conv_shape;

typedef struct mrb_conv_graph mrb_conv_graph;

/* Builds the operation graph of `pass` on `shape`, asks cuDNN's heuristics
 * (mode A, then the fallback list) for engine configurations, drops those
 * the flags exclude and those whose execution plan does not finalize, and
 * times up to MRB_CONV_GRAPH_TIMED of the rest (one warm-up, then the mean
 * of three runs, CUDA events on the handle's stream) on d_in0, d_in1, d_out
 * (the order of the table above; d_out is overwritten), each with a
 * workspace of its own size; a candidate whose workspace cannot be
 * allocated or whose warm-up fails is skipped. Keeps the fastest. With all
 * three buffers NULL nothing is timed and the first configuration that
 * finalizes is kept. `handle` may be bound to a stream. Errors:
 * MRB_ERR_INVALID for a bad shape or arguments, MRB_ERR_DEVICE naming the
 * cuDNN call or attribute and the convolution when no engine works. */
mrb_status mrb_conv_graph_create(struct cudnnContext *handle, mrb_conv_pass pass, const mrb_conv_shape *shape, int tf32,
                                 int deterministic, const float *d_in0, const float *d_in1, float *d_out,
                                 mrb_conv_graph **out);
void mrb_conv_graph_free(mrb_conv_graph *plan); /* NULL is a no-op */

/* Engine configurations timed at most by create. */
#define MRB_CONV_GRAPH_TIMED 8

/* Bytes of device workspace that run needs (may be 0; 0 for NULL). */
size_t mrb_conv_graph_workspace(const mrb_conv_graph *plan);
/* Measured milliseconds of the chosen configuration (-1 when not timed). */
double mrb_conv_graph_ms(const mrb_conv_graph *plan);
/* The chosen engine, e.g. "engine 12 knobs 2=1 5=0 notes tensor-core"
 * (knob types and values as cuDNN's enumerators). */
const char *mrb_conv_graph_engine(const mrb_conv_graph *plan);

/* Queues the pass on the handle's stream through a variant pack and
 * cudnnBackendExecute: d_out = pass(d_in0, d_in1). d_workspace must hold
 * workspace_bytes >= mrb_conv_graph_workspace(plan) (it may be NULL when
 * that is 0). Pointers that break the plan's alignment are refused. */
mrb_status mrb_conv_graph_run(const mrb_conv_graph *plan, struct cudnnContext *handle, const float *d_in0,
                              const float *d_in1, float *d_out, void *d_workspace, size_t workspace_bytes);

/* Largest of 16, 8, 4 bytes that divides the address (for shape.align). */
int mrb_conv_graph_alignment(const void *d_ptr);

/* A cuDNN handle on the work stream (mrb_cuda.h), for callers without the
 * cuDNN headers; free(NULL) is a no-op. */
mrb_status mrb_conv_graph_handle_create(struct cudnnContext **out);
void mrb_conv_graph_handle_free(struct cudnnContext *handle);

#ifdef __cplusplus
}
#endif
#endif
