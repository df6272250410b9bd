"""PyTorch (CUDA, eager mode) side of compare_speed_gpu.sh: the Deep Cascade
on one GPU, timed with CUDA events after warm-up, data already on the device
(as mrbench's compute phase).

  2d:  D5-C5 (64 filters, noiseless DC) inference on 1x2x256x256 and one
       training step (forward, MSE loss, backward, Adam update) at --batch.
  2dt: D5-C10(S) inference on one 2x30x256x256 cine (--frames, --size).

Usage: speed_cuda.py [--arch 2d|2dt] [--batch 16] [--reps 20] [--tf32 0|1]
                     [--size 256] [--frames 30] [--weights FILE]
Prints 'inference MEDIAN_S MIN_S' and (2d) 'train MEDIAN_S MIN_S' lines and
a 'device ...' line naming the GPU, torch, CUDA and cuDNN versions.
"""
import argparse
import statistics

import torch

from cascade import DeepCascade, mse_complex

SAMPLED_EVERY = 4  # every 4th phase-encode line, as the mrbench driver


def timed(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1000.0)
    return statistics.median(times), min(times)


def inputs(batch, frames, size, dev):
    lines = (torch.arange(size, device=dev) % SAMPLED_EVERY == 0).float()
    mask = lines.view(1, 1, size, 1).expand(batch, frames, size, size).contiguous()
    g = torch.Generator(device="cpu").manual_seed(1)
    re = torch.rand(batch, frames, size, size, generator=g).to(dev)
    kspace = torch.complex(re, torch.zeros_like(re)) * mask
    shape = (batch, 2, frames, size, size) if frames > 1 else (batch, 2, size, size)
    x = torch.rand(*shape, generator=g).to(dev)
    target = torch.rand(*shape, generator=g).to(dev)
    return x, kspace, mask, target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=("2d", "2dt"), default="2d")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--tf32", type=int, default=0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--weights")
    a = ap.parse_args()
    dev = torch.device("cuda")
    torch.backends.cudnn.allow_tf32 = bool(a.tf32)
    torch.backends.cuda.matmul.allow_tf32 = bool(a.tf32)
    torch.backends.cudnn.benchmark = True  # algorithm search, as mrbench's setup
    torch.manual_seed(1)
    temporal = a.arch == "2dt"
    if a.weights:
        net = DeepCascade.from_safetensors(a.weights)
    else:
        net = DeepCascade(temporal, 10 if temporal else 5, 5, 64)
    net = net.to(dev)
    print(f"device {torch.cuda.get_device_name(0)} torch {torch.__version__} cuda {torch.version.cuda} "
          f"cudnn {torch.backends.cudnn.version()} tf32 {a.tf32}")
    frames = a.frames if temporal else 1
    x1, k1, m1, _ = inputs(1, frames, a.size, dev)

    def infer():
        with torch.no_grad():
            net(x1, k1, m1)

    med, best = timed(infer, a.reps)
    print(f"inference {med:.6f} {best:.6f}")
    if temporal:
        return
    xb, kb, mb, tb = inputs(a.batch, 1, a.size, dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def train_step():
        opt.zero_grad(set_to_none=False)
        loss = mse_complex(net(xb, kb, mb), tb)
        loss.backward()
        opt.step()

    med, best = timed(train_step, a.reps)
    print(f"train {med:.6f} {best:.6f}")


if __name__ == "__main__":
    main()
