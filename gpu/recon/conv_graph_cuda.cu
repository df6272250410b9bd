/* Convolution passes through cuDNN's backend (graph) API with engine
 * autotuning: the interface and the engine filtering are described in
 * conv_graph_cuda.h.
 *
 * Descriptors, in the order they are built: three tensors (x, w, y with
 * unique ids 1, 2, 3), the convolution, the operation of the pass, the
 * operation graph; then per candidate an engine configuration from the
 * heuristics, its engine (numerical notes, global index) and knob choices,
 * and an execution plan. A finalized plan keeps every descriptor it was
 * built from (graph, configuration) alive until mrb_conv_graph_free.
 * Attribute types and element counts follow the cuDNN 9 backend
 * documentation and cudnn-frontend (the reference users of this API). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"
#include "recon/conv_graph_cuda.h"

/* Timed runs per candidate after one warm-up: the mean of three damps the
 * noise of sub-millisecond kernels (PyTorch's benchmark mode times once). */
#define CONV_GRAPH_REPEATS 3
/* Alignment cuDNN's engines prefer, and the default of mrb_conv_shape.align. */
#define CONV_GRAPH_ALIGN 16

/* Which tensor (MRB_CONV_X/W/Y) each of in0, in1, out is, per pass; the
 * tensor's unique id is its index + 1. */
static const int pass_roles[MRB_CONV_NPASSES][3] = {
    {MRB_CONV_X, MRB_CONV_W, MRB_CONV_Y},
    {MRB_CONV_W, MRB_CONV_Y, MRB_CONV_X},
    {MRB_CONV_X, MRB_CONV_Y, MRB_CONV_W},
};
static const char *const pass_names[MRB_CONV_NPASSES] = {"forward", "backward-data", "backward-filter"};
static const char *const pass_args[MRB_CONV_NPASSES][3] = {{"x", "w", "y"}, {"w", "dy", "dx"}, {"x", "dy", "dw"}};

struct mrb_conv_graph {
    mrb_conv_pass pass;
    mrb_conv_shape shape; /* align filled in (0 -> 16) */
    int tf32, deterministic, verbose;
    cudnnBackendDescriptor_t tensors[MRB_CONV_NTENSORS], conv, op, graph;
    cudnnBackendDescriptor_t cfg, plan; /* the chosen configuration and its execution plan */
    size_t workspace;
    double ms;
    char engine[160];
    char label[200]; /* "forward 3x3 n=2 16->16 [12, 10] (strict FP32, deterministic)" */
};

/* ------------------------------------------------- backend call helpers */

/* The status's name with cuDNN's own explanation of the last error, when it
 * gives one: "CUDNN_STATUS_NOT_SUPPORTED_SHAPE (...)". */
static void status_text(cudnnStatus_t s, char *buf, size_t len)
{
    char detail[256] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    snprintf(buf, len, "%s%s%s%s", cudnnGetErrorString(s), detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
}

/* MRB_ERR_DEVICE naming the call and the attribute or descriptor. */
static mrb_status backend_check(cudnnStatus_t s, const char *call, const char *what)
{
    if (s == CUDNN_STATUS_SUCCESS) return MRB_OK;
    char text[320];
    status_text(s, text, sizeof text);
    return mrb_error(MRB_ERR_DEVICE, "%s(%s) failed: %s", call, what, text);
}

static mrb_status backend_create(cudnnBackendDescriptorType_t type, const char *type_name,
                                 cudnnBackendDescriptor_t *out)
{
    *out = NULL;
    return backend_check(cudnnBackendCreateDescriptor(type, out), "cudnnBackendCreateDescriptor", type_name);
}

static mrb_status backend_set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t attr, const char *attr_name,
                              cudnnBackendAttributeType_t type, int64_t count, const void *values)
{
    return backend_check(cudnnBackendSetAttribute(d, attr, type, count, values), "cudnnBackendSetAttribute", attr_name);
}

static mrb_status backend_get(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t attr, const char *attr_name,
                              cudnnBackendAttributeType_t type, int64_t capacity, int64_t *count, void *values)
{
    int64_t got = 0;
    MRB_TRY(backend_check(cudnnBackendGetAttribute(d, attr, type, capacity, &got, values), "cudnnBackendGetAttribute",
                          attr_name));
    if (count) *count = got;
    return MRB_OK;
}

static mrb_status backend_finalize(cudnnBackendDescriptor_t d, const char *what)
{
    return backend_check(cudnnBackendFinalize(d), "cudnnBackendFinalize", what);
}

