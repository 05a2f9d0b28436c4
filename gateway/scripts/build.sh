#!/usr/bin/env bash
# Configures and builds one build tree.
#   build.sh BUILD_DIR [extra cmake args...]
# SILD_BUILD_TARGETS: build only these targets (e.g. "sild-gateway sildctl");
# default: everything, tests and benchmarks included.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$1
shift
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/sild-ccache}"
# Paths inside the checkout are hashed relative to the build tree, so two
# clones (or build trees) at different places share cached objects.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
jobs=${SILD_JOBS:-$(nproc)}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DSILD_WERROR=ON "$@" >/dev/null
else
  cmake "$build_dir" "$@" >/dev/null
fi
echo "==> building $build_dir with $jobs jobs"
log="$build_dir/build.log"
read -r -a targets <<<"${SILD_BUILD_TARGETS:-}"
if ! ninja -C "$build_dir" -j "$jobs" "${targets[@]}" >"$log" 2>&1; then
  grep -E "error|FAILED" "$log" | head -40 >&2 || true
  tail -20 "$log" >&2
  echo "build failed in $build_dir (full log: $log)" >&2
  exit 1
fi
if grep -q "warning:" "$log"; then
  grep "warning:" "$log" >&2
fi
echo "==> built $build_dir"
