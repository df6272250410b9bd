/* Centred orthonormal FFT on cuFFT: the CUDA twin of impl/fft/fft.c.
 *
 * Even lengths: fftshift(fft(ifftshift(x)))[k] = (-1)^(N/2) (-1)^k fft((-1)^n x)[k]
 * per axis, so one kernel multiplies by (-1)^(n0+n1+n2) with the 1/sqrt(N)
 * scale and the sign (-1)^(sum N_a/2) folded in, cuFFT transforms in place,
 * and one kernel applies (-1)^(k0+k1+k2). Any odd length: a gather kernel
 * applies ifftshift and the scale into a scratch buffer, cuFFT transforms
 * it, a second gather applies fftshift back into the data. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"

struct mrb_cuda_fft_plan {
    int rank;
    size_t n[3]; /* transform lengths, n[0] fastest; unused axes are 1 */
    size_t batch;
    size_t total; /* n[0] n[1] n[2] */
    int all_even;
    float scale; /* 1/sqrt(total) */
    float pre;   /* even path: scale with the sign (-1)^(sum N_a/2) */
    cufftHandle handle;
    float2 *scratch;                /* odd path: total * batch values */
    pthread_mutex_t exec_lock;      /* cuFFT plans must not be executed concurrently */
    struct mrb_cuda_fft_plan *next; /* cache chain */
};

/* Multiplies x[i] by s (-1)^(i0+i1+i2), (i0, i1, i2) the position of i
 * inside its [n0, n1, n2] block. Only parities count and every used length
 * is even, so with row = i / n0 and slab = i / (n0 n1): i1 has the parity of
 * row when n1 > 1 and i2 that of slab when n2 > 1; the batch index drops
 * out. 32-bit indices when the data allow it: 64-bit division is several
 * times slower on the GPU. */
template <typename I> __global__ void modulate_kernel(float2 *x, I count, I n0, I n01, int has1, int has2, float s)
{
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (I)gridDim.x * blockDim.x) {
        I row = i / n0;
        I parity = (i - row * n0) + (has1 ? row : 0) + (has2 ? i / n01 : 0);
        float sign = (parity & 1) ? -s : s;
        float2 v = x[i];
        x[i] = make_float2(v.x * sign, v.y * sign);
    }
}

/* out[k] = s in[(k + shift) mod n] per axis, blocks of [n0, n1, n2]. */
template <typename I>
__global__ void shift_gather_kernel(float2 *out, const float2 *in, I count, I n0, I n1, I n2, I h0, I h1, I h2, float s)
{
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (I)gridDim.x * blockDim.x) {
        I blk_len = n0 * n1 * n2;
        I b = i / blk_len;
        I r = i - b * blk_len;
        I k0 = r % n0;
        I k1 = (r / n0) % n1;
        I k2 = r / (n0 * n1);
        I j0 = (k0 + h0) % n0, j1 = (k1 + h1) % n1, j2 = (k2 + h2) % n2;
        float2 v = in[b * blk_len + (j2 * n1 + j1) * n0 + j0];
        out[i] = make_float2(v.x * s, v.y * s);
    }
}

static mrb_status launch_modulate(const mrb_cuda_fft_plan *p, float2 *x, float s, cudaStream_t st)
{
    size_t count = p->total * p->batch;
    unsigned grid = mrb_cuda_grid(count);
    int has1 = p->n[1] > 1, has2 = p->n[2] > 1;
    if (count < ((size_t)1 << 31))
        modulate_kernel<uint32_t><<<grid, MRB_CUDA_BLOCK, 0, st>>>(x, (uint32_t)count, (uint32_t)p->n[0],
                                                                   (uint32_t)(p->n[0] * p->n[1]), has1, has2, s);
    else
        modulate_kernel<uint64_t><<<grid, MRB_CUDA_BLOCK, 0, st>>>(x, (uint64_t)count, (uint64_t)p->n[0],
                                                                   (uint64_t)(p->n[0] * p->n[1]), has1, has2, s);
    return MRB_CUDA_LAUNCH("modulate_kernel");
}

