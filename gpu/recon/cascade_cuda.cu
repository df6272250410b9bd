/* The Deep Cascade of CNNs (Schlemper et al., IEEE TMI 2017) on one GPU: the
 * CUDA twin of baselines/recon/cascade/cascade.c, with the same layer order,
 * parameters (uploaded from an mrb_cascade) and results.
 *
 * Convolutions run on cuDNN with algorithms chosen once per layer shape by
 * cuDNN's own timing (cudnnFind*, deterministic algorithms only, so two runs
 * give the same numbers) and one shared workspace. Math: strict FP32
 * (CUDNN_FMA_MATH, the default: outputs agree with the CPU to ~1e-6) or
 * TF32 tensor cores (environment MRBENCH_TF32=1; PyTorch's default for
 * convolutions, ~1e-3). Bias and ReLU are one fused kernel; the residual add
 * is fused into the packing of the DC layer's input; data consistency and
 * data sharing run on cuFFT (gpu/fft, gpu/recon/dc_cuda.cu).
 *
 * cuDNN API (environment MRBENCH_CUDNN_API, read by create): unset or
 * "legacy" runs the convolutions as above; "graph" runs them through
 * cuDNN's backend (graph) API, the v8+ engines PyTorch reaches, each pass of
 * each layer shape with the engine configuration that timed fastest on the
 * network's buffers (gpu/recon/conv_graph_cuda.cu; MRBENCH_TF32 and
 * MRBENCH_CUDNN_NONDETERMINISTIC become filters on the engines' numerical
 * notes). Graph plans overwrite their outputs, so the two passes that add
 * to theirs (a backward without zero_grad before it, the residual's share
 * of the data gradient) write into a scratch buffer and add it. Any other
 * value is refused. The graph path has not yet run on a GPU: legacy stays
 * the default.
 *
 * Layouts: activations [N, C, (nt,) ny, nx] planar float (the nn engine's);
 * k-space, masks and the DC layer's buffers interleaved complex
 * N x [nx, ny, nt] (the same element order, x fastest). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"
#include "mrbench/nn.h"
#include "mrbench/util.h"
#include "recon/conv_graph_cuda.h"

/* Frames of a 2D reconstruction run as one batch up to this many floats per
 * feature map (512 MiB), in chunks beyond. */
#define CASCADE_CHUNK_FLOATS ((size_t)128 << 20)
/* Candidates asked of cudnnFind*: every algorithm cuDNN has. */
#define CASCADE_MAX_ALGOS 16
/* Each parameter tensor starts on a 16-byte boundary (4 floats): cuDNN's
 * engines that need aligned operands are not ruled out for the weights. */
#define PARAM_ALIGN_FLOATS 4

/* ---------------------------------------------------------------- kernels */

/* y = act(y + b[c]) over [N, C, S]. */
__global__ void bias_act_kernel(float *y, const float *b, size_t total, size_t spatial, int channels, int relu)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        float v = y[i] + b[(i / spatial) % (size_t)channels];
        y[i] = relu && v < 0.0f ? 0.0f : v;
    }
}

/* Fused ReLU backward and bias gradient, stage 1: block (c, b * chunks + k)
 * masks chunk k of dy[b, c, :] where the ReLU output y is not positive (when
 * y != NULL) and writes its sum to partial[c * n * chunks + b * chunks + k].
 * Stage 2 adds each channel's partials in a fixed order (deterministic) and
 * adds them to db, or stores them when `store`. */
#define BIAS_GRAD_CHUNK 4096 /* elements per block: enough blocks to fill the GPU */
__global__ void relu_bias_grad_kernel(const float *y, float *dy, size_t channels, size_t spatial, size_t chunks,
                                      float *partial)
{
    __shared__ float sh[MRB_CUDA_BLOCK];
    size_t c = blockIdx.x, bk = blockIdx.y, b = bk / chunks, k = bk % chunks;
    size_t base = (b * channels + c) * spatial;
    size_t lo = k * BIAS_GRAD_CHUNK, hi = lo + BIAS_GRAD_CHUNK < spatial ? lo + BIAS_GRAD_CHUNK : spatial;
    float s = 0.0f;
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        float v = dy[base + i];
        if (y && !(y[base + i] > 0.0f)) {
            v = 0.0f;
            dy[base + i] = 0.0f;
        }
        s += v;
    }
    sh[threadIdx.x] = s;
    __syncthreads();
    for (unsigned w = blockDim.x / 2; w > 0; w /= 2) {
        if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[c * gridDim.y + bk] = sh[0];
}

__global__ void bias_grad_sum_kernel(const float *partial, size_t per_channel, size_t channels, int store, float *db)
{
    size_t c = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (c >= channels) return;
    float s = 0.0f;
    for (size_t b = 0; b < per_channel; b++) s += partial[c * per_channel + b];
    db[c] = store ? s : db[c] + s;
}

/* Planar channels (c0, c0+1) of [N, nchan, vol] (plus the same channels of
 * `add` when not NULL) -> interleaved complex N x vol. */
__global__ void pack_kernel(const float *t, const float *add, size_t n, size_t nchan, size_t c0, size_t vol,
                            float2 *out)
{
    size_t total = n * vol;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t b = i / vol, p = i % vol;
        size_t re = (b * nchan + c0) * vol + p, im = re + vol;
        float2 z = make_float2(t[re], t[im]);
        if (add) {
            z.x += add[re];
            z.y += add[im];
        }
        out[i] = z;
    }
}

/* s = 0 where the mask is 0 (n complex values, the mask as long). */
__global__ void mask_kernel(float2 *s, const float *mask, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        if (mask[i] == 0.0f) s[i] = make_float2(0.0f, 0.0f);
}

/* Interleaved complex N x vol -> planar channels (c0, c0+1) of
 * [N, nchan, vol]: overwritten, or added to when accumulate. */
__global__ void unpack_kernel(const float2 *in, size_t n, size_t nchan, size_t c0, size_t vol, int accumulate, float *t)
{
    size_t total = n * vol;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t b = i / vol, p = i % vol;
        size_t re = (b * nchan + c0) * vol + p, im = re + vol;
        float2 z = in[i];
        if (accumulate) {
            t[re] += z.x;
            t[im] += z.y;
        } else {
            t[re] = z.x;
            t[im] = z.y;
        }
    }
}

/* dst channels [0, 2) of [N, dchan, vol] (+)= src [N, 2, vol]. */
__global__ void copy_channels_kernel(const float *src, size_t n, size_t vol, size_t dchan, int accumulate, float *dst,
                                     int dst_is_src_layout)
{
    size_t total = n * 2 * vol;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t b = i / (2 * vol), r = i % (2 * vol);
        size_t wide = b * dchan * vol + r;
        if (dst_is_src_layout) { /* dst [N, 2, vol] (+)= src channels 0-1 of [N, dchan, vol] */
            if (accumulate)
                dst[i] += src[wide];
            else
                dst[i] = src[wide];
        } else {
            if (accumulate)
                dst[wide] += src[i];
            else
                dst[wide] = src[i];
        }
    }
}

__device__ static size_t wrap_frame(long t, long nt)
{
    return (size_t)(((t % nt) + nt) % nt);
}

/* Number of frames of the window (2j + 1, circular) the sampler acquired at
 * pixel i of frame t, at least 1; or the window size. */
__device__ static float window_divisor(const float *mask, size_t b, long t, size_t i, int j, long nt, size_t frame,
                                       int divide_by_acquired)
{
    if (!divide_by_acquired) return (float)(2 * j + 1);
    size_t vol = frame * (size_t)nt;
    float cnt = 0.0f;
    for (int dt = -j; dt <= j; dt++) cnt += mask[b * vol + wrap_frame(t + dt, nt) * frame + i] != 0.0f ? 1.0f : 0.0f;
    return cnt < 1.0f ? 1.0f : cnt;
}

/* Data sharing, window j: o = measured k-space where acquired, else the
 * window average of s (mrb_nn_datashare_forward). */
__global__ void datashare_kernel(const float2 *s, const float2 *meas, const float *mask, size_t n, long nt,
                                 size_t frame, int j, int divide_by_acquired, float2 *o)
{
    size_t vol = frame * (size_t)nt, total = n * vol;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        if (mask[idx] != 0.0f) {
            o[idx] = meas[idx];
            continue;
        }
        size_t b = idx / vol, r = idx % vol, i = r % frame;
        long t = (long)(r / frame);
        float2 acc = make_float2(0.0f, 0.0f);
        for (int dt = -j; dt <= j; dt++) {
            float2 v = s[b * vol + wrap_frame(t + dt, nt) * frame + i];
            acc.x += v.x;
            acc.y += v.y;
        }
        float d = window_divisor(mask, b, t, i, j, nt, frame, divide_by_acquired);
        o[idx] = make_float2(acc.x / d, acc.y / d);
    }
}

/* Adjoint of the averaging of window j (gather form, one writer per output):
 * gs[tp] += sum over the window frames t not acquired of g[t] / divisor. */
__global__ void datashare_adjoint_kernel(const float2 *g, const float *mask, size_t n, long nt, size_t frame, int j,
                                         int divide_by_acquired, float2 *gs)
{
    size_t vol = frame * (size_t)nt, total = n * vol;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t b = idx / vol, r = idx % vol, i = r % frame;
        long tp = (long)(r / frame);
        float2 acc = make_float2(0.0f, 0.0f);
        for (int dt = -j; dt <= j; dt++) {
            size_t t = wrap_frame(tp - dt, nt), k = b * vol + t * frame + i;
            if (mask[k] != 0.0f) continue;
            float d = window_divisor(mask, b, (long)t, i, j, nt, frame, divide_by_acquired);
            acc.x += g[k].x / d;
            acc.y += g[k].y / d;
        }
        gs[idx].x += acc.x;
        gs[idx].y += acc.y;
    }
}

