#!/usr/bin/env bash
# Regenerates the hand-made seeds (tests/fuzz/corpus/<target>/seed-*) from
# files that mrbench itself and the reference tools write; the other corpus
# files are inputs the fuzzers found (kept small with -merge=1, see
# tests/fuzz/README.md).
#
# Usage: tests/fuzz/make_seeds.sh BUILD_DIR   (a normal build: BUILD_DIR/mrbench)
# Needs /usr/bin/python3 with h5py and numpy (Debian python3-h5py), and the
# committed test files of tests/golden/io.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mrbench=$(cd "$1" && pwd)/mrbench
corpus=$root/tests/fuzz/corpus
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in safetensors suite manifest results published journal h5 ismrmrd; do mkdir -p "$corpus/$t"; done

# results and journal: a run of the journal target's suite
"$mrbench" run "$root/tests/fuzz/tiny_suite.json" --out "$tmp/run" --threads 1 --quiet >/dev/null
# (results.json without its whitespace: the fuzzer's inputs stay a few kB;
# paths of this machine made relative: the corpus is committed)
"$py" -c 'import json, sys
t = open(sys.argv[1]).read().replace(sys.argv[2] + "/", "").replace(sys.argv[3], "results/tiny-run")
print(json.dumps(json.loads(t), separators=(",", ":")))' \
  "$tmp/run/results.json" "$root" "$tmp/run" >"$corpus/results/seed-tiny-run.json"
cp "$tmp/run/cases.jsonl" "$corpus/journal/seed-tiny-run.jsonl"
# a journal killed while writing its last line (--resume drops that line)
head -c -40 "$tmp/run/cases.jsonl" >"$corpus/journal/seed-torn.jsonl"

