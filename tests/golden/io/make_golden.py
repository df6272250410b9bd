#!/usr/bin/python3
"""Reference and bad files for the mrbench io tests.

Run with Debian's interpreter (python3-nibabel, python3-h5py, python3-numpy)
and Debian's `bart` 0.8 on PATH, from this folder:
    /usr/bin/python3 make_golden.py
Writes:
  nib_*.nii[.gz]     NIfTI written by nibabel; voxel (i, j, k, ...) holds
                     formula(i, j, k, ...) (see `formula` below), so the C
                     test checks every voxel without a copy of the data.
  nibabel_*.nii*     small files copied from nibabel's own test data, with
                     their statistics (as nibabel reads them) in
                     expected.json.
  bart_*.{cfl,hdr}   BART phantoms written by `bart phantom`, statistics in
                     expected.json (read with numpy from the raw bytes).
  fastmri_*.h5       fastMRI-layout files written by h5py, values by formula:
                     kspace [slices, coils, height, width] (readout along
                     height), reconstruction [slices, h, w].
  ismrmrd_*.h5       written by `ismrmrd_generate_cartesian_shepp_logan`
                     (Debian ismrmrd-tools 1.8); the k-space h5py extracts
                     (per repetition, mrbench order) summarised in
                     expected.json.
  bad/*              broken files, one defect each; the expected status and
                     message substring of each are in tests/unit/test_io_bad.c.
"""
import gzip
import json
import os
import shutil
import struct
import subprocess

import h5py
import nibabel as nib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NIB_DATA = os.path.join(os.path.dirname(nib.__file__), "tests", "data")
NIB_COPIES = ["anatomical.nii", "functional.nii", "reoriented_anat_moved.nii",
              "example_nifti2.nii.gz", "standard.nii.gz"]


def formula(shape):
    """Voxel value sum_d idx[d] * 3**d + 1 (dims[0] fastest, as mrbench)."""
    grids = np.indices(shape)
    out = np.ones(shape, dtype=np.float64)
    for d in range(len(shape)):
        out += grids[d] * 3.0 ** d
    return out


def affine(spacing, rotate=False):
    a = np.diag(list(spacing) + [1.0])
    if rotate:
        c, s = np.cos(0.3), np.sin(0.3)
        r = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        a[:3, :3] = r @ np.diag(spacing)
    a[:3, 3] = [-10.5, 20.25, 3.0]
    return a


def stats(arr):
    flat = np.asarray(arr).ravel(order="F")
    return {
        "shape": list(np.asarray(arr).shape),
        "sum_re": float(np.sum(flat.real.astype(np.float64))),
        "sum_im": float(np.sum(flat.imag.astype(np.float64))) if np.iscomplexobj(flat) else 0.0,
        "sum_abs2": float(np.sum(np.abs(flat.astype(np.complex128)) ** 2)),
        "samples": [[int(i), float(flat[i].real), float(flat[i].imag) if np.iscomplexobj(flat)
                     else 0.0] for i in np.linspace(0, flat.size - 1, 7).astype(int)],
    }


