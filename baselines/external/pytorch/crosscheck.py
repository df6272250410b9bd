"""Compares mrbench's Deep Cascade with the PyTorch twin in cascade.py.

Usage: crosscheck.py [--threads N] DIR...

Each DIR holds weights.safetensors (mrbench's weights) and data.safetensors,
written by the C driver of tests/integration/pytorch_crosscheck.sh:
target, kspace ([N, nt, ny, nx, 2]), mask ([N, nt, ny, nx]), x0 (the
zero-filled input), out_infer and out_train (mrbench's outputs in inference
and training mode), loss (mrbench's MSE over complex pixels) and grad.<name>
(mrbench's parameter gradients of that loss). Prints one line per check and
a summary per DIR ("ok DIR" or "FAIL DIR"); exits 1 when any check fails.
"""
import sys

import numpy as np
import torch

from cascade import DeepCascade, mse_complex, read_safetensors

# float32 end to end in both engines; different summation orders (Winograd,
# im2col chunks, FFTW vs pocketfft) leave errors of a few 1e-6 relative in the
# output and more in gradients, which sum over every pixel.
OUTPUT_RTOL = 1e-4
GRAD_RTOL = 1e-3
LOSS_RTOL = 1e-4
# A gradient whose exact value is zero (the last convolution's bias under the
# noiseless DC: a constant image lives at the k-space centre, which is always
# sampled and so replaced by the measurement) is pure rounding noise in both
# engines; gradients are therefore normalised by at least this fraction of
# the largest gradient in the network.
GRAD_SCALE_FLOOR = 1e-3


def rel_err(a, b, floor=0.0):
    """max |a - b| / max(max |b|, floor) (b the PyTorch reference)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(b))), floor)
    return float(np.max(np.abs(a - b)) / (scale if scale > 0 else 1.0))


def check_dir(path):
    """Returns the number of failed checks for one driver output folder."""
    net = DeepCascade.from_safetensors(path + "/weights.safetensors")
    d, _ = read_safetensors(path + "/data.safetensors")
    ks = torch.from_numpy(d["kspace"])
    kspace = torch.complex(ks[..., 0], ks[..., 1])
    mask = torch.from_numpy(d["mask"])
    x0 = torch.from_numpy(d["x0"])
    target = torch.from_numpy(d["target"])
    failed = 0
    checks = 0

    def check(name, err, tol):
        nonlocal failed, checks
        checks += 1
        ok = err <= tol
        failed += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {name}: max relative error {err:.2e} (tolerance {tol:g})")

    with torch.no_grad():
        ref = net(x0, kspace, mask)
    check("output (inference)", rel_err(d["out_infer"], ref.numpy()), OUTPUT_RTOL)
    check("output (training forward)", rel_err(d["out_train"], ref.numpy()), OUTPUT_RTOL)
    net.zero_grad()
    out = net(x0, kspace, mask)
    loss = mse_complex(out, target)
    loss.backward()
    check("loss", rel_err(d["loss"], np.array([loss.item()])), LOSS_RTOL)
    grads = [(n, p.grad.numpy()) for n, p in net.named_parameters() if "grad." + n in d]
    floor = GRAD_SCALE_FLOOR * max(float(np.max(np.abs(g))) for _, g in grads)
    for name, g in grads:  # a fixed lambda has no gradient in mrbench: not compared
        check("grad " + name, rel_err(d["grad." + name], g, floor), GRAD_RTOL)
    print(f"{'ok  ' if not failed else 'FAIL'} {path}: {checks - failed} of {checks} checks passed")
    return failed


def main():
    args = sys.argv[1:]
    threads = 1
    if len(args) >= 2 and args[0] == "--threads":
        threads = int(args[1])
        args = args[2:]
    torch.set_num_threads(threads)
    failed = sum(check_dir(p) > 0 for p in args)
    return 1 if failed or not args else 0


if __name__ == "__main__":
    sys.exit(main())
