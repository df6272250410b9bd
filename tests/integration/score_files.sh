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

# the same maps in other encodings: header units in micron, float32 labels,
# a trailing axis of length 1, and a 4-D series whose time point 0 is pred
mu = nib.Nifti1Image(ref, np.diag([1000 * v for v in sp] + [1.0])); mu.header.set_xyzt_units("micron")
nib.save(mu, f"{d}/ref_micron.nii.gz")
mu = nib.Nifti1Image(pred, np.diag([1000 * v for v in sp] + [1.0])); mu.header.set_xyzt_units("micron")
nib.save(mu, f"{d}/pred_micron.nii.gz")
nib.save(nib.Nifti1Image(ref.astype(np.float32), aff), f"{d}/ref_f32.nii.gz")
nib.save(nib.Nifti1Image(pred.astype(np.float32), aff), f"{d}/pred_f32.nii.gz")
half = pred.astype(np.float32); half[1, 1, 1] = 0.5
nib.save(nib.Nifti1Image(half, aff), f"{d}/half_f32.nii.gz")
nib.save(nib.Nifti1Image(pred[..., None], aff), f"{d}/pred_x1.nii.gz")
nib.save(nib.Nifti1Image(np.stack([ref, ref], axis=3), aff), f"{d}/ref_t.nii.gz")
nib.save(nib.Nifti1Image(np.stack([pred, ref], axis=3), aff), f"{d}/pred_t.nii.gz")
zero = nib.Nifti1Image(ref, aff); zero.header["pixdim"][3] = 0
nib.save(zero, f"{d}/zero_spacing.nii.gz")
zero = nib.Nifti1Image(ref.astype(np.float32), aff); zero.header["pixdim"][3] = 0
nib.save(zero, f"{d}/zero_spacing_f32.nii.gz")

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
rc=$?
check "score agrees with the SciPy EDT recipe ($(cat "$tmp/cmp.log"))" '[ $rc -eq 0 ]'

# the same maps in other encodings give the same numbers
hd_of() { $py -c "import json,sys; g=json.load(open(sys.argv[1]))['groups'][0]; print('%.6f %.6f' % (g['dice'], g['hd_mm']))" "$1" 2>/dev/null; }
want=$(hd_of "$tmp/max.json")
for pair in "ref_micron pred_micron" "ref_f32 pred_f32" "ref pred_x1" "ref_t pred_t --frame 0"; do
  set -- $pair
  "$mrbench" score "$tmp/$1.nii.gz" "$tmp/$2.nii.gz" --labels 1 --json "${@:3}" >"$tmp/enc.json" 2>"$tmp/err"
  check "score $pair gives the mm/uint8 numbers ($want; got $(hd_of "$tmp/enc.json") $(cat "$tmp/err"))" "[ \"\$(hd_of '$tmp/enc.json')\" = '$want' ]"
done
"$mrbench" score "$tmp/ref_t.nii.gz" "$tmp/pred_t.nii.gz" --labels 1 --json --frame 1 >"$tmp/enc.json" 2>&1
check "time point 1 of the series is a perfect match" "[ \"\$(hd_of '$tmp/enc.json')\" = '1.000000 0.000000' ]"
"$mrbench" score "$tmp/ref_f32.nii.gz" "$tmp/pred_f32.nii.gz" --json >"$tmp/img.json" 2>&1
check "float files without a label option are scored as images" "grep -q '\"kind\":.*\"image\"' '$tmp/img.json'"
"$mrbench" score "$tmp/zero_spacing_f32.nii.gz" "$tmp/zero_spacing_f32.nii.gz" >/dev/null 2>&1
check "images need no spacing: a pixdim of 0 is fine for PSNR" '[ $? -eq 0 ]'

for case in "short.nii.gz:shape mismatch" "bad_label.nii.gz:outside 0..255" "nan_spacing.nii.gz:spacing" "missing.nii.gz:missing.nii.gz"; do
  f=${case%%:*} want=${case#*:}
  "$mrbench" score "$tmp/ref.nii.gz" "$tmp/$f" >/dev/null 2>"$tmp/err"
  rc=$?
  check "score with $f exits 2 naming '$want' (got $rc: $(cat "$tmp/err"))" "[ $rc -eq 2 ] && grep -q -- '$want' '$tmp/err' && [ \$(wc -l <'$tmp/err') -eq 1 ]"
done
"$mrbench" score "$tmp/ref.nii.gz" >/dev/null 2>&1
check "score with one file is a usage error" '[ $? -eq 2 ]'
"$mrbench" score "$tmp/ref_f32.nii.gz" "$tmp/half_f32.nii.gz" --labels 1 >/dev/null 2>"$tmp/err"
rc=$?
check "a float label map with a fraction exits 2 ($(cat "$tmp/err"))" "[ \$rc -eq 2 ] && grep -q 'not a whole number' '$tmp/err'"
"$mrbench" score "$tmp/ref_t.nii.gz" "$tmp/pred_t.nii.gz" --labels 1 --frame 2 >/dev/null 2>"$tmp/err"
rc=$?
check "a time point beyond the series exits 2 ($(cat "$tmp/err"))" "[ \$rc -eq 2 ] && grep -q 'beyond its 2 time points' '$tmp/err'"
"$mrbench" score "$tmp/ref.nii.gz" "$tmp/pred.nii.gz" --labels 1 --image >/dev/null 2>&1
check "--image with a label option is a usage error" '[ $? -eq 2 ]'
for case in "zero_spacing.nii.gz:not a positive number" "ref_t.nii.gz:--frame K"; do
  f=${case%%:*} want=${case#*:}
  "$mrbench" score "$tmp/$f" "$tmp/$f" >/dev/null 2>"$tmp/err"
  rc=$?
  check "score of $f with itself exits 2 naming '$want' (got $rc: $(cat "$tmp/err"))" "[ $rc -eq 2 ] && grep -q -- '$want' '$tmp/err'"
done

echo "score: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
