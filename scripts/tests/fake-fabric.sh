#!/usr/bin/env bash
# Stand-ins for Fabric's binaries (and for reciprocal-chaincode), so the tests can drive scripts/network.sh
# end to end where no Fabric release is installed. Each stand-in checks the flags, files and environment
# the real binary needs, keeps what a real network would remember (registered identities, joined channels,
# installed packages, approvals, anchor peers) under $FAKE_FABRIC_STATE, and logs every call to
# $FAKE_FABRIC_STATE/calls.log. Daemons listen on their TCP ports until they are terminated.
#
# Invoked by the wrappers lib.sh writes: fake-fabric.sh WRAPPER_PATH ARGS...
set -euo pipefail

self=$1
shift
name=$(basename "$self")
fake=${FAKE_FABRIC_STATE:?FAKE_FABRIC_STATE must name the directory of the fake network}
mkdir -p "$fake"
printf '%s %s\n' "$name" "$*" >>"$fake/calls.log"
if [ "${FAKE_FABRIC_FAIL:-}" = "$name" ]; then
  echo "fake $name: forced failure for the test" >&2
  exit 1
fi

fail() {
  echo "fake $name: $*" >&2
  exit 1
}

# opt FLAG ARGS...: prints the value after FLAG (or of FLAG=VALUE).
opt() {
  local want=$1
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      "$want") [ $# -ge 2 ] && { echo "$2"; return 0; } ;;
      "$want"=*) echo "${1#*=}"; return 0 ;;
    esac
    shift
  done
  return 1
}

