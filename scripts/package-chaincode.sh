#!/usr/bin/env bash
# Writes a chaincode-as-a-service package for `peer lifecycle chaincode install` and prints its package id
# (label:sha256 of the package file) on stdout; everything else goes to stderr.
#
# The package is a gzip tar holding exactly two regular files, metadata.json ({"type":"ccaas","label":…})
# and code.tar.gz (holding connection.json), written with fixed names, order, owners, modes and times and
# `gzip -n`, so the same inputs with the same tools always give the same package id: both orgs can install
# one package and one chaincode server serves both peers. (Another gzip build may compress differently;
# the id is whatever the file hashes to, and `peer lifecycle chaincode calculatepackageid` agrees with it.)
set -euo pipefail

usage() {
  cat <<'HELP'
Usage: scripts/package-chaincode.sh [options]

  --label LABEL           package label, ^[[:alnum:]][[:alnum:]_.+-]*$     [default: reciprocal_1.0]
  --address HOST:PORT     where the peer dials the chaincode server        [default: 127.0.0.1:7052]
                          (resolved by the peer: a compose service name under Docker/Podman)
  --dial-timeout DURATION connection.json dial_timeout, a Go duration      [default: 10s]
  --tls-root-cert FILE    PEM of the CA that signed the chaincode server's TLS certificate; turns
                          tls_required on (the certificate must name the host of --address)
  --client-auth           the server requires the peer's client certificate (client_auth_required);
                          needs --client-cert and --client-key (implied when both are given)
  --client-cert FILE      the peer's TLS client certificate (PEM)
  --client-key FILE       the peer's TLS client key (PEM)
  --output FILE           package file                                     [default: LABEL.tar.gz]
  -h, --help              this help

Prints the package id (LABEL:sha256 of the package) on stdout: pass it to
`peer lifecycle chaincode approveformyorg --package-id` and to the chaincode as CHAINCODE_ID.
Needs GNU tar (gtar on macOS), gzip and sha256sum or shasum.
HELP
}

die() {
  echo "package-chaincode.sh: $*" >&2
  exit 2
}

label=reciprocal_1.0
address=127.0.0.1:7052
dial_timeout=10s
root_cert=
client_auth=false
client_cert=
client_key=
output=
need_value() {
  if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --label) need_value "$@"; label=$2; shift 2 ;;
    --address) need_value "$@"; address=$2; shift 2 ;;
    --dial-timeout) need_value "$@"; dial_timeout=$2; shift 2 ;;
    --tls-root-cert) need_value "$@"; root_cert=$2; shift 2 ;;
    --client-auth) client_auth=true; shift ;;
    --client-cert) need_value "$@"; client_cert=$2; shift 2 ;;
    --client-key) need_value "$@"; client_key=$2; shift 2 ;;
    --output) need_value "$@"; output=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "package-chaincode.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

# The peer's own label rule; it also keeps the label safe to put into JSON unescaped.
[[ "$label" =~ ^[[:alnum:]][[:alnum:]_.+-]*$ ]] || die "label '$label' must match ^[[:alnum:]][[:alnum:]_.+-]*\$"
[[ "$address" =~ ^([^:\"\\[:space:]]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$ ]] ||
  die "--address must be HOST:PORT (or [IPv6]:PORT), got '$address'"
[[ "$dial_timeout" =~ ^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$ ]] ||
  die "--dial-timeout must be a Go duration such as 10s or 1m30s, got '$dial_timeout'"
if [ -n "$client_cert" ] || [ -n "$client_key" ]; then
  if [ -z "$client_cert" ] || [ -z "$client_key" ]; then die "--client-cert and --client-key go together"; fi
  client_auth=true
fi
if [ "$client_auth" = true ]; then
  [ -n "$client_cert" ] || die "--client-auth needs --client-cert and --client-key"
  [ -n "$root_cert" ] || die "client authentication needs TLS (--tls-root-cert)"
fi
for file in "$root_cert" "$client_cert" "$client_key"; do
  if [ -n "$file" ] && { [ ! -f "$file" ] || [ ! -r "$file" ]; }; then
    die "cannot read $file"
  fi
done
output=${output:-$label.tar.gz}

# GNU tar is what can fix names, order, owners, modes and times; bsdtar cannot.
tar=
for candidate in tar gtar; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" --version 2>/dev/null | grep -q 'GNU tar'; then
    tar=$candidate
    break
  fi
done
[ -n "$tar" ] || die "GNU tar is needed for a deterministic package (on macOS: brew install gnu-tar)"
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  die "sha256sum or shasum is needed to compute the package id"
fi

# A file's contents as a JSON string (PEM text: quotes, backslashes and control characters escaped).
json_file() {
  local text
  # Command substitution drops trailing newlines; the marker keeps them, as the file has them.
  text=$(cat "$1"; printf x)
  text=${text%x}
  text=${text//\\/\\\\}
  text=${text//\"/\\\"}
  text=${text//$'\n'/\\n}
  text=${text//$'\r'/\\r}
  text=${text//$'\t'/\\t}
  if [[ "$text" =~ [[:cntrl:]] ]]; then
    die "$1 holds control characters; expected PEM text"
  fi
  printf '"%s"' "$text"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  printf '{\n  "address": "%s",\n  "dial_timeout": "%s",\n' "$address" "$dial_timeout"
  if [ -n "$root_cert" ]; then
    printf '  "tls_required": true,\n  "root_cert": %s,\n' "$(json_file "$root_cert")"
  else
    printf '  "tls_required": false,\n'
  fi
  if [ "$client_auth" = true ]; then
    printf '  "client_auth_required": true,\n  "client_cert": %s,\n  "client_key": %s\n' \
      "$(json_file "$client_cert")" "$(json_file "$client_key")"
  else
    printf '  "client_auth_required": false\n'
  fi
  printf '}\n'
} >"$work/connection.json"
printf '{"type":"ccaas","label":"%s"}\n' "$label" >"$work/metadata.json"

# $1 = archive; the rest = regular files in $work, stored under these bare names in this order.
deterministic_tar() {
  local archive=$1
  shift
  "$tar" --format=ustar --owner=0 --group=0 --numeric-owner --mtime='2020-01-01 00:00:00Z' \
    --mode='a=r,u+w' -C "$work" -cf - "$@" | gzip -n -9 >"$archive"
}
deterministic_tar "$work/code.tar.gz" connection.json
deterministic_tar "$work/package.tar.gz" metadata.json code.tar.gz

hash=$(sha256 "$work/package.tar.gz")
mv "$work/package.tar.gz" "$output"
echo "package-chaincode.sh: wrote $output (label $label, chaincode at $address)" >&2
echo "$label:$hash"
