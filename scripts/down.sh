#!/usr/bin/env bash
# Stops what scripts/up.sh started (a Fabric network keeps running: scripts/network.sh down stops it).
# Idempotent. `--purge` also deletes the dev network, its ledger, the
# mirror's database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/reciprocal), which would no
# longer match a new ledger, and the demo's member and gateway databases (reciprocal_members,
# reciprocal_gateway on the same server).
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

case "${1:-}" in
  "" | --purge) ;;
  -h | --help)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "scripts/down.sh: unknown argument $1 (use --purge or nothing)" >&2
    exit 2
    ;;
esac

for service in gateway governance reciprocal member blockchain; do stop "$service"; done
stop devnet
stop chaincode
if [ "${1:-}" = "--purge" ]; then
  rm -rf "$state/devnet" "$state/logs"
  rm -f "$state/ledger"
  echo "removed the dev network under $state"
  rm -f "$state/dev-auth-key.pem"
  database_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/reciprocal}
  mirror=${database_url##*/}
  mirror=${mirror%%\?*}
  for database in "$mirror" reciprocal_members reciprocal_gateway; do
    if ! command -v psql >/dev/null 2>&1; then
      echo "scripts/down.sh: psql not found; drop the database $database before the next up" >&2
    elif psql "${database_url%/*}/postgres" -qc "DROP DATABASE IF EXISTS \"$database\"" 2>/dev/null; then
      echo "dropped the database $database"
    else
      echo "scripts/down.sh: could not drop the database $database; drop it before the next up" >&2
    fi
  done
fi
