#!/usr/bin/python3
"""Two 240x240x155 masks for the HD95 benchmark, and the SciPy recipe timed.

    /usr/bin/python3 hd95_masks.py OUTDIR [REPEATS]

Writes OUTDIR/ref.u8 and OUTDIR/pred.u8 (raw uint8, x fastest: numpy shape
(155, 240, 240)), then for spacings 1x1x1 and 0.7x0.7x3 mm (x, y, z) times
the SciPy recipe that MedPy and MONAI use: surfaces by binary_erosion with
the cross structuring element (border_value 0), distance_transform_edt of
each surface's complement with sampling, percentiles. Prints one line per
spacing: "scipy SPACING pooled max mean hd assd wall_s cpu_s" (medians).
"""
import os
import sys
import time

import numpy as np
from scipy import ndimage

SHAPE = (155, 240, 240)  # (z, y, x)


def ellipsoid(centre, radii):
    z, y, x = np.ogrid[0:SHAPE[0], 0:SHAPE[1], 0:SHAPE[2]]
    return (((z - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2
            + ((x - centre[2]) / radii[2]) ** 2) <= 1.0


def masks():
    """An ellipsoid-like tumour with a cavity and a satellite blob, and a
    shifted, reshaped version of it with its satellite elsewhere."""
    ref = ellipsoid((75, 118, 122), (24, 34, 30)) & ~ellipsoid((72, 114, 126), (9, 12, 10))
    ref |= ellipsoid((95, 165, 150), (5, 7, 6))
    pred = ellipsoid((78, 121, 118), (21, 37, 33)) & ~ellipsoid((76, 118, 121), (8, 10, 12))
    pred |= ellipsoid((60, 80, 90), (4, 6, 5))
    return ref, pred


def scipy_recipe(ref, pred, spacing_xyz):
    sampling = spacing_xyz[::-1]
    st = ndimage.generate_binary_structure(3, 1)
    sa = ref ^ ndimage.binary_erosion(ref, structure=st, iterations=1)
    sb = pred ^ ndimage.binary_erosion(pred, structure=st, iterations=1)
    d_ab = ndimage.distance_transform_edt(~sb, sampling=sampling)[sa]
    d_ba = ndimage.distance_transform_edt(~sa, sampling=sampling)[sb]
    pooled = np.hstack((d_ab, d_ba))
    p_ab, p_ba = np.percentile(d_ab, 95), np.percentile(d_ba, 95)
    return (np.percentile(pooled, 95), max(p_ab, p_ba), (p_ab + p_ba) / 2,
            max(d_ab.max(), d_ba.max()), pooled.mean())


def main():
    out = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    ref, pred = masks()
    ref.astype(np.uint8).tofile(os.path.join(out, "ref.u8"))
    pred.astype(np.uint8).tofile(os.path.join(out, "pred.u8"))
    for spacing in [(1.0, 1.0, 1.0), (0.7, 0.7, 3.0)]:
        wall, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            vals = scipy_recipe(ref, pred, spacing)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        label = "x".join(f"{s:g}" for s in spacing)
        print("scipy", label, " ".join(f"{v:.6f}" for v in vals),
              f"{np.median(wall):.4f} {np.median(cpu):.4f}")


if __name__ == "__main__":
    main()