/* Uniform values in [-1, 1) from a hash of the index (algorithm timing runs
 * on data like the network's, not on zeros). */
__global__ void fill_random_kernel(float *x, size_t n, uint32_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 15;
        h *= 2246822519u;
        h ^= h >> 13;
        x[i] = (float)(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
}

/* dst += src over n floats. */
__global__ void accumulate_kernel(float *dst, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] += src[i];
}

/* dout = 2 scale / n (pred - target); per-block partial sums of e^2 and of
 * the decayed weights' squares, reduced on the host in double. */
__global__ void mse_kernel(const float *pred, const float *target, size_t n, double g, float *dout, double *partial)
{
    __shared__ double sh[MRB_CUDA_BLOCK];
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        double e = (double)pred[i] - (double)target[i];
        s += e * e;
        dout[i] = (float)(g * e);
    }
    sh[threadIdx.x] = s;
    __syncthreads();
    for (unsigned w = blockDim.x / 2; w > 0; w /= 2) {
        if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

__global__ void masked_norm2_kernel(const float *w, const unsigned char *decay, size_t n, double *partial)
{
    __shared__ double sh[MRB_CUDA_BLOCK];
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        if (decay[i]) s += (double)w[i] * (double)w[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k /= 2) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

/* Adam with L2 decay added to the gradient, as mrb_optim_step. */
__global__ void adam_kernel(float *w, const float *g, float *m, float *v, const unsigned char *decay, size_t n,
                            float b1, float b2, float step, float rbc2, float eps, float fwd)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gj = g[i] + (decay[i] ? fwd : 0.0f) * w[i];
        float mj = b1 * m[i] + (1.0f - b1) * gj;
        float vj = b2 * v[i] + (1.0f - b2) * gj * gj;
        m[i] = mj;
        v[i] = vj;
        w[i] -= step * mj / (sqrtf(vj) * rbc2 + eps);
    }
}

/* ------------------------------------------------------------- the model */

/* The three convolution shapes of a cascade: first (cin0 -> nf), middle
 * (nf -> nf), last (nf -> 2); each with its filter descriptor, its own
 * convolution descriptors (math type of the chosen algorithm per pass) and
 * algorithms. */
enum { KIND_FIRST = 0, KIND_MID, KIND_LAST, NKINDS };

typedef struct conv_kind {
    int cin, cout;
    cudnnFilterDescriptor_t filter;
    cudnnConvolutionDescriptor_t conv_fwd, conv_bwd_data, conv_bwd_filter;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    int have_fwd, have_bwd;
    mrb_conv_graph *plans[MRB_CONV_NPASSES]; /* MRBENCH_CUDNN_API=graph: per pass, NULL until chosen */
} conv_kind;

struct mrb_cuda_cascade {
    mrb_cascade_arch arch;
    int rank; /* 2 or 3 */
    int tf32;
    int graph; /* MRBENCH_CUDNN_API=graph */
    cudnnHandle_t cudnn;
    cudaStream_t stream;
    /* parameters, in mrb_cascade_params order, one buffer */
    size_t nfloats;
    float *d_w, *d_g, *d_m, *d_v;
    unsigned char *d_decay;
    size_t *w_off, *b_off;                             /* per conv layer, multiples of PARAM_ALIGN_FLOATS */
    size_t *w_cnt, *b_cnt;                             /* per conv layer */
    float *lambda, *lambda_grad, *lambda_m, *lambda_v; /* host, per cascade (noisy DC) */
    conv_kind kinds[NKINDS];
    /* per shape */
    size_t n, nx, ny, nt, vol;
    int train, prepared;
    cudnnTensorDescriptor_t t2, t12, tf;
    void *ws; /* cuDNN workspace */
    size_t ws_size;
    float **xin;   /* n_c + 1 */
    float **ds;    /* n_c (2D+t) */
    float **act;   /* n_c * n_d (aliases in inference) */
    float2 **cres; /* n_c DC inputs kept for d lambda (training, trainable lambda) */
    float2 *cbuf, *cbuf2, *cbuf3;
    float *gx[2], *g_ds, *g_f[2], *g_last;
    float *d_bias_partial;  /* n_f * n * bias_chunks */
    float *d_graph_scratch; /* graph API, training: outputs of the passes that accumulate */
    size_t bias_chunks;
    int grads_zero; /* gradients are zero: the next backward stores instead of adding */
    double *d_partial, *h_partial;
    float **owned;
    size_t nowned;
    /* MRBENCH_CUDA_PROFILE=1: device time per kind of op, printed by free */
    int profile;
    cudaEvent_t prof_start, prof_stop;
    double prof_s[16];
    long prof_calls[16];
};

enum {
    PROF_CONV,
    PROF_BIAS_ACT,
    PROF_DATASHARE,
    PROF_DC,
    PROF_PACK,
    PROF_BIAS_GRAD,
    PROF_BACKWARD_FILTER,
    PROF_BACKWARD_DATA,
    PROF_OTHER,
    PROF_CONV_HOST,
    PROF_N
};
static const char *const prof_names[PROF_N] = {"conv",        "bias+act",        "data sharing",     "data consistency",
                                               "pack/unpack", "relu+bias grad",  "conv grad filter", "conv grad data",
                                               "other",       "conv (host call)"};

/* Profiling brackets: with profiling on, each op is timed alone with events
 * (synchronising, so only for finding where time goes). */
static void prof_begin(mrb_cuda_cascade *g)
{
    if (g->profile) cudaEventRecord(g->prof_start, g->stream);
}

static void prof_end(mrb_cuda_cascade *g, int kind)
{
    if (!g->profile) return;
    float ms = 0.0f;
    cudaEventRecord(g->prof_stop, g->stream);
    cudaEventSynchronize(g->prof_stop);
    cudaEventElapsedTime(&ms, g->prof_start, g->prof_stop);
    g->prof_s[kind] += 1e-3 * ms;
    g->prof_calls[kind]++;
}

static mrb_status launch_check(const char *what)
{
    return mrb_cuda_check_call(cudaGetLastError(), what, __FILE__, __LINE__);
}

static const float f_one = 1.0f, f_zero = 0.0f;

static int env_flag(const char *name)
{
    const char *e = getenv(name);
    return e && strcmp(e, "1") == 0;
}

static mrb_status dalloc(mrb_cuda_cascade *g, size_t nfloats, float **out)
{
    *out = NULL;
    void *p = NULL;
    MRB_TRY(mrb_cuda_alloc(nfloats * sizeof(float), &p));
    g->owned[g->nowned++] = (float *)p;
    *out = (float *)p;
    return MRB_OK;
}

static void free_shape(mrb_cuda_cascade *g)
{
    for (size_t i = 0; i < g->nowned; i++) mrb_cuda_free(g->owned[i]);
    g->nowned = 0;
    mrb_cuda_free(g->ws);
    g->ws = NULL;
    g->ws_size = 0;
    mrb_cuda_free(g->d_partial);
    g->d_partial = NULL;
    free(g->h_partial);
    g->h_partial = NULL;
    cudnnTensorDescriptor_t *ts[] = {&g->t2, &g->t12, &g->tf};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
        if (*ts[i]) {
            cudnnDestroyTensorDescriptor(*ts[i]);
            *ts[i] = NULL;
        }
    size_t nc = (size_t)g->arch.n_c, nd = (size_t)g->arch.n_d;
    if (g->xin) memset(g->xin, 0, (nc + 1) * sizeof *g->xin);
    if (g->ds) memset(g->ds, 0, nc * sizeof *g->ds);
    if (g->act) memset(g->act, 0, nc * nd * sizeof *g->act);
    if (g->cres) memset(g->cres, 0, nc * sizeof *g->cres);
    g->cbuf = g->cbuf2 = g->cbuf3 = NULL;
    g->gx[0] = g->gx[1] = g->g_ds = g->g_f[0] = g->g_f[1] = g->g_last = NULL;
    g->d_bias_partial = NULL;
    g->d_graph_scratch = NULL;
    for (int k = 0; k < NKINDS; k++) {
        conv_kind *ck = &g->kinds[k];
        ck->have_fwd = ck->have_bwd = 0;
        for (int p = 0; p < MRB_CONV_NPASSES; p++) {
            mrb_conv_graph_free(ck->plans[p]);
            ck->plans[p] = NULL;
        }
    }
    g->prepared = 0;
}

