#!/usr/bin/python3
"""Golden values for the Deep Cascade (tests/unit/test_cascade.c): a small
2D cascade (n_c 2, n_d 3, n_f 4) evaluated with NumPy alone, independently of
mrbench's engine: direct 3x3 cross-correlation with zero padding 1, ReLU after
all but the last convolution, residual, noiseless data consistency with the
centred orthonormal FFT fftshift(fft2(ifftshift(x), norm="ortho")).

Writes cascade_tiny.safetensors (weights, written here by a plain
safetensors writer, names as a PyTorch state_dict) and cascade_tiny_case.safetensors
(k-space, mask and the expected reconstruction, arrays [ny, nx, 2] = (re, im)).
Run: /usr/bin/python3 tests/golden/nn/make_cascade_golden.py (from the repository root or here)."""
import json
import os
import struct

import numpy as np

NX, NY = 8, 6
N_C, N_D, N_F = 2, 3, 4
rng = np.random.default_rng(20171101)
here = os.path.dirname(os.path.abspath(__file__))


def fft2c(x):
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x), norm="ortho"))


def ifft2c(k):
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k), norm="ortho"))


def conv3x3(x, w, b):
    """x [cin, ny, nx], w [cout, cin, 3, 3] -> [cout, ny, nx] (PyTorch Conv2d, padding 1)."""
    cin, ny, nx = x.shape
    xp = np.zeros((cin, ny + 2, nx + 2))
    xp[:, 1:-1, 1:-1] = x
    out = np.zeros((w.shape[0], ny, nx))
    for co in range(w.shape[0]):
        acc = np.full((ny, nx), float(b[co]))
        for ci in range(cin):
            for dy in range(3):
                for dx in range(3):
                    acc += w[co, ci, dy, dx] * xp[ci, dy:dy + ny, dx:dx + nx]
        out[co] = acc
    return out


def save_safetensors(path, tensors, meta):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name, arr in tensors:
        a = np.ascontiguousarray(arr, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


weights = []
for i in range(N_C):
    for j in range(N_D):
        cin = 2 if j == 0 else N_F
        cout = 2 if j == N_D - 1 else N_F
        w = rng.normal(0.0, np.sqrt(2.0 / (9 * cin)), (cout, cin, 3, 3)).astype(np.float32)
        b = rng.normal(0.0, 0.1, cout).astype(np.float32)
        weights.append((f"cascades.{i}.conv.{j}.weight", w))
        weights.append((f"cascades.{i}.conv.{j}.bias", b))

image = (rng.normal(size=(NY, NX)) + 1j * rng.normal(size=(NY, NX))).astype(np.complex64)
mask = np.zeros((NY, NX), dtype=np.float32)
mask[[0, 2, 3, 5], :] = 1.0  # phase-encode lines (y), constant along readout (x)
kspace = (fft2c(image) * mask).astype(np.complex64)

x = ifft2c(kspace.astype(np.complex128))
wd = dict(weights)
for i in range(N_C):
    h = np.stack([x.real, x.imag])
    for j in range(N_D):
        h = conv3x3(h, wd[f"cascades.{i}.conv.{j}.weight"].astype(np.float64),
                    wd[f"cascades.{i}.conv.{j}.bias"].astype(np.float64))
        if j < N_D - 1:
            h = np.maximum(h, 0.0)
    r = x + (h[0] + 1j * h[1])
    s = fft2c(r)
    s = np.where(mask > 0, kspace, s)
    x = ifft2c(s)


def ri(z):
    return np.stack([z.real, z.imag], axis=-1).astype(np.float32)


meta = {"format": "mrbench-deep-cascade", "arch": "2d", "n_c": str(N_C), "n_d": str(N_D), "n_f": str(N_F),
        "dc_lambda": "-1", "dc_lambda_trainable": "0", "producer": "tests/golden/nn/make_cascade_golden.py"}
save_safetensors(os.path.join(here, "cascade_tiny.safetensors"), weights, meta)
save_safetensors(os.path.join(here, "cascade_tiny_case.safetensors"),
                 [("kspace", ri(kspace)), ("mask", mask), ("expected", ri(x))],
                 {"producer": "tests/golden/nn/make_cascade_golden.py", "numpy": np.__version__})
print("wrote cascade_tiny.safetensors and cascade_tiny_case.safetensors; |expected| max %.4f"
      % float(np.abs(x).max()))
