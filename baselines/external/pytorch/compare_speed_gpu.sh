#!/usr/bin/env bash
# Deep Cascade speed on one GPU, mrbench (cuDNN + cuFFT, gpu/recon/) against
# PyTorch eager mode (speed_cuda.py), on the same GPU in one run:
#   D5-C5 2D inference on 1x2x256x256, one training step at batch BATCH
#   (forward, MSE, backward, Adam), and D5-C10(S) 2D+t inference on a
#   256x256x30 cine; once in strict FP32 and once with TF32 tensor cores
#   (PyTorch's default for convolutions), both sides alike.
# Both time with CUDA events after 3 warm-ups, data resident on the device;
# cuDNN's algorithm search happens before timing on both sides (mrbench's
# set-up, torch.backends.cudnn.benchmark). Medians of REPEATS.
#
# Usage: compare_speed_gpu.sh BUILD_DIR [BATCH] [REPEATS] [FRAMES]
#   BUILD_DIR  a CUDA build of mrbench (holds gpu/mrbench_bench_cascade_cuda)
#   PYTHON     the python3 with torch (default: python3); it runs with
#              LD_LIBRARY_PATH unset unless KEEP_LD_LIBRARY_PATH=1, so that
#              PyTorch loads its own cuDNN
#   MRBENCH_CUDNN_APIS  the cuDNN APIs mrbench is timed with, each against
#              the same PyTorch run (default: "legacy"; "legacy graph" adds
#              the graph-API convolutions, MRBENCH_CUDNN_API=graph)
# Prints a table of median seconds and the ratio PyTorch / mrbench
# (> 1: mrbench is faster).
set -euo pipefail
build=$(cd "${1:?usage: compare_speed_gpu.sh BUILD_DIR [BATCH] [REPEATS] [FRAMES]}" && pwd)
batch=${2:-16}
reps=${3:-20}
frames=${4:-30}
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/gpu/mrbench_bench_cascade_cuda"
python=${PYTHON:-python3}
[ -x "$bench" ] || { echo "compare_speed_gpu.sh: $bench not found (configure with -DMRBENCH_CUDA=ON)" >&2; exit 2; }

pyrun() {
    if [ "${KEEP_LD_LIBRARY_PATH:-0}" = 1 ]; then
        (cd "$here" && "$python" speed_cuda.py "$@")
    else
        (cd "$here" && env -u LD_LIBRARY_PATH "$python" speed_cuda.py "$@")
    fi
}

declare -A med
collect() { # engine/precision, then command
    local key=$1; shift
    local out
    out=$("$@")
    echo "$out" | sed "s|^|  [$key] |"
    while read -r what m _; do
        case "$what" in inference|train|upload|download) med[$key/$what]=$m ;; esac
    done <<<"$out"
}

apis=${MRBENCH_CUDNN_APIS:-legacy}
for tf32 in 0 1; do
    p=$([ $tf32 = 1 ] && echo tf32 || echo fp32)
    for api in $apis; do
        collect "$api/$p/2d" env MRBENCH_TF32=$tf32 MRBENCH_CUDNN_API="$api" "$bench" 2d "$batch" "$reps" 256
        collect "$api/$p/2dt" env MRBENCH_TF32=$tf32 MRBENCH_CUDNN_API="$api" "$bench" 2dt 1 "$reps" 256 "$frames"
    done
    collect "pytorch/$p/2d" pyrun --arch 2d --batch "$batch" --reps "$reps" --tf32 $tf32
    collect "pytorch/$p/2dt" pyrun --arch 2dt --reps "$reps" --frames "$frames" --tf32 $tf32
done

echo
printf '%-34s %-7s %12s %12s %10s\n' "median seconds" "cuDNN" mrbench PyTorch "PyTorch/mrbench"
for p in fp32 tf32; do
    for row in "2d inference 1x256x256:2d/inference" "2d train step batch $batch:2d/train" \
               "2d+t inference 256x256x$frames:2dt/inference"; do
        label=${row%%:*} k=${row#*:}
        for api in $apis; do
            a=${med[$api/$p/$k]:-} b=${med[pytorch/$p/${k}]:-}
            [ -n "$a" ] && [ -n "$b" ] || continue
            printf '%-34s %-7s %12s %12s %10s\n' "$p $label" "$api" "$a" "$b" \
                "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')"
        done
    done
done
first=${apis%% *}
echo "mrbench host<->device per item ($first, fp32 run): upload ${med[$first/fp32/2d/upload]:-?} s, download ${med[$first/fp32/2d/download]:-?} s (2D); upload ${med[$first/fp32/2dt/upload]:-?} s, download ${med[$first/fp32/2dt/download]:-?} s (2D+t)"