void mrb_cuda_cascade_free(mrb_cuda_cascade *g)
{
    if (!g) return;
    if (g->profile) {
        for (int k = 0; k < PROF_N; k++)
            if (g->prof_calls[k])
                fprintf(stderr, "cascade (GPU) profile: %-18s %9.3f ms in %ld calls\n", prof_names[k],
                        1e3 * g->prof_s[k], g->prof_calls[k]);
        cudaEventDestroy(g->prof_start);
        cudaEventDestroy(g->prof_stop);
    }
    free_shape(g);
    for (int k = 0; k < NKINDS; k++) {
        conv_kind *ck = &g->kinds[k];
        if (ck->filter) cudnnDestroyFilterDescriptor(ck->filter);
        if (ck->conv_fwd) cudnnDestroyConvolutionDescriptor(ck->conv_fwd);
        if (ck->conv_bwd_data) cudnnDestroyConvolutionDescriptor(ck->conv_bwd_data);
        if (ck->conv_bwd_filter) cudnnDestroyConvolutionDescriptor(ck->conv_bwd_filter);
    }
    if (g->cudnn) cudnnDestroy(g->cudnn);
    mrb_cuda_free(g->d_w);
    mrb_cuda_free(g->d_g);
    mrb_cuda_free(g->d_m);
    mrb_cuda_free(g->d_v);
    mrb_cuda_free(g->d_decay);
    free(g->w_off);
    free(g->b_off);
    free(g->w_cnt);
    free(g->b_cnt);
    free(g->lambda);
    free(g->lambda_grad);
    free(g->lambda_m);
    free(g->lambda_v);
    free(g->xin);
    free(g->ds);
    free(g->act);
    free(g->cres);
    free(g->owned);
    free(g);
}

