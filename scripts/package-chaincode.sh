#!/usr/bin/env bash
# Writes a chaincode-as-a-service package for `peer lifecycle chaincode install` and prints its package id
# (label:sha256 of the package file) on stdout; everything else goes to stderr.
#
# The package is a gzip tar holding exactly two regular files, metadata.json ({"type":"ccaas","label":…})
# and code.tar.gz (holding connection.json), built with fixed owners and times so the same inputs always
# give the same package id.
set -euo pipefail

usage() {
  cat <<'HELP'
Usage: scripts/package-chaincode.sh [options]

  --label LABEL           package label                          [default: reciprocal_1.0]
  --address HOST:PORT     where the peer dials the chaincode     [default: 127.0.0.1:7052]
  --dial-timeout DURATION connection.json dial_timeout           [default: 10s]
  --tls-root-cert FILE    CA of the chaincode server's TLS cert: turns tls_required on
  --client-cert FILE      peer's client certificate (with --client-key): client_auth_required
  --client-key FILE       peer's client key
  --output FILE           package file                           [default: LABEL.tar.gz]
  -h, --help              this help
HELP
}

label=reciprocal_1.0
address=127.0.0.1:7052
dial_timeout=10s
root_cert=
client_cert=
client_key=
output=
while [ $# -gt 0 ]; do
  case "$1" in
    --label) label=${2:?--label needs a value}; shift 2 ;;
    --address) address=${2:?--address needs a value}; shift 2 ;;
    --dial-timeout) dial_timeout=${2:?--dial-timeout needs a value}; shift 2 ;;
    --tls-root-cert) root_cert=${2:?--tls-root-cert needs a file}; shift 2 ;;
    --client-cert) client_cert=${2:?--client-cert needs a file}; shift 2 ;;
    --client-key) client_key=${2:?--client-key needs a file}; shift 2 ;;
    --output) output=${2:?--output needs a file}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "package-chaincode.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

if ! [[ "$label" =~ ^[[:alnum:]][[:alnum:]_.+-]*$ ]]; then
  echo "package-chaincode.sh: label '$label' must match ^[[:alnum:]][[:alnum:]_.+-]*\$" >&2
  exit 2
fi
if ! [[ "$address" =~ ^[^:]+:[0-9]+$ ]]; then
  echo "package-chaincode.sh: --address must be HOST:PORT, got '$address'" >&2
  exit 2
fi
if { [ -n "$client_cert" ] && [ -z "$client_key" ]; } || { [ -z "$client_cert" ] && [ -n "$client_key" ]; }; then
  echo "package-chaincode.sh: --client-cert and --client-key go together" >&2
  exit 2
fi
if [ -n "$client_cert" ] && [ -z "$root_cert" ]; then
  echo "package-chaincode.sh: client authentication needs TLS (--tls-root-cert)" >&2
  exit 2
fi
for file in "$root_cert" "$client_cert" "$client_key"; do
  if [ -n "$file" ] && [ ! -r "$file" ]; then
    echo "package-chaincode.sh: cannot read $file" >&2
    exit 2
  fi
done
output=${output:-$label.tar.gz}

# JSON string of a file's contents (PEM text, newlines escaped).
json_file() { python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$1"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  printf '{\n  "address": "%s",\n  "dial_timeout": "%s",\n' "$address" "$dial_timeout"
  if [ -n "$root_cert" ]; then
    printf '  "tls_required": true,\n  "root_cert": %s,\n' "$(json_file "$root_cert")"
  else
    printf '  "tls_required": false,\n'
  fi
  if [ -n "$client_cert" ]; then
    printf '  "client_auth_required": true,\n  "client_cert": %s,\n  "client_key": %s\n' \
      "$(json_file "$client_cert")" "$(json_file "$client_key")"
  else
    printf '  "client_auth_required": false\n'
  fi
  printf '}\n'
} >"$work/connection.json"
printf '{"type":"ccaas","label":"%s"}\n' "$label" >"$work/metadata.json"

deterministic_tar() {
  # $1 = archive, rest = files relative to $work
  local archive=$1
  shift
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2020-01-01 00:00:00Z' \
    --mode='u=rw,go=r' -C "$work" -cf - "$@" | gzip -n >"$archive"
}
deterministic_tar "$work/code.tar.gz" connection.json
deterministic_tar "$work/package.tar.gz" metadata.json code.tar.gz
mv "$work/package.tar.gz" "$output"

hash=$(sha256sum "$output" | cut -d' ' -f1)
echo "package-chaincode.sh: wrote $output (address $address)" >&2
echo "$label:$hash"
