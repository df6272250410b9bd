#!/usr/bin/env bash
# mrbench train end to end on tiny phantoms (2D+t cine 32x32x4 and 2D
# Shepp-Logan 32x32, n_c 1, n_f 4): usage errors and refusals exit 2 with a
# one-line message; training writes weights and checkpoint; --resume continues
# from the checkpoint and gives byte-identical weights to an uninterrupted run;
# `mrbench run` on the same suite then evaluates the trained network; a list
# of sampling patterns trains on mixed accelerations.
# Usage: train_cli.sh MRBENCH_BINARY SOURCE_DIR
set -u
mrbench=$1
name=train_cli
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
cd "$tmp" || exit 1

cat > cine.json <<'EOF'
{"mrbench_dataset": 1, "name": "cine-tiny", "description": "tiny cine phantoms for the train test",
 "generator": "cine", "params": {"size": 32, "frames": 4, "cases": 6, "coils": 1},
 "splits": {"train": [0, 1, 2], "val": [3], "test": [4, 5]}, "licence": "generated; CC0"}
EOF
cat > sl.json <<'EOF'
{"mrbench_dataset": 1, "name": "sl-tiny", "description": "tiny Shepp-Logan phantoms for the train test",
 "generator": "shepp-logan", "params": {"size": 32, "cases": 6, "variation": 0.2, "supersample": 1},
 "splits": {"train": [0, 1, 2, 3], "val": [4], "test": [5]}, "licence": "generated; CC0"}
EOF
# suite MANIFEST METHOD WEIGHTS_PARAM TRAINING_WEIGHTS TEMPORAL [TRAINED_METHOD_ID]
suite() {
  cat <<EOF
{"mrbench_suite": 1, "name": "train-tiny", "seed": 5,
 "datasets": [{"id": "d", "manifest": "$1", "split": "test"}],
 "sampling": [{"id": "r4", "sampler": "cartesian-vd", "params": {"acceleration": 4, "centre_lines": 2}}],
 "methods": [{"id": "zf", "method": "zero-filling"},
             {"id": "net", "method": "$2", "params": {"weights": "$3"}}],
 "metrics": ["psnr"], "timing": {"warmup": 0, "repeats": 1},
 "training": {"dataset": "d", "sampling": "r4", "method": "${6:-net}",
              "architecture": {"temporal": $5, "n_c": 1, "n_d": 2, "n_f": 4},
              "epochs": 2, "batch_size": 2, "weights": "$4"}}
EOF
}
suite cine.json cascade-2dt w/a.safetensors w/a.safetensors true > a.json
suite cine.json cascade-2dt w/b.safetensors w/b.safetensors true > b.json
suite cine.json cascade-2dt w/a.safetensors w/other.safetensors true > mismatch.json
suite cine.json cascade-2dt w/a.safetensors w/a.safetensors true zf > notcascade.json
suite cine.json cascade-2dt w/a.safetensors w/a.safetensors false > wrongarch.json
suite sl.json cascade-2d w/s.safetensors w/s.safetensors false > sl2d.json
cat > notraining.json <<'EOF'
{"mrbench_suite": 1, "name": "no-training", "seed": 5,
 "datasets": [{"id": "d", "manifest": "cine.json", "split": "test"}],
 "sampling": [{"id": "r4", "sampler": "cartesian-vd", "params": {"acceleration": 4}}],
 "methods": [{"id": "net", "method": "cascade-2dt", "params": {"weights": "w/a.safetensors"}}],
 "metrics": ["psnr"]}
EOF

refuses() { # label, expected message fragment, args...
  local label=$1 frag=$2
  shift 2
  "$mrbench" train "$@" >out.log 2>err.log
  local rc=$?
  check "$label exits 2 (got $rc: $(head -c 300 err.log))" "[ $rc -eq 2 ]"
  check "$label says '$frag' on one line ($(cat err.log))" "[ \$(wc -l < err.log) -eq 1 ] && grep -q \"$frag\" err.log"
}
refuses "no suite" "expected one suite file"
refuses "bad option" "unknown or incomplete option" a.json --bogus
refuses "bad --epochs" "epochs takes an integer" a.json --epochs 0
refuses "bad --device" "device takes cpu or gpu" a.json --device tpu
check "notraining.json is a valid suite" "'$mrbench' validate notraining.json >/dev/null 2>&1"
refuses "suite without training" "has no 'training' section" notraining.json
refuses "method not a cascade" "only cascade-2d and cascade-2dt can be trained" notcascade.json
refuses "2D architecture for cascade-2dt" "temporal is false but method" wrongarch.json
refuses "weights param naming another file" "must name the file training.weights writes" mismatch.json
# an unwritable weights file is found before training, not after the last epoch
mkdir -p ro && chmod 555 ro
suite cine.json cascade-2dt ro/a.safetensors ro/a.safetensors true > ro.json
if [ "$(id -u)" -ne 0 ]; then
  refuses "an unwritable weights folder" "cannot write" ro.json
fi
suite cine.json cascade-2dt /proc/mrbench-w.safetensors /proc/mrbench-w.safetensors true > proc.json
refuses "weights under /proc" "cannot" proc.json

"$mrbench" train a.json --threads 2 --epochs 1 >out.log 2>err.log
rc=$?
check "train --epochs 1 exits 0 ($(tail -2 err.log))" '[ $rc -eq 0 ]'
check "weights written" '[ -s w/a.safetensors ]'
check "checkpoint written next to them" '[ -s w/a.safetensors.ckpt ]'
check "plain progress reports validation PSNR" 'grep -q "epoch 1/1: step [0-9]*, mean loss .*validation PSNR [0-9.-]* dB" err.log'
check "stdout names the weights" 'grep -q "^weights: *.*w/a.safetensors" out.log'

