#!/usr/bin/env bash
# The demo exchange between agencies, run by the quick start against a
# running gateway:
#   1. social services records a parent's consent for a pupil,
#   2. the school refers the pupil to social services: allowed by the
#      consent, minimised (the health concern is withheld), delivered,
#   3. social services takes it from its inbox and accepts it,
#   4. the school refers the pupil to school health: no consent covers
#      health data, so it is refused, and the refusal is audited,
#   5. the auditor verifies the audit trail and looks up the pupil.
#
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

pupil=51205280105   # born 2012-05-28
parent=38001012341
run=$(date +%s)

step "Gateway health; each agency is who its certificate says"
as school health
for who in school social-services school-health auditor; do
  as "$who" whoami | head -1
done
if as unknown-agency whoami 2>/dev/null; then
  echo "unexpected: an agency outside the federation was accepted" >&2
  exit 1
fi
echo "agency outside the federation: refused (UNAUTHENTICATED)"

step "Social services records the parent's consent (no health data)"
consent_json=$(as social-services consent grant --json \
  --subject "$pupil" --grantor parent --representative-code "$parent" \
  --representative-name "Parent Tamm" --recipient 75001023 \
  --purpose support-service --category identity --category contact \
  --category education --category behaviour --category free-text \
  --until 2030-12-31)
consent_id=$(printf '%s' "$consent_json" | sed -n 's/.*"consent_id":"\([^"]*\)".*/\1/p')
echo "consent $consent_id recorded"
as social-services consent get "$consent_id" | head -8

step "The school refers the pupil to social services"
referral_json=$(as school referral submit --json --subject "$pupil" \
  --given-name Mari --family-name Tamm --service social-worker --to 75001023 \
  --purpose support-service --absences 31 --lessons 180 \
  --failing mathematics --health-concern "suspected anxiety" \
  --summary "Absent most Mondays since October; parents agree to support." \
  --idempotency-key "demo-$run-1" --professional-name "Teacher Kask" \
  --professional-role "class teacher")
referral_id=$(printf '%s' "$referral_json" | sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p')
printf '%s\n' "$referral_json" | sed 's/,"/,\n  "/g' | grep -E 'message_id|reason_code|withheld|allowed' || true

step "Social services takes it from its inbox (minimised: no health concern)"
as social-services inbox watch --count 1 --ack
as social-services referral get "$referral_id"

step "Social services accepts; the school sees the status"
as social-services referral status "$referral_id" --set accepted \
  --note "first meeting next week" >/dev/null
as school referral get "$referral_id" | grep -E 'status|history'

step "The school refers the pupil to school health: no consent covers health"
if as school referral submit --subject "$pupil" --service health-check \
  --to 75001046 --purpose health-care --health-concern "suspected anxiety" \
  --idempotency-key "demo-$run-2"; then
  echo "unexpected: referral without a consent was delivered" >&2
  exit 1
fi
echo "refused and audited"

step "The auditor verifies the audit trail and looks up the pupil"
as auditor audit verify
as auditor audit query --subject "$pupil" --limit 10
echo
echo "demo finished"