static mrb_status make_conv_desc(int rank, int tf32, cudnnConvolutionDescriptor_t *out)
{
    int pad[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1};
    MRB_TRY(MRB_CUDNN_CALL(cudnnCreateConvolutionDescriptor(out)));
    MRB_TRY(MRB_CUDNN_CALL(
        cudnnSetConvolutionNdDescriptor(*out, rank, pad, stride, dil, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)));
    return MRB_CUDNN_CALL(cudnnSetConvolutionMathType(*out, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
}

/* MRBENCH_CUDNN_API: unset or "legacy" (0), "graph" (1); any other value is
 * refused. */
static mrb_status read_cudnn_api(int *graph)
{
    const char *e = getenv("MRBENCH_CUDNN_API");
    *graph = e && strcmp(e, "graph") == 0;
    if (!e || *graph || strcmp(e, "legacy") == 0) return MRB_OK;
    return mrb_error(MRB_ERR_INVALID,
                     "cascade (GPU): MRBENCH_CUDNN_API=\"%s\" is neither \"legacy\" (the default) "
                     "nor \"graph\"",
                     e);
}

mrb_status mrb_cuda_cascade_create(const mrb_cascade *net, mrb_cuda_cascade **out)
{
    *out = NULL;
    int graph;
    MRB_TRY(read_cudnn_api(&graph)); /* before the device check: refused on any machine */
    char why[256];
    MRB_TRY(mrb_cuda_available(why, sizeof why));
    mrb_cuda_cascade *g = (mrb_cuda_cascade *)calloc(1, sizeof *g);
    if (!g) return mrb_error(MRB_ERR_NOMEM, "cascade (GPU): out of memory");
    g->arch = *mrb_cascade_get_arch(net);
    g->rank = g->arch.temporal ? 3 : 2;
    g->tf32 = env_flag("MRBENCH_TF32");
    g->graph = graph;
    size_t nc = (size_t)g->arch.n_c, nd = (size_t)g->arch.n_d;
    g->w_off = (size_t *)calloc(nc * nd, sizeof *g->w_off);
    g->b_off = (size_t *)calloc(nc * nd, sizeof *g->b_off);
    g->w_cnt = (size_t *)calloc(nc * nd, sizeof *g->w_cnt);
    g->b_cnt = (size_t *)calloc(nc * nd, sizeof *g->b_cnt);
    g->lambda = (float *)calloc(nc, sizeof(float));
    g->lambda_grad = (float *)calloc(nc, sizeof(float));
    g->lambda_m = (float *)calloc(nc, sizeof(float));
    g->lambda_v = (float *)calloc(nc, sizeof(float));
    g->xin = (float **)calloc(nc + 1, sizeof *g->xin);
    g->ds = (float **)calloc(nc, sizeof *g->ds);
    g->act = (float **)calloc(nc * nd, sizeof *g->act);
    g->cres = (float2 **)calloc(nc, sizeof *g->cres);
    g->owned = (float **)calloc(4 * nc + nc * nd + 16, sizeof *g->owned);
    mrb_named_tensor *ps = (mrb_named_tensor *)calloc(nc * nd * 2 + nc, sizeof *ps);
    mrb_status st = (g->w_off && g->b_off && g->w_cnt && g->b_cnt && g->lambda && g->lambda_grad && g->lambda_m &&
                     g->lambda_v && g->xin && g->ds && g->act && g->cres && g->owned && ps)
                        ? MRB_OK
                        : mrb_error(MRB_ERR_NOMEM, "cascade (GPU): out of memory");
    size_t np = st == MRB_OK ? mrb_cascade_params((mrb_cascade *)net, ps, nc * nd * 2 + nc) : 0;
    /* Conv weights and biases in one buffer, each starting on a 16-byte
     * boundary (the gaps stay zero: no gradient, no decay, no Adam update);
     * lambdas stay on the host: the DC kernels take lambda by value. */
    size_t off = 0, layer = 0;
    for (size_t i = 0; st == MRB_OK && i < np; i++) {
        if (strstr(ps[i].name, ".dc.lmbda")) {
            g->lambda[layer / nd - 1] = ps[i].t->data[0];
            continue;
        }
        size_t cnt = mrb_tensor_count(ps[i].t);
        off = (off + PARAM_ALIGN_FLOATS - 1) / PARAM_ALIGN_FLOATS * PARAM_ALIGN_FLOATS;
        if (strstr(ps[i].name, ".weight")) {
            g->w_off[layer] = off;
            g->w_cnt[layer] = cnt;
        } else {
            g->b_off[layer] = off;
            g->b_cnt[layer++] = cnt;
        }
        off += cnt;
    }
    g->nfloats = off;
    unsigned char *decay = st == MRB_OK ? (unsigned char *)calloc(off ? off : 1, 1) : NULL;
    float *h_w = st == MRB_OK ? (float *)calloc(off ? off : 1, sizeof(float)) : NULL;
    if (st == MRB_OK && (!decay || !h_w)) st = mrb_error(MRB_ERR_NOMEM, "cascade (GPU): out of memory");
    layer = 0;
    for (size_t i = 0; st == MRB_OK && i < np; i++) {
        if (strstr(ps[i].name, ".dc.lmbda")) continue;
        int weight = strstr(ps[i].name, ".weight") != NULL;
        size_t o = weight ? g->w_off[layer] : g->b_off[layer++];
        memcpy(h_w + o, ps[i].t->data, mrb_tensor_count(ps[i].t) * sizeof(float));
        /* weight decay on convolution weights only, as the CPU training */
        if (weight) memset(decay + o, 1, mrb_tensor_count(ps[i].t));
    }
    void *p;
    if (st == MRB_OK) st = mrb_cuda_alloc(off * sizeof(float), &p), g->d_w = (float *)p;
    if (st == MRB_OK) st = mrb_cuda_alloc(off * sizeof(float), &p), g->d_g = (float *)p;
    if (st == MRB_OK) st = mrb_cuda_alloc(off * sizeof(float), &p), g->d_m = (float *)p;
    if (st == MRB_OK) st = mrb_cuda_alloc(off * sizeof(float), &p), g->d_v = (float *)p;
    if (st == MRB_OK) st = mrb_cuda_alloc(off, &p), g->d_decay = (unsigned char *)p;
    if (st == MRB_OK) st = mrb_cuda_upload(g->d_w, h_w, off * sizeof(float));
    if (st == MRB_OK) st = mrb_cuda_upload(g->d_decay, decay, off);
    free(h_w);
    free(decay);
    free(ps);
    if (st == MRB_OK) st = mrb_cuda_work_stream(&g->stream);
    if (st == MRB_OK) st = MRB_CUDNN_CALL(cudnnCreate(&g->cudnn));
    if (st == MRB_OK) st = MRB_CUDNN_CALL(cudnnSetStream(g->cudnn, g->stream));
    if (st == MRB_OK && env_flag("MRBENCH_CUDA_PROFILE")) {
        st = MRB_CUDA_CALL(cudaEventCreate(&g->prof_start));
        if (st == MRB_OK) st = MRB_CUDA_CALL(cudaEventCreate(&g->prof_stop));
        g->profile = st == MRB_OK;
    }
    int cin0 = g->arch.temporal ? MRB_DS_CHANNELS : 2, nf = g->arch.n_f;
    int shapes[NKINDS][2] = {{cin0, nf}, {nf, nf}, {nf, 2}};
    for (int k = 0; st == MRB_OK && k < NKINDS; k++) {
        conv_kind *ck = &g->kinds[k];
        ck->cin = shapes[k][0];
        ck->cout = shapes[k][1];
        int dims[5] = {ck->cout, ck->cin, 3, 3, 3};
        st = MRB_CUDNN_CALL(cudnnCreateFilterDescriptor(&ck->filter));
        if (st == MRB_OK)
            st = MRB_CUDNN_CALL(
                cudnnSetFilterNdDescriptor(ck->filter, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g->rank + 2, dims));
        if (st == MRB_OK) st = make_conv_desc(g->rank, g->tf32, &ck->conv_fwd);
        if (st == MRB_OK) st = make_conv_desc(g->rank, g->tf32, &ck->conv_bwd_data);
        if (st == MRB_OK) st = make_conv_desc(g->rank, g->tf32, &ck->conv_bwd_filter);
    }
    if (st != MRB_OK) {
        mrb_cuda_cascade_free(g);
        return mrb_error_context(st, "cascade (GPU)");
    }
    *out = g;
    return MRB_OK;
}

int mrb_cuda_cascade_tf32(const mrb_cuda_cascade *g)
{
    return g->tf32;
}

static mrb_status tensor_desc(const mrb_cuda_cascade *g, int channels, cudnnTensorDescriptor_t *out)
{
    MRB_TRY(MRB_CUDNN_CALL(cudnnCreateTensorDescriptor(out)));
    int n = (int)g->n, t = (int)g->nt, y = (int)g->ny, x = (int)g->nx;
    if (g->rank == 2)
        return MRB_CUDNN_CALL(cudnnSetTensor4dDescriptor(*out, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, channels, y, x));
    int dims[5] = {n, channels, t, y, x};
    int strides[5] = {channels * t * y * x, t * y * x, y * x, x, 1};
    return MRB_CUDNN_CALL(cudnnSetTensorNdDescriptor(*out, CUDNN_DATA_FLOAT, 5, dims, strides));
}

static cudnnTensorDescriptor_t desc_for(const mrb_cuda_cascade *g, int channels)
{
    return channels == 2 ? g->t2 : (channels == MRB_DS_CHANNELS ? g->t12 : g->tf);
}

/* Allowed algorithms: math type FMA only in strict FP32; deterministic
 * unless MRBENCH_CUDNN_NONDETERMINISTIC=1. MRBENCH_CUDNN_VERBOSE=1 prints
 * cuDNN's candidates and the re-measured times to stderr. */
static int math_allowed(const mrb_cuda_cascade *g, cudnnMathType_t m)
{
    return g->tf32 || m == CUDNN_FMA_MATH;
}

template <typename Perf>
static void print_candidates(const mrb_cuda_cascade *g, const Perf *perf, int got, const char *pass,
                             const conv_kind *ck)
{
    if (!env_flag("MRBENCH_CUDNN_VERBOSE")) return;
    for (int i = 0; i < got; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS)
            fprintf(stderr, "cudnn %s %dx%d n=%zu: algo %d %.3f ms ws %zu MiB %s math %d\n", pass, ck->cin, ck->cout,
                    g->n, (int)perf[i].algo, (double)perf[i].time, perf[i].memory >> 20,
                    perf[i].determinism == CUDNN_DETERMINISTIC ? "det" : "nondet", (int)perf[i].mathType);
}
/* Candidates cuDNN's own timing ranks first are timed again on the
 * network's buffers (its ranking can be off by 2x and more for some
 * algorithms, e.g. TF32 implicit GEMM on NCHW): this many of them. */
#define CASCADE_TIMED_CANDIDATES 4
#define CASCADE_TIMED_REPEATS 3

static size_t weight_count(const mrb_cuda_cascade *g, const conv_kind *ck)
{
    return (size_t)ck->cout * (size_t)ck->cin * (g->rank == 3 ? 27 : 9);
}

/* The buffers a layer of kind k reads and writes, for timing. */
static int kind_buffers(const mrb_cuda_cascade *g, int k, float **x, float **y, float **w, float **dw)
{
    size_t nd = (size_t)g->arch.n_d, layer;
    if (k == KIND_FIRST) {
        *x = g->arch.temporal ? g->ds[0] : g->xin[0];
        *y = g->act[0];
        layer = 0;
    } else if (k == KIND_MID) {
        if (nd < 3) return 0; /* no middle layer */
        *x = g->act[0];
        *y = g->act[1];
        layer = 1;
    } else {
        *x = g->act[nd - 2];
        *y = g->act[nd - 1];
        layer = nd - 1;
    }
    *w = g->d_w + g->w_off[layer];
    *dw = g->d_g + g->w_off[layer];
    return 1;
}

/* Picks among cuDNN's allowed candidates (see pick_algorithm) by timing the
 * best few with `run(algo, workspace, bytes)` on the real buffers; sets the
 * descriptor's math type to the winner's. *pick = -1 when none is allowed. */
template <typename Perf, typename Run>
static mrb_status select_timed(mrb_cuda_cascade *g, const Perf *perf, int got, const char *pass, const conv_kind *ck,
                               int timeable, cudnnConvolutionDescriptor_t desc, Run run, int *pick)
{
    int any = env_flag("MRBENCH_CUDNN_NONDETERMINISTIC"), verbose = env_flag("MRBENCH_CUDNN_VERBOSE");
    int cand[CASCADE_TIMED_CANDIDATES], ncand = 0;
    size_t need = 0;
    for (int i = 0; i < got && ncand < CASCADE_TIMED_CANDIDATES; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && (any || perf[i].determinism == CUDNN_DETERMINISTIC) &&
            math_allowed(g, perf[i].mathType)) {
            cand[ncand++] = i;
            if (perf[i].memory > need) need = perf[i].memory;
        }
    *pick = ncand ? cand[0] : -1;
    void *ws = NULL;
    if (ncand > 1 && timeable && need && mrb_cuda_alloc(need, &ws) != MRB_OK) {
        mrb_error_clear(); /* no room to time the hungry ones: keep cuDNN's ranking */
        timeable = 0;
    }
    if (ncand > 1 && timeable) {
        cudaEvent_t e0, e1;
        MRB_TRY(MRB_CUDA_CALL(cudaEventCreate(&e0)));
        MRB_TRY(MRB_CUDA_CALL(cudaEventCreate(&e1)));
        float best = INFINITY;
        for (int c = 0; c < ncand; c++) {
            const Perf *pc = &perf[cand[c]];
            float ms = INFINITY;
            if (cudnnSetConvolutionMathType(desc, pc->mathType) == CUDNN_STATUS_SUCCESS &&
                run(pc->algo, ws, need) == CUDNN_STATUS_SUCCESS) {
                cudaEventRecord(e0, g->stream);
                for (int r = 0; r < CASCADE_TIMED_REPEATS; r++) run(pc->algo, ws, need);
                cudaEventRecord(e1, g->stream);
                cudaEventSynchronize(e1);
                cudaEventElapsedTime(&ms, e0, e1);
                ms /= CASCADE_TIMED_REPEATS;
            }
            if (verbose)
                fprintf(stderr, "cudnn %s %dx%d n=%zu: algo %d math %d: cuDNN %.3f ms, measured %.3f ms\n", pass,
                        ck->cin, ck->cout, g->n, (int)pc->algo, (int)pc->mathType, (double)pc->time, (double)ms);
            if (ms < best) {
                best = ms;
                *pick = cand[c];
            }
        }
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        mrb_cuda_free(ws);
        MRB_TRY(MRB_CUDA_CALL(cudaGetLastError()));
    }
    if (*pick >= 0) MRB_TRY(MRB_CUDNN_CALL(cudnnSetConvolutionMathType(desc, perf[*pick].mathType)));
    return MRB_OK;
}

enum { PASS_FWD = 0, PASS_BWD_DATA, PASS_BWD_FILTER };

static mrb_status choose_with(mrb_cuda_cascade *g, conv_kind *ck, int train, cudnnTensorDescriptor_t x,
                              cudnnTensorDescriptor_t y, float *bx, float *by, float *bw, float *bdw, int timeable);
static mrb_status choose_backward(mrb_cuda_cascade *g, conv_kind *ck, cudnnTensorDescriptor_t x,
                                  cudnnTensorDescriptor_t y, float *bx, float *by, float *bw, float *bdw, int timeable);
static mrb_status choose_graph(mrb_cuda_cascade *g, int k, int train, float *bx, float *by, float *bw, float *bdw);

static mrb_status choose_algorithms(mrb_cuda_cascade *g, int k, int train)
{
    conv_kind *ck = &g->kinds[k];
    cudnnTensorDescriptor_t x = desc_for(g, ck->cin), y = desc_for(g, ck->cout);
    float *bx = NULL, *by = NULL, *bw = NULL, *bdw = NULL;
    int timeable = kind_buffers(g, k, &bx, &by, &bw, &bdw);
    float *w_rand = NULL; /* random weights for the timing (the real ones stay) */
    if (timeable) {
        size_t wcount = weight_count(g, ck);
        size_t xcount = g->n * (size_t)ck->cin * g->vol, ycount = g->n * (size_t)ck->cout * g->vol;
        void *p = NULL;
        MRB_TRY(mrb_cuda_alloc(wcount * sizeof(float), &p));
        w_rand = (float *)p;
        bw = w_rand;
        fill_random_kernel<<<mrb_cuda_grid(wcount), MRB_CUDA_BLOCK, 0, g->stream>>>(w_rand, wcount, 1u);
        fill_random_kernel<<<mrb_cuda_grid(xcount), MRB_CUDA_BLOCK, 0, g->stream>>>(bx, xcount, 2u);
        fill_random_kernel<<<mrb_cuda_grid(ycount), MRB_CUDA_BLOCK, 0, g->stream>>>(by, ycount, 3u);
        mrb_status st = launch_check("fill_random_kernel");
        if (st != MRB_OK) {
            mrb_cuda_free(w_rand);
            return st;
        }
    }
    mrb_status st = MRB_OK;
    if (!g->graph)
        st = choose_with(g, ck, train, x, y, bx, by, bw, bdw, timeable);
    else if (timeable)
        st = choose_graph(g, k, train, bx, by, bw, bdw); /* else no layer is of this kind */
    mrb_cuda_free(w_rand);
    return st;
}

static mrb_status choose_with(mrb_cuda_cascade *g, conv_kind *ck, int train, cudnnTensorDescriptor_t x,
                              cudnnTensorDescriptor_t y, float *bx, float *by, float *bw, float *bdw, int timeable)
{
    int got = 0, pick;
    if (!ck->have_fwd) {
        cudnnConvolutionFwdAlgoPerf_t perf[CASCADE_MAX_ALGOS];
        MRB_TRY(MRB_CUDNN_CALL(cudnnFindConvolutionForwardAlgorithm(g->cudnn, x, ck->filter, ck->conv_fwd, y,
                                                                    CASCADE_MAX_ALGOS, &got, perf)));
        print_candidates(g, perf, got, "fwd", ck);
        auto run = [&](cudnnConvolutionFwdAlgo_t algo, void *w_s, size_t bytes) {
            return cudnnConvolutionForward(g->cudnn, &f_one, x, bx, ck->filter, bw, ck->conv_fwd, algo, w_s, bytes,
                                           &f_zero, y, by);
        };
        MRB_TRY(select_timed(g, perf, got, "fwd", ck, timeable, ck->conv_fwd, run, &pick));
        if (pick < 0)
            return mrb_error(MRB_ERR_DEVICE,
                             "cuDNN found no usable %s forward algorithm for a %dx%d "
                             "convolution",
                             g->tf32 ? "TF32" : "FP32", ck->cin, ck->cout);
        ck->fwd = perf[pick].algo;
        ck->have_fwd = 1;
    }
    return train ? choose_backward(g, ck, x, y, bx, by, bw, bdw, timeable) : MRB_OK;
}

static mrb_status choose_backward(mrb_cuda_cascade *g, conv_kind *ck, cudnnTensorDescriptor_t x,
                                  cudnnTensorDescriptor_t y, float *bx, float *by, float *bw, float *bdw, int timeable)
{
    int got = 0, pick;
    if (!ck->have_bwd) {
        cudnnConvolutionBwdDataAlgoPerf_t pd[CASCADE_MAX_ALGOS];
        MRB_TRY(MRB_CUDNN_CALL(cudnnFindConvolutionBackwardDataAlgorithm(g->cudnn, ck->filter, y, ck->conv_bwd_data, x,
                                                                         CASCADE_MAX_ALGOS, &got, pd)));
        print_candidates(g, pd, got, "bwd-data", ck);
        auto run_data = [&](cudnnConvolutionBwdDataAlgo_t algo, void *w_s, size_t bytes) {
            return cudnnConvolutionBackwardData(g->cudnn, &f_one, ck->filter, bw, y, by, ck->conv_bwd_data, algo, w_s,
                                                bytes, &f_zero, x, bx);
        };
        MRB_TRY(select_timed(g, pd, got, "bwd-data", ck, timeable, ck->conv_bwd_data, run_data, &pick));
        if (pick < 0)
            return mrb_error(MRB_ERR_DEVICE,
                             "cuDNN found no usable backward-data algorithm for a "
                             "%dx%d convolution",
                             ck->cin, ck->cout);
        ck->bwd_data = pd[pick].algo;
        cudnnConvolutionBwdFilterAlgoPerf_t pf[CASCADE_MAX_ALGOS];
        MRB_TRY(MRB_CUDNN_CALL(cudnnFindConvolutionBackwardFilterAlgorithm(g->cudnn, x, y, ck->conv_bwd_filter,
                                                                           ck->filter, CASCADE_MAX_ALGOS, &got, pf)));
        print_candidates(g, pf, got, "bwd-filter", ck);
        auto run_filter = [&](cudnnConvolutionBwdFilterAlgo_t algo, void *w_s, size_t bytes) {
            return cudnnConvolutionBackwardFilter(g->cudnn, &f_one, x, bx, y, by, ck->conv_bwd_filter, algo, w_s, bytes,
                                                  &f_zero, ck->filter, bdw);
        };
        MRB_TRY(select_timed(g, pf, got, "bwd-filter", ck, timeable, ck->conv_bwd_filter, run_filter, &pick));
        if (pick < 0)
            return mrb_error(MRB_ERR_DEVICE,
                             "cuDNN found no usable backward-filter algorithm for a "
                             "%dx%d convolution",
                             ck->cin, ck->cout);
        ck->bwd_filter = pf[pick].algo;
        ck->have_bwd = 1;
    }
    return MRB_OK;
}

/* choose_with's counterpart on the graph API: a plan per pass, its engine
 * timed on the buffers of choose_algorithms (activations, random weights,
 * the layer's weight gradient). Every operand is 16-byte aligned, the plans'
 * default: activations are whole allocations and parameters start on
 * PARAM_ALIGN_FLOATS boundaries (mrb_conv_graph_run refuses any other). */
static mrb_status choose_graph(mrb_cuda_cascade *g, int k, int train, float *bx, float *by, float *bw, float *bdw)
{
    conv_kind *ck = &g->kinds[k];
    mrb_conv_shape s = {};
    s.rank = g->rank;
    s.n = (int64_t)g->n;
    s.cin = ck->cin;
    s.cout = ck->cout;
    const int64_t spatial[3] = {(int64_t)g->nt, (int64_t)g->ny, (int64_t)g->nx};
    for (int i = 0; i < g->rank; i++) s.dims[i] = spatial[3 - g->rank + i];
    /* in0, in1, out of each pass (conv_graph_cuda.h) */
    const float *in0[MRB_CONV_NPASSES] = {bx, bw, bx}, *in1[MRB_CONV_NPASSES] = {bw, by, by};
    float *outs[MRB_CONV_NPASSES] = {by, bx, bdw};
    int deterministic = !env_flag("MRBENCH_CUDNN_NONDETERMINISTIC");
    for (int p = 0; p < (train ? MRB_CONV_NPASSES : 1); p++)
        if (!ck->plans[p])
            MRB_TRY(mrb_conv_graph_create(g->cudnn, (mrb_conv_pass)p, &s, g->tf32, deterministic, in0[p], in1[p],
                                          outs[p], &ck->plans[p]));
    return MRB_OK;
}

/* One workspace, the largest the chosen algorithms need, shared by every
 * layer and pass (separate workspaces per shape and pass were measured: no
 * faster, several GiB more). */
static mrb_status alloc_workspaces(mrb_cuda_cascade *g, int train)
{
    size_t most = 0;
    for (int k = 0; k < NKINDS; k++) {
        conv_kind *ck = &g->kinds[k];
        cudnnTensorDescriptor_t x = desc_for(g, ck->cin), y = desc_for(g, ck->cout);
        size_t b[3] = {0, 0, 0};
        if (g->graph) {
            for (int p = 0; p < MRB_CONV_NPASSES; p++) b[p] = mrb_conv_graph_workspace(ck->plans[p]); /* NULL: 0 */
        } else {
            MRB_TRY(MRB_CUDNN_CALL(cudnnGetConvolutionForwardWorkspaceSize(g->cudnn, x, ck->filter, ck->conv_fwd, y,
                                                                           ck->fwd, &b[PASS_FWD])));
            if (train) {
                MRB_TRY(MRB_CUDNN_CALL(cudnnGetConvolutionBackwardDataWorkspaceSize(
                    g->cudnn, ck->filter, y, ck->conv_bwd_data, x, ck->bwd_data, &b[PASS_BWD_DATA])));
                MRB_TRY(MRB_CUDNN_CALL(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                    g->cudnn, x, y, ck->conv_bwd_filter, ck->filter, ck->bwd_filter, &b[PASS_BWD_FILTER])));
            }
        }
        for (int p = 0; p < 3; p++) most = b[p] > most ? b[p] : most;
    }
    g->ws_size = most;
    if (most) MRB_TRY(mrb_cuda_alloc(most, &g->ws));
    return MRB_OK;
}

/* Floats of the graph API's scratch: the largest output a pass adds to, a
 * weight gradient or the data gradient of the first convolution. */
static size_t graph_scratch_floats(const mrb_cuda_cascade *g)
{
    size_t most = g->n * (size_t)g->kinds[KIND_FIRST].cin * g->vol;
    for (int k = 0; k < NKINDS; k++) {
        size_t w = weight_count(g, &g->kinds[k]);
        most = w > most ? w : most;
    }
    return most;
}

mrb_status mrb_cuda_cascade_prepare(mrb_cuda_cascade *g, size_t n, size_t nx, size_t ny, size_t nt, int train)
{
    if (n == 0 || nx == 0 || ny == 0 || nt == 0 || (!g->arch.temporal && nt != 1))
        return mrb_error(MRB_ERR_INVALID,
                         "cascade (GPU): shape %zu x [%zu, %zu, %zu] (2D takes nt = 1, frames "
                         "as items)",
                         n, nx, ny, nt);
    size_t nf = (size_t)g->arch.n_f, big = n * nf * nx * ny * nt;
    if (big > (size_t)INT32_MAX)
        return mrb_error(MRB_ERR_INVALID,
                         "cascade (GPU): a %zu-filter feature map of %zu x [%zu, %zu, %zu] "
                         "exceeds cuDNN's 2^31 elements; use fewer items",
                         nf, n, nx, ny, nt);
    if (g->prepared && g->n == n && g->nx == nx && g->ny == ny && g->nt == nt && g->train >= train) return MRB_OK;
    free_shape(g);
    g->n = n;
    g->nx = nx;
    g->ny = ny;
    g->nt = nt;
    g->vol = nx * ny * nt;
    g->train = train;
    size_t nc = (size_t)g->arch.n_c, nd = (size_t)g->arch.n_d, two = n * 2 * g->vol;
    int learn = g->arch.lambda >= 0 && g->arch.lambda_trainable;
    mrb_status st = tensor_desc(g, 2, &g->t2);
    if (st == MRB_OK) st = tensor_desc(g, MRB_DS_CHANNELS, &g->t12);
    if (st == MRB_OK) st = tensor_desc(g, (int)nf, &g->tf);
    /* Training keeps every cascade input. In inference a cascade reads its
     * input only before the DC layer writes its output, so one buffer
     * serves all (xin[0] is a copy of the caller's input). */
    for (size_t i = 0; st == MRB_OK && i <= nc; i++)
        if (i == 0 || train)
            st = dalloc(g, two, &g->xin[i]);
        else
            g->xin[i] = g->xin[0];
    for (size_t i = 0; st == MRB_OK && g->arch.temporal && i < nc; i++)
        if (i == 0 || train)
            st = dalloc(g, n * MRB_DS_CHANNELS * g->vol, &g->ds[i]);
        else
            g->ds[i] = g->ds[0];
    if (st == MRB_OK && train) {
        for (size_t k = 0; st == MRB_OK && k < nc * nd; k++)
            st = dalloc(g, k % nd == nd - 1 ? two : n * nf * g->vol, &g->act[k]);
    } else if (st == MRB_OK) {
        float *ping, *pong, *last;
        st = dalloc(g, n * nf * g->vol, &ping);
        if (st == MRB_OK) st = dalloc(g, n * nf * g->vol, &pong);
        if (st == MRB_OK) st = dalloc(g, two, &last);
        for (size_t k = 0; st == MRB_OK && k < nc * nd; k++)
            g->act[k] = k % nd == nd - 1 ? last : ((k % nd) % 2 ? pong : ping);
    }
    float *f;
    if (st == MRB_OK) st = dalloc(g, two, &f), g->cbuf = (float2 *)f;
    if (st == MRB_OK && g->arch.temporal) st = dalloc(g, two, &f), g->cbuf2 = (float2 *)f;
    if (st == MRB_OK && g->arch.temporal && train) st = dalloc(g, two, &f), g->cbuf3 = (float2 *)f;
    for (size_t i = 0; st == MRB_OK && train && learn && i < nc; i++) st = dalloc(g, two, &f), g->cres[i] = (float2 *)f;
    if (st == MRB_OK && train) {
        st = dalloc(g, two, &g->gx[0]);
        if (st == MRB_OK) st = dalloc(g, two, &g->gx[1]);
        if (st == MRB_OK) st = dalloc(g, two, &g->g_last);
        if (st == MRB_OK) st = dalloc(g, n * nf * g->vol, &g->g_f[0]);
        if (st == MRB_OK) st = dalloc(g, n * nf * g->vol, &g->g_f[1]);
        if (st == MRB_OK && g->arch.temporal) st = dalloc(g, n * MRB_DS_CHANNELS * g->vol, &g->g_ds);
        g->bias_chunks = (g->vol + BIAS_GRAD_CHUNK - 1) / BIAS_GRAD_CHUNK;
        if (st == MRB_OK) st = dalloc(g, n * nf * g->bias_chunks, &g->d_bias_partial);
        if (st == MRB_OK && g->graph) st = dalloc(g, graph_scratch_floats(g), &g->d_graph_scratch);
    }
    size_t blocks = mrb_cuda_grid(two > g->nfloats ? two : g->nfloats);
    void *p;
    if (st == MRB_OK) st = mrb_cuda_alloc(blocks * sizeof(double), &p), g->d_partial = (double *)p;
    if (st == MRB_OK && !(g->h_partial = (double *)malloc(blocks * sizeof(double))))
        st = mrb_error(MRB_ERR_NOMEM, "cascade (GPU): out of memory");
    for (int k = 0; st == MRB_OK && k < NKINDS; k++) st = choose_algorithms(g, k, train);
    if (st == MRB_OK) st = alloc_workspaces(g, train);
    /* the timing wrote into the gradients */
    if (st == MRB_OK) st = MRB_CUDA_CALL(cudaMemsetAsync(g->d_g, 0, g->nfloats * sizeof(float), g->stream));
    if (st != MRB_OK) {
        free_shape(g);
        return mrb_error_context(st, "cascade (GPU): preparing %zu x [%zu, %zu, %zu]", n, nx, ny, nt);
    }
    g->prepared = 1;
    return MRB_OK;
}

static double dc_lambda(const mrb_cuda_cascade *g, size_t i)
{
    if (g->arch.lambda < 0) return -1.0;
    return g->lambda[i] > 0.0f ? (double)g->lambda[i] : 0.0;
}

static mrb_status fft(const mrb_cuda_cascade *g, mrb_fft_dir dir, float2 *buf)
{
    size_t dims[3] = {g->nx, g->ny, g->nt * g->n};
    return mrb_cuda_fft_centered(dir, 2, 3, dims, (float *)buf);
}

static mrb_status datashare_forward(mrb_cuda_cascade *g, const float *x, const float *ks, const float *mask,
                                    int divide_by_acquired, float *y)
{
    size_t n = g->n, vol = g->vol, frame = g->nx * g->ny, total = n * vol;
    unsigned grid = mrb_cuda_grid(total);
    pack_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(x, NULL, n, 2, 0, vol, g->cbuf);
    MRB_TRY(launch_check("pack_kernel"));
    copy_channels_kernel<<<mrb_cuda_grid(2 * total), MRB_CUDA_BLOCK, 0, g->stream>>>(x, n, vol, MRB_DS_CHANNELS, 0, y,
                                                                                     0);
    MRB_TRY(launch_check("copy_channels_kernel"));
    MRB_TRY(fft(g, MRB_FFT_FORWARD, g->cbuf));
    for (int j = 0; j < MRB_DS_NWINDOWS; j++) {
        datashare_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(g->cbuf, (const float2 *)ks, mask, n, (long)g->nt,
                                                                 frame, j, divide_by_acquired, g->cbuf2);
        MRB_TRY(launch_check("datashare_kernel"));
        MRB_TRY(fft(g, MRB_FFT_INVERSE, g->cbuf2));
        unpack_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(g->cbuf2, n, MRB_DS_CHANNELS, 2 + 2 * (size_t)j, vol, 0,
                                                              y);
        MRB_TRY(launch_check("unpack_kernel"));
    }
    return MRB_OK;
}

/* gx += data-sharing adjoint of gy (the layer's output gradient). */
static mrb_status datashare_backward(mrb_cuda_cascade *g, const float *mask, int divide_by_acquired, const float *gy,
                                     float *gx)
{
    size_t n = g->n, vol = g->vol, frame = g->nx * g->ny, total = n * vol;
    unsigned grid = mrb_cuda_grid(total);
    copy_channels_kernel<<<mrb_cuda_grid(2 * total), MRB_CUDA_BLOCK, 0, g->stream>>>(gy, n, vol, MRB_DS_CHANNELS, 1, gx,
                                                                                     1);
    MRB_TRY(launch_check("copy_channels_kernel"));
    MRB_TRY(MRB_CUDA_CALL(cudaMemsetAsync(g->cbuf3, 0, total * sizeof(float2), g->stream)));
    for (int j = 0; j < MRB_DS_NWINDOWS; j++) {
        pack_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(gy, NULL, n, MRB_DS_CHANNELS, 2 + 2 * (size_t)j, vol,
                                                            g->cbuf2);
        MRB_TRY(launch_check("pack_kernel"));
        MRB_TRY(fft(g, MRB_FFT_FORWARD, g->cbuf2)); /* adjoint of F^H */
        datashare_adjoint_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(g->cbuf2, mask, n, (long)g->nt, frame, j,
                                                                         divide_by_acquired, g->cbuf3);
        MRB_TRY(launch_check("datashare_adjoint_kernel"));
    }
    MRB_TRY(fft(g, MRB_FFT_INVERSE, g->cbuf3));
    unpack_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(g->cbuf3, n, 2, 0, vol, 1, gx);
    return launch_check("unpack_kernel");
}

/* One pass of a graph plan. Plans overwrite their output (beta 0): a pass
 * that adds to it (beta 1 in the legacy calls) writes its `count` floats
 * into the scratch buffer, then adds them. */
static mrb_status graph_run(mrb_cuda_cascade *g, const mrb_conv_graph *plan, const float *in0, const float *in1,
                            float *out, int accumulate, size_t count)
{
    float *target = accumulate ? g->d_graph_scratch : out;
    MRB_TRY(mrb_conv_graph_run(plan, g->cudnn, in0, in1, target, g->ws, g->ws_size));
    if (!accumulate) return MRB_OK;
    accumulate_kernel<<<mrb_cuda_grid(count), MRB_CUDA_BLOCK, 0, g->stream>>>(out, target, count);
    return launch_check("accumulate_kernel");
}

static mrb_status conv_forward(mrb_cuda_cascade *g, const conv_kind *ck, size_t layer, const float *x, float *y,
                               int relu)
{
    prof_begin(g);
    double h0 = g->profile ? mrb_now() : 0.0;
    if (g->graph)
        MRB_TRY(graph_run(g, ck->plans[MRB_CONV_FORWARD], x, g->d_w + g->w_off[layer], y, 0, 0));
    else
        MRB_TRY(MRB_CUDNN_CALL(cudnnConvolutionForward(g->cudnn, &f_one, desc_for(g, ck->cin), x, ck->filter,
                                                       g->d_w + g->w_off[layer], ck->conv_fwd, ck->fwd, g->ws,
                                                       g->ws_size, &f_zero, desc_for(g, ck->cout), y)));
    if (g->profile) {
        g->prof_s[PROF_CONV_HOST] += mrb_now() - h0;
        g->prof_calls[PROF_CONV_HOST]++;
    }
    prof_end(g, PROF_CONV);
    prof_begin(g);
    size_t total = g->n * (size_t)ck->cout * g->vol;
    bias_act_kernel<<<mrb_cuda_grid(total), MRB_CUDA_BLOCK, 0, g->stream>>>(y, g->d_w + g->b_off[layer], total, g->vol,
                                                                            ck->cout, relu);
    prof_end(g, PROF_BIAS_ACT);
    return launch_check("bias_act_kernel");
}

static const conv_kind *kind_of(const mrb_cuda_cascade *g, size_t j)
{
    size_t nd = (size_t)g->arch.n_d;
    return &g->kinds[j == 0 ? KIND_FIRST : (j == nd - 1 ? KIND_LAST : KIND_MID)];
}

mrb_status mrb_cuda_cascade_forward(mrb_cuda_cascade *g, const float *d_x0, const float *d_kspace, const float *d_mask,
                                    const float **d_out)
{
    if (!g->prepared) return mrb_error(MRB_ERR_INVALID, "cascade (GPU): forward before prepare");
    size_t nc = (size_t)g->arch.n_c, nd = (size_t)g->arch.n_d, n = g->n, vol = g->vol;
    size_t total = n * vol;
    unsigned grid = mrb_cuda_grid(total);
    MRB_TRY(MRB_CUDA_CALL(
        cudaMemcpyAsync(g->xin[0], d_x0, 2 * total * sizeof(float), cudaMemcpyDeviceToDevice, g->stream)));
    int learn = g->arch.lambda >= 0 && g->arch.lambda_trainable;
    for (size_t i = 0; i < nc; i++) {
        const float *h = g->xin[i];
        if (g->arch.temporal) {
            prof_begin(g);
            MRB_TRY(datashare_forward(g, g->xin[i], d_kspace, d_mask, i == 0, g->ds[i]));
            prof_end(g, PROF_DATASHARE);
            h = g->ds[i];
        }
        for (size_t j = 0; j < nd; j++) {
            MRB_TRY(conv_forward(g, kind_of(g, j), i * nd + j, h, g->act[i * nd + j], j < nd - 1));
            h = g->act[i * nd + j];
        }
        prof_begin(g);
        pack_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(g->xin[i], h, n, 2, 0, vol, g->cbuf);
        MRB_TRY(launch_check("pack_kernel"));
        prof_end(g, PROF_PACK);
        prof_begin(g);
        if (g->train && learn)
            MRB_TRY(MRB_CUDA_CALL(
                cudaMemcpyAsync(g->cres[i], g->cbuf, total * sizeof(float2), cudaMemcpyDeviceToDevice, g->stream)));
        MRB_TRY(mrb_cuda_dc_forward((const float *)g->cbuf, d_kspace, d_mask, g->nx, g->ny, n * g->nt, total,
                                    dc_lambda(g, i), (float *)g->cbuf));
        prof_end(g, PROF_DC);
        prof_begin(g);
        unpack_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(g->cbuf, n, 2, 0, vol, 0, g->xin[i + 1]);
        MRB_TRY(launch_check("unpack_kernel"));
        prof_end(g, PROF_PACK);
    }
    *d_out = g->xin[nc];
    return MRB_OK;
}

mrb_status mrb_cuda_cascade_zero_grad(mrb_cuda_cascade *g)
{
    for (int i = 0; i < g->arch.n_c; i++) g->lambda_grad[i] = 0.0f;
    g->grads_zero = 1;
    return MRB_CUDA_CALL(cudaMemsetAsync(g->d_g, 0, g->nfloats * sizeof(float), g->stream));
}

mrb_status mrb_cuda_cascade_backward(mrb_cuda_cascade *g, const float *d_kspace, const float *d_mask,
                                     const float *d_dout)
{
    if (!g->prepared || !g->train)
        return mrb_error(MRB_ERR_INVALID, "cascade (GPU): backward needs a training forward first");
    size_t nc = (size_t)g->arch.n_c, nd = (size_t)g->arch.n_d, n = g->n, vol = g->vol, total = n * vol;
    unsigned grid = mrb_cuda_grid(total);
    int learn = g->arch.lambda >= 0 && g->arch.lambda_trainable;
    MRB_TRY(MRB_CUDA_CALL(
        cudaMemcpyAsync(g->gx[nc % 2], d_dout, 2 * total * sizeof(float), cudaMemcpyDeviceToDevice, g->stream)));
    for (size_t ii = nc; ii-- > 0;) {
        float *g_out = g->gx[(ii + 1) % 2], *g_in = g->gx[ii % 2];
        prof_begin(g);
        /* DC: g_res = F^H Lambda F g_out; the residual passes it to the input
         * (first contribution: overwrite) and to the last convolution. */
        pack_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(g_out, NULL, n, 2, 0, vol, g->cbuf);
        MRB_TRY(launch_check("pack_kernel"));
        double dl = 0.0;
        MRB_TRY(mrb_cuda_dc_backward(learn ? (const float *)g->cres[ii] : NULL, d_kspace, d_mask, g->nx, g->ny,
                                     n * g->nt, total, dc_lambda(g, ii), (const float *)g->cbuf, (float *)g->cbuf,
                                     learn ? &dl : NULL));
        if (learn) g->lambda_grad[ii] += (float)dl;
        unpack_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(g->cbuf, n, 2, 0, vol, 0, g_in);
        MRB_TRY(launch_check("unpack_kernel"));
        unpack_kernel<<<grid, MRB_CUDA_BLOCK, 0, g->stream>>>(g->cbuf, n, 2, 0, vol, 0, g->g_last);
        MRB_TRY(launch_check("unpack_kernel"));
        prof_end(g, PROF_OTHER);
        for (size_t j = nd; j-- > 0;) {
            prof_begin(g);
            const conv_kind *ck = kind_of(g, j);
            size_t layer = ii * nd + j;
            float *dy = j == nd - 1 ? g->g_last : g->g_f[j % 2];
            const float *y = g->act[layer];
            /* Each parameter's gradient is written once per backward: after
             * zero_grad it is stored (beta 0, the case cuDNN's timing
             * measured), else added to. */
            const float *accumulate = g->grads_zero ? &f_zero : &f_one;
            size_t per_channel = n * g->bias_chunks;
            relu_bias_grad_kernel<<<dim3((unsigned)ck->cout, (unsigned)per_channel), MRB_CUDA_BLOCK, 0, g->stream>>>(
                j < nd - 1 ? y : NULL, dy, (size_t)ck->cout, vol, g->bias_chunks, g->d_bias_partial);
            MRB_TRY(launch_check("relu_bias_grad_kernel"));
            bias_grad_sum_kernel<<<1, 128, 0, g->stream>>>(g->d_bias_partial, per_channel, (size_t)ck->cout,
                                                           g->grads_zero, g->d_g + g->b_off[layer]);
            MRB_TRY(launch_check("bias_grad_sum_kernel"));
            prof_end(g, PROF_BIAS_GRAD);
            prof_begin(g);
            cudnnTensorDescriptor_t ydesc = desc_for(g, ck->cout), xdesc = desc_for(g, ck->cin);
            const float *x = j ? g->act[layer - 1] : (g->arch.temporal ? g->ds[ii] : g->xin[ii]);
            if (g->graph)
                MRB_TRY(graph_run(g, ck->plans[MRB_CONV_BACKWARD_FILTER], x, dy, g->d_g + g->w_off[layer],
                                  !g->grads_zero, weight_count(g, ck)));
            else
                MRB_TRY(MRB_CUDNN_CALL(cudnnConvolutionBackwardFilter(
                    g->cudnn, &f_one, xdesc, x, ydesc, dy, ck->conv_bwd_filter, ck->bwd_filter, g->ws, g->ws_size,
                    accumulate, ck->filter, g->d_g + g->w_off[layer])));
            prof_end(g, PROF_BACKWARD_FILTER);
            prof_begin(g);
            float *dx = NULL;
            const float *beta = &f_zero;
            if (j)
                dx = g->g_f[(j - 1) % 2];
            else if (ii > 0 && g->arch.temporal)
                dx = g->g_ds;
            else if (ii > 0) {
                dx = g_in; /* the residual's share is already there */
                beta = &f_one;
            }
            if (dx && g->graph)
                MRB_TRY(graph_run(g, ck->plans[MRB_CONV_BACKWARD_DATA], g->d_w + g->w_off[layer], dy, dx,
                                  beta == &f_one, n * (size_t)ck->cin * vol));
            else if (dx)
                MRB_TRY(MRB_CUDNN_CALL(
                    cudnnConvolutionBackwardData(g->cudnn, &f_one, ck->filter, g->d_w + g->w_off[layer], ydesc, dy,
                                                 ck->conv_bwd_data, ck->bwd_data, g->ws, g->ws_size, beta, xdesc, dx)));
            prof_end(g, PROF_BACKWARD_DATA);
        }
        prof_begin(g);
        if (g->arch.temporal && ii > 0) MRB_TRY(datashare_backward(g, d_mask, 0, g->g_ds, g_in));
        prof_end(g, PROF_DATASHARE);
    }
    g->grads_zero = 0;
    return MRB_OK;
}

static mrb_status reduce_partials(mrb_cuda_cascade *g, unsigned blocks, double *sum)
{
    MRB_TRY(MRB_CUDA_CALL(
        cudaMemcpyAsync(g->h_partial, g->d_partial, blocks * sizeof(double), cudaMemcpyDeviceToHost, g->stream)));
    MRB_TRY(MRB_CUDA_CALL(cudaStreamSynchronize(g->stream)));
    double s = 0.0;
    for (unsigned b = 0; b < blocks; b++) s += g->h_partial[b];
    *sum = s;
    return MRB_OK;
}

mrb_status mrb_cuda_cascade_mse(mrb_cuda_cascade *g, const float *d_pred, const float *d_target, float scale,
                                float *d_dout, double *loss)
{
    size_t count = g->n * 2 * g->vol;
    unsigned blocks = mrb_cuda_grid(count);
    mse_kernel<<<blocks, MRB_CUDA_BLOCK, 0, g->stream>>>(d_pred, d_target, count, 2.0 * scale / (double)count, d_dout,
                                                         g->d_partial);
    MRB_TRY(launch_check("mse_kernel"));
    if (!loss) return MRB_OK;
    double s;
    MRB_TRY(reduce_partials(g, blocks, &s));
    *loss = scale * s / (double)count;
    return MRB_OK;
}

mrb_status mrb_cuda_cascade_weight_norm2(mrb_cuda_cascade *g, double *value)
{
    if (!g->d_partial) return mrb_error(MRB_ERR_INVALID, "cascade (GPU): weight norm before prepare");
    unsigned blocks = mrb_cuda_grid(g->nfloats);
    masked_norm2_kernel<<<blocks, MRB_CUDA_BLOCK, 0, g->stream>>>(g->d_w, g->d_decay, g->nfloats, g->d_partial);
    MRB_TRY(launch_check("masked_norm2_kernel"));
    return reduce_partials(g, blocks, value);
}

mrb_status mrb_cuda_cascade_adam(mrb_cuda_cascade *g, const mrb_adam_cfg *c, uint64_t t)
{
    if (t == 0) return mrb_error(MRB_ERR_INVALID, "cascade (GPU): Adam step count starts at 1");
    double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
    float step = (float)(c->lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2)), fwd = (float)(2.0 * c->weight_decay);
    float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    adam_kernel<<<mrb_cuda_grid(g->nfloats), MRB_CUDA_BLOCK, 0, g->stream>>>(g->d_w, g->d_g, g->d_m, g->d_v, g->d_decay,
                                                                             g->nfloats, b1, b2, step, rbc2, eps, fwd);
    MRB_TRY(launch_check("adam_kernel"));
    /* lambdas (not decayed), on the host as the CPU optimiser */
    if (g->arch.lambda >= 0 && g->arch.lambda_trainable)
        for (int i = 0; i < g->arch.n_c; i++) {
            float gj = g->lambda_grad[i];
            g->lambda_m[i] = b1 * g->lambda_m[i] + (1.0f - b1) * gj;
            g->lambda_v[i] = b2 * g->lambda_v[i] + (1.0f - b2) * gj * gj;
            g->lambda[i] -= step * g->lambda_m[i] / (sqrtf(g->lambda_v[i]) * rbc2 + eps);
        }
    return MRB_OK;
}