# all FLAG ARGS...: every value given with FLAG, one per line.
all() {
  local want=$1
  shift
  while [ $# -gt 0 ]; do
    [ "$1" = "$want" ] && [ $# -ge 2 ] && echo "$2"
    shift
  done
  return 0
}

need_env() {
  local var
  for var in "$@"; do
    [ -n "${!var:-}" ] || fail "$var is not set"
  done
}

need_file() {
  local file
  for file in "$@"; do
    [ -f "$file" ] || fail "no file at '$file'"
  done
}

port_of() { echo "${1##*:}"; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# listen PORT...: accepts and closes connections on 127.0.0.1:PORT... until terminated. A port given as
# peer-metrics:PORT or orderer-metrics:PORT answers HTTP with the metric network.sh waits for instead: a
# peer knows as many peers of channel reciprocal as $FAKE_FABRIC_STATE/gossip-peers-known says, the
# orderer leads it if $FAKE_FABRIC_STATE/raft-leader says 1 (both default to 1); "N:K" in either file
# means N for the next K answers, then 1. The wrapper's path stays in the process arguments, as a real
# binary's would.
listen() {
  exec python3 -c "$listener" "$self" "$@"
}
listener='
import os, select, socket, sys
metrics = {
    "peer-metrics": ("gossip-peers-known", "gossip_membership_total_peers_known"),
    "orderer-metrics": ("raft-leader", "consensus_etcdraft_is_leader"),
}
servers = {}
for port in sys.argv[2:]:
    kind, _, number = port.rpartition(":")
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(number)))
    server.listen(16)
    servers[server] = metrics.get(kind)
def value(file):
    path = os.path.join(os.environ["FAKE_FABRIC_STATE"], file)
    try:
        with open(path) as current:
            text = current.read().strip()
    except OSError:
        return "1"
    if ":" not in text:
        return text
    answer, left = text.split(":")
    if int(left) <= 0:
        return "1"
    with open(path, "w") as rest:
        rest.write("%s:%d\n" % (answer, int(left) - 1))
    return answer
while True:
    ready, _, _ = select.select(list(servers), [], [])
    for server in ready:
        connection = server.accept()[0]
        if servers[server]:
            file, metric = servers[server]
            connection.settimeout(2)
            try:
                connection.recv(4096)
                body = "%s{channel=\"reciprocal\"} %s\n" % (metric, value(file))
                connection.sendall(("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                                    % (len(body), body)).encode())
            except OSError:
                pass
        connection.close()
'


fake_ca() {
  [ "${1:-}" = start ] || fail "expected 'start'"
  local home
  home=$(opt --home "$@") || fail "--home missing"
  need_env FABRIC_CA_SERVER_PORT FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS FABRIC_CA_SERVER_ADDRESS
  need_file "$home/fabric-ca-server-config.yaml"
  printf -- '-----BEGIN CERTIFICATE-----\nFAKE CA %s\n-----END CERTIFICATE-----\n' "$(basename "$home")" >"$home/ca-cert.pem"
  listen "$FABRIC_CA_SERVER_PORT" "$(port_of "$FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS")"
}

fake_ca_client() {
  local sub=$1
  shift
  local caname url home ca_file registry
  caname=$(opt --caname "$@") || fail "--caname missing"
  url=$(opt -u "$@") || fail "-u missing"
  home=$(opt -H "$@") || fail "-H missing (would write into ~/.fabric-ca-client)"
  ca_file=$(opt --tls.certfiles "$@") || fail "--tls.certfiles missing"
  need_file "$ca_file"
  listening "$(port_of "${url%/}")" || fail "no CA listens at $url"
  registry=$fake/registered-$caname
  case "$sub" in
    register)
      local id secret type affiliation attrs
      id=$(opt --id.name "$@") || fail "--id.name missing"
      secret=$(opt --id.secret "$@") || fail "--id.secret missing"
      type=$(opt --id.type "$@") || fail "--id.type missing"
      affiliation=$(opt --id.affiliation "$@") || fail "--id.affiliation missing"
      attrs=$(opt --id.attrs "$@") || attrs=
      # The real CA registers it, but writes each affiliation component into the certificate as an OU
      # beside the NodeOU of the type; the MSP then sees two roles and rejects the identity.
      case ".$affiliation." in
        *.client.* | *.peer.* | *.admin.* | *.orderer.*)
          fail "affiliation '$affiliation' has a component named like a NodeOU role: the certificate would carry two roles" ;;
      esac
      [ -f "$home/msp/signcerts/cert.pem" ] || fail "the registrar is not enrolled in $home"
      if [ -f "$registry" ] && grep -q "^$id " "$registry"; then
        fail "Identity '$id' is already registered"
      fi
      echo "$id $secret $type $affiliation $attrs" >>"$registry"
      ;;
    enroll)
      local creds id secret msp profile hostport file entry
      creds=${url#https://}
      creds=${creds%@*}
      id=${creds%%:*}
      secret=${creds#*:}
      hostport=${url##*@}
      hostport=${hostport%/}
      if [ "$id" = registrar ]; then
        [ "$secret" = registrarpw ] || fail "wrong registrar secret"
        entry="registrar - client"
      else
        entry=$(grep "^$id $secret " "$registry" 2>/dev/null) || fail "Authentication failure for '$id'"
        entry=$(cut -d' ' -f1,3- <<<"$entry") # a certificate carries no secret
      fi
      msp=$(opt -M "$@") || msp=$home/msp
      profile=$(opt --enrollment.profile "$@") || profile=
      file="${hostport//[:.]/-}-$caname.pem"
      mkdir -p "$msp/signcerts" "$msp/keystore"
      if [ "$profile" = tls ]; then
        mkdir -p "$msp/tlscacerts"
        cp "$ca_file" "$msp/tlscacerts/tls-$file"
        all --csr.hosts "$@" >"$msp/hosts"
      else
        mkdir -p "$msp/cacerts"
        cp "$ca_file" "$msp/cacerts/$file"
      fi
      printf -- '-----BEGIN CERTIFICATE-----\nFAKE %s\n-----END CERTIFICATE-----\n' "$entry" >"$msp/signcerts/cert.pem"
      echo "FAKE KEY $id" >"$msp/keystore/0123abcd_sk"
      ;;
    *) fail "unexpected subcommand $sub" ;;
  esac
}

fake_cryptogen() {
  [ "${1:-}" = generate ] || fail "expected 'generate'"
  local config out
  config=$(opt --config "$@") || fail "--config missing"
  out=$(opt --output "$@") || fail "--output missing"
  need_file "$config"
  grep -q 'EnableNodeOUs: true' "$config" || fail "NodeOUs are off in $config"
  tree() { # DIR: a node or user folder
    mkdir -p "$1/msp/signcerts" "$1/msp/keystore" "$1/msp/cacerts" "$1/tls"
    echo cert >"$1/msp/signcerts/cert.pem"
    echo key >"$1/msp/keystore/priv_sk"
    echo config >"$1/msp/config.yaml"
    echo ca >"$1/tls/ca.crt"
    echo cert >"$1/tls/server.crt"
    echo key >"$1/tls/server.key"
  }
  local base=$out/ordererOrganizations/example.com domain
  mkdir -p "$base/msp" "$base/tlsca"
  echo ca >"$base/tlsca/tlsca.example.com-cert.pem"
  tree "$base/orderers/orderer.example.com"
  tree "$base/users/Admin@example.com"
  for domain in org1.example.com org2.example.com; do
    base=$out/peerOrganizations/$domain
    mkdir -p "$base/msp" "$base/tlsca"
    echo ca >"$base/tlsca/tlsca.$domain-cert.pem"
    tree "$base/peers/peer0.$domain"
    tree "$base/users/Admin@$domain"
    tree "$base/users/User1@$domain"
  done
}

fake_orderer() {
  need_env FABRIC_CFG_PATH ORDERER_GENERAL_LISTENPORT ORDERER_ADMIN_LISTENADDRESS ORDERER_OPERATIONS_LISTENADDRESS \
    ORDERER_FILELEDGER_LOCATION ORDERER_CONSENSUS_WALDIR ORDERER_CONSENSUS_SNAPDIR ORDERER_GENERAL_LOCALMSPDIR
  [ "${ORDERER_GENERAL_BOOTSTRAPMETHOD:-}" = none ] || fail "ORDERER_GENERAL_BOOTSTRAPMETHOD must be none"
  [ "${ORDERER_CHANNELPARTICIPATION_ENABLED:-}" = true ] || fail "channel participation is off"
  need_file "$FABRIC_CFG_PATH/orderer.yaml" "$ORDERER_GENERAL_TLS_CERTIFICATE" "$ORDERER_GENERAL_TLS_PRIVATEKEY" \
    "$ORDERER_ADMIN_TLS_CERTIFICATE"
  [ -d "$ORDERER_GENERAL_LOCALMSPDIR/signcerts" ] || fail "no MSP at $ORDERER_GENERAL_LOCALMSPDIR"
  listen "$ORDERER_GENERAL_LISTENPORT" "$(port_of "$ORDERER_ADMIN_LISTENADDRESS")" \
    "orderer-metrics:$(port_of "$ORDERER_OPERATIONS_LISTENADDRESS")"
}

fake_peer_node() {
  need_env FABRIC_CFG_PATH CORE_PEER_LISTENADDRESS CORE_PEER_CHAINCODELISTENADDRESS CORE_PEER_MSPCONFIGPATH \
    CORE_PEER_FILESYSTEMPATH CORE_LEDGER_SNAPSHOTS_ROOTDIR CORE_OPERATIONS_LISTENADDRESS CORE_PEER_LOCALMSPID \
    CORE_PEER_GOSSIP_EXTERNALENDPOINT CORE_PEER_GOSSIP_RECONNECTINTERVAL CORE_CHAINCODE_EXTERNALBUILDERS
  need_file "$FABRIC_CFG_PATH/core.yaml" "$CORE_PEER_TLS_CERT_FILE" "$CORE_PEER_TLS_KEY_FILE"
  # The builder list is YAML (here in JSON form); each builder needs bin/detect, bin/build, bin/release.
  python3 - "$CORE_CHAINCODE_EXTERNALBUILDERS" <<'PY' || fail "CORE_CHAINCODE_EXTERNALBUILDERS is not a usable builder list"
import json, os, sys
builders = json.loads(sys.argv[1])
assert builders and all(b["name"] for b in builders)
for builder in builders:
    for step in ("detect", "build", "release"):
        assert os.access(os.path.join(builder["path"], "bin", step), os.X_OK), builder["path"]
PY
  listen "$(port_of "$CORE_PEER_LISTENADDRESS")" "$(port_of "$CORE_PEER_CHAINCODELISTENADDRESS")" \
    "peer-metrics:$(port_of "$CORE_OPERATIONS_LISTENADDRESS")"
}

# The orderer flags the peer CLI needs for orderer-facing commands.
need_orderer_flags() {
  local orderer cafile
  orderer=$(opt -o "$@") || fail "-o (orderer address) missing"
  cafile=$(opt --cafile "$@") || fail "--cafile missing"
  need_file "$cafile"
  [ "$(opt --ordererTLSHostnameOverride "$@")" = orderer.example.com ] || fail "--ordererTLSHostnameOverride orderer.example.com missing"
  listening "$(port_of "$orderer")" || fail "no orderer at $orderer"
}

fake_peer_cli() {
  need_env FABRIC_CFG_PATH CORE_PEER_ADDRESS CORE_PEER_LOCALMSPID CORE_PEER_MSPCONFIGPATH CORE_PEER_TLS_ROOTCERT_FILE
  [ "${CORE_PEER_TLS_ENABLED:-}" = true ] || fail "CORE_PEER_TLS_ENABLED must be true"
  need_file "$FABRIC_CFG_PATH/core.yaml" "$CORE_PEER_TLS_ROOTCERT_FILE"
  [ -d "$CORE_PEER_MSPCONFIGPATH/signcerts" ] || fail "no MSP at $CORE_PEER_MSPCONFIGPATH"
  local port msp=$CORE_PEER_LOCALMSPID group=$1 sub=$2
  port=$(port_of "$CORE_PEER_ADDRESS")
  shift 2
  if [ "$group $sub" = "lifecycle chaincode" ]; then
    sub=$1
    shift
    group=lifecycle
  fi
  if [ "$sub" != calculatepackageid ]; then
    listening "$port" || fail "no peer at $CORE_PEER_ADDRESS"
  fi
  case "$group $sub" in
    "channel list")
      echo "Channels peers has joined: "
      cat "$fake/peer-$port-channels" 2>/dev/null || true
      ;;
    "channel join")
      local block
      block=$(opt -b "$@") || fail "-b missing"
      need_file "$block"
      sed -n 's/^channel=//p' "$block" >>"$fake/peer-$port-channels"
      ;;
    "channel fetch")
      [ "${1:-}" = config ] || fail "expected 'fetch config'"
      need_orderer_flags "$@"
      grep -qx "$(opt -c "$@")" "$fake/orderer-channels" || fail "channel not on the orderer"
      echo "config block" >"$2"
      ;;
    "channel update")
      local tx
      need_orderer_flags "$@"
      tx=$(opt -f "$@") || fail "-f missing"
      need_file "$tx"
      python3 - "$tx" "$msp" >>"$fake/anchors" <<'PY' || fail "not an anchor peer update: $tx"
