/* cs-wavelet on the GPU: the CUDA twin of baselines/recon/cs/cs_wavelet.c
 * (l1-wavelet compressed sensing, Lustig, Donoho, Pauly, MRM 2007, solved as
 * BART `pics -R W` solves it):
 *
 *   min_x 0.5 ||M F S x - y||_2^2 + lambda ||W x||_1
 *
 * by FISTA (Beck and Teboulle 2009) from x = 0, W the periodic db2 wavelet
 * of impl/linop/wavelet.c with a random circular grid shift per iteration.
 *
 * What runs where, so that both methods compute the same thing:
 * - on the host, with the CPU code itself: the input checks
 *   (mrb_cs_check_input), BART's data scale (mrb_cs_bart_scaling), coil maps
 *   when none are given (mrb_cs_estimate_sens), the Lipschitz constant of
 *   the data term (the CPU sense operator), the number of wavelet levels
 *   (the CPU wavelet operator) and the grid shifts, drawn from the same RNG
 *   stream in the same order as mrb_cs_fista;
 * - on the device: y = M k / scale, E^H y, and every iteration (E^H E, the
 *   gradient step, W_s, soft thresholding, W_s^H, momentum, the convergence
 *   norms).
 * The elementwise arithmetic uses round-to-nearest intrinsics in the order
 * of the C expressions it mirrors (no fused multiply-adds), so the kernels
 * round as the CPU loops do; only the FFTs (cuFFT against FFTW) and the
 * order of the double-precision sums differ. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"
#include "mrbench/linop.h"
#include "mrbench/rng.h"
#include "recon/cs_cuda.h"

/* The host-side pieces of baselines/recon/cs/cs.h used here, and the CPU
 * method. cs.h declares them with C99 complex types, which C++ cannot
 * include; the prototypes below are the same with float pairs in place of
 * float complex (the same object representation, C11 6.2.5p13), and
 * mrb_cs_shape is cs.h's struct field for field. */
extern "C" {
typedef struct mrb_cs_shape {
    size_t nx, ny, nt, nc;
} mrb_cs_shape;
mrb_status mrb_cs_check_input(const mrb_recon_input *in, const char *method, mrb_cs_shape *shape);
mrb_status mrb_cs_check_output(const mrb_array *out, const mrb_cs_shape *shape, const char *method);
mrb_status mrb_cs_bart_scaling(const mrb_recon_input *in, double *scale);
mrb_status mrb_cs_estimate_sens(const mrb_recon_input *in, float *sens);
extern const mrb_method_desc mrb_method_cs_wavelet;
}

#define CSW_NAME "cs-wavelet"
/* Wavelet bands stop at 16 (CSW_MINSIZE of baselines/recon/cs/cs_wavelet.c,
 * BART pics minsize 16). */
#define CSW_CUDA_MINSIZE 16
/* FISTA step 0.95 / L (MRB_CS_BART_STEP of cs.h, BART src/pics.c). */
#define CSW_CUDA_BART_STEP 0.95
/* Slack on step <= 1/L for rounding in L (MRB_CS_STEP_RTOL of cs.h). */
#define CSW_CUDA_STEP_RTOL 1e-6
/* Blocks of the double-precision reductions: enough to fill the GPU, few
 * enough that the per-block atomics at the end cost nothing. */
#define CSW_REDUCE_BLOCKS 1024u

/* ---- complex arithmetic with the rounding of the C loops ---------------- */

__device__ __forceinline__ float2 c_add(float2 a, float2 b)
{
    return make_float2(__fadd_rn(a.x, b.x), __fadd_rn(a.y, b.y));
}

__device__ __forceinline__ float2 c_sub(float2 a, float2 b)
{
    return make_float2(__fsub_rn(a.x, b.x), __fsub_rn(a.y, b.y));
}

/* real * complex: componentwise, as C evaluates float * float complex */
__device__ __forceinline__ float2 c_scale(float r, float2 a)
{
    return make_float2(__fmul_rn(r, a.x), __fmul_rn(r, a.y));
}

/* a b = (ar br - ai bi, ar bi + ai br) */
__device__ __forceinline__ float2 c_mul(float2 a, float2 b)
{
    return make_float2(__fsub_rn(__fmul_rn(a.x, b.x), __fmul_rn(a.y, b.y)),
                       __fadd_rn(__fmul_rn(a.x, b.y), __fmul_rn(a.y, b.x)));
}

/* conj(a) b */
__device__ __forceinline__ float2 c_mulconj(float2 a, float2 b)
{
    return c_mul(make_float2(a.x, -a.y), b);
}

/* ((w0 a0 + w1 a1) + w2 a2) + w3 a3, the order of the wavelet loops */
__device__ __forceinline__ float2 c_wsum4(float w0, float2 a0, float w1, float2 a1, float w2, float2 a2, float w3,
                                          float2 a3)
{
    return c_add(c_add(c_add(c_scale(w0, a0), c_scale(w1, a1)), c_scale(w2, a2)), c_scale(w3, a3));
}

/* ---- db2 filters of impl/linop/wavelet.c (BART's dau2) ------------------ */

/* low-pass h and high-pass g[m] = (-1)^m h[3 - m], the CPU's float values */
#define DB2_H0 0.48296291314453414f
#define DB2_H1 0.83651630373780790f
#define DB2_H2 0.22414386804201339f
#define DB2_H3 -0.12940952255126037f
#define DB2_G0 -0.12940952255126037f
#define DB2_G1 -0.22414386804201339f
#define DB2_G2 0.83651630373780790f
#define DB2_G3 -0.48296291314453414f

/* Grid-stride loop over [0, n). */
#define CSW_FOR_EACH(i, n)                                                                                             \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* The wavelet kernels cover a [cols, rows] region of every frame: x by
 * threads (coalesced along the row), rows and frames by grid-stride loops
 * so that any size fits the grid limits. */
