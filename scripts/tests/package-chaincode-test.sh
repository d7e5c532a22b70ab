#!/usr/bin/env bash
# Tests scripts/package-chaincode.sh: the package's shape as a peer's install expects it, connection.json
# with and without TLS, the printed package id, determinism, and refusals of bad input.
suite=package-chaincode
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

script=$repo/scripts/package-chaincode.sh
work=$scratch

# field JSON NAME: the JSON encoding of top-level field NAME of the JSON text.
field() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]).get(sys.argv[2])))' "$1" "$2"; }
connection_of() { tar -xzOf "$1" code.tar.gz | tar -xzOf - connection.json; }

id=$("$script" --label reciprocal_1.0 --address chaincode.example.com:7052 --output "$work/a.tar.gz" 2>"$work/stderr")
check "prints label:sha256 of the file" test "$id" = "reciprocal_1.0:$(sha256sum "$work/a.tar.gz" | cut -d' ' -f1)"
check "prints nothing else on stdout" test "$(printf '%s\n' "$id" | wc -l)" -eq 1
check "reports on stderr" grep -q 'wrote' "$work/stderr"
check "exactly metadata.json and code.tar.gz, no ./ prefix" \
  test "$(tar -tzf "$work/a.tar.gz" | tr '\n' ' ')" = "metadata.json code.tar.gz "
check "only regular files" test -z "$(tar -tvzf "$work/a.tar.gz" | grep -v '^-')"
check "fixed owner and time" test -z "$(tar -tvzf "$work/a.tar.gz" | grep -v ' 0/0 .* 2020-01-01 00:00 ')"
check "metadata type ccaas and label" \
  test "$(tar -xzOf "$work/a.tar.gz" metadata.json)" = '{"type":"ccaas","label":"reciprocal_1.0"}'
check "code.tar.gz holds connection.json only" \
  test "$(tar -xzOf "$work/a.tar.gz" code.tar.gz | tar -tzf - | tr '\n' ' ')" = "connection.json "
connection=$(connection_of "$work/a.tar.gz")
check "connection.json is valid JSON" python3 -c 'import json,sys; json.loads(sys.argv[1])' "$connection"
check "address" test "$(field "$connection" address)" = '"chaincode.example.com:7052"'
check "dial_timeout present" test "$(field "$connection" dial_timeout)" = '"10s"'
check "plaintext by default" test "$(field "$connection" tls_required)" = false
check "no client auth by default" test "$(field "$connection" client_auth_required)" = false
check "no PEM fields without TLS" test "$(field "$connection" root_cert)" = null

id2=$("$script" --label reciprocal_1.0 --address chaincode.example.com:7052 --output "$work/b.tar.gz" 2>/dev/null)
check "same inputs give the same package id" test "$id" = "$id2"
check "same inputs give the same bytes" cmp -s "$work/a.tar.gz" "$work/b.tar.gz"
id3=$("$script" --label reciprocal_1.0 --address chaincode.example.com:7052 --dial-timeout 1m30s \
  --output "$work/c.tar.gz" 2>/dev/null)
check "a different dial timeout gives a different id" test "$id3" != "$id"
check "the dial timeout is written" test "$(field "$(connection_of "$work/c.tar.gz")" dial_timeout)" = '"1m30s"'

printf -- '-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----\n' >"$work/root.pem"
printf -- '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n' >"$work/client.pem"
printf -- '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n' >"$work/client.key"
"$script" --tls-root-cert "$work/root.pem" --client-auth --client-cert "$work/client.pem" \
  --client-key "$work/client.key" --output "$work/tls.tar.gz" >/dev/null 2>&1
connection=$(connection_of "$work/tls.tar.gz")
pem_json() { python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$1"; }
check "tls_required with TLS" test "$(field "$connection" tls_required)" = true
check "root_cert is the PEM text, newlines kept" test "$(field "$connection" root_cert)" = "$(pem_json "$work/root.pem")"
check "client_auth_required with client auth" test "$(field "$connection" client_auth_required)" = true
check "client_cert is the PEM text" test "$(field "$connection" client_cert)" = "$(pem_json "$work/client.pem")"
check "client_key is the PEM text" test "$(field "$connection" client_key)" = "$(pem_json "$work/client.key")"
"$script" --tls-root-cert "$work/root.pem" --client-cert "$work/client.pem" --client-key "$work/client.key" \
  --output "$work/implied.tar.gz" >/dev/null 2>&1
check "client cert and key imply client auth" cmp -s "$work/tls.tar.gz" "$work/implied.tar.gz"
id_tls=$("$script" --tls-root-cert "$work/root.pem" --output "$work/tls2.tar.gz" 2>/dev/null)
check "a different connection gives a different id" test "${id_tls#*:}" != "${id#*:}"
check "TLS without client auth" test "$(field "$(connection_of "$work/tls2.tar.gz")" client_auth_required)" = false

(cd "$work" && "$script" --label default_label >/dev/null 2>&1)
check "default output is LABEL.tar.gz" test -s "$work/default_label.tar.gz"

refused() { # NAME ARGS...: the script must exit non-zero and write nothing
  local name=$1
  shift
  check_not "$name" "$script" "$@" --output "$work/x.tar.gz"
}
exec 3>&2 2>/dev/null
refused "label starting with a dash refused" --label -bad
refused "label with a space refused" --label 'a b'
refused "label with a colon refused" --label 'a:b'
refused "label with a quote refused" --label 'a"b'
refused "address without a port refused" --address nohost
refused "address with a quote refused" --address 'a"b:7052'
refused "dial timeout that is not a duration refused" --dial-timeout ten
refused "client key without cert refused" --client-key "$work/client.key"
refused "--client-auth without cert and key refused" --tls-root-cert "$work/root.pem" --client-auth
refused "client auth without TLS refused" --client-cert "$work/client.pem" --client-key "$work/client.key"
refused "unreadable cert refused" --tls-root-cert "$work/missing.pem"
refused "unknown option refused" --bogus
exec 2>&3 3>&-
check "nothing written on refusal" test ! -e "$work/x.tar.gz"
check "--help works" bash -c "'$script' --help | grep -q -- --client-auth"

finish
