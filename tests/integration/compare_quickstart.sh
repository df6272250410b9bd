#!/usr/bin/env bash
# mrbench compare end to end: five reruns of the quickstart compared with the
# first are never a regression (exit 0, no WORSE verdict); a copy of a run
# with a planted 0.5 dB PSNR drop in one case is (exit 1, WORSE for that case
# only); --json writes the comparison; a case ok in BASE that failed, is
# missing or has only null metrics in NEW is a regression (exit 1, named on
# stderr and in the JSON), one only in NEW or failed in BASE is not; runs of
# different suites are refused (exit 2) unless --force; corrupted and newer
# results are refused (exit 2).
set -u
mrbench=$1 src=$2
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }

for i in 1 2 3 4 5; do
  "$mrbench" run --out "$tmp/run$i" --threads 1 --quiet >"$tmp/run$i.log" 2>&1
  rc=$?
  check "quickstart run $i exits 0 ($(tail -2 "$tmp/run$i.log"))" '[ $rc -eq 0 ]'
done
for i in 2 3 4 5; do
  "$mrbench" compare "$tmp/run1/results.json" "$tmp/run$i/results.json" --json "$tmp/cmp$i.json" >"$tmp/cmp$i.md" 2>"$tmp/cmp$i.err"
  check "rerun $i is not a regression (exit 0)" "[ $? -eq 0 ] && ! grep -q 'WORSE' '$tmp/cmp$i.md'"
  check "rerun $i: JSON written with no regression" \
    "$py -c \"import json,sys; c=json.load(open('$tmp/cmp$i.json')); sys.exit(c['summary']['regressions'] != 0 or c['summary']['comparisons'] == 0)\""
done

# A planted 0.5 dB PSNR drop in one case of a copy of run 1.
$py - "$tmp/run1/results.json" "$tmp/drop.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
case = r["cases"][1]
for item in case["items"]:
    item["metrics"]["psnr"] -= 0.5
case["metrics"]["psnr"]["mean"] -= 0.5
json.dump(r, open(sys.argv[2], "w"))

PY
key=$($py -c "import json; print(json.load(open('$tmp/run1/results.json'))['cases'][1]['key'])")
"$mrbench" compare "$tmp/run1/results.json" "$tmp/drop.json" --json "$tmp/drop_cmp.json" >"$tmp/drop.md" 2>"$tmp/drop.err"
check "planted 0.5 dB drop exits 1" '[ $? -eq 1 ]'
check "planted drop: WORSE for psnr of $key only" \
  "grep -q \"| $key | psnr .*WORSE\" '$tmp/drop.md' && [ \$(grep -c 'WORSE' '$tmp/drop.md') -eq 1 ]"
check "planted drop: stderr names the regression" "grep -q 'regression' '$tmp/drop.err'"
"$mrbench" compare "$tmp/run1/results.json" "$tmp/drop.json" --tol psnr=0.6 >/dev/null 2>&1
check "the drop within --tol psnr=0.6 exits 0" '[ $? -eq 0 ]'
"$mrbench" compare "$tmp/drop.json" "$tmp/run1/results.json" >"$tmp/better.md" 2>&1
check "the reverse (a gain) exits 0 with BETTER" "[ $? -eq 0 ] && grep -q 'BETTER' '$tmp/better.md'"

# Lost cases: failed, missing or without metric values in NEW.
$py - "$tmp/run1/results.json" "$tmp" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
def load():
    return json.load(open(src))
def fail(c):
    c["status"] = "failed"
    c["error"] = "bart-pics: the bart program 'bart' was not found"
    for k in ("metrics", "timing", "achieved_acceleration"):
        c.pop(k, None)
    for it in c["items"]:
        it["metrics"] = {}
def save(r, name):
    json.dump(r, open(out + "/" + name + ".json", "w"))