"$mrbench" train a.json --threads 2 --resume >out.log 2>err.log
rc=$?
check "train --resume exits 0 ($(tail -2 err.log))" '[ $rc -eq 0 ]'
check "--resume skips the finished epoch" 'grep -q "epoch 2/2" err.log && ! grep -q "epoch 1/2" err.log'
"$mrbench" train b.json --threads 2 --quiet >out.log 2>err.log
rc=$?
check "uninterrupted 2-epoch training exits 0 ($(tail -2 err.log))" '[ $rc -eq 0 ]'
check "--quiet prints nothing on stderr" '[ ! -s err.log ]'
# safetensors: 8-byte header length, JSON header (tensors and __metadata__), tensor bytes
st_py='import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]'
check "resumed and uninterrupted training give identical weights (tensor bytes and hash)" \
  "/usr/bin/python3 -c '$st_py
(ha, ta), (hb, tb) = load(\"w/a.safetensors\"), load(\"w/b.safetensors\")
sys.exit(not (ta == tb and ha[\"__metadata__\"][\"weights_fnv1a64\"] == hb[\"__metadata__\"][\"weights_fnv1a64\"]))'"
check "the weights record how they were trained (provenance, training, steps)" \
  "/usr/bin/python3 -c '$st_py
m = load(\"w/b.safetensors\")[0][\"__metadata__\"]
p, t = json.loads(m[\"provenance\"]), json.loads(m[\"training\"])
ok = p[\"build\"][\"mrbench_version\"] and p[\"run\"][\"device\"] == \"cpu\" and p[\"run\"][\"command\"].startswith(\"mrbench train b.json\")
ok = ok and t[\"suite\"] == \"train-tiny\" and t[\"seed\"] and t[\"epochs\"] == 2 and t[\"sampling\"] == [\"r4\"]
ok = ok and m[\"training_epochs\"] == \"2\" and int(m[\"training_steps\"]) > 0
sys.exit(not ok)'"

"$mrbench" run a.json --out run --threads 2 --quiet >run.log 2>&1
rc=$?
check "mrbench run evaluates the trained suite ($(tail -2 run.log))" '[ $rc -eq 0 ] && [ -s run/results.json ]'
check "results hold the cascade case" 'grep -q "d/r4/net" run/results.json'
want=$(sha256sum w/a.safetensors | cut -d' ' -f1)
got=$(/usr/bin/python3 -c "import json; c=[c for c in json.load(open('run/results.json'))['cases'] if c['method']=='net'][0]; print(c['method_files_sha256']['weights'])" 2>&1)
check "results name the evaluated network by its SHA-256 ($got)" "[ '$got' = '$want' ]"

# mixed accelerations: training.sampling lists two patterns, each mask drawn from one
suite cine.json cascade-2dt w/m.safetensors w/m.safetensors true |
  sed -e 's/"sampling": "r4"/"sampling": ["r4", "r8"]/' \
      -e 's/"centre_lines": 2}}\]/"centre_lines": 2}}, {"id": "r8", "sampler": "cartesian-vd", "params": {"acceleration": 8, "centre_lines": 2}}]/' > mixed.json
"$mrbench" train mixed.json --threads 2 --epochs 1 >out.log 2>err.log
rc=$?
check "training with two sampling patterns exits 0 ($(tail -2 err.log))" '[ $rc -eq 0 ] && [ -s w/m.safetensors ]'
check "it names both patterns" "grep -q \"masks 'r4', 'r8' (one drawn per mask)\" err.log"

"$mrbench" train sl2d.json --threads 2 --epochs 1 --quiet >out.log 2>err.log
rc=$?
check "2D training on Shepp-Logan exits 0 ($(tail -2 err.log))" '[ $rc -eq 0 ] && [ -s w/s.safetensors ]'

# --device gpu: exits 3 with one line naming the reason where no GPU is usable
# (MRB_EXPECT_GPU=1 makes that a failure); with a GPU, trains and gives the
# CPU's PSNR in `mrbench run` to float rounding.
sed -e 's#w/s.safetensors#w/g.safetensors#g' sl2d.json > gpu.json
"$mrbench" train gpu.json --device gpu --threads 2 --epochs 1 --quiet >out.log 2>err.log
rc=$?
if [ $rc -eq 3 ] && [ "${MRB_EXPECT_GPU:-0}" != 1 ]; then
  check "--device gpu without a GPU says why on one line ($(cat err.log))" \
    '[ $(wc -l < err.log) -eq 1 ] && grep -q "device" err.log && [ ! -e w/g.safetensors ]'
else
  check "train --device gpu exits 0 ($(tail -2 err.log))" "[ $rc -eq 0 ] && [ -s w/g.safetensors ]"
  "$mrbench" run sl2d.json --out run-cpu --threads 2 --quiet >/dev/null 2>&1
  "$mrbench" run gpu.json --out run-gpu --threads 2 --quiet >/dev/null 2>&1
  psnr() { /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print([c for c in r["cases"] if c["method"]=="net"][0]["metrics"]["psnr"]["mean"])' "$1"; }
  check "GPU-trained and CPU-trained PSNR agree within 0.02 dB ($(psnr run-gpu/results.json) vs $(psnr run-cpu/results.json))" \
    "/usr/bin/python3 -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 0.02)' $(psnr run-gpu/results.json) $(psnr run-cpu/results.json)"
fi

echo "$name: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
