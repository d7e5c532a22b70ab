# shellcheck shell=bash
# Shared by the shell tests in scripts/tests: `check NAME CMD...` counts CMD's success as a pass and its
# failure as a failure (naming it on stderr); `finish` prints the suite's summary line, which run.sh adds up.
# The sourcing script sets `suite` first.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
passed=0
failed=0
scratch=$(mktemp -d)
cleanups=()
cleanup() {
  local action
  for action in "${cleanups[@]}"; do
    eval "$action" || true
  done
  rm -rf "$scratch"
}
trap cleanup EXIT

check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: ${suite:?}: $name" >&2
  fi
}

# check_not NAME CMD...: CMD must fail.
check_not() {
  local name=$1
  shift
  if "$@"; then
    failed=$((failed + 1))
    echo "FAIL: ${suite:?}: $name" >&2
  else
    passed=$((passed + 1))
  fi
}

# contains TEXT NEEDLE: TEXT holds NEEDLE (a fixed string).
contains() { [[ "$1" == *"$2"* ]]; }

finish() {
  echo "${suite:?}: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# fake_fabric_bin DIR: fills DIR with stand-ins for Fabric's binaries (see fake-fabric.sh).
fake_fabric_bin() {
  local dir=$1 name
  mkdir -p "$dir"
  for name in peer orderer configtxgen configtxlator osnadmin cryptogen fabric-ca-server fabric-ca-client; do
    # shellcheck disable=SC2016 # "$0" and "$@" belong to the wrapper
    printf '#!/usr/bin/env bash\nexec %q "$0" "$@"\n' "$repo/scripts/tests/fake-fabric.sh" >"$dir/$name"
    chmod +x "$dir/$name"
  done
}

# free_port_offset: an offset for FABRIC_NETWORK_PORT_OFFSET under which no network port is in use, so
# tests never collide with a network or dev ledger that runs on the standard ports.
free_port_offset() {
  local offset port busy
  for offset in 21000 23000 25000 27000 29000 31000 33000 35000; do
    busy=false
    for port in 7050 7051 7052 7053 7054 7062 8054 9051 9054 9062 9443 9444 9445 17054 18054 19054; do
      if (exec 3<>"/dev/tcp/127.0.0.1/$((port + offset))") 2>/dev/null; then
        busy=true
        break
      fi
    done
    if [ "$busy" = false ]; then
      echo "$offset"
      return 0
    fi
  done
  return 1
}
