/* Data consistency (Schlemper et al., IEEE TMI 2017; specs/recon.md), SENSE
 * coil expansion and combination, and complex elementwise kernels: the CUDA
 * twins of impl/nn/dc.c, the sense operator of impl/linop/linop.c and the
 * complex loops they use.
 *
 * With s = F x and s0 the measured k-space on the sampled set Omega:
 *   forward:  s_rec = s off Omega, (s + lambda s0) / (1 + lambda) on it
 *             (s0 in the noiseless limit, lambda < 0 here); out = F^H s_rec
 *   backward: dx = F^H Lambda F g, Lambda = 1 off Omega, 1/(1+lambda) on it
 *             (0 when noiseless); d lambda = sum_Omega Re(conj(F g)(s0 - s)) / (1+lambda)^2
 * F is the centred orthonormal 2D FFT (gpu/fft/fft_cuda.cu). */
#include <math.h>
#include <stdint.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"

/* Grid-stride loop over [0, n). */
#define MRB_FOR_EACH(i, n)                                                                                             \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ void dc_kspace_kernel(float2 *s, const float2 *s0, const float *mask, size_t count, size_t mask_count,
                                 float a, float b, int noiseless)
{
    MRB_FOR_EACH(i, count) {
        if (mask[i % mask_count] == 0.0f) continue;
        float2 v = s[i], m = s0[i];
        s[i] = noiseless ? m : make_float2(a * v.x + b * m.x, a * v.y + b * m.y);
    }
}

/* g *= a on the mask (a = 0: noiseless). */
__global__ void dc_scale_masked_kernel(float2 *g, const float *mask, size_t count, size_t mask_count, float a)
{
    MRB_FOR_EACH(i, count) {
        if (mask[i % mask_count] == 0.0f) continue;
        float2 v = g[i];
        g[i] = make_float2(a * v.x, a * v.y);
    }
}

/* acc += sum over the mask of Re(conj(g) (s0 - s)), in double. */
__global__ void dc_lambda_grad_kernel(const float2 *g, const float2 *s0, const float2 *s, const float *mask,
                                      size_t count, size_t mask_count, double *acc)
{
    __shared__ double partial[MRB_CUDA_BLOCK];
    double sum = 0.0;
    MRB_FOR_EACH(i, count) {
        if (mask[i % mask_count] == 0.0f) continue;
        float2 gv = g[i];
        float dr = s0[i].x - s[i].x, di = s0[i].y - s[i].y;
        sum += (double)(gv.x * dr + gv.y * di);
    }
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(acc, partial[0]);
}

__global__ void coil_expand_kernel(const float2 *x, const float2 *sens, size_t frame, size_t nt, size_t nc,
                                   float2 *coils)
{
    size_t vol = frame * nt;
    MRB_FOR_EACH(i, vol * nc) {
        size_t c = i / vol, v = i - c * vol, p = v % frame;
        float2 s = sens[c * frame + p], xv = x[v];
        coils[i] = make_float2(s.x * xv.x - s.y * xv.y, s.x * xv.y + s.y * xv.x);
    }
}

__global__ void coil_combine_kernel(const float2 *coils, const float2 *sens, size_t frame, size_t nt, size_t nc,
                                    float2 *x)
{
    size_t vol = frame * nt;
    MRB_FOR_EACH(v, vol) {
        size_t p = v % frame;
        float re = 0.0f, im = 0.0f;
        for (size_t c = 0; c < nc; c++) {
            float2 s = sens[c * frame + p], y = coils[c * vol + v];
            re += s.x * y.x + s.y * y.y; /* conj(s) y */
            im += s.x * y.y - s.y * y.x;
        }
        x[v] = make_float2(re, im);
    }
}