static mrb_status launch_shift(const mrb_cuda_fft_plan *p, float2 *out, const float2 *in, int inverse_shift, float s,
                               cudaStream_t st)
{
    size_t count = p->total * p->batch;
    size_t h[3] = {0, 0, 0};
    for (int a = 0; a < p->rank; a++) /* ifftshift reads (k + floor(n/2)), fftshift reads (k + ceil(n/2)) */
        h[a] = inverse_shift ? p->n[a] / 2 : (p->n[a] + 1) / 2;
    unsigned grid = mrb_cuda_grid(count);
    if (count < ((size_t)1 << 31))
        shift_gather_kernel<uint32_t>
            <<<grid, MRB_CUDA_BLOCK, 0, st>>>(out, in, (uint32_t)count, (uint32_t)p->n[0], (uint32_t)p->n[1],
                                              (uint32_t)p->n[2], (uint32_t)h[0], (uint32_t)h[1], (uint32_t)h[2], s);
    else
        shift_gather_kernel<uint64_t>
            <<<grid, MRB_CUDA_BLOCK, 0, st>>>(out, in, (uint64_t)count, (uint64_t)p->n[0], (uint64_t)p->n[1],
                                              (uint64_t)p->n[2], (uint64_t)h[0], (uint64_t)h[1], (uint64_t)h[2], s);
    return MRB_CUDA_LAUNCH("shift_gather_kernel");
}

mrb_status mrb_cuda_fft_plan_create(int rank, int ndim, const size_t *dims, mrb_cuda_fft_plan **out)
{
    *out = NULL;
    if (rank < 1 || rank > 3 || rank > ndim)
        return mrb_error(MRB_ERR_INVALID, "cuda fft: rank %d over %d dimensions", rank, ndim);
    cudaStream_t stream;
    MRB_TRY(mrb_cuda_work_stream(&stream));
    mrb_cuda_fft_plan *p = (mrb_cuda_fft_plan *)calloc(1, sizeof *p);
    if (!p) return mrb_error(MRB_ERR_NOMEM, "cuda fft: out of memory");
    p->rank = rank;
    p->n[0] = p->n[1] = p->n[2] = 1;
    p->total = 1;
    p->batch = 1;
    p->all_even = 1;
    int half_sum = 0;
    long long fn[3];
    for (int a = 0; a < rank; a++) {
        if (dims[a] == 0) {
            free(p);
            return mrb_error(MRB_ERR_INVALID, "cuda fft: axis %d has length 0", a);
        }
        p->n[a] = dims[a];
        p->total *= dims[a];
        if (dims[a] % 2) p->all_even = 0;
        half_sum += (int)(dims[a] / 2 % 2);
        fn[a] = (long long)dims[rank - 1 - a]; /* cuFFT wants the slowest axis first */
    }
    for (int a = rank; a < ndim; a++) p->batch *= dims[a];
    p->scale = 1.0f / sqrtf((float)p->total);
    p->pre = (half_sum % 2) ? -p->scale : p->scale;
    pthread_mutex_init(&p->exec_lock, NULL);

    size_t work = 0;
    mrb_status st = MRB_CUFFT_CALL(cufftCreate(&p->handle));
    int have_handle = st == MRB_OK;
    if (st == MRB_OK)
        st = MRB_CUFFT_CALL(cufftMakePlanMany64(p->handle, rank, fn, NULL, 1, (long long)p->total, NULL, 1,
                                                (long long)p->total, CUFFT_C2C, (long long)p->batch, &work));
    if (st == MRB_OK) st = MRB_CUFFT_CALL(cufftSetStream(p->handle, stream));
    if (st == MRB_OK && !p->all_even)
        st = MRB_CUDA_CALL(cudaMalloc((void **)&p->scratch, p->total * p->batch * sizeof(float2)));
    if (st != MRB_OK) {
        size_t batch = p->batch;
        if (have_handle) cufftDestroy(p->handle);
        pthread_mutex_destroy(&p->exec_lock);
        free(p);
        return mrb_error_context(st, "cuda fft: planning a %d-D transform batched %zu times", rank, batch);
    }
    *out = p;
    return MRB_OK;
}

