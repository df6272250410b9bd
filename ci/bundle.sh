#!/usr/bin/env bash
# Offline dependency bundle: packs the Debian libraries mrbench builds and
# runs against (headers, shared libraries with their SONAME links, pkg-config
# and CMake package files made relocatable) into one folder that can be
# copied to an air-gapped GPU machine that has only the CUDA toolkit, a C
# compiler and the C runtime.
#
# Usage:
#   ci/bundle.sh [-o DIR] [--binary FILE]... [--with-tools] [--with-gnuplot]
#   ci/bundle.sh --check [-o DIR] [-B BUILD_DIR] [-S SOURCE_DIR]
#
#   -o DIR          output folder (default: bundle/ in the repository root;
#                   it ignores itself in git)
#   --binary FILE   also bundle the shared libraries FILE needs (e.g. a built
#                   build/mrbench); repeatable
#   --with-tools    also bundle cmake and pkg-config (pkgconf) with their data
#   --with-gnuplot  also bundle gnuplot (plots in reports; optional)
#   --check         configure and build mrbench in a clean environment that
#                   sees only the bundle (env -i, PKG_CONFIG_LIBDIR = bundle),
#                   check that CMake found every library in the bundle, and
#                   with ldd that every non-system library of the built
#                   program resolves into the bundle
#
# What goes in: the -dev packages named in ci/packages.txt, the -dev packages
# they depend on (recursively), the runtime packages those depend on
# directly, the alternatives links (/etc/alternatives) that point into them,
# and then every shared library that ldd finds missing, until the set is
# closed. Left out, as every build machine has them: glibc (libc, libm,
# libpthread, libdl, librt, ld-linux), the GCC runtime (libgcc_s, libstdc++,
# libgomp) and anything under the CUDA toolkit.
#
# On the GPU machine:
#   source bundle/env.sh
#   cmake -S . -B build -DMRBENCH_CUDA=ON && cmake --build build -j
#   (cd build && ctest -L gpu --output-on-failure)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bundle"
binaries=()
with_tools=0
with_gnuplot=0
check=0
check_build=""
check_src=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift 2 ;;
    --binary) binaries+=("$(realpath "$2")"); shift 2 ;;
    --with-tools) with_tools=1; shift ;;
    --with-gnuplot) with_gnuplot=1; shift ;;
    --check) check=1; shift ;;
    -B) check_build=$2; shift 2 ;;
    -S) check_src=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bundle.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine)
libdir="$out/usr/lib/$triplet"

