#!/usr/bin/env bash
# Tests scripts/package-chaincode.sh: the package's shape as a peer's install expects it, connection.json
# with and without TLS, the printed package id, determinism, and refusals of bad input.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name" >&2
  fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
script=scripts/package-chaincode.sh

id=$($script --label reciprocal_1.0 --address chaincode.example.com:7052 --output "$work/a.tar.gz" 2>/dev/null)
check "prints label:sha256 of the file" test "$id" = "reciprocal_1.0:$(sha256sum "$work/a.tar.gz" | cut -d' ' -f1)"
check "exactly metadata.json and code.tar.gz, no ./ prefix" \
  test "$(tar -tzf "$work/a.tar.gz" | tr '\n' ' ')" = "metadata.json code.tar.gz "
check "only regular files" test -z "$(tar -tvzf "$work/a.tar.gz" | grep -v '^-')"
check "metadata type ccaas and label" \
  test "$(tar -xzOf "$work/a.tar.gz" metadata.json)" = '{"type":"ccaas","label":"reciprocal_1.0"}'
connection=$(tar -xzOf "$work/a.tar.gz" code.tar.gz | tar -xzOf - connection.json)
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(json.dumps(v))' "$connection" "$1"; }
check "address" test "$(field address)" = '"chaincode.example.com:7052"'
check "dial_timeout present" test "$(field dial_timeout)" = '"10s"'
check "plaintext by default" test "$(field tls_required)" = false

id2=$($script --label reciprocal_1.0 --address chaincode.example.com:7052 --output "$work/b.tar.gz" 2>/dev/null)
check "same inputs give the same package id" test "$id" = "$id2"

printf -- '-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----\n' >"$work/root.pem"
printf -- '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n' >"$work/client.pem"
printf -- '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n' >"$work/client.key"
$script --tls-root-cert "$work/root.pem" --client-cert "$work/client.pem" --client-key "$work/client.key" \
  --output "$work/tls.tar.gz" >/dev/null 2>&1
connection=$(tar -xzOf "$work/tls.tar.gz" code.tar.gz | tar -xzOf - connection.json)
check "tls_required with root_cert as PEM text" test "$(field tls_required)" = true
check "root_cert is the PEM contents" test "$(field root_cert)" = "$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$work/root.pem")"
check "client auth fields" test "$(field client_auth_required)" = true
id_tls=$($script --tls-root-cert "$work/root.pem" --output "$work/tls2.tar.gz" 2>/dev/null)
check "different connection gives a different id" test "${id_tls#*:}" != "${id#*:}"

check "bad label refused" bash -c "! $script --label '-bad' --output '$work/x.tar.gz' 2>/dev/null"
check "bad address refused" bash -c "! $script --address nohost --output '$work/x.tar.gz' 2>/dev/null"
check "client key without cert refused" bash -c "! $script --client-key '$work/client.key' --output '$work/x.tar.gz' 2>/dev/null"
check "unreadable cert refused" bash -c "! $script --tls-root-cert '$work/missing.pem' --output '$work/x.tar.gz' 2>/dev/null"
check "nothing written on refusal" test ! -e "$work/x.tar.gz"
check "--help works" bash -c "$script --help | grep -q -- --address"

echo "package-chaincode: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