#define PLANE_BLOCK_X 32
#define PLANE_BLOCK_Y 8
#define PLANE_GRID_MAX_YZ 65535u

#define PLANE_LOOP(col, row, f, cols, rows, frames)                                                                    \
    const size_t col = (size_t)blockIdx.x * blockDim.x + threadIdx.x;                                                  \
    if (col >= (cols)) return;                                                                                         \
    for (size_t f = blockIdx.z; f < (frames); f += gridDim.z)                                                          \
        for (size_t row = (size_t)blockIdx.y * blockDim.y + threadIdx.y; row < (rows);                                 \
             row += (size_t)gridDim.y * blockDim.y)

/* Pixel-wise kernels over [frame, nt] images: pixels by threads and blocks,
 * frames by a grid-stride loop over blockIdx.y. */
#define FRAME_LOOP(p, t, frame, nt)                                                                                    \
    const size_t p = (size_t)blockIdx.x * blockDim.x + threadIdx.x;                                                    \
    if (p >= (frame)) return;                                                                                          \
    for (size_t t = blockIdx.y; t < (nt); t += gridDim.y)

static void frame_grid(size_t frame, size_t nt, dim3 *grid, dim3 *block)
{
    *block = dim3(MRB_CUDA_BLOCK, 1, 1);
    *grid = dim3((unsigned)((frame + MRB_CUDA_BLOCK - 1) / MRB_CUDA_BLOCK),
                 (unsigned)(nt < PLANE_GRID_MAX_YZ ? nt : PLANE_GRID_MAX_YZ), 1);
}

static void plane_grid(size_t cols, size_t rows, size_t frames, dim3 *grid, dim3 *block)
{
    size_t gy = (rows + PLANE_BLOCK_Y - 1) / PLANE_BLOCK_Y;
    *block = dim3(PLANE_BLOCK_X, PLANE_BLOCK_Y, 1);
    *grid = dim3((unsigned)((cols + PLANE_BLOCK_X - 1) / PLANE_BLOCK_X),
                 (unsigned)(gy < PLANE_GRID_MAX_YZ ? gy : PLANE_GRID_MAX_YZ),
                 (unsigned)(frames < PLANE_GRID_MAX_YZ ? frames : PLANE_GRID_MAX_YZ));
}

/* (a + b) mod n for a, b < n */
__device__ __forceinline__ size_t wrap_add(size_t a, size_t b, size_t n)
{
    size_t s = a + b;
    return s >= n ? s - n : s;
}

/* One analysis level along x on the [wx, wy] block: row j of the block is
 * row (j + sy) of src, its sample i is (i + sx) (the grid shift, level 0
 * only); tmp[j][k] = h * row[2k ...], tmp[j][wx/2 + k] = g * row[2k ...]. */
__global__ void analysis_x_kernel(const float2 *src, float2 *tmp, size_t nx, size_t ny, size_t frames, size_t wx,
                                  size_t wy, size_t sx, size_t sy)
{
    const size_t hx = wx / 2, frame = nx * ny;
    PLANE_LOOP(k, j, f, hx, wy, frames)
    {
        const float2 *row = src + f * frame + wrap_add(j, sy, ny) * nx;
        size_t i0 = 2 * k, i1 = i0 + 1, i2 = wrap_add(i0, 2, wx), i3 = wrap_add(i0, 3, wx);
        float2 a0 = row[wrap_add(i0, sx, nx)], a1 = row[wrap_add(i1, sx, nx)];
        float2 a2 = row[wrap_add(i2, sx, nx)], a3 = row[wrap_add(i3, sx, nx)];
        float2 *out = tmp + f * frame + j * nx;
        out[k] = c_wsum4(DB2_H0, a0, DB2_H1, a1, DB2_H2, a2, DB2_H3, a3);
        out[hx + k] = c_wsum4(DB2_G0, a0, DB2_G1, a1, DB2_G2, a2, DB2_G3, a3);
    }
}

/* One analysis level along y: rows 2k .. 2k+3 (periodic in wy) of tmp into
 * row k (low) and wy/2 + k (high) of dst. */
__global__ void analysis_y_kernel(const float2 *tmp, float2 *dst, size_t nx, size_t ny, size_t frames, size_t wx,
                                  size_t wy)
{
    const size_t hy = wy / 2, frame = nx * ny;
    PLANE_LOOP(i, k, f, wx, hy, frames)
    {
        const float2 *t = tmp + f * frame + i;
        size_t j0 = 2 * k;
        float2 r0 = t[j0 * nx], r1 = t[(j0 + 1) * nx];
        float2 r2 = t[wrap_add(j0, 2, wy) * nx], r3 = t[wrap_add(j0, 3, wy) * nx];
        float2 *out = dst + f * frame + i;
        out[k * nx] = c_wsum4(DB2_H0, r0, DB2_H1, r1, DB2_H2, r2, DB2_H3, r3);
        out[(hy + k) * nx] = c_wsum4(DB2_G0, r0, DB2_G1, r1, DB2_G2, r2, DB2_G3, r3);
    }
}

/* One synthesis level along y (the transpose of analysis_y): rows i and
 * i - 1 (periodic in wy/2) of the low and high bands into rows 2i, 2i + 1 of
 * tmp. The low band's left half (x < wx/2) is the previous level's output
 * in `inner` when inner is set; everything else comes from the
 * coefficients in src. */
__global__ void synthesis_y_kernel(const float2 *src, const float2 *inner, float2 *tmp, size_t nx, size_t ny,
                                   size_t frames, size_t wx, size_t wy)
{
    const size_t hx = wx / 2, hy = wy / 2, frame = nx * ny;
    PLANE_LOOP(x, i, f, wx, hy, frames)
    {
        size_t ip = i ? i - 1 : hy - 1;
        const float2 *coef = src + f * frame + x;
        const float2 *low = (inner && x < hx ? inner : src) + f * frame + x;
        float2 lo = low[i * nx], lop = low[ip * nx];
        float2 hi = coef[(hy + i) * nx], hip = coef[(hy + ip) * nx];
        float2 *out = tmp + f * frame + x;
        out[(2 * i) * nx] = c_wsum4(DB2_H0, lo, DB2_G0, hi, DB2_H2, lop, DB2_G2, hip);
        out[(2 * i + 1) * nx] = c_wsum4(DB2_H1, lo, DB2_G1, hi, DB2_H3, lop, DB2_G3, hip);
    }
}

