#!/usr/bin/env bash
# mrbench run on a tiny suite, end to end: a --filter that matches no case
# exits 2 with one line and leaves an earlier run's files untouched; --resume
# reruns the cases the journal holds as failed (and keeps the ok ones) to the
# results of an uninterrupted run; the largest seed, 2^53 - 1, is written as
# that exact integer in results.json and cases.jsonl, also after a resume.
set -u
mrbench=$1 src=$2
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }

cat >"$tmp/tiny.json" <<'EOF'
{"mrbench_suite": 1, "name": "tiny", "seed": 9007199254740991,
 "datasets": [{"id": "sl", "generator": "shepp-logan", "params": {"size": 32, "cases": 2}}],
 "sampling": [{"id": "r4", "sampler": "cartesian-vd", "params": {"acceleration": 4}}],
 "methods": [{"id": "zf", "method": "zero-filling"}, {"id": "cs", "method": "cs-wavelet", "params": {"iterations": 5}}],
 "metrics": ["psnr"], "timing": {"warmup": 0, "repeats": 1}}
EOF
metrics() { $py - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["cases"]:
    for it in c["items"]:
        print(c["key"], c["status"], it["id"], json.dumps(it["metrics"], sort_keys=True))
PY
}

"$mrbench" run "$tmp/tiny.json" --out "$tmp/a" --threads 1 --quiet >"$tmp/a.log" 2>&1
rc=$?
check "tiny suite runs ($(tail -2 "$tmp/a.log"))" '[ $rc -eq 0 ]'
metrics "$tmp/a/results.json" >"$tmp/ma"

# --filter matching nothing: exit 2, one line naming the filter and the case count, nothing written.
cp -r "$tmp/a" "$tmp/keep"
"$mrbench" run "$tmp/tiny.json" --out "$tmp/a" --filter 'sl/r4/nothing*' >"$tmp/f.out" 2>"$tmp/f.err"
check "--filter matching no case exits 2" '[ $? -eq 2 ]'
check "its message is one line naming the filter and the 2 cases" \
  "[ \$(wc -l <'$tmp/f.err') -eq 1 ] && grep -qF \"'sl/r4/nothing*' matches none of the 2 cases\" '$tmp/f.err'"
check "results.json, cases.jsonl and report.md are untouched" \
  "cmp -s '$tmp/a/results.json' '$tmp/keep/results.json' && cmp -s '$tmp/a/cases.jsonl' '$tmp/keep/cases.jsonl' && cmp -s '$tmp/a/report.md' '$tmp/keep/report.md'"
"$mrbench" run "$tmp/tiny.json" --out "$tmp/none" --filter 'x*' --resume --quiet >/dev/null 2>&1
check "--filter matching no case creates no output folder" "[ \$? -eq 2 ] && [ ! -e '$tmp/none' ]"
"$mrbench" run "$tmp/tiny.json" --out "$tmp/g" --filter '*/zf' >/dev/null 2>"$tmp/g.err"
check "--filter matching one case runs it and says so" \
  "[ \$? -eq 0 ] && grep -q '1 of 2 cases match' '$tmp/g.err' && [ \$($py -c \"import json; print(len(json.load(open('$tmp/g/results.json'))['cases']))\") -eq 1 ]"

# Exact seeds: the suite seed 2^53 - 1 and the dataset's derived seed are integers in the text.
check "results.json holds the suite seed exactly" \
  "[ \$(grep -c '\"seed\":[[:space:]]*9007199254740991[,}]*\$' '$tmp/a/results.json') -eq 2 ]"
check "cases.jsonl start line holds the suite seed exactly" "head -1 '$tmp/a/cases.jsonl' | grep -q '\"seed\":9007199254740991}'"
seeds_exact() { $py - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
seeds = [r["suite"]["seed"], r["suite"]["definition"]["seed"]] + [d["seed"] for d in r["datasets"]]
ok = seeds[:2] == [2**53 - 1] * 2 and all(type(s) is int and 0 <= s < 2**53 for s in seeds)
sys.exit(0 if ok and len(seeds) == 3 else 1)
PY
}
check "every seed in results.json reads back as an exact integer" "seeds_exact '$tmp/a/results.json'"
check "results.json validates against the schema" "$py '$src/results/validate_results.py' '$tmp/a/results.json' >/dev/null"

# Resume retries failed cases: the journal says the cs case failed (as when an
# external tool was missing); --resume reruns it and keeps the zf case.
mkdir -p "$tmp/r"
$py - "$tmp/a/cases.jsonl" "$tmp/r/cases.jsonl" <<'PY'
import json, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["event"] == "case" and o["key"] == "sl/r4/cs":
        c = o["case"]
        for k in ("metrics", "timing", "achieved_acceleration"):
            c.pop(k, None)
        for it in c["items"]:
            it["metrics"] = {}
        c["status"] = "failed"
        c["error"] = "cs-wavelet: a tool was missing"
        line = json.dumps(o, separators=(",", ":")) + "\n"
    out.write(line)
PY
zf_line=$(grep '"key":"sl/r4/zf"' "$tmp/r/cases.jsonl")
"$mrbench" run "$tmp/tiny.json" --out "$tmp/r" --resume --threads 1 >"$tmp/r.log" 2>&1
rc=$?
check "resume after a failed case exits 0 ($(tail -1 "$tmp/r.log"))" '[ $rc -eq 0 ]'
check "resume reran the failed case and kept the ok one" \
  "grep -q '1 case(s) run (1 failed before: retried), 1 resumed' '$tmp/r.log'"
metrics "$tmp/r/results.json" >"$tmp/mr"
check "results after retrying equal an uninterrupted run" "cmp -s '$tmp/ma' '$tmp/mr'"
check "the ok case's journal line is unchanged" "grep -qxF '$zf_line' '$tmp/r/cases.jsonl'"
check "the journal keeps the failure and appends the retry" \
  "[ \$(grep -c '\"key\":\"sl/r4/cs\"' '$tmp/r/cases.jsonl') -eq 2 ] && tail -1 '$tmp/r/cases.jsonl' | grep -q '\"status\":\"ok\"'"
"$mrbench" run "$tmp/tiny.json" --out "$tmp/r" --resume --threads 1 >"$tmp/r2.log" 2>&1
check "a second resume runs nothing: the retry's ok line stands" \
  "[ \$? -eq 0 ] && grep -q '0 case(s) run, 2 resumed' '$tmp/r2.log'"
check "seeds stay exact after a resume (dataset record read back from the journal)" "seeds_exact '$tmp/r/results.json'"

# With bart installed: a case that failed because bart was not on PATH is
# retried by --resume once it is.
if command -v bart >/dev/null; then
  sed 's/"cs", "method": "cs-wavelet", "params": {"iterations": 5}/"bart", "method": "bart-pics", "params": {"iterations": 5}/' \
    "$tmp/tiny.json" >"$tmp/bart.json"
  mkdir -p "$tmp/emptybin"
  PATH="$tmp/emptybin" "$mrbench" run "$tmp/bart.json" --out "$tmp/b" --threads 1 --quiet >/dev/null 2>&1
  check "without bart on PATH the bart case fails (exit 1)" '[ $? -eq 1 ]'
  "$mrbench" run "$tmp/bart.json" --out "$tmp/b" --resume --threads 1 >"$tmp/b.log" 2>&1
  check "with bart on PATH --resume retries it ($(tail -1 "$tmp/b.log"))" \
    "[ \$? -eq 0 ] && grep -q '1 case(s) run (1 failed before: retried)' '$tmp/b.log'"
else
  echo "note: bart not installed; the bart retry check is skipped"
fi

echo "run_journal: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
