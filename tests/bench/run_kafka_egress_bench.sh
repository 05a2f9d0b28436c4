#!/usr/bin/env bash
# run_kafka_egress_bench.sh - egress throughput to Kafka: the "kafka"
# transport's DeliverBatch against a plain librdkafka produce loop with the
# same producer settings, same run.
#
#   tests/bench/run_kafka_egress_bench.sh [BUILD_DIR] [--messages N]
#       [--batch B] [--rounds R] [--brokers K] [--partitions P] [--strict]
#       [--mock-nagle]
#
# Builds kafka_egress_bench in BUILD_DIR (default build/, configured already)
# and runs it; it starts librdkafka's mock Kafka cluster in process on free
# loopback ports (Debian 12 packages no Kafka broker; librdkafka-dev) and
# stops it at the end.
# Exit status: that of kafka_egress_bench (0 ok; 1 a message was not
# acknowledged, or with --strict a target missed; 2 bad usage).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build"
if [[ $# -gt 0 && "$1" != -* ]]; then
  build=$(cd "$1" && pwd)
  shift
fi
if [[ ! -f "$build/build.ninja" ]]; then
  echo "run_kafka_egress_bench.sh: $build is not a configured build tree" >&2
  echo "  cmake -S $root -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2
  exit 1
fi
ninja -C "$build" kafka_egress_bench >/dev/null
exec "$build/tests/bench/kafka_egress_bench" "$@"
