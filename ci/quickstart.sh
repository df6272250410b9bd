#!/usr/bin/env bash
# First README command: installs what mrbench needs (Debian packages), builds a
# Release mrbench in build/, and runs the default (quickstart) suite.
# Extra arguments go to `mrbench run` (e.g. --threads 2, or a suite file).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash ci/setup.sh
bash ci/build.sh build -DCMAKE_BUILD_TYPE=Release -DMRBENCH_TESTS=OFF
./build/mrbench run "$@"
