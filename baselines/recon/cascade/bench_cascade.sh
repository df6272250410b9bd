#!/usr/bin/env bash
# Speed of the Deep Cascade engine: D5-C5 2D inference on 1x2x256x256 and one
# training step (forward + backward, noiseless DC) at batch 4.
# Usage: bench_cascade.sh BUILD_DIR [THREADS] [BATCH] [REPEATS]
# Prints the best wall time and the process CPU time of each (CPU time / threads
# is what an otherwise idle machine would show as wall time).
# Reference (specs/recon.md, 2 cores, PyTorch 1.13 oneDNN): 0.20 s inference,
# 2.8 s per training step at batch 4.
set -euo pipefail
build=${1:?usage: bench_cascade.sh BUILD_DIR [THREADS] [BATCH] [REPEATS]}
threads=${2:-2}
batch=${3:-4}
reps=${4:-3}
src=$(cd "$(dirname "$0")/../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/bench.c" <<'EOF'
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mrbench/nn.h"

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    int threads = atoi(argv[1]), batch = atoi(argv[2]), reps = atoi(argv[3]);
    const size_t n = 256, vol = n * n;
    mrb_nn_set_threads(threads);
    mrb_cascade_arch a = mrb_cascade_arch_default(0);
    mrb_cascade *c;
    if (mrb_cascade_create(&a, 1, &c) != MRB_OK) {
        fprintf(stderr, "%s\n", mrb_error_message());
        return 1;
    }
    float *ks = calloc(2 * vol * (size_t)batch, sizeof(float));
    float *mask = calloc(vol * (size_t)batch, sizeof(float));
    for (size_t i = 0; i < vol * (size_t)batch; i++) {
        mask[i] = (i / n) % 4 == 0; /* every 4th phase-encode line */
        ks[2 * i] = mask[i] * 0.01f * (float)(i % 7);
    }
    mrb_tensor *x1 = mrb_tensor_create4(1, 2, n, n, 0), *xb = mrb_tensor_create4((size_t)batch, 2, n, n, 0);
    for (size_t i = 0; i < mrb_tensor_count(xb); i++) xb->data[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    memcpy(x1->data, xb->data, 2 * vol * sizeof(float));
    mrb_dc_data d1 = {n, n, 1, 1, ks, mask}, db = {n, n, 1, (size_t)batch, ks, mask};
    const mrb_tensor *out;
    double best = 1e30, bestcpu = 1e30;
    for (int r = 0; r <= reps; r++) { /* r = 0 warms up (workspaces, FFT plans) */
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (mrb_cascade_forward(c, x1, &d1, 0, &out) != MRB_OK) return 1;
        double w = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r && w < best) best = w;
        if (r && cpu < bestcpu) bestcpu = cpu;
    }
    printf("D5-C5 inference 1x2x%zux%zu, %d threads: wall %.3f s, cpu %.3f s (best of %d)\n", n, n, threads,
           best, bestcpu, reps);
    float *dout = calloc(mrb_tensor_count(xb), sizeof(float));
    for (size_t i = 0; i < mrb_tensor_count(xb); i++) dout[i] = 1e-3f;
    best = bestcpu = 1e30;
    for (int r = 0; r <= reps; r++) {
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (mrb_cascade_forward(c, xb, &db, 1, &out) != MRB_OK) return 1;
        mrb_cascade_zero_grad(c);
        if (mrb_cascade_backward(c, dout) != MRB_OK) return 1;
        double w = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r && w < best) best = w;
        if (r && cpu < bestcpu) bestcpu = cpu;
    }
    printf("D5-C5 training step batch %d, %d threads: wall %.3f s, cpu %.3f s (best of %d)\n", batch, threads,
           best, bestcpu, reps);
    mrb_cascade_free(c);
    return 0;
}
EOF
cc -O2 -std=c11 -fopenmp -I"$src/impl/include" "$tmp/bench.c" "$build/libmrbench.a" \
   $(pkg-config --libs fftw3f fftw3 openblas libcjson zlib) -lfftw3f_threads -lm -o "$tmp/bench"
"$tmp/bench" "$threads" "$batch" "$reps"
