"""PyTorch side of compare_speed.sh: D5-C5 2D Deep Cascade (64 filters,
noiseless DC) inference on 1x2x256x256 and one training step (forward +
backward of the MSE loss, no optimiser update, as mrbench's bench driver) at
batch B, best wall and process CPU time of R repeats after one warm-up.

Usage: speed.py THREADS BATCH REPEATS [WEIGHTS.safetensors]
Prints two lines: 'inference WALL CPU' and 'train WALL CPU' (seconds).
"""
import sys
import time

import torch

from cascade import DeepCascade, mse_complex

SIZE = 256
SAMPLED_EVERY = 4  # every 4th phase-encode line, as the mrbench driver


def best_of(fn, reps):
    fn()  # warm-up: allocator, oneDNN primitives, FFT plans
    wall, cpu = float("inf"), float("inf")
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def main():
    threads, batch, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    if len(sys.argv) > 4:
        net = DeepCascade.from_safetensors(sys.argv[4])
    else:
        net = DeepCascade(False, 5, 5, 64)
    lines = (torch.arange(SIZE) % SAMPLED_EVERY == 0).float()
    mask = lines.view(1, 1, SIZE, 1).expand(batch, 1, SIZE, SIZE).contiguous()
    kspace = torch.complex(torch.rand(batch, 1, SIZE, SIZE), torch.zeros(batch, 1, SIZE, SIZE)) * mask
    xb = torch.rand(batch, 2, SIZE, SIZE)
    target = torch.rand(batch, 2, SIZE, SIZE)

    def infer():
        with torch.no_grad():
            net(xb[:1], kspace[:1], mask[:1])

    def train_step():
        net.zero_grad()
        loss = mse_complex(net(xb, kspace, mask), target)
        loss.backward()

    w, c = best_of(infer, reps)
    print(f"inference {w:.4f} {c:.4f}")
    w, c = best_of(train_step, reps)
    print(f"train {w:.4f} {c:.4f}")


if __name__ == "__main__":
    main()
