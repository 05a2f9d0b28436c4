#!/usr/bin/env bash
# make-dev-pki.sh - build the sild *development* PKI (never use it in production).
#
# Creates a throw-away federation CA, the gateway's server certificate, one
# client certificate per test agency (identity = URI SAN
# spiffe://sild.example/agency/<registry-code>), the negative-test certificates
# (revoked, expired, foreign CA, no identity), a CRL plus a hashed CRL directory
# for gRPC, and the gateway's audit-signing and pseudonym keys.
#
# Only the openssl(1) command line (OpenSSL 3.x) and bash are used. All
# openssl configuration is written to a temporary directory at run time.
# See certs/README.md for the file list and how the tests use each identity.
set -euo pipefail

readonly PROG="${0##*/}"
readonly TRUST_DOMAIN="sild.example"
readonly CA_DAYS=3650    # federation CA: 10 years
readonly LEAF_DAYS=825   # every leaf certificate
readonly CRL_DAYS=825    # CRL nextUpdate
# The expired certificate gets a fixed validity window that lies in the past.
readonly EXPIRED_START="20240101000000Z"
readonly EXPIRED_END="20240131000000Z"

# name|registry code|display name  (client certificates with a valid identity)
readonly -a AGENCIES=(
  "school|75001017|Raasiku Basic School"
  "social-services|75001023|Raasiku Municipal Social Services"
  "child-protection|75001039|Raasiku Child Protection"
  "school-health|75001046|School Health Care Ltd"
  "uif|75001052|Unemployment Insurance Fund"
  "auditor|75001069|Data Protection Auditor"
  "case-manager|75001075|Raasiku Case Manager"
  "unknown-agency|75001081|Agency not in the gateway config"
)
# File stems used for something else; --agency refuses them.
readonly -a RESERVED_NAMES=(
  ca other-ca gateway foreign revoked expired no-identity crl manifest
  gateway-audit-signing gateway-pseudonym gateway-store
)

usage() {
  cat <<EOF
Usage: $PROG [--force] [OUT_DIR]
       $PROG --agency NAME CODE "Display name" [--force] [OUT_DIR]
       $PROG --help

Builds the sild development PKI (EC P-256 keys, federation CA valid
$CA_DAYS days, leaves $LEAF_DAYS days, CRL nextUpdate $CRL_DAYS days).

OUT_DIR defaults to \${SILD_PKI_DIR:-\$HOME/.local/share/sild/dev-pki}
(currently: $(default_out_dir)).

  (no option)   Create the PKI. If OUT_DIR/ca.crt already exists nothing is
                changed and the script exits 0.
  --force       Regenerate the whole PKI (new CA; every old certificate
                becomes useless). With --agency: re-issue that agency's
                certificate and revoke the previous one (rotation).
  --agency NAME CODE "Display name"
                Add one client certificate NAME.crt/NAME.key to an existing
                PKI, with URI SAN spiffe://$TRUST_DOMAIN/agency/CODE.
                NAME: lower-case letters, digits and '-'; CODE: 8-digit
                registry code. The CRL and manifest.txt are refreshed.
  -h, --help    Show this help.

See certs/README.md for what each file is for.
EOF
}

default_out_dir() { printf '%s\n' "${SILD_PKI_DIR:-$HOME/.local/share/sild/dev-pki}"; }

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
progress() { printf '  %-26s %s\n' "$1" "$2"; }