def write_nibabel_files(expected):
    # int16 3-D, little-endian, sform and qform with rotation
    shape = (5, 4, 3)
    img = nib.Nifti1Image(formula(shape).astype(np.int16), affine((1.5, 2.0, 2.5), True))
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=2)
    nib.save(img, os.path.join(HERE, "nib_i16.nii"))
    expected["nib_i16.nii"] = {"qform": img.get_qform().tolist(), "sform": img.get_sform().tolist()}
    # gzip, uint8
    nib.save(nib.Nifti1Image(formula(shape).astype(np.uint8), affine((1, 1, 1))),
             os.path.join(HERE, "nib_u8.nii.gz"))
    # big-endian float64, 4-D
    shape4 = (4, 3, 2, 3)
    data = formula(shape4).astype(">f8")
    hdr = nib.Nifti1Header(endianness=">")
    img = nib.Nifti1Image(data, affine((0.5, 0.5, 4.0)), header=hdr)
    img.set_data_dtype(">f8")
    nib.save(img, os.path.join(HERE, "nib_f64_be_4d.nii"))
    # scl_slope / scl_inter on int16
    raw = formula(shape).astype(np.int16)
    img = nib.Nifti1Image(raw, affine((1, 1, 1)))
    img.set_data_dtype(np.int16)
    img.header.set_slope_inter(0.5, -3.0)
    img.dataobj  # noqa: B018
    # nibabel writes raw values unchanged when the array already has the
    # on-disk dtype and slope/inter are set explicitly on the header:
    hdr = img.header.copy()
    hdr.set_slope_inter(0.5, -3.0)
    with open(os.path.join(HERE, "nib_i16_scaled.nii"), "wb") as f:
        hdr.set_data_shape(shape)
        hdr.set_data_offset(352)
        f.write(hdr.binaryblock)
        f.write(b"\0\0\0\0")
        f.write(raw.tobytes(order="F"))
    check = nib.load(os.path.join(HERE, "nib_i16_scaled.nii")).get_fdata()
    assert np.allclose(check, raw * 0.5 - 3.0)
    # complex64, gz
    c = (formula(shape) + 1j * (2 * formula(shape))).astype(np.complex64)
    nib.save(nib.Nifti1Image(c, affine((1, 1, 1))), os.path.join(HERE, "nib_c64.nii.gz"))
    # float32 NIfTI-2, big-endian, 5-D
    shape5 = (3, 2, 2, 2, 2)
    hdr2 = nib.Nifti2Header(endianness=">")
    img = nib.Nifti2Image(formula(shape5).astype(">f4"), affine((2, 3, 4)), header=hdr2)
    img.set_data_dtype(">f4")
    nib.save(img, os.path.join(HERE, "nib2_f32_be_5d.nii"))
    # int32 NIfTI-2 gz; int8 and uint16 (widened on read)
    nib.save(nib.Nifti2Image(formula(shape).astype(np.int32), affine((1, 1, 1))),
             os.path.join(HERE, "nib2_i32.nii.gz"))
    img = nib.Nifti1Image(formula(shape).astype(np.int8), affine((1, 1, 1)))
    img.set_data_dtype(np.int8)
    nib.save(img, os.path.join(HERE, "nib_i8.nii"))
    img = nib.Nifti1Image((formula(shape) * 1000).astype(np.uint16), affine((1, 1, 1)))
    img.set_data_dtype(np.uint16)
    nib.save(img, os.path.join(HERE, "nib_u16.nii"))
    for name in ["nib_i8.nii", "nib_u16.nii"]:
        h = nib.load(os.path.join(HERE, name)).header
        assert h["scl_slope"] != h["scl_slope"] or h["scl_slope"] in (0, 1), name


def copy_nibabel_data(expected):
    for name in NIB_COPIES:
        src = os.path.join(NIB_DATA, name)
        assert os.path.getsize(src) < 100_000
        shutil.copyfile(src, os.path.join(HERE, "nibabel_" + name))
        img = nib.load(src)
        data = np.asarray(img.dataobj)
        e = stats(data)
        e["dtype"] = str(data.dtype.newbyteorder("="))
        e["pixdim"] = [float(x) for x in img.header["pixdim"]]
        e["sform_code"] = int(img.header["sform_code"])
        e["qform_code"] = int(img.header["qform_code"])
        e["sform"] = img.header.get_sform().tolist()
        e["qform"] = img.header.get_qform().tolist()
        expected["nibabel_" + name] = e


def write_bart(expected):
    for name, args in [("bart_phantom64", ["-x", "64"]), ("bart_phantom16_4coils",
                                                           ["-x", "16", "-s", "4"])]:
        subprocess.run(["bart", "phantom"] + args + [name], check=True, cwd=HERE)
        for ext in (".cfl", ".hdr"):
            os.chmod(os.path.join(HERE, name + ext), 0o644)
        with open(os.path.join(HERE, name + ".hdr")) as f:
            lines = f.read().splitlines()
        dims = [int(x) for x in lines[lines.index("# Dimensions") + 1].split()]
        data = np.fromfile(os.path.join(HERE, name + ".cfl"), dtype="<c8")
        data = data.reshape(dims, order="F")
        e = stats(data)
        e["bart_dims"] = dims
        expected[name] = e


# ISMRMRD acquisition flag bits (ismrmrd.h; bit = flag - 1) that mark
# non-image acquisitions: noise 19, navigation 23, phasecorr 24, feedback 26,
# dummy scan 27, rt feedback 28, surface-coil correction 29.
ISMRMRD_NOT_IMAGE = sum(1 << (f - 1) for f in (19, 23, 24, 26, 27, 28, 29))


