#!/usr/bin/env bash
# Drives `scripts/network.sh --runtime native` through up, createChannel, deployCC, status, env and down
# against stand-ins for Fabric's binaries (fake-fabric.sh), on ports shifted away from any real network:
# which identities are registered with which attributes, the organizations/ layout, the channel
# configuration rendered for 127.0.0.1, joins and anchor peers, the chaincode lifecycle with both orgs,
# the chaincode started under the installed package id, re-runs being idempotent, failures showing their
# log, and `down` leaving nothing running.
suite=network-native
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
mkdir -p "$cfg" "$scratch/cc"
touch "$cfg/core.yaml" "$cfg/orderer.yaml"
# shellcheck disable=SC2016 # "$0" and "$@" belong to the wrapper
printf '#!/usr/bin/env bash\nexec %q "$0" "$@"\n' "$repo/scripts/tests/fake-fabric.sh" >"$scratch/cc/reciprocal-chaincode"
chmod +x "$scratch/cc/reciprocal-chaincode"

net() {
  FABRIC_BIN=$bin FABRIC_CFG=$cfg FABRIC_NETWORK_PORT_OFFSET=$offset \
    "$repo/scripts/network.sh" --state-dir "$state" "$@"
}
# Whatever happens, nothing may stay running.
cleanups+=("net down >/dev/null 2>&1")

port() { echo $(($1 + offset)); }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
show_on_failure() { # RC OUTPUT: prints OUTPUT when RC != 0 (the reason a check is about to fail)
  [ "$1" -eq 0 ] || printf '%s\n' "$2" >&2
  return "$1"
}
calls() { grep -c "^$1" "$FAKE_FABRIC_STATE/calls.log" || true; }

# ---- up
out=$(net --runtime native up 2>&1)
check "up succeeds" show_on_failure $? "$out"
for p in 7054 8054 9054 7050 7053 9443 7051 7062 9444 9051 9062 9445; do
  check "something listens on $p + offset after up" listening "$(port "$p")"
done
org1=$state/organizations/peerOrganizations/org1.example.com
org2=$state/organizations/peerOrganizations/org2.example.com
orderer=$state/organizations/ordererOrganizations/example.com
registered_org1=$(cat "$FAKE_FABRIC_STATE/registered-ca-org1" 2>/dev/null)
registered_org2=$(cat "$FAKE_FABRIC_STATE/registered-ca-org2" 2>/dev/null)
registered_orderer=$(cat "$FAKE_FABRIC_STATE/registered-ca-orderer" 2>/dev/null)
check "org1: peer0 registered as a peer under org1.nodes" grep -q '^peer0 [0-9a-f]* peer org1.nodes' <<<"$registered_org1"
check "org1: admin registered as admin" grep -q '^org1admin [0-9a-f]* admin org1.nodes' <<<"$registered_org1"
check "org1: network admin has role network_admin in its ecert and no club" \
  grep -qx 'networkadmin [0-9a-f]* client org1.clubs role=network_admin:ecert' <<<"$registered_org1"
check "org1: club admin of club-alpha" \
  grep -qx 'clubadmin-alpha [0-9a-f]* client org1.clubs club=club-alpha:ecert,role=club_admin:ecert' <<<"$registered_org1"
check "org1: front desk of club-alpha" \
  grep -qx 'frontdesk-alpha [0-9a-f]* client org1.clubs club=club-alpha:ecert,role=front_desk:ecert' <<<"$registered_org1"
check "org2: club admin of club-beta" \
  grep -qx 'clubadmin-beta [0-9a-f]* client org2.clubs club=club-beta:ecert,role=club_admin:ecert' <<<"$registered_org2"
check "orderer org: the orderer node and its admin only" \
  test "$(cut -d' ' -f1,3 <<<"$registered_orderer" | tr '\n' ' ')" = "orderer orderer ordereradmin admin "
check "every registration has its own random secret" \
  test "$(cat "$FAKE_FABRIC_STATE"/registered-* | cut -d' ' -f2 | sort -u | wc -l)" -eq "$(cat "$FAKE_FABRIC_STATE"/registered-* | wc -l)"
leaked=$(cut -d' ' -f2 "$FAKE_FABRIC_STATE"/registered-* | grep -rlFf - "$state" 2>/dev/null)
check "no enrollment secret is written under the state directory" test -z "$leaked"
for file in "$org1/peers/peer0.org1.example.com/tls/ca.crt" "$org1/peers/peer0.org1.example.com/tls/server.crt" \
  "$org1/peers/peer0.org1.example.com/tls/server.key" "$org1/users/Admin@org1.example.com/msp/config.yaml" \
  "$org1/users/clubadmin-alpha@org1.example.com/msp/signcerts/cert.pem" "$org1/tlsca/tlsca.org1.example.com-cert.pem" \
  "$org2/users/frontdesk-beta@org2.example.com/msp/config.yaml" "$orderer/orderers/orderer.example.com/tls/server.crt" \
  "$orderer/tlsca/tlsca.example.com-cert.pem" "$orderer/users/Admin@example.com/msp/config.yaml"; do
  check "cryptogen layout: ${file#"$state"/}" test -s "$file"
