#!/usr/bin/env bash
# The demo exchange between agencies, run by the quick start against a
# running gateway.
#   demo.sh PKI_DIR PORT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
pki=$1
port=$2
export SILD_GATEWAY="localhost:$port" SILD_CA="$pki/ca.crt"
sildctl="$root/build/gateway/sildctl/sildctl"
as() {
  local who=$1
  shift
  SILD_CERT="$pki/$who.crt" SILD_KEY="$pki/$who.key" "$sildctl" "$@"
}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Gateway health"
as school health

step "Each agency is who its certificate says"
for who in school social-services school-health uif auditor; do
  as "$who" whoami | head -1
done

step "An agency that is not in the federation's config is refused"
if as unknown-agency whoami; then
  echo "unexpected: unknown agency was accepted" >&2
  exit 1
fi
echo "demo finished"