/* The macros pass the enumerator's own name to the error message. */
#define BACKEND_CREATE(type, out) backend_create((type), #type, (out))
#define BACKEND_SET(d, attr, type, count, values) backend_set((d), (attr), #attr, (type), (count), (values))
#define BACKEND_GET(d, attr, type, capacity, count, values)                                                            \
    backend_get((d), (attr), #attr, (type), (capacity), (count), (values))

typedef struct named_attr {
    cudnnBackendAttributeName_t id;
    const char *name;
} named_attr;
#define NAMED(attr)                                                                                                    \
    {                                                                                                                  \
        attr, #attr                                                                                                    \
    }

static void destroy(cudnnBackendDescriptor_t *d)
{
    if (*d) cudnnBackendDestroyDescriptor(*d);
    *d = NULL;
}

/* A candidate refused on the device (a launch that failed, a plan that did
 * not finalize) can leave its CUDA
 * error as the runtime's last error, which the caller's next launch check
 * (cudaGetLastError) would then report as its own: it is reset here. A
 * sticky error (a faulting kernel) cannot be, and the next call reports it. */
static void forget_cuda_error(void)
{
    (void)cudaGetLastError();
}

/* Appends printf text to buf (length len) at *used, truncating. */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    if (*used >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (k > 0) *used = *used + (size_t)k < len ? *used + (size_t)k : len - 1;
}

/* ------------------------------------------------------ the graph itself */

/* Packed NCHW / NCDHW: x [n, cin, s], w [cout, cin, 3^rank], y [n, cout, s]. */
static mrb_status make_tensor(const mrb_conv_shape *s, int role, cudnnBackendDescriptor_t *out)
{
    int nd = s->rank + 2;
    int64_t dims[5], strides[5];
    dims[0] = role == MRB_CONV_W ? s->cout : s->n;
    dims[1] = role == MRB_CONV_Y ? s->cout : s->cin;
    for (int i = 0; i < s->rank; i++) dims[2 + i] = role == MRB_CONV_W ? 3 : s->dims[i];
    strides[nd - 1] = 1;
    for (int i = nd - 1; i-- > 0;) strides[i] = strides[i + 1] * dims[i + 1];
    int64_t uid = role + 1, align = s->align[role];
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    MRB_TRY(BACKEND_CREATE(CUDNN_BACKEND_TENSOR_DESCRIPTOR, out));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, nd, dims));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, nd, strides));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align));
    return backend_finalize(*out, "CUDNN_BACKEND_TENSOR_DESCRIPTOR");
}

/* 3^rank cross-correlation, padding 1, stride 1, dilation 1, computed in
 * float (TF32 or not is the engine's choice, filtered by its notes). */
static mrb_status make_convolution(int rank, cudnnBackendDescriptor_t *out)
{
    int64_t spatial = rank, pad[3] = {1, 1, 1}, unit[3] = {1, 1, 1};
    cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    MRB_TRY(BACKEND_CREATE(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, out));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, rank, pad));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, rank, pad));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, rank, unit));
    MRB_TRY(BACKEND_SET(*out, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, rank, unit));
    return backend_finalize(*out, "CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR");
}

/* The operation descriptor of each pass: its type and attributes, the
 * tensor attributes indexed by MRB_CONV_X/W/Y. */
typedef struct pass_operation {
    cudnnBackendDescriptorType_t type;
    const char *type_name;
    named_attr tensor[MRB_CONV_NTENSORS], conv, alpha, beta;
} pass_operation;

static const pass_operation pass_operations[MRB_CONV_NPASSES] = {
    {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
     "CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR",
     {NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X), NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W),
      NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y)},
     NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC),
     NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA),
     NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA)},
    {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
     "CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR",
     {NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX), NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W),
      NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY)},
     NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC),
     NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA),
     NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA)},
    {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
     "CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR",
     {NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X), NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW),
      NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY)},
     NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC),
     NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA),
     NAMED(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA)},
};

static mrb_status set_named(cudnnBackendDescriptor_t d, const named_attr *a, cudnnBackendAttributeType_t type,
                            const void *value)
{
    return backend_set(d, a->id, a->name, type, 1, value);
}

/* alpha = 1, beta = 0 as floats: the scalar type of float data (DOUBLE is
 * for double data, as cudnn-frontend chooses). */
