#!/usr/bin/env bash
# run_nats_egress_bench.sh - egress throughput to NATS JetStream: the "nats"
# transport's DeliverBatch against a plain libnats publish loop, same run.
#
#   tests/bench/run_nats_egress_bench.sh [BUILD_DIR] [--messages N]
#       [--batch B] [--rounds R] [--strict]
#
# Builds nats_egress_bench in BUILD_DIR (default build/, configured already)
# and runs it; it starts its own nats-server on a free loopback port with a
# temporary store (Debian package nats-server) and removes it at the end.
# Exit status: that of nats_egress_bench (0 ok; 1 a message was not
# acknowledged, or with --strict a target missed; 2 bad usage).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build"
if [[ $# -gt 0 && "$1" != -* ]]; then
  build=$(cd "$1" && pwd)
  shift
fi
if [[ ! -f "$build/build.ninja" ]]; then
  echo "run_nats_egress_bench.sh: $build is not a configured build tree" >&2
  echo "  cmake -S $root -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2
  exit 1
fi
ninja -C "$build" nats_egress_bench >/dev/null
exec "$build/tests/bench/nats_egress_bench" "$@"
