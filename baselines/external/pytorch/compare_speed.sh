#!/usr/bin/env bash
# Deep Cascade speed, mrbench vs PyTorch, on the same machine and thread count:
# D5-C5 2D (64 filters, noiseless DC) inference on 1x2x256x256 and one training
# step (forward + backward of the MSE loss) at batch 4, best of REPEATS after a
# warm-up. PyTorch runs twice: with glibc's default malloc and with the
# malloc settings often recommended for PyTorch on CPU (large buffers kept in
# the heap instead of being mmap'ed and returned every iteration); mrbench
# runs under both too. Both engines load the same weights file.
#
# Usage: compare_speed.sh BUILD_DIR [THREADS] [REPEATS] [BATCH]
#        compare_speed.sh --init-weights BUILD_DIR PATH   (He-initialised D5-C5 2D weights)
# Prints a table of wall and process CPU times and the ratio PyTorch / mrbench
# (> 1: mrbench is faster), with /proc/loadavg before and after: on a loaded
# machine wall times are pessimistic, CPU / threads less so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
init=""
if [ "${1:-}" = "--init-weights" ]; then
    init=${3:?usage: compare_speed.sh --init-weights BUILD_DIR PATH}
    shift
fi
build=$(cd "${1:?usage: compare_speed.sh BUILD_DIR [THREADS] [REPEATS] [BATCH]}" && pwd)
threads=${2:-2}
reps=${3:-3}
batch=${4:-4}
[ -n "$init" ] && threads=1

# glibc tunables (mallopt(3)): the mmap threshold at its maximum (32 MiB on
# 64-bit), no trimming of the heap top, 1 GiB of extra heap per sbrk.
TUNED_MALLOC=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824)

py=""
for cand in ${PYTHON:-} /usr/bin/python3 python3; do
    if "$cand" -c 'import torch, numpy' >/dev/null 2>&1; then
        py=$cand
        break
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/bench.c" <<'EOF'
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mrbench/fft.h"
#include "mrbench/nn.h"

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(void)
{
    fprintf(stderr, "bench: %s\n", mrb_error_message());
    return 1;
}

/* bench THREADS BATCH REPEATS WEIGHTS | bench --init PATH */
int main(int argc, char **argv)
{
    const size_t n = 256, vol = n * n;
    if (argc == 3 && strcmp(argv[1], "--init") == 0) {
        mrb_cascade_arch a = mrb_cascade_arch_default(0);
        mrb_cascade *c;
        if (mrb_cascade_create(&a, 2017, &c) != MRB_OK || mrb_cascade_save(c, argv[2]) != MRB_OK) return fail();
        mrb_cascade_free(c);
        return 0;
    }
    if (argc != 5) return 2;
    int threads = atoi(argv[1]), batch = atoi(argv[2]), reps = atoi(argv[3]);
    mrb_nn_set_threads(threads);
    mrb_cascade *c;
    if (mrb_cascade_open(argv[4], &c) != MRB_OK) return fail();
    float *ks = calloc(2 * vol * (size_t)batch, sizeof(float));
    float *mask = calloc(vol * (size_t)batch, sizeof(float));
    for (size_t i = 0; i < vol * (size_t)batch; i++) {
        mask[i] = (i / n) % 4 == 0; /* every 4th phase-encode line */
        ks[2 * i] = mask[i] * 0.01f * (float)(i % 7);
    }
    mrb_tensor *x1 = mrb_tensor_create4(1, 2, n, n, 0), *xb = mrb_tensor_create4((size_t)batch, 2, n, n, 0);
    mrb_tensor *target = mrb_tensor_create4((size_t)batch, 2, n, n, 0);
    for (size_t i = 0; i < mrb_tensor_count(xb); i++) {
        xb->data[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
        target->data[i] = (float)((i * 40503u) % 1000) / 1000.0f;
    }
    memcpy(x1->data, xb->data, 2 * vol * sizeof(float));
    mrb_dc_data d1 = {n, n, 1, 1, ks, mask}, db = {n, n, 1, (size_t)batch, ks, mask};
    const mrb_tensor *out;
    double best = 1e30, bestcpu = 1e30;
    for (int r = 0; r <= reps; r++) { /* r = 0 warms up (workspaces, FFT plans) */
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (mrb_cascade_forward(c, x1, &d1, 0, &out) != MRB_OK) return fail();
        double w = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r && w < best) best = w;
        if (r && cpu < bestcpu) bestcpu = cpu;
    }
    printf("inference %.4f %.4f\n", best, bestcpu);
    mrb_tensor *pred = mrb_tensor_create4((size_t)batch, 2, n, n, 1);
    best = bestcpu = 1e30;
    for (int r = 0; r <= reps; r++) {
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (mrb_cascade_forward(c, xb, &db, 1, &out) != MRB_OK) return fail();
        double loss;
        memcpy(pred->data, out->data, mrb_tensor_count(pred) * sizeof(float));
        mrb_tensor_zero_grad(pred);
        if (mrb_nn_mse_loss(pred, target, 2.0f, &loss) != MRB_OK) return fail();
        mrb_cascade_zero_grad(c);
        if (mrb_cascade_backward(c, pred->grad) != MRB_OK) return fail();
        double w = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r && w < best) best = w;
        if (r && cpu < bestcpu) bestcpu = cpu;
    }
    printf("train %.4f %.4f\n", best, bestcpu);
    mrb_tensor_free(x1);
    mrb_tensor_free(xb);
    mrb_tensor_free(target);
    mrb_tensor_free(pred);
    mrb_cascade_free(c);
    free(ks);
    free(mask);
    mrb_fft_cleanup();
    return 0;
}
EOF
# Link like the mrbench program (the build may add CUDA, HDF5, sanitizers).
linkfile="$build/CMakeFiles/mrbench_cli.dir/link.txt"
if [ -f "$linkfile" ]; then
    libs=$(sed -n 's/.* -o mrbench //p' "$linkfile" | tr ' ' '\n' | sed "s#^libmrbench.a\$#$build/libmrbench.a#" | tr '\n' ' ')
    flags=$(sed 's/ -o mrbench .*//' "$linkfile" | tr ' ' '\n' | grep '^-' | tr '\n' ' ')
