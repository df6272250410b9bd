#!/usr/bin/env bash
# GPU CI job: builds mrbench with CUDA, runs the GPU tests (which must not
# skip: MRB_EXPECT_GPU=1), the unit tests and the quickstart regression
# suite on the GPU, compares with a baseline when one exists, trains the 2D
# cascade suite on the GPU and evaluates it, times the cascade against
# PyTorch where CUDA torch is installed, and leaves everything in
# ARTIFACT_DIR (plus ARTIFACT_DIR.tar.gz).
#
# Usage: ci/gpu-runner/run.sh [ARTIFACT_DIR]   (default build-gpu-ci-artifacts/)
# Environment (all optional):
#   MRB_BUNDLE        folder made by ci/bundle.sh; its env.sh is sourced
#   MRB_CUDA_ARCHS    CMAKE_CUDA_ARCHITECTURES (default 90: H100/H200)
#   MRB_BASELINE_DIR  holds quickstart/results.json from an accepted run
#   MRB_BUILD_DIR     build folder (default build-gpu-ci)
#   MRB_TORCH_PYTHON  python3 with CUDA-enabled torch for the speed comparison
#   MRB_UNIT_TESTS    0 skips the CPU unit tests (CI without a GPU runs them)
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
if [ "${MRB_UNIT_TESTS:-1}" = 1 ]; then
  ( cd "$build" && ctest -L unit --output-on-failure --timeout 1200 -j"$(nproc)" \
      --output-junit "$art/ctest-unit.xml" ) > "$art/ctest-unit.log" 2>&1 || status=1
  tail -5 "$art/ctest-unit.log"
fi

# Regression suite: a full run with provenance (GPU name, UUID, driver), the
# methods with a GPU twin on the GPU.
"$build/mrbench" run suites/quickstart.json --device gpu --out "$art/results/quickstart" --quiet \
  > "$art/quickstart.log" 2>&1 || status=1
base="${MRB_BASELINE_DIR:-}/quickstart/results.json"
if [ -n "${MRB_BASELINE_DIR:-}" ] && [ -f "$base" ]; then
  "$build/mrbench" compare "$base" "$art/results/quickstart/results.json" \
    --md "$art/compare-quickstart.md" --json "$art/compare-quickstart.json" || status=1
else
  echo "run.sh: no baseline in ${MRB_BASELINE_DIR:-(MRB_BASELINE_DIR unset)}; comparison skipped"
fi

# Training on the GPU: the 2D cascade suite with its weights redirected into
# the artifacts (the committed reference weights stay), then evaluated on the
# GPU; the log holds the training time, results.json the PSNR to set beside
# the CPU-trained reference's (same seed; float rounding makes them differ a
# little, so this is reported, not gated).
sed -e "s#\.\./results/reference/cascade-2d-brain128-r4\.safetensors#$art/cascade-2d-gpu.safetensors#" \
    -e "s#results/reference/cascade-2d-brain128-r4\.safetensors#$art/cascade-2d-gpu.safetensors#" \
    -e "s#\.\./results/train-cascade-2d/cascade-2d-brain128-r4\.ckpt#$art/cascade-2d-gpu.ckpt#" \
    -e "s#\"\.\./datasets/#\"$root/datasets/#" \
    suites/train-cascade-2d.json > "$art/train-cascade-2d-gpu.json"
if "$build/mrbench" train "$art/train-cascade-2d-gpu.json" --device gpu > "$art/train-gpu.log" 2>&1; then
  "$build/mrbench" run "$art/train-cascade-2d-gpu.json" --device gpu --filter '*/cascade-2d' \
    --out "$art/results/train-cascade-2d-gpu" --quiet > "$art/train-gpu-run.log" 2>&1 || status=1
else
  tail -5 "$art/train-gpu.log"
  status=1
fi

# Speed against PyTorch eager on this GPU (reported, not gated), both cuDNN
# APIs, when a python3 with CUDA-enabled torch is there (MRB_TORCH_PYTHON).
py=${MRB_TORCH_PYTHON:-python3}
if env -u LD_LIBRARY_PATH "$py" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
  PYTHON=$py MRBENCH_CUDNN_APIS="legacy graph" baselines/external/pytorch/compare_speed_gpu.sh "$build" 16 20 30 \
    > "$art/speed-vs-pytorch.txt" 2>&1 || echo "run.sh: speed comparison failed (see speed-vs-pytorch.txt)"
  tail -15 "$art/speed-vs-pytorch.txt"
else
  echo "run.sh: no python3 with CUDA torch ($py); speed comparison skipped"
fi

{ nvidia-smi -q || echo "nvidia-smi failed"; } > "$art/nvidia-smi-after.txt" 2>&1
tar -C "$(dirname "$art")" -czf "$art.tar.gz" "$(basename "$art")"
echo "run.sh: artifacts in $art (and $art.tar.gz); status $status"
exit "$status"
