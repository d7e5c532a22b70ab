#!/usr/bin/env bash
# Usage: scripts/up.sh [--fabric]
#
# Starts the platform: the blockchain service (HTTP 8084, gRPC 9084) mirroring the ledger into Postgres and
# publishing its events to NATS JetStream, the member (8082/9082), reciprocal (8083/9083) and governance
# (8087/9087) services, and the API gateway on http://127.0.0.1:8080 with dev sign-in (DEV_AUTH=1). Then
# seeds a demo network through the API (scripts/seed-demo.sh) unless SEED=0.
#
# The ledger is, by default, the embedded dev ledger: the Rust chaincode on 127.0.0.1:7052 and devnet
# (Gateway and Deliver) on 127.0.0.1:7051 with a dev network of three demo clubs under .state/devnet.
# With --fabric it is the real Fabric network that `scripts/network.sh up && scripts/network.sh deployCC`
# brought up (Fabric CA identities; FABRIC_NETWORK_STATE as for network.sh): the services talk to Org1's
# peer over TLS, act with the demo club identities network.sh issued (club-alpha and the network admin in
# Org1MSP, club-beta in Org2MSP) and with club-gamma's, which this script registers with Org1's CA
# through `clubs ca` into .state/fabric-wallet.
# Idempotent: running it again leaves running processes and seeded data alone. A platform started on one
# ledger is not restarted on the other: `scripts/down.sh --purge` first. Stop with scripts/down.sh.
#
# Environment: STATE_DIR (default .state), DEVNET_LISTEN (127.0.0.1:7051),
# CHAINCODE_SERVER_ADDRESS (127.0.0.1:7052), BLOCKCHAIN_HTTP_ADDR (127.0.0.1:8084),
# BLOCKCHAIN_GRPC_ADDR (127.0.0.1:9084), DATABASE_URL (the mirror,
# postgres://postgres@127.0.0.1:5432/reciprocal), NATS_URL (nats://127.0.0.1:4222), REDIS_URL
# (redis://127.0.0.1:6379), GATEWAY_HTTP_ADDR (127.0.0.1:8080), PROFILE (debug or release; default
# debug), SEED (1).
set -euo pipefail
cd "$(dirname "$0")/.."

ledger=dev
case "${1:-}" in
  "") ;;
  --fabric) ledger=fabric ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "scripts/up.sh: unknown argument '$1' (usage: scripts/up.sh [--fabric]; see --help)" >&2
    exit 2
    ;;
