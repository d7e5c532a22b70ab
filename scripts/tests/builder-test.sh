#!/usr/bin/env bash
# Tests the ccaas external builder (fabric-network/builders/ccaas/bin/{detect,build,release}) the way a
# peer runs it at install, on packages written by scripts/package-chaincode.sh: detect takes ccaas
# packages only, build checks connection.json and copies it, release puts it where the peer looks. Each
# JSON reader the builder may use (jq, python3, and the sed fallback the peer image relies on) is tested.
suite=ccaas-builder
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

builder=$repo/fabric-network/builders/ccaas
package=$repo/scripts/package-chaincode.sh

# unpack PACKAGE DIR: what the peer hands the builder, DIR/src (code.tar.gz) and DIR/md (metadata.json).
unpack() {
  mkdir -p "$2/src" "$2/md"
  tar -xzOf "$1" code.tar.gz | tar -xzf - -C "$2/src"
  tar -xzf "$1" -C "$2/md" metadata.json
}

printf -- '-----BEGIN CERTIFICATE-----\nMIIB\nROOT\n-----END CERTIFICATE-----\n' >"$scratch/root.pem"
"$package" --label cc_1 --address 127.0.0.1:7052 --output "$scratch/plain.tar.gz" >/dev/null 2>&1
"$package" --label cc_1 --address chaincode:7052 --tls-root-cert "$scratch/root.pem" \
  --output "$scratch/tls.tar.gz" >/dev/null 2>&1

parsers=(sed)
command -v python3 >/dev/null 2>&1 && parsers+=(python3)
command -v jq >/dev/null 2>&1 && parsers+=(jq)

for parser in "${parsers[@]}"; do
  export CCAAS_JSON_PARSER=$parser
  work=$scratch/$parser
  mkdir -p "$work"

  # detect
  unpack "$scratch/plain.tar.gz" "$work/plain"
  check "[$parser] detect accepts a ccaas package" "$builder/bin/detect" "$work/plain/src" "$work/plain/md"
  mkdir -p "$work/upper"
  printf '{"label": "x", "type": "CCaaS"}\n' >"$work/upper/metadata.json"
  check "[$parser] detect compares the type case-insensitively" "$builder/bin/detect" "$work/plain/src" "$work/upper"
  mkdir -p "$work/golang"
  printf '{"type":"golang","label":"x"}\n' >"$work/golang/metadata.json"
  check_not "[$parser] detect declines another type" "$builder/bin/detect" "$work/plain/src" "$work/golang" 2>/dev/null
  mkdir -p "$work/notjson"
  printf 'type: ccaas\n' >"$work/notjson/metadata.json"
  check_not "[$parser] detect declines metadata that is not JSON" "$builder/bin/detect" "$work/plain/src" "$work/notjson" 2>/dev/null
  check_not "[$parser] detect declines a missing metadata.json" "$builder/bin/detect" "$work/plain/src" "$work/none" 2>/dev/null

  # build + release, plaintext
  "$builder/bin/build" "$work/plain/src" "$work/plain/md" "$work/plain/out" 2>/dev/null
  check "[$parser] build succeeds" test $? -eq 0
  check "[$parser] build copies connection.json unchanged" cmp -s "$work/plain/src/connection.json" "$work/plain/out/connection.json"
  check "[$parser] build copies metadata.json" cmp -s "$work/plain/md/metadata.json" "$work/plain/out/metadata.json"
  "$builder/bin/release" "$work/plain/out" "$work/plain/release" 2>/dev/null
  check "[$parser] release succeeds" test $? -eq 0
  check "[$parser] release writes chaincode/server/connection.json" \
    cmp -s "$work/plain/src/connection.json" "$work/plain/release/chaincode/server/connection.json"
  check "[$parser] release writes no statedb without indexes" test ! -e "$work/plain/release/statedb"

  # build + release with TLS (multi-line PEM in JSON) and CouchDB indexes
  unpack "$scratch/tls.tar.gz" "$work/tls"
  mkdir -p "$work/tls/src/META-INF/statedb/couchdb/indexes"
  printf '{"index":{"fields":["club"]},"name":"byClub","type":"json"}\n' \
    >"$work/tls/src/META-INF/statedb/couchdb/indexes/byClub.json"
  check "[$parser] build accepts a TLS connection with root_cert" \
    "$builder/bin/build" "$work/tls/src" "$work/tls/md" "$work/tls/out" 2>/dev/null
  check "[$parser] build copies META-INF" test -s "$work/tls/out/META-INF/statedb/couchdb/indexes/byClub.json"
  check "[$parser] release of the TLS package" "$builder/bin/release" "$work/tls/out" "$work/tls/release" 2>/dev/null
  check "[$parser] release copies the CouchDB indexes to statedb" \
    test -s "$work/tls/release/statedb/couchdb/indexes/byClub.json"
  check "[$parser] released TLS connection.json is unchanged" \
    cmp -s "$work/tls/src/connection.json" "$work/tls/release/chaincode/server/connection.json"

  # build refusals, each with a message naming the problem
  refuse() { # NAME CONNECTION_JSON MESSAGE
    local dir=$work/bad-$((++bad))
    mkdir -p "$dir/src"
    printf '%s\n' "$2" >"$dir/src/connection.json"
    local err
    err=$("$builder/bin/build" "$dir/src" "$work/plain/md" "$dir/out" 2>&1 >/dev/null)
    local rc=$?
    check "[$parser] build refuses $1" test "$rc" -ne 0
    check "[$parser] the refusal of $1 says '$3'" contains "$err" "$3"
    check "[$parser] nothing is built for $1" test ! -e "$dir/out/connection.json"
  }
  bad=0
  refuse "a missing address" '{"dial_timeout": "10s", "tls_required": false}' '"address"'
  refuse "an address without port" '{"address": "chaincode", "dial_timeout": "10s"}' "host:port"
  refuse "a template address" '{"address": "{{.peername}}_cc:9999", "dial_timeout": "10s"}' "template"
  refuse "a missing dial_timeout" '{"address": "chaincode:7052"}' '"dial_timeout"'
  refuse "a dial_timeout that is no duration" '{"address": "chaincode:7052", "dial_timeout": "soon"}' "duration"
  refuse "TLS without root_cert" '{"address": "chaincode:7052", "dial_timeout": "10s", "tls_required": true}' "root_cert"
  refuse "client auth without client_key" \
    '{"address": "c:7052", "dial_timeout": "10s", "tls_required": true, "root_cert": "X", "client_auth_required": true, "client_cert": "Y"}' \
    "client_key"
  refuse "text that is not JSON" 'address: chaincode:7052' "not a JSON object"
  mkdir -p "$work/empty/src"
  check_not "[$parser] build refuses a package without connection.json" \
    "$builder/bin/build" "$work/empty/src" "$work/plain/md" "$work/empty/out" 2>/dev/null
  check_not "[$parser] release refuses a build output without connection.json" \
    "$builder/bin/release" "$work/empty/src" "$work/empty/release" 2>/dev/null
done
unset CCAAS_JSON_PARSER

check "the builder scripts are executable" test -x "$builder/bin/detect" -a -x "$builder/bin/build" -a -x "$builder/bin/release"
if command -v shellcheck >/dev/null 2>&1; then
  check "the builder scripts are POSIX sh and shellcheck-clean" \
    shellcheck -x -s sh "$builder/bin/detect" "$builder/bin/build" "$builder/bin/release" "$builder/lib/json.sh"
fi

finish