void mrb_cuda_fft_plan_free(mrb_cuda_fft_plan *p)
{
    if (!p) return;
    cufftDestroy(p->handle);
    if (p->scratch) {
        cudaDeviceSynchronize(); /* the scratch may still be in use by queued work */
        cudaFree(p->scratch);
    }
    pthread_mutex_destroy(&p->exec_lock);
    free(p);
}

mrb_status mrb_cuda_fft_exec(mrb_cuda_fft_plan *p, mrb_fft_dir dir, float *d_data)
{
    cudaStream_t stream;
    MRB_TRY(mrb_cuda_work_stream(&stream));
    float2 *x = (float2 *)d_data;
    int cufft_dir = dir == MRB_FFT_FORWARD ? CUFFT_FORWARD : CUFFT_INVERSE;
    pthread_mutex_lock(&p->exec_lock);
    mrb_status st;
    if (p->all_even) {
        st = launch_modulate(p, x, p->pre, stream);
        if (st == MRB_OK) st = MRB_CUFFT_CALL(cufftExecC2C(p->handle, (cufftComplex *)x, (cufftComplex *)x, cufft_dir));
        if (st == MRB_OK) st = launch_modulate(p, x, 1.0f, stream);
    } else {
        st = launch_shift(p, p->scratch, x, 1, p->scale, stream);
        if (st == MRB_OK)
            st = MRB_CUFFT_CALL(
                cufftExecC2C(p->handle, (cufftComplex *)p->scratch, (cufftComplex *)p->scratch, cufft_dir));
        if (st == MRB_OK) st = launch_shift(p, x, p->scratch, 0, 1.0f, stream);
    }
    pthread_mutex_unlock(&p->exec_lock);
    return st;
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static mrb_cuda_fft_plan *plan_cache;

static mrb_status cached_plan(int rank, int ndim, const size_t *dims, mrb_cuda_fft_plan **out)
{
    size_t n[3] = {1, 1, 1}, batch = 1;
    if (rank < 1 || rank > 3 || rank > ndim)
        return mrb_error(MRB_ERR_INVALID, "cuda fft: rank %d over %d dimensions", rank, ndim);
    for (int a = 0; a < rank; a++) n[a] = dims[a];
    for (int a = rank; a < ndim; a++) batch *= dims[a];
    pthread_mutex_lock(&cache_lock);
    for (mrb_cuda_fft_plan *e = plan_cache; e; e = e->next)
        if (e->rank == rank && e->batch == batch && memcmp(e->n, n, sizeof n) == 0) {
            pthread_mutex_unlock(&cache_lock);
            *out = e;
            return MRB_OK;
        }
    mrb_status st = mrb_cuda_fft_plan_create(rank, ndim, dims, out);
    if (st == MRB_OK) {
        (*out)->next = plan_cache;
        plan_cache = *out;
    }
    pthread_mutex_unlock(&cache_lock);
    return st;
}

mrb_status mrb_cuda_fft_centered(mrb_fft_dir dir, int rank, int ndim, const size_t *dims, float *d_data)
{
    mrb_cuda_fft_plan *p;
    MRB_TRY(cached_plan(rank, ndim, dims, &p));
    return mrb_cuda_fft_exec(p, dir, d_data);
}

mrb_status mrb_cuda_fft_centered_host(mrb_fft_dir dir, int rank, int ndim, const size_t *dims, float *h_data)
{
    size_t count = 1;
    for (int a = 0; a < ndim; a++) count *= dims[a];
    size_t bytes = count * 2 * sizeof(float);
    void *d = NULL;
    MRB_TRY(mrb_cuda_alloc(bytes, &d));
    mrb_status st = mrb_cuda_upload(d, h_data, bytes);
    if (st == MRB_OK) st = mrb_cuda_fft_centered(dir, rank, ndim, dims, (float *)d);
    if (st == MRB_OK) st = mrb_cuda_download(h_data, d, bytes);
    mrb_cuda_free(d);
    return st;
}

void mrb_cuda_fft_cleanup(void)
{
    pthread_mutex_lock(&cache_lock);
    while (plan_cache) {
        mrb_cuda_fft_plan *p = plan_cache;
        plan_cache = p->next;
        mrb_cuda_fft_plan_free(p);
    }
    pthread_mutex_unlock(&cache_lock);
}