done
cacert=localhost-$(port 7054)-ca-org1.pem
check "org MSP holds the CA certificate under fabric-ca-client's name" test -s "$org1/msp/cacerts/$cacert"
check "NodeOU config points at that certificate" grep -q "Certificate: cacerts/$cacert" "$org1/msp/config.yaml"
check "NodeOU config declares all four roles" \
  test "$(grep -c 'OrganizationalUnitIdentifier: \(client\|peer\|admin\|orderer\)' "$org1/msp/config.yaml")" -eq 4
check "peer TLS certificate names peer0.org1.example.com, localhost and 127.0.0.1" \
  test "$(tr '\n' ' ' <"$org1/peers/peer0.org1.example.com/tls/hosts")" = "peer0.org1.example.com localhost 127.0.0.1 "
check "orderer TLS certificate names orderer.example.com, localhost and 127.0.0.1" \
  test "$(tr '\n' ' ' <"$orderer/orderers/orderer.example.com/tls/hosts")" = "orderer.example.com localhost 127.0.0.1 "
check "the CA configuration was copied into the CA home, not written in the repository" \
  test -s "$state/fabric-ca/org1/fabric-ca-server-config.yaml" -a ! -e "$repo/crypto-config/fabric-ca/org1/ca-cert.pem"

registrations=$(cat "$FAKE_FABRIC_STATE"/registered-* | wc -l)
out=$(net up 2>&1)
check "a second up succeeds" show_on_failure $? "$out"
check "a second up reuses the identities" test "$(cat "$FAKE_FABRIC_STATE"/registered-* | wc -l)" -eq "$registrations"
check "a second up leaves the running nodes alone" contains "$out" "peer0.org1 already running"

# ---- createChannel
# The real configtxgen puts both orgs' anchor peers into the genesis block; this one leaves Org2's out, as
# in a channel created from an older configtx.yaml, so createChannel has an anchor peer update to make.
out=$(FAKE_FABRIC_GENESIS_WITHOUT_ANCHORS=Org2MSP net createChannel 2>&1)
check "createChannel succeeds" show_on_failure $? "$out"
configtx=$state/configtx/configtx.yaml
check "native channel config: orderer endpoint on 127.0.0.1 and the orderer's host port" \
  grep -q -- "- 127.0.0.1:$(port 7050)$" "$configtx"
check "native channel config: no Docker host names left" test -z "$(grep -E 'Host: [a-z]|example\.com:[0-9]' "$configtx")"
check "native channel config: anchor peer ports" \
  test "$(grep -A1 -- '- Host: 127.0.0.1' "$configtx" | grep -c "Port: \($(port 7050)\|$(port 7051)\|$(port 9051)\)$")" -eq 3
check "the orderer joined reciprocal" grep -qx reciprocal "$FAKE_FABRIC_STATE/orderer-channels"
check "peer0.org1 joined reciprocal" grep -qx reciprocal "$FAKE_FABRIC_STATE/peer-$(port 7051)-channels"
check "peer0.org2 joined reciprocal" grep -qx reciprocal "$FAKE_FABRIC_STATE/peer-$(port 9051)-channels"
check "only the anchor peer missing from the genesis block (Org2's) was added" \
  test "$(cat "$FAKE_FABRIC_STATE/anchor-updates")" = Org2MSP
check "Org2's anchor peer is 127.0.0.1 on its host port" grep -qx "Org2MSP 127.0.0.1 $(port 9051)" "$FAKE_FABRIC_STATE/anchors"
joins=$(calls "peer channel join")
out=$(net createChannel 2>&1)
check "a second createChannel succeeds" show_on_failure $? "$out"
check "a second createChannel joins nothing again" test "$(calls "peer channel join")" -eq "$joins"
check "a second createChannel updates no anchor peer" test "$(wc -l <"$FAKE_FABRIC_STATE/anchor-updates")" -eq 1

# ---- deployCC
out=$(net deployCC --binary "$scratch/cc/reciprocal-chaincode" 2>&1)
check "deployCC succeeds" show_on_failure $? "$out"
package_id=$(cat "$state/chaincode/package-id" 2>/dev/null)
check "package id recorded as label:sha256" grep -Eq '^reciprocal_1\.0:[0-9a-f]{64}$' <<<"$package_id"
connection=$(tar -xzOf "$state/chaincode/reciprocal.tar.gz" code.tar.gz | tar -xzOf - connection.json)
check "the package points the peers at the chaincode on 127.0.0.1 and its host port" \
  contains "$connection" "\"address\": \"127.0.0.1:$(port 7052)\""
