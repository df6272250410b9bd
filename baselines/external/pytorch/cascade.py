"""The Deep Cascade of CNNs (Schlemper et al., IEEE TMI 2017) in PyTorch,
layer for layer as mrbench implements it (impl/nn/dc.c,
baselines/recon/cascade/cascade.c), so that mrbench's weights files load into
it and its outputs and gradients can be compared with mrbench's.

Conventions shared with mrbench:
  * tensors are [N, 2, ny, nx] (2D) or [N, 2, nt, ny, nx] (2D+t), channel 0
    the real and 1 the imaginary part;
  * k-space and masks are [N, nt, ny, nx] (nt = 1 in 2D), complex / real,
    non-zero mask = sampled;
  * the FFT is centred and orthonormal over (y, x):
    F x = fftshift(fft2(ifftshift(x)), norm="ortho");
  * each cascade: [data sharing (2D+t)] -> n_d convolutions (3x3 or 3x3x3,
    'same' padding, bias, ReLU after all but the last) -> + input -> data
    consistency;
  * data consistency: noiseless (lambda < 0) takes the measured k-space where
    sampled; noisy takes (F x + lambda y) / (1 + lambda) there, lambda clamped
    at 0;
  * data sharing: 12 channels, the input and for temporal windows of 1, 3, 5,
    7, 9 frames (circular) F^H of the k-space window average (of F x), divided
    by the count of sampled frames in the window (at least 1) in the first
    cascade and by the window size in the others; sampled locations take the
    measured k-space;
  * parameter names: cascades.{i}.conv.{j}.weight / .bias, cascades.{i}.dc.lmbda.

Also a minimal safetensors reader and writer (numpy + json): Debian 12 has
no python3-safetensors package.
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn

DS_WINDOWS = 5
DS_CHANNELS = 2 + 2 * DS_WINDOWS

_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def read_safetensors(path):
    """Returns ({name: numpy array}, {metadata key: value})."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        dt = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[base + a:base + b], dtype=dt).reshape(info["shape"]).copy()
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes float32 arrays {name: array} with string metadata."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(arr)), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def fft2c(x):
    return torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(x, dim=(-2, -1)), norm="ortho"), dim=(-2, -1))


def ifft2c(k):
    return torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(k, dim=(-2, -1)), norm="ortho"), dim=(-2, -1))


def to_complex(x):
    """[N, 2, ...] real -> [N, ...] complex."""
    return torch.complex(x[:, 0], x[:, 1])


def to_channels(z):
    return torch.stack((z.real, z.imag), dim=1)


def _as_frames(x, temporal):
    """Complex image [N, (nt,) ny, nx] -> [N, nt, ny, nx] (nt = 1 in 2D)."""
    return x if temporal else x.unsqueeze(1)


class DataConsistency(nn.Module):
    def __init__(self, lmbda=None):
        super().__init__()
        self.noisy = lmbda is not None and lmbda >= 0
        if self.noisy:
            self.lmbda = nn.Parameter(torch.tensor([float(lmbda)]))

    def forward(self, x, kspace, mask, temporal):
        k = fft2c(_as_frames(to_complex(x), temporal))
        sampled = mask != 0
        if self.noisy:
            lam = torch.clamp(self.lmbda, min=0.0)
            k_dc = torch.where(sampled, (k + lam * kspace) / (1 + lam), k)
        else:
            k_dc = torch.where(sampled, kspace, k)
        out = ifft2c(k_dc)
        return to_channels(out if temporal else out.squeeze(1))


def data_share(x, kspace, mask, divide_by_acquired):
    """[N, 2, nt, ny, nx] -> [N, 12, nt, ny, nx] (see the module docstring)."""
    s = fft2c(to_complex(x))
    sampled = mask != 0
    chans = [x]
    for j in range(DS_WINDOWS):
        acc = torch.zeros_like(s)
        cnt = torch.zeros_like(mask)
        for dt in range(-j, j + 1):
            acc = acc + torch.roll(s, shifts=-dt, dims=1)
            cnt = cnt + torch.roll(sampled.to(mask.dtype), shifts=-dt, dims=1)
        div = torch.clamp(cnt, min=1.0) if divide_by_acquired else torch.full_like(cnt, float(2 * j + 1))
        o = torch.where(sampled, kspace, acc / div)
        chans.append(to_channels(ifft2c(o)))
    return torch.cat(chans, dim=1)


class Cascade(nn.Module):
    def __init__(self, temporal, n_d, n_f, lmbda):
        super().__init__()
        conv = nn.Conv3d if temporal else nn.Conv2d
        cin = DS_CHANNELS if temporal else 2
        layers = []
        for j in range(n_d):
            layers.append(conv(cin if j == 0 else n_f, 2 if j == n_d - 1 else n_f, 3, padding=1, bias=True))
        self.conv = nn.ModuleList(layers)
        self.dc = DataConsistency(lmbda)


class DeepCascade(nn.Module):
    def __init__(self, temporal, n_c, n_d, n_f, lmbda=None):
        super().__init__()
        self.temporal = bool(temporal)
        self.cascades = nn.ModuleList([Cascade(self.temporal, n_d, n_f, lmbda) for _ in range(n_c)])

    def forward(self, x, kspace, mask):
        for i, c in enumerate(self.cascades):
            h = data_share(x, kspace, mask, i == 0) if self.temporal else x
            for j, layer in enumerate(c.conv):
                h = layer(h)
                if j < len(c.conv) - 1:
                    h = torch.relu(h)
            x = c.dc(x + h, kspace, mask, self.temporal)
        return x

    @staticmethod
    def from_safetensors(path):
        """A network with the architecture recorded in an mrbench weights file, loaded."""
        tensors, meta = read_safetensors(path)
        if meta.get("format") != "mrbench-deep-cascade":
            raise ValueError(f"{path}: not an mrbench Deep Cascade weights file")
        lam = float(meta.get("dc_lambda", "-1"))
        net = DeepCascade(meta["arch"] == "2dt", int(meta["n_c"]), int(meta["n_d"]), int(meta["n_f"]),
                          lam if lam >= 0 else None)
        state = {k: torch.from_numpy(v) for k, v in tensors.items()}
        net.load_state_dict(state, strict=True)
        return net

    def weight_decay_term(self):
        """sum ||W||^2 over convolution weights (biases and lambdas excluded), as mrbench's training."""
        return sum((p * p).sum() for n, p in self.named_parameters() if n.endswith(".weight"))


def mse_complex(pred, target):
    """Mean over complex pixels of |pred - target|^2 (mrbench's training loss without the decay)."""
    return 2.0 * torch.mean((pred - target) ** 2)