esac
if [ $# -gt 1 ]; then
  echo "scripts/up.sh: takes at most one argument, --fabric (see --help)" >&2
  exit 2
fi

state=${STATE_DIR:-.state}
listen=${DEVNET_LISTEN:-127.0.0.1:7051}
chaincode=${CHAINCODE_SERVER_ADDRESS:-127.0.0.1:7052}
profile=${PROFILE:-debug}
blockchain_http=${BLOCKCHAIN_HTTP_ADDR:-127.0.0.1:8084}
blockchain_grpc=${BLOCKCHAIN_GRPC_ADDR:-127.0.0.1:9084}
database_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/reciprocal}
nats_url=${NATS_URL:-nats://127.0.0.1:4222}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
gateway_http=${GATEWAY_HTTP_ADDR:-127.0.0.1:8080}
postgres_server=${database_url%/*}
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
for need in "Postgres:DATABASE_URL $(url_address "$database_url")" "NATS:NATS_URL $(url_address "$nats_url")" \
  "Redis:REDIS_URL $(url_address "$redis_url")"; do
  name=${need%% *}
  if ! port_busy "${need#* }"; then
    echo "scripts/up.sh: ${name%:*} is not reachable on ${need#* }; start it (scripts/test.sh starts the" \
      "machine's services) or set ${name#*:}" >&2
    exit 1
  fi
done

die() {
  echo "scripts/up.sh: $*" >&2
  exit 1
}

# The mirror and the demo's data belong to the ledger they were made on.
if [ -f "$state/ledger" ] && [ "$(cat "$state/ledger")" != "$ledger" ]; then
  die "the platform in $state was started on the $(cat "$state/ledger") ledger; stop it and drop its data with" \
    "'scripts/down.sh --purge' before starting it on the $ledger ledger"
fi

if [ "$ledger" = fabric ]; then
  fabric_state=${FABRIC_NETWORK_STATE:-.state/fabric-network}
  # The peer CLI's and the clubs CLI's settings for each org, as `scripts/network.sh env` prints them.
  org1_env=$(scripts/network.sh env --org 1 2>/dev/null)
  org2_env=$(scripts/network.sh env --org 2 2>/dev/null)
  # setting SETTINGS VAR: the value of VAR in SETTINGS (one org's `export` lines).
  setting() { (eval "$1" && printf '%s' "${!2:-}"); }
  peer=$(setting "$org1_env" CLUBS_PEER_ENDPOINT)
  peer_tls=$(setting "$org1_env" CLUBS_TLS_ROOT_CERT)
  peer_name=$(setting "$org1_env" CLUBS_TLS_SERVER_NAME)
  org1_admin=$(setting "$org1_env" CLUBS_MSP_DIR)
  org2_club=$(setting "$org2_env" CLUBS_MSP_DIR)
  ca_url=$(setting "$org1_env" CLUBS_CA_URL)
  if [ ! -f "$peer_tls" ]; then
    die "no Fabric network in $fabric_state: bring one up with" \
      "'scripts/network.sh up && scripts/network.sh deployCC' (or set FABRIC_NETWORK_STATE to where it is)"
  fi
  if [ -z "$ca_url" ]; then
    die "the network in $fabric_state has cryptogen identities, which carry no club or role attribute;" \
      "bring it up with Fabric CA: 'scripts/network.sh down && scripts/network.sh up --ca && scripts/network.sh deployCC'"
  fi
  for msp in "$org1_admin" "$org2_club"; do
    [ -d "$msp" ] || die "the network in $fabric_state lacks the demo identity $msp, which 'scripts/network.sh up' issues"
  done
  port_busy "$peer" || die "Org1's peer does not answer on $peer: is the network running? ('scripts/network.sh status')"
  ca_address=${ca_url#*://}
  ca_address=${ca_address%%/*}
  port_busy "$ca_address" ||
    die "Org1's Fabric CA does not answer on $ca_address: is the network running? ('scripts/network.sh status')"
  org1_users=${org1_admin%/*/msp}
  org2_users=${org2_club%/*/msp}
  wallet="$fabric_state/platform-wallet"
fi

if [ "$ledger" = fabric ]; then
  packages=(-p clubs-cli -p blockchain-service -p member-service -p reciprocal-service -p governance-service
    -p api-gateway)
  echo "Building the services, the API gateway and the clubs CLI ($profile)..."
else
  packages=(-p devnet -p reciprocal-chaincode -p clubs-cli -p blockchain-service -p member-service
    -p reciprocal-service -p governance-service -p api-gateway)
  echo "Building devnet, the chaincode, the services, the API gateway and the clubs CLI ($profile)..."
fi
if [ "$profile" = release ]; then
  cargo build --quiet --release "${packages[@]}"
else
  cargo build --quiet "${packages[@]}"
fi
bin="${CARGO_TARGET_DIR:-target}/$profile"

echo "$ledger" >"$state/ledger"

if [ "$ledger" = fabric ]; then
  # as_org1 CMD...: CMD with the clubs CLI's settings for Org1 (peer, TLS, CA and its registrar).
  as_org1() { (eval "$org1_env" && "$@"); }
  # club-gamma's staff, in Org1MSP: registered with Org1's CA once, enrolled into the platform's wallet.
  for entry in clubadmin-gamma:club_admin frontdesk-gamma:front_desk; do
    name=${entry%%:*}
    role=${entry#*:}
    msp="$wallet/$name@org1.example.com/msp"
    [ -d "$msp/signcerts" ] && continue
    log="$state/logs/fabric-identities.log"
    if ! secret=$(as_org1 "$bin/clubs" ca register --id "$name" --affiliation org1.clubs \
      --attr club=club-gamma:ecert --attr "role=$role:ecert" 2>>"$log"); then
      tail -3 "$log" >&2
      die "Org1's CA did not register $name (above); if an earlier run registered it and $wallet has been" \
        "deleted since, enroll club-gamma's staff into $wallet yourself ('clubs ca register', 'clubs ca enroll')" \
        "or start a new network ('scripts/network.sh down', 'up', 'deployCC')"
    fi
    if ! CLUBS_CA_ENROLLMENT_SECRET=$secret as_org1 "$bin/clubs" ca enroll --id "$name" --out "$msp" \
      >>"$log" 2>&1; then
      tail -3 "$log" >&2
      die "could not enroll $name with Org1's CA (above)"
    fi
    echo "Enrolled $name (club-gamma, $role) with Org1's CA into $msp"
  done
  as_org1 "$bin/clubs" tx evaluate org.hyperledger.fabric:GetMetadata >/dev/null ||
    die "the chaincode does not answer on Org1's peer (above): deploy it with 'scripts/network.sh deployCC'"
  ledger_args=(--peer-endpoint "$peer" --tls-root-cert "$peer_tls" --tls-server-name "$peer_name"
    --wallet "Org1MSP=$org1_users,Org2MSP=$org2_users,Org1MSP=$wallet")
else
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

  users="$network/organizations/peerOrganizations/org1.example.com/users"
  ledger_args=(--peer-endpoint "$listen" --wallet "Org1MSP=$users")
fi

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
    "${ledger_args[@]}" --database-url "$database_url" \
    --nats-url "$nats_url" --log-format text >>"$state/logs/blockchain.log" 2>&1 &
  echo $! >"$state/pids/blockchain.pid"
  wait_for "$blockchain_http" "the blockchain service" "$state/logs/blockchain.log"
fi

# start_service NAME BINARY HTTP_ADDRESS GRPC_ADDRESS [VAR=VALUE...]: starts a platform service with its
# settings in the environment, unless it runs already.
start_service() {
  local name=$1 binary=$2 http=$3 grpc=$4
  shift 4
  if running "$name"; then
    echo "$name already running (pid $(cat "$state/pids/$name.pid"))"
    return 0
  fi
  for address in "$http" $grpc; do
    if port_busy "$address"; then
      echo "scripts/up.sh: $address, for $name, is in use by another process" >&2
      exit 1
    fi
  done
  env "$@" LOG_FORMAT=text nohup "$bin/$binary" >>"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/pids/$name.pid"
  wait_for "$http" "$name" "$state/logs/$name.log"
}

blockchain_url="http://$blockchain_grpc"
start_service member member-service 127.0.0.1:8082 127.0.0.1:9082 \
  MEMBER_DATABASE_URL="$postgres_server/reciprocal_members" MIRROR_DATABASE_URL="$database_url" \
  BLOCKCHAIN_GRPC_URL="$blockchain_url"
start_service reciprocal reciprocal-service 127.0.0.1:8083 127.0.0.1:9083 \
  MIRROR_DATABASE_URL="$database_url" BLOCKCHAIN_GRPC_URL="$blockchain_url" \
  MEMBER_GRPC_URL=http://127.0.0.1:9082
start_service governance governance-service 127.0.0.1:8087 127.0.0.1:9087 \
  MIRROR_DATABASE_URL="$database_url" BLOCKCHAIN_GRPC_URL="$blockchain_url"
gateway_grpc=${GATEWAY_GRPC_ADDR:-127.0.0.1:9080}
start_service gateway api-gateway "$gateway_http" "$gateway_grpc" \
  GATEWAY_HTTP_ADDR="$gateway_http" GATEWAY_GRPC_ADDR="$gateway_grpc" \
  GATEWAY_DATABASE_URL="$postgres_server/reciprocal_gateway" \
  MEMBER_GRPC_URL=http://127.0.0.1:9082 RECIPROCAL_GRPC_URL=http://127.0.0.1:9083 \
  GOVERNANCE_GRPC_URL=http://127.0.0.1:9087 BLOCKCHAIN_GRPC_URL="$blockchain_url" \
  DEV_AUTH=1 DEV_AUTH_KEY="$state/dev-auth-key.pem" DEV_CLUBS=club-alpha,club-beta,club-gamma
echo "Dev sign-in is ON (DEV_AUTH=1): the gateway signs its own tokens for the demo users. Not for production."

if [ "${SEED:-1}" != 0 ]; then
  if [ "$ledger" = fabric ]; then
    GATEWAY="http://$gateway_http" DEMO_CLUB_MSPS=club-beta=Org2MSP scripts/seed-demo.sh
  else
    GATEWAY="http://$gateway_http" scripts/seed-demo.sh
  fi
fi

if [ "$ledger" = fabric ]; then
  cat <<MSG

Running on the Fabric network in $fabric_state:
  Org1's peer (Gateway, Deliver)  $peer over TLS ($peer_name), channel reciprocal, chaincode reciprocal
  identities                      $org1_users (Org1MSP: networkadmin, clubadmin-alpha, frontdesk-alpha)
                                  $org2_users (Org2MSP: clubadmin-beta, frontdesk-beta)
                                  $wallet (Org1MSP: clubadmin-gamma, frontdesk-gamma)
MSG
else
  cat <<MSG

Running on the embedded dev ledger:
  Fabric Gateway and Deliver  $listen   (channel reciprocal, chaincode reciprocal, MSP Org1MSP)
  Rust chaincode (CCaaS)      $chaincode
  identities                  $users/<user>@org1.example.com/msp
    networkadmin (network_admin); clubadmin-alpha|beta|gamma (club_admin); frontdesk-alpha|beta|gamma (front_desk)
MSG
fi
cat <<MSG
  blockchain service          http://$blockchain_http (health, metrics, audit), gRPC $blockchain_grpc
  ledger mirror               $database_url
  events                      $nats_url, JetStream stream RECIPROCAL_EVENTS, subjects reciprocal.events.<Name>
  API gateway (REST)          http://$gateway_http/api/v1   (OpenAPI: http://$gateway_http/api/v1/openapi.json)
  member / reciprocal / governance services   http 8082 / 8083 / 8087, gRPC 9082 / 9083 / 9087
  logs                        $state/logs/

Demo users (dev sign-in): admin (network admin); alpha-admin, beta-admin, gamma-admin (club admins);
  alpha-desk, beta-desk, gamma-desk (front desks).

Try:
  TOKEN=\$(curl -s -X POST http://$gateway_http/api/v1/dev/token -H 'content-type: application/json' \\
    -d '{"user":"alpha-desk"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
  curl -s -H "Authorization: Bearer \$TOKEN" "http://$gateway_http/api/v1/visits?host=club-alpha&month=\$(date -u +%Y-%m)"
  curl -s http://$blockchain_http/readyz
MSG
if [ "$ledger" = fabric ]; then
  cat <<MSG
  eval "\$(scripts/network.sh env --org 1)"   # the clubs CLI's settings for Org1's peer, then:
  $bin/clubs audit verify
Stop with scripts/down.sh (the Fabric network keeps running: scripts/network.sh down).
MSG
else
  cat <<MSG
  $bin/clubs audit history club/club-alpha
  $bin/clubs audit verify
  $bin/clubs block verify --orderer-signatures $network/ledger/reciprocal/blockfile_000000
Stop with scripts/down.sh.
MSG
fi