mrb_status mrb_cuda_cascade_download(const mrb_cuda_cascade *g, mrb_cascade *net, int with_grads)
{
    size_t nc = (size_t)g->arch.n_c, nd = (size_t)g->arch.n_d, cap = nc * nd * 2 + nc;
    mrb_named_tensor *ps = (mrb_named_tensor *)calloc(cap, sizeof *ps);
    if (!ps) return mrb_error(MRB_ERR_NOMEM, "cascade (GPU): out of memory");
    size_t np = mrb_cascade_params(net, ps, cap), layer = 0;
    mrb_status st = MRB_OK;
    for (size_t i = 0; st == MRB_OK && i < np; i++) {
        mrb_tensor *t = ps[i].t;
        if (strstr(ps[i].name, ".dc.lmbda")) {
            t->data[0] = g->lambda[layer / nd - 1];
            if (with_grads && t->grad) t->grad[0] = g->lambda_grad[layer / nd - 1];
            continue;
        }
        size_t cnt = mrb_tensor_count(t);
        size_t off = strstr(ps[i].name, ".weight") ? g->w_off[layer] : g->b_off[layer++];
        st = mrb_cuda_download(t->data, g->d_w + off, cnt * sizeof(float));
        if (st == MRB_OK && with_grads && t->grad) st = mrb_cuda_download(t->grad, g->d_g + off, cnt * sizeof(float));
    }
    free(ps);
    return st;
}