__global__ void caxpy_kernel(size_t n, float2 a, const float2 *x, float2 *y)
{
    MRB_FOR_EACH(i, n) {
        float2 xv = x[i], yv = y[i];
        y[i] = make_float2(yv.x + a.x * xv.x - a.y * xv.y, yv.y + a.x * xv.y + a.y * xv.x);
    }
}

__global__ void cmul_kernel(size_t n, const float2 *x, const float2 *y, float2 *z, int conj_x)
{
    MRB_FOR_EACH(i, n) {
        float2 a = x[i], b = y[i];
        if (conj_x) a.y = -a.y;
        z[i] = make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
    }
}

__global__ void cabs_kernel(size_t n, const float2 *x, float *mag)
{
    MRB_FOR_EACH(i, n) mag[i] = hypotf(x[i].x, x[i].y);
}

static mrb_status check_mask(size_t count, size_t mask_count)
{
    if (mask_count == 0 || count % mask_count != 0)
        return mrb_error(MRB_ERR_INVALID, "cuda dc: the mask (%zu values) does not tile the data (%zu values)",
                         mask_count, count);
    return MRB_OK;
}

mrb_status mrb_cuda_dc_kspace(float *d_s, const float *d_s0, const float *d_mask, size_t count, size_t mask_count,
                              double lambda)
{
    MRB_TRY(check_mask(count, mask_count));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    float a = lambda < 0 ? 0.0f : (float)(1.0 / (1.0 + lambda));
    float b = lambda < 0 ? 1.0f : (float)(lambda / (1.0 + lambda));
    dc_kspace_kernel<<<mrb_cuda_grid(count), MRB_CUDA_BLOCK, 0, st>>>((float2 *)d_s, (const float2 *)d_s0, d_mask,
                                                                      count, mask_count, a, b, lambda < 0);
    return MRB_CUDA_LAUNCH("dc_kspace_kernel");
}

mrb_status mrb_cuda_dc_forward(const float *d_x, const float *d_s0, const float *d_mask, size_t nx, size_t ny,
                               size_t batch, size_t mask_count, double lambda, float *d_out)
{
    size_t dims[3] = {nx, ny, batch};
    size_t count = nx * ny * batch;
    MRB_TRY(check_mask(count, mask_count));
    if (d_out != d_x) MRB_TRY(mrb_cuda_copy(d_out, d_x, count * sizeof(float2)));
    MRB_TRY(mrb_cuda_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, d_out));
    MRB_TRY(mrb_cuda_dc_kspace(d_out, d_s0, d_mask, count, mask_count, lambda));
    return mrb_cuda_fft_centered(MRB_FFT_INVERSE, 2, 3, dims, d_out);
}

