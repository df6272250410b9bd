#!/bin/sh
# Builds the libFuzzer targets with clang (Debian package clang) into
# ${1:-build-fuzz}/: fuzz_nifti, fuzz_cfl. Run from the repository root.
set -eu
out=${1:-build-fuzz}
mkdir -p "$out"
flags="-std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Iimpl/include -Iimpl"
srcs="impl/io/nifti.c impl/io/cfl.c impl/io/io_stream.c impl/core/array.c impl/core/status.c"
for t in nifti cfl; do
    clang $flags tests/fuzz/fuzz_$t.c $srcs -lz -lm -o "$out/fuzz_$t"
done
