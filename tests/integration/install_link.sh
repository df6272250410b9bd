#!/usr/bin/env bash
# A method author can install libmrbench and link against it through
# pkg-config (C) and the CMake package, and the public headers compile as C++.
set -u
mrbench=$1 src=$2
build=$(dirname "$mrbench")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1
check "cmake --install succeeds" '[ $? -eq 0 ] || { tail -5 "$tmp/install.log"; false; }'
check "the program is installed" "[ -x '$tmp/prefix/bin/mrbench' ]"
check "the umbrella header is installed" "[ -f '$tmp/prefix/include/mrbench/mrbench.h' ]"
pc=$(find "$tmp/prefix" -name mrbench.pc | head -1)
check "the pkg-config file is installed" "[ -n '$pc' ]"

cat >"$tmp/user.c" <<'C'
#include <mrbench/mrbench.h>
#include <stdio.h>
int main(void)
{
    const mrb_method_desc *m = mrb_method_find("zero-filling");
    mrb_array *a = mrb_array_create2(MRB_C64, 8, 8);
    int ok = m != NULL && a != NULL && mrb_fft_array(MRB_FFT_FORWARD, 2, a, 1) == MRB_OK;
    mrb_array_free(a);
    printf("%s\n", ok ? "linked" : "broken");
    return ok ? 0 : 1;
}
C
export PKG_CONFIG_PATH=$(dirname "$pc")
cc -std=c11 "$tmp/user.c" -o "$tmp/user" $(pkg-config --cflags --libs --static mrbench) >"$tmp/cc.log" 2>&1
check "a C program builds with pkg-config" '[ $? -eq 0 ] || { head -5 "$tmp/cc.log"; false; }'
check "and runs" "LD_LIBRARY_PATH='$tmp/prefix/lib' '$tmp/user' | grep -q linked"

printf '#include <mrbench/mrbench.h>\nint main() { return mrb_dtype_size(MRB_C64) == 8 ? 0 : 1; }\n' >"$tmp/user.cpp"
if command -v c++ >/dev/null; then
  c++ -std=c++17 -Wall -Wextra -Werror -I"$tmp/prefix/include" -fsyntax-only "$tmp/user.cpp" >"$tmp/cxx.log" 2>&1
  check "the public headers compile as C++" '[ $? -eq 0 ] || { head -5 "$tmp/cxx.log"; false; }'
fi

mkdir -p "$tmp/cm"
cat >"$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(user C)
find_package(mrbench REQUIRED)
add_executable(user ../user.c)
target_link_libraries(user PRIVATE mrbench::mrbench)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/cm.log" 2>&1 && cmake --build "$tmp/cm/b" >>"$tmp/cm.log" 2>&1
check "a CMake project builds with find_package(mrbench)" '[ $? -eq 0 ] || { tail -5 "$tmp/cm.log"; false; }'

echo "install/link: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