/* One synthesis level along x: samples i and i - 1 (periodic in wx/2) of
 * the low and high halves of row j of tmp into samples 2i, 2i + 1 of row j,
 * written at (2i + sx, j + sy) of dst (the inverse grid shift, level 0
 * only). */
__global__ void synthesis_x_kernel(const float2 *tmp, float2 *dst, size_t nx, size_t ny, size_t frames, size_t wx,
                                   size_t wy, size_t sx, size_t sy)
{
    const size_t hx = wx / 2, frame = nx * ny;
    PLANE_LOOP(i, j, f, hx, wy, frames)
    {
        size_t ip = i ? i - 1 : hx - 1;
        const float2 *row = tmp + f * frame + j * nx;
        float2 lo = row[i], hi = row[hx + i], lop = row[ip], hip = row[hx + ip];
        float2 *out = dst + f * frame + wrap_add(j, sy, ny) * nx;
        out[wrap_add(2 * i, sx, nx)] = c_wsum4(DB2_H0, lo, DB2_G0, hi, DB2_H2, lop, DB2_G2, hip);
        out[wrap_add(2 * i + 1, sx, nx)] = c_wsum4(DB2_H1, lo, DB2_G1, hi, DB2_H3, lop, DB2_G3, hip);
    }
}

/* The grid shift alone (no level fits): forward dst[j][i] = src[j+sy][i+sx],
 * inverse dst[j+sy][i+sx] = src[j][i]. */
__global__ void grid_shift_kernel(const float2 *src, float2 *dst, size_t nx, size_t ny, size_t frames, size_t sx,
                                  size_t sy, int forward)
{
    const size_t frame = nx * ny;
    PLANE_LOOP(i, j, f, nx, ny, frames)
    {
        size_t shifted = f * frame + wrap_add(j, sy, ny) * nx + wrap_add(i, sx, nx);
        size_t plain = f * frame + j * nx + i;
        if (forward)
            dst[plain] = src[shifted];
        else
            dst[shifted] = src[plain];
    }
}

/* mrb_cs_soft_threshold: g = |z| > t ? 1 - t / |z| : 0, z *= g. */
__global__ void soft_threshold_kernel(float2 *z, size_t n, float t)
{
    CSW_FOR_EACH(i, n) {
        float2 v = z[i];
        float mag = __fsqrt_rn(__fadd_rn(__fmul_rn(v.x, v.x), __fmul_rn(v.y, v.y)));
        float g = mag > t ? __fsub_rn(1.0f, __fdiv_rn(t, mag)) : 0.0f;
        z[i] = c_scale(g, v);
    }
}

/* ---- the encoding operator E = M F S and the FISTA vector operations ---- */

/* mrb_cs_problem_load and the mask's adjoint: k_c = m ((m / scale) k_c),
 * the mask repeated over the coils. */
__global__ void load_kernel(float2 *k, const float *mask, size_t nimg, size_t nc, float inv)
{
    CSW_FOR_EACH(i, nimg) {
        float m = mask[i], mi = __fmul_rn(m, inv);
        for (size_t c = 0; c < nc; c++) {
            float2 *v = k + c * nimg + i;
            *v = c_scale(m, c_scale(mi, *v));
        }
    }
}

/* The mask's normal operator (mask_normal of impl/linop/linop.c): k_c *= m m. */
__global__ void mask_normal_kernel(float2 *k, const float *mask, size_t nimg, size_t nc)
{
    CSW_FOR_EACH(i, nimg) {
        float mm = __fmul_rn(mask[i], mask[i]);
        for (size_t c = 0; c < nc; c++) {
            float2 *v = k + c * nimg + i;
            *v = c_scale(mm, *v);
        }
    }
}

/* S: k[c][t][p] = S_c[p] x[t][p] over pixels p of a frame and frames t. */
__global__ void expand_kernel(const float2 *x, const float2 *sens, float2 *k, size_t frame, size_t nt, size_t nc)
{
    FRAME_LOOP(p, t, frame, nt)
    {
        size_t v = t * frame + p, vol = frame * nt;
        float2 xv = x[v];
        for (size_t c = 0; c < nc; c++) k[c * vol + v] = c_mul(sens[c * frame + p], xv);
    }
}

/* sum_c conj(S_c) k_c in the CPU's order (sense_adjoint: coil 0, then += ). */
__device__ __forceinline__ float2 combine_at(const float2 *k, const float2 *sens, size_t p, size_t v, size_t frame,
                                             size_t vol, size_t nc)
{
    float2 acc = c_mulconj(sens[p], k[v]);
    for (size_t c = 1; c < nc; c++) acc = c_add(acc, c_mulconj(sens[c * frame + p], k[c * vol + v]));
    return acc;
}

/* x = S^H k */
__global__ void combine_kernel(const float2 *k, const float2 *sens, float2 *x, size_t frame, size_t nt, size_t nc)
{
    FRAME_LOOP(p, t, frame, nt)
    {
        size_t v = t * frame + p;
        x[v] = combine_at(k, sens, p, v, frame, frame * nt, nc);
    }
}

/* The gradient step of mrb_cs_fista, g = z - step (E^H E z - E^H y), with
 * E^H E z = S^H k (k = F^H M^2 F S z); sens NULL: single coil, E^H E z = k. */
