#!/usr/bin/env bash
# `mrbench score` on NIfTI files written by nibabel agrees with a SciPy
# exact-EDT computation of Dice and HD95 (MONAI and MedPy variants), honours
# the header spacing, and refuses malformed input with exit 2.
set -u
mrbench=$1 src=$2
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }

$py - "$tmp" <<'PY'
import sys, json
import numpy as np, nibabel as nib
from scipy import ndimage
d = sys.argv[1]
rng = np.random.default_rng(7)
z, y, x = np.mgrid[0:40, 0:48, 0:56]
ref = (((x - 28) / 14.0) ** 2 + ((y - 24) / 11.0) ** 2 + ((z - 20) / 9.0) ** 2 <= 1).astype(np.uint8)
pred = (((x - 30) / 13.0) ** 2 + ((y - 23) / 12.0) ** 2 + ((z - 21) / 8.0) ** 2 <= 1).astype(np.uint8)
pred[5:8, 5:8, 5:8] = 1  # a satellite blob
# nibabel arrays are x-fastest in the file; keep (x, y, z) axis order
ref, pred = ref.transpose(2, 1, 0).copy(), pred.transpose(2, 1, 0).copy()
sp = (0.7, 0.8, 2.5)
aff = np.diag(list(sp) + [1.0])
nib.save(nib.Nifti1Image(ref, aff), f"{d}/ref.nii.gz")
nib.save(nib.Nifti1Image(pred, aff), f"{d}/pred.nii.gz")
nib.save(nib.Nifti1Image(pred[:, :, :30], aff), f"{d}/short.nii.gz")
bad = ref.astype(np.int16); bad[0, 0, 0] = 300
nib.save(nib.Nifti1Image(bad, aff), f"{d}/bad_label.nii.gz")
img = nib.Nifti1Image(pred, aff); img.header["pixdim"][2] = np.nan
nib.save(img, f"{d}/nan_spacing.nii.gz")

def surface(m):
    return m & ~ndimage.binary_erosion(m, structure=ndimage.generate_binary_structure(3, 1))
a, b = ref.astype(bool), pred.astype(bool)
sa, sb = surface(a), surface(b)
dab = ndimage.distance_transform_edt(~sb, sampling=sp)[sa]
dba = ndimage.distance_transform_edt(~sa, sampling=sp)[sb]
out = {
    "dice": 2 * (a & b).sum() / (a.sum() + b.sum()),
    "hd95_max": max(np.percentile(dab, 95), np.percentile(dba, 95)),
    "hd95_pooled": np.percentile(np.concatenate([dab, dba]), 95),
    "hd": max(dab.max(), dba.max()),
}
json.dump({k: float(v) for k, v in out.items()}, open(f"{d}/expected.json", "w"))
PY
check "reference files written" "[ -s '$tmp/expected.json' ]"

"$mrbench" score "$tmp/ref.nii.gz" "$tmp/pred.nii.gz" --labels 1 --json >"$tmp/max.json" 2>"$tmp/err"
check "score (max variant) exits 0" '[ $? -eq 0 ] || { cat "$tmp/err"; false; }'
"$mrbench" score "$tmp/ref.nii.gz" "$tmp/pred.nii.gz" --labels 1 --hd95 pooled --json >"$tmp/pooled.json" 2>"$tmp/err"
check "score (pooled variant) exits 0" '[ $? -eq 0 ]'
$py - "$tmp" >"$tmp/cmp.log" 2>&1 <<'PY'
import json, sys
d = sys.argv[1]
e = json.load(open(f"{d}/expected.json"))
m = json.load(open(f"{d}/max.json"))["groups"][0]
p = json.load(open(f"{d}/pooled.json"))["groups"][0]
# spacing is stored as float32 in NIfTI: both sides read the same header values
checks = [("dice", m["dice"], e["dice"], 1e-12), ("hd95 max", m["hd95_mm"], e["hd95_max"], 1e-5),
          ("hd95 pooled", p["hd95_mm"], e["hd95_pooled"], 1e-5), ("hd", m["hd_mm"], e["hd"], 1e-5)]
bad = [f"{n}: mrbench {a} vs scipy {b}" for n, a, b, tol in checks if abs(a - b) > tol * max(1, abs(b))]
print("\n".join(bad) or "agree")
sys.exit(1 if bad else 0)
PY
check "score agrees with the SciPy EDT recipe ($(cat "$tmp/cmp.log"))" '[ $? -eq 0 ]'

for case in "short.nii.gz:shape mismatch" "bad_label.nii.gz:outside 0..255" "nan_spacing.nii.gz:spacing" "missing.nii.gz:missing.nii.gz"; do
  f=${case%%:*} want=${case#*:}
  "$mrbench" score "$tmp/ref.nii.gz" "$tmp/$f" >/dev/null 2>"$tmp/err"
  rc=$?
  check "score with $f exits 2 naming '$want' (got $rc: $(cat "$tmp/err"))" "[ $rc -eq 2 ] && grep -q -- '$want' '$tmp/err' && [ \$(wc -l <'$tmp/err') -eq 1 ]"
done
"$mrbench" score "$tmp/ref.nii.gz" >/dev/null 2>&1
check "score with one file is a usage error" '[ $? -eq 2 ]'

echo "score: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
