#!/usr/bin/env bash
# Seeds the demo network through the API gateway with dev sign-in (scripts/up.sh runs it): three clubs,
# two accepted agreements and one proposed, two members per club, a few visits, and an open proposal to
# admit a fourth club. Idempotent: does nothing when club-alpha exists.
#
# Environment: GATEWAY (default http://127.0.0.1:8080), DEMO_CLUB_MSPS (the clubs whose members' Fabric
# organisation is not Org1MSP, as CLUB=MSPID,...; scripts/up.sh --fabric sets club-beta=Org2MSP).
set -euo pipefail
gateway=${GATEWAY:-http://127.0.0.1:8080}
api="$gateway/api/v1"

case "${1:-}" in
  "") ;;
  -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "scripts/seed-demo.sh: takes no arguments" >&2; exit 2 ;;
esac

# field NAME: the first string value of key NAME in the JSON on stdin.
field() { grep -o "\"$1\": *\"[^\"]*\"" | head -1 | cut -d'"' -f4; }

# call USER METHOD PATH [BODY]: the response body; fails with the API's error on a non-2xx answer.
call() {
  local user=$1 method=$2 path=$3 body=${4:-} answer status
  answer=$(curl -sS -X "$method" "$api$path" -H "Authorization: Bearer ${tokens[$user]}" \
    -H 'content-type: application/json' ${body:+-d "$body"} -w '\n%{http_code}')
  status=${answer##*$'\n'}
  answer=${answer%$'\n'*}
  if [ "${status:0:1}" != 2 ]; then
    echo "scripts/seed-demo.sh: $user $method $path answered $status: $answer" >&2
    exit 1
  fi
  printf '%s' "$answer"
}

declare -A tokens
for user in admin alpha-admin beta-admin gamma-admin alpha-desk beta-desk gamma-desk; do
  token=$(curl -sS -X POST "$api/dev/token" -H 'content-type: application/json' -d "{\"user\":\"$user\"}" | field token)
  if [ -z "$token" ]; then
    echo "scripts/seed-demo.sh: no dev token for $user from $gateway; is the gateway running with DEV_AUTH=1?" >&2
    exit 1
  fi
  tokens[$user]=$token
done

if (call admin GET /clubs/club-alpha) >/dev/null 2>&1; then
  echo "The demo network is already seeded."
  exit 0
fi

# msp CLUB: the MSP id of CLUB's Fabric organisation.
msp() {
  local entry
  local clubs=${DEMO_CLUB_MSPS:-}
  for entry in ${clubs//,/ }; do
    if [ "${entry%%=*}" = "$1" ]; then
      echo "${entry#*=}"
      return
    fi
  done
  echo Org1MSP
}

echo "Seeding the demo network..."
call admin POST /clubs "{\"id\":\"club-alpha\",\"name\":\"Alpha Yacht Club\",\"msp_id\":\"$(msp club-alpha)\",\"residency_zone\":\"GB-LND\"}" >/dev/null
call admin POST /clubs "{\"id\":\"club-beta\",\"name\":\"Beta Golf Club\",\"msp_id\":\"$(msp club-beta)\",\"residency_zone\":\"GB-EDH\"}" >/dev/null
call admin POST /clubs "{\"id\":\"club-gamma\",\"name\":\"Gamma Athletic Club\",\"msp_id\":\"$(msp club-gamma)\",\"residency_zone\":\"US-NY\"}" >/dev/null

year=$(date -u +%Y)
terms() {
  printf '{"max_visits_per_month":%s,"max_visits_per_year":%s,"max_stay_days":3,"max_guests_per_visit":2,' "$1" "$2"
  printf '"allowed_facilities":["dining","rooms","bar"],"fee":{"per_visit_minor":2500,"per_guest_minor":1000,'
  printf '"currency":"GBP"},"settlement":"bill_home_club","valid_from":"%s-01-01","valid_until":"%s-12-31"}' \
    "$year" "$((year + 1))"
}
ab=$(call alpha-admin POST /agreements "{\"counterparty\":\"club-beta\",\"terms\":$(terms 4 24)}" | field id)
call beta-admin POST "/agreements/$ab/accept" >/dev/null
bg=$(call beta-admin POST /agreements "{\"counterparty\":\"club-gamma\",\"terms\":$(terms 2 12)}" | field id)
call gamma-admin POST "/agreements/$bg/accept" >/dev/null
call gamma-admin POST /agreements "{\"counterparty\":\"club-alpha\",\"terms\":$(terms 3 12)}" >/dev/null

valid_until="$((year + 1))-12-31"
member() {
  call "$1" POST /members "{\"name\":\"$2\",\"email\":\"$3\",\"membership_number\":\"$4\",\"valid_until\":\"$valid_until\"}" |
    field id
}
ada=$(member alpha-admin "Ada Lovelace" ada@alpha.example A-0001)
member alpha-admin "Charles Babbage" charles@alpha.example A-0002 >/dev/null
grace=$(member beta-admin "Grace Hopper" grace@beta.example B-0001)
member beta-admin "Alan Turing" alan@beta.example B-0002 >/dev/null
katherine=$(member gamma-admin "Katherine Johnson" katherine@gamma.example G-0001)
member gamma-admin "Dorothy Vaughan" dorothy@gamma.example G-0002 >/dev/null

today=$(date -u +%F)
visit=$(call alpha-desk POST /visits "{\"member_id\":\"$grace\",\"visit_date\":\"$today\",\"facilities\":[\"dining\"]}" | field visit_id)
call alpha-desk POST "/visits/$visit/checkout" >/dev/null
call alpha-desk POST /visits "{\"member_id\":\"$grace\",\"visit_date\":\"$today\",\"nights\":1,\"guests\":1,\"facilities\":[\"rooms\"]}" >/dev/null
call beta-desk POST /visits "{\"member_id\":\"$ada\",\"visit_date\":\"$today\"}" >/dev/null
call gamma-desk POST /visits "{\"member_id\":\"$grace\",\"visit_date\":\"$today\",\"facilities\":[\"bar\"]}" >/dev/null
call beta-desk POST /visits "{\"member_id\":\"$katherine\",\"visit_date\":\"$today\"}" >/dev/null

call alpha-admin POST /proposals '{"kind":"admit_club","payload":{"id":"club-delta","name":"Delta Rowing Club","msp_id":"Org1MSP"}}' >/dev/null

echo "Seeded: clubs club-alpha, club-beta, club-gamma; agreements alpha-beta and beta-gamma (active) and"
echo "gamma-alpha (proposed); six members; five visits; an open proposal to admit club-delta."
echo "Members: Ada Lovelace $ada (alpha), Grace Hopper $grace (beta), Katherine Johnson $katherine (gamma)."