else
    libs="$build/libmrbench.a $(pkg-config --libs fftw3f fftw3 openblas libcjson zlib) -lfftw3f_threads -lm -lpthread"
    flags=""
fi
# shellcheck disable=SC2086
cc $flags -O2 -std=c11 -fopenmp -I"$src/impl/include" "$tmp/bench.c" $libs -lm -o "$tmp/bench"

if [ -n "$init" ]; then
    "$tmp/bench" --init "$init"
    echo "wrote $init (D5-C5 2D, 64 filters, He init, seed 2017)"
    exit 0
fi
weights="$tmp/d5c5.safetensors"
"$tmp/bench" --init "$weights"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "load before: $(cat /proc/loadavg)"
echo "D5-C5 2D, 64 filters: inference 1x2x256x256, training step batch $batch; $threads thread(s), best of $reps"
declare -A wall cpu
run() { # key, env..., -- command...
    local key=$1
    shift
    local out
    out=$(env "$@")
    wall[$key/inference]=$(awk '$1 == "inference" {print $2}' <<<"$out")
    cpu[$key/inference]=$(awk '$1 == "inference" {print $3}' <<<"$out")
    wall[$key/train]=$(awk '$1 == "train" {print $2}' <<<"$out")
    cpu[$key/train]=$(awk '$1 == "train" {print $3}' <<<"$out")
}
run mrbench "$tmp/bench" "$threads" "$batch" "$reps" "$weights"
run mrbench-tuned "${TUNED_MALLOC[@]}" "$tmp/bench" "$threads" "$batch" "$reps" "$weights"
engines=(mrbench mrbench-tuned)
if [ -n "$py" ]; then
    run pytorch "$py" "$here/speed.py" "$threads" "$batch" "$reps" "$weights"
    run pytorch-tuned "${TUNED_MALLOC[@]}" "$py" "$here/speed.py" "$threads" "$batch" "$reps" "$weights"
    engines+=(pytorch pytorch-tuned)
else
    echo "PyTorch not installed (apt-get install python3-torch): mrbench only"
fi
echo "load after:  $(cat /proc/loadavg)"
printf '%-16s %-10s %10s %10s\n' engine task "wall (s)" "cpu (s)"
for e in "${engines[@]}"; do
    for t in inference train; do
        printf '%-16s %-10s %10s %10s\n' "$e" "$t" "${wall[$e/$t]}" "${cpu[$e/$t]}"
    done
done
if [ -n "$py" ]; then
    echo "ratios PyTorch / mrbench (wall; > 1: mrbench faster):"
    for m in "" -tuned; do
        for t in inference train; do
            awk -v a="${wall[pytorch$m/$t]}" -v b="${wall[mrbench$m/$t]}" -v m="${m:-default}" -v t="$t" \
                'BEGIN {printf "  malloc %-8s %-10s %.2f\n", (m == "-tuned" ? "tuned" : "default"), t, a / b}'
        done
    done
fi
