#!/usr/bin/env bash
# run_submit_bench.sh - ReferralService.Submit against its echo baseline.
#
#   tests/bench/run_submit_bench.sh [BUILD_DIR] [--rounds N] [--duration S]
#       [--warmup S] [--in-flight N] [--channels M] [--scenario consent|rule]
#       [--strict]
#
# Builds nothing: BUILD_DIR (default build/) must hold sild-gateway,
# echo_baseline_server and submit_load (ninja -C BUILD_DIR sild-gateway
# echo_baseline_server submit_load). Uses BUILD_DIR/test-pki (made if
# missing), writes a demo-federation gateway config with a fresh SQLite file
# in a temporary folder, starts sild-gateway and echo_baseline_server on
# 127.0.0.1 (free ports), then runs submit_load against echo and Submit in
# turn, --rounds times (default 2, alternating to cancel drift), and prints
# each run, the mean throughputs, their ratio, Submit's worst p99 and the CPU
# per call of each server and of the load generator.
#
# Exit status: 0 when every call succeeded; 1 when any call failed or a
# server did not start; with --strict also 1 when a target is missed
# (Submit >= 50% of echo throughput, Submit p99 < 10 ms). 2: bad usage.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build"
rounds=2
duration=10
warmup=2
in_flight=64
channels=4
scenario=consent
strict=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --in-flight) in_flight=$2; shift 2 ;;
    --channels) channels=$2; shift 2 ;;
    --scenario) scenario=$2; shift 2 ;;
    --strict) strict=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "run_submit_bench.sh: unknown option $1" >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd); shift ;;
  esac
done

gateway_bin="$build/gateway/server/sild-gateway"
echo_bin="$build/tests/bench/echo_baseline_server"
load_bin="$build/tests/bench/submit_load"
for bin in "$gateway_bin" "$echo_bin" "$load_bin"; do
  if [[ ! -x "$bin" ]]; then
    echo "run_submit_bench.sh: $bin is missing; build it first:" >&2
    echo "  ninja -C $build sild-gateway echo_baseline_server submit_load" >&2
    exit 1
  fi
done
command -v jq >/dev/null || { echo "run_submit_bench.sh: needs jq" >&2; exit 1; }

pki="$build/test-pki"
if [[ ! -f "$pki/ca.crt" ]]; then
  bash "$root/certs/make-dev-pki.sh" "$pki" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sild-submit-bench.XXXXXX")
gateway_pid=""
echo_pid=""
cleanup() {
  [[ -n "$gateway_pid" ]] && kill "$gateway_pid" 2>/dev/null && wait "$gateway_pid" 2>/dev/null
  [[ -n "$echo_pid" ]] && kill "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
  true
}
trap cleanup EXIT

# The demo federation on a free port with its own database. The log level
# stays "info" as in the demo: the benchmark measures the gateway as run.
sed -e "s|@PKI@|$pki|g" \
    -e 's|"listenAddress": "[^"]*"|"listenAddress": "127.0.0.1:0"|' \
    -e "s|\"path\": \"sild.db\"|\"path\": \"$work/sild.db\"|" \
    "$root/gateway/demo/gateway.json" >"$work/gateway.json"

"$gateway_bin" --config "$work/gateway.json" 2>"$work/gateway.log" &
gateway_pid=$!
"$echo_bin" --config "$work/gateway.json" >"$work/echo.log" 2>&1 &
echo_pid=$!

wait_for_port() {  # FILE SED-EXPRESSION
  local port=""
  for _ in $(seq 1 200); do
    port=$(sed -n "$2" "$1" | head -1)
    [[ -n "$port" ]] && { echo "$port"; return 0; }
    sleep 0.05
  done
  return 1
}
gateway_port=$(wait_for_port "$work/gateway.log" \
  's/.*"msg":"gateway listening".*"port":"\([0-9]*\)".*/\1/p') || {
  echo "run_submit_bench.sh: sild-gateway did not start:" >&2
  cat "$work/gateway.log" >&2
  exit 1
}
echo_port=$(wait_for_port "$work/echo.log" \
  's/^echo_baseline_server listening on port \([0-9]*\)$/\1/p') || {
  echo "run_submit_bench.sh: echo_baseline_server did not start:" >&2
  cat "$work/echo.log" >&2
  exit 1
}

