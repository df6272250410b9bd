#!/bin/bash
# HD95 from two .nii.gz files (240x240x155, spacing 1x1x1 and 0.7x0.7x3 mm):
# `mrbench score` against the SciPy EDT recipe (nibabel + scipy.ndimage) and
# Debian's `plastimatch dice --hausdorff`, same files, same machine, one run,
# printed as ratios. Not a test: a benchmark (tests/bench/).
#   tests/bench/metrics/bench_score_files.sh [MRBENCH] [REPEATS]
# Times: mrbench and plastimatch are whole-command wall times (process start
# and reading both .nii.gz files included); SciPy is timed inside one Python
# process (nibabel load + recipe, interpreter start and imports excluded),
# which favours SciPy. Medians over REPEATS (default 5).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
mrbench=${1:-$root/build/mrbench}
repeats=${2:-5}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

$py - "$here" "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, nibabel as nib
from hd95_masks import masks
ref, pred = masks()                       # numpy (z, y, x)
for name, sp in (("iso", (1.0, 1.0, 1.0)), ("aniso", (0.7, 0.7, 3.0))):
    aff = np.diag(list(sp) + [1.0])
    nib.save(nib.Nifti1Image(ref.transpose(2, 1, 0).astype(np.uint8), aff), f"{sys.argv[2]}/ref_{name}.nii.gz")
    nib.save(nib.Nifti1Image(pred.transpose(2, 1, 0).astype(np.uint8), aff), f"{sys.argv[2]}/pred_{name}.nii.gz")
PY

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
wall() { local t0 t1; t0=$(date +%s.%N); "$@" >"$work/out" 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }

printf '%-6s %-12s %9s %9s %9s %9s %9s\n' spacing impl hd95_max hd95_pool hd95_mean hd time_s
for name in iso aniso; do
  r=$work/ref_$name.nii.gz p=$work/pred_$name.nii.gz
  for _ in $(seq "$repeats"); do wall "$mrbench" score "$r" "$p" --labels 1 --json; done | median >"$work/t_mrb"
  "$mrbench" score "$r" "$p" --labels 1 --json >"$work/mrb.json"
  read -r m_max m_pool m_mean m_hd < <($py -c "
import json; g = json.load(open('$work/mrb.json'))['groups'][0]
print(g['hd95_max_mm'], g['hd95_pooled_mm'], g['hd95_mean_mm'], g['hd_mm'])")
  read -r s_max s_pool s_mean s_hd s_t < <($py - "$r" "$p" "$repeats" <<'PY'
import sys, time
import numpy as np, nibabel as nib
from scipy import ndimage
def run():
    a = nib.load(sys.argv[1]); b = nib.load(sys.argv[2])
    sp = a.header.get_zooms()[:3]
    A = np.asarray(a.dataobj) > 0; B = np.asarray(b.dataobj) > 0
    st = ndimage.generate_binary_structure(3, 1)
    sa = A ^ ndimage.binary_erosion(A, structure=st); sb = B ^ ndimage.binary_erosion(B, structure=st)
    dab = ndimage.distance_transform_edt(~sb, sampling=sp)[sa]; dba = ndimage.distance_transform_edt(~sa, sampling=sp)[sb]
    pa, pb = np.percentile(dab, 95), np.percentile(dba, 95)
    return max(pa, pb), np.percentile(np.hstack((dab, dba)), 95), (pa + pb) / 2, max(dab.max(), dba.max())
ts = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter(); v = run(); ts.append(time.perf_counter() - t0)
print(*v, float(np.median(ts)))
PY
)
  printf '%-6s %-12s %9.4f %9.4f %9.4f %9.4f %9.3f\n' "$name" mrbench "$m_max" "$m_pool" "$m_mean" "$m_hd" "$(cat "$work/t_mrb")"
  printf '%-6s %-12s %9.4f %9.4f %9.4f %9.4f %9.3f\n' "$name" scipy "$s_max" "$s_pool" "$s_mean" "$s_hd" "$s_t"
  if command -v plastimatch >/dev/null; then
    for _ in $(seq "$repeats"); do wall plastimatch dice --hausdorff "$r" "$p"; done | median >"$work/t_pl"
    plastimatch dice --hausdorff "$r" "$p" >"$work/pl.txt" 2>&1
    pl95=$(grep -i "Percent (0.95) Hausdorff distance (boundary)" "$work/pl.txt" | awk -F= '{print $2}' | xargs)
    plhd=$(grep -i "^Hausdorff distance (boundary)" "$work/pl.txt" | awk -F= '{print $2}' | xargs)
    printf '%-6s %-12s %9s %9s %9s %9s %9.3f\n' "$name" plastimatch "-" "-" "${pl95:-?}" "${plhd:-?}" "$(cat "$work/t_pl")"
    echo "$name: mrbench is $(echo "$s_t / $(cat "$work/t_mrb")" | bc -l | xargs printf '%.1f')x faster than SciPy, $(echo "$(cat "$work/t_pl") / $(cat "$work/t_mrb")" | bc -l | xargs printf '%.1f')x faster than plastimatch"
  else
    echo "$name: mrbench is $(echo "$s_t / $(cat "$work/t_mrb")" | bc -l | xargs printf '%.1f')x faster than SciPy (plastimatch not installed: apt-get install plastimatch)"
  fi
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
