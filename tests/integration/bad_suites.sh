#!/usr/bin/env bash
# Every malformed suite makes `mrbench validate` and `mrbench run` exit 2 with
# exactly one line on stderr naming the problem; none crashes.
set -u
mrbench=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
while IFS=$'\t' read -r file want; do
  case "$file" in ''|\#*) continue ;; esac
  for cmd in validate run; do
    n=$((n + 1))
    if [ "$cmd" = validate ]; then
      "$mrbench" validate "$src/tests/suites/bad/$file" >/dev/null 2>"$tmp/err" </dev/null
    else
      "$mrbench" run "$src/tests/suites/bad/$file" --out "$tmp/out" >/dev/null 2>"$tmp/err" </dev/null
    fi
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$tmp/err"; then
      echo "FAIL $cmd $file: exit $rc, $lines stderr line(s): $(head -c 300 "$tmp/err")"
      fail=$((fail + 1))
    fi
  done
done <"$src/tests/suites/bad/expected.tsv"
echo "bad suites: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