/* ------------------------------------------------------- reconstruction */

size_t mrb_cuda_cascade_chunk(const mrb_cuda_cascade *g, size_t nx, size_t ny, size_t nt)
{
    if (g->arch.temporal) return 1;
    size_t per = (size_t)g->arch.n_f * nx * ny;
    size_t chunk = per ? CASCADE_CHUNK_FLOATS / per : 1;
    if (chunk < 1) chunk = 1;
    return chunk < nt ? chunk : nt;
}

/* Zero-filled input from masked k-space on the device: x0 = planar(F^H y). */
static mrb_status zero_filled(mrb_cuda_cascade *g, const float *d_y, float *d_x0)
{
    size_t total = g->n * g->vol;
    MRB_TRY(MRB_CUDA_CALL(cudaMemcpyAsync(g->cbuf, d_y, total * sizeof(float2), cudaMemcpyDeviceToDevice, g->stream)));
    MRB_TRY(fft(g, MRB_FFT_INVERSE, g->cbuf));
    unpack_kernel<<<mrb_cuda_grid(total), MRB_CUDA_BLOCK, 0, g->stream>>>(g->cbuf, g->n, 2, 0, g->vol, 0, d_x0);
    return launch_check("unpack_kernel");
}

/* The planar output back to interleaved complex. */
static mrb_status to_complex(mrb_cuda_cascade *g, const float *d_out, float *d_img)
{
    size_t total = g->n * g->vol;
    pack_kernel<<<mrb_cuda_grid(total), MRB_CUDA_BLOCK, 0, g->stream>>>(d_out, NULL, g->n, 2, 0, g->vol,
                                                                        (float2 *)d_img);
    return launch_check("pack_kernel");
}

