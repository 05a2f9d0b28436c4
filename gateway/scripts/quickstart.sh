#!/usr/bin/env bash
# sild quick start: on a fresh Debian 12 machine, installs the packages,
# builds, makes the development PKI, starts the gateway on its embedded SQLite
# store and runs a demo exchange between agencies.
#
#   gateway/scripts/quickstart.sh              # demo, then keep serving (Ctrl-C stops)
#   gateway/scripts/quickstart.sh --demo-only  # demo, then stop the gateway
#
# Environment: SILD_PKI_DIR (default ~/.local/share/sild/dev-pki),
# SILD_DEMO_DIR (default ./var/demo), SILD_PORT (default 7443).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

serve=1
for arg in "$@"; do
  case "$arg" in
    --demo-only) serve=0 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

pki=${SILD_PKI_DIR:-$HOME/.local/share/sild/dev-pki}
demo=${SILD_DEMO_DIR:-$root/var/demo}
port=${SILD_PORT:-7443}

bash gateway/scripts/install-deps.sh
# Only the programs the demo runs; tests/run.sh builds the rest.
SILD_BUILD_TARGETS="sild-gateway sildctl" \
  bash gateway/scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
bash certs/make-dev-pki.sh "$pki"

mkdir -p "$demo"
sed -e "s|@PKI@|$pki|g" -e "s|127.0.0.1:7443|127.0.0.1:$port|" \
  gateway/demo/gateway.json >"$demo/gateway.json"
build/gateway/server/sild-gateway --config "$demo/gateway.json" --check-config

log="$demo/gateway.log"
echo "==> starting sild-gateway on 127.0.0.1:$port (log: $log)"
build/gateway/server/sild-gateway --config "$demo/gateway.json" >>"$log" 2>&1 &
gateway_pid=$!
stop_gateway() {
  if kill -0 "$gateway_pid" 2>/dev/null; then
    kill -TERM "$gateway_pid"
    wait "$gateway_pid" || true
  fi
}
trap stop_gateway EXIT

export SILD_GATEWAY="localhost:$port" SILD_CA="$pki/ca.crt"
as() {  # as AGENCY sildctl-args...: run sildctl with an agency's certificate
  local who=$1
  shift
  SILD_CERT="$pki/$who.crt" SILD_KEY="$pki/$who.key" build/gateway/sildctl/sildctl "$@"
}

for _ in $(seq 1 50); do
  if as school health >/dev/null 2>&1; then break; fi
  if ! kill -0 "$gateway_pid" 2>/dev/null; then
    echo "sild-gateway exited; see $log" >&2
    exit 1
  fi
  sleep 0.2
done

bash gateway/demo/demo.sh "$pki" "$port"

if [[ $serve -eq 1 ]]; then
  echo
  echo "sild-gateway is serving on localhost:$port. Try:"
  echo "  SILD_GATEWAY=localhost:$port SILD_CA=$pki/ca.crt SILD_CERT=$pki/school.crt SILD_KEY=$pki/school.key build/gateway/sildctl/sildctl whoami"
  echo "Ctrl-C stops it."
  wait "$gateway_pid"
fi
