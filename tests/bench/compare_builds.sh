#!/usr/bin/env bash
# compare_builds.sh - one benchmark, two build trees, alternating runs in one
# session, so the shared machine's noise falls on both alike (a refactor's
# "within noise of the parent" check).
#
#   tests/bench/compare_builds.sh BENCH PARENT_BUILD NEW_BUILD [--pairs N]
#       [-- BENCH_ARGS...]
#
#   git worktree add --detach ../parent HEAD~1
#   bash gateway/scripts/build.sh ../parent/build -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   tests/bench/compare_builds.sh nats_egress_bench ../parent/build build --pairs 3
#   tests/bench/compare_builds.sh kafka_egress_bench ../parent/build build -- --rounds 3
#
# BENCH is a binary under <build>/tests/bench/ that prints a "median:" line
# (nats_egress_bench, kafka_egress_bench). Runs parent, new, parent, new,
# ... N pairs (default 3), prints every run's median line and, at the end,
# the median over runs of the transport figure and of the ratio per build.
# Odd pairs run the parent first, even pairs the new build.
# Exit status 1 when a run fails.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  sed -n '2,17p' "$0" >&2
  exit 2
fi
bench=$1 parent=$2 new=$3
shift 3
pairs=3
bench_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) pairs=$2; shift 2 ;;
    --) shift; bench_args=("$@"); break ;;
    *) echo "compare_builds.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for build in "$parent" "$new"; do
  if [[ ! -x "$build/tests/bench/$bench" ]]; then
    echo "compare_builds.sh: $build/tests/bench/$bench not built" >&2
    echo "  ninja -C $build $bench" >&2
    exit 1
  fi
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((i = 1; i <= pairs; ++i)); do
  # Odd pairs run the parent first, even pairs the new build, so neither
  # always runs on a machine the other just warmed.
  order="parent new"
  ((i % 2 == 0)) && order="new parent"
  for side in $order; do
    build=$parent
    [[ $side == new ]] && build=$new
    log="$out/$side-$i.log"
    if ! "$build/tests/bench/$bench" "${bench_args[@]}" >"$log" 2>&1; then
      echo "compare_builds.sh: $side run $i failed:" >&2
      tail -5 "$log" >&2
      exit 1
    fi
    printf '%-6s run %d: %s\n' "$side" "$i" "$(grep -m1 '^median:' "$log" |
      sed 's/^median: *//')"
  done
done

# The transport figure is the number before "msg/s" after "transport"; the
# ratio the number before "%" after "ratio".
median_of() {  # median of numbers on stdin
  sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
summary() {
  local side=$1 lines
  lines=$(cat "$out/$side"-*.log | grep '^median:' |
    sed -E 's/.*transport +([0-9]+) msg\/s.*ratio +([0-9.]+)%.*/\1 \2/')
  printf '%-6s median of %d runs: transport %s msg/s, ratio %s%%\n' "$side" \
    "$(wc -l <<<"$lines")" "$(cut -d' ' -f1 <<<"$lines" | median_of)" \
    "$(cut -d' ' -f2 <<<"$lines" | median_of)"
}
summary parent
summary new