def ismrmrd_kspace(path, rep):
    """k-space [nx, ny, 1, nc] (mrbench order) and the acquired lines."""
    with h5py.File(path, "r") as f:
        acq = f["dataset/data"][()]
        xml = f["dataset/xml"][0]
    xml = xml.decode() if isinstance(xml, bytes) else xml
    enc = xml[xml.index("<encodedSpace>"):]
    ny = int(enc[enc.index("<y>") + 3:enc.index("</y>")])
    heads = [a["head"] for a in acq if not int(a["head"]["flags"]) & ISMRMRD_NOT_IMAGE
             and a["head"]["idx"]["repetition"] == rep]
    nx, nc = int(heads[0]["number_of_samples"]), int(heads[0]["active_channels"])
    k = np.zeros((nx, ny, 1, nc), dtype=np.complex64)
    lines = []
    for a in acq:
        h = a["head"]
        if int(h["flags"]) & ISMRMRD_NOT_IMAGE or h["idx"]["repetition"] != rep:
            continue
        y = int(h["idx"]["kspace_encode_step_1"])
        k[:, y, 0, :] = a["data"].view(np.complex64).reshape(nc, nx).T
        lines.append(y)
    return k, sorted(set(lines))


def write_ismrmrd(expected):
    gen = "ismrmrd_generate_cartesian_shepp_logan"
    runs = {"ismrmrd_noiseless.h5": ["-m", "8", "-c", "2", "-n", "0"],
            "ismrmrd_accel.h5": ["-m", "8", "-c", "2", "-r", "2", "-a", "2", "-w", "4", "-C"]}
    for name, args in runs.items():
        subprocess.run([gen] + args + ["-o", name], check=True, cwd=HERE,
                       stdout=subprocess.DEVNULL)
    for rep in (0, 1):
        k, lines = ismrmrd_kspace(os.path.join(HERE, "ismrmrd_accel.h5"), rep)
        e = stats(k)
        e["lines"] = lines
        expected["ismrmrd_accel.h5#%d" % rep] = e
    # bad variants of a tiny noiseless file
    small = os.path.join(HERE, "bad", "_ismrmrd.h5")
    subprocess.run([gen, "-m", "4", "-c", "1", "-n", "0", "-o", small], check=True,
                   stdout=subprocess.DEVNULL)

    def variant(bad_name, edit):
        path = os.path.join(HERE, "bad", bad_name)
        shutil.copyfile(small, path)
        with h5py.File(path, "r+") as f:
            d = f["dataset/data"]
            row = d[2]
            edit(row)
            d[2] = row

    def samples(row):
        row["head"]["number_of_samples"] = 3

    def step1(row):
        row["head"]["idx"]["kspace_encode_step_1"] = 40

    def step2(row):
        row["head"]["idx"]["kspace_encode_step_2"] = 1

    def short(row):
        row["data"] = row["data"][:-2]

    variant("ismrmrd_samples_mismatch.h5", samples)
    variant("ismrmrd_step1_outside.h5", step1)
    variant("ismrmrd_3d_encoding.h5", step2)
    variant("ismrmrd_data_short.h5", short)
    os.remove(small)
    with h5py.File(os.path.join(HERE, "bad", "ismrmrd_no_data.h5"), "w") as f:
        f.create_group("dataset").create_dataset("xml", data=[b"<ismrmrdHeader/>"])
    with h5py.File(os.path.join(HERE, "bad", "ismrmrd_data_not_compound.h5"), "w") as f:
        f.create_group("dataset").create_dataset("data", data=np.zeros(4, np.float32))


def fastmri_value(s, c, h, w):
    return complex(w + 10 * h + 100 * s, c + 1)


