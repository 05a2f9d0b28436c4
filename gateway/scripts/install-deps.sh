#!/usr/bin/env bash
# Installs the Debian 12 packages sild builds, tests and runs with. Nothing
# comes from anywhere but Debian's archive. Safe to run repeatedly.
#
#   gateway/scripts/install-deps.sh          # build + test packages
#   SILD_SKIP_APT=1 gateway/scripts/...      # skip (packages already there)
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git openssl ca-certificates
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libprotoc-dev libabsl-dev libssl-dev libsqlite3-dev sqlite3 nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libpugixml-dev libjemalloc-dev
  libpq-dev postgresql
  libnats-dev librabbitmq-dev librdkafka-dev nats-server rabbitmq-server
  yamllint python3-jsonschema python3-yaml
)

# The non-C++ client test needs Node.js and npm; a machine that already has a
# Node.js with its own npm (it conflicts with Debian's npm package) keeps it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

if [[ "${SILD_SKIP_APT:-0}" == "1" ]]; then
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# CI must always refresh the package lists first; locally only when needed.
if [[ "${CI:-}" == "true" || ${#missing[@]} -gt 0 ]]; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "==> apt-get update"
  $SUDO apt-get update -qq
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "==> apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
echo "==> Debian packages present"
