#!/usr/bin/env bash
# The one code format (.clang-format at the top): applies it to every C,
# header and CUDA source of impl/, baselines/, gpu/ and tests/, or with
# --check lists the files it would change and exits 1 (CTest's
# style_clang_format runs that). The format is pinned to clang-format 14,
# Debian 12's, because other versions lay out some constructs differently;
# with another major version --check exits 77 (CTest: skipped).
#
# Usage: ci/format.sh [--check]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "format.sh: unknown argument $1 (usage: ci/format.sh [--check])" >&2; exit 2 ;;
esac
fmt=""
for c in clang-format-14 clang-format; do
  if command -v "$c" >/dev/null && "$c" --version | grep -q 'version 14\.'; then fmt=$c; break; fi
done
if [ -z "$fmt" ]; then
  echo "format.sh: clang-format 14 not found (apt-get install clang-format on Debian 12)" >&2
  exit 77
fi
mapfile -t files < <(find impl baselines gpu tests -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) \
                       -not -path 'tests/fuzz/corpus/*' | LC_ALL=C sort)
if [ "$check" = 0 ]; then
  "$fmt" -i --style=file "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! "$fmt" --style=file "$f" | cmp -s - "$f"; then
    echo "format.sh: $f is not formatted (run ci/format.sh)"
    bad=1
  fi
done
[ "$bad" = 0 ] && echo "format.sh: ${#files[@]} files formatted as .clang-format says"
exit "$bad"
