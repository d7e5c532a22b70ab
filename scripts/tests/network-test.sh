#!/usr/bin/env bash
# Tests scripts/network.sh where no network runs: help and usage errors, `env` (which must work without
# Fabric's binaries), the clear errors for missing binaries, missing config and busy ports, and that a
# refused `up` leaves nothing behind.
suite=network-cli
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

script=$repo/scripts/network.sh
state=$scratch/state
net() { "$script" --state-dir "$state" "$@"; }

out=$(net --help 2>&1)
check "--help exits 0" test $? -eq 0
for word in up createChannel deployCC down status env --runtime --ca --cryptogen --state-dir FABRIC_BIN; do
  check "--help mentions $word" contains "$out" "$word"
done

out=$(net frobnicate 2>&1)
rc=$?
check "an unknown command fails with exit 2" test "$rc" -eq 2
check "an unknown command is named" contains "$out" "unknown command 'frobnicate'"
check "an unknown command prints the usage" contains "$out" "Usage: scripts/network.sh"
out=$(net 2>&1)
check "no command fails" test $? -ne 0
check "no command prints the usage" contains "$out" "Usage:"
out=$(net --runtime kubernetes up 2>&1)
check "an unknown runtime is refused" test $? -eq 2
check "the runtime refusal names the choices" contains "$out" "docker, podman or native"
check_not "down rejects unknown arguments" net down --purge 2>/dev/null

# ---- env: no Fabric binaries anywhere
env_out=$(env -u FABRIC_BIN -u FABRIC_CFG PATH=/usr/bin:/bin "$script" --state-dir "$state" env 2>/dev/null)
check "env works without Fabric's binaries" test $? -eq 0
for var in CORE_PEER_TLS_ENABLED CORE_PEER_LOCALMSPID CORE_PEER_MSPCONFIGPATH CORE_PEER_ADDRESS \
  CORE_PEER_TLS_ROOTCERT_FILE CLUBS_PEER_ENDPOINT CLUBS_TLS_ROOT_CERT CLUBS_MSP_ID CLUBS_MSP_DIR CLUBS_CHANNEL \
  CLUBS_CHAINCODE; do
  check "env exports $var" grep -q "^export $var=" <<<"$env_out"
done
check "env without FABRIC_BIN or FABRIC_CFG says FABRIC_CFG_PATH is unknown" \
  grep -q '^# FABRIC_CFG_PATH not set' <<<"$env_out"
