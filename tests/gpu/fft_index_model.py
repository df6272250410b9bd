#!/usr/bin/env python3
"""Model of the index arithmetic in gpu/fft/fft_cuda.cu, checked with NumPy.

The modulation kernel (even lengths) and the shift-gather kernel (any odd
length) are re-expressed here with the same integer formulas, on flat arrays
with dims[0] fastest, and compared with fftshift(fftn(ifftshift(x)))/sqrt(N).
It runs on any machine (no GPU): it checks the algorithm the kernels
implement, not the kernels. Keep it in step with the kernels.
Exit 77 (CTest skip) when NumPy is missing."""
import sys

try:
    import numpy as np
except ImportError:
    print("skipped: NumPy not installed")
    sys.exit(77)
rng = np.random.default_rng(0)

def centred_ref(x, rank):
    # x shape in C order: reversed dims (batch..., n2, n1, n0); transform the last `rank` axes
    axes = tuple(range(x.ndim - rank, x.ndim))
    N = np.prod([x.shape[a] for a in axes])
    return np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x, axes=axes), axes=axes), axes=axes) / np.sqrt(N)

def gpu_emul(x, rank):
    shape = x.shape[::-1]  # dims[0] fastest
    n = [1, 1, 1]
    for a in range(rank): n[a] = shape[a]
    total = n[0]*n[1]*n[2]
    batch = x.size // total
    flat = x.reshape(-1).copy()
    count = flat.size
    i = np.arange(count)
    scale = 1/np.sqrt(total)
    axes = tuple(range(x.ndim - rank, x.ndim))
    all_even = all(v % 2 == 0 for v in n[:rank])
    if all_even:
        half_sum = sum((v // 2) % 2 for v in n[:rank])
        pre = -scale if half_sum % 2 else scale
        has1, has2 = n[1] > 1, n[2] > 1
        row = i // n[0]
        parity = (i - row*n[0]) + (row if has1 else 0) + (i // (n[0]*n[1]) if has2 else 0)
        sign = np.where(parity & 1, -1.0, 1.0)
        y = (flat * sign * pre).reshape(x.shape)
        y = np.fft.fftn(y, axes=axes).reshape(-1)
        y = y * sign
        return y.reshape(x.shape)
    def gather(src, inverse_shift, s):
        h = [0, 0, 0]
        for a in range(rank): h[a] = n[a]//2 if inverse_shift else (n[a]+1)//2
        blk = total
        b = i // blk; r = i - b*blk
        k0 = r % n[0]; k1 = (r // n[0]) % n[1]; k2 = r // (n[0]*n[1])
        j0 = (k0+h[0]) % n[0]; j1 = (k1+h[1]) % n[1]; j2 = (k2+h[2]) % n[2]
        return src[b*blk + (j2*n[1]+j1)*n[0] + j0] * s
    t = gather(flat, True, scale)
    t = np.fft.fftn(t.reshape(x.shape), axes=axes).reshape(-1)
    return gather(t, False, 1.0).reshape(x.shape)

cases = [(1, (32, 4)), (1, (31,)), (2, (64, 48, 3)), (2, (30, 34)), (2, (15, 9, 2)), (2, (16, 9, 2)),
         (3, (8, 6, 4, 2)), (3, (5, 7, 3)), (2, (12, 10, 3, 2)), (3, (6, 10, 2, 3)), (2, (2, 2, 5))]
# Double precision throughout: any index mistake gives an O(1) error.
MODEL_REL_TOL = 1e-12
failed = 0
for rank, dims in cases:
    x = rng.standard_normal(dims[::-1]) + 1j*rng.standard_normal(dims[::-1])
    ref = centred_ref(x, rank)
    err = np.linalg.norm(gpu_emul(x, rank) - ref) / np.linalg.norm(ref)
    ok = err < MODEL_REL_TOL
    failed += not ok
    print("rank %d dims %s: relative error %.2e %s" % (rank, dims, err, "ok" if ok else "FAIL"))
sys.exit(1 if failed else 0)