__global__ void gradient_kernel(const float2 *z, const float2 *k, const float2 *sens, const float2 *ahy, float2 *g,
                                size_t frame, size_t nt, size_t nc, float step)
{
    FRAME_LOOP(p, t, frame, nt)
    {
        size_t v = t * frame + p;
        float2 ehez = sens ? combine_at(k, sens, p, v, frame, frame * nt, nc) : k[v];
        g[v] = c_sub(z[v], c_scale(step, c_sub(ehez, ahy[v])));
    }
}

/* Sums two doubles over the block and adds them to acc[0], acc[1]. */
__device__ void block_sum2_add(double a, double b, double *acc)
{
    __shared__ double sa[MRB_CUDA_BLOCK], sb[MRB_CUDA_BLOCK];
    sa[threadIdx.x] = a;
    sb[threadIdx.x] = b;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            sa[threadIdx.x] += sa[threadIdx.x + half];
            sb[threadIdx.x] += sb[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        atomicAdd(&acc[0], sa[0]);
        atomicAdd(&acc[1], sb[0]);
    }
}

/* FISTA momentum z = x + beta (x - x_old); with Norms also
 * acc += (||x - x_old||^2, ||x||^2) in double (mrb_cs_diff_norm2,
 * mrb_cs_norm2). Launched with MRB_CUDA_BLOCK threads per block. */
template <bool Norms>
__global__ void momentum_kernel(const float2 *x, const float2 *x_old, float2 *z, size_t n, float beta, double *acc)
{
    double dx2 = 0.0, x2 = 0.0;
    CSW_FOR_EACH(i, n) {
        float2 a = x[i], d = c_sub(a, x_old[i]);
        z[i] = c_add(a, c_scale(beta, d));
        if constexpr (Norms) {
            dx2 += (double)d.x * d.x + (double)d.y * d.y;
            x2 += (double)a.x * a.x + (double)a.y * a.y;
        }
    }
    if constexpr (Norms) block_sum2_add(dx2, x2, acc);
}

/* mrb_cs_write_output: out = scale x. */
__global__ void scale_kernel(const float2 *x, float2 *out, size_t n, float scale)
{
    CSW_FOR_EACH(i, n) out[i] = c_scale(scale, x[i]);
}

/* ---- the wavelet and soft threshold as callable operations -------------- */

static int ranges_overlap(const float *a, const float *b, size_t bytes)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + bytes && pb < pa + bytes;
}

static mrb_status check_wavelet_args(const char *what, const float *d_src, const float *d_dst, const float *d_tmp,
                                     size_t nx, size_t ny, size_t nframes, int levels)
{
    if (!d_src || !d_dst || !d_tmp)
        return mrb_error(MRB_ERR_INVALID, "cuda wavelet %s: a device buffer is missing", what);
    if (!nx || !ny || !nframes)
        return mrb_error(MRB_ERR_INVALID, "cuda wavelet %s: empty shape %zux%zux%zu", what, nx, ny, nframes);
    if (levels < 0) return mrb_error(MRB_ERR_INVALID, "cuda wavelet %s: %d levels", what, levels);
    for (int l = 0; l < levels; l++) {
        size_t wx = nx >> l, wy = ny >> l;
        if (wx < 2 || wy < 2 || wx % 2 || wy % 2)
            return mrb_error(MRB_ERR_INVALID,
                             "cuda wavelet %s: level %d of %d would split a %zux%zu band of a "
                             "%zux%zu frame (needs even sizes)",
                             what, l + 1, levels, wx, wy, nx, ny);
    }
    size_t bytes = nx * ny * nframes * 2 * sizeof(float);
    if (ranges_overlap(d_src, d_dst, bytes) || ranges_overlap(d_src, d_tmp, bytes) ||
        ranges_overlap(d_dst, d_tmp, bytes))
        return mrb_error(MRB_ERR_INVALID, "cuda wavelet %s: source, result and scratch overlap", what);
    return MRB_OK;
}

static mrb_status launch_grid_shift(const float2 *src, float2 *dst, size_t nx, size_t ny, size_t frames, size_t sx,
                                    size_t sy, int forward, cudaStream_t st)
{
    dim3 grid, block;
    plane_grid(nx, ny, frames, &grid, &block);
    grid_shift_kernel<<<grid, block, 0, st>>>(src, dst, nx, ny, frames, sx, sy, forward);
    return MRB_CUDA_LAUNCH("grid_shift_kernel");
}

mrb_status mrb_cuda_wavelet_forward(const float *d_src, float *d_dst, float *d_tmp, size_t nx, size_t ny,
                                    size_t nframes, int levels, size_t shift_x, size_t shift_y)
{
    MRB_TRY(check_wavelet_args("forward", d_src, d_dst, d_tmp, nx, ny, nframes, levels));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    const float2 *src = (const float2 *)d_src;
    float2 *dst = (float2 *)d_dst, *tmp = (float2 *)d_tmp;
    size_t sx = shift_x % nx, sy = shift_y % ny;
    if (levels == 0) return launch_grid_shift(src, dst, nx, ny, nframes, sx, sy, 1, st);
    dim3 grid, block;
    for (int l = 0; l < levels; l++) {
        size_t wx = nx >> l, wy = ny >> l;
        /* level 0 reads the input through the grid shift; later levels
         * refine the low band in place in dst */
        plane_grid(wx / 2, wy, nframes, &grid, &block);
        analysis_x_kernel<<<grid, block, 0, st>>>(l == 0 ? src : dst, tmp, nx, ny, nframes, wx, wy, l == 0 ? sx : 0,
                                                  l == 0 ? sy : 0);
        MRB_TRY(MRB_CUDA_LAUNCH("analysis_x_kernel"));
        plane_grid(wx, wy / 2, nframes, &grid, &block);
        analysis_y_kernel<<<grid, block, 0, st>>>(tmp, dst, nx, ny, nframes, wx, wy);
        MRB_TRY(MRB_CUDA_LAUNCH("analysis_y_kernel"));
    }
    return MRB_OK;
}