echo "sild-gateway on 127.0.0.1:$gateway_port, echo baseline on 127.0.0.1:$echo_port"
echo "load: $in_flight in flight over $channels channels, ${warmup} s warm-up + ${duration} s, $rounds round(s), scenario $scenario"
echo "work folder: $work"
echo

failed=0
run() {  # echo|submit ROUND
  local service=$1 round=$2 port pid out
  port=$([[ $service == echo ]] && echo "$echo_port" || echo "$gateway_port")
  pid=$([[ $service == echo ]] && echo "$echo_pid" || echo "$gateway_pid")
  out="$work/$service-$round.json"
  if ! "$load_bin" --target "localhost:$port" --pki "$pki" \
      --service "$service" --scenario "$scenario" --in-flight "$in_flight" \
      --channels "$channels" --duration "$duration" --warmup "$warmup" \
      --key-prefix "bench-$$-$round" --server-pid "$pid" --json >"$out"; then
    failed=1
  fi
  if [[ ! -s "$out" ]]; then
    echo "$service round $round: no result" >&2
    failed=1
    return
  fi
  jq -r --arg r "$round" '"\(.service) round \($r): \(.throughput_per_s | floor) calls/s, p50 \(.latency_ms.p50) ms, p90 \(.latency_ms.p90) ms, p99 \(.latency_ms.p99) ms, max \(.latency_ms.max) ms, \(.calls_failed) failed \(.errors | tostring), CPU per call: server \(.cpu_us_per_call.server // -1 | floor) us + load \(.cpu_us_per_call.load // -1 | floor) us"' "$out"
}

for round in $(seq 1 "$rounds"); do
  run echo "$round"
  run submit "$round"
done

echo
summary=$(jq -s '
  def mean(f): (map(f) | add) / length;
  (map(select(.service == "echo"))) as $e |
  (map(select(.service == "submit"))) as $s |
  { echo_throughput: ($e | mean(.throughput_per_s)),
    submit_throughput: ($s | mean(.throughput_per_s)),
    echo_p99_ms: ($e | map(.latency_ms.p99) | max),
    submit_p50_ms: ($s | mean(.latency_ms.p50)),
    submit_p99_ms: ($s | map(.latency_ms.p99) | max),
    echo_server_cpu_us: ($e | mean(.cpu_us_per_call.server // -1)),
    echo_load_cpu_us: ($e | mean(.cpu_us_per_call.load // -1)),
    submit_server_cpu_us: ($s | mean(.cpu_us_per_call.server // -1)),
    submit_load_cpu_us: ($s | mean(.cpu_us_per_call.load // -1)),
    failed: (map(.calls_failed) | add) }
  | .ratio = (if .echo_throughput > 0 then .submit_throughput / .echo_throughput else 0 end)
' "$work"/echo-*.json "$work"/submit-*.json)
echo "$summary" >"$work/summary.json"
jq -r '
  "echo:    \(.echo_throughput | floor) calls/s (worst p99 \(.echo_p99_ms) ms)",
  "submit:  \(.submit_throughput | floor) calls/s (mean p50 \(.submit_p50_ms * 1000 | floor / 1000) ms, worst p99 \(.submit_p99_ms) ms)",
  "ratio:   submit / echo throughput = \(.ratio * 1000 | floor / 10) %  (target >= 50 %)",
  "p99:     submit \(.submit_p99_ms) ms at '"$in_flight"' in flight  (target < 10 ms)",
  "cpu:     per call, server + load generator: echo \(.echo_server_cpu_us // -1 | floor) + \(.echo_load_cpu_us // -1 | floor) us, submit \(.submit_server_cpu_us // -1 | floor) + \(.submit_load_cpu_us // -1 | floor) us (-1: not measured)"
' "$work/summary.json"

missed=0
jq -e '.ratio >= 0.5' "$work/summary.json" >/dev/null || { echo "target missed: throughput ratio"; missed=1; }
jq -e '.submit_p99_ms < 10' "$work/summary.json" >/dev/null || { echo "target missed: p99"; missed=1; }
if [[ $failed -ne 0 ]]; then
  echo "FAILED: some calls failed (see $work)" >&2
  exit 1
fi
if [[ $strict -eq 1 && $missed -eq 1 ]]; then
  exit 1
fi
exit 0
