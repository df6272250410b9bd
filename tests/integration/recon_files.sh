#!/usr/bin/env bash
# `mrbench recon` reconstructs files written by BART exactly as BART's own
# inverse FFT does, honours a mask file, writes every supported format (BART
# base names with dots too), and refuses bad input (all-zero or non-finite
# mask, NaN k-space, mismatched shapes, a FISTA step that diverges) with exit 2.
set -u
mrbench=$(realpath "$1") src=$(realpath "$2")
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
if ! command -v bart >/dev/null; then
  echo "recon: bart not installed (apt-get install bart); 0 passed, 0 failed, 1 skipped"
  exit 0
fi
cd "$tmp"
bart phantom -k -x 96 ksp >/dev/null
bart poisson -Y 96 -Z 96 -y 2 -z 2 -C 16 -s 3 pmask >/dev/null 2>&1
bart transpose 0 2 pmask mask >/dev/null   # [1, 96, 96] -> [96, 96, 1]: a 2D pattern over (x, y)
bart fmac ksp mask kspu >/dev/null
bart fft -iu 3 kspu zf_bart >/dev/null
"$mrbench" recon zero-filling --kspace kspu --mask mask --out zf_mrb 2>err
rc=$?
check "recon exits 0 ($(cat err))" '[ $rc -eq 0 ]'
check "zero-filling equals bart fft -iu" "[ \"\$(bart nrmse zf_bart zf_mrb)\" = 0.000000 ]"
"$mrbench" recon zero-filling --kspace kspu --out zf.nii.gz --magnitude 2>err
check "NIfTI magnitude output" '[ $? -eq 0 ] && [ -s zf.nii.gz ]'
"$mrbench" recon zero-filling --kspace kspu --out zf.png 2>err
check "PNG output" "[ \$? -eq 0 ] && head -c 4 zf.png | grep -q PNG"

bart zeros 2 96 96 zmask >/dev/null
"$mrbench" recon zero-filling --kspace kspu --mask zmask --out x 2>err
check "all-zero mask refused with exit 2" "[ \$? -eq 2 ] && grep -q 'samples nothing' err"
bart zeros 2 1 50 small >/dev/null
"$mrbench" recon zero-filling --kspace kspu --mask small --out x 2>err
check "mismatched mask refused with exit 2" "[ \$? -eq 2 ] && grep -q 'mask shape' err"
$py - <<'PY'
import numpy as np
h = open("kspu.hdr").read()
d = np.fromfile("kspu.cfl", np.complex64)
d[5] = np.nan
d.tofile("nan.cfl"); open("nan.hdr", "w").write(h)
PY
"$mrbench" recon zero-filling --kspace nan --out x 2>err
check "NaN k-space refused with exit 2" "[ \$? -eq 2 ] && grep -q 'non-finite' err"
# a NaN mask value would count as sampled (NaN != 0): non-finite masks are
# refused, naming the file and the first bad element
$py - <<'PY'
import numpy as np
h = open("mask.hdr").read()
d = np.fromfile("mask.cfl", np.complex64)
for name, bad in (("nanmask", np.nan), ("infmask", np.inf)):
    e = d.copy()
    e[7] = bad
    e.tofile(name + ".cfl"); open(name + ".hdr", "w").write(h)
PY
"$mrbench" recon zero-filling --kspace kspu --mask nanmask --out x 2>err
rc=$?
check "NaN mask refused with exit 2 naming file and element ($(cat err))" \
  "[ $rc -eq 2 ] && [ \$(wc -l < err) -eq 1 ] && grep -q 'mask: nanmask: non-finite value (nan) at element 7' err"
"$mrbench" recon zero-filling --kspace kspu --mask infmask --out x 2>err
rc=$?
check "Inf mask refused with exit 2 naming file and element ($(cat err))" \
  "[ $rc -eq 2 ] && grep -q 'mask: infmask: non-finite value (inf) at element 7' err"
# a BART base name with a dot (as the help says: any name without a known
# extension) writes .cfl/.hdr, with the command line in the header
"$mrbench" recon zero-filling --kspace kspu --mask mask --out zf_0.001 2>err
rc=$?
check "--out zf_0.001 writes zf_0.001.cfl/.hdr ($(cat err))" \
  '[ $rc -eq 0 ] && [ -s zf_0.001.cfl ] && grep -q "^mrbench recon zero-filling" zf_0.001.hdr'
check "the dotted base name holds the same image" "[ \"\$(bart nrmse zf_bart zf_0.001)\" = 0.000000 ]"
# FISTA's step stops at 1/L = 1 (0/1 mask, one coil): step 5 diverged to
# ~4e25 with exit 0
"$mrbench" recon cs-wavelet --kspace kspu --mask mask --param step=5 --out x 2>err
rc=$?
check "cs-wavelet step=5 refused with exit 2 ($(cat err))" "[ $rc -eq 2 ] && grep -q 'step: expected a number in \[0, 1\]' err"
"$mrbench" recon zero-filling --kspace kspu --param lambda=1 --out x 2>err
check "unknown parameter refused with exit 2" "[ \$? -eq 2 ] && grep -q 'unknown parameter' err"
"$mrbench" recon zero-filling --kspace kspu --device tpu --out x 2>err
check "bad --device refused with exit 2" "[ \$? -eq 2 ] && grep -q 'device takes cpu or gpu' err"
# --device gpu: exit 3 with the reason where no GPU is usable (a failure when
# MRB_EXPECT_GPU=1); with one, methods without a twin are refused (exit 2)
# and the cs-wavelet twin gives the CPU's image to 1e-4.
"$mrbench" recon cs-wavelet --kspace kspu --mask mask --device gpu --out cs_gpu 2>err
rc=$?
if [ $rc -eq 3 ] && [ "${MRB_EXPECT_GPU:-0}" != 1 ]; then
  check "--device gpu without a GPU says why on one line ($(cat err))" \
    '[ $(wc -l < err) -eq 1 ] && grep -q "device gpu" err'
else
  check "recon --device gpu exits 0 ($(cat err))" "[ $rc -eq 0 ] && grep -q GPU err"
  "$mrbench" recon cs-wavelet --kspace kspu --mask mask --out cs_cpu 2>err
  check "the cs-wavelet twin gives the CPU's image (nrmse $(bart nrmse cs_cpu cs_gpu))" \
    "$py -c 'import sys; sys.exit(not float(sys.argv[1]) <= 1e-4)' \$(bart nrmse cs_cpu cs_gpu)"
  "$mrbench" recon zero-filling --kspace kspu --device gpu --out x 2>err
  check "a method without a GPU twin is refused with exit 2" "[ \$? -eq 2 ] && grep -q 'no GPU twin' err"
fi
echo "recon: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