mrb_status mrb_cuda_wavelet_adjoint(const float *d_src, float *d_dst, float *d_tmp, size_t nx, size_t ny,
                                    size_t nframes, int levels, size_t shift_x, size_t shift_y)
{
    MRB_TRY(check_wavelet_args("adjoint", d_src, d_dst, d_tmp, nx, ny, nframes, levels));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    const float2 *src = (const float2 *)d_src;
    float2 *dst = (float2 *)d_dst, *tmp = (float2 *)d_tmp;
    size_t sx = shift_x % nx, sy = shift_y % ny;
    if (levels == 0) return launch_grid_shift(src, dst, nx, ny, nframes, sx, sy, 0, st);
    dim3 grid, block;
    for (int l = levels - 1; l >= 0; l--) {
        size_t wx = nx >> l, wy = ny >> l;
        /* the coarsest level reads only coefficients; each finer one takes
         * its low band's left half from the level before, kept in dst */
        plane_grid(wx, wy / 2, nframes, &grid, &block);
        synthesis_y_kernel<<<grid, block, 0, st>>>(src, l == levels - 1 ? NULL : dst, tmp, nx, ny, nframes, wx, wy);
        MRB_TRY(MRB_CUDA_LAUNCH("synthesis_y_kernel"));
        plane_grid(wx / 2, wy, nframes, &grid, &block);
        synthesis_x_kernel<<<grid, block, 0, st>>>(tmp, dst, nx, ny, nframes, wx, wy, l == 0 ? sx : 0, l == 0 ? sy : 0);
        MRB_TRY(MRB_CUDA_LAUNCH("synthesis_x_kernel"));
    }
    return MRB_OK;
}

mrb_status mrb_cuda_soft_threshold(float *d_z, size_t n, float t)
{
    if (n == 0) return MRB_OK;
    if (!d_z) return mrb_error(MRB_ERR_INVALID, "cuda soft threshold: the data are missing");
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    soft_threshold_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>((float2 *)d_z, n, t);
    return MRB_CUDA_LAUNCH("soft_threshold_kernel");
}

/* ---- the method ----------------------------------------------------------- */

enum { PHASE_HOST, PHASE_UPLOAD, PHASE_COMPUTE, PHASE_DOWNLOAD, PHASE_COUNT };
static const char *const phase_names[PHASE_COUNT] = {"host_prep", "upload", "compute", "download"};

typedef struct csw_cuda_state {
    size_t nx, ny, nt, nc, nimg, nksp;
    int levels;
    /* parameters */
    double lambda, tolerance, step;
    long iterations;
    int shifts, scaling;
    /* coil maps: given (uploaded in setup) or estimated per run on the host */
    int sens_given;
    mrb_linop *sense; /* CPU sense operator over the maps in use (nt = 1), for L */
    double lipschitz; /* with given maps (1 for single coil), times mask_max^2 */
    double mask_max;  /* largest mask value (mrb_cs_problem_lipschitz) */
    float *h_sens;    /* pinned, estimated maps [nx, ny, 1, nc] */
    double *h_norms;  /* pinned, the convergence norms */
    /* device */
    mrb_cuda_fft_plan *fft; /* 2D over [nx, ny, nt, nc] */
    float *d_mask, *d_sens, *d_k, *d_ahy, *d_x, *d_x_old, *d_z, *d_g, *d_c, *d_tmp;
    double *d_norms;
    cudaEvent_t ev[PHASE_COUNT];
    int nev;
    /* the last run */
    double phase_s[PHASE_COUNT];
    long iterations_done;
} csw_cuda_state;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

/* mrb_cs_problem_lipschitz: max(M)^2 max_pixel sum_c |S_c|^2 (the power 1
 * if 0 or single coil). */
static double problem_lipschitz(const mrb_linop *sense, double mask_max)
{
    double l = sense ? mrb_linop_sense_max_power(sense) : 1.0;
    if (!(l > 0)) l = 1.0;
    return mask_max > 0 ? l * mask_max * mask_max : l;
}

static void csw_cuda_teardown(void *p)
{
    csw_cuda_state *s = (csw_cuda_state *)p;
    if (!s) return;
    float *bufs[] = {s->d_mask, s->d_sens, s->d_k, s->d_ahy, s->d_x, s->d_x_old, s->d_z, s->d_g, s->d_c, s->d_tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mrb_cuda_free(bufs[i]);
    mrb_cuda_free(s->d_norms);
    mrb_cuda_fft_plan_free(s->fft);
    for (int i = 0; i < s->nev; i++) cudaEventDestroy(s->ev[i]);
    mrb_cuda_host_free(s->h_sens);
    mrb_cuda_host_free(s->h_norms);
    mrb_linop_free(s->sense);
    free(s);
}

static mrb_status setup_device(csw_cuda_state *s, const mrb_recon_input *in)
{
    const size_t img_bytes = s->nimg * sizeof(float2), frame = s->nx * s->ny;
    float **images[] = {&s->d_ahy, &s->d_x, &s->d_x_old, &s->d_z, &s->d_g, &s->d_c, &s->d_tmp};
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++)
        MRB_TRY(mrb_cuda_alloc(img_bytes, (void **)images[i]));
    MRB_TRY(mrb_cuda_alloc(s->nksp * sizeof(float2), (void **)&s->d_k));
    MRB_TRY(mrb_cuda_alloc(s->nimg * sizeof(float), (void **)&s->d_mask));
    MRB_TRY(mrb_cuda_alloc(2 * sizeof(double), (void **)&s->d_norms));
    MRB_TRY(mrb_cuda_host_alloc(2 * sizeof(double), (void **)&s->h_norms));
    size_t dims[4] = {s->nx, s->ny, s->nt, s->nc};
    MRB_TRY(mrb_cuda_fft_plan_create(2, 4, dims, &s->fft));
    for (; s->nev < PHASE_COUNT; s->nev++) MRB_TRY(MRB_CUDA_CALL(cudaEventCreate(&s->ev[s->nev])));
    MRB_TRY(mrb_cuda_upload(s->d_mask, in->mask->data, s->nimg * sizeof(float)));
    const float *mv = (const float *)in->mask->data;
    s->mask_max = 0;
    for (size_t i = 0; i < s->nimg; i++)
        if (mv[i] > s->mask_max) s->mask_max = mv[i];
    if (s->nc == 1) {
        s->lipschitz = problem_lipschitz(NULL, s->mask_max); /* M F: a projection for a 0/1 mask */
        return MRB_OK;
    }
    size_t sens_bytes = frame * s->nc * sizeof(float2);
    MRB_TRY(mrb_cuda_alloc(sens_bytes, (void **)&s->d_sens));
    const float *maps = NULL;
    if (s->sens_given) {
        maps = (const float *)in->sens->data;
        MRB_TRY(mrb_cuda_upload(s->d_sens, maps, sens_bytes));
    } else {
        MRB_TRY(mrb_cuda_host_alloc(sens_bytes, (void **)&s->h_sens));
        memset(s->h_sens, 0, sens_bytes);
        maps = s->h_sens; /* replaced by the estimate in every run */
    }
    s->sense = mrb_linop_sense_create(s->nx, s->ny, 1, s->nc, maps, 1);
    if (!s->sense) return mrb_error_context(MRB_ERR_NOMEM, "%s", CSW_NAME);
    s->lipschitz = problem_lipschitz(s->sense, s->mask_max);
    return MRB_OK;
}

