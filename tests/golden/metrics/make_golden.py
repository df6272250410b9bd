#!/usr/bin/python3
"""Golden values for mrbench's metrics (tests/unit/test_metrics_golden.c).

Run with Debian's Python (numpy, scipy, scikit-image):
    /usr/bin/python3 tests/golden/metrics/make_golden.py
It rewrites, deterministically, next to this script:
    arrays.bin.gz  every input array, raw little endian, concatenated, gzip (mtime 0)
    golden.json    per case: the arrays (byte offset, dtype, dims with dims[0]
                   fastest), spacing in mm along dims 0..2, and expected values.

Independent definitions used here:
  PSNR   skimage.metrics.peak_signal_noise_ratio(ref, x, data_range=R), R = ref.max()
  SSIM   skimage.metrics.structural_similarity per 2D slice, mean over slices
         (uniform 7x7 and gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
  NMSE   ||ref - x||^2 / ||ref||^2 (fastMRI), MSE, MAE with numpy
  surfaces  mask ^ scipy.ndimage.binary_erosion(mask, generate_binary_structure(ndim, 1))
            (MedPy __surface_distances)
  distances scipy.ndimage.distance_transform_edt(~surface_other, sampling=spacing)
  HD95 pooled  np.percentile(np.hstack((d_rp, d_pr)), 95)          (MedPy hd95)
  HD95 max     max(np.percentile(d_rp, 95), np.percentile(d_pr, 95)) (MONAI)
  HD95 mean    mean of the two directed percentiles
  *_nearest    the same with np.percentile(method='inverted_cdf') (nearest rank)
  ASSD   mean of the pooled distances; ASD mean of the two directed means (MedPy assd)
  NSD    (#d_rp <= tau + #d_pr <= tau) / (#d_rp + #d_pr)  (MONAI compute_surface_dice)
Empty masks follow the `brats` policy (both empty: Dice 1, distances 0, NSD 1;
one empty: Dice 0, distances 373.13 mm, NSD 0).
"""
import gzip
import io
import json
import os

import numpy as np
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

HERE = os.path.dirname(os.path.abspath(__file__))
BRATS_EMPTY_MM = 373.13
NSD_TAU_MM = [1.0, 2.5]