import json, sys
envelope = json.load(open(sys.argv[1]))
payload = envelope["payload"]
assert payload["header"]["channel_header"]["type"] == 2
group = payload["data"]["config_update"]["channel_group"]["groups"]["Application"]["groups"][sys.argv[2]]
for anchor in group["values"]["AnchorPeers"]["value"]["anchor_peers"]:
    print(sys.argv[2], anchor["host"], anchor["port"])
PY
      echo "$msp" >>"$fake/anchor-updates"
      ;;
    "channel getinfo") echo 'Blockchain info: {"height":5}' ;;
    "lifecycle calculatepackageid")
      need_file "$1"
      python3 - "$1" <<'PY'
import hashlib, json, sys, tarfile
with tarfile.open(sys.argv[1], "r:gz") as package:
    label = json.load(package.extractfile("metadata.json"))["label"]
print(f"{label}:{hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest()}")
PY
      ;;
    "lifecycle install")
      local id
      id=$(fake_peer_cli lifecycle chaincode calculatepackageid "$1")
      if grep -q "^$id " "$fake/peer-$port-installed" 2>/dev/null; then
        fail "Error: chaincode install failed with status: 500 - failed to invoke backing implementation of" \
          "'InstallChaincode': chaincode already successfully installed (package ID '$id')"
      fi
      echo "$id $1" >>"$fake/peer-$port-installed"
      echo "Chaincode code package identifier: $id" >&2
      ;;
    "lifecycle queryinstalled")
      [ "$(opt --output "$@")" = json ] || fail "expected --output json"
      python3 -c 'import json,sys; print(json.dumps({"installed_chaincodes": [{"package_id": l.split()[0], "label": l.split(":")[0]} for l in open(sys.argv[1])]}))' \
        "$fake/peer-$port-installed" 2>/dev/null || echo '{}'
      ;;
    "lifecycle approveformyorg")
      need_orderer_flags "$@"
      local id sequence
      id=$(opt --package-id "$@") || fail "--package-id missing"
      sequence=$(opt --sequence "$@") || fail "--sequence missing"
      grep -q "^$id " "$fake/peer-$port-installed" || fail "package $id is not installed on this peer"
      echo "$msp $sequence $id" >>"$fake/approved"
      ;;
    "lifecycle queryapproved")
      local sequence line
      sequence=$(opt --sequence "$@") || fail "--sequence missing"
      line=$(grep "^$msp $sequence " "$fake/approved" 2>/dev/null) ||
        fail "Error: query failed with status: 500 - failed to invoke backing implementation of" \
          "'QueryApprovedChaincodeDefinition': could not fetch approved chaincode definition" \
          "(name: 'reciprocal', sequence: '$sequence') on channel 'reciprocal'"
      printf '{"sequence": %s, "source": {"Type": {"LocalPackage": {"package_id": "%s"}}}}\n' "$sequence" "${line##* }"
      ;;
    "lifecycle checkcommitreadiness")
      local sequence org1=false org2=false
      sequence=$(opt --sequence "$@") || fail "--sequence missing"
      grep -q "^Org1MSP $sequence " "$fake/approved" 2>/dev/null && org1=true
      grep -q "^Org2MSP $sequence " "$fake/approved" 2>/dev/null && org2=true
      printf '{"approvals": {"Org1MSP": %s, "Org2MSP": %s}}\n' "$org1" "$org2"
      ;;
    "lifecycle commit")
      need_orderer_flags "$@"
      local sequence peers roots
      sequence=$(opt --sequence "$@") || fail "--sequence missing"
      peers=$(all --peerAddresses "$@" | wc -l)
      roots=$(all --tlsRootCertFiles "$@" | wc -l)
      if [ "$peers" -ne 2 ] || [ "$roots" -ne 2 ]; then
        fail "commit needs both orgs' peers (MAJORITY): $peers peers, $roots roots"
      fi
      if ! grep -q "^Org1MSP $sequence " "$fake/approved" || ! grep -q "^Org2MSP $sequence " "$fake/approved"; then
        fail "not approved by both orgs"
      fi
      echo "$sequence" >"$fake/committed"
      ;;
    "lifecycle querycommitted")
      [ -f "$fake/committed" ] || fail "Error: query failed with status: 404 - namespace reciprocal is not defined"
      if [ "$(opt --output "$@" || true)" = json ]; then
        printf '{"sequence": %s, "version": "1.0"}\n' "$(cat "$fake/committed")"
      else
        echo "Version: 1.0, Sequence: $(cat "$fake/committed"), Endorsement Plugin: escc, Validation Plugin: vscc"
      fi
      ;;
    "chaincode query")
      local approval id package connection address host
      [ -f "$fake/committed" ] || fail "chaincode reciprocal not found"
      # The package this org approved for the committed sequence must be installed on this peer.
      approval=$(grep "^$msp $(cat "$fake/committed") " "$fake/approved" | tail -n 1) || fail "no approval"
      id=${approval##* }
      package=$(grep "^$id " "$fake/peer-$port-installed" | tail -n 1) ||
        fail "chaincode definition for 'reciprocal' exists, but chaincode is not installed"
      package=${package#* }
      connection=$(tar -xzOf "$package" code.tar.gz | tar -xzOf - connection.json |
        python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["address"], c["tls_required"])')
      address=${connection% *}
      host=${address%:*}
      if [ "$host" = 127.0.0.1 ]; then
        listening "$(port_of "$address")" || fail "could not connect to chaincode at $address"
      else
        # A container name: resolvable only if the fake engine runs that service.
        grep -q "^$host " "$fake/containers" 2>/dev/null || fail "could not resolve chaincode host $host"
      fi
      if [ "${connection#* }" = True ] && [ ! -f "$fake/chaincode-tls" ]; then
        fail "TLS handshake with the chaincode at $address failed"
      fi
      # What a real peer does with a chaincode that registers under another id: refuse, then time out.
      [ "$(cat "$fake/chaincode-id" 2>/dev/null)" = "$id" ] || fail "timeout expired while starting chaincode $id"
      echo '{"info":{"title":"reciprocal"}}'
      ;;
    *) fail "unexpected peer command: $group $sub" ;;
  esac
}