static mrb_status make_operation(mrb_conv_graph *p)
{
    const pass_operation *po = &pass_operations[p->pass];
    float alpha = 1.0f, beta = 0.0f;
    MRB_TRY(backend_create(po->type, po->type_name, &p->op));
    for (int r = 0; r < MRB_CONV_NTENSORS; r++)
        MRB_TRY(set_named(p->op, &po->tensor[r], CUDNN_TYPE_BACKEND_DESCRIPTOR, &p->tensors[r]));
    MRB_TRY(set_named(p->op, &po->conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, &p->conv));
    MRB_TRY(set_named(p->op, &po->alpha, CUDNN_TYPE_FLOAT, &alpha));
    MRB_TRY(set_named(p->op, &po->beta, CUDNN_TYPE_FLOAT, &beta));
    return backend_finalize(p->op, po->type_name);
}

/* CUDNN_ATTR_OPERATIONGRAPH_HANDLE (like CUDNN_ATTR_EXECUTION_PLAN_HANDLE
 * below) is marked deprecated in cuDNN 9.19 in favour of a device-property
 * descriptor, and is still what cudnn-frontend sets. */
static mrb_status make_graph(mrb_conv_graph *p, cudnnHandle_t handle)
{
    for (int r = 0; r < MRB_CONV_NTENSORS; r++) MRB_TRY(make_tensor(&p->shape, r, &p->tensors[r]));
    MRB_TRY(make_convolution(p->shape.rank, &p->conv));
    MRB_TRY(make_operation(p));
    MRB_TRY(BACKEND_CREATE(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &p->graph));
    MRB_TRY(BACKEND_SET(p->graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle));
    MRB_TRY(BACKEND_SET(p->graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &p->op));
    return backend_finalize(p->graph, "CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR");
}

/* ------------------------------------------------------------ candidates */

/* Short names of cudnnBackendNumericalNote_t, by value. */
static const char *const note_names[CUDNN_NUMERICAL_NOTE_TYPE_COUNT] = {"tensor-core",
                                                                        "down-convert-inputs",
                                                                        "reduced-precision-reduction",
                                                                        "fft",
                                                                        "nondeterministic",
                                                                        "winograd",
                                                                        "winograd-4x4",
                                                                        "winograd-6x6",
                                                                        "winograd-13x13",
                                                                        "strict-nan-propagation"};

#define NOTE_BIT(note) (1u << (unsigned)(note))

/* The notes that rule an engine out (see conv_graph_cuda.h). */
static unsigned excluded_notes(int tf32, int deterministic)
{
    unsigned banned = NOTE_BIT(CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS);
    if (!tf32)
        banned |=
            NOTE_BIT(CUDNN_NUMERICAL_NOTE_TENSOR_CORE) | NOTE_BIT(CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION);
    if (deterministic) banned |= NOTE_BIT(CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC);
    return banned;
}

typedef struct candidate {
    cudnnBackendDescriptor_t cfg;
    unsigned notes;   /* NOTE_BIT set */
    char engine[160]; /* "engine 12 knobs 2=1 5=0 notes tensor-core" */
} candidate;

typedef struct candidate_list {
    candidate *v;
    size_t n, cap;
    int unread; /* configurations whose engine could not be read (left out) */
    char last_unread[320];
} candidate_list;