static mrb_status csw_cuda_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    *state = NULL;
    mrb_cs_shape sh;
    MRB_TRY(mrb_cs_check_input(in, CSW_NAME, &sh));
    csw_cuda_state *s = (csw_cuda_state *)calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", CSW_NAME);
    s->nx = sh.nx;
    s->ny = sh.ny;
    s->nt = sh.nt;
    s->nc = sh.nc;
    s->nimg = sh.nx * sh.ny * sh.nt;
    s->nksp = s->nimg * sh.nc;
    /* the parameters as mrb_cs_fista_opts_from_params and csw_setup read them */
    s->lambda = mrb_params_num(p, "lambda");
    s->iterations = mrb_params_int(p, "iterations");
    s->tolerance = mrb_params_num(p, "tolerance");
    s->step = mrb_params_num(p, "step");
    s->shifts = mrb_params_bool(p, "shifts");
    s->scaling = mrb_params_bool(p, "scaling");
    /* single coil ignores any maps, as mrb_cs_problem_setup does */
    s->sens_given = sh.nc > 1 && in->sens != NULL;
    /* the CPU operator decides the levels, so both pyramids are the same */
    size_t idims[3] = {sh.nx, sh.ny, sh.nt};
    mrb_linop *w = mrb_linop_wavelet_create(3, idims, CSW_CUDA_MINSIZE, 1);
    mrb_status st = w ? MRB_OK : mrb_error_context(MRB_ERR_NOMEM, "%s", CSW_NAME);
    if (w) s->levels = mrb_linop_wavelet_levels(w);
    mrb_linop_free(w);
    if (st == MRB_OK) st = setup_device(s, in);
    if (st != MRB_OK) {
        csw_cuda_teardown(s);
        return mrb_error_context(st, "%s (GPU setup)", CSW_NAME);
    }
    *state = s;
    return MRB_OK;
}

/* k-space and mask must have the shape the method was set up for. */
static mrb_status check_same_shape(const csw_cuda_state *s, const mrb_recon_input *in)
{
    const mrb_array *k = in ? in->kspace : NULL;
    size_t nc = k && k->ndim == 4 ? k->dims[3] : 1;
    if (!k || !in->mask || k->dtype != MRB_C64 || (k->ndim != 3 && k->ndim != 4) || k->dims[0] != s->nx ||
        k->dims[1] != s->ny || k->dims[2] != s->nt || nc != s->nc || mrb_array_count(in->mask) != s->nimg)
        return mrb_error(MRB_ERR_INVALID,
                         "%s: the input differs from the one the GPU method was set up for "
                         "[%zu, %zu, %zu, %zu]",
                         CSW_NAME, s->nx, s->ny, s->nt, s->nc);
    return MRB_OK;
}

/* E^H E z and the gradient step into g (mrb_cs_fista: g = z - step (E^H E z - E^H y)). */
static mrb_status gradient_step(csw_cuda_state *s, const float *d_z, float step, cudaStream_t st)
{
    const size_t frame = s->nx * s->ny;
    dim3 grid, block;
    frame_grid(frame, s->nt, &grid, &block);
    if (s->nc == 1) {
        MRB_TRY(MRB_CUDA_CALL(cudaMemcpyAsync(s->d_k, d_z, s->nimg * sizeof(float2), cudaMemcpyDeviceToDevice, st)));
    } else {
        expand_kernel<<<grid, block, 0, st>>>((const float2 *)d_z, (const float2 *)s->d_sens, (float2 *)s->d_k, frame,
                                              s->nt, s->nc);
        MRB_TRY(MRB_CUDA_LAUNCH("expand_kernel"));
    }
    MRB_TRY(mrb_cuda_fft_exec(s->fft, MRB_FFT_FORWARD, s->d_k));
    mask_normal_kernel<<<mrb_cuda_grid(s->nimg), MRB_CUDA_BLOCK, 0, st>>>((float2 *)s->d_k, s->d_mask, s->nimg, s->nc);
    MRB_TRY(MRB_CUDA_LAUNCH("mask_normal_kernel"));
    MRB_TRY(mrb_cuda_fft_exec(s->fft, MRB_FFT_INVERSE, s->d_k));
    gradient_kernel<<<grid, block, 0, st>>>((const float2 *)d_z, (const float2 *)s->d_k,
                                            s->nc == 1 ? NULL : (const float2 *)s->d_sens, (const float2 *)s->d_ahy,
                                            (float2 *)s->d_g, frame, s->nt, s->nc, step);
    return MRB_CUDA_LAUNCH("gradient_kernel");
}