check "installed on peer0.org1" grep -q "^$package_id " "$FAKE_FABRIC_STATE/peer-$(port 7051)-installed"
check "installed on peer0.org2" grep -q "^$package_id " "$FAKE_FABRIC_STATE/peer-$(port 9051)-installed"
check "approved by both orgs at sequence 1" \
  test "$(sort "$FAKE_FABRIC_STATE/approved" | tr '\n' ' ')" = "Org1MSP 1 $package_id Org2MSP 1 $package_id "
check "committed at sequence 1" test "$(cat "$FAKE_FABRIC_STATE/committed")" = 1
check "the chaincode runs under the installed package id" test "$(cat "$FAKE_FABRIC_STATE/chaincode-id")" = "$package_id"
check "the chaincode listens on 7052 + offset" listening "$(port 7052)"
check "GetMetadata answered through both peers" test "$(calls "peer chaincode query")" -eq 2
approvals=$(wc -l <"$FAKE_FABRIC_STATE/approved")
out=$(net deployCC --binary "$scratch/cc/reciprocal-chaincode" 2>&1)
check "a second deployCC succeeds" show_on_failure $? "$out"
check "a second deployCC approves nothing again" test "$(wc -l <"$FAKE_FABRIC_STATE/approved")" -eq "$approvals"
check "a second deployCC says the definition is committed" contains "$out" "already committed"

# ---- deployCC waits for the orderer's raft leader and until each peer sees the other org's through gossip
# (their operations metrics)
echo 0:2 >"$FAKE_FABRIC_STATE/raft-leader"
echo 0:2 >"$FAKE_FABRIC_STATE/gossip-peers-known"
out=$(net deployCC --binary "$scratch/cc/reciprocal-chaincode" 2>&1)
check "deployCC succeeds once the orderer leads and gossip connects the peers" show_on_failure $? "$out"
check "deployCC said it waited for the raft leader" contains "$out" "waiting for the orderer to elect the raft leader of reciprocal"
check "deployCC said when the orderer led" contains "$out" "the orderer leads reciprocal (after 2s)"
check "deployCC said it waited for gossip" contains "$out" "waiting for peer0.org1 to see the other org's peer through gossip"
check "deployCC said when the peer saw the other org's" contains "$out" "peer0.org1 sees the other org's peer through gossip (after 2s)"
echo 0 >"$FAKE_FABRIC_STATE/gossip-peers-known"
out=$(FABRIC_NETWORK_READY_TIMEOUT=1 net deployCC --binary "$scratch/cc/reciprocal-chaincode" 2>&1)
rc=$?
check "deployCC fails when a peer never sees the other org's" test "$rc" -ne 0
check "and says why" contains "$out" "peer0.org1 sees no other peer of reciprocal through gossip, so its gateway cannot collect both orgs' endorsements, after 1s"
rm -f "$FAKE_FABRIC_STATE/gossip-peers-known"
echo 0 >"$FAKE_FABRIC_STATE/raft-leader"
out=$(FABRIC_NETWORK_READY_TIMEOUT=1 net deployCC --binary "$scratch/cc/reciprocal-chaincode" 2>&1)
rc=$?
check "deployCC fails when the orderer elects no leader" test "$rc" -ne 0
check "and says so" contains "$out" "the orderer has no raft leader for reciprocal, so it orders no transaction, after 1s"
rm -f "$FAKE_FABRIC_STATE/raft-leader"

# ---- deployCC --tls: a new package (TLS), so the next sequence; the server certificate from Org1's CA
out=$(net deployCC --tls --binary "$scratch/cc/reciprocal-chaincode" 2>&1)
check "deployCC --tls succeeds" show_on_failure $? "$out"
tls_id=$(cat "$state/chaincode/package-id" 2>/dev/null)
check "the TLS package has another id" test -n "$tls_id" -a "$tls_id" != "$package_id"
connection=$(tar -xzOf "$state/chaincode/reciprocal.tar.gz" code.tar.gz | tar -xzOf - connection.json)
check "the TLS package requires TLS" contains "$connection" '"tls_required": true'
check "its root_cert is Org1's CA certificate" python3 -c '
import json, sys
sys.exit(0 if json.loads(sys.argv[1])["root_cert"] == open(sys.argv[2]).read() else 1)' \
  "$connection" "$state/fabric-ca/org1/ca-cert.pem"