r = load(); fail(r["cases"][2]); save(r, "failed")
r = load(); del r["cases"][2]; save(r, "missing")
r = load()
for it in r["cases"][2]["items"]:
    it["metrics"] = {m: None for m in it["metrics"]}
save(r, "nulls")
PY
key2=$($py -c "import json; print(json.load(open('$tmp/run1/results.json'))['cases'][2]['key'])")
lost_only() { $py -c "import json,sys; c=json.load(open('$1')); sys.exit(not (c['summary']['regressions'] == 1 and [l['case'] for l in c['lost']] == ['$key2']))"; }
for kind in failed missing nulls; do
  "$mrbench" compare "$tmp/run1/results.json" "$tmp/$kind.json" --json "$tmp/$kind.cmp.json" >"$tmp/$kind.md" 2>"$tmp/$kind.err"
  check "a case $kind in NEW exits 1" '[ $? -eq 1 ]'
  check "a case $kind in NEW: stderr names it" "grep -qF \"lost case '$key2'\" '$tmp/$kind.err'"
  check "a case $kind in NEW: the JSON lists it, and only it, as lost" "lost_only '$tmp/$kind.cmp.json'"
done
check "failed in NEW: the reason carries NEW's error" "grep -q 'failed in NEW: bart-pics' '$tmp/failed.err'"
check "missing from NEW: the reason says so" "grep -q 'missing from NEW' '$tmp/missing.err'"
check "null metrics in NEW: the reason says so" "grep -q 'no metric values in NEW' '$tmp/nulls.err'"
"$mrbench" compare "$tmp/missing.json" "$tmp/run1/results.json" >/dev/null 2>&1
check "a case only in NEW is not a regression (exit 0)" '[ $? -eq 0 ]'
"$mrbench" compare "$tmp/failed.json" "$tmp/run1/results.json" >/dev/null 2>&1
check "a case failed in BASE and ok in NEW is not a regression (exit 0)" '[ $? -eq 0 ]'
"$mrbench" compare "$tmp/failed.json" "$tmp/failed.json" >"$tmp/both.md" 2>&1
check "a case failed in both is not a regression (exit 0)" "[ \$? -eq 0 ] && grep -q 'failed in both runs' '$tmp/both.md'"

# Refusals.
"$mrbench" compare "$tmp/run1/results.json" "$src/tests/golden/report/run_cine_a.json" >/dev/null 2>"$tmp/suite.err"
check "another suite is refused with exit 2" "[ $? -eq 2 ] && grep -q 'different suites' '$tmp/suite.err'"
"$mrbench" compare "$tmp/run1/results.json" "$src/tests/golden/report/run_cine_a.json" --force >"$tmp/forced.md" 2>"$tmp/forced.err"
check "--force compares anyway and warns; BASE's cases absent from NEW are lost (exit 1)" \
  "[ $? -eq 1 ] && grep -q 'warning (--force)' '$tmp/forced.md' && grep -q 'missing from NEW' '$tmp/forced.err'"
head -c 300 "$tmp/run1/results.json" >"$tmp/cut.json"
"$mrbench" compare "$tmp/run1/results.json" "$tmp/cut.json" >/dev/null 2>"$tmp/cut.err"
check "a truncated results file is refused with exit 2" "[ $? -eq 2 ] && grep -q 'not valid JSON' '$tmp/cut.err'"
$py -c "import json; r=json.load(open('$tmp/run1/results.json')); r['schema_version']=2; json.dump(r, open('$tmp/new.json','w'))"
"$mrbench" compare "$tmp/new.json" "$tmp/run1/results.json" >/dev/null 2>"$tmp/new.err"
check "a newer schema is refused with exit 2" "[ $? -eq 2 ] && grep -q 'newer than this mrbench' '$tmp/new.err'"
"$mrbench" compare "$tmp/run1/results.json" >/dev/null 2>"$tmp/usage.err"
check "one file is a usage error (exit 2)" "[ $? -eq 2 ]"

echo "compare_quickstart: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
