#!/usr/bin/env bash
# Drives scripts/network.sh with a container engine (a stand-in `docker` with Compose, see fake-fabric.sh)
# through up, createChannel, deployCC (plaintext and --tls), down --keep, up again and down: Docker is
# chosen when its engine answers, Compose gets the project, the three files and an absolute state
# directory, the channel keeps the Docker host names, the package points at the chaincode service, the
# image is built from the binary alone, and down removes containers and, without --keep, volumes.
suite=network-docker
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

if ! offset=$(free_port_offset); then
  echo "$suite: no free port range for a test network" >&2
  exit 1
fi
bin=$scratch/bin
cfg=$scratch/config
state=$scratch/state
export FAKE_FABRIC_STATE=$scratch/fake
fake_fabric_bin "$bin"
mkdir -p "$cfg" "$scratch/engine" "$scratch/cc"
touch "$cfg/core.yaml"
# shellcheck disable=SC2016 # "$0" and "$@" belong to the wrappers
for name in docker reciprocal-chaincode; do
  printf '#!/usr/bin/env bash\nexec %q "$0" "$@"\n' "$repo/scripts/tests/fake-fabric.sh" >"$scratch/engine/$name"
  chmod +x "$scratch/engine/$name"
done
mv "$scratch/engine/reciprocal-chaincode" "$scratch/cc/"
# The daemons are containers here: FABRIC_BIN has only the CLIs.
rm "$bin/orderer" "$bin/fabric-ca-server"

net() {
  PATH=$scratch/engine:$PATH FABRIC_BIN=$bin FABRIC_CFG=$cfg FABRIC_NETWORK_PORT_OFFSET=$offset \
    "$repo/scripts/network.sh" --state-dir "$state" "$@"
}
cleanups+=("net down >/dev/null 2>&1")
port() { echo $(($1 + offset)); }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
show_on_failure() {
  [ "$1" -eq 0 ] || printf '%s\n' "$2" >&2
  return "$1"
}
containers() { cut -d' ' -f1 "$FAKE_FABRIC_STATE/containers" 2>/dev/null | sort | tr '\n' ' '; }

out=$(net up 2>&1)
check "up succeeds" show_on_failure $? "$out"
check "docker is the runtime when its engine answers" test "$(cat "$state/runtime" 2>/dev/null)" = docker
check "CAs, orderer and peers run as containers" test "$(containers)" = \
  "ca.example.com ca.org1.example.com ca.org2.example.com orderer.example.com peer0.org1.example.com peer0.org2.example.com "
check "the CAs started before the identities were issued" \
  test "$(grep -n -m1 'compose.* up -d ca\.' "$FAKE_FABRIC_STATE/calls.log" | cut -d: -f1)" -lt \
  "$(grep -n -m1 '^fabric-ca-client register' "$FAKE_FABRIC_STATE/calls.log" | cut -d: -f1)"
check "the orderer and peers started after the identities" \
  test "$(grep -n -m1 'compose.* up -d orderer' "$FAKE_FABRIC_STATE/calls.log" | cut -d: -f1)" -gt \
  "$(grep -n '^fabric-ca-client enroll' "$FAKE_FABRIC_STATE/calls.log" | tail -n 1 | cut -d: -f1)"
for p in 7054 8054 9054 7050 7053 7051 9051; do
  check "port $p + offset is published" listening "$(port "$p")"
done
check "the peer's TLS certificate names its service" \
  grep -qx peer0.org2.example.com "$state/organizations/peerOrganizations/org2.example.com/peers/peer0.org2.example.com/tls/hosts"