mrb_status mrb_cuda_dc_backward(const float *d_x, const float *d_s0, const float *d_mask, size_t nx, size_t ny,
                                size_t batch, size_t mask_count, double lambda, const float *d_g, float *d_gx,
                                double *dlambda)
{
    size_t dims[3] = {nx, ny, batch};
    size_t count = nx * ny * batch;
    MRB_TRY(check_mask(count, mask_count));
    int want_lambda = dlambda && lambda >= 0;
    if (want_lambda && !d_x) return mrb_error(MRB_ERR_INVALID, "cuda dc backward: d lambda needs the layer input");
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    if (d_gx != d_g) MRB_TRY(mrb_cuda_copy(d_gx, d_g, count * sizeof(float2)));
    MRB_TRY(mrb_cuda_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, d_gx));
    if (want_lambda) {
        /* s = F x in a stream-ordered temporary; the sum lands after it */
        float2 *s = NULL;
        double *acc = NULL;
        mrb_status rc = MRB_CUDA_CALL(cudaMallocAsync((void **)&s, count * sizeof(float2), st));
        if (rc == MRB_OK) rc = MRB_CUDA_CALL(cudaMallocAsync((void **)&acc, sizeof(double), st));
        if (rc == MRB_OK) rc = MRB_CUDA_CALL(cudaMemsetAsync(acc, 0, sizeof(double), st));
        if (rc == MRB_OK) rc = mrb_cuda_copy(s, d_x, count * sizeof(float2));
        if (rc == MRB_OK) rc = mrb_cuda_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, (float *)s);
        if (rc == MRB_OK) {
            dc_lambda_grad_kernel<<<mrb_cuda_grid(count), MRB_CUDA_BLOCK, 0, st>>>(
                (const float2 *)d_gx, (const float2 *)d_s0, s, d_mask, count, mask_count, acc);
            rc = MRB_CUDA_LAUNCH("dc_lambda_grad_kernel");
        }
        double sum = 0.0;
        if (rc == MRB_OK) rc = MRB_CUDA_CALL(cudaMemcpyAsync(&sum, acc, sizeof sum, cudaMemcpyDeviceToHost, st));
        if (s) cudaFreeAsync(s, st);
        if (acc) cudaFreeAsync(acc, st);
        if (rc == MRB_OK) rc = MRB_CUDA_CALL(cudaStreamSynchronize(st));
        if (rc != MRB_OK) return rc;
        *dlambda = sum / ((1.0 + lambda) * (1.0 + lambda));
    }
    float a = lambda < 0 ? 0.0f : (float)(1.0 / (1.0 + lambda));
    dc_scale_masked_kernel<<<mrb_cuda_grid(count), MRB_CUDA_BLOCK, 0, st>>>((float2 *)d_gx, d_mask, count, mask_count,
                                                                            a);
    MRB_TRY(MRB_CUDA_LAUNCH("dc_scale_masked_kernel"));
    return mrb_cuda_fft_centered(MRB_FFT_INVERSE, 2, 3, dims, d_gx);
}

mrb_status mrb_cuda_coil_expand(const float *d_x, const float *d_sens, size_t frame, size_t nt, size_t nc,
                                float *d_coils)
{
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    coil_expand_kernel<<<mrb_cuda_grid(frame * nt * nc), MRB_CUDA_BLOCK, 0, st>>>(
        (const float2 *)d_x, (const float2 *)d_sens, frame, nt, nc, (float2 *)d_coils);
    return MRB_CUDA_LAUNCH("coil_expand_kernel");
}

mrb_status mrb_cuda_coil_combine(const float *d_coils, const float *d_sens, size_t frame, size_t nt, size_t nc,
                                 float *d_x)
{
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    coil_combine_kernel<<<mrb_cuda_grid(frame * nt), MRB_CUDA_BLOCK, 0, st>>>(
        (const float2 *)d_coils, (const float2 *)d_sens, frame, nt, nc, (float2 *)d_x);
    return MRB_CUDA_LAUNCH("coil_combine_kernel");
}

mrb_status mrb_cuda_caxpy(size_t n, float a_re, float a_im, const float *d_x, float *d_y)
{
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    caxpy_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(n, make_float2(a_re, a_im), (const float2 *)d_x,
                                                              (float2 *)d_y);
    return MRB_CUDA_LAUNCH("caxpy_kernel");
}

mrb_status mrb_cuda_cmul(size_t n, const float *d_x, const float *d_y, float *d_z)
{
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    cmul_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(n, (const float2 *)d_x, (const float2 *)d_y, (float2 *)d_z,
                                                             0);
    return MRB_CUDA_LAUNCH("cmul_kernel");
}

mrb_status mrb_cuda_cmulconj(size_t n, const float *d_x, const float *d_y, float *d_z)
{
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    cmul_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(n, (const float2 *)d_x, (const float2 *)d_y, (float2 *)d_z,
                                                             1);
    return MRB_CUDA_LAUNCH("cmul_kernel (conjugate)");
}

mrb_status mrb_cuda_cabs(size_t n, const float *d_x, float *d_mag)
{
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    cabs_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(n, (const float2 *)d_x, d_mag);
    return MRB_CUDA_LAUNCH("cabs_kernel");
}
