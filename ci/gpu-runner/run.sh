#!/usr/bin/env bash
# GPU CI job: builds mrbench with CUDA, runs the GPU tests (which must not
# skip: MRB_EXPECT_GPU=1), the unit tests and the quickstart regression
# suite, compares with a baseline when one exists, and leaves everything in
# ARTIFACT_DIR (plus ARTIFACT_DIR.tar.gz).
#
# Usage: ci/gpu-runner/run.sh [ARTIFACT_DIR]   (default build-gpu-ci-artifacts/)
# Environment (all optional):
#   MRB_BUNDLE        folder made by ci/bundle.sh; its env.sh is sourced
#   MRB_CUDA_ARCHS    CMAKE_CUDA_ARCHITECTURES (default 90: H100/H200)
#   MRB_BASELINE_DIR  holds quickstart/results.json from an accepted run
#   MRB_BUILD_DIR     build folder (default build-gpu-ci)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
art_arg=${1:-$root/build-gpu-ci-artifacts}  # build*/ is ignored by git
art=$(mkdir -p "$art_arg" && cd "$art_arg" && pwd)
build=${MRB_BUILD_DIR:-build-gpu-ci}
archs=${MRB_CUDA_ARCHS:-90}
status=0

if [ -n "${MRB_BUNDLE:-}" ] && [ -f "$MRB_BUNDLE/env.sh" ]; then
  # shellcheck source=/dev/null
  source "$MRB_BUNDLE/env.sh"
  echo "run.sh: using the offline bundle in $MRB_BUNDLE"
fi
export PATH="$PATH:/usr/local/cuda/bin"

# The machine, before anything runs (clocks, power, throttling, driver).
{ nvidia-smi -q || echo "nvidia-smi failed"; } > "$art/nvidia-smi-before.txt" 2>&1
nvcc --version > "$art/nvcc-version.txt" 2>&1 || true

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMRBENCH_CUDA=ON -DMRBENCH_WERROR=ON \
      -DCMAKE_CUDA_ARCHITECTURES="$archs" > "$art/configure.log" 2>&1 \
  || { tail -50 "$art/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" > "$art/build.log" 2>&1 || { tail -80 "$art/build.log"; exit 1; }

# GPU tests: a missing device is a failure here, not a skip.
( cd "$build" && MRB_EXPECT_GPU=1 ctest -L gpu --output-on-failure --timeout 900 \
    --output-junit "$art/ctest-gpu.xml" ) 2>&1 | tee "$art/ctest-gpu.log" || status=1
( cd "$build" && ctest -L unit --output-on-failure --timeout 1200 -j"$(nproc)" \
    --output-junit "$art/ctest-unit.xml" ) > "$art/ctest-unit.log" 2>&1 || status=1
tail -5 "$art/ctest-unit.log"

# Regression suite: a full run with provenance (GPU name, UUID, driver).
"$build/mrbench" run suites/quickstart.json --out "$art/results/quickstart" --quiet \
  > "$art/quickstart.log" 2>&1 || status=1
base="${MRB_BASELINE_DIR:-}/quickstart/results.json"
if [ -n "${MRB_BASELINE_DIR:-}" ] && [ -f "$base" ]; then
  "$build/mrbench" compare "$base" "$art/results/quickstart/results.json" \
    --md "$art/compare-quickstart.md" --json "$art/compare-quickstart.json" || status=1
else
  echo "run.sh: no baseline in ${MRB_BASELINE_DIR:-(MRB_BASELINE_DIR unset)}; comparison skipped"
fi

{ nvidia-smi -q || echo "nvidia-smi failed"; } > "$art/nvidia-smi-after.txt" 2>&1
tar -C "$(dirname "$art")" -czf "$art.tar.gz" "$(basename "$art")"
echo "run.sh: artifacts in $art (and $art.tar.gz); status $status"
exit "$status"