typedef struct fista_setting {
    float step, thresh;
    double scale;
    uint64_t seed;
} fista_setting;

/* From the uploaded k-space to the scaled image in *d_out (device): the
 * work of mrb_cs_problem_load, mrb_cs_fista and mrb_cs_write_output. */
static mrb_status compute(csw_cuda_state *s, const fista_setting *f, cudaStream_t st, const float **d_out)
{
    const size_t n = s->nimg, frame = s->nx * s->ny, img_bytes = n * sizeof(float2);
    /* E^H y, y = M k / scale */
    load_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>((float2 *)s->d_k, s->d_mask, n, s->nc,
                                                             (float)(1.0 / f->scale));
    MRB_TRY(MRB_CUDA_LAUNCH("load_kernel"));
    MRB_TRY(mrb_cuda_fft_exec(s->fft, MRB_FFT_INVERSE, s->d_k));
    if (s->nc == 1) {
        MRB_TRY(MRB_CUDA_CALL(cudaMemcpyAsync(s->d_ahy, s->d_k, img_bytes, cudaMemcpyDeviceToDevice, st)));
    } else {
        dim3 grid, block;
        frame_grid(frame, s->nt, &grid, &block);
        combine_kernel<<<grid, block, 0, st>>>((const float2 *)s->d_k, (const float2 *)s->d_sens, (float2 *)s->d_ahy,
                                               frame, s->nt, s->nc);
        MRB_TRY(MRB_CUDA_LAUNCH("combine_kernel"));
    }

    /* FISTA from x = 0, z = 0 */
    float *x = s->d_x, *x_old = s->d_x_old;
    MRB_TRY(MRB_CUDA_CALL(cudaMemsetAsync(x, 0, img_bytes, st)));
    MRB_TRY(MRB_CUDA_CALL(cudaMemsetAsync(s->d_z, 0, img_bytes, st)));
    const int shifting = s->shifts && s->levels > 0;
    const uint64_t shift_range = (uint64_t)1 << s->levels;
    mrb_rng rng;
    mrb_rng_seed(&rng, f->seed);
    const int check = s->tolerance > 0;
    const unsigned reduce_grid = mrb_cuda_grid(n) < CSW_REDUCE_BLOCKS ? mrb_cuda_grid(n) : CSW_REDUCE_BLOCKS;
    double t = 1;
    s->iterations_done = 0;
    for (long it = 0; it < s->iterations; it++) {
        float *swap = x_old;
        x_old = x;
        x = swap;
        MRB_TRY(gradient_step(s, s->d_z, f->step, st));
        size_t sx = 0, sy = 0;
        if (shifting) {
            sx = (size_t)mrb_rng_below(&rng, shift_range);
            sy = (size_t)mrb_rng_below(&rng, shift_range);
        }
        MRB_TRY(mrb_cuda_wavelet_forward(s->d_g, s->d_c, s->d_tmp, s->nx, s->ny, s->nt, s->levels, sx, sy));
        MRB_TRY(mrb_cuda_soft_threshold(s->d_c, n, f->thresh));
        MRB_TRY(mrb_cuda_wavelet_adjoint(s->d_c, x, s->d_tmp, s->nx, s->ny, s->nt, s->levels, sx, sy));
        double t_new = 0.5 * (1 + sqrt(1 + 4 * t * t));
        float beta = (float)((t - 1) / t_new);
        t = t_new;
        if (check) {
            MRB_TRY(MRB_CUDA_CALL(cudaMemsetAsync(s->d_norms, 0, 2 * sizeof(double), st)));
            momentum_kernel<true><<<reduce_grid, MRB_CUDA_BLOCK, 0, st>>>((const float2 *)x, (const float2 *)x_old,
                                                                          (float2 *)s->d_z, n, beta, s->d_norms);
        } else {
            momentum_kernel<false><<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(
                (const float2 *)x, (const float2 *)x_old, (float2 *)s->d_z, n, beta, NULL);
        }
        MRB_TRY(MRB_CUDA_LAUNCH("momentum_kernel"));
        s->iterations_done = it + 1;
        if (check) {
            /* the stopping test needs the norms on the host every iteration */
            MRB_TRY(
                MRB_CUDA_CALL(cudaMemcpyAsync(s->h_norms, s->d_norms, 2 * sizeof(double), cudaMemcpyDeviceToHost, st)));
            MRB_TRY(MRB_CUDA_CALL(cudaStreamSynchronize(st)));
            if (s->h_norms[0] <= s->tolerance * s->tolerance * s->h_norms[1]) break;
        }
    }
    scale_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>((const float2 *)x, (float2 *)s->d_g, n, (float)f->scale);
    MRB_TRY(MRB_CUDA_LAUNCH("scale_kernel"));
    *d_out = s->d_g;
    return MRB_OK;
}

static mrb_status event_seconds(cudaEvent_t a, cudaEvent_t b, double *out)
{
    float ms = 0.0f;
    MRB_TRY(MRB_CUDA_CALL(cudaEventElapsedTime(&ms, a, b)));
    *out = 1e-3 * (double)ms;
    return MRB_OK;
}

/* mrb_cs_fista's divergence tests (cs.h) on the last iterate, on the host
 * after the run (the device loop does not stop for them): a NaN or Inf
 * anywhere, or, for lambda > 0, ||x|| above ||y||^2 / lambda, with x and y
 * in the scaled units (out / scale, M k / scale). */