class Blob:
    """Collects arrays into one byte stream; arrays are numpy with shape
    (nz, ny, nx) or (ny, nx), so the flat order has x fastest."""

    def __init__(self):
        self.buf = io.BytesIO()

    def add(self, arr):
        arr = np.ascontiguousarray(arr)
        dtype = {np.dtype(np.uint8): "u8", np.dtype(np.float32): "f32"}[arr.dtype]
        off = self.buf.tell()
        self.buf.write(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        return {"offset": off, "dtype": dtype, "dims": list(arr.shape[::-1])}


# ----------------------------------------------------------------- images --

def phantom(rng, nx, ny, nz):
    """Smooth piecewise-constant ellipses plus texture, float32, >= 0."""
    img = np.zeros((nz, ny, nx))
    yy, xx = np.mgrid[0:ny, 0:nx]
    for z in range(nz):
        for _ in range(6):
            cx, cy = rng.uniform(0.2, 0.8) * nx, rng.uniform(0.2, 0.8) * ny
            ax, ay = rng.uniform(0.1, 0.35) * nx, rng.uniform(0.1, 0.35) * ny
            img[z][((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1] += rng.uniform(0.2, 1.0)
        img[z] += 0.05 * ndimage.gaussian_filter(rng.standard_normal((ny, nx)), 1.0)
    return np.abs(img).astype(np.float32)


def image_expected(ref, x, gaussian):
    r64, x64 = ref.astype(np.float64), x.astype(np.float64)
    R = float(r64.max())
    mse = float(np.mean((r64 - x64) ** 2))
    out = {
        "data_range": R,
        "mse": mse,
        "mae": float(np.mean(np.abs(r64 - x64))),
        "nmse": float(np.sum((r64 - x64) ** 2) / np.sum(r64 ** 2)),
        "psnr": float(peak_signal_noise_ratio(r64, x64, data_range=R)),
    }
    slices = r64 if r64.ndim == 3 else r64[None]
    xslices = x64 if x64.ndim == 3 else x64[None]
    out["ssim"] = float(np.mean([structural_similarity(a, b, data_range=R)
                                 for a, b in zip(slices, xslices)]))
    if gaussian:
        out["ssim_gaussian"] = float(np.mean([
            structural_similarity(a, b, data_range=R, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False)
            for a, b in zip(slices, xslices)]))
    return out


def image_cases(blob):
    rng = np.random.default_rng(20240601)
    cases = []

    def add(name, ref, x, gaussian=True):
        cases.append({"name": name, "ref": blob.add(ref), "test": blob.add(x),
                      "expected": image_expected(ref, x, gaussian)})

    for (nx, ny, nz) in [(64, 48, 1), (33, 29, 1), (40, 36, 4), (24, 24, 3)]:
        ref = phantom(rng, nx, ny, nz)
        noisy = np.abs(ref + 0.05 * rng.standard_normal(ref.shape)).astype(np.float32)
        blurred = ndimage.gaussian_filter(ref, (0, 1.2, 1.2)).astype(np.float32)
        shape2d = nz == 1
        r = ref[0] if shape2d else ref
        add(f"noise_{nx}x{ny}x{nz}", r, noisy[0] if shape2d else noisy)
        add(f"blur_{nx}x{ny}x{nz}", r, blurred[0] if shape2d else blurred)
    # Scaled intensities (fastMRI magnitudes are ~1e-4): data range follows the reference.
    ref = phantom(rng, 48, 40, 2) * np.float32(3e-4)
    x = (ref * np.float32(0.9) + np.float32(1e-5) * rng.standard_normal(ref.shape)).astype(np.float32)
    add("small_scale_48x40x2", ref, np.abs(x).astype(np.float32))
    # Exactly the window size (a single valid window position for 7x7, too small for 11x11).
    ref = phantom(rng, 7, 7, 1)[0]
    add("window_7x7", ref, np.abs(ref + 0.1 * rng.standard_normal(ref.shape)).astype(np.float32),
        gaussian=False)
    # Constant offset and contrast change.
    ref = phantom(rng, 30, 32, 1)[0]
    add("offset_30x32", ref, (ref + np.float32(0.1)).astype(np.float32))
    add("contrast_30x32", ref, (ref * np.float32(0.7)).astype(np.float32))
    return cases


# ------------------------------------------------------------ label maps --

def ellipsoid(shape, centre, radii):
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1.0


def random_blobs(rng, shape, sigma, level):
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return f > level * f.std()


def surface(mask):
    if not mask.any():
        return mask.copy()
    st = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask ^ ndimage.binary_erosion(mask, structure=st, iterations=1)


def seg_expected(ref_lab, pred_lab, group, spacing_xyz):
    a = np.isin(ref_lab, group)
    b = np.isin(pred_lab, group)
    tp = int(np.sum(a & b)); fp = int(np.sum(~a & b)); fn = int(np.sum(a & ~b))
    tn = int(a.size - tp - fp - fn)
    e = {"labels": ",".join(str(g) for g in group), "tp": tp, "fp": fp, "fn": fn, "tn": tn}
    both_empty = not a.any() and not b.any()
    one_empty = a.any() != b.any()
    e["dice"] = 1.0 if both_empty else 2.0 * tp / (2.0 * tp + fp + fn)
    e["jaccard"] = 1.0 if both_empty else tp / (tp + fp + fn)
    sampling = tuple(spacing_xyz[:a.ndim][::-1])
    if both_empty or one_empty:
        d = 0.0 if both_empty else BRATS_EMPTY_MM
        for k in ["hd", "hd95_pooled", "hd95_max", "hd95_mean", "hd95_pooled_nearest",
                  "hd95_max_nearest", "assd", "asd"]:
            e[k] = d
        for tau in NSD_TAU_MM:
            e[f"nsd_{tau:g}"] = 1.0 if both_empty else 0.0
        e["n_surface_ref"] = int(surface(a).sum())
        e["n_surface_pred"] = int(surface(b).sum())
        return e
    sa, sb = surface(a), surface(b)
    d_rp = ndimage.distance_transform_edt(~sb, sampling=sampling)[sa]
    d_pr = ndimage.distance_transform_edt(~sa, sampling=sampling)[sb]
    pooled = np.hstack((d_rp, d_pr))
    p_rp, p_pr = np.percentile(d_rp, 95), np.percentile(d_pr, 95)
    n_rp = np.percentile(d_rp, 95, method="inverted_cdf")
    n_pr = np.percentile(d_pr, 95, method="inverted_cdf")
    e.update({
        "n_surface_ref": int(sa.sum()), "n_surface_pred": int(sb.sum()),
        "hd": float(max(d_rp.max(), d_pr.max())),
        "hd95_pooled": float(np.percentile(pooled, 95)),
        "hd95_max": float(max(p_rp, p_pr)),
        "hd95_mean": float((p_rp + p_pr) / 2.0),
        "hd95_ref_to_pred": float(p_rp), "hd95_pred_to_ref": float(p_pr),
        "hd95_pooled_nearest": float(np.percentile(pooled, 95, method="inverted_cdf")),
        "hd95_max_nearest": float(max(n_rp, n_pr)),
        "assd": float(pooled.mean()),
        "asd": float((d_rp.mean() + d_pr.mean()) / 2.0),
    })
    for tau in NSD_TAU_MM:
        e[f"nsd_{tau:g}"] = float((np.sum(d_rp <= tau) + np.sum(d_pr <= tau)) / pooled.size)
    return e


def seg_cases(blob):
    rng = np.random.default_rng(20240602)
    cases = []

    def add(name, ref, pred, spacing, groups=([1],), store=None):
        """ref/pred numpy label maps (nz, ny, nx) or (ny, nx); spacing along x, y, z."""
        r8, p8 = ref.astype(np.uint8), pred.astype(np.uint8)
        sr, sp = (store(r8), store(p8)) if store else (r8, p8)
        cases.append({"name": name, "ref": blob.add(sr), "pred": blob.add(sp),
                      "spacing": list(spacing),
                      "groups": [seg_expected(r8, p8, list(g), spacing) for g in groups]})

    iso2, aniso2 = (1.0, 1.0, 1.0), (0.7, 1.3, 2.0)
    s2 = (64, 64)
    disc = ellipsoid(s2, (32, 30), (14, 14))
    add("2d_disc_shift_iso", disc, ellipsoid(s2, (35, 33), (14, 14)), iso2)
    add("2d_disc_ellipse_aniso", disc, ellipsoid(s2, (30, 32), (10, 18)), aniso2)
    line = np.zeros(s2, bool); line[20, 5:60] = True
    line2 = np.zeros(s2, bool); line2[23, 8:50] = True
    add("2d_thin_lines", line, line2, (0.5, 0.8, 1.0))
    three = (ellipsoid(s2, (12, 12), (5, 7)) | ellipsoid(s2, (45, 20), (6, 4))
             | ellipsoid(s2, (30, 50), (8, 8)))
    two = ellipsoid(s2, (13, 14), (6, 6)) | ellipsoid(s2, (31, 48), (7, 9))
    add("2d_components", three, two, iso2)
    one = np.zeros(s2, bool); one[10, 40] = True
    other = np.zeros(s2, bool); other[50, 7] = True
    add("2d_single_voxels", one, other, aniso2)
    add("2d_single_voxel_same", one, one.copy(), iso2)
    border = ellipsoid(s2, (0, 32), (20, 25)) | ellipsoid(s2, (63, 63), (10, 10))
    add("2d_touching_border", border, ellipsoid(s2, (3, 30), (22, 22)), iso2)
    add("2d_identical", three, three.copy(), aniso2)
    add("2d_empty_pred", disc, np.zeros(s2, bool), iso2)
    add("2d_empty_ref", np.zeros(s2, bool), disc, iso2)
    add("2d_both_empty", np.zeros(s2, bool), np.zeros(s2, bool), iso2)
    add("2d_random_blobs_iso", random_blobs(rng, s2, 3.0, 0.3), random_blobs(rng, s2, 3.0, 0.3),
        iso2)
    add("2d_random_blobs_aniso", random_blobs(rng, (50, 70), 2.0, 0.5),
        random_blobs(rng, (50, 70), 2.0, 0.5), (1.1, 0.45, 3.0))
    # BraTS-like labels in 2D: 2 oedema around 1 core around 4 enhancing.
    lab = np.zeros(s2, np.uint8)
    lab[ellipsoid(s2, (32, 32), (20, 16))] = 2
    lab[ellipsoid(s2, (30, 33), (10, 9))] = 1
    lab[ellipsoid(s2, (30, 33), (10, 9)) & ~ellipsoid(s2, (30, 33), (7, 6))] = 4
    plab = np.zeros(s2, np.uint8)
    plab[ellipsoid(s2, (33, 31), (18, 18))] = 2
    plab[ellipsoid(s2, (31, 32), (9, 10))] = 4
    plab[ellipsoid(s2, (31, 32), (5, 5))] = 1
    add("2d_brats_groups", lab, plab, (0.9, 0.9, 5.0), groups=([1, 2, 4], [1, 4], [4], [2]))

    s3 = (24, 40, 48)  # (nz, ny, nx)
    iso3, aniso3 = (1.0, 1.0, 1.0), (0.7, 0.7, 3.0)
    sph = ellipsoid(s3, (12, 20, 24), (8, 10, 10))
    add("3d_sphere_shift_iso", sph, ellipsoid(s3, (13, 22, 27), (8, 10, 10)), iso3)

    def tumour(c, r, cav, sat):
        m = ellipsoid(s3, c, r) & ~ellipsoid(s3, c, cav)
        return m | ellipsoid(s3, sat, (2, 3, 3))

    t1 = tumour((12, 20, 22), (8, 12, 14), (3, 4, 5), (4, 8, 40))
    t2 = tumour((13, 21, 24), (7, 13, 12), (3, 5, 4), (18, 30, 10))
    add("3d_cavity_satellite_iso", t1, t2, iso3)
    add("3d_cavity_satellite_aniso", t1, t2, aniso3)
    plate = np.zeros(s3, bool); plate[5:20, 10:30, 24] = True
    plate2 = np.zeros(s3, bool); plate2[7:22, 12:31, 26] = True
    add("3d_thin_plates", plate, plate2, (0.8, 1.0, 1.5))
    tube = np.zeros(s3, bool); tube[:, 20, 20] = True
    tube2 = np.zeros(s3, bool); tube2[2:20, 21, 23] = True
    add("3d_thin_tubes", tube, tube2, aniso3)
    add("3d_random_components_iso", random_blobs(rng, s3, 2.0, 0.8),
        random_blobs(rng, s3, 2.0, 0.8), iso3)
    add("3d_random_blobs_aniso", random_blobs(rng, s3, 2.5, 0.2),
        random_blobs(rng, s3, 2.5, 0.2), (1.0, 0.5, 2.5))
    add("3d_touching_border", ellipsoid(s3, (0, 20, 47), (10, 15, 20)),
        ellipsoid(s3, (23, 0, 0), (12, 20, 30)) | ellipsoid(s3, (2, 22, 44), (9, 12, 15)), iso3)
    v1 = np.zeros(s3, bool); v1[3, 4, 5] = True
    v2 = np.zeros(s3, bool); v2[20, 35, 40] = True
    add("3d_single_voxels", v1, v2, aniso3)
    add("3d_empty_pred", sph, np.zeros(s3, bool), iso3)
    add("3d_empty_ref", np.zeros(s3, bool), sph, aniso3)
    add("3d_both_empty", np.zeros(s3, bool), np.zeros(s3, bool), iso3)
    add("3d_full_vs_partial", np.ones(s3, bool), ellipsoid(s3, (12, 20, 24), (20, 30, 30)),
        (1.2, 1.0, 0.9))
    add("3d_nested", ellipsoid(s3, (12, 20, 24), (10, 14, 16)),
        ellipsoid(s3, (12, 20, 24), (6, 8, 9)), aniso3)
    small = (8, 10, 12)
    add("3d_random_noise_small", rng.random(small) < 0.4, rng.random(small) < 0.4,
        (0.6, 1.7, 2.2))
    lab = np.zeros(s3, np.uint8)
    lab[ellipsoid(s3, (12, 20, 24), (9, 14, 16))] = 2
    lab[ellipsoid(s3, (12, 19, 23), (5, 8, 9))] = 1
    lab[ellipsoid(s3, (12, 19, 23), (5, 8, 9)) & ~ellipsoid(s3, (12, 19, 23), (3, 6, 7))] = 4
    plab = np.zeros(s3, np.uint8)
    plab[ellipsoid(s3, (12, 21, 25), (8, 13, 17))] = 2
    plab[ellipsoid(s3, (12, 20, 24), (5, 7, 8))] = 4
    plab[ellipsoid(s3, (12, 20, 24), (2, 3, 3))] = 1
    plab[ellipsoid(s3, (3, 5, 5), (2, 2, 2))] = 4  # a false-positive satellite
    add("3d_brats_groups_aniso", lab, plab, aniso3, groups=([1, 2, 4], [1, 4], [4], [1]))
    # A 2D slice stored as a one-slice volume [nx, ny, 1] is scored as 2D.
    a2, b2 = random_blobs(rng, s2, 2.5, 0.4), random_blobs(rng, s2, 2.5, 0.4)
    add("2d_as_one_slice_volume", a2, b2, aniso2, store=lambda m: m[None])
    return cases


def main():
    blob = Blob()
    doc = {
        "generator": "tests/golden/metrics/make_golden.py",
        "numpy": np.__version__,
        "scipy": __import__("scipy").__version__,
        "skimage": __import__("skimage").__version__,
        "arrays": "arrays.bin.gz",
        "nsd_tau_mm": NSD_TAU_MM,
        "image_cases": image_cases(blob),
        "seg_cases": seg_cases(blob),
    }
    with open(os.path.join(HERE, "arrays.bin.gz"), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0, filename="") as g:
            g.write(blob.buf.getvalue())
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{len(doc['image_cases'])} image cases, {len(doc['seg_cases'])} label cases")


if __name__ == "__main__":
    main()
