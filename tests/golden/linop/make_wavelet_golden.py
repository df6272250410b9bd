#!/usr/bin/python3
"""Golden values for mrbench's db2 wavelet operator (impl/linop/wavelet.c),
made with PyWavelets (Debian python3-pywt), an independent implementation.

mrbench's analysis at one level is lo[k] = sum_m h[m] x[(2k + m) mod n] with
the db2 scaling filter h; PyWavelets' 'periodization' mode computes the same
coefficients for the input rolled by one sample (x[i + 1]), which this script
applies. Levels go along x (the fastest axis, numpy's last) then y, the
approximation in the top-left quadrant (Mallat layout), as mrbench stores it.

Output: wavelet_db2_64x64.bin, little-endian float32: the 64x64 complex input
(interleaved re, im; x fastest) then the 64x64 complex coefficients of the
2-level transform (minsize 16).
Run: /usr/bin/python3 make_wavelet_golden.py (in this folder)."""
import numpy as np
import pywt

N = 64
LEVELS = 2  # 64 -> 32 -> 16: bands of 16, as mrb_linop_wavelet_create(minsize 16)


def dwt_axis(a, axis):
    a = np.roll(a, -1, axis=axis)
    lo, hi = pywt.dwt(a, "db2", mode="periodization", axis=axis)
    return np.concatenate([lo, hi], axis=axis)


rng = np.random.default_rng(20070601)
x = (rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))).astype(np.complex64)
c = x.astype(np.complex128)
w = N
for _ in range(LEVELS):
    blk = c[:w, :w]
    blk = dwt_axis(blk, 1)  # along x (numpy's last axis)
    blk = dwt_axis(blk, 0)  # along y
    c[:w, :w] = blk
    w //= 2
with open("wavelet_db2_64x64.bin", "wb") as f:
    f.write(x.astype("<c8").tobytes())
    f.write(c.astype("<c8").tobytes())