# glibc and the GCC runtime: every build machine has them, and the bundle
# must not shadow them.
system_lib() {
  case "$1" in
    linux-vdso*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*|libresolv.so*|libanl.so*|libnss_*|libmvec.so*|libgcc_s.so*|libstdc++.so*|libgomp.so*|libcrypt.so*) return 0 ;;
  esac
  return 1
}
# ---------------------------------------------------------------- check mode
if [ "$check" = 1 ]; then
  [ -f "$out/env.sh" ] || { echo "bundle.sh: no bundle in $out (build it first)" >&2; exit 1; }
  build=${check_build:-$root/build-bundle-check}
  rm -rf "$build"
  # A clean environment: no inherited variables; the compilers, cmake and
  # git from the system (or the bundle with --with-tools); pkg-config sees
  # only the bundle. What CMake's find_* commands resolved is checked below.
  env -i HOME="$HOME" PATH=/usr/local/cuda/bin:/usr/bin:/bin LANG=C.UTF-8 \
    bash -c '
      set -euo pipefail
      source "$1/env.sh"
      export PKG_CONFIG_LIBDIR="$PKG_CONFIG_PATH"
      cmake -S "$2" -B "$3" -DPKG_CONFIG_EXECUTABLE="$(command -v pkg-config)" -DMRBENCH_CUDA=AUTO >"$3.configure.log" 2>&1 \
        || { tail -40 "$3.configure.log"; exit 1; }
      cmake --build "$3" -j"$(nproc)" >"$3.build.log" 2>&1 || { tail -40 "$3.build.log"; exit 1; }
    ' _ "$out" "${check_src:-$root}" "$build"
  echo "bundle.sh: configured and built $build against $out"
  status=0
  # Every library path CMake recorded must lie in the bundle or the toolkit.
  while IFS= read -r line; do
    case "$line" in
      *"$out"*|*"/usr/local/cuda"*|*NOTFOUND*) ;;
      *) echo "  found outside the bundle: $line"; status=1 ;;
    esac
  done < <(grep -E '^(FFTW3F_THREADS_LIB|MATH_LIB|ZLIB_LIBRARY[A-Z_]*|ZLIB_INCLUDE_DIR|cJSON_DIR|pkgcfg_lib_[A-Za-z0-9_]+)[:=]' "$build/CMakeCache.txt" | grep -v '^MATH_LIB' || true)
  # At run time, every library that is not glibc, the GCC runtime or CUDA
  # must come from the bundle: the program and every test binary.
  mapfile -t programs < <(find "$build" -type f -perm -u+x \( -name mrbench -o -name 'test_*' \) ! -path '*/CMakeFiles/*' | sort)
  for prog in "${programs[@]}"; do
    env -i PATH=/usr/bin:/bin bash -c 'source "$1/env.sh"; ldd "$2"' _ "$out" "$prog" > "$build/ldd.txt"
    from_bundle=0 from_cuda=0
    while read -r name arrow path _; do
      [ "$arrow" = "=>" ] || continue
      system_lib "$name" && continue
      case "$path" in
        "$out"/*) from_bundle=$((from_bundle + 1)) ;;
        /usr/local/cuda*) from_cuda=$((from_cuda + 1)) ;;
        *) echo "  ${prog#"$build"/}: $name => $path (NOT from the bundle)"; status=1 ;;
      esac
    done < "$build/ldd.txt"
    echo "  ${prog#"$build"/}: $from_bundle libraries from the bundle, $from_cuda from the CUDA toolkit"
  done
  # And the program starts with nothing but the bundle's libraries.
  if env -i PATH=/usr/bin:/bin bash -c 'source "$1/env.sh"; "$2" list >/dev/null' _ "$out" "$build/mrbench"; then
    echo "  mrbench list: runs"
  else
    echo "  mrbench list: FAILED to run"; status=1
  fi
  # The GPU tests (CUDA builds) load Criterion, cuFFT and friends from the
  # bundle and the toolkit; without a device they skip with the reason.
  if [ -n "$(find "$build" -name 'test_cuda_*' -type f -perm -u+x | head -1)" ]; then
    if env -i PATH=/usr/bin:/bin bash -c 'source "$1/env.sh"; cd "$2" && ctest -L gpu --output-on-failure' _ "$out" "$build" > "$build/ctest-gpu.log" 2>&1; then
      echo "  ctest -L gpu: $(grep -E 'tests passed|tests failed' "$build/ctest-gpu.log")"
    else
      tail -20 "$build/ctest-gpu.log"; status=1
    fi
  fi
  if [ "$status" = 0 ]; then echo "bundle.sh: check passed"; else echo "bundle.sh: check FAILED"; fi
  exit "$status"
fi

# ---------------------------------------------------------- package closure
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# First installed alternative of each dependency of $1 (versions dropped).
depends_of() {
  dpkg-query -W -f='${Depends}\n${Pre-Depends}\n' "$1" 2>/dev/null | tr ',' '\n' | while IFS= read -r alt; do
    alt=$(echo "$alt" | xargs)
    [ -n "$alt" ] || continue
    IFS='|' read -ra choices <<<"$alt"
    for c in "${choices[@]}"; do
      c=$(echo "$c" | sed -e 's/(.*)//' -e 's/:any//' | xargs)
      if is_installed "$c"; then echo "$c"; break; fi
    done
  done
}
# Packages every build machine has, or that the bundle must not shadow.
is_system_pkg() {
  case "$1" in
    libc6|libc6-dev|libc-dev-bin|libc-bin|linux-libc-dev|libgcc-s1|libgcc-*-dev|libstdc++6|libstdc++-*-dev|libgomp1|gcc*|g++*|cpp*|libcrypt1|libcrypt-dev|libnsl*|libtirpc*|dpkg|perl*|debconf|pkg-config|pkgconf|pkgconf-bin|hdf5-helpers|libfftw3-bin) return 0 ;;
  esac
  return 1
}

mapfile -t wanted_dev < <(sed -e 's/#.*//' -e '/^\s*$/d' "$root/ci/packages.txt" | xargs -n1 | grep -E -- '-dev$')
declare -A pkgs=()
queue=("${wanted_dev[@]}")
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [ -n "${pkgs[$p]:-}" ] && continue
  is_installed "$p" || { echo "bundle.sh: $p is not installed (run ci/setup.sh)" >&2; exit 1; }
  pkgs[$p]=1
  case "$p" in
    *-dev)
      while IFS= read -r d; do
        is_system_pkg "$d" && continue
        case "$d" in
          *-dev) queue+=("$d") ;;
          lib*|zlib1g) pkgs[$d]=1 ;; # the runtime package behind a -dev
        esac
      done < <(depends_of "$p") ;;
  esac