static void free_candidates(candidate_list *l)
{
    for (size_t i = 0; i < l->n; i++) destroy(&l->v[i].cfg);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* " knobs t=v ..." of a configuration (knob type as its enum value). */
static mrb_status describe_knobs(cudnnBackendDescriptor_t cfg, char *buf, size_t len, size_t *used)
{
    cudnnBackendDescriptor_t knobs[CUDNN_KNOB_TYPE_COUNTS] = {};
    int64_t nknobs = 0;
    mrb_status st = MRB_OK;
    for (int i = 0; st == MRB_OK && i < CUDNN_KNOB_TYPE_COUNTS; i++)
        st = BACKEND_CREATE(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, &knobs[i]);
    if (st == MRB_OK)
        st = BACKEND_GET(cfg, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR, CUDNN_KNOB_TYPE_COUNTS,
                         &nknobs, knobs);
    if (st == MRB_OK && nknobs > 0) append(buf, len, used, " knobs");
    for (int64_t i = 0; st == MRB_OK && i < nknobs && i < CUDNN_KNOB_TYPE_COUNTS; i++) {
        cudnnBackendKnobType_t type = CUDNN_KNOB_TYPE_COUNTS;
        int64_t value = 0;
        st = BACKEND_GET(knobs[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, NULL, &type);
        if (st == MRB_OK)
            st = BACKEND_GET(knobs[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, NULL, &value);
        if (st == MRB_OK) append(buf, len, used, " %d=%lld", (int)type, (long long)value);
    }
    for (int i = 0; i < CUDNN_KNOB_TYPE_COUNTS; i++) destroy(&knobs[i]);
    return st;
}

/* Reads the configuration's engine (global index, numerical notes) and
 * knobs into c->engine and c->notes; an error when the engine or its notes
 * cannot be read (the candidate cannot be vetted). */
static mrb_status describe_candidate(candidate *c)
{
    cudnnBackendDescriptor_t engine = NULL;
    MRB_TRY(BACKEND_CREATE(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &engine));
    int64_t index = -1, nnotes = 0;
    cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    mrb_status st = BACKEND_GET(c->cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, NULL, &engine);
    if (st == MRB_OK) st = BACKEND_GET(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, NULL, &index);
    if (st == MRB_OK)
        st = BACKEND_GET(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                         CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &nnotes, notes);
    destroy(&engine);
    MRB_TRY(st);
    size_t used = 0;
    append(c->engine, sizeof c->engine, &used, "engine %lld", (long long)index);
    if (describe_knobs(c->cfg, c->engine, sizeof c->engine, &used) != MRB_OK) {
        append(c->engine, sizeof c->engine, &used, " knobs ?"); /* only the printed name lacks them */
        mrb_error_clear();
    }
    c->notes = 0;
    for (int64_t i = 0; i < nnotes && i < CUDNN_NUMERICAL_NOTE_TYPE_COUNT; i++) {
        int note = (int)notes[i];
        if (note < 0 || note >= CUDNN_NUMERICAL_NOTE_TYPE_COUNT) continue;
        append(c->engine, sizeof c->engine, &used, c->notes ? "," : " notes ");
        if (note_names[note])
            append(c->engine, sizeof c->engine, &used, "%s", note_names[note]);
        else
            append(c->engine, sizeof c->engine, &used, "note-%d", note);
        c->notes |= NOTE_BIT(note);
    }
    return MRB_OK;
}

static int listed(const candidate_list *l, const char *engine)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].engine, engine) == 0) return 1;
    return 0;
}

/* Appends the heuristics' configurations in `mode` (their order: best
 * first) to the list, leaving out those already listed and those whose
 * engine cannot be read. */
