/* Centred orthonormal FFT on cached FFTW plans.
 *
 * For even lengths the centring shifts become modulations:
 *   fftshift(fft(ifftshift(x)))[k] = (-1)^(N/2) (-1)^k fft((-1)^n x)[k],
 * so a transform is one pre-modulation (with the 1/sqrt(N) scale and the
 * (-1)^(N/2) sign folded in), the FFTW transform and one post-modulation,
 * with no copies. Odd lengths take explicit circular shifts. */
#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/fft.h"

typedef struct plan_entry {
    int rank;
    size_t n[3];
    size_t howmany;
    int dir;
    int nthreads;
    fftwf_plan plan;
    struct plan_entry *next;
} plan_entry;

/* Transforms of fewer complex elements run on one thread: the fork/join
 * costs more than the work (a batch of 256 1-D transforms of 256 points
 * takes about 60 us on one core). Same value as LINOP_PARALLEL_MIN. */
#define FFT_PARALLEL_MIN 16384

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static plan_entry *plan_cache;
static int threads_initialised;
/* The thread count of the transform this thread is executing. */
static _Thread_local int fft_team = 1;

/* FFTW's parallel loops run on the OpenMP thread pool that every other loop
 * uses, not on FFTW's own pthread pool. With two pools, OpenMP's workers
 * spin after each region on the cores FFTW's workers wait for: a 256 x 256
 * cs-wavelet with 16 threads ran about 100 times slower than with one on 16
 * idle cores, most of it in futex calls. The team is the plan's thread
 * count even when FFTW makes fewer jobs: libgomp ends the threads a smaller
 * team leaves idle and creates them again for the next larger one (2469
 * thread starts in one 4-item cs-wavelet run when transforms used 4
 * threads and loops 8). Inside an OpenMP region the loop runs on the
 * calling thread (nesting is off). */
static void fft_parallel_loop(void *(*work)(char *), char *jobdata, size_t elsize, int njobs, void *data)
{
    (void)data;
    int team = fft_team > njobs ? fft_team : njobs;
#pragma omp parallel for num_threads(team) schedule(static)
    for (int i = 0; i < njobs; i++) work(jobdata + elsize * (size_t)i);
}

void mrb_fft_set_threads(int nthreads)
{
    (void)nthreads; /* threads are chosen per call; kept for API symmetry */
}

const char *mrb_fft_version(void)
{
    return fftwf_version;
}

static fftwf_plan get_plan(int rank, const size_t *n, size_t howmany, int dir, int nthreads)
{
    pthread_mutex_lock(&plan_lock);
    for (plan_entry *e = plan_cache; e; e = e->next) {
        if (e->rank == rank && e->howmany == howmany && e->dir == dir && e->nthreads == nthreads &&
            memcmp(e->n, n, sizeof(size_t) * (size_t)rank) == 0) {
            pthread_mutex_unlock(&plan_lock);
            return e->plan;
        }
    }
    if (!threads_initialised) {
        fftwf_init_threads();
        fftwf_threads_set_callback(fft_parallel_loop, NULL);
        threads_initialised = 1;
    }
    /* FFTW wants the slowest axis first. */
    int fn[3];
    size_t total = 1;
    for (int i = 0; i < rank; i++) {
        fn[i] = (int)n[rank - 1 - i];
        total *= n[i];
    }
    fftwf_complex *scratch = fftwf_alloc_complex(total * howmany);
    fftwf_plan plan = NULL;
    if (scratch) {
        fftwf_plan_with_nthreads(nthreads);
        /* FFTW_ESTIMATE: the plan depends on the shape only, so reruns give
         * bit-identical results (measured plans may differ run to run). */
        plan = fftwf_plan_many_dft(rank, fn, (int)howmany, scratch, NULL, 1, (int)total, scratch, NULL, 1, (int)total,
                                   dir, FFTW_ESTIMATE);
        fftwf_free(scratch);
    }
    if (plan) {
        plan_entry *e = calloc(1, sizeof *e);
        if (e) {
            e->rank = rank;
            memcpy(e->n, n, sizeof(size_t) * (size_t)rank);
            e->howmany = howmany;
            e->dir = dir;
            e->nthreads = nthreads;
            e->plan = plan;
            e->next = plan_cache;
            plan_cache = e;
        } else {
            fftwf_destroy_plan(plan);
            plan = NULL;
        }
    }
    pthread_mutex_unlock(&plan_lock);
    return plan;
}

void mrb_fft_cleanup(void)
{
    pthread_mutex_lock(&plan_lock);
    while (plan_cache) {
        plan_entry *e = plan_cache;
        plan_cache = e->next;
        fftwf_destroy_plan(e->plan);
        free(e);
    }
    pthread_mutex_unlock(&plan_lock);
}

/* Circular shift by `shift` along axis `axis` of a [n0, n1, n2] block. */
static void shift_axis(float complex *x, const size_t *n, int axis, size_t shift, float complex *tmp)
{
    size_t stride = 1;
    for (int i = 0; i < axis; i++) stride *= n[i];
    size_t len = n[axis];
    size_t outer = 1;
    for (int i = axis + 1; i < 3; i++) outer *= n[i];
    for (size_t o = 0; o < outer; o++)
        for (size_t s = 0; s < stride; s++) {
            float complex *base = x + o * stride * len + s;
            for (size_t k = 0; k < len; k++) tmp[(k + shift) % len] = base[k * stride];
            for (size_t k = 0; k < len; k++) base[k * stride] = tmp[k];
        }
}

