#!/usr/bin/env bash
# End to end: the quickstart writes results.json, cases.jsonl, report.md and a
# PNG plot; two runs with one seed give identical metrics; a run killed
# mid-way (and a journal with a torn last line) resumes to the same metrics.
set -u
mrbench=$1 src=$2
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }

"$mrbench" run --out "$tmp/a" --threads 2 --quiet >"$tmp/a.log" 2>&1
rc=$?
check "quickstart run exits 0 ($(tail -3 "$tmp/a.log"))" '[ $rc -eq 0 ]'
for f in results.json cases.jsonl report.md; do check "quickstart wrote $f" "[ -s '$tmp/a/$f' ]"; done
if command -v gnuplot >/dev/null; then
  check "quickstart drew a PNG plot" "ls '$tmp'/a/*.png >/dev/null 2>&1 && head -c 8 '$tmp'/a/*.png | od -c | grep -q 'P   N   G'"
fi
check "results.json validates against the schema" "$py '$src/results/validate_results.py' '$tmp/a/results.json' >'$tmp/schema.log' 2>&1 || { cat '$tmp/schema.log'; false; }"

metrics() { $py - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["cases"]:
    for it in c["items"]:
        print(c["key"], it["id"], json.dumps(it["metrics"], sort_keys=True), it["achieved_acceleration"])
PY
}
"$mrbench" run --out "$tmp/b" --threads 1 --quiet >/dev/null 2>&1
metrics "$tmp/a/results.json" >"$tmp/ma"
metrics "$tmp/b/results.json" >"$tmp/mb"
check "two runs with one seed give identical metrics" "cmp -s '$tmp/ma' '$tmp/mb' && [ -s '$tmp/ma' ]"

# A journal cut after two cases with a torn third line resumes to the same results.
mkdir -p "$tmp/c"
head -n 4 "$tmp/a/cases.jsonl" >"$tmp/c/cases.jsonl"
sed -n 5p "$tmp/a/cases.jsonl" | head -c 100 >>"$tmp/c/cases.jsonl"
"$mrbench" run --out "$tmp/c" --resume --threads 1 >"$tmp/c.log" 2>&1
check "resume after a torn journal exits 0" '[ $? -eq 0 ]'
check "resume reports resumed cases" "grep -q 'resumed from the journal' '$tmp/c.log' && ! grep -q ' 0 resumed' '$tmp/c.log'"
metrics "$tmp/c/results.json" >"$tmp/mc"
check "resumed results equal an uninterrupted run" "cmp -s '$tmp/ma' '$tmp/mc'"

# A run killed with SIGKILL after its first journaled case resumes to the same results.
"$mrbench" run --out "$tmp/d" --threads 1 --quiet >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  grep -q '"event":"case"' "$tmp/d/cases.jsonl" 2>/dev/null && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
"$mrbench" run --out "$tmp/d" --resume --threads 1 --quiet >/dev/null 2>&1
check "resume after SIGKILL exits 0" '[ $? -eq 0 ]'
metrics "$tmp/d/results.json" >"$tmp/md"
check "results after SIGKILL + resume equal an uninterrupted run" "cmp -s '$tmp/ma' '$tmp/md'"

# A journal from another suite is refused.
"$mrbench" run "$src/tests/suites/resume-other.json" --out "$tmp/a" --resume --quiet >/dev/null 2>"$tmp/e.err"
check "resume with another suite's journal exits 2" "[ $? -eq 2 ] && grep -q 'different suite' '$tmp/e.err'"

# report regenerates from results.json; a corrupted or newer results file is refused.
"$mrbench" report "$tmp/a/results.json" --out "$tmp/r" >/dev/null 2>&1
check "report from results.json" "[ -s '$tmp/r/report.md' ]"
head -c 500 "$tmp/a/results.json" >"$tmp/bad.json"
"$mrbench" report "$tmp/bad.json" >/dev/null 2>"$tmp/f.err"
check "truncated results refused with exit 2" "[ $? -eq 2 ] && grep -q 'not valid JSON' '$tmp/f.err'"
$py -c "import json,sys; r=json.load(open('$tmp/a/results.json')); r['schema_version']=99; json.dump(r, open('$tmp/new.json','w'))"
"$mrbench" report "$tmp/new.json" >/dev/null 2>"$tmp/g.err"
check "newer schema refused with exit 2" "[ $? -eq 2 ] && grep -q 'newer than this mrbench' '$tmp/g.err'"

# --device gpu without a usable GPU exits 3.
"$mrbench" run --device gpu --out "$tmp/g" --quiet >/dev/null 2>"$tmp/h.err"
check "--device gpu without a GPU exits 3" "[ $? -eq 3 ]"

echo "quickstart/resume: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