static mrb_status add_heuristics(const mrb_conv_graph *p, cudnnBackendHeurMode_t mode, candidate_list *l)
{
    cudnnBackendDescriptor_t heur = NULL;
    cudnnBackendDescriptor_t *cfgs = NULL;
    int64_t count = 0, got = 0;
    mrb_status st = BACKEND_CREATE(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur);
    if (st == MRB_OK)
        st = BACKEND_SET(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &p->graph);
    if (st == MRB_OK) st = BACKEND_SET(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    if (st == MRB_OK) st = backend_finalize(heur, "CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR");
    /* a query for 0 elements returns the number of results */
    if (st == MRB_OK)
        st = BACKEND_GET(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, NULL);
    if (st == MRB_OK && count > 0 && !(cfgs = (cudnnBackendDescriptor_t *)calloc((size_t)count, sizeof *cfgs)))
        st = mrb_error(MRB_ERR_NOMEM, "cuDNN graph: out of memory");
    for (int64_t i = 0; st == MRB_OK && i < count; i++)
        st = BACKEND_CREATE(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfgs[i]);
    if (st == MRB_OK && count > 0)
        st = BACKEND_GET(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, cfgs);
    if (st == MRB_OK && (size_t)got > l->cap - l->n) {
        size_t cap = l->n + (size_t)got;
        candidate *v = (candidate *)realloc(l->v, cap * sizeof *v);
        if (v)
            l->v = v, l->cap = cap;
        else
            st = mrb_error(MRB_ERR_NOMEM, "cuDNN graph: out of memory");
    }
    for (int64_t i = 0; st == MRB_OK && i < got && i < count; i++) {
        candidate c = {};
        c.cfg = cfgs[i];
        if (describe_candidate(&c) != MRB_OK) {
            l->unread++;
            snprintf(l->last_unread, sizeof l->last_unread, "%s", mrb_error_message());
            mrb_error_clear();
            if (p->verbose) fprintf(stderr, "cudnn graph %s: a configuration left out: %s\n", p->label, l->last_unread);
        } else if (!listed(l, c.engine)) {
            l->v[l->n++] = c;
            cfgs[i] = NULL; /* the list owns it now */
        }
    }
    for (int64_t i = 0; cfgs && i < count; i++) destroy(&cfgs[i]);
    free(cfgs);
    destroy(&heur);
    return st;
}

/* Mode A (cuDNN's trained heuristic for convolutions), then the fallback
 * list, which always holds an engine that runs. A mode that fails is
 * skipped as long as the other gives candidates. */
static mrb_status collect_candidates(const mrb_conv_graph *p, candidate_list *l)
{
    const cudnnBackendHeurMode_t modes[2] = {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK};
    const char *const mode_names[2] = {"CUDNN_HEUR_MODE_A", "CUDNN_HEUR_MODE_FALLBACK"};
    char failed[2][256] = {"", ""};
    for (int m = 0; m < 2; m++) {
        mrb_status st = add_heuristics(p, modes[m], l);
        if (st == MRB_ERR_NOMEM) return st;
        if (st != MRB_OK) {
            snprintf(failed[m], sizeof failed[m], "%s", mrb_error_message());
            mrb_error_clear();
            if (p->verbose) fprintf(stderr, "cudnn graph %s: %s: %s\n", p->label, mode_names[m], failed[m]);
        }
    }
    if (l->n > 0) return MRB_OK;
    return mrb_error(MRB_ERR_DEVICE,
                     "cuDNN's heuristics gave no engine configuration (%s: %s; %s: %s; %d left out, last: %s)",
                     mode_names[0], failed[0][0] ? failed[0] : "ok", mode_names[1], failed[1][0] ? failed[1] : "ok",
                     l->unread, l->last_unread[0] ? l->last_unread : "-");
}

/* ----------------------------------------------------- plans and timing */

/* An execution plan for cfg; *finalized is cuDNN's verdict (a
 * NOT_SUPPORTED status is an ordinary outcome: the engine does not take
 * this shape). Errors are for the calls before the finalize. */
static mrb_status make_plan(cudnnHandle_t handle, cudnnBackendDescriptor_t cfg, cudnnBackendDescriptor_t *plan,
                            cudnnStatus_t *finalized)
{
    MRB_TRY(BACKEND_CREATE(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, plan));
    MRB_TRY(BACKEND_SET(*plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle));
    MRB_TRY(BACKEND_SET(*plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg));
    *finalized = cudnnBackendFinalize(*plan);
    return MRB_OK;
}

static mrb_status plan_workspace(cudnnBackendDescriptor_t plan, size_t *bytes)
{
    int64_t ws = 0;
    MRB_TRY(BACKEND_GET(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, NULL, &ws));
    *bytes = ws > 0 ? (size_t)ws : 0;
    return MRB_OK;
}

/* One run of `plan` through a variant pack (unique ids and device pointers
 * of in0, in1, out, and the workspace). */
static mrb_status execute(const mrb_conv_graph *p, cudnnHandle_t handle, cudnnBackendDescriptor_t plan,
                          const float *in0, const float *in1, float *out, void *workspace)
{
    const int *roles = pass_roles[p->pass];
    int64_t uids[3] = {roles[0] + 1, roles[1] + 1, roles[2] + 1};
    void *ptrs[3] = {const_cast<float *>(in0), const_cast<float *>(in1), out};
    cudnnBackendDescriptor_t pack = NULL;
    mrb_status st = BACKEND_CREATE(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack);
    if (st == MRB_OK) st = BACKEND_SET(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids);
    if (st == MRB_OK) st = BACKEND_SET(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs);
    if (st == MRB_OK) st = BACKEND_SET(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
    if (st == MRB_OK) st = backend_finalize(pack, "CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR");
    if (st == MRB_OK)
        st = backend_check(cudnnBackendExecute(handle, plan, pack), "cudnnBackendExecute", pass_names[p->pass]);
    destroy(&pack);
    return st;
}

typedef struct event_timer {
    cudaStream_t stream;
    cudaEvent_t start, stop;
} event_timer;

/* Milliseconds per run of `plan` on the caller's buffers, or *skip set to
 * why it cannot run here (no room for its workspace, a failing warm-up).
 * Errors are for the CUDA events. */
static mrb_status time_plan(const mrb_conv_graph *p, cudnnHandle_t handle, cudnnBackendDescriptor_t plan,
                            size_t ws_bytes, const float *in0, const float *in1, float *out, const event_timer *t,
                            double *ms, char *skip, size_t skip_len)
{
    *ms = -1.0;
    void *ws = NULL;
    if (ws_bytes && mrb_cuda_alloc(ws_bytes, &ws) != MRB_OK) {
        snprintf(skip, skip_len, "no room for its workspace (%s)", mrb_error_message());
        mrb_error_clear(); /* mrb_cuda_alloc resets CUDA's last error itself */
        return MRB_OK;
    }
    mrb_status st = MRB_OK, run = execute(p, handle, plan, in0, in1, out, ws);
    if (run == MRB_OK) {
        st = MRB_CUDA_CALL(cudaEventRecord(t->start, t->stream));
        for (int r = 0; st == MRB_OK && run == MRB_OK && r < CONV_GRAPH_REPEATS; r++)
            run = execute(p, handle, plan, in0, in1, out, ws);
        if (st == MRB_OK) st = MRB_CUDA_CALL(cudaEventRecord(t->stop, t->stream));
        if (st == MRB_OK) st = MRB_CUDA_CALL(cudaEventSynchronize(t->stop));
        float elapsed = 0.0f;
        if (st == MRB_OK && run == MRB_OK) st = MRB_CUDA_CALL(cudaEventElapsedTime(&elapsed, t->start, t->stop));
        if (st == MRB_OK && run == MRB_OK) *ms = (double)elapsed / CONV_GRAPH_REPEATS;
    }
    if (st == MRB_OK && run != MRB_OK) {
        snprintf(skip, skip_len, "does not run (%s)", mrb_error_message());
        mrb_error_clear();
        forget_cuda_error();
    }
    mrb_cuda_free(ws);
    return st;
}

/* What happened to the candidates, for the message when none is usable. */
typedef struct tally {
    int excluded, unfinalized, failed;
    char last_unfinalized[320], last_failed[320];
} tally;

/* Finalizes the allowed candidates in order and times up to
 * MRB_CONV_GRAPH_TIMED of them (or takes the first when there are no
 * buffers); the fastest becomes p->plan / p->cfg (taken from the list). */
static mrb_status choose(mrb_conv_graph *p, cudnnHandle_t handle, candidate_list *l, const float *in0, const float *in1,
                         float *out, tally *t)
{
    unsigned banned = excluded_notes(p->tf32, p->deterministic);
    int timing = in0 != NULL;
    event_timer tm = {};
    if (timing) {
        MRB_TRY(MRB_CUDNN_CALL(cudnnGetStream(handle, &tm.stream)));
        MRB_TRY(MRB_CUDA_CALL(cudaEventCreate(&tm.start)));
        mrb_status ev = MRB_CUDA_CALL(cudaEventCreate(&tm.stop));
        if (ev != MRB_OK) {
            cudaEventDestroy(tm.start);
            return ev;
        }
    }
    mrb_status st = MRB_OK;
    int finalized = 0;
    size_t best = l->n;
    for (size_t i = 0; st == MRB_OK && i < l->n && finalized < MRB_CONV_GRAPH_TIMED; i++) {
        candidate *c = &l->v[i];
        if (c->notes & banned) {
            t->excluded++;
            if (p->verbose) fprintf(stderr, "cudnn graph %s: %s: excluded by its notes\n", p->label, c->engine);
            continue;
        }
        cudnnBackendDescriptor_t plan = NULL;
        cudnnStatus_t fin = CUDNN_STATUS_SUCCESS;
        st = make_plan(handle, c->cfg, &plan, &fin);
        if (st == MRB_OK && fin != CUDNN_STATUS_SUCCESS) {
            t->unfinalized++;
            status_text(fin, t->last_unfinalized, sizeof t->last_unfinalized);
            forget_cuda_error();
            if (p->verbose)
                fprintf(stderr, "cudnn graph %s: %s: no plan (%s)\n", p->label, c->engine, t->last_unfinalized);
            destroy(&plan);
            continue;
        }
        finalized++;
        size_t ws = 0;
        double ms = -1.0;
        char skip[320] = "";
        if (st == MRB_OK) st = plan_workspace(plan, &ws);
        if (st == MRB_OK && timing) st = time_plan(p, handle, plan, ws, in0, in1, out, &tm, &ms, skip, sizeof skip);
        if (st == MRB_OK && skip[0]) {
            t->failed++;
            snprintf(t->last_failed, sizeof t->last_failed, "%s", skip);
        }
        if (st == MRB_OK && p->verbose) {
            if (skip[0])
                fprintf(stderr, "cudnn graph %s: %s: %s\n", p->label, c->engine, skip);
            else if (timing)
                fprintf(stderr, "cudnn graph %s: %s ws %.2f MiB: %.4f ms\n", p->label, c->engine,
                        (double)ws / (1 << 20), ms);
            else
                fprintf(stderr, "cudnn graph %s: %s ws %.2f MiB (not timed)\n", p->label, c->engine,
                        (double)ws / (1 << 20));
        }
        if (st == MRB_OK && !skip[0] && (best == l->n || ms < p->ms)) {
            destroy(&p->plan);
            p->plan = plan;
            p->workspace = ws;
            p->ms = ms;
            best = i;
            if (!timing) break;
        } else {
            destroy(&plan);
        }
    }
    if (timing) {
        cudaEventDestroy(tm.start);
        cudaEventDestroy(tm.stop);
    }
    /* A plan goes before the configuration it was built from. */
    if (st != MRB_OK)
        destroy(&p->plan);
    else if (best < l->n) {
        p->cfg = l->v[best].cfg;
        l->v[best].cfg = NULL;
        snprintf(p->engine, sizeof p->engine, "%s", l->v[best].engine);
    }
    return st;
}

/* ------------------------------------------------------------ interface */

int mrb_conv_graph_alignment(const void *d_ptr)
{
    uintptr_t a = (uintptr_t)d_ptr;
    int align = CONV_GRAPH_ALIGN;
    while (align > 1 && a % (uintptr_t)align) align /= 2;
    return align;
}

static mrb_status check_shape(mrb_conv_pass pass, const mrb_conv_shape *s)
{
    if ((int)pass < 0 || pass >= MRB_CONV_NPASSES)
        return mrb_error(MRB_ERR_INVALID, "cuDNN graph: unknown convolution pass %d", (int)pass);
    if (!s || (s->rank != 2 && s->rank != 3))
        return mrb_error(MRB_ERR_INVALID, "cuDNN graph: convolution rank %d (2 or 3 spatial dimensions)",
                         s ? s->rank : 0);
    int ok = s->n > 0 && s->cin > 0 && s->cout > 0;
    for (int i = 0; i < s->rank; i++) ok = ok && s->dims[i] > 0;
    if (!ok)
        return mrb_error(MRB_ERR_INVALID, "cuDNN graph: convolution n=%lld %lld->%lld with a size below 1",
                         (long long)s->n, (long long)s->cin, (long long)s->cout);
    for (int r = 0; r < MRB_CONV_NTENSORS; r++)
        if (s->align[r] != 0 && s->align[r] != 4 && s->align[r] != 8 && s->align[r] != 16)
            return mrb_error(MRB_ERR_INVALID, "cuDNN graph: tensor alignment %d bytes (4, 8 or 16; 0 for 16)",
                             s->align[r]);
    return MRB_OK;
}

/* Each of in0, in1, out present and aligned as the plan assumes. */
static mrb_status check_pointers(const mrb_conv_graph *p, const float *in0, const float *in1, const float *out)
{
    const void *ptrs[3] = {in0, in1, out};
    for (int k = 0; k < 3; k++) {
        int need = p->shape.align[pass_roles[p->pass][k]];
        if (!ptrs[k] || mrb_conv_graph_alignment(ptrs[k]) < need)
            return mrb_error(MRB_ERR_INVALID, "%s pointer %p is not %d-byte aligned", pass_args[p->pass][k], ptrs[k],
                             need);
    }
    return MRB_OK;
}

static void make_label(mrb_conv_graph *p)
{
    const mrb_conv_shape *s = &p->shape;
    size_t used = 0;
    append(p->label, sizeof p->label, &used, "%s %s n=%lld %lld->%lld [", pass_names[p->pass],
           s->rank == 3 ? "3x3x3" : "3x3", (long long)s->n, (long long)s->cin, (long long)s->cout);
    for (int i = 0; i < s->rank; i++)
        append(p->label, sizeof p->label, &used, "%s%lld", i ? ", " : "", (long long)s->dims[i]);
    append(p->label, sizeof p->label, &used, "] (%s, %s", p->tf32 ? "TF32" : "strict FP32",
           p->deterministic ? "deterministic" : "nondeterministic");
    /* a smaller alignment admits fewer engines: worth seeing */
    static const char *const tensor_names[MRB_CONV_NTENSORS] = {"x", "w", "y"};
    for (int r = 0; r < MRB_CONV_NTENSORS; r++)
        if (s->align[r] < CONV_GRAPH_ALIGN)
            append(p->label, sizeof p->label, &used, ", %s %d-byte aligned", tensor_names[r], s->align[r]);
    append(p->label, sizeof p->label, &used, ")");
}

static mrb_status build(mrb_conv_graph *p, cudnnHandle_t handle, const float *in0, const float *in1, float *out)
{
    MRB_TRY(make_graph(p, handle));
    candidate_list l = {};
    mrb_status st = collect_candidates(p, &l);
    tally t = {};
    if (st == MRB_OK) st = choose(p, handle, &l, in0, in1, out, &t);
    size_t n = l.n;
    free_candidates(&l);
    MRB_TRY(st);
    if (p->plan) {
        if (p->verbose) fprintf(stderr, "cudnn graph %s: chose %s (%.4f ms)\n", p->label, p->engine, p->ms);
        return MRB_OK;
    }
    return mrb_error(MRB_ERR_DEVICE,
                     "no usable engine among %zu configurations from cuDNN's heuristics: %d excluded by their "
                     "numerical notes, %d without a plan (last: %s), %d that did not run (last: %s)",
                     n, t.excluded, t.unfinalized, t.last_unfinalized[0] ? t.last_unfinalized : "-", t.failed,
                     t.last_failed[0] ? t.last_failed : "-");
}

mrb_status mrb_conv_graph_create(struct cudnnContext *handle, mrb_conv_pass pass, const mrb_conv_shape *shape, int tf32,
                                 int deterministic, const float *d_in0, const float *d_in1, float *d_out,
                                 mrb_conv_graph **out)
{
    MRB_ASSERT(out != NULL);
    *out = NULL;
    MRB_TRY(check_shape(pass, shape));
    int nbuf = (d_in0 != NULL) + (d_in1 != NULL) + (d_out != NULL);
    if (nbuf != 0 && nbuf != 3)
        return mrb_error(MRB_ERR_INVALID, "cuDNN graph: give all three buffers to time on, or none");
    if (!handle) return mrb_error(MRB_ERR_INVALID, "cuDNN graph: no cuDNN handle");
    mrb_conv_graph *p = (mrb_conv_graph *)calloc(1, sizeof *p);
    if (!p) return mrb_error(MRB_ERR_NOMEM, "cuDNN graph: out of memory");
    p->pass = pass;
    p->shape = *shape;
    for (int r = 0; r < MRB_CONV_NTENSORS; r++)
        if (!p->shape.align[r]) p->shape.align[r] = CONV_GRAPH_ALIGN;
    p->tf32 = tf32 != 0;
    p->deterministic = deterministic != 0;
    const char *verbose = getenv("MRBENCH_CUDNN_VERBOSE");
    p->verbose = verbose && strcmp(verbose, "1") == 0;
    p->ms = -1.0;
    make_label(p);
    mrb_status st = nbuf ? check_pointers(p, d_in0, d_in1, d_out) : MRB_OK;
    if (st == MRB_OK) st = build(p, handle, d_in0, d_in1, d_out);
    if (st != MRB_OK) {
        st = mrb_error_context(st, "cuDNN graph %s", p->label);
        mrb_conv_graph_free(p);
        return st;
    }
    *out = p;
    return MRB_OK;
}

void mrb_conv_graph_free(mrb_conv_graph *p)
{
    if (!p) return;
    destroy(&p->plan);
    destroy(&p->cfg);
    destroy(&p->graph);
    destroy(&p->op);
    destroy(&p->conv);
    for (int r = 0; r < MRB_CONV_NTENSORS; r++) destroy(&p->tensors[r]);
    free(p);
}

size_t mrb_conv_graph_workspace(const mrb_conv_graph *p)
{
    return p ? p->workspace : 0;
}

double mrb_conv_graph_ms(const mrb_conv_graph *p)
{
    return p ? p->ms : -1.0;
}

const char *mrb_conv_graph_engine(const mrb_conv_graph *p)
{
    return p ? p->engine : "";
}

mrb_status mrb_conv_graph_run(const mrb_conv_graph *p, struct cudnnContext *handle, const float *d_in0,
                              const float *d_in1, float *d_out, void *d_workspace, size_t workspace_bytes)
{
    if (!p || !handle) return mrb_error(MRB_ERR_INVALID, "cuDNN graph: run without a plan or handle");
    mrb_status st = MRB_OK;
    if (workspace_bytes < p->workspace || (p->workspace && !d_workspace))
        st = mrb_error(MRB_ERR_INVALID, "a workspace of %zu bytes where the plan needs %zu",
                       d_workspace ? workspace_bytes : (size_t)0, p->workspace);
    if (st == MRB_OK) st = check_pointers(p, d_in0, d_in1, d_out);
    if (st == MRB_OK) st = execute(p, handle, p->plan, d_in0, d_in1, d_out, d_workspace);
    return st == MRB_OK ? MRB_OK : mrb_error_context(st, "cuDNN graph %s", p->label);
}

mrb_status mrb_conv_graph_handle_create(struct cudnnContext **out)
{
    *out = NULL;
    cudaStream_t stream;
    MRB_TRY(mrb_cuda_work_stream(&stream));
    cudnnHandle_t h = NULL;
    MRB_TRY(MRB_CUDNN_CALL(cudnnCreate(&h)));
    mrb_status st = MRB_CUDNN_CALL(cudnnSetStream(h, stream));
    if (st != MRB_OK) {
        cudnnDestroy(h);
        return st;
    }
    *out = h;
    return MRB_OK;
}

void mrb_conv_graph_handle_free(struct cudnnContext *handle)
{
    if (handle) cudnnDestroy(handle);
}
