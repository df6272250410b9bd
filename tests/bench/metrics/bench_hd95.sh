#!/bin/bash
# HD95 on two 240x240x155 masks at 1x1x1 and 0.7x0.7x3 mm: mrbench's
# mrb_seg_evaluate (exact EDT over the masks' bounding box, counts, all
# surface distances) against the SciPy recipe (erosion + distance_transform_edt
# with sampling, twice, then percentiles).
#   tests/bench/metrics/bench_hd95.sh [BUILD_DIR] [THREADS]
# BUILD_DIR holds libmrbench (default build); THREADS for mrbench (default 0 =
# OpenMP default). Needs /usr/bin/python3 with numpy and scipy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build}
threads=${2:-0}
if [ ! -e "$build/libmrbench.so" ] && [ ! -e "$build/libmrbench.a" ]; then
    echo "bench_hd95: no libmrbench in $build (build it first)" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

read -r -a deps <<< "$(pkg-config --libs fftw3f fftw3 openblas libcjson zlib)"
cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -I"$root/impl/include" "$here/hd95_driver.c" \
   -o "$work/hd95_driver" -L"$build" -Wl,-rpath,"$build" -lmrbench "${deps[@]}" \
   -lfftw3f_threads -fopenmp -lm -lpthread

echo "generating masks and timing the SciPy recipe (median of 3) ..."
/usr/bin/python3 "$here/hd95_masks.py" "$work" 3 | tee "$work/scipy.txt"
for sp in "1 1 1" "0.7 0.7 3"; do
    # shellcheck disable=SC2086
    "$work/hd95_driver" "$work/ref.u8" "$work/pred.u8" 240 240 155 $sp 11 "$threads"
done | tee "$work/mrbench.txt"

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; mrbench threads: $threads (0 = OpenMP default)"
fmt='%-10s %-8s %10s %10s %10s %10s %10s %8s %8s\n'
# shellcheck disable=SC2059
printf "$fmt" spacing impl pooled max mean hd assd wall_s cpu_s
paste "$work/scipy.txt" "$work/mrbench.txt" |
while read -r _ s p1 m1 a1 h1 d1 t1 c1 _ _ p2 m2 a2 h2 d2 t2 c2; do
    # shellcheck disable=SC2059
    printf "$fmt" "$s" scipy "$p1" "$m1" "$a1" "$h1" "$d1" "$t1" "$c1"
    # shellcheck disable=SC2059
    printf "$fmt" "$s" mrbench "$p2" "$m2" "$a2" "$h2" "$d2" "$t2" "$c2"
    awk -v a="$t1" -v b="$t2" -v c="$c1" -v d="$c2" -v s="$s" \
        'BEGIN { printf "%-10s scipy / mrbench: %.1fx wall, %.1fx cpu\n", s, a / b, c / d }'
done
