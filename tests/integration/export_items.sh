#!/usr/bin/env bash
# `mrbench export` writes the same item a suite sees, readable by nibabel,
# with labels in the dataset's convention and a cine's time on the 4th axis;
# bad requests exit 2.
set -u
mrbench=$1 src=$2
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
"$mrbench" export cine --param size=64 --param frames=20 --item 1 --seed 5 --out "$tmp/c" >/dev/null 2>"$tmp/err"
rc=$?
check "export cine exits 0 ($(cat "$tmp/err"))" '[ $rc -eq 0 ]'
$py - "$tmp" >"$tmp/py.log" 2>&1 <<'PY'
import sys
import numpy as np, nibabel as nib
d = sys.argv[1]
img = np.asarray(nib.load(f"{d}/c_image.nii.gz").dataobj)
lab = np.asarray(nib.load(f"{d}/c_labels.nii.gz").dataobj)
# time is NIfTI's 4th axis, frames 1000 ms / 20 apart (nominal 60 bpm), not a third spatial axis
assert img.shape == (64, 64, 1, 20), img.shape
zooms, units = nib.load(f"{d}/c_labels.nii.gz").header.get_zooms(), nib.load(f"{d}/c_labels.nii.gz").header.get_xyzt_units()
assert abs(zooms[0] - 5.0) < 1e-6 and abs(zooms[3] - 50.0) < 1e-4 and units == ("mm", "msec"), (zooms, units)
assert np.iscomplexobj(img), img.dtype
assert set(np.unique(lab)) <= {0, 1, 2, 3} and len(np.unique(lab)) == 4, np.unique(lab)
print("ok")
PY
rc=$?
check "exported cine reads in nibabel with ACDC labels ($(tail -1 "$tmp/py.log"))" '[ $rc -eq 0 ]'
check "a PNG is written" "head -c 4 '$tmp/c.png' | grep -q PNG"
"$mrbench" export cine --param size=64 --param frames=20 --item 1 --seed 5 --out "$tmp/d" >/dev/null 2>&1
check "export is deterministic" "cmp -s '$tmp/c_labels.nii.gz' '$tmp/d_labels.nii.gz' && cmp -s '$tmp/c_image.nii.gz' '$tmp/d_image.nii.gz'"
"$mrbench" export cine --item 99 --out "$tmp/x" >/dev/null 2>"$tmp/err"
check "an item beyond the dataset exits 2" "[ \$? -eq 2 ] && grep -q 'item(s)' '$tmp/err'"
"$mrbench" export cinee --out "$tmp/x" >/dev/null 2>"$tmp/err"
check "an unknown dataset exits 2 with a suggestion" "[ \$? -eq 2 ] && grep -q \"did you mean 'cine'\" '$tmp/err'"
echo "export: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