static mrb_status check_converged(const csw_cuda_state *s, const mrb_recon_input *in, const fista_setting *f,
                                  const float *o)
{
    double x2 = 0;
    for (size_t i = 0; i < 2 * s->nimg; i++) {
        if (!isfinite(o[i]))
            return mrb_error(MRB_ERR_RUN, "fista: the iteration diverged: non-finite value at element %zu (step %g)",
                             i / 2, (double)f->step);
        x2 += (double)o[i] * o[i];
    }
    if (!(s->lambda > 0)) return MRB_OK;
    const float *k = (const float *)in->kspace->data, *m = (const float *)in->mask->data;
    double y2 = 0;
    for (size_t c = 0; c < s->nc; c++)
        for (size_t i = 0; i < s->nimg; i++) {
            const float *v = k + 2 * (c * s->nimg + i);
            y2 += (double)m[i] * m[i] * ((double)v[0] * v[0] + (double)v[1] * v[1]);
        }
    const double sc2 = f->scale * f->scale;
    const double bound = (y2 / sc2) / s->lambda;
    if (x2 / sc2 > bound * bound)
        return mrb_error(MRB_ERR_RUN,
                         "fista: the iteration diverged: ||x|| = %.3g exceeds ||y||^2/lambda = %.3g, which a "
                         "converging run never does (step %g)",
                         sqrt(x2 / sc2), bound, (double)f->step);
    return MRB_OK;
}

static mrb_status run_body(csw_cuda_state *s, const mrb_recon_input *in, mrb_array *out)
{
    /* on the host, with the CPU method's own code: maps, scale, step */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int estimate = s->nc > 1 && !s->sens_given;
    double lipschitz = s->lipschitz;
    if (estimate) {
        MRB_TRY(mrb_cs_estimate_sens(in, s->h_sens));
        MRB_TRY(mrb_linop_sense_set_maps(s->sense, s->h_sens));
        lipschitz = problem_lipschitz(s->sense, s->mask_max);
    }
    if (s->step * lipschitz > 1 + CSW_CUDA_STEP_RTOL)
        return mrb_error(MRB_ERR_INVALID,
                         "fista: step %g exceeds 1/L = %g (L = %g, the Lipschitz constant of the data term for this "
                         "mask and these coil maps); FISTA converges only for step <= 1/L",
                         s->step, 1 / lipschitz, lipschitz);
    fista_setting f;
    f.scale = 1;
    if (s->scaling) {
        MRB_TRY(mrb_cs_bart_scaling(in, &f.scale));
        if (!(f.scale > 0)) f.scale = 1; /* as BART: a zero scale is set to one */
    }
    f.step = (float)(s->step > 0 ? s->step : CSW_CUDA_BART_STEP / lipschitz);
    f.thresh = (float)(f.step * s->lambda);
    f.seed = mrb_seed_derive(in->seed, CSW_NAME, 0);
    s->phase_s[PHASE_HOST] = seconds_since(&t0);

    /* on the device, between events; one synchronise at the end */
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    MRB_TRY(MRB_CUDA_CALL(cudaEventRecord(s->ev[0], st)));
    MRB_TRY(mrb_cuda_upload_async(s->d_k, in->kspace->data, s->nksp * sizeof(float2)));
    if (estimate) MRB_TRY(mrb_cuda_upload_async(s->d_sens, s->h_sens, s->nx * s->ny * s->nc * sizeof(float2)));
    MRB_TRY(MRB_CUDA_CALL(cudaEventRecord(s->ev[1], st)));
    const float *d_out = NULL;
    MRB_TRY(compute(s, &f, st, &d_out));
    MRB_TRY(MRB_CUDA_CALL(cudaEventRecord(s->ev[2], st)));
    MRB_TRY(mrb_cuda_download_async(out->data, d_out, s->nimg * sizeof(float2)));
    MRB_TRY(MRB_CUDA_CALL(cudaEventRecord(s->ev[3], st)));
    MRB_TRY(MRB_CUDA_CALL(cudaStreamSynchronize(st)));
    for (int ph = PHASE_UPLOAD; ph <= PHASE_DOWNLOAD; ph++)
        MRB_TRY(event_seconds(s->ev[ph - 1], s->ev[ph], &s->phase_s[ph]));

    return check_converged(s, in, &f, (const float *)out->data);
}

static mrb_status csw_cuda_run(void *p, const mrb_recon_input *in, mrb_array *out)
{
    csw_cuda_state *s = (csw_cuda_state *)p;
    if (!s) return mrb_error(MRB_ERR_INVALID, "%s: run without setup", CSW_NAME);
    mrb_cs_shape sh = {s->nx, s->ny, s->nt, s->nc};
    MRB_TRY(mrb_cs_check_output(out, &sh, CSW_NAME));
    MRB_TRY(check_same_shape(s, in));
    memset(s->phase_s, 0, sizeof s->phase_s);
    mrb_status st = run_body(s, in, out);
    if (st != MRB_OK) return mrb_error_context(st, "%s (GPU)", CSW_NAME);
    return MRB_OK;
}

static size_t csw_cuda_phases(void *p, const char **names, double *seconds, size_t max)
{
    const csw_cuda_state *s = (const csw_cuda_state *)p;
    size_t n = 0;
    for (; s && n < PHASE_COUNT && n < max; n++) {
        names[n] = phase_names[n];
        seconds[n] = s->phase_s[n];
    }
    return n;
}

/* The CPU method's parameter table itself (read at load time), so the two
 * can never disagree on names, defaults or ranges. */
const mrb_method_desc mrb_method_cs_wavelet_cuda = {
    CSW_NAME,
    "l1-wavelet compressed sensing (Lustig 2007) by FISTA with random wavelet shifts, as BART "
    "pics -R W, on a CUDA GPU",
    mrb_method_cs_wavelet.params,
    mrb_method_cs_wavelet.nparams,
    csw_cuda_setup,
    csw_cuda_run,
    csw_cuda_teardown,
    csw_cuda_phases,
    NULL, /* check: suites name the CPU method, whose check applies */
};