# published reference numbers: the shipped files (seed-matches-tiny-run.json,
# rows that match the results seed, is written by hand)
for f in "$root"/baselines/published/*.json; do cp "$f" "$corpus/published/seed-$(basename "$f")"; done

# suites: the shipped ones, with every manifest pointed at the target's m.json
for f in "$root"/suites/*.json "$root/tests/fuzz/tiny_suite.json"; do
  sed -E 's#"manifest": *"[^"]*"#"manifest": "m.json"#g' "$f" >"$corpus/suite/seed-$(basename "$f")"
done

# manifests: the shipped ones
for f in "$root"/datasets/*.json; do cp "$f" "$corpus/manifest/seed-$(basename "$f")"; done

# safetensors: Deep Cascade weights and a checkpoint written by `mrbench
# train` (1 cascade of 2 layers with 2 filters), the golden weights of
# tests/golden/nn, and the two tensors the target reads by name
cat >"$tmp/m.json" <<'EOF'
{"mrbench_dataset": 1, "name": "m", "generator": "shepp-logan", "params": {"size": 16, "cases": 4},
 "splits": {"train": [0, 1], "val": [2], "test": [3]}}
EOF
cat >"$tmp/train.json" <<'EOF'
{"mrbench_suite": 1, "name": "seed", "seed": 1,
 "datasets": [{"id": "d", "manifest": "m.json", "split": "test"}],
 "sampling": [{"id": "r2", "sampler": "cartesian-vd", "params": {"acceleration": 2}}],
 "methods": [{"id": "c", "method": "cascade-2d", "params": {"weights": "w.safetensors"}}],
 "metrics": ["psnr"],
 "training": {"dataset": "d", "sampling": "r2", "method": "c", "weights": "w.safetensors",
              "architecture": {"n_c": 1, "n_d": 2, "n_f": 2}, "epochs": 1, "batch_size": 2}}
EOF
(cd "$tmp" && "$mrbench" train train.json --threads 1 --quiet >/dev/null)
cp "$tmp/w.safetensors" "$corpus/safetensors/seed-cascade-trained.safetensors"
cp "$tmp/w.safetensors.ckpt" "$corpus/safetensors/seed-checkpoint.safetensors"
cp "$root/tests/golden/nn/cascade_tiny.safetensors" "$corpus/safetensors/seed-cascade-golden.safetensors"
"$py" - "$corpus/safetensors" <<'EOF'
import json, struct, sys
def write(path, header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)
w = struct.pack("<6f", *[0.5 * i - 1 for i in range(6)])
b = struct.pack("<4f", 0, -1, -2, -3)
write(sys.argv[1] + "/seed-two-tensors.safetensors",
      {"__metadata__": {"format": "pt", "arch": "test"},
       "layer.0.weight": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
       "layer.0.bias": {"dtype": "F32", "shape": [4], "data_offsets": [24, 40]}}, w + b)
EOF

# HDF5: tiny fastMRI files (h5py, as tests/golden/io/make_golden.py writes
# them), an `image` dataset holding a phantom that mrbench exports, and
# committed bad files
"$py" - "$corpus/h5" <<'EOF'
import sys
import h5py
import numpy as np
out = sys.argv[1]
k = (np.arange(2 * 2 * 3 * 4) + 1j * np.arange(2 * 2 * 3 * 4)[::-1]).astype(np.complex64).reshape(2, 2, 3, 4)
rss = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
with h5py.File(out + "/seed-fastmri-multicoil.h5", "w") as f:
    f.create_dataset("kspace", data=k)
    f.create_dataset("reconstruction_rss", data=rss)
    f.attrs["ismrmrd_header"] = "<ismrmrdHeader><encoding/></ismrmrdHeader>"
    f.attrs["acquisition"] = "CORPD_FBK"
    f.attrs["max"] = 0.5
    f.attrs["norm"] = 12.25
    f.attrs["patient_id"] = "mrbench-synthetic"
with h5py.File(out + "/seed-fastmri-singlecoil.h5", "w") as f:
    f.create_dataset("kspace", data=k[:, 1])
    f.create_dataset("reconstruction_esc", data=rss)
    f.attrs["ismrmrd_header"] = np.bytes_(b"<ismrmrdHeader/>")
EOF
"$mrbench" export shepp-logan --param size=8 --param cases=1 --out "$tmp/sl" >/dev/null
"$py" - "$tmp/sl_image.nii.gz" "$corpus/h5/seed-image.h5" <<'EOF'
import sys
import h5py
import nibabel as nib
import numpy as np
img = np.abs(np.asarray(nib.load(sys.argv[1]).dataobj)).astype(np.float32).T  # HDF5: reversed axes
with h5py.File(sys.argv[2], "w") as f:
    f.create_dataset("image", data=img)
EOF
for f in h5_kspace_float h5_kspace_int64 h5_rss_wrong_slices h5_no_kspace; do
  cp "$root/tests/golden/io/bad/$f.h5" "$corpus/h5/seed-bad-$f.h5"
done

# ISMRMRD: minimal files in the layout of ismrmrd_generate_cartesian_shepp_logan
# (the reader converts by member name; the generator's own files are 20+ kB):
# fully sampled; accelerated with a noise scan, a reversed line, two slices
# and a second repetition; and the reader's error cases
"$py" - "$corpus/ismrmrd" <<'EOF'
import sys
import h5py
import numpy as np
out = sys.argv[1]
idx = np.dtype([("kspace_encode_step_1", "<u2"), ("kspace_encode_step_2", "<u2"), ("average", "<u2"),
                ("slice", "<u2"), ("contrast", "<u2"), ("phase", "<u2"), ("repetition", "<u2"), ("set", "<u2"),
                ("segment", "<u2")])
head = np.dtype([("version", "<u2"), ("flags", "<u8"), ("number_of_samples", "<u2"),
                 ("available_channels", "<u2"), ("active_channels", "<u2"), ("idx", idx)])
vf = h5py.vlen_dtype(np.dtype("<f4"))
acq = np.dtype([("head", head), ("traj", vf), ("data", vf)])
xml = ('<?xml version="1.0"?><ismrmrdHeader><encoding><encodedSpace><matrixSize><x>8</x><y>%d</y><z>1</z>'
       '</matrixSize></encodedSpace></encoding></ismrmrdHeader>')
NOISE, REVERSE = 1 << 18, 1 << 21
def line(y, slice=0, flags=0, rep=0, step2=0, nx=8, nc=2, floats=None):
    return dict(y=y, slice=slice, flags=flags, rep=rep, step2=step2, nx=nx, nc=nc,
                floats=2 * nx * nc if floats is None else floats)
def write(name, lines, ny=4):
    a = np.zeros(len(lines), dtype=acq)
    for i, l in enumerate(lines):
        h = a[i]["head"]
        h["version"], h["flags"] = 1, l["flags"]
        h["number_of_samples"], h["available_channels"], h["active_channels"] = l["nx"], l["nc"], l["nc"]
        h["idx"]["kspace_encode_step_1"], h["idx"]["kspace_encode_step_2"] = l["y"], l["step2"]
        h["idx"]["slice"], h["idx"]["repetition"] = l["slice"], l["rep"]
        a[i]["traj"] = np.zeros(0, dtype="<f4")
        a[i]["data"] = (np.arange(l["floats"]) + 100 * i).astype("<f4")
    with h5py.File(out + "/" + name, "w") as f:
        g = f.create_group("dataset")
        g.create_dataset("data", data=a)
        g.create_dataset("xml", data=[(xml % ny).encode()], dtype=h5py.string_dtype())
write("seed-full.h5", [line(y) for y in range(4)])
write("seed-accel.h5", [line(0, flags=NOISE), line(0), line(2, flags=REVERSE), line(1, slice=1), line(3, rep=1)])
write("seed-bad-3d.h5", [line(0), line(1, step2=1)])
write("seed-bad-step1-outside.h5", [line(0), line(4)])
write("seed-bad-samples-mismatch.h5", [line(0), line(1, nx=4)])
write("seed-bad-data-short.h5", [line(0), line(1, floats=6)])
EOF
cp "$root/tests/golden/io/bad/ismrmrd_data_not_compound.h5" "$corpus/ismrmrd/seed-bad-data-not-compound.h5"
du -sh "$corpus"/*
