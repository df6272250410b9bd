#!/bin/sh
# Builds every libFuzzer target (the list is MRB_FUZZ_TARGETS in
# tests/fuzz/CMakeLists.txt) with clang (Debian package clang) into
# BUILD_DIR/fuzz_<name> (default build-fuzz/), with libmrbench instrumented for coverage
# and built with ASan and UBSan. BUILD_DIR is relative to the current
# folder; extra arguments go to cmake (e.g. -DCMAKE_C_COMPILER=clang-16).
set -eu
out=${1:-build-fuzz}
[ $# -gt 0 ] && shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/../.."
CC=${CC:-clang} cmake -S . -B "$out" -DMRBENCH_FUZZ=ON -DMRBENCH_TESTS=OFF -DMRBENCH_CUDA=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" "$@" >"$out.configure.log" 2>&1 \
    || { cat "$out.configure.log"; exit 1; }
cmake --build "$out" --target fuzz_all -j"${JOBS:-2}"
