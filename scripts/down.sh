#!/usr/bin/env bash
# Stops what scripts/up.sh started. Idempotent. `--purge` also deletes the dev network and its ledger.
set -euo pipefail
cd "$(dirname "$0")/.."
state=${STATE_DIR:-.state}

stop() {
  local file="$state/pids/$1.pid"
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "stopped $1 (pid $pid)"
  fi
  rm -f "$file"
}

stop devnet
stop chaincode
if [ "${1:-}" = "--purge" ]; then
  rm -rf "$state/devnet" "$state/logs"
  echo "removed the dev network under $state"
fi