# deployCC right after up creates the channel first.
out=$(net deployCC --binary "$scratch/cc/reciprocal-chaincode" 2>&1)
check "deployCC right after up succeeds" show_on_failure $? "$out"
check "it created the channel first" contains "$out" "peer0.org1 is in no channel reciprocal yet: creating it first"
check "the channel keeps the Docker orderer endpoint" grep -q -- '- orderer.example.com:7050$' "$state/configtx/configtx.yaml"
check "the channel config is the repository's" cmp -s "$state/configtx/configtx.yaml" "$repo/fabric-network/configtx.yaml"
check "Org2's anchor peer is its service name and internal port" \
  grep -qx "Org2MSP peer0.org2.example.com 9051" "$FAKE_FABRIC_STATE/anchors"
check "Org1's anchor peer is its service name and internal port" \
  grep -qx "Org1MSP peer0.org1.example.com 7051" "$FAKE_FABRIC_STATE/anchors"
check "both anchor peers came with the genesis block: no update" test ! -s "$FAKE_FABRIC_STATE/anchor-updates"
joins=$(grep -c "^peer channel join" "$FAKE_FABRIC_STATE/calls.log")
out=$(net createChannel 2>&1)
check "a createChannel after it succeeds" show_on_failure $? "$out"
check "and joins nothing again" test "$(grep -c "^peer channel join" "$FAKE_FABRIC_STATE/calls.log")" -eq "$joins"
package_id=$(cat "$state/chaincode/package-id" 2>/dev/null)
connection=$(tar -xzOf "$state/chaincode/reciprocal.tar.gz" code.tar.gz | tar -xzOf - connection.json)
check "the package points the peers at the chaincode service" contains "$connection" '"address": "reciprocal-chaincode:7052"'
check "the chaincode image was built" test "$(cat "$FAKE_FABRIC_STATE/image" 2>/dev/null)" = reciprocal-chaincode:local
check "the chaincode service runs under the package id" test "$(cat "$FAKE_FABRIC_STATE/chaincode-id")" = "$package_id"
check "the chaincode service is plaintext by default" test ! -e "$FAKE_FABRIC_STATE/chaincode-tls"

out=$(net deployCC --tls --binary "$scratch/cc/reciprocal-chaincode" 2>&1)
check "deployCC --tls succeeds" show_on_failure $? "$out"
check "the chaincode certificate names the service" \
  test "$(tr '\n' ' ' <"$state/chaincode/tls/enrollment/hosts")" = "reciprocal-chaincode localhost "
check "the service gets the certificate as PEM text" \
  cmp -s "$FAKE_FABRIC_STATE/chaincode-tls" "$state/chaincode/tls/server.crt"
check "the service was recreated with the new package id" \
  test "$(cat "$FAKE_FABRIC_STATE/chaincode-id")" = "$(cat "$state/chaincode/package-id")"

out=$(net status 2>&1)
check "status lists the containers" contains "$out" "peer0.org1.example.com"

out=$(net down --keep 2>&1)
check "down --keep succeeds" show_on_failure $? "$out"
check "down --keep removes the containers" test -z "$(containers)"
check "down --keep keeps the volumes" test "$(tail -n 1 "$FAKE_FABRIC_STATE/compose-downs")" = "down "
check "down --keep keeps the state" test -f "$state/organizations/.complete"
registrations=$(cat "$FAKE_FABRIC_STATE"/registered-* | wc -l)
out=$(net --runtime native up 2>&1)
check "up with another runtime than the kept network's is refused" contains "$out" "--runtime docker"
out=$(net up 2>&1)
check "up resumes the kept network" show_on_failure $? "$out"
check "resuming issues no identity again" test "$(cat "$FAKE_FABRIC_STATE"/registered-* | wc -l)" -eq "$registrations"
check "resuming starts the containers again" contains "$(containers)" "peer0.org2.example.com"

out=$(net down 2>&1)
check "down succeeds" show_on_failure $? "$out"
check "down removes the volumes" test "$(tail -n 1 "$FAKE_FABRIC_STATE/compose-downs")" = "down --volumes"
check "down leaves no container" test -z "$(containers)"
check_not "nothing listens on the peer port after down" listening "$(port 7051)"
check "down removes the state" test ! -e "$state"

finish