done
if [ "$with_tools" = 1 ]; then for p in cmake cmake-data pkgconf pkgconf-bin libpkgconf3; do is_installed "$p" && pkgs[$p]=1; done; fi
if [ "$with_gnuplot" = 1 ]; then for p in gnuplot-nox gnuplot-data; do is_installed "$p" && pkgs[$p]=1; done; fi

# ------------------------------------------------------------------- files
# Keep headers, libraries, pkg-config and CMake files (and, for tools,
# programs and their data); drop static archives and documentation.
keep_path() {
  case "$1" in
    *.a|*.la|/usr/share/doc/*|/usr/share/man/*|/usr/share/lintian/*|/usr/share/bug/*|/usr/share/info/*) return 1 ;;
    /usr/include/*|/usr/lib/"$triplet"/*|/usr/lib/pkgconfig/*|/usr/share/pkgconfig/*) return 0 ;;
    /usr/bin/*|/usr/share/cmake*|/usr/share/aclocal/*|/usr/share/gnuplot*|/usr/libexec/gnuplot*) [ "$with_tools$with_gnuplot" != 00 ] && return 0 ;;
  esac
  return 1
}
# Only ever replace a previous bundle, never some other folder's usr/.
if [ "$out" = / ] || { [ -e "$out/usr" ] && [ ! -f "$out/MANIFEST.txt" ]; }; then
  echo "bundle.sh: $out holds a usr/ that is not a bundle; choose an empty folder with -o" >&2
  exit 1
fi
rm -rf "${out:?}/usr"
mkdir -p "$libdir"
manifest="$out/MANIFEST.txt"
{
  echo "# mrbench offline dependency bundle"
  echo "# made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME") ($triplet) by ci/bundle.sh"
  echo "# packages (name version):"
} > "$manifest"
for p in $(printf '%s\n' "${!pkgs[@]}" | sort); do
  echo "$p $(dpkg-query -W -f='${Version}' "$p")" >> "$manifest"
  while IFS= read -r f; do
    keep_path "$f" || continue
    if [ -L "$f" ] || [ -f "$f" ]; then
      mkdir -p "$out$(dirname "$f")"
      cp -a "$f" "$out$f"
    fi
  done < <(dpkg -L "$p")
done

# Alternatives (libopenblas.so.0, hdf5.pc, blas.pc ...) belong to no
# package: add the links whose target the bundle already holds.
for dir in /usr/lib/"$triplet" /usr/lib/"$triplet"/pkgconfig; do
  for link in "$dir"/*; do
    [ -L "$link" ] || continue
    case "$(readlink "$link")" in /etc/alternatives/*) ;; *) continue ;; esac
    target=$(readlink -f "$link")
    [ -e "$out$target" ] || continue
    mkdir -p "$out$dir"
    ln -sfn "$(realpath --relative-to="$out$dir" "$out$target")" "$out$link"
  done
done

# Links that leave the bundle (absolute, via /etc/alternatives) or dangle:
# point them at the bundled copy, or copy the file they resolve to.
fix_links() {
  find "$out/usr" -type l | while IFS= read -r l; do
    t=$(readlink -f "$l" 2>/dev/null || true)
    case "$t" in "$out"/*) [ -e "$t" ] && continue ;; esac
    sys=${l#"$out"}
    real=$(readlink -f "$sys" 2>/dev/null || true)
    if [ -z "$real" ] || [ ! -e "$real" ]; then rm -f "$l"; continue; fi
    if [ -e "$out$real" ]; then
      ln -sfn "$(realpath --relative-to="$(dirname "$l")" "$out$real")" "$l"
    else
      rm -f "$l"
      cp -L "$sys" "$l"
    fi
  done
}
fix_links

# ------------------------------------------------- shared-library closure
bundle_lib_path() { find "$out/usr" -type f -name '*.so*' -printf '%h\n' | sort -u | paste -sd: -; }
round=0
while :; do
  round=$((round + 1))
  added=0
  ldpath=$(bundle_lib_path)
  mapfile -t elves < <( { find "$out/usr" -type f \( -name '*.so*' -o -path '*/bin/*' \) ; printf '%s\n' "${binaries[@]}"; } | sort -u)
  for f in "${elves[@]}"; do
    [ -n "$f" ] || continue
    head -c 4 "$f" 2>/dev/null | grep -q 'ELF' || continue
    while read -r name arrow path _; do
      [ "$arrow" = "=>" ] || continue
      system_lib "$name" && continue
      case "$path" in "$out"/*|/usr/local/cuda*) continue ;; esac
      if [ "$path" = "not" ]; then echo "bundle.sh: $f needs $name, not found on this machine" >&2; continue; fi
      real=$(readlink -f "$path")
      [ -e "$libdir/$(basename "$real")" ] || cp -L "$real" "$libdir/$(basename "$real")"
      [ "$name" = "$(basename "$real")" ] || ln -sfn "$(basename "$real")" "$libdir/$name"
      owner=$( { dpkg -S "$real" || dpkg -S "$path" || dpkg -S "/lib/$triplet/$(basename "$real")"; } 2>/dev/null | cut -d: -f1 | head -1)
      echo "$name (from ${owner:-an unknown package}, found by ldd)" >> "$manifest.ldd"
      added=$((added + 1))
    done < <(LD_LIBRARY_PATH="$ldpath" ldd "$f" 2>/dev/null || true)
  done
  [ "$added" = 0 ] && break
  [ "$round" -lt 10 ] || { echo "bundle.sh: library closure did not settle" >&2; exit 1; }
done
if [ -f "$manifest.ldd" ]; then
  echo "# libraries added by the ldd closure:" >> "$manifest"
  sort -u "$manifest.ldd" >> "$manifest"
  rm -f "$manifest.ldd"
fi

# ------------------------------------------ relocatable pkg-config / CMake
# Absolute /usr paths become paths relative to the file itself:
# ${pcfiledir} in .pc files, ${CMAKE_CURRENT_LIST_DIR} in CMake files.
find "$out/usr" -name '*.pc' -type f | while IFS= read -r pc; do
  rel=$(realpath --relative-to="$(dirname "$pc")" "$out")
  sed -i -e "s#/usr/#@BUNDLE@/usr/#g" -e "s#=/usr\$#=@BUNDLE@/usr#" -e "s#@BUNDLE@#\${pcfiledir}/$rel#g" "$pc"
done
find "$out/usr" -type f -path '*/cmake/*' -name '*.cmake' | while IFS= read -r cm; do
  rel=$(realpath --relative-to="$(dirname "$cm")" "$out")
  sed -i -e "s#\"/usr/#\"\${CMAKE_CURRENT_LIST_DIR}/$rel/usr/#g" -e "s#\"/usr\"#\"\${CMAKE_CURRENT_LIST_DIR}/$rel/usr\"#g" "$cm"
done

# ----------------------------------------------------------------- env.sh
mapfile -t lib_dirs < <(find "$out/usr" -type f -name '*.so*' -printf '%h\n' | sort -u)
mapfile -t pc_dirs < <(find "$out/usr" -type f -name '*.pc' -printf '%h\n' | sort -u)
{
  echo '# mrbench offline bundle: source this file (bash) before configuring or running mrbench.'
  echo '# Made by ci/bundle.sh; paths are relative to this file, so the folder can move.'
  echo 'MRB_BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)'
  echo 'export MRB_BUNDLE'
  printf 'export PKG_CONFIG_PATH="%s${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"\n' \
    "$(for d in "${pc_dirs[@]}"; do printf '$MRB_BUNDLE%s:' "${d#"$out"}"; done | sed 's/:$//')"
  printf 'export LD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"\n' \
    "$(for d in "${lib_dirs[@]}"; do printf '$MRB_BUNDLE%s:' "${d#"$out"}"; done | sed 's/:$//')"
  echo 'export CMAKE_PREFIX_PATH="$MRB_BUNDLE/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"'
  echo 'if [ -d "$MRB_BUNDLE/usr/bin" ]; then export PATH="$MRB_BUNDLE/usr/bin:$PATH"; fi'
  echo 'if [ -d /usr/local/cuda/bin ]; then export PATH="$PATH:/usr/local/cuda/bin"; fi'
} > "$out/env.sh"

# The bundle is an output: keep it out of git wherever it is made.
printf '*\n' > "$out/.gitignore"
( cd "$out" && find usr -type f -print0 | sort -z | xargs -0 sha256sum ) > "$out/SHA256SUMS"
echo "bundle.sh: $(grep -vc '^#' "$manifest") packages and libraries, $(du -sh "$out" | cut -f1) in $out"
echo "bundle.sh: use it with: source $out/env.sh && cmake -S . -B build && cmake --build build"
