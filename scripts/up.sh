#!/usr/bin/env bash
# Starts the platform on the embedded dev ledger: the Rust chaincode on 127.0.0.1:7052 and devnet (Gateway
# and Deliver) on 127.0.0.1:7051, with a dev network of three demo clubs under .state/devnet.
# Idempotent: running it again leaves running processes alone. Stop everything with scripts/down.sh.
#
# Environment: STATE_DIR (default .state), DEVNET_LISTEN (127.0.0.1:7051),
# CHAINCODE_SERVER_ADDRESS (127.0.0.1:7052), PROFILE (debug or release; default debug).
set -euo pipefail
cd "$(dirname "$0")/.."

state=${STATE_DIR:-.state}
listen=${DEVNET_LISTEN:-127.0.0.1:7051}
chaincode=${CHAINCODE_SERVER_ADDRESS:-127.0.0.1:7052}
profile=${PROFILE:-debug}
network="$state/devnet"
mkdir -p "$state/logs" "$state/pids"

running() { [ -f "$state/pids/$1.pid" ] && kill -0 "$(cat "$state/pids/$1.pid")" 2>/dev/null; }
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
wait_for() {
  for _ in $(seq 1 100); do port_busy "$1" && return 0; sleep 0.1; done
  echo "scripts/up.sh: $2 did not start listening on $1; last lines of $3:" >&2
  tail -20 "$3" >&2
  exit 1
}

echo "Building devnet, the chaincode and the clubs CLI ($profile)..."
if [ "$profile" = release ]; then
  cargo build --quiet --release -p devnet -p reciprocal-chaincode -p clubs-cli
else
  cargo build --quiet -p devnet -p reciprocal-chaincode -p clubs-cli
fi
bin="${CARGO_TARGET_DIR:-target}/$profile"

if [ ! -f "$network/devnet.json" ]; then
  "$bin/devnet" init "$network" --clubs club-alpha,club-beta,club-gamma >/dev/null
  echo "Created the dev network in $network"
fi

if running chaincode; then
  echo "chaincode already running (pid $(cat "$state/pids/chaincode.pid"))"
else
  if port_busy "$chaincode"; then
    echo "scripts/up.sh: $chaincode is in use by another process; set CHAINCODE_SERVER_ADDRESS" >&2
    exit 1
  fi
  CHAINCODE_ID=reciprocal:dev CHAINCODE_SERVER_ADDRESS="$chaincode" \
    nohup "$bin/reciprocal-chaincode" >>"$state/logs/chaincode.log" 2>&1 &
  echo $! >"$state/pids/chaincode.pid"
  wait_for "$chaincode" chaincode "$state/logs/chaincode.log"
fi

if running devnet; then
  echo "devnet already running (pid $(cat "$state/pids/devnet.pid"))"
else
  if port_busy "$listen"; then
    echo "scripts/up.sh: $listen is in use by another process; set DEVNET_LISTEN" >&2
    exit 1
  fi
  nohup "$bin/devnet" start "$network" --listen "$listen" --chaincode-address "$chaincode" \
    >>"$state/logs/devnet.log" 2>&1 &
  echo $! >"$state/pids/devnet.pid"
  wait_for "$listen" devnet "$state/logs/devnet.log"
fi

users="$network/organizations/peerOrganizations/org1.example.com/users"
cat <<MSG

Running on the embedded dev ledger:
  Fabric Gateway and Deliver  $listen   (channel reciprocal, chaincode reciprocal, MSP Org1MSP)
  Rust chaincode (CCaaS)      $chaincode
  logs                        $state/logs/
  identities                  $users/<user>@org1.example.com/msp
    networkadmin (network_admin); clubadmin-alpha|beta|gamma (club_admin); frontdesk-alpha|beta|gamma (front_desk)

Not built yet: the blockchain service, the Postgres mirror and the API services (8080-8087).

Try:
  $bin/clubs identity show $users/clubadmin-alpha@org1.example.com/msp
  $bin/clubs block verify --orderer-signatures $network/ledger/reciprocal/blockfile_000000
Stop with scripts/down.sh.
MSG