fake_configtxgen() {
  local dir profile channel block
  dir=$(opt -configPath "$@") || fail "-configPath missing"
  profile=$(opt -profile "$@") || fail "-profile missing"
  channel=$(opt -channelID "$@") || fail "-channelID missing"
  block=$(opt -outputBlock "$@") || fail "-outputBlock missing"
  need_file "$dir/configtx.yaml"
  grep -q "^  $profile:" "$dir/configtx.yaml" || fail "no profile $profile"
  # configtxgen resolves MSP and certificate paths relative to the configtx.yaml directory.
  local path
  while read -r path; do
    [ -e "$dir/$path" ] || fail "$path (relative to $dir) does not exist"
  done < <(sed -n 's/^ *\(MSPDir\|ClientTLSCert\|ServerTLSCert\): *//p' "$dir/configtx.yaml")
  # Like the real configtxgen, the genesis block carries every org's AnchorPeers from configtx.yaml.
  # FAKE_FABRIC_GENESIS_WITHOUT_ANCHORS="Org2MSP ..." leaves those orgs' out, as in a channel created from
  # a configtx.yaml without them, so a test can exercise createChannel's anchor peer update.
  python3 - "$dir/configtx.yaml" "${FAKE_FABRIC_GENESIS_WITHOUT_ANCHORS:-}" >"$fake/anchors" <<'PY'
import re, sys
text, omit = open(sys.argv[1]).read(), sys.argv[2].split()
orgs = text.split("Capabilities:", 1)[0]
for msp in ("Org1MSP", "Org2MSP"):
    if msp in omit:
        continue
    block = orgs.split(f"ID: {msp}", 1)[1].split("\n  - &", 1)[0]
    for host, port in re.findall(r"- Host: (\S+)\s+Port: (\d+)", block.split("AnchorPeers:", 1)[1]):
        print(msp, host, port)
PY
  echo "channel=$channel" >"$block"
}

