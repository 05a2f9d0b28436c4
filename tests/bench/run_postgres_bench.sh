#!/usr/bin/env bash
# run_postgres_bench.sh - ReferralService.Submit on PostgreSQL, one gateway
# replica versus two sharing the database.
#
#   tests/bench/run_postgres_bench.sh [BUILD_DIR] [--duration S] [--warmup S]
#       [--in-flight N] [--channels M]
#
# Builds nothing: BUILD_DIR (default build/) must hold sild-gateway and
# submit_load. Starts a throwaway PostgreSQL server from Debian's packages
# (initdb into a temporary folder, a free loopback port, fsync on; as the
# postgres user when run as root), then:
#   1. one replica on it; submit_load with N calls in flight (default 64);
#   2. a second replica (its own instance name, so its own audit chain) on
#      the same database; two submit_load runs at once, one per replica,
#      with N/2 calls in flight each, so the offered load is the same.
# Prints both throughputs and the ratio two / one. Every call is the
# realistic consent-allowed referral of run_submit_bench.sh.
#
# Exit status: 0 when every call succeeded; 1 when a call failed or a server
# did not start; 2: bad usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build"
duration=10
warmup=2
in_flight=64
channels=4
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --in-flight) in_flight=$2; shift 2 ;;
    --channels) channels=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "run_postgres_bench.sh: unknown option $1" >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd); shift ;;
  esac
done

gateway_bin="$build/gateway/server/sild-gateway"
load_bin="$build/tests/bench/submit_load"
for bin in "$gateway_bin" "$load_bin"; do
  [[ -x "$bin" ]] || {
    echo "run_postgres_bench.sh: $bin is missing; build it first:" >&2
    echo "  ninja -C $build sild-gateway submit_load" >&2
    exit 1
  }
done
command -v jq >/dev/null || { echo "run_postgres_bench.sh: needs jq" >&2; exit 1; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$pg_bin/postgres" ]] || {
  echo "run_postgres_bench.sh: PostgreSQL is not installed" \
       "(gateway/scripts/install-deps.sh installs it)" >&2
  exit 1
}

pki="$build/test-pki"
[[ -f "$pki/ca.crt" ]] || bash "$root/certs/make-dev-pki.sh" "$pki" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/sild-pg-bench.XXXXXX")
chmod 755 "$work"
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  # initdb and postgres refuse root.
  chown postgres "$work"
  as_pg=(runuser -u postgres --)
fi
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

"${as_pg[@]}" "$pg_bin/initdb" -D "$work/data" -A trust -U sild -E UTF8 \
  --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$pg_bin/postgres" -D "$work/data" -k "$work" -p "$pg_port" \
  -c listen_addresses=127.0.0.1 -c max_connections=200 </dev/null \
  >"$work/postgres.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
  "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
  sleep 0.05
done
"$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" || {
  echo "run_postgres_bench.sh: PostgreSQL did not start:" >&2
  cat "$work/postgres.log" >&2
  exit 1
}
dsn="host=127.0.0.1 port=$pg_port user=sild dbname=postgres"

replica_port=""
start_replica() {  # N; sets replica_port
  local n=$1 config="$work/gateway-$1.json" log="$work/gateway-$1.log"
  sed -e "s|@PKI@|$pki|g" \
      -e 's|"listenAddress": "[^"]*"|"listenAddress": "127.0.0.1:0"|' \
      "$root/gateway/demo/gateway.json" |
    jq --arg dsn "$dsn" --arg name "sild-bench-$n" \
      '.store = {postgres: {dsn: $dsn}, payloadKeyFile: .store.payloadKeyFile}
       | .instanceName = $name' >"$config"
  "$gateway_bin" --config "$config" >/dev/null 2>"$log" &
  pids+=($!)
  for _ in $(seq 1 200); do
    replica_port=$(sed -n 's/.*"msg":"gateway listening".*"port":"\([0-9]*\)".*/\1/p' "$log" | head -1)
    [[ -n "$replica_port" ]] && return 0
    sleep 0.05
  done
  echo "run_postgres_bench.sh: replica $n did not start:" >&2
  cat "$log" >&2
  return 1
}

load() {  # PORT IN-FLIGHT OUT
  "$load_bin" --target "localhost:$1" --pki "$pki" --service submit \
    --in-flight "$2" --channels "$channels" --duration "$duration" \
    --warmup "$warmup" --key-prefix "pg-bench-$$-$1" --json >"$3"
}

echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port; work folder: $work"
echo "load: $in_flight in flight in all, ${warmup} s warm-up + ${duration} s"
failed=0
start_replica 1
port1=$replica_port
load "$port1" "$in_flight" "$work/one.json" || failed=1
start_replica 2
port2=$replica_port
half=$(( in_flight / 2 ))
load "$port1" "$half" "$work/two-a.json" & a=$!
load "$port2" "$half" "$work/two-b.json" & b=$!
wait "$a" || failed=1
wait "$b" || failed=1

jq -s '
  { one: .[0].throughput_per_s,
    one_p99_ms: .[0].latency_ms.p99,
    two: (.[1].throughput_per_s + .[2].throughput_per_s),
    two_p99_ms: ([.[1].latency_ms.p99, .[2].latency_ms.p99] | max),
    failed: (map(.calls_failed) | add) }
  | .ratio = (if .one > 0 then .two / .one else 0 end)
' "$work/one.json" "$work/two-a.json" "$work/two-b.json" >"$work/summary.json"
jq -r '
  "one replica:  \(.one | floor) calls/s (p99 \(.one_p99_ms) ms)",
  "two replicas: \(.two | floor) calls/s (worst p99 \(.two_p99_ms) ms)",
  "ratio:        two / one = \(.ratio * 100 | floor / 100)",
  "failed calls: \(.failed)"
' "$work/summary.json"
if [[ $failed -ne 0 ]] || jq -e '.failed > 0' "$work/summary.json" >/dev/null; then
  echo "FAILED: some calls failed (see $work)" >&2
  exit 1
fi