static mrb_status transform_block_odd(float complex *x, const size_t *n3, int rank, fftwf_plan plan, float scale)
{
    size_t maxlen = n3[0] > n3[1] ? n3[0] : n3[1];
    if (n3[2] > maxlen) maxlen = n3[2];
    float complex *tmp = malloc(maxlen * sizeof *tmp);
    if (!tmp) return mrb_error(MRB_ERR_NOMEM, "fft: out of memory");
    for (int a = 0; a < rank; a++) shift_axis(x, n3, a, n3[a] - n3[a] / 2, tmp); /* ifftshift */
    fftwf_execute_dft(plan, (fftwf_complex *)x, (fftwf_complex *)x);
    for (int a = 0; a < rank; a++) shift_axis(x, n3, a, n3[a] / 2, tmp); /* fftshift */
    size_t total = n3[0] * n3[1] * n3[2];
    for (size_t i = 0; i < total; i++) x[i] *= scale;
    free(tmp);
    return MRB_OK;
}

mrb_status mrb_fft_centered(mrb_fft_dir dir, int rank, int ndim, const size_t *dims, float *data, int nthreads)
{
    if (rank < 1 || rank > 3 || rank > ndim)
        return mrb_error(MRB_ERR_INVALID, "fft: rank %d over %d dimensions", rank, ndim);
    size_t n3[3] = {1, 1, 1};
    size_t total = 1, batch = 1;
    int all_even = 1;
    for (int i = 0; i < rank; i++) {
        n3[i] = dims[i];
        total *= dims[i];
        if (dims[i] % 2) all_even = 0;
        if (dims[i] > (size_t)1 << 30) return mrb_error(MRB_ERR_INVALID, "fft: axis too long");
    }
    for (int i = rank; i < ndim; i++) batch *= dims[i];
    float complex *x = (float complex *)data;
    const float scale = 1.0f / sqrtf((float)total);
    int aligned = fftwf_alignment_of(data) == 0;
    if (nthreads < 1) nthreads = 1;

    if (all_even && aligned) {
        fft_team = total * batch >= FFT_PARALLEL_MIN ? nthreads : 1;
        fftwf_plan plan = get_plan(rank, n3, batch, dir, fft_team);
        if (!plan) return mrb_error(MRB_ERR_RUN, "fft: FFTW could not plan a %d-D transform", rank);
        /* sign (-1)^(sum N_a/2) folded into the pre-scale */
        int half_sum = 0;
        for (int a = 0; a < rank; a++) half_sum += (int)(n3[a] / 2 % 2);
        const float pre = (half_sum % 2) ? -scale : scale;
        for (size_t b = 0; b < batch; b++) {
            float complex *blk = x + b * total;
            for (size_t k = 0; k < n3[2]; k++)
                for (size_t j = 0; j < n3[1]; j++) {
                    float complex *row = blk + (k * n3[1] + j) * n3[0];
                    float s0 = ((j + k) & 1) ? -pre : pre;
                    for (size_t i = 0; i < n3[0]; i += 2) {
                        row[i] *= s0;
                        row[i + 1] *= -s0;
                    }
                }
        }
        fftwf_execute_dft(plan, (fftwf_complex *)x, (fftwf_complex *)x);
        for (size_t b = 0; b < batch; b++) {
            float complex *blk = x + b * total;
            for (size_t k = 0; k < n3[2]; k++)
                for (size_t j = 0; j < n3[1]; j++) {
                    float complex *row = blk + (k * n3[1] + j) * n3[0];
                    if ((j + k) & 1)
                        for (size_t i = 0; i < n3[0]; i += 2) row[i] = -row[i];
                    else
                        for (size_t i = 1; i < n3[0]; i += 2) row[i] = -row[i];
                }
        }
        return MRB_OK;
    }

    /* Odd lengths or unaligned data: per-block explicit shifts. */
    fft_team = total >= FFT_PARALLEL_MIN ? nthreads : 1;
    for (size_t b = 0; b < batch; b++) {
        float complex *blk = x + b * total;
        fftwf_plan plan = fftwf_alignment_of((float *)blk) == 0 ? get_plan(rank, n3, 1, dir, fft_team) : NULL;
        if (plan) {
            MRB_TRY(transform_block_odd(blk, n3, rank, plan, scale));
        } else {
            float complex *copy = mrb_malloc(total * sizeof *copy);
            if (!copy) return mrb_error(MRB_ERR_NOMEM, "fft: out of memory");
            memcpy(copy, blk, total * sizeof *copy);
            plan = get_plan(rank, n3, 1, dir, fft_team);
            mrb_status st = plan ? transform_block_odd(copy, n3, rank, plan, scale)
                                 : mrb_error(MRB_ERR_RUN, "fft: FFTW could not plan");
            if (st == MRB_OK) memcpy(blk, copy, total * sizeof *copy);
            mrb_free(copy);
            if (st != MRB_OK) return st;
        }
    }
    return MRB_OK;
}

mrb_status mrb_fft_array(mrb_fft_dir dir, int rank, mrb_array *a, int nthreads)
{
    if (a->dtype != MRB_C64)
        return mrb_error(MRB_ERR_INVALID, "fft: array is %s, expected complex64", mrb_dtype_name(a->dtype));
    return mrb_fft_centered(dir, rank, a->ndim, a->dims, a->data, nthreads);
}