fake_osnadmin() {
  local sub=${2:-} address channel
  [ "${1:-}" = channel ] || fail "expected 'channel'"
  shift 2
  address=$(opt -o "$@") || fail "-o missing"
  need_file "$(opt --ca-file "$@")" "$(opt --client-cert "$@")" "$(opt --client-key "$@")"
  listening "$(port_of "$address")" || fail "no admin endpoint at $address"
  channel=$(opt --channelID "$@") || fail "--channelID missing"
  touch "$fake/orderer-channels"
  case "$sub" in
    # The real osnadmin prints the HTTP status, then the JSON body, and exits 0 whatever the status.
    list)
      if grep -qx "$channel" "$fake/orderer-channels"; then
        printf 'Status: 200\n{\n\t"name": "%s",\n\t"status": "active"\n}\n\n' "$channel"
      else
        printf 'Status: 404\n{\n\t"error": "channel does not exist"\n}\n\n'
      fi
      ;;
    join)
      need_file "$(opt --config-block "$@")"
      if grep -qx "$channel" "$fake/orderer-channels"; then
        printf 'Status: 405\n{\n\t"error": "cannot join: channel already exists"\n}\n\n'
      else
        echo "$channel" >>"$fake/orderer-channels"
        printf 'Status: 201\n{\n\t"name": "%s",\n\t"status": "active"\n}\n\n' "$channel"
      fi
      ;;
    *) fail "unexpected osnadmin command $sub" ;;
  esac
}

