#!/usr/bin/python3
"""Independent checks of files mrbench wrote (called by the io unit tests).

    /usr/bin/python3 check_written.py nifti DIR   # rt_*.nii[.gz] via nibabel
    /usr/bin/python3 check_written.py fastmri FILE NS NC NH NW RH RW
        (kspace [NS, NC, NH, NW], NC = 1: [NS, NH, NW]; recon [NS, RH, RW])
    /usr/bin/python3 check_written.py png FILE.png FILE.raw W H CHANNELS

Exit status 0 when every check passes; failures are printed.
"""
import glob
import os
import sys

import numpy as np


def formula(shape):
    grids = np.indices(shape)
    out = np.ones(shape, dtype=np.float64)
    for d in range(len(shape)):
        out += grids[d] * 3.0 ** d
    return out


def check_nifti(folder):
    import nibabel as nib
    files = sorted(glob.glob(os.path.join(folder, "rt_*.nii*")))
    bad = 0
    if not files:
        print("no rt_*.nii files in", folder)
        return 1
    want_dtype = {"uint8": np.uint8, "int16": np.int16, "int32": np.int32,
                  "float32": np.float32, "float64": np.float64, "complex64": np.complex64}
    c, s = np.cos(0.3), np.sin(0.3)
    affine = np.array([[c * 1.5, -s * 2.0, 0, -10.5], [s * 1.5, c * 2.0, 0, 20.25],
                       [0, 0, 2.5, 3.0], [0, 0, 0, 1]])
    for f in files:
        img = nib.load(f)
        version = 2 if "_v2" in f else 1
        if version == 2 and not isinstance(img, nib.Nifti2Image) or \
                version == 1 and isinstance(img, nib.Nifti2Image):
            print(f, "wrong NIfTI version", type(img).__name__)
            bad += 1
        dtname = os.path.basename(f).split("_")[1]
        if img.get_data_dtype() != want_dtype[dtname]:
            print(f, "dtype", img.get_data_dtype())
            bad += 1
        data = np.asarray(img.dataobj)
        expect = formula(data.shape)
        if dtname == "complex64":
            expect = expect + 2j * expect
        if data.shape != (5, 4, 3, 2) or not np.array_equal(data, expect.astype(data.dtype)):
            print(f, "data differ")
            bad += 1
        if not np.allclose(img.header.get_zooms()[:3], (1.5, 2.0, 2.5)):
            print(f, "zooms", img.header.get_zooms())
            bad += 1
        if not np.allclose(img.get_sform(), affine, atol=1e-5) or img.header["sform_code"] != 2:
            print(f, "sform", img.get_sform())
            bad += 1
        if not np.allclose(img.get_qform(), affine, atol=1e-5) or img.header["qform_code"] != 1:
            print(f, "qform", img.get_qform())
            bad += 1
    return 1 if bad else 0


def check_fastmri(path, ns, nc, nh, nw, rh, rw):
    """fastMRI's layout: kspace[s][c][h][w] = w + 10 h + 100 s + i (c + 1),
    the readout along h (mrbench nx), the phase-encoding lines along w."""
    import h5py
    bad = 0
    with h5py.File(path, "r") as f:
        k = f["kspace"][()]
        want_shape = (ns, nc, nh, nw) if nc > 1 else (ns, nh, nw)
        if k.dtype != np.complex64 or k.shape != want_shape:
            print("kspace", k.dtype, k.shape, "expected", want_shape)
            return 1
        if nc == 1:
            k = k[:, None]
        s, c, h, w = np.indices((ns, nc, nh, nw))
        if not np.array_equal(k, (w + 10 * h + 100 * s + 1j * (c + 1)).astype(np.complex64)):
            print("kspace values differ")
            bad += 1
        rname = "reconstruction_rss" if nc > 1 else "reconstruction_esc"
        r = f[rname][()]
        s, h, w = np.indices(r.shape)
        if r.dtype != np.float32 or r.shape != (ns, rh, rw) or not np.array_equal(r, w + 10 * h + 100 * s):
            print(rname, "differs", r.dtype, r.shape, "expected", (ns, rh, rw))
            bad += 1
        hdr = f.attrs["ismrmrd_header"]
        if isinstance(hdr, bytes):
            hdr = hdr.decode()
        if hdr != "<ismrmrdHeader/>":
            print("ismrmrd_header", hdr)
            bad += 1
    return 1 if bad else 0


def check_png(path, raw, w, h, channels):
    from skimage import io
    img = io.imread(path)
    want = np.fromfile(raw, dtype=np.uint8)
    want = want.reshape((h, w, channels)) if channels > 1 else want.reshape((h, w))
    if img.shape != want.shape or img.dtype != np.uint8 or not np.array_equal(img, want):
        print(path, "differs", img.shape, img.dtype)
        return 1
    return 0


def main():
    mode = sys.argv[1]
    if mode == "nifti":
        return check_nifti(sys.argv[2])
    if mode == "fastmri":
        return check_fastmri(sys.argv[2], *[int(v) for v in sys.argv[3:9]])
    if mode == "png":
        return check_png(sys.argv[2], sys.argv[3], *[int(v) for v in sys.argv[4:7]])
    print("unknown mode", mode)
    return 2


if __name__ == "__main__":
    sys.exit(main())