def write_fastmri():
    # fastMRI's axes: height is the readout (mrbench nx), width the
    # phase-encoding lines (mrbench ny)
    ns, nc, nh, nw = 2, 3, 6, 5
    k = np.zeros((ns, nc, nh, nw), dtype=np.complex64)
    for s in range(ns):
        for c in range(nc):
            for h in range(nh):
                for w in range(nw):
                    k[s, c, h, w] = fastmri_value(s, c, h, w)
    rss = np.zeros((ns, 4, 3), dtype=np.float32)  # [slices, h, w]
    for s in range(ns):
        for h in range(4):
            for w in range(3):
                rss[s, h, w] = w + 10 * h + 100 * s
    header = "<?xml version=\"1.0\"?><ismrmrdHeader><encoding/></ismrmrdHeader>"
    with h5py.File(os.path.join(HERE, "fastmri_multicoil.h5"), "w") as f:
        f.create_dataset("kspace", data=k)
        f.create_dataset("reconstruction_rss", data=rss)
        f.attrs["ismrmrd_header"] = header
        f.attrs["acquisition"] = "CORPD_FBK"
        f.attrs["max"] = 0.5
        f.attrs["norm"] = 12.25
        f.attrs["patient_id"] = "mrbench-synthetic"
    with h5py.File(os.path.join(HERE, "fastmri_singlecoil.h5"), "w") as f:
        f.create_dataset("kspace", data=k[:, 1])
        f.create_dataset("reconstruction_esc", data=rss)
        f.attrs["ismrmrd_header"] = np.bytes_(header.encode())  # fixed-length string


# ---------------------------------------------------------------- bad files

def patch(b, off, fmt, value):
    b = bytearray(b)
    struct.pack_into(fmt, b, off, value)
    return bytes(b)


def write(name, data):
    with open(os.path.join(HERE, "bad", name), "wb") as f:
        f.write(data)