# configtxlator: the "protobuf" files are JSON here, so an update can be read back by the fake peer.
fake_configtxlator() {
  local sub=$1 input output type
  shift
  output=$(opt --output "$@") || fail "--output missing"
  case "$sub" in
    proto_decode | proto_encode)
      input=$(opt --input "$@") || fail "--input missing"
      type=$(opt --type "$@") || fail "--type missing"
      need_file "$input"
      if [ "$sub $type" = "proto_decode common.Block" ]; then
        python3 - "$fake/anchors" >"$output" <<'PY'
import json, sys
groups = {}
for msp in ("Org1MSP", "Org2MSP"):
    groups[msp] = {"values": {}}
for line in open(sys.argv[1]):
    msp, host, port = line.split()
    values = groups[msp]["values"]
    values.setdefault("AnchorPeers", {"value": {"anchor_peers": []}})
    values["AnchorPeers"]["value"]["anchor_peers"].append({"host": host, "port": int(port)})
config = {"channel_group": {"groups": {"Application": {"groups": groups}}}}
print(json.dumps({"data": {"data": [{"payload": {"data": {"config": config}}}]}}))
PY
      else
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$input" || fail "$input is not JSON"
        cp "$input" "$output"
      fi
      ;;
    compute_update)
      [ "$(opt --channel_id "$@")" = reciprocal ] || fail "--channel_id reciprocal missing"
      need_file "$(opt --original "$@")" "$(opt --updated "$@")"
      cp "$(opt --updated "$@")" "$output"
      ;;
    *) fail "unexpected configtxlator command $sub" ;;
  esac
}

