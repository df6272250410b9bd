#!/usr/bin/env bash
# Second README command: installs what mrbench needs, builds it with warnings
# as errors under AddressSanitizer and UBSan, and runs every test (unit,
# integration, cross-checks) with ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash ci/setup.sh
build=${MRBENCH_TEST_BUILD:-build-test}
bash ci/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMRBENCH_WERROR=ON -DMRBENCH_SANITIZE=ON
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
# OpenMP threads sleep instead of spinning while they wait: on a 2-core runner
# that also runs two tests at once, spinning threads slow each other 10-100x.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure --timeout 1200 -j2 "$@"