mkdir -p "$scratch/fabric/config" "$scratch/fabric/bin"
values=$(FABRIC_CFG="$scratch/fabric/config" net env --org 2 2>/dev/null | bash -c '
  eval "$(cat)"
  printf "%s\n" "$FABRIC_CFG_PATH" "$CORE_PEER_LOCALMSPID" "$CORE_PEER_ADDRESS" "$CORE_PEER_MSPCONFIGPATH" \
    "$CORE_PEER_TLS_ROOTCERT_FILE" "$CLUBS_PEER_ENDPOINT" "$CLUBS_TLS_SERVER_NAME" "$CLUBS_MSP_ID" "$CLUBS_MSP_DIR" \
    "$CLUBS_CHANNEL" "$CLUBS_CHAINCODE"')
mapfile -t v <<<"$values"
org2=$state/organizations/peerOrganizations/org2.example.com
check "env output can be eval'ed: FABRIC_CFG_PATH" test "${v[0]:-}" = "$scratch/fabric/config"
check "env --org 2: MSP id" test "${v[1]:-}" = Org2MSP
check "env --org 2: peer CLI address" test "${v[2]:-}" = localhost:9051
check "env --org 2: the org admin for the peer CLI" test "${v[3]:-}" = "$org2/users/Admin@org2.example.com/msp"
check "env --org 2: the org's TLS CA" test "${v[4]:-}" = "$org2/tlsca/tlsca.org2.example.com-cert.pem"
check "env --org 2: clubs CLI endpoint" test "${v[5]:-}" = 127.0.0.1:9051
check "env --org 2: clubs CLI TLS server name" test "${v[6]:-}" = peer0.org2.example.com
check "env --org 2: clubs CLI MSP id" test "${v[7]:-}" = Org2MSP
check "env --org 2: clubs CLI acts as club-beta's admin" test "${v[8]:-}" = "$org2/users/clubadmin-beta@org2.example.com/msp"
check "env: channel reciprocal" test "${v[9]:-}" = reciprocal
check "env: chaincode reciprocal" test "${v[10]:-}" = reciprocal
out=$(net env --org 1 --user frontdesk-alpha 2>/dev/null)
check "env --user picks the clubs CLI identity" contains "$out" "users/frontdesk-alpha@org1.example.com/msp"
out=$(FABRIC_BIN=$scratch/fabric/bin net env 2>/dev/null)
check "env defaults FABRIC_CFG_PATH to \$FABRIC_BIN/../config" contains "$out" "export FABRIC_CFG_PATH=$scratch/fabric/config"
out=$(FABRIC_NETWORK_PORT_OFFSET=100 net env 2>/dev/null)
check "env follows FABRIC_NETWORK_PORT_OFFSET" contains "$out" "export CORE_PEER_ADDRESS=localhost:7151"
check_not "env --org 3 is refused" net env --org 3 2>/dev/null
check_not "a non-numeric port offset is refused" env FABRIC_NETWORK_PORT_OFFSET=abc "$script" env 2>/dev/null
check "env does not create the state directory" test ! -e "$state"

# ---- native up without Fabric's binaries
out=$(env -u FABRIC_BIN "$script" --state-dir "$state" --runtime native up 2>&1)
check "native up without FABRIC_BIN fails" test $? -ne 0
for name in peer orderer configtxgen osnadmin fabric-ca-server fabric-ca-client; do
  check "the error names $name" grep -q "missing Fabric binaries:.* $name\\b" <<<"$out"
done
check "the error says \$FABRIC_BIN must point at them" contains "$out" "\$FABRIC_BIN must point at the bin/ directory"
check_not "without --cryptogen cryptogen is not asked for" grep -q 'missing Fabric binaries:[^.]*cryptogen' <<<"$out"
check "a refused up writes no state" test ! -e "$state"
out=$(FABRIC_BIN=$scratch/empty "$script" --state-dir "$state" --runtime native --cryptogen up 2>&1)
check "native up --cryptogen names cryptogen" grep -q 'missing Fabric binaries:.* cryptogen' <<<"$out"
check_not "native up --cryptogen does not ask for the CA" grep -q 'missing Fabric binaries:[^.]*fabric-ca-server' <<<"$out"
check "the error shows where FABRIC_BIN points" contains "$out" "FABRIC_BIN=$scratch/empty"

# ---- binaries present, config or ports missing
fake_fabric_bin "$scratch/fabric/bin"
out=$(FABRIC_BIN=$scratch/fabric/bin FABRIC_CFG=$scratch/nowhere net --runtime native up 2>&1)
check "up without Fabric's config names the missing core.yaml" contains "$out" "$scratch/nowhere/core.yaml not found"
touch "$scratch/fabric/config/core.yaml" "$scratch/fabric/config/orderer.yaml"
if offset=$(free_port_offset); then
  busy=$((7051 + offset))
  python3 -c 'import socket,sys,time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(60)' \
    "$busy" &
  listener=$!
  cleanups+=("kill $listener 2>/dev/null")
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$busy") 2>/dev/null && break; sleep 0.1; done
  out=$(FABRIC_BIN=$scratch/fabric/bin FAKE_FABRIC_STATE=$scratch/fake FABRIC_NETWORK_PORT_OFFSET=$offset \
    net --runtime native up 2>&1)
  check "up with a busy port fails" test $? -ne 0
  check "the busy port is named with its use" contains "$out" "$busy (peer0.org1)"
  check "nothing was started" test ! -s "$scratch/fake/calls.log"
  kill "$listener" 2>/dev/null
fi

mkdir -p "$scratch/precious"
echo keep >"$scratch/precious/file"
out=$("$script" --state-dir "$scratch/precious" down 2>&1)
check "down refuses to delete a directory that is no network state" test $? -ne 0
check "the refusal names the directory" contains "$out" "refusing to delete $scratch/precious"
check "the directory is untouched" test -f "$scratch/precious/file"
out=$(FABRIC_BIN=$scratch/fabric/bin FABRIC_CFG=$scratch/fabric/config "$script" --state-dir "$scratch/precious" \
  --runtime native up 2>&1)
check "up refuses a non-empty directory that is no network state" contains "$out" "is not empty"

out=$(net status 2>&1)
check "status without a network says so" contains "$out" "No network in"
out=$(net down 2>&1)
check "down without a network succeeds" test $? -eq 0
check "down leaves no state directory" test ! -e "$state"
out=$(net createChannel 2>&1)
check "createChannel without a network asks for up" contains "$out" "run 'scripts/network.sh up' first"

finish