# A container engine (docker or podman) with Compose: services of the three compose files become
# background listeners on their published ports, recorded in $FAKE_FABRIC_STATE/containers.
fake_engine() {
  case "${1:-}" in
    info | version) echo "fake $name engine" ;;
    ps)
      [ "$(opt --filter "$@")" = label=service=reciprocal-clubs-fabric ] || fail "unexpected ps filter"
      cut -d' ' -f2 "$fake/containers" 2>/dev/null || true
      ;;
    build)
      local tag file context
      tag=$(opt -t "$@") || fail "-t missing"
      file=$(opt -f "$@") || fail "-f missing"
      context=${*: -1}
      need_file "$file"
      [ -x "$context/reciprocal-chaincode" ] || fail "no reciprocal-chaincode in the build context $context"
      [ "$(find "$context" -type f | wc -l)" -eq 1 ] || fail "the build context holds more than the binary"
      echo "$tag" >"$fake/image"
      ;;
    run) ;;
    compose) shift; fake_compose "$@" ;;
    *) fail "unexpected $name command $1" ;;
  esac
}

fake_compose() {
  [ "${1:-}" = version ] && { echo "fake compose"; return 0; }
  [ "$(opt -p "$@")" = reciprocal-clubs ] || fail "project name reciprocal-clubs missing"
  local files
  files=$(all -f "$@" | xargs -n1 basename | tr '\n' ' ')
  [ "$files" = "compose-ca.yaml compose-net.yaml compose-chaincode.yaml " ] || fail "compose files: $files"
  need_env FABRIC_NETWORK_STATE CHAINCODE_ID
  [[ "$FABRIC_NETWORK_STATE" == /* ]] || fail "FABRIC_NETWORK_STATE must be absolute for bind mounts"
  while [ $# -gt 0 ] && [ "$1" != up ] && [ "$1" != down ] && [ "$1" != ps ]; do shift; done
  local command=${1:-}
  shift
  touch "$fake/containers"
  case "$command" in
    up)
      local service recreate=false
      for service in "$@"; do
        case "$service" in
          -d) continue ;;
          --force-recreate) recreate=true; continue ;;
        esac
        if grep -q "^$service " "$fake/containers"; then
          [ "$recreate" = true ] || continue
          stop_container "$service"
        fi
        start_container "$service"
      done
      ;;
    down)
      local line
      while read -r line; do stop_container "${line%% *}"; done <"$fake/containers"
      echo "down $*" >>"$fake/compose-downs"
      ;;
    ps) cat "$fake/containers" ;;
    *) fail "unexpected compose command $command" ;;
  esac
}

start_container() {
  local service=$1 state=$FABRIC_NETWORK_STATE ports=() org
  case "$service" in
    ca.org1.example.com | ca.org2.example.com | ca.example.com)
      case "$service" in
        ca.org1.example.com) org=org1; ports=("$CA_ORG1_PORT" "$CA_ORG1_OPS_PORT") ;;
        ca.org2.example.com) org=org2; ports=("$CA_ORG2_PORT" "$CA_ORG2_OPS_PORT") ;;
        *) org=ordererOrg; ports=("$CA_ORDERER_PORT" "$CA_ORDERER_OPS_PORT") ;;
      esac
      need_file "$state/fabric-ca/$org/fabric-ca-server-config.yaml"
      printf -- '-----BEGIN CERTIFICATE-----\nFAKE CA %s\n-----END CERTIFICATE-----\n' "$org" >"$state/fabric-ca/$org/ca-cert.pem"
      ;;
    orderer.example.com)
      need_file "$state/organizations/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt"
      ports=("$ORDERER_PORT" "$ORDERER_ADMIN_PORT" "orderer-metrics:$ORDERER_OPS_PORT")
      ;;
    peer0.org1.example.com | peer0.org2.example.com)
      org=${service#peer0.}
      need_file "$state/organizations/peerOrganizations/$org/peers/$service/tls/server.key"
      if [ "$org" = org1.example.com ]; then
        ports=("$PEER0_ORG1_PORT" "peer-metrics:$PEER0_ORG1_OPS_PORT")
      else
        ports=("$PEER0_ORG2_PORT" "peer-metrics:$PEER0_ORG2_OPS_PORT")
      fi
      ;;
    reciprocal-chaincode)
      [ "$CHAINCODE_ID" != none ] || fail "the chaincode started without its package id"
      [ -n "$(cat "$fake/image" 2>/dev/null)" ] || fail "no chaincode image was built"
      echo "$CHAINCODE_ID" >"$fake/chaincode-id"
      if [ "${CHAINCODE_TLS_DISABLED:-true}" = false ]; then
        need_env CHAINCODE_TLS_CERT_PEM CHAINCODE_TLS_KEY_PEM
        echo "$CHAINCODE_TLS_CERT_PEM" >"$fake/chaincode-tls"
      else
        rm -f "$fake/chaincode-tls"
      fi
      ;;
    *) fail "no service $service" ;;
  esac
  local pid=-
  if [ ${#ports[@]} -gt 0 ]; then
    nohup python3 -c "$listener" "$self" "${ports[@]}" >/dev/null 2>&1 &
    pid=$!
  fi
  echo "$service $pid" >>"$fake/containers"
}

stop_container() {
  local pid
  pid=$(sed -n "s/^$1 //p" "$fake/containers")
  if [ -n "$pid" ] && [ "$pid" != - ]; then kill "$pid" 2>/dev/null || true; fi
  sed -i "/^$1 /d" "$fake/containers"
}

fake_chaincode() {
  need_env CHAINCODE_ID CHAINCODE_SERVER_ADDRESS
  echo "$CHAINCODE_ID" >"$fake/chaincode-id"
  if [ "${CHAINCODE_TLS_DISABLED:-true}" = false ]; then
    need_file "${CHAINCODE_TLS_CERT:-}" "${CHAINCODE_TLS_KEY:-}"
    echo "$CHAINCODE_TLS_CERT" >"$fake/chaincode-tls"
  else
    rm -f "$fake/chaincode-tls"
  fi
  listen "$(port_of "$CHAINCODE_SERVER_ADDRESS")"
}

case "$name" in
  fabric-ca-server) fake_ca "$@" ;;
  fabric-ca-client) fake_ca_client "$@" ;;
  cryptogen) fake_cryptogen "$@" ;;
  orderer) fake_orderer "$@" ;;
  peer)
    if [ "${1:-} ${2:-}" = "node start" ]; then
      fake_peer_node
    else
      # Fabric 3's peer CLI logs its gRPC connections on stderr, whatever it answers on stdout.
      echo "2026-12-04 21:18:51.802 UTC 0028 INFO [grpc] AddTraceEvent -> [core] [Channel #7] Channel exiting idle mode" >&2
      fake_peer_cli "$@"
    fi
    ;;
  configtxgen) fake_configtxgen "$@" ;;
  osnadmin) fake_osnadmin "$@" ;;
  configtxlator) fake_configtxlator "$@" ;;
  reciprocal-chaincode) fake_chaincode "$@" ;;
  docker | podman) fake_engine "$@" ;;
  *) fail "no stand-in for $name" ;;
esac