check "the chaincode's TLS certificate names 127.0.0.1 (the address host) and localhost" \
  test "$(tr '\n' ' ' <"$state/chaincode/tls/enrollment/hosts")" = "127.0.0.1 localhost "
check "the TLS certificate came from a tls-profile enrollment at ca-org1" \
  grep -q "^fabric-ca-client enroll .*--enrollment.profile tls --csr.hosts 127.0.0.1 .*--caname ca-org1" "$FAKE_FABRIC_STATE/calls.log"
check "the upgrade is approved by both orgs at sequence 2" \
  test "$(grep -c "^Org[12]MSP 2 $tls_id$" "$FAKE_FABRIC_STATE/approved")" -eq 2
check "and committed at sequence 2" test "$(cat "$FAKE_FABRIC_STATE/committed")" = 2
check "the chaincode now serves TLS with that certificate" \
  test "$(cat "$FAKE_FABRIC_STATE/chaincode-tls" 2>/dev/null)" = "$state/chaincode/tls/server.crt"
check "and runs under the new package id" test "$(cat "$FAKE_FABRIC_STATE/chaincode-id")" = "$tls_id"
package_id=$tls_id

# ---- status and env
out=$(net status 2>&1)
check "status lists the running peer" grep -q "peer0.org2 *running (pid [0-9]*), port $(port 9051) listening" <<<"$out"
check "status shows the package id" contains "$out" "$package_id"
out=$(net env --org 1 2>/dev/null)
check "env: the peer CLI dials org1's peer on its host port" contains "$out" "export CORE_PEER_ADDRESS=localhost:$(port 7051)"
check "env: the clubs CLI acts as the network admin, whose MSP exists" \
  test -d "$(sed -n 's/^export CLUBS_MSP_DIR=//p' <<<"$out")" -a -n "$(grep networkadmin <<<"$out")"
check "env: clubs ca talks to org1's CA on its host port" contains "$out" "export CLUBS_CA_URL=https://localhost:$(port 7054)"
check "env: clubs ca trusts that CA's certificate, which exists" \
  test -s "$(sed -n 's/^export CLUBS_CA_TLS_ROOT_CERT=//p' <<<"$out")"
check "env: clubs ca names ca-org1" contains "$out" "export CLUBS_CA_NAME=ca-org1"
check "env: clubs ca acts as the registrar, whose MSP exists" \
  test -d "$(sed -n 's/^export CLUBS_CA_MSP_DIR=//p' <<<"$out")/signcerts"
out=$(net env --org 2 2>/dev/null)
check "env --org 2: clubs ca talks to org2's CA" contains "$out" "export CLUBS_CA_URL=https://localhost:$(port 8054)"

# ---- failures show their logs
rm -f "$state/channel-artifacts/reciprocal.block"
out=$(FAKE_FABRIC_FAIL=configtxgen net createChannel 2>&1)
rc=$?
check "a failing configtxgen fails createChannel" test "$rc" -ne 0
check "the failed step is named" contains "$out" "failed: configtxgen"
check "the end of its log is shown" contains "$out" "fake configtxgen: forced failure for the test"

# ---- down
pids=$(cat "$state"/pids/*.pid 2>/dev/null | grep -E '^[0-9]+$')
out=$(net down 2>&1)
check "down succeeds" show_on_failure $? "$out"
alive=
for pid in $pids; do
  # A zombie is dead: it only waits for init to collect its exit status.
  if kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" | cut -c1)" != Z ]; then alive="$alive $pid"; fi
done
check "down stopped every process it started" test -z "$alive"
for p in 7054 7050 7053 7051 9051 7052; do
  check_not "nothing listens on $p + offset after down" listening "$(port "$p")"
done
check "down removed the state directory" test ! -e "$state"

# ---- cryptogen identities
rm -rf "$FAKE_FABRIC_STATE"
out=$(net --runtime native --cryptogen up 2>&1)
check "up --cryptogen succeeds" show_on_failure $? "$out"
check "cryptogen generated from crypto-config.yaml" \
  grep -q "^cryptogen generate --config=$repo/crypto-config/crypto-config.yaml --output=$state/organizations" \
  "$FAKE_FABRIC_STATE/calls.log"
check "no CA was started with --cryptogen" test "$(calls fabric-ca)" -eq 0
out=$(net env 2>/dev/null)
check "env with cryptogen identities uses User1" contains "$out" "users/User1@org1.example.com/msp"
out=$(net --ca up 2>&1)
rc=$?
check "switching identity mode without down is refused" test "$rc" -ne 0
check "the refusal says to run down" contains "$out" "down"
out=$(net down 2>&1)
check "down after --cryptogen succeeds" show_on_failure $? "$out"
check_not "nothing listens on the peer port after down" listening "$(port 7051)"

finish
