#!/usr/bin/env bash
# Starts the platform on the embedded dev ledger: the Rust chaincode on 127.0.0.1:7052, devnet (Gateway
# and Deliver) on 127.0.0.1:7051 with a dev network of three demo clubs under .state/devnet, and the
# blockchain service (HTTP 127.0.0.1:8084, gRPC 127.0.0.1:9084) mirroring the ledger into Postgres and
# publishing its events to NATS JetStream.
# Idempotent: running it again leaves running processes alone. Stop everything with scripts/down.sh.
#
# Environment: STATE_DIR (default .state), DEVNET_LISTEN (127.0.0.1:7051),
# CHAINCODE_SERVER_ADDRESS (127.0.0.1:7052), BLOCKCHAIN_HTTP_ADDR (127.0.0.1:8084),
# BLOCKCHAIN_GRPC_ADDR (127.0.0.1:9084), DATABASE_URL (postgres://postgres@127.0.0.1:5432/reciprocal),
# NATS_URL (nats://127.0.0.1:4222), PROFILE (debug or release; default debug).
set -euo pipefail
cd "$(dirname "$0")/.."

state=${STATE_DIR:-.state}
listen=${DEVNET_LISTEN:-127.0.0.1:7051}
chaincode=${CHAINCODE_SERVER_ADDRESS:-127.0.0.1:7052}
profile=${PROFILE:-debug}
blockchain_http=${BLOCKCHAIN_HTTP_ADDR:-127.0.0.1:8084}
blockchain_grpc=${BLOCKCHAIN_GRPC_ADDR:-127.0.0.1:9084}
database_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/reciprocal}
nats_url=${NATS_URL:-nats://127.0.0.1:4222}
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

# host:port of a postgres:// or nats:// URL (user and database stripped).
url_address() {
  local rest=${1#*://}
  rest=${rest##*@}
  echo "${rest%%/*}"
}
for need in "Postgres $(url_address "$database_url")" "NATS $(url_address "$nats_url")"; do
  if ! port_busy "${need#* }"; then
    echo "scripts/up.sh: ${need% *} is not reachable on ${need#* }; start it (scripts/test.sh starts the" \
      "machine's services) or set $( [ "${need% *}" = NATS ] && echo NATS_URL || echo DATABASE_URL)" >&2
    exit 1
  fi
done

packages=(-p devnet -p reciprocal-chaincode -p clubs-cli -p blockchain-service)
echo "Building devnet, the chaincode, the blockchain service and the clubs CLI ($profile)..."
if [ "$profile" = release ]; then
  cargo build --quiet --release "${packages[@]}"
else
  cargo build --quiet "${packages[@]}"
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

if running blockchain; then
  echo "blockchain service already running (pid $(cat "$state/pids/blockchain.pid"))"
else
  for address in "$blockchain_http" "$blockchain_grpc"; do
    if port_busy "$address"; then
      echo "scripts/up.sh: $address is in use by another process; set BLOCKCHAIN_HTTP_ADDR/BLOCKCHAIN_GRPC_ADDR" >&2
      exit 1
    fi
  done
  nohup "$bin/blockchain-service" --http-addr "$blockchain_http" --grpc-addr "$blockchain_grpc" \
    --peer-endpoint "$listen" --wallet "Org1MSP=$users" --database-url "$database_url" \
    --nats-url "$nats_url" --log-format text >>"$state/logs/blockchain.log" 2>&1 &
  echo $! >"$state/pids/blockchain.pid"
  wait_for "$blockchain_http" "the blockchain service" "$state/logs/blockchain.log"
fi

cat <<MSG

Running on the embedded dev ledger:
  Fabric Gateway and Deliver  $listen   (channel reciprocal, chaincode reciprocal, MSP Org1MSP)
  Rust chaincode (CCaaS)      $chaincode
  blockchain service          http://$blockchain_http (health, metrics, audit), gRPC $blockchain_grpc
  ledger mirror               $database_url
  events                      $nats_url, JetStream stream RECIPROCAL_EVENTS, subjects reciprocal.events.<Name>
  logs                        $state/logs/
  identities                  $users/<user>@org1.example.com/msp
    networkadmin (network_admin); clubadmin-alpha|beta|gamma (club_admin); frontdesk-alpha|beta|gamma (front_desk)

Try:
  $bin/clubs tx submit CreateClub '{"id":"club-alpha","name":"Alpha","msp_id":"Org1MSP"}'
  $bin/clubs audit history club/club-alpha
  $bin/clubs audit verify
  curl -s http://$blockchain_http/readyz
  $bin/clubs block verify --orderer-signatures $network/ledger/reciprocal/blockfile_000000
Stop with scripts/down.sh.
MSG
