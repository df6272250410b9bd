#!/usr/bin/python3
"""Golden values for mrbench's "shepp-logan" phantom (impl/data).

Independent evaluation of Toft's modified Shepp-Logan phantom, the table of
MATLAB phantom('Modified Shepp-Logan') and scikit-image's
_modified_shepp_logan, by testing every sample point against every ellipse
(MATLAB's algorithm), in numpy float64.

Grid (MATLAB phantom): pixel centres x_i = (i - (n-1)/2) / ((n-1)/2), i along
dims[0]; y_j = ((n-1)/2 - j) / ((n-1)/2), j along dims[1] (row 0 is y = +1).
With supersample s, each pixel is the mean over s x s points at offsets
((t + 0.5)/s - 0.5) pixel pitches from the centre (y offsets downwards).

Writes raw little-endian float32 arrays, dims[0] fastest (numpy shape
(n, n) as [j, i], C order):
  shepp_logan_128_ss1.f32   n = 128, supersample 1 (pixel centres)
  shepp_logan_128_ss4.f32   n = 128, supersample 4

Run: /usr/bin/python3 make_shepp_logan.py   (numpy 1.24, Debian 12)
"""
import os
import numpy as np

# A, a, b, x0, y0, phi (degrees)
MODIFIED = np.array([
    [1.0, .69, .92, 0, 0, 0],
    [-.8, .6624, .8740, 0, -.0184, 0],
    [-.2, .1100, .3100, .22, 0, -18],
    [-.2, .1600, .4100, -.22, 0, 18],
    [.1, .2100, .2500, 0, .35, 0],
    [.1, .0460, .0460, 0, .1, 0],
    [.1, .0460, .0460, 0, -.1, 0],
    [.1, .0460, .0230, -.08, -.605, 0],
    [.1, .0230, .0230, 0, -.606, 0],
    [.1, .0230, .0460, .06, -.605, 0],
])


def phantom(n, ss):
    h = 2.0 / (n - 1)
    centres = (np.arange(n) - (n - 1) / 2.0) / ((n - 1) / 2.0)
    offsets = ((np.arange(ss) + 0.5) / ss - 0.5) * h
    xs = (centres[:, None] + offsets[None, :]).ravel()          # along dims[0]
    ys = (-centres[:, None] - offsets[None, :]).ravel()         # along dims[1], y decreasing
    Y, X = np.meshgrid(ys, xs, indexing="ij")                   # [j_sub, i_sub]
    acc = np.zeros_like(X)
    for A, a, b, x0, y0, phi in MODIFIED:
        p = np.deg2rad(phi)
        xr = X - x0
        yr = Y - y0
        q = ((xr * np.cos(p) + yr * np.sin(p)) ** 2) / a ** 2 + ((yr * np.cos(p) - xr * np.sin(p)) ** 2) / b ** 2
        acc[q <= 1.0] += A
    return acc.reshape(n, ss, n, ss).mean(axis=(1, 3))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for ss in (1, 4):
        img = phantom(128, ss).astype("<f4")
        img.tofile(os.path.join(here, f"shepp_logan_128_ss{ss}.f32"))
        print(f"ss={ss}: min {img.min():.6f} max {img.max():.6f} sum {img.astype(np.float64).sum():.6f}")


if __name__ == "__main__":
    main()