mrb_status mrb_cuda_cascade_reconstruct_device(mrb_cuda_cascade *g, const float *d_y, const float *d_mask, float *d_x0,
                                               float *d_img)
{
    if (!g->prepared) return mrb_error(MRB_ERR_INVALID, "cascade (GPU): reconstruct before prepare");
    MRB_TRY(zero_filled(g, d_y, d_x0));
    const float *out;
    MRB_TRY(mrb_cuda_cascade_forward(g, d_x0, d_y, d_mask, &out));
    return to_complex(g, out, d_img);
}

mrb_status mrb_cuda_cascade_inputs(mrb_cuda_cascade *g, const float *d_images, const float *d_mask, float *d_kspace,
                                   float *d_x0, float *d_target)
{
    if (!g->prepared) return mrb_error(MRB_ERR_INVALID, "cascade (GPU): training inputs before prepare");
    size_t total = g->n * g->vol;
    /* the target first: d_kspace may be d_images, as on the CPU */
    unpack_kernel<<<mrb_cuda_grid(total), MRB_CUDA_BLOCK, 0, g->stream>>>((const float2 *)d_images, g->n, 2, 0, g->vol,
                                                                          0, d_target);
    MRB_TRY(launch_check("unpack_kernel"));
    if (d_kspace != d_images)
        MRB_TRY(MRB_CUDA_CALL(
            cudaMemcpyAsync(d_kspace, d_images, total * sizeof(float2), cudaMemcpyDeviceToDevice, g->stream)));
    MRB_TRY(fft(g, MRB_FFT_FORWARD, (float2 *)d_kspace));
    mask_kernel<<<mrb_cuda_grid(total), MRB_CUDA_BLOCK, 0, g->stream>>>((float2 *)d_kspace, d_mask, total);
    MRB_TRY(launch_check("mask_kernel"));
    return zero_filled(g, d_kspace, d_x0);
}

