#!/usr/bin/env bash
# The leaderboard of the committed results files (tests/golden/report/) is
# written as Markdown, CSV, JSON and HTML; the HTML page opens in headless
# Chromium without console errors and without any request made by the page
# (Chromium's own background requests are told apart by their initiator);
# the rendered DOM holds the ranking table with its rows, and a screenshot
# shows a rendered (not blank) page. Skipped with a message when chromium is
# absent (ci/packages.txt installs it).
set -u
mrbench=$1 src=$2
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }

"$mrbench" leaderboard "$src/tests/golden/report/run_cine_a.json" "$src/tests/golden/report/run_cine_b.json" \
  --out "$tmp/lb" --seed 3 --resamples 200 >"$tmp/lb.log" 2>&1
rc=$?
check "leaderboard exits 0 ($(tail -2 "$tmp/lb.log"))" '[ $rc -eq 0 ]'
for f in leaderboard.md leaderboard.csv leaderboard.json leaderboard.html; do check "wrote $f" "[ -s '$tmp/lb/$f' ]"; done
check "Markdown ranks cnn first" "grep -q '^| 1 | cnn | report/run_cine_b.json |' '$tmp/lb/leaderboard.md'"
check "tied entries share the average rank" "[ \$(grep -c '^| 3.5 | zf \[' '$tmp/lb/leaderboard.md') -ge 2 ]"
"$mrbench" leaderboard "$src/tests/golden/report/run_cine_a.json" "$src/tests/golden/report/run_cine_b.json" \
  --out "$tmp/lb2" --seed 3 --resamples 200 >/dev/null 2>&1
check "the same seed gives the same leaderboard" "cmp -s '$tmp/lb/leaderboard.json' '$tmp/lb2/leaderboard.json'"
"$mrbench" leaderboard "$src/tests/golden/report/run_cine_a.json" "$tmp/missing.json" --out "$tmp/lb3" >/dev/null 2>"$tmp/e.err"
check "a missing submission exits 2" "[ $? -eq 2 ] && grep -q 'missing.json' '$tmp/e.err'"

# Prediction folders (NIfTI written by nibabel, an independent writer) scored
# against a reference folder: the perfect copy ranks first.
if $py -c "import nibabel, numpy" 2>/dev/null; then
  $py - "$tmp/seg" <<'PY'
import os, sys
import nibabel as nib
import numpy as np
root = sys.argv[1]
for sub, shift in (("ref", 0), ("good", 0), ("off", 2)):
    os.makedirs(os.path.join(root, sub))
    for case in ("p1", "p2", "p3"):
        lab = np.zeros((16, 16, 4), dtype=np.uint8)
        lab[4 + shift:10 + shift, 4:10, 1:3] = 2
        lab[5 + shift:8 + shift, 5:8, 1:3] = 1
        lab[6 + shift:7 + shift, 6:7, 1:3] = 4
        nib.save(nib.Nifti1Image(lab, np.eye(4)), os.path.join(root, sub, case + ".nii.gz"))
PY
  "$mrbench" leaderboard --reference "$tmp/seg/ref" --regions brats "$tmp/seg/off" "$tmp/seg/good/" --out "$tmp/seglb" \
    >"$tmp/seglb.log" 2>&1
  rc=$?
  check "prediction folders: leaderboard exits 0 ($(tail -1 "$tmp/seglb.log"))" '[ $rc -eq 0 ]'
  check "prediction folders: the perfect copy ranks first on dice_wt and overall" \
    "grep -q '^| 1 | good | good |' '$tmp/seglb/leaderboard.md' && grep -q 'dice_wt' '$tmp/seglb/leaderboard.md'"
else
  echo "SKIP: python3-nibabel not installed: prediction folders not checked end to end"
fi

chromium=""
for c in /usr/bin/chromium /usr/bin/chromium-browser; do [ -x "$c" ] && chromium=$c && break; done
if [ -z "$chromium" ]; then
  echo "SKIP: chromium not installed (apt-get install chromium; listed in ci/packages.txt): HTML rendering not checked"
else
  flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
         --disable-component-update --disable-sync --window-size=1200,900)
  page="file://$tmp/lb/leaderboard.html"
  timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$tmp")" --enable-logging=stderr --v=0 \
    --log-net-log="$tmp/net.json" --screenshot="$tmp/shot.png" "$page" >"$tmp/shot.out" 2>"$tmp/shot.err"
  check "chromium took a screenshot" "[ -s '$tmp/shot.png' ]"
  timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$tmp")" --enable-logging=stderr --v=0 \
    --dump-dom "$page" >"$tmp/dom.html" 2>"$tmp/dom.err"
  check "no console message from the page" "! grep -h 'CONSOLE' '$tmp/shot.err' '$tmp/dom.err'"
  check "the DOM holds the sortable tables with 4 entries each" \
    "grep -q 'table class=\"sortable\" id=\"table-0\"' '$tmp/dom.html' && [ \$(grep -c '<tr><td>' '$tmp/dom.html') -ge 12 ]"
  check "the DOM holds the rank chart" "grep -q '<svg' '$tmp/dom.html' && grep -q 'rank-chart' '$tmp/dom.html'"
  # Sorting: a copy of the page clicks the overall table's "mean rank" heading
  # twice (descending), so the tied last entries (3.5) come first.
  sed 's|</body>|<script>var th=document.querySelectorAll("#table-0 th")[3];th.click();th.click();</script></body>|' \
    "$tmp/lb/leaderboard.html" >"$tmp/lb/sorted.html"
  timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$tmp")" --dump-dom "file://$tmp/lb/sorted.html" \
    >"$tmp/sorted.html" 2>/dev/null
  check "clicking a heading sorts the table (descending mean rank puts 3.5 first)" \
    "sed -n '/id=\"table-0\"/,/<\/table>/p' '$tmp/sorted.html' | grep -m1 '<tr><td>' | grep -q '^<tr><td>3.5</td>' && grep -q 'class=\"desc\"' '$tmp/sorted.html'"
  $py - "$tmp/net.json" "$tmp/shot.png" >"$tmp/py.log" 2>&1 <<'PY'
import json, struct, sys, zlib

# 1. No request initiated by the page: Chromium's own background requests
#    carry the initiator "not an origin"; page requests carry the page origin.
net = json.load(open(sys.argv[1]))
page = [e["params"]["url"] for e in net.get("events", [])
        if "url" in e.get("params", {}) and e["params"].get("initiator", "not an origin") != "not an origin"
        and not e["params"]["url"].startswith(("file:", "data:"))]
if page:
    print("page made network requests:", sorted(set(page)))
    sys.exit(1)

# 2. The screenshot is a rendered page: decode the PNG (8-bit RGB/RGBA,
#    not interlaced) with the standard library and count non-white pixels.
data = open(sys.argv[2], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width = 8, b"", 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
raw = zlib.decompress(idat)
stride = width * bpp
prev = bytearray(stride)
dark = 0
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    dark += sum(1 for x in range(0, stride, bpp) if line[x] < 128 and line[x + 1] < 128 and line[x + 2] < 128)
    prev = line
share = dark / (width * height)
print(f"screenshot {width}x{height}, {share:.4f} of pixels dark (text, table borders)")
sys.exit(0 if share > 0.005 else 1)
PY
  rc=$?
  check "no network request from the page, and the screenshot shows the rendered table ($(tail -1 "$tmp/py.log"))" '[ $rc -eq 0 ]'
fi

echo "leaderboard_html: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
