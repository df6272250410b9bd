#!/usr/bin/env bash
# A fastMRI file as h5py writes it (kspace [slices, coils, height, width],
# readout along height, a `mask` of shape (width,) selecting phase-encoding
# columns) zero-filled by `mrbench recon --mask F.h5#mask` equals numpy's
# centred orthonormal ifft2 of the masked k-space with fastMRI's axes
# (root-sum-of-squares over coils; the complex image for one coil), and
# mrbench's default mask (where coil 0 is non-zero) gives the same image
# from the undersampled k-space that fastMRI's test files hold; the file's
# reconstruction_rss read by name matches mrbench's image orientation.
set -u
mrbench=$(realpath "$1")
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
if ! $py -c 'import h5py, numpy' 2>/dev/null; then
  echo "fastmri_mask: /usr/bin/python3 lacks h5py or numpy (apt-get install python3-h5py); 0 passed, 0 failed, 1 skipped"
  exit 0
fi
cd "$tmp"
# float32 FFTs against numpy's float64: nrmse ~1e-7 (fastMRI's own float32 fft2c agrees with numpy to ~1e-7)
TOL_NRMSE=1e-5
$py - <<'PY'
import h5py
import numpy as np
rng = np.random.default_rng(7)
ns, nc, nh, nw = 1, 2, 64, 40            # height = readout, width = phase encoding
k = (rng.standard_normal((ns, nc, nh, nw)) + 1j * rng.standard_normal((ns, nc, nh, nw))).astype(np.complex64)
# RandomMaskFunc-like: 4 centre columns plus others at random (R ~ 3)
mask = rng.random(nw) < 0.25
mask[nw // 2 - 2:nw // 2 + 2] = True
mask[0] = False                          # keep an edge column unsampled, so an axis mix-up cannot hide
with h5py.File("multi.h5", "w") as f:
    f["kspace"] = k
    f["mask"] = mask
with h5py.File("multi_under.h5", "w") as f:
    f["kspace"] = k * mask
    f["mask"] = mask
with h5py.File("single.h5", "w") as f:
    f["kspace"] = k[:, 0]
    f["mask"] = mask


def ifft2c(x):  # fastMRI's fastmri.ifft2c on the last two axes (height, width)
    ax = (-2, -1)
    return np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(x, axes=ax), axes=ax, norm="ortho"), axes=ax)


coils = ifft2c(k.astype(np.complex128) * mask)   # mask broadcasts along width
np.save("want_rss.npy", np.sqrt((np.abs(coils) ** 2).sum(axis=1)))   # [slices, h, w]
with h5py.File("multi.h5", "a") as f:     # fastMRI files carry their reconstruction [slices, h, w]
    f["reconstruction_rss"] = np.load("want_rss.npy").astype(np.float32)
np.save("want_single.npy", coils[:, 0])
PY
check "h5py writes the fastMRI-like files" '[ -s multi.h5 ] && [ -s single.h5 ] && [ -s multi_under.h5 ]'

compare() {   # compare OUT.h5 WANT.npy: prints the nrmse, fails above TOL_NRMSE
  $py - "$1" "$2" "$TOL_NRMSE" <<'PY'
import sys
import h5py
import numpy as np
got = h5py.File(sys.argv[1], "r")["image"][()]   # mrbench [nx, ny, nt] seen reversed: [slices, w, h]
got = got.transpose(0, 2, 1)                      # -> fastMRI's [slices, h, w]
want = np.load(sys.argv[2])
if got.shape != want.shape:
    print("shape", got.shape, "expected", want.shape)
    sys.exit(1)
nrmse = np.linalg.norm(got - want) / np.linalg.norm(want)
print("%.3g" % nrmse)
sys.exit(0 if nrmse <= float(sys.argv[3]) else 1)
PY
}

"$mrbench" recon zero-filling --kspace multi.h5 --mask 'multi.h5#mask' --out zf_multi.h5 2>err
rc=$?
check "recon with the file's mask exits 0 ($(cat err))" '[ $rc -eq 0 ]'
e=$(compare zf_multi.h5 want_rss.npy)
rc=$?
check "2-coil RSS zero-filling equals numpy's ifft2c of kspace * mask[width] (nrmse $e)" '[ $rc -eq 0 ]'
echo "fastmri_mask: multi-coil nrmse $e"
# the file's own reconstruction, named with #, reads in the same orientation as mrbench's images
"$mrbench" score 'multi.h5#reconstruction_rss' zf_multi.h5 --image --json >score.json 2>err
rc=$?
check "score of F.h5#reconstruction_rss against the recon: same orientation, PSNR > 100 dB ($(cat err))" \
  "[ $rc -eq 0 ] && $py -c \"import json,sys; sys.exit(json.load(open('score.json'))['psnr'] < 100)\""

"$mrbench" recon zero-filling --kspace multi_under.h5 --out zf_under.h5 2>err
rc=$?
check "recon of undersampled k-space without --mask exits 0 ($(cat err))" '[ $rc -eq 0 ]'
e=$(compare zf_under.h5 want_rss.npy)
rc=$?
check "default mask (coil 0 non-zero) gives the same image (nrmse $e)" '[ $rc -eq 0 ]'

"$mrbench" recon zero-filling --kspace single.h5 --mask 'single.h5#mask' --out zf_single.h5 2>err
rc=$?
check "single-coil recon exits 0 ($(cat err))" '[ $rc -eq 0 ]'
e=$(compare zf_single.h5 want_single.npy)
rc=$?
check "single-coil complex zero-filling equals numpy's ifft2c (nrmse $e)" '[ $rc -eq 0 ]'
echo "fastmri_mask: single-coil nrmse $e"

# a mask along height (the readout) is not fastMRI's and has no place in mrbench's lines
$py -c 'import h5py, numpy as np; h5py.File("hmask.h5", "w")["mask"] = np.ones(64, bool)'
check "h5py writes a height-long mask" '[ -s hmask.h5 ]'
"$mrbench" recon zero-filling --kspace multi.h5 --mask 'hmask.h5#mask' --out x.h5 2>err
rc=$?
check "a mask of height (readout) length is refused with exit 2" "[ $rc -eq 2 ] && grep -q 'mask shape' err"

echo "fastmri_mask: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