/* ------------------------------------------------------ training state */

mrb_status mrb_cuda_cascade_moments(mrb_cuda_cascade *g, float *const *m, float *const *v, size_t n, int to_device)
{
    size_t nc = (size_t)g->arch.n_c, nd = (size_t)g->arch.n_d, layers = nc * nd;
    int lambdas = g->arch.lambda >= 0 && g->arch.lambda_trainable;
    size_t want = 2 * layers + (lambdas ? nc : 0);
    if (n != want)
        return mrb_error(MRB_ERR_INVALID, "cascade (GPU): %zu moment tensors given, the network trains %zu", n, want);
    size_t i = 0;
    for (size_t c = 0; c < nc; c++) {
        for (size_t d = 0; d < nd; d++) {
            size_t l = c * nd + d;
            size_t off[2] = {g->w_off[l], g->b_off[l]}, cnt[2] = {g->w_cnt[l], g->b_cnt[l]};
            for (int k = 0; k < 2; k++, i++) {
                size_t bytes = cnt[k] * sizeof(float);
                if (to_device) {
                    MRB_TRY(mrb_cuda_upload(g->d_m + off[k], m[i], bytes));
                    MRB_TRY(mrb_cuda_upload(g->d_v + off[k], v[i], bytes));
                } else {
                    MRB_TRY(mrb_cuda_download(m[i], g->d_m + off[k], bytes));
                    MRB_TRY(mrb_cuda_download(v[i], g->d_v + off[k], bytes));
                }
            }
        }
        if (!lambdas) continue;
        if (to_device) {
            g->lambda_m[c] = m[i][0];
            g->lambda_v[c] = v[i][0];
        } else {
            m[i][0] = g->lambda_m[c];
            v[i][0] = g->lambda_v[c];
        }
        i++;
    }
    return MRB_OK;
}
