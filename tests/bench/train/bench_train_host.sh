#!/bin/bash
# Host time per step of GPU training (mrbench train --device gpu) when the
# device derives each minibatch's k-space, zero-filled input and target
# (today) against the host deriving them (before): no GPU needed, the device
# of train_host_driver.c does no network work.
#   tests/bench/train/bench_train_host.sh [BUILD_DIR] [THREADS] [SIZE] [BATCH]
# BUILD_DIR holds libmrbench (default build); THREADS (default 1), SIZE
# (default 256) and BATCH (default 16) as the GPU speed table's training step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build}
threads=${2:-1}
size=${3:-256}
batch=${4:-16}
if [ ! -e "$build/libmrbench.so" ] && [ ! -e "$build/libmrbench.a" ]; then
    echo "bench_train_host: no libmrbench in $build (build it first)" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
read -r -a deps <<< "$(pkg-config --libs fftw3f fftw3 openblas libcjson zlib hdf5-serial 2>/dev/null ||
                       pkg-config --libs fftw3f fftw3 openblas libcjson zlib)"
cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -I"$root/impl/include" "$here/train_host_driver.c" \
   -o "$work/train_host_driver" -L"$build" -Wl,-rpath,"$build" -lmrbench "${deps[@]}" \
   -lfftw3f_threads -fopenmp -lm -lpthread
"$work/train_host_driver" "$size" "$batch" $((4 * batch)) 10 "$threads"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
