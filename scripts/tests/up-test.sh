#!/usr/bin/env bash
# scripts/up.sh's arguments and what it checks before it builds or starts anything: a Fabric network to
# run on (--fabric), Fabric CA identities with the demo clubs, a peer and a CA that answer, and no
# switching ledgers under a platform's existing data. Every refusal exits non-zero, says what to do, and
# starts nothing. Needs Postgres, Redis and NATS reachable (up.sh checks them first), as on CI.
suite=up-script
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

up() { (cd "$repo" && STATE_DIR="$platform" FABRIC_NETWORK_STATE="$network" \
  FABRIC_NETWORK_PORT_OFFSET=23100 bash scripts/up.sh "$@" 2>&1); }
platform=$scratch/platform
network=$scratch/fabric-network
started_nothing() { [ -z "$(ls -A "$platform/pids" 2>/dev/null)" ] && [ ! -e "$platform/ledger" ]; }

output=$(up --help)
check "--help succeeds and describes --fabric" contains "$output" "scripts/up.sh [--fabric]"
check "--help names the environment" contains "$output" "FABRIC_NETWORK_STATE"
output=$(up --bogus)
check "an unknown argument is a usage error (2)" test "$?" -eq 2
check "an unknown argument is named" contains "$output" "unknown argument '--bogus'"
up --fabric --fabric >/dev/null
check "a second argument is a usage error (2)" test "$?" -eq 2

output=$(up --fabric)
check "--fabric without a network fails" test "$?" -eq 1
check "--fabric without a network says how to bring one up" \
  contains "$output" "no Fabric network in $network: bring one up with 'scripts/network.sh up && scripts/network.sh deployCC'"
check "nothing was started or recorded" started_nothing

# A network's state as scripts/network.sh leaves it, with nothing running.
org1=$network/organizations/peerOrganizations/org1.example.com
org2=$network/organizations/peerOrganizations/org2.example.com
mkdir -p "$org1/tlsca" "$org1/users/networkadmin@org1.example.com/msp" "$org2/users/User1@org2.example.com/msp"
echo native >"$network/runtime"
touch "$org1/tlsca/tlsca.org1.example.com-cert.pem"
echo cryptogen >"$network/identities"
output=$(up --fabric)
check "cryptogen identities are refused" test "$?" -eq 1
check "cryptogen identities: the reason and the remedy" \
  contains "$output" "cryptogen identities, which carry no club or role attribute"

echo ca >"$network/identities"
output=$(up --fabric)
check "a network without the demo club identities is refused" test "$?" -eq 1
check "the missing identity is named" contains "$output" "lacks the demo identity $org2/users/clubadmin-beta@org2.example.com/msp"

mkdir -p "$org2/users/clubadmin-beta@org2.example.com/msp"
output=$(up --fabric)
check "a peer that does not answer is refused" test "$?" -eq 1
check "the peer's address (with the port offset) is named" \
  contains "$output" "Org1's peer does not answer on 127.0.0.1:30151"
check "still nothing started or recorded" started_nothing

mkdir -p "$platform"
echo dev >"$platform/ledger"
output=$(up --fabric)
check "a platform started on the dev ledger is not restarted on Fabric" test "$?" -eq 1
check "switching ledgers asks for down --purge" contains "$output" "started on the dev ledger; stop it and drop its data with 'scripts/down.sh --purge'"
echo fabric >"$platform/ledger"
output=$(up)
check "nor one started on Fabric on the dev ledger" test "$?" -eq 1
check "that refusal names the Fabric ledger" contains "$output" "started on the fabric ledger"

finish
