#!/usr/bin/python3
"""Golden line-inclusion probabilities for mrbench's "cartesian-vd" sampler.

Re-implements the deep cascade's cartesian_mask (Schlemper et al. 2017,
released code utils/compressed_sensing.py: normal_pdf with
sensitivity 0.5 / (N/10)^2, floor N/(2R)/N, centre zeroed, numpy
random.choice without replacement, centre set) and estimates, from DRAWS
independent masks, the probability that each phase-encoding line is sampled.

Writes cartesian_vd_inclusion.txt: per case a line "N R centre draws" and then
N probabilities, one per line.

Run: /usr/bin/python3 make_cartesian_vd.py   (numpy 1.24, Debian 12)
"""
import os
import numpy as np

DRAWS = 20000
CASES = [(128, 4, 8), (256, 8, 8)]


def normal_pdf(length, sensitivity):
    return np.exp(-sensitivity * (np.arange(length) - length / 2) ** 2)


def cartesian_mask_lines(N, acc, sample_n, rng):
    pdf_x = normal_pdf(N, 0.5 / (N / 10.0) ** 2)
    lmda = N / (2.0 * acc)
    n_lines = int(N / acc)
    pdf_x += lmda * 1.0 / N
    pdf_x[N // 2 - sample_n // 2:N // 2 + sample_n // 2] = 0
    pdf_x /= np.sum(pdf_x)
    n_lines -= sample_n
    mask = np.zeros(N)
    idx = rng.choice(N, n_lines, False, pdf_x)
    mask[idx] = 1
    mask[N // 2 - sample_n // 2:N // 2 + sample_n // 2] = 1
    return mask


def main():
    rng = np.random.RandomState(20171001)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "cartesian_vd_inclusion.txt"), "w") as f:
        for N, acc, c in CASES:
            freq = np.zeros(N)
            for _ in range(DRAWS):
                freq += cartesian_mask_lines(N, acc, c, rng)
            freq /= DRAWS
            f.write(f"{N} {acc} {c} {DRAWS}\n")
            f.write("\n".join(f"{p:.6f}" for p in freq) + "\n")
            print(N, acc, c, "lines per mask", freq.sum())


if __name__ == "__main__":
    main()