# ---------------------------------------------------------------- arguments
force=0
agency_mode=0
agency_name="" agency_code="" agency_display=""
out_dir=""
while (($# > 0)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    -f | --force) force=1; shift ;;
    --agency)
      (($# >= 4)) || die '--agency needs three arguments: NAME CODE "Display name"'
      agency_mode=1 agency_name="$2" agency_code="$3" agency_display="$4"
      shift 4 ;;
    --) shift; (($# <= 1)) || die "too many arguments"; out_dir="${1:-$out_dir}"; break ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [[ -z "$out_dir" ]] || die "more than one OUT_DIR given"; out_dir="$1"; shift ;;
  esac
done
[[ -n "$out_dir" ]] || out_dir="$(default_out_dir)"

command -v openssl >/dev/null 2>&1 || die "openssl not found in PATH"
ossl_version="$(openssl version)"
[[ "$ossl_version" =~ ^OpenSSL\ ([3-9])\. ]] || die "OpenSSL >= 3.0 required, found: $ossl_version"

umask 077
work="$(mktemp -d "${TMPDIR:-/tmp}/sild-pki.XXXXXX")"
stage=""
cleanup() {
  rm -rf -- "$work"
  if [[ -n "$stage" ]]; then rm -rf -- "$stage"; fi
}
trap cleanup EXIT
readonly LOG="$work/openssl.log"

# Run a command quietly; on failure show its output and abort.
run() {
  if ! "$@" >"$LOG" 2>&1; then
    cat "$LOG" >&2
    die "command failed: $*"
  fi
}

# ---------------------------------------------------------------- openssl config
# write_ca_config DB_DIR: the 'openssl ca' / 'openssl req' config for the federation CA.
write_ca_config() {
  local db="$1"
  cat >"$work/ca.cnf" <<EOF
[ ca ]
default_ca = sild_ca

[ sild_ca ]
database        = $db/index.txt
serial          = $db/serial
crlnumber       = $db/crlnumber
new_certs_dir   = $db/newcerts
default_md      = sha256
default_days    = $LEAF_DAYS
default_crl_days = $CRL_DAYS
policy          = policy_any
unique_subject  = no
copy_extensions = none
preserve        = yes
email_in_dn     = no
name_opt        = ca_default
cert_opt        = ca_default
crl_extensions  = crl_ext

[ policy_any ]
countryName            = optional
organizationName       = optional
organizationIdentifier = optional
commonName             = supplied

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ req ]
distinguished_name = req_dn
string_mask        = utf8only
utf8               = yes
prompt             = no

[ req_dn ]
CN = placeholder (overridden by -subj)

[ v3_ca ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
}

# write_ext FILE EKU SAN: extension section 'leaf' for one end-entity certificate.
# SAN may be empty (no subjectAltName extension at all).
write_ext() {
  local file="$1" eku="$2" san="$3"
  {
    cat <<EOF
[ leaf ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = $eku
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
    if [[ -n "$san" ]]; then printf 'subjectAltName         = %s\n' "$san"; fi
  } >"$file"
}

agency_uri() { printf 'spiffe://%s/agency/%s' "$TRUST_DOMAIN" "$1"; }
agency_subj() { printf '/C=EE/O=%s/organizationIdentifier=NTREE-%s/CN=%s' "$3" "$2" "$1"; }

# ---------------------------------------------------------------- primitives
new_ec_key() { # FILE
  run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:named_curve -out "$1"
  chmod 0600 "$1"
}

new_csr() { # KEY SUBJ CSR
  run openssl req -new -config "$work/ca.cnf" -utf8 -key "$1" -subj "$2" -out "$3"
}

# make_ca DIR STEM SUBJ: self-signed CA DIR/STEM.crt + DIR/STEM.key
make_ca() {
  local dir="$1" stem="$2" subj="$3"
  new_ec_key "$dir/$stem.key"
  run openssl req -new -x509 -config "$work/ca.cnf" -utf8 -extensions v3_ca \
    -key "$dir/$stem.key" -subj "$subj" -days "$CA_DAYS" -sha256 -out "$dir/$stem.crt"
  chmod 0644 "$dir/$stem.crt"
}

# issue DIR NAME SUBJ EKU SAN [extra 'openssl ca' args...]
# Key + certificate DIR/NAME.{key,crt}, signed by the federation CA via 'openssl ca'.
issue() {
  local dir="$1" name="$2" subj="$3" eku="$4" san="$5"
  shift 5
  local ext="$work/$name.ext" csr="$work/$name.csr"
  write_ext "$ext" "$eku" "$san"
  new_ec_key "$work/$name.key.new"
  new_csr "$work/$name.key.new" "$subj" "$csr"
  run openssl ca -batch -config "$work/ca.cnf" -cert "$dir/ca.crt" -keyfile "$dir/ca.key" \
    -notext -in "$csr" -out "$work/$name.crt.new" -extfile "$ext" -extensions leaf "$@"
  mv -f -- "$work/$name.key.new" "$dir/$name.key"
  mv -f -- "$work/$name.crt.new" "$dir/$name.crt"
  chmod 0600 "$dir/$name.key"
  chmod 0644 "$dir/$name.crt"
}

ca_cmd() { # DIR args...: openssl ca with the federation CA
  local dir="$1"
  shift
  run openssl ca -batch -config "$work/ca.cnf" -cert "$dir/ca.crt" -keyfile "$dir/ca.key" "$@"
}

# make_crl DIR: (re)generate DIR/crl.pem and DIR/crl/<hash>.r0
make_crl() {
  local dir="$1" hash
  ca_cmd "$dir" -gencrl -crldays "$CRL_DAYS" -out "$work/crl.pem.new"
  mv -f -- "$work/crl.pem.new" "$dir/crl.pem"
  chmod 0644 "$dir/crl.pem"
  hash="$(openssl crl -hash -noout -in "$dir/crl.pem")"
  [[ "$hash" =~ ^[0-9a-f]{8}$ ]] || die "unexpected CRL hash '$hash'"
  mkdir -p -- "$dir/crl"
  chmod 0755 "$dir/crl"
  # Only one CRL per issuer: drop older generations so lookups see the fresh one.
  rm -f -- "$dir/crl/$hash".r*
  cp -- "$dir/crl.pem" "$dir/crl/$hash.r0"
  chmod 0644 "$dir/crl/$hash.r0"
}

# ---------------------------------------------------------------- manifest
cert_info() { # CRT -> "serial=... notAfter=..."
  local serial end
  serial="$(openssl x509 -noout -serial -in "$1")"
  end="$(openssl x509 -noout -enddate -in "$1")"
  printf '%s %s' "${serial#serial=}" "${end#notAfter=}"
}

write_manifest() { # DIR FINAL_DIR
  local dir="$1" final="$2" hash name code display expect
  hash="$(openssl crl -hash -noout -in "$dir/crl.pem")"
  {
    printf '# sild development PKI - generated by certs/make-dev-pki.sh\n'
    printf '# Updated:      %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
    printf '# Directory:    %s\n' "$final"
    printf '# Trust domain: %s (agency identity = URI SAN spiffe://%s/agency/<registry-code>)\n' \
      "$TRUST_DOMAIN" "$TRUST_DOMAIN"
    printf '# DEVELOPMENT ONLY. *.key files are private (mode 0600) and must never be committed.\n'
    printf '\n[files]\n'
    printf '%-32s %s\n' \
      ca.crt "federation root CA certificate (trust anchor for gateway and agencies)" \
      ca.key "federation root CA private key" \
      crl.pem "CRL of the federation CA (nextUpdate +${CRL_DAYS}d), lists revoked.crt" \
      "crl/$hash.r0" "same CRL under its OpenSSL hash name (gRPC set_crl_directory)" \
      gateway.crt "gateway server+client certificate (CN sild-gateway)" \
      gateway.key "gateway private key" \
      gateway-audit-signing.key "Ed25519 private key for signing audit records" \
      gateway-audit-signing.pub "Ed25519 public key (audit verification)" \
      gateway-pseudonym.key "HMAC key for pseudonyms: 32 random bytes, 64 hex chars + newline" \
      gateway-store.key "AES-256-GCM key sealing payloads at rest: 64 hex chars + newline" \
      other-ca.crt "unrelated CA, NOT trusted by the gateway" \
      other-ca.key "unrelated CA private key" \
      manifest.txt "this file" \
      .ca-db/ "openssl ca database (index.txt, serial, crlnumber, agencies.tsv)"
    printf '\n[server]\n'
    printf '%-18s %-10s %-40s %s\n' gateway - "spiffe://$TRUST_DOMAIN/gateway" \
      "SAN DNS:localhost IP:127.0.0.1 IP:::1; EKU serverAuth,clientAuth; $(cert_info "$dir/gateway.crt")"
    printf '\n[clients]  name | registry code | SPIFFE URI | expected result | display name | serial notAfter\n'
    while IFS=$'\t' read -r name code display; do
      [[ -n "$name" ]] || continue
      if [[ "$name" == unknown-agency ]]; then
        expect="UNAUTHENTICATED (valid cert, agency not configured)"
      else
        expect="accepted"
      fi
      printf '%-18s %-10s %-40s %-52s "%s"  %s\n' "$name" "$code" "$(agency_uri "$code")" \
        "$expect" "$display" "$(cert_info "$dir/$name.crt")"
    done <"$dir/.ca-db/agencies.tsv"
    printf '%-18s %-10s %-40s %-52s "%s"  %s\n' \
      revoked 75001017 "$(agency_uri 75001017)" "rejected in TLS handshake (revoked, in CRL)" \
      "Raasiku Basic School" "$(cert_info "$dir/revoked.crt")" \
      expired 75001017 "$(agency_uri 75001017)" "rejected in TLS handshake (expired)" \
      "Raasiku Basic School" "$(cert_info "$dir/expired.crt")" \
      foreign 75001017 "$(agency_uri 75001017)" "rejected in TLS handshake (issued by other-ca)" \
      "Raasiku Basic School" "$(cert_info "$dir/foreign.crt")" \
      no-identity - "(none: only DNS:school.$TRUST_DOMAIN)" "UNAUTHENTICATED (no URI SAN; subject mimics school)" \
      "Raasiku Basic School" "$(cert_info "$dir/no-identity.crt")"
  } >"$dir/manifest.txt.new"
  mv -f -- "$dir/manifest.txt.new" "$dir/manifest.txt"
  chmod 0644 "$dir/manifest.txt"
}

# ---------------------------------------------------------------- verification
fail_count=0
check_fail() { printf '%s: verification FAILED: %s\n' "$PROG" "$*" >&2; fail_count=$((fail_count + 1)); }

# expect_verify_ok DESC openssl-verify-args...
expect_verify_ok() {
  local desc="$1" out
  shift
  if ! out="$(openssl verify "$@" 2>&1)"; then check_fail "$desc: $out"; fi
}
# expect_verify_error DESC PATTERN openssl-verify-args...
expect_verify_error() {
  local desc="$1" pattern="$2" out
  shift 2
  if out="$(openssl verify "$@" 2>&1)"; then
    check_fail "$desc: verified although it must not"
  elif [[ "$out" != *"$pattern"* ]]; then
    check_fail "$desc: expected '$pattern', got: $out"
  fi
}

check_key_pair() { # DIR NAME
  local a b
  a="$(openssl pkey -pubout -in "$1/$2.key" 2>&1)" || true
  b="$(openssl x509 -noout -pubkey -in "$1/$2.crt" 2>&1)" || true
  [[ -n "$a" && "$a" == "$b" ]] || check_fail "$2.key does not match $2.crt"
  openssl pkey -noout -text -in "$1/$2.key" 2>/dev/null | grep -q 'NIST CURVE: P-256' ||
    check_fail "$2.key is not an EC P-256 key"
}

check_san() { # DIR NAME EXPECTED_SAN_TEXT ('' = must have no URI SAN)
  local san
  san="$(openssl x509 -noout -ext subjectAltName -in "$1/$2.crt" 2>/dev/null | sed -n '2,$p' | tr -d ' ')" || true
  if [[ -z "$3" ]]; then
    [[ "$san" != *URI:* ]] || check_fail "$2.crt must not carry a URI SAN (has: $san)"
  else
    [[ "$san" == "$3" ]] || check_fail "$2.crt SAN is '$san', expected '$3'"
  fi
}

check_client() { # DIR NAME CODE
  local dir="$1"
  expect_verify_ok "$2.crt" -CAfile "$dir/ca.crt" -purpose sslclient "$dir/$2.crt"
  expect_verify_ok "$2.crt (CRL dir)" -CAfile "$dir/ca.crt" -CApath "$dir/crl" -crl_check \
    -purpose sslclient "$dir/$2.crt"
  check_san "$dir" "$2" "URI:$(agency_uri "$3")"
  check_key_pair "$dir" "$2"
}

verify_pki() { # DIR [ONLY_NAME]
  local dir="$1" only="${2:-}" name code display bad
  fail_count=0
  if [[ -n "$only" ]]; then
    code="$(awk -F'\t' -v n="$only" '$1 == n { print $2 }' "$dir/.ca-db/agencies.tsv")"
    check_client "$dir" "$only" "$code"
  else
    expect_verify_ok "ca.crt" -CAfile "$dir/ca.crt" "$dir/ca.crt"
    expect_verify_ok "gateway.crt (server)" -CAfile "$dir/ca.crt" -purpose sslserver "$dir/gateway.crt"
    expect_verify_ok "gateway.crt (client)" -CAfile "$dir/ca.crt" -purpose sslclient "$dir/gateway.crt"
    expect_verify_ok "gateway.crt (CRL dir)" -CAfile "$dir/ca.crt" -CApath "$dir/crl" -crl_check \
      -purpose sslserver "$dir/gateway.crt"
    check_san "$dir" gateway "DNS:localhost,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1,URI:spiffe://$TRUST_DOMAIN/gateway"
    check_key_pair "$dir" gateway
    while IFS=$'\t' read -r name code display; do
      [[ -n "$name" ]] && check_client "$dir" "$name" "$code"
    done <"$dir/.ca-db/agencies.tsv"

    # revoked: a valid chain, but listed in the CRL (both via -CRLfile and the hashed dir).
    expect_verify_ok "revoked.crt (without CRL)" -CAfile "$dir/ca.crt" "$dir/revoked.crt"
    expect_verify_error "revoked.crt (crl.pem)" "certificate revoked" \
      -CAfile "$dir/ca.crt" -crl_check -CRLfile "$dir/crl.pem" "$dir/revoked.crt"
    expect_verify_error "revoked.crt (CRL dir)" "certificate revoked" \
      -CAfile "$dir/ca.crt" -CApath "$dir/crl" -crl_check "$dir/revoked.crt"
    check_san "$dir" revoked "URI:$(agency_uri 75001017)"
    check_key_pair "$dir" revoked
    # expired: right CA, notAfter in the past.
    expect_verify_error "expired.crt" "certificate has expired" -CAfile "$dir/ca.crt" "$dir/expired.crt"
    check_san "$dir" expired "URI:$(agency_uri 75001017)"
    check_key_pair "$dir" expired
    # foreign: fine under other-ca, unknown to the federation CA.
    expect_verify_ok "foreign.crt (other-ca)" -CAfile "$dir/other-ca.crt" -purpose sslclient "$dir/foreign.crt"
    expect_verify_error "foreign.crt (federation CA)" "unable to get local issuer certificate" \
      -CAfile "$dir/ca.crt" "$dir/foreign.crt"
    check_san "$dir" foreign "URI:$(agency_uri 75001017)"
    check_key_pair "$dir" foreign
    # no-identity: chains to the federation CA, but no URI SAN.
    expect_verify_ok "no-identity.crt" -CAfile "$dir/ca.crt" -CApath "$dir/crl" -crl_check \
      -purpose sslclient "$dir/no-identity.crt"
    check_san "$dir" no-identity ""
    check_key_pair "$dir" no-identity

    # CRL: signed by the federation CA, lists the revoked serial.
    openssl crl -noout -CAfile "$dir/ca.crt" -in "$dir/crl.pem" >/dev/null 2>&1 ||
      check_fail "crl.pem signature does not verify against ca.crt"
    local rserial
    rserial="$(openssl x509 -noout -serial -in "$dir/revoked.crt")"
    rserial="${rserial#serial=}"
    openssl crl -noout -text -in "$dir/crl.pem" | grep -qi "Serial Number: $rserial" ||
      check_fail "crl.pem does not list revoked.crt (serial $rserial)"

    # Audit signing key pair and pseudonym key.
    [[ "$(openssl pkey -pubout -in "$dir/gateway-audit-signing.key" 2>&1)" == \
      "$(cat "$dir/gateway-audit-signing.pub")" ]] ||
      check_fail "gateway-audit-signing.pub does not match gateway-audit-signing.key"
    openssl pkey -noout -text -in "$dir/gateway-audit-signing.key" 2>/dev/null | grep -q '^ED25519 Private-Key' ||
      check_fail "gateway-audit-signing.key is not Ed25519"
    grep -Eqx '[0-9a-f]{64}' "$dir/gateway-pseudonym.key" ||
      check_fail "gateway-pseudonym.key is not 64 hex characters"
    grep -Eqx '[0-9a-f]{64}' "$dir/gateway-store.key" ||
      check_fail "gateway-store.key is not 64 hex characters"
  fi
  bad="$(find "$dir" -maxdepth 1 -type f -name '*.key' ! -perm 600 -print)"
  [[ -z "$bad" ]] || check_fail "private keys not mode 0600: $bad"
  ((fail_count == 0)) || die "$fail_count verification check(s) failed (see above)"
}

# ---------------------------------------------------------------- --agency
add_agency() {
  local dir="$out_dir" name="$agency_name" code="$agency_code" display="$agency_display" r old
  [[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] ||
    die "agency NAME '$name' must be lower-case letters, digits and '-' (max 63)"
  for r in "${RESERVED_NAMES[@]}"; do
    [[ "$name" != "$r" ]] || die "agency NAME '$name' is reserved"
  done
  [[ "$code" =~ ^[0-9]{8}$ ]] || die "registry CODE '$code' must be 8 digits"
  [[ -n "$display" && "$display" != *[/\\]* && ${#display} -le 64 ]] ||
    die "display name must be 1-64 characters without '/' or '\\'"
  [[ -f "$dir/ca.crt" && -f "$dir/ca.key" && -f "$dir/.ca-db/index.txt" && -f "$dir/.ca-db/agencies.tsv" ]] ||
    die "no development PKI in $dir (run '$PROG${out_dir:+ $out_dir}' first)"

  write_ca_config "$dir/.ca-db"
  printf 'Adding agency %s (%s) to %s\n' "$name" "$code" "$dir"
  old="$(awk -F'\t' -v c="$code" -v n="$name" '$2 == c && $1 != n { print $1 }' "$dir/.ca-db/agencies.tsv")"
  [[ -z "$old" ]] || printf '  note: registry code %s is also used by: %s\n' "$code" "$old"

  local rotate=0
  if [[ -e "$dir/$name.crt" ]]; then
    ((force)) || die "$dir/$name.crt already exists (use --force to re-issue it and revoke the old one)"
    cp -- "$dir/$name.crt" "$work/old.crt"
    rotate=1
  fi
  issue "$dir" "$name" "$(agency_subj "$name" "$code" "$display")" clientAuth "URI:$(agency_uri "$code")"
  progress "$name.crt" "$(agency_uri "$code")  \"$display\""
  if ((rotate)); then
    ca_cmd "$dir" -revoke "$work/old.crt" -crl_reason superseded
    progress "$name.crt (previous)" "revoked (superseded)"
  fi
  # Replace the agency's line in place, or append it.
  awk -F'\t' -v OFS='\t' -v n="$name" -v c="$code" -v d="$display" '
    $1 == n { print n, c, d; done = 1; next }
    { print }
    END { if (!done) print n, c, d }' "$dir/.ca-db/agencies.tsv" >"$work/agencies.tsv"
  cp -- "$work/agencies.tsv" "$dir/.ca-db/agencies.tsv"
  make_crl "$dir"
  progress "crl.pem, crl/" "re-signed"
  write_manifest "$dir" "$dir"
  verify_pki "$dir" "$name"
  printf 'Done: %s/%s.crt  (add the agency to the gateway config to authorise it)\n' "$dir" "$name"
}

# ---------------------------------------------------------------- full build
build_pki() { # DIR: everything, inside an empty directory
  local dir="$1" entry name code display serial
  local fed_o="/C=EE/O=sild development federation"
  mkdir -p "$dir/.ca-db/newcerts"
  : >"$dir/.ca-db/index.txt"
  printf 'unique_subject = no\n' >"$dir/.ca-db/index.txt.attr"
  # Random 127-bit positive starting serial; openssl ca increments it.
  serial="$(openssl rand -hex 16)"
  printf '%x%s\n' $((0x${serial:0:1} & 7)) "${serial:1}" >"$dir/.ca-db/serial"
  printf '1000\n' >"$dir/.ca-db/crlnumber"
  : >"$dir/.ca-db/agencies.tsv"
  write_ca_config "$dir/.ca-db"

  make_ca "$dir" ca "$fed_o/CN=sild development federation CA"
  progress ca.crt "federation root CA, ${CA_DAYS} days"

  issue "$dir" gateway "$fed_o/CN=sild-gateway" "serverAuth, clientAuth" \
    "DNS:localhost, IP:127.0.0.1, IP:::1, URI:spiffe://$TRUST_DOMAIN/gateway"
  progress gateway.crt "server, DNS:localhost IP:127.0.0.1 IP:::1 spiffe://$TRUST_DOMAIN/gateway"

  for entry in "${AGENCIES[@]}"; do
    IFS='|' read -r name code display <<<"$entry"
    issue "$dir" "$name" "$(agency_subj "$name" "$code" "$display")" clientAuth "URI:$(agency_uri "$code")"
    printf '%s\t%s\t%s\n' "$name" "$code" "$display" >>"$dir/.ca-db/agencies.tsv"
    progress "$name.crt" "$(agency_uri "$code")  \"$display\""
  done

  issue "$dir" revoked "$(agency_subj revoked 75001017 "Raasiku Basic School")" clientAuth \
    "URI:$(agency_uri 75001017)"
  ca_cmd "$dir" -revoke "$dir/revoked.crt" -crl_reason keyCompromise
  progress revoked.crt "$(agency_uri 75001017), revoked (keyCompromise)"

  issue "$dir" expired "$(agency_subj expired 75001017 "Raasiku Basic School")" clientAuth \
    "URI:$(agency_uri 75001017)" -startdate "$EXPIRED_START" -enddate "$EXPIRED_END"
  progress expired.crt "$(agency_uri 75001017), notAfter $EXPIRED_END (past)"

  # Subject deliberately looks like the school: identity must come from the URI SAN only.
  issue "$dir" no-identity "$(agency_subj school 75001017 "Raasiku Basic School")" clientAuth \
    "DNS:school.$TRUST_DOMAIN"
  progress no-identity.crt "no URI SAN (subject mimics school)"

  make_crl "$dir"
  progress "crl.pem, crl/" "$(basename "$(find "$dir/crl" -name '*.r0')"), nextUpdate +${CRL_DAYS} days"

  # Unrelated CA and a certificate from it that claims the school's identity.
  make_ca "$dir" other-ca "/C=EE/O=Unrelated development CA/CN=sild untrusted other CA"
  progress other-ca.crt "unrelated CA (not trusted by the gateway)"
  write_ext "$work/foreign.ext" clientAuth "URI:$(agency_uri 75001017)"
  new_ec_key "$dir/foreign.key"
  new_csr "$dir/foreign.key" "$(agency_subj school 75001017 "Raasiku Basic School")" "$work/foreign.csr"
  serial="$(openssl rand -hex 16)"
  run openssl x509 -req -in "$work/foreign.csr" -CA "$dir/other-ca.crt" -CAkey "$dir/other-ca.key" \
    -set_serial "0x$(printf '%x' $((0x${serial:0:1} & 7)))${serial:1}" -days "$LEAF_DAYS" -sha256 \
    -extfile "$work/foreign.ext" -extensions leaf -out "$dir/foreign.crt"
  chmod 0644 "$dir/foreign.crt"
  progress foreign.crt "$(agency_uri 75001017), signed by other-ca"

  run openssl genpkey -algorithm ed25519 -out "$dir/gateway-audit-signing.key"
  run openssl pkey -in "$dir/gateway-audit-signing.key" -pubout -out "$dir/gateway-audit-signing.pub"
  chmod 0600 "$dir/gateway-audit-signing.key"
  chmod 0644 "$dir/gateway-audit-signing.pub"
  progress gateway-audit-signing.key "Ed25519 audit signing key (+ .pub)"

  openssl rand -hex 32 >"$dir/gateway-pseudonym.key"
  chmod 0600 "$dir/gateway-pseudonym.key"
  progress gateway-pseudonym.key "32-byte HMAC pseudonym key (hex)"

  openssl rand -hex 32 >"$dir/gateway-store.key"
  chmod 0600 "$dir/gateway-store.key"
  progress gateway-store.key "32-byte payload encryption key (hex)"
}

# Remove exactly the files a previous run created (never the whole directory).
remove_old_pki() {
  local dir="$1" name rest f
  if [[ -f "$dir/.ca-db/agencies.tsv" ]]; then
    while IFS=$'\t' read -r name rest; do
      [[ "$name" =~ ^[a-z0-9][a-z0-9-]*$ ]] && rm -f -- "$dir/$name.crt" "$dir/$name.key"
    done <"$dir/.ca-db/agencies.tsv"
  fi
  for f in ca other-ca gateway foreign revoked expired no-identity; do
    rm -f -- "$dir/$f.crt" "$dir/$f.key"
  done
  rm -f -- "$dir/crl.pem" "$dir/manifest.txt" "$dir/gateway-audit-signing.key" \
    "$dir/gateway-audit-signing.pub" "$dir/gateway-pseudonym.key" "$dir/gateway-store.key"
  rm -rf -- "$dir/crl" "$dir/.ca-db"
}

main() {
  if ((agency_mode)); then
    add_agency
    return
  fi
  if [[ -e "$out_dir/ca.crt" && $force -eq 0 ]]; then
    # A PKI made before the payload key existed gets just that key added.
    if [[ ! -e "$out_dir/gateway-store.key" ]]; then
      (umask 077 && openssl rand -hex 32 >"$out_dir/gateway-store.key")
      printf 'Added %s/gateway-store.key (payload encryption key).\n' "$out_dir"
    fi
    printf 'Development PKI already exists: %s/ca.crt (nothing changed; use --force to regenerate).\n' "$out_dir"
    return 0
  fi
  mkdir -p -- "$out_dir"
  out_dir="$(cd -- "$out_dir" && pwd -P)"
  printf 'Generating sild development PKI in %s\n' "$out_dir"
  # Build and verify in a staging directory next to the target, then move into
  # place, so a failed run never leaves a half-made PKI behind.
  stage="$(mktemp -d "$out_dir/.staging.XXXXXX")"
  build_pki "$stage"
  write_manifest "$stage" "$out_dir"
  verify_pki "$stage"
  # Only our own file names are removed (leftovers of an earlier or broken run).
  remove_old_pki "$out_dir"
  local f
  for f in "$stage"/* "$stage"/.ca-db; do
    [[ "$(basename "$f")" == ca.crt ]] && continue
    mv -- "$f" "$out_dir/"
  done
  mv -- "$stage/ca.crt" "$out_dir/ca.crt" # last: its presence marks a complete PKI
  printf 'Verified. Files are listed in %s/manifest.txt\n' "$out_dir"
  printf 'CRL directory for gRPC set_crl_directory: %s/crl\n' "$out_dir"
}

main