def write_bad():
    shape = (4, 3, 2)
    base_path = os.path.join(HERE, "bad", "_base.nii")
    img = nib.Nifti1Image(formula(shape).astype(np.int16), affine((1, 1, 1)))
    nib.save(img, base_path)
    with open(base_path, "rb") as f:
        good = f.read()
    os.remove(base_path)
    assert struct.unpack_from("<i", good, 0)[0] == 348
    write("truncated_header.nii", good[:200])
    write("truncated_data.nii", good[:-10])
    write("wrong_magic.nii", good[:344] + b"x+1\0" + good[348:])
    write("unknown.xyz", b"neither NIfTI, BART nor HDF5\n")
    write("pair_magic.nii", good[:344] + b"ni1\0" + good[348:])
    write("dim0_zero.nii", patch(good, 40, "<h", 0))
    write("dim0_eight.nii", patch(good, 40, "<h", 8))
    write("dim_zero.nii", patch(good, 44, "<h", 0))
    write("dim_negative.nii", patch(good, 42, "<h", -5))
    huge = good
    huge = patch(huge, 40, "<h", 7)
    for i in range(1, 8):
        huge = patch(huge, 40 + 2 * i, "<h", 32767)
    write("dims_overflow.nii", huge)
    write("unknown_datatype.nii", patch(good, 70, "<h", 999))
    write("unsupported_rgb24.nii", patch(patch(good, 70, "<h", 128), 72, "<h", 24))
    write("bitpix_mismatch.nii", patch(good, 72, "<h", 32))
    write("vox_offset_small.nii", patch(good, 108, "<f", 100.0))
    write("vox_offset_fraction.nii", patch(good, 108, "<f", 352.5))
    write("vox_offset_beyond.nii", patch(good, 108, "<f", 1.0e6))
    write("vox_offset_nan.nii", patch(good, 108, "<f", float("nan")))
    write("pixdim_inf.nii", patch(good, 80, "<f", float("inf")))
    write("sizeof_hdr.nii", patch(good, 0, "<i", 123))
    write("empty.nii", b"")
    gz = gzip.compress(good, mtime=0)
    write("gzip_truncated.nii.gz", gz[: len(gz) // 2])
    crc = bytearray(gz)
    crc[-8] ^= 0xFF  # CRC-32 of the gzip trailer (RFC 1952)
    write("gzip_bad_crc.nii.gz", bytes(crc))
    write("gzip_garbage.nii.gz", gz[:10] + bytes(range(200, 256)) * 4)
    write("gzip_no_trailer.nii.gz", gz[:-8])
    # a tiny gzip whose header claims 30000^3 int16: must fail before allocating
    bomb = patch(patch(patch(good, 42, "<h", 30000), 44, "<h", 30000), 46, "<h", 30000)
    write("gzip_claims_huge.nii.gz", gzip.compress(bomb, mtime=0))
    # NIfTI-2
    img2 = nib.Nifti2Image(formula(shape).astype(np.int16), affine((1, 1, 1)))
    nib.save(img2, base_path)
    with open(base_path, "rb") as f:
        good2 = f.read()
    os.remove(base_path)
    write("nifti2_truncated_header.nii", good2[:400])
    huge2 = patch(good2, 16, "<q", 3)
    for i in range(1, 4):
        huge2 = patch(huge2, 16 + 8 * i, "<q", 1 << 40)
    write("nifti2_dims_overflow.nii", huge2)
    write("nifti2_vox_offset_negative.nii", patch(good2, 168, "<q", -8))
    write("nifti2_dim_negative.nii", patch(good2, 24, "<q", -1))
    # BART
    cfl_good = np.arange(16, dtype="<c8").tobytes()
    def cfl(name, hdr, data=cfl_good):
        with open(os.path.join(HERE, "bad", name + ".hdr"), "wb") as f:
            f.write(hdr)
        if data is not None:
            with open(os.path.join(HERE, "bad", name + ".cfl"), "wb") as f:
                f.write(data)
    dims16 = lambda d: " ".join(str(x) for x in d + [1] * (16 - len(d))) + " \n"
    cfl("cfl_size_mismatch", ("# Dimensions\n" + dims16([4, 5])).encode())
    cfl("cfl_garbage_hdr", b"this is not a BART header\n4 4\n")
    cfl("cfl_no_dims", b"# Command\nphantom -x 4 out\n")
    cfl("cfl_dim_zero", ("# Dimensions\n" + dims16([4, 0])).encode())
    cfl("cfl_dim_negative", b"# Dimensions\n4 -4 1 1\n")
    cfl("cfl_dims_overflow", b"# Dimensions\n4294967296 4294967296 4294967296 1\n")
    cfl("cfl_too_many_dims", ("# Dimensions\n" + "1 " * 17 + "\n").encode())
    cfl("cfl_binary_hdr", b"# Dimensions\n4 4\0\0\0\n")
    cfl("cfl_missing_data", ("# Dimensions\n" + dims16([4, 4])).encode(), None)
    cfl("cfl_empty_hdr", b"")
    cfl("cfl_dims_twice", ("# Dimensions\n" + dims16([4, 4]) + "# Dimensions\n"
                           + dims16([4, 4])).encode())
    cfl("cfl_nine_axes", ("# Dimensions\n" + dims16([2, 1, 1, 1, 1, 1, 1, 1, 2])).encode(),
        np.zeros(4, dtype="<c8").tobytes())
    # HDF5
    write("not_hdf5.h5", b"plain text, not an HDF5 file\n" * 10)
    with h5py.File(os.path.join(HERE, "bad", "h5_no_kspace.h5"), "w") as f:
        f.create_dataset("image", data=np.zeros((2, 2), np.float32))
    with h5py.File(os.path.join(HERE, "bad", "h5_kspace_float.h5"), "w") as f:
        f.create_dataset("kspace", data=np.zeros((2, 3, 4), np.float32))
    with h5py.File(os.path.join(HERE, "bad", "h5_kspace_int64.h5"), "w") as f:
        f.create_dataset("kspace", data=np.zeros((2, 3, 4), np.int64))
    with h5py.File(os.path.join(HERE, "bad", "h5_rss_wrong_slices.h5"), "w") as f:
        f.create_dataset("kspace", data=np.zeros((2, 3, 4), np.complex64))
        f.create_dataset("reconstruction_esc", data=np.zeros((5, 3, 4), np.float32))
    with h5py.File(os.path.join(HERE, "bad", "_full.h5"), "w") as f:
        f.create_dataset("kspace", data=np.ones((2, 16, 16), np.complex64))
    with open(os.path.join(HERE, "bad", "_full.h5"), "rb") as f:
        full = f.read()
    os.remove(os.path.join(HERE, "bad", "_full.h5"))
    write("h5_truncated.h5", full[: len(full) // 2])


def main():
    expected = {}
    write_nibabel_files(expected)
    copy_nibabel_data(expected)
    write_bart(expected)
    write_fastmri()
    write_ismrmrd(expected)
    write_bad()
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
