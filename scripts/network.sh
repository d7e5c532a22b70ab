#!/usr/bin/env bash
# Brings up the Reciprocal Clubs Fabric test network (Fabric CAs, one etcdraft orderer, peer0 of Org1 and
# Org2), creates channel `reciprocal`, deploys the Rust chaincode as a service and tears it all down again,
# with Docker Compose, podman-compose or Fabric's native binaries. `scripts/network.sh --help` says how.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prog=scripts/network.sh
network_dir=$repo/fabric-network

readonly CHANNEL=reciprocal
readonly CC_NAME=reciprocal
readonly PROJECT=reciprocal-clubs
readonly CHAINCODE_SERVICE=reciprocal-chaincode
# Marks a state directory as this script's, so `down` never deletes a directory it did not create.
readonly STATE_MARKER=.reciprocal-fabric-network

usage() {
  cat <<'HELP'
Usage: scripts/network.sh [options] COMMAND [command options]

Commands:
  up                 start the CAs (or run cryptogen), issue every identity, start orderer and peers
  createChannel      create channel `reciprocal` (configtxgen, osnadmin join), join both peers, and make
                     sure both anchor peers are in the channel configuration
  deployCC           build, package (CCaaS), install, approve (both orgs), commit and start the chaincode,
                     then query org.hyperledger.fabric:GetMetadata through both peers (runs
                     createChannel first if the channel does not exist yet)
      --binary FILE      use this reciprocal-chaincode binary instead of `cargo build --release`
      --version V        chaincode definition version                    [default: 1.0]
      --sequence N       definition sequence                            [default: next one needed]
      --tls              serve the chaincode over TLS with a certificate from Org1's CA (Fabric CA only)
  down [--keep]      stop everything this script started; --keep keeps identities, ledgers and logs
  status             what runs, where, and the channel and chaincode as the peers see them
  env [--org N] [--user NAME]
                     print `export` lines for the peer CLI and the `clubs` CLI as org N (1 or 2):
                     eval "$(scripts/network.sh env --org 1)"

Options:
  --runtime docker|podman|native   default: what `up` used, else docker if a Docker engine answers,
                                   else native
  --ca                             identities from Fabric CA, with the demo club identities (default)
  --cryptogen                      identities from cryptogen (no club/role attributes)
  --state-dir DIR                  network state (identities, ledgers, logs, pids)
                                   [default: $FABRIC_NETWORK_STATE or .state/fabric-network]
  -h, --help                       this help

Environment:
  FABRIC_BIN    directory of Fabric's binaries (peer, orderer, configtxgen, configtxlator, osnadmin,
                cryptogen, fabric-ca-server, fabric-ca-client); the CLIs are needed in every runtime,
                the daemons only with --runtime native
  FABRIC_CFG    directory with Fabric's core.yaml and orderer.yaml     [default: $FABRIC_BIN/../config]
  FABRIC_VERSION, FABRIC_CA_VERSION   image tags for Docker/Podman       [default: 2.5, 1.5]
  FABRIC_NETWORK_PORT_OFFSET          added to every port on the host   [default: 0]
  FABRIC_NETWORK_READY_TIMEOUT        seconds createChannel and deployCC wait for the orderer's raft
                                      leader and for each peer to see the other through gossip [default: 90]

Ports on the host (before the offset): CAs 7054 (Org1), 8054 (Org2), 9054 (orderer org); orderer 7050,
admin 7053, operations 9443; peer0.org1 7051 (operations 9444); peer0.org2 9051 (operations 9445);
chaincode server 7052 (native). Native peers move their own chaincode listeners to 7062 and 9062.
HELP
}

# ---------------------------------------------------------------------------------------------------------
# Messages and failures

info() { printf '%s\n' "$*" >&2; }
# die MESSAGE...: the words of MESSAGE joined by spaces, then exit 1.
die() {
  printf '%s: %s\n' "$prog" "$*" >&2
  exit 1
}
usage_error() {
  printf '%s: %s\n\n' "$prog" "$*" >&2
  usage >&2
  exit 2
}

# Shows the end of a log after a failed step.
show_log_tail() {
  if [ -s "$1" ]; then
    info "--- last 20 lines of $1 ---"
    tail -n 20 "$1" >&2
    info "---"
  fi
}

# run_logged LOG CMD...: appends the command line (enrollment secrets masked) and its output to LOG;
# returns its status.
run_logged() {
  local log=$1
  shift
  printf '\n$ %s\n' "$*" | sed -E 's#(://[^:/@ ]+:)[^@ ]+@#\1***@#g; s#(--id\.secret )[^ ]+#\1***#g' >>"$log"
  "$@" >>"$log" 2>&1
}

# step DESCRIPTION LOG CMD...: runs CMD (output to LOG); on failure names the step and shows the log.
step() {
  local what=$1 log=$2
  shift 2
  info "  $what"
  if ! run_logged "$log" "$@"; then
    info "$prog: failed: $what"
    show_log_tail "$log"
    exit 1
  fi
}

# retry ATTEMPTS DELAY LOG CMD...: runs CMD until it succeeds; output to LOG.
retry() {
  local attempts=$1 delay=$2 log=$3 i
  shift 3
  for ((i = 1; i <= attempts; i++)); do
    if run_logged "$log" "$@"; then
      return 0
    fi
    [ "$i" -lt "$attempts" ] && sleep "$delay"
  done
  return 1
}

# ---------------------------------------------------------------------------------------------------------
# Options

runtime=
identities=
state=${FABRIC_NETWORK_STATE:-$repo/.state/fabric-network}
command=
command_args=()

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --runtime)
        [ $# -ge 2 ] || usage_error "--runtime needs docker, podman or native"
        case "$2" in
          docker | podman | native) runtime=$2 ;;
          *) usage_error "--runtime must be docker, podman or native, not '$2'" ;;
        esac
        shift 2
        ;;
      --runtime=*) set -- --runtime "${1#*=}" "${@:2}" ;;
      --ca) identities=ca; shift ;;
      --cryptogen) identities=cryptogen; shift ;;
      --state-dir)
        if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "--state-dir needs a directory"; fi
        state=$2
        shift 2
        ;;
      -h | --help) usage; exit 0 ;;
      -*)
        if [ -n "$command" ]; then
          command_args+=("$1")
          shift
        else
          usage_error "unknown option $1"
        fi
        ;;
      *)
        if [ -z "$command" ]; then
          command=$1
        else
          command_args+=("$1")
        fi
        shift
        ;;
    esac
  done
}

# ---------------------------------------------------------------------------------------------------------
# Ports (host side). Inside Docker/Podman the nodes keep the standard ports; only published ports move.

port_offset=${FABRIC_NETWORK_PORT_OFFSET:-0}
if ! [[ "$port_offset" =~ ^[0-9]{1,5}$ ]] || [ "$port_offset" -gt 40000 ]; then
  die "FABRIC_NETWORK_PORT_OFFSET must be a number from 0 to 40000, not '$port_offset'"
fi
port_offset=$((10#$port_offset))
export CA_ORG1_PORT=$((7054 + port_offset)) CA_ORG1_OPS_PORT=$((17054 + port_offset))
export CA_ORG2_PORT=$((8054 + port_offset)) CA_ORG2_OPS_PORT=$((18054 + port_offset))
export CA_ORDERER_PORT=$((9054 + port_offset)) CA_ORDERER_OPS_PORT=$((19054 + port_offset))
export ORDERER_PORT=$((7050 + port_offset)) ORDERER_ADMIN_PORT=$((7053 + port_offset))
export ORDERER_OPS_PORT=$((9443 + port_offset))
export PEER0_ORG1_PORT=$((7051 + port_offset)) PEER0_ORG1_OPS_PORT=$((9444 + port_offset))
export PEER0_ORG2_PORT=$((9051 + port_offset)) PEER0_ORG2_OPS_PORT=$((9445 + port_offset))
PEER0_ORG1_CC_PORT=$((7062 + port_offset))
PEER0_ORG2_CC_PORT=$((9062 + port_offset))
CHAINCODE_PORT=$((7052 + port_offset))

peer_port() { if [ "$1" = 1 ]; then echo "$PEER0_ORG1_PORT"; else echo "$PEER0_ORG2_PORT"; fi; }
peer_ops_port() { if [ "$1" = 1 ]; then echo "$PEER0_ORG1_OPS_PORT"; else echo "$PEER0_ORG2_OPS_PORT"; fi; }
peer_cc_port() { if [ "$1" = 1 ]; then echo "$PEER0_ORG1_CC_PORT"; else echo "$PEER0_ORG2_CC_PORT"; fi; }
# The port peers use inside the Docker network (and advertise as anchor peers there).
peer_internal_port() { if [ "$1" = 1 ]; then echo 7051; else echo 9051; fi; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# require_free_ports "PORT NAME" ...: fails naming every port already in use.
require_free_ports() {
  local entry busy=()
  for entry in "$@"; do
    if port_busy "${entry%% *}"; then
      busy+=("${entry%% *} (${entry#* })")
    fi
  done
  if [ ${#busy[@]} -gt 0 ]; then
    die "port(s) already in use on 127.0.0.1: ${busy[*]}." \
      "Stop what listens there (scripts/down.sh stops the dev ledger on 7051/7052)," \
      "or shift this network's ports with FABRIC_NETWORK_PORT_OFFSET."
  fi
}

# ---------------------------------------------------------------------------------------------------------
# State directory layout

set_paths() {
  case "$state" in
    /*) ;;
    *) state=$PWD/$state ;;
  esac
  state=${state%/}
  export FABRIC_NETWORK_STATE=$state
  orgs=$state/organizations
  logs=$state/logs
  pids=$state/pids
  artifacts=$state/channel-artifacts
  orderer_org=$orgs/ordererOrganizations/example.com
  orderer_node=$orderer_org/orderers/orderer.example.com
  orderer_ca=$orderer_org/tlsca/tlsca.example.com-cert.pem
}

org_dir() { echo "$orgs/peerOrganizations/org$1.example.com"; }
peer_node_dir() { echo "$(org_dir "$1")/peers/peer0.org$1.example.com"; }
org_tls_ca() { echo "$(org_dir "$1")/tlsca/tlsca.org$1.example.com-cert.pem"; }
org_admin_msp() { echo "$(org_dir "$1")/users/Admin@org$1.example.com/msp"; }

# The runtime and identity mode `up` used are remembered so later commands need no flags.
load_recorded() {
  local recorded
  if [ -f "$state/runtime" ]; then
    recorded=$(cat "$state/runtime")
    if [ -n "$runtime" ] && [ "$runtime" != "$recorded" ]; then
      if [ "$command" = up ]; then
        die "the network in $state was brought up with --runtime $recorded; run '$prog down' first to switch"
      fi
      info "$prog: the network in $state runs with --runtime $recorded; using that"
    fi
    runtime=$recorded
  fi
  if [ -f "$state/identities" ]; then
    recorded=$(cat "$state/identities")
    if [ -n "$identities" ] && [ "$identities" != "$recorded" ] && [ "$command" = up ]; then
      die "the identities in $state come from $recorded; run '$prog down' first to switch to $identities"
    fi
    identities=$recorded
  fi
  identities=${identities:-ca}
}

default_runtime() {
  if [ -z "$runtime" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
      runtime=docker
    else
      runtime=native
    fi
  fi
}

# ---------------------------------------------------------------------------------------------------------
# Tools

# require_bins NAME...: the named Fabric binaries must be executable in $FABRIC_BIN.
require_bins() {
  local name missing=()
  for name in "$@"; do
    if [ -z "${FABRIC_BIN:-}" ] || [ ! -x "$FABRIC_BIN/$name" ]; then
      missing+=("$name")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    die "missing Fabric binaries: ${missing[*]}." \
      "\$FABRIC_BIN must point at the bin/ directory holding them (FABRIC_BIN=${FABRIC_BIN:-<unset>})." \
      "Fabric's release tarball (hyperledger-fabric-<os>-<arch>-<version>.tar.gz) has peer, orderer," \
      "configtxgen, configtxlator, osnadmin and cryptogen; Fabric CA's has fabric-ca-server and fabric-ca-client."
  fi
  FABRIC_BIN=$(cd "$FABRIC_BIN" && pwd)
  case ":$PATH:" in
    *":$FABRIC_BIN:"*) ;;
    *) PATH=$FABRIC_BIN:$PATH ;;
  esac
}

# The directory with core.yaml (peer, peer CLI) and orderer.yaml (native orderer).
fabric_cfg_dir() {
  if [ -n "${FABRIC_CFG:-}" ]; then
    echo "$FABRIC_CFG"
  elif [ -n "${FABRIC_BIN:-}" ]; then
    echo "$FABRIC_BIN/../config"
  else
    echo ""
  fi
}

require_cfg() {
  local dir file
  dir=$(fabric_cfg_dir)
  [ -n "$dir" ] || die "set FABRIC_CFG (or FABRIC_BIN) so Fabric's config directory with $* can be found"
  for file in "$@"; do
    [ -f "$dir/$file" ] || die "$dir/$file not found: FABRIC_CFG (default \$FABRIC_BIN/../config," \
      "the release's config/ directory) must hold Fabric's $*"
  done
  fabric_cfg=$(cd "$dir" && pwd)
}

# has_cfg FILE...: like require_cfg, but answers instead of failing.
has_cfg() {
  local dir file
  dir=$(fabric_cfg_dir)
  [ -n "$dir" ] || return 1
  for file in "$@"; do
    [ -f "$dir/$file" ] || return 1
  done
  fabric_cfg=$(cd "$dir" && pwd)
}

require_python() {
  command -v python3 >/dev/null 2>&1 ||
    die "python3 is needed to read and edit the JSON of channel configurations and peer answers"
}

# The CLIs every runtime runs on the host; the daemons only natively.
cli_bins() {
  echo peer configtxgen configtxlator osnadmin
  if [ "$identities" = cryptogen ]; then echo cryptogen; else echo fabric-ca-client; fi
}
daemon_bins() {
  echo peer orderer
  if [ "$identities" = ca ]; then echo fabric-ca-server; fi
}

compose() {
  local files=() file
  # The chaincode service needs its package id; other commands only need the file to parse.
  export CHAINCODE_ID=${CHAINCODE_ID:-none}
  for file in ca net chaincode; do
    files+=(-f "$network_dir/compose/compose-$file.yaml")
  done
  case "$runtime" in
    docker)
      if docker compose version >/dev/null 2>&1; then
        docker compose -p "$PROJECT" "${files[@]}" "$@"
      elif command -v docker-compose >/dev/null 2>&1; then
        docker-compose -p "$PROJECT" "${files[@]}" "$@"
      else
        die "neither 'docker compose' nor docker-compose is installed"
      fi
      ;;
    podman)
      if command -v podman-compose >/dev/null 2>&1; then
        podman-compose -p "$PROJECT" "${files[@]}" "$@"
      elif podman compose version >/dev/null 2>&1; then
        podman compose -p "$PROJECT" "${files[@]}" "$@"
      else
        die "neither podman-compose nor 'podman compose' is installed"
      fi
      ;;
    *) die "compose used with runtime $runtime" ;;
  esac
}

require_engine() {
  command -v "$runtime" >/dev/null 2>&1 || die "$runtime is not installed (choose another --runtime)"
  "$runtime" info >/dev/null 2>&1 || die "the $runtime engine does not answer ('$runtime info' fails)"
}

# ---------------------------------------------------------------------------------------------------------
# Native processes: pid files hold the pid and the binary, so `down` never kills a recycled pid.

# pid_alive PID: the process exists and is not a zombie waiting for its parent (init) to reap it.
pid_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  case "$(ps -o stat= -p "$1" 2>/dev/null)" in
    Z*) return 1 ;;
    *) return 0 ;;
  esac
}

process_running() {
  local file=$pids/$1.pid pid binary
  [ -f "$file" ] || return 1
  pid=$(sed -n 1p "$file")
  binary=$(sed -n 2p "$file")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  case "$(ps -o args= -p "$pid" 2>/dev/null)" in
    *"$binary"*) return 0 ;;
    *) return 1 ;;
  esac
}

# start_process NAME BINARY [VAR=VALUE...] -- ARGS...: runs BINARY in the background with the given
# environment, output to logs/NAME.log.
start_process() {
  local name=$1 binary=$2 log=$logs/$1.log
  shift 2
  local vars=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    vars+=("$1")
    shift
  done
  [ $# -gt 0 ] && shift
  if process_running "$name"; then
    info "  $name already running (pid $(sed -n 1p "$pids/$name.pid"))"
    return 0
  fi
  printf '\n=== %s: starting %s\n' "$(date '+%Y-%m-%dT%H:%M:%S%z')" "$binary" >>"$log"
  nohup env "${vars[@]}" "$binary" "$@" >>"$log" 2>&1 </dev/null &
  printf '%s\n%s\n' "$!" "$binary" >"$pids/$name.pid"
  info "  started $name (pid $!, log $log)"
}

stop_process() {
  local name=$1 file=$pids/$1.pid pid i
  [ -f "$file" ] || return 0
  pid=$(sed -n 1p "$file")
  if process_running "$name"; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
    if pid_alive "$pid"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
    info "  stopped $name (pid $pid)"
  fi
  rm -f "$file"
}

# wait_for_port NAME PORT LOG [SECONDS]: until something listens on PORT; fails early if the native
# process NAME died.
wait_for_port() {
  local name=$1 port=$2 log=$3 seconds=${4:-60} i
  for ((i = 0; i < seconds * 5; i++)); do
    if port_busy "$port"; then
      return 0
    fi
    # In the middle of an exec (nohup, env, a wrapper script, the binary) `ps` can show a process without
    # its command line: only one that still looks gone a moment later has exited.
    if [ "$runtime" = native ] && [ -f "$pids/$name.pid" ] && ! process_running "$name" &&
      sleep 0.5 && ! process_running "$name" && ! port_busy "$port"; then
      info "$prog: $name exited during start-up"
      show_log_tail "$log"
      exit 1
    fi
    sleep 0.2
  done
  info "$prog: $name is not listening on port $port after ${seconds}s"
  show_log_tail "$log"
  exit 1
}

# ---------------------------------------------------------------------------------------------------------
# Identities with Fabric CA

readonly CA_ORGS="org1 org2 ordererOrg"
ca_name() { case "$1" in org1) echo ca-org1 ;; org2) echo ca-org2 ;; ordererOrg) echo ca-orderer ;; esac; }
ca_port() {
  case "$1" in
    org1) echo "$CA_ORG1_PORT" ;;
    org2) echo "$CA_ORG2_PORT" ;;
    ordererOrg) echo "$CA_ORDERER_PORT" ;;
  esac
}
ca_ops_port() {
  case "$1" in
    org1) echo "$CA_ORG1_OPS_PORT" ;;
    org2) echo "$CA_ORG2_OPS_PORT" ;;
    ordererOrg) echo "$CA_ORDERER_OPS_PORT" ;;
  esac
}

prepare_ca_homes() {
  local org
  for org in $CA_ORGS; do
    mkdir -p "$state/fabric-ca/$org"
    cp "$repo/crypto-config/fabric-ca/$org/fabric-ca-server-config.yaml" "$state/fabric-ca/$org/"
  done
}

start_cas() {
  local org
  info "Starting the Fabric CAs"
  prepare_ca_homes
  if [ "$runtime" = native ]; then
    for org in $CA_ORGS; do
      start_process "ca-$org" "$FABRIC_BIN/fabric-ca-server" \
        FABRIC_CA_SERVER_ADDRESS=127.0.0.1 \
        FABRIC_CA_SERVER_PORT="$(ca_port "$org")" \
        FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS="127.0.0.1:$(ca_ops_port "$org")" \
        -- start --home "$state/fabric-ca/$org"
    done
  else
    step "compose up (CAs)" "$logs/compose.log" compose up -d \
      ca.org1.example.com ca.org2.example.com ca.example.com
  fi
  for org in $CA_ORGS; do
    wait_for_port "ca-$org" "$(ca_port "$org")" "$(ca_log "$org")"
    wait_for_file "$state/fabric-ca/$org/ca-cert.pem" "ca-$org" "$(ca_log "$org")"
  done
}

ca_log() {
  if [ "$runtime" = native ]; then echo "$logs/ca-$1.log"; else echo "$logs/compose.log"; fi
}

wait_for_file() {
  local i
  for ((i = 0; i < 150; i++)); do
    [ -s "$1" ] && return 0
    sleep 0.2
  done
  info "$prog: $2 did not write $1"
  show_log_tail "$3"
  exit 1
}

random_secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# NodeOUs make the admin/peer/client/orderer roles the channel policies name; every MSP folder of the
# org gets the same config.yaml, pointing at its copy of the CA certificate.
write_node_ous() {
  local cacert=$1 out=$2 role
  {
    echo "NodeOUs:"
    echo "  Enable: true"
    for role in Client:client Peer:peer Admin:admin Orderer:orderer; do
      echo "  ${role%%:*}OUIdentifier:"
      echo "    Certificate: cacerts/$cacert"
      echo "    OrganizationalUnitIdentifier: ${role#*:}"
    done
  } >"$out"
}

# ca_org_identities ORG DOMAIN ORG_DIR: enrolls ORG's registrar, then registers and enrolls its nodes and
# users into ORG_DIR in cryptogen's layout. Secrets are random and never stored: each identity is
# enrolled right after it is registered.
ca_org_identities() {
  local org=$1 domain=$2 dir=$3
  local caname port ca_cert client_home log cacert
  caname=$(ca_name "$org")
  port=$(ca_port "$org")
  ca_cert=$state/fabric-ca/$org/ca-cert.pem
  client_home=$state/fabric-ca-clients/$org
  log=$logs/enroll-$org.log
  local ca_tls=(--caname "$caname" --tls.certfiles "$ca_cert")
  mkdir -p "$client_home"

  info "Issuing the identities of $domain ($caname on localhost:$port)"
  # A container's published port accepts before the CA inside listens: retry the first contact.
  info "  enroll the registrar of $caname"
  if ! retry 15 1 "$log" fabric-ca-client enroll -u "https://registrar:registrarpw@localhost:$port" \
    -H "$client_home" "${ca_tls[@]}"; then
    info "$prog: failed: enroll the registrar of $caname"
    show_log_tail "$log"
    exit 1
  fi
  cacert=$(cd "$client_home/msp/cacerts" && ls)
  [ -n "$cacert" ] || die "fabric-ca-client wrote no CA certificate into $client_home/msp/cacerts"

  mkdir -p "$dir/msp/cacerts" "$dir/msp/tlscacerts" "$dir/ca" "$dir/tlsca"
  cp "$ca_cert" "$dir/msp/cacerts/$cacert"
  # One CA issues both enrollment and TLS certificates (with its tls profile), so it is also the TLS CA.
  cp "$ca_cert" "$dir/msp/tlscacerts/tlsca.$domain-cert.pem"
  cp "$ca_cert" "$dir/ca/ca.$domain-cert.pem"
  cp "$ca_cert" "$dir/tlsca/tlsca.$domain-cert.pem"
  write_node_ous "$cacert" "$dir/msp/config.yaml"

  # identity NAME TYPE AFFILIATION MSP_DIR [TLS_DIR TLS_HOSTS] [ATTRS]
  identity() {
    local name=$1 type=$2 affiliation=$3 msp=$4 tls_dir=${5:-} hosts=${6:-} attrs=${7:-} secret
    secret=$(random_secret)
    local register=(fabric-ca-client register -u "https://localhost:$port" -H "$client_home" "${ca_tls[@]}"
      --id.name "$name" --id.secret "$secret" --id.type "$type" --id.affiliation "$affiliation")
    [ -n "$attrs" ] && register+=(--id.attrs "$attrs")
    step "register $name ($type${attrs:+, $attrs})" "$log" "${register[@]}"
    step "enroll $name" "$log" fabric-ca-client enroll -u "https://$name:$secret@localhost:$port" \
      -H "$client_home" -M "$msp" "${ca_tls[@]}"
    cp "$dir/msp/config.yaml" "$msp/config.yaml"
    if [ -n "$tls_dir" ]; then
      local host host_flags=()
      for host in $hosts; do host_flags+=(--csr.hosts "$host"); done
      step "enroll the TLS certificate of $name (${hosts// /, })" "$log" fabric-ca-client enroll \
        -u "https://$name:$secret@localhost:$port" -H "$client_home" -M "$tls_dir" \
        --enrollment.profile tls "${host_flags[@]}" "${ca_tls[@]}"
      # The file names cryptogen uses and the node configurations expect.
      cp "$tls_dir"/tlscacerts/* "$tls_dir/ca.crt"
      cp "$tls_dir"/signcerts/* "$tls_dir/server.crt"
      cp "$tls_dir"/keystore/* "$tls_dir/server.key"
    fi
  }

  local short=${org#org}
  if [ "$org" = ordererOrg ]; then
    identity orderer orderer ordererorg.nodes "$dir/orderers/orderer.$domain/msp" \
      "$dir/orderers/orderer.$domain/tls" "orderer.$domain localhost 127.0.0.1"
    identity ordereradmin admin ordererorg.nodes "$dir/users/Admin@$domain/msp"
    return
  fi
  identity peer0 peer "$org.nodes" "$dir/peers/peer0.$domain/msp" \
    "$dir/peers/peer0.$domain/tls" "peer0.$domain localhost 127.0.0.1"
  identity "org${short}admin" admin "$org.nodes" "$dir/users/Admin@$domain/msp"
  identity user1 client "$org.nodes" "$dir/users/User1@$domain/msp"
  local user name club role
  for user in $(demo_users "$short"); do
    IFS=: read -r name club role <<<"$user"
    identity "$name" client "$org.clubs" "$dir/users/$name@$domain/msp" "" "" \
      "${club:+club=$club:ecert,}role=$role:ecert"
  done
}

# The demo identities per org as NAME:CLUB:ROLE (club empty for the network admin, who acts for none).
demo_users() {
  case "$1" in
    1) echo "networkadmin::network_admin clubadmin-alpha:club-alpha:club_admin frontdesk-alpha:club-alpha:front_desk" ;;
    2) echo "clubadmin-beta:club-beta:club_admin frontdesk-beta:club-beta:front_desk" ;;
  esac
}

issue_identities() {
  if [ -f "$orgs/.complete" ]; then
    info "Reusing the identities in $orgs"
    if [ "$identities" = ca ]; then start_cas; fi
    return
  fi
  if [ -d "$orgs" ] || [ -d "$state/fabric-ca" ]; then
    die "$state holds identities from an unfinished '$prog up'; run '$prog down' first"
  fi
  if [ "$identities" = cryptogen ]; then
    info "Generating identities with cryptogen"
    step "cryptogen generate" "$logs/cryptogen.log" \
      cryptogen generate --config="$repo/crypto-config/crypto-config.yaml" --output="$orgs"
  else
    start_cas
    ca_org_identities ordererOrg example.com "$orderer_org"
    ca_org_identities org1 org1.example.com "$(org_dir 1)"
    ca_org_identities org2 org2.example.com "$(org_dir 2)"
  fi
  echo "$identities" >"$orgs/.complete"
}

# ---------------------------------------------------------------------------------------------------------
# Orderer and peers

start_orderer_native() {
  local data=$state/nodes/orderer.example.com tls_dir=$orderer_node/tls
  mkdir -p "$data"
  start_process orderer "$FABRIC_BIN/orderer" \
    FABRIC_CFG_PATH="$fabric_cfg" \
    FABRIC_LOGGING_SPEC=INFO \
    ORDERER_GENERAL_LISTENADDRESS=127.0.0.1 \
    ORDERER_GENERAL_LISTENPORT="$ORDERER_PORT" \
    ORDERER_GENERAL_LOCALMSPID=OrdererMSP \
    ORDERER_GENERAL_LOCALMSPDIR="$orderer_node/msp" \
    ORDERER_GENERAL_TLS_ENABLED=true \
    ORDERER_GENERAL_TLS_PRIVATEKEY="$tls_dir/server.key" \
    ORDERER_GENERAL_TLS_CERTIFICATE="$tls_dir/server.crt" \
    ORDERER_GENERAL_TLS_ROOTCAS="[$tls_dir/ca.crt]" \
    ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE="$tls_dir/server.crt" \
    ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY="$tls_dir/server.key" \
    ORDERER_GENERAL_CLUSTER_ROOTCAS="[$tls_dir/ca.crt]" \
    ORDERER_GENERAL_BOOTSTRAPMETHOD=none \
    ORDERER_CHANNELPARTICIPATION_ENABLED=true \
    ORDERER_ADMIN_LISTENADDRESS="127.0.0.1:$ORDERER_ADMIN_PORT" \
    ORDERER_ADMIN_TLS_ENABLED=true \
    ORDERER_ADMIN_TLS_CERTIFICATE="$tls_dir/server.crt" \
    ORDERER_ADMIN_TLS_PRIVATEKEY="$tls_dir/server.key" \
    ORDERER_ADMIN_TLS_ROOTCAS="[$tls_dir/ca.crt]" \
    ORDERER_ADMIN_TLS_CLIENTROOTCAS="[$tls_dir/ca.crt]" \
    ORDERER_OPERATIONS_LISTENADDRESS="127.0.0.1:$ORDERER_OPS_PORT" \
    ORDERER_METRICS_PROVIDER=prometheus \
    ORDERER_FILELEDGER_LOCATION="$data/ledger" \
    ORDERER_CONSENSUS_WALDIR="$data/etcdraft/wal" \
    ORDERER_CONSENSUS_SNAPDIR="$data/etcdraft/snapshot" \
    --
}

start_peer_native() {
  local n=$1 node data port cc_port
  node=$(peer_node_dir "$n")
  data=$state/nodes/peer0.org$n.example.com
  port=$(peer_port "$n")
  cc_port=$(peer_cc_port "$n")
  mkdir -p "$data"
  start_process "peer0.org$n" "$FABRIC_BIN/peer" \
    FABRIC_CFG_PATH="$fabric_cfg" \
    FABRIC_LOGGING_SPEC=INFO \
    CORE_PEER_ID="peer0.org$n.example.com" \
    CORE_PEER_ADDRESS="127.0.0.1:$port" \
    CORE_PEER_LISTENADDRESS="127.0.0.1:$port" \
    CORE_PEER_CHAINCODEADDRESS="127.0.0.1:$cc_port" \
    CORE_PEER_CHAINCODELISTENADDRESS="127.0.0.1:$cc_port" \
    CORE_PEER_GOSSIP_BOOTSTRAP="127.0.0.1:$port" \
    CORE_PEER_GOSSIP_EXTERNALENDPOINT="127.0.0.1:$port" \
    CORE_PEER_GOSSIP_RECONNECTINTERVAL=5s \
    CORE_PEER_LOCALMSPID="Org${n}MSP" \
    CORE_PEER_MSPCONFIGPATH="$node/msp" \
    CORE_PEER_TLS_ENABLED=true \
    CORE_PEER_TLS_CERT_FILE="$node/tls/server.crt" \
    CORE_PEER_TLS_KEY_FILE="$node/tls/server.key" \
    CORE_PEER_TLS_ROOTCERT_FILE="$node/tls/ca.crt" \
    CORE_PEER_FILESYSTEMPATH="$data/production" \
    CORE_LEDGER_SNAPSHOTS_ROOTDIR="$data/snapshots" \
    CORE_OPERATIONS_LISTENADDRESS="127.0.0.1:$(peer_ops_port "$n")" \
    CORE_METRICS_PROVIDER=prometheus \
    CORE_CHAINCODE_EXECUTETIMEOUT=300s \
    CORE_CHAINCODE_EXTERNALBUILDERS="[{\"name\": \"reciprocal-ccaas\", \"path\": \"$network_dir/builders/ccaas\"}]" \
    -- node start
}

start_nodes() {
  info "Starting the orderer and the peers"
  if [ "$runtime" = native ]; then
    start_orderer_native
    start_peer_native 1
    start_peer_native 2
    wait_for_port orderer "$ORDERER_PORT" "$logs/orderer.log"
    wait_for_port orderer "$ORDERER_ADMIN_PORT" "$logs/orderer.log"
    wait_for_port peer0.org1 "$PEER0_ORG1_PORT" "$logs/peer0.org1.log"
    wait_for_port peer0.org2 "$PEER0_ORG2_PORT" "$logs/peer0.org2.log"
  else
    step "compose up (orderer and peers)" "$logs/compose.log" compose up -d \
      orderer.example.com peer0.org1.example.com peer0.org2.example.com
    wait_for_port orderer.example.com "$ORDERER_PORT" "$logs/compose.log"
    wait_for_port orderer.example.com "$ORDERER_ADMIN_PORT" "$logs/compose.log"
    wait_for_port peer0.org1.example.com "$PEER0_ORG1_PORT" "$logs/compose.log"
    wait_for_port peer0.org2.example.com "$PEER0_ORG2_PORT" "$logs/compose.log"
  fi
}

# Every host port `up` needs must be free, except those of our own nodes that already run.
check_up_ports() {
  # PORT:PROCESS:what
  local entries=("$ORDERER_PORT:orderer:orderer" "$ORDERER_ADMIN_PORT:orderer:orderer admin"
    "$ORDERER_OPS_PORT:orderer:orderer operations" "$PEER0_ORG1_PORT:peer0.org1:peer0.org1"
    "$PEER0_ORG1_OPS_PORT:peer0.org1:peer0.org1 operations" "$PEER0_ORG2_PORT:peer0.org2:peer0.org2"
    "$PEER0_ORG2_OPS_PORT:peer0.org2:peer0.org2 operations")
  if [ "$runtime" = native ]; then
    entries+=("$PEER0_ORG1_CC_PORT:peer0.org1:peer0.org1 chaincode listener"
      "$PEER0_ORG2_CC_PORT:peer0.org2:peer0.org2 chaincode listener")
  fi
  if [ "$identities" = ca ]; then
    entries+=("$CA_ORG1_PORT:ca-org1:ca-org1" "$CA_ORG1_OPS_PORT:ca-org1:ca-org1 operations"
      "$CA_ORG2_PORT:ca-org2:ca-org2" "$CA_ORG2_OPS_PORT:ca-org2:ca-org2 operations"
      "$CA_ORDERER_PORT:ca-ordererOrg:ca-orderer" "$CA_ORDERER_OPS_PORT:ca-ordererOrg:ca-orderer operations")
  fi
  if [ "$runtime" != native ] &&
    [ -n "$("$runtime" ps -q --filter label=service=reciprocal-clubs-fabric 2>/dev/null)" ]; then
    return 0 # our containers hold the ports
  fi
  local entry process check=()
  for entry in "${entries[@]}"; do
    process=${entry#*:}
    process=${process%%:*}
    if [ "$runtime" != native ] || ! process_running "$process"; then
      check+=("${entry%%:*} ${entry#*:*:}")
    fi
  done
  require_free_ports "${check[@]}"
}

cmd_up() {
  [ ${#command_args[@]} -eq 0 ] || usage_error "up takes no arguments: ${command_args[*]}"
  set_paths
  load_recorded
  default_runtime
  local wanted
  if [ "$runtime" = native ]; then
    # shellcheck disable=SC2207 # single words, deduplicated
    wanted=($( { cli_bins; daemon_bins; } | tr ' ' '\n' | awk 'NF && !seen[$0]++'))
    require_bins "${wanted[@]}"
    require_cfg core.yaml orderer.yaml
  else
    # shellcheck disable=SC2207
    wanted=($(cli_bins))
    require_bins "${wanted[@]}"
    require_cfg core.yaml
    require_engine
  fi
  if [ -d "$state" ] && [ ! -f "$state/$STATE_MARKER" ] && [ -n "$(ls -A "$state")" ]; then
    die "$state is not empty and does not hold a network of this script: choose another --state-dir"
  fi
  mkdir -p "$state" "$logs" "$pids" "$artifacts" || die "cannot create the state directory $state"
  touch "$state/$STATE_MARKER"
  check_up_ports
  echo "$runtime" >"$state/runtime"
  echo "$identities" >"$state/identities"

  info "Bringing up the Reciprocal Clubs Fabric network ($runtime, identities from $identities) in $state"
  issue_identities
  start_nodes
  info ""
  info "Network up. Next: '$prog createChannel', then '$prog deployCC'."
  info "Peer CLI and clubs CLI environment: eval \"\$($prog env --org 1)\""
}

# ---------------------------------------------------------------------------------------------------------
# Peer CLI as an org admin

# with_org N CMD...: runs CMD with the peer CLI environment of org N's admin.
with_org() {
  local n=$1
  shift
  FABRIC_CFG_PATH=$fabric_cfg \
    CORE_PEER_TLS_ENABLED=true \
    CORE_PEER_LOCALMSPID="Org${n}MSP" \
    CORE_PEER_MSPCONFIGPATH="$(org_admin_msp "$n")" \
    CORE_PEER_ADDRESS="localhost:$(peer_port "$n")" \
    CORE_PEER_TLS_ROOTCERT_FILE="$(org_tls_ca "$n")" \
    "$@"
}

orderer_flags() {
  orderer_args=(-o "localhost:$ORDERER_PORT" --ordererTLSHostnameOverride orderer.example.com
    --tls --cafile "$orderer_ca")
}

require_network() {
  set_paths
  load_recorded
  if [ ! -f "$state/runtime" ] || [ ! -f "$orgs/.complete" ]; then
    die "no network in $state: run '$prog up' first"
  fi
  mkdir -p "$logs" "$pids" "$artifacts"
  orderer_flags
}

# ---------------------------------------------------------------------------------------------------------
# createChannel

# The channel configuration for this runtime: natively every node is 127.0.0.1 and its host port. Each
# line is rewritten at most once (`t` ends the script for a line once a substitution was made), so a
# shifted port can never be shifted again by a later rule.
render_configtx() {
  local out=$state/configtx/configtx.yaml
  mkdir -p "$state/configtx"
  if [ "$runtime" = native ]; then
    sed -e "s/orderer\.example\.com:7050$/127.0.0.1:$ORDERER_PORT/" -e t \
      -e "s/^\(  *- Host: \)orderer\.example\.com$/\1127.0.0.1/" -e t \
      -e "s/^\(  *- Host: \)peer0\.org[12]\.example\.com$/\1127.0.0.1/" -e t \
      -e "s/^\(  *Port: \)7050$/\1$ORDERER_PORT/" -e t \
      -e "s/^\(  *Port: \)7051$/\1$PEER0_ORG1_PORT/" -e t \
      -e "s/^\(  *Port: \)9051$/\1$PEER0_ORG2_PORT/" \
      "$network_dir/configtx.yaml" >"$out"
  else
    cp "$network_dir/configtx.yaml" "$out"
  fi
}

anchor_host() { if [ "$runtime" = native ]; then echo 127.0.0.1; else echo "peer0.org$1.example.com"; fi; }
anchor_port() { if [ "$runtime" = native ]; then peer_port "$1"; else peer_internal_port "$1"; fi; }

# Adds org N's anchor peer to the channel configuration unless it is there already (it is when the
# genesis block came from our configtx.yaml): fetch the config block, edit its JSON, compute the update
# with configtxlator, wrap it in an envelope and submit it signed by the org's admin.
ensure_anchor_peer() {
  local n=$1 msp="Org${1}MSP" host port work log=$logs/channel.log
  host=$(anchor_host "$n")
  port=$(anchor_port "$n")
  work=$artifacts/anchor-org$n
  mkdir -p "$work"
  retry 5 2 "$log" with_org "$n" peer channel fetch config "$work/config_block.pb" -c "$CHANNEL" \
    "${orderer_args[@]}" || { info "$prog: failed: fetch the configuration of $CHANNEL"; show_log_tail "$log"; exit 1; }
  step "decode the config block" "$log" configtxlator proto_decode --input "$work/config_block.pb" \
    --type common.Block --output "$work/config_block.json"
  local status
  status=$(python3 - "$work" "$msp" "$host" "$port" <<'PY'
import json, sys
work, msp, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = json.load(open(f"{work}/config_block.json"))["data"]["data"][0]["payload"]["data"]["config"]
json.dump(config, open(f"{work}/config.json", "w"))
values = config["channel_group"]["groups"]["Application"]["groups"][msp]["values"]
anchors = values.get("AnchorPeers", {}).get("value", {}).get("anchor_peers", [])
if {"host": host, "port": port} in anchors:
    print("present")
    sys.exit(0)
entry = values.setdefault("AnchorPeers", {"mod_policy": "Admins", "value": {"anchor_peers": []}, "version": "0"})
entry["value"].setdefault("anchor_peers", []).append({"host": host, "port": port})
json.dump(config, open(f"{work}/modified_config.json", "w"))
print("missing")
PY
  ) || { info "$prog: cannot read the channel configuration in $work/config_block.json"; exit 1; }
  if [ "$status" = present ]; then
    info "  anchor peer $host:$port of $msp is in the channel configuration"
    return
  fi
  step "encode the current config" "$log" configtxlator proto_encode --input "$work/config.json" \
    --type common.Config --output "$work/config.pb"
  step "encode the config with the anchor peer" "$log" configtxlator proto_encode \
    --input "$work/modified_config.json" --type common.Config --output "$work/modified_config.pb"
  step "compute the config update" "$log" configtxlator compute_update --channel_id "$CHANNEL" \
    --original "$work/config.pb" --updated "$work/modified_config.pb" --output "$work/update.pb"
  step "decode the config update" "$log" configtxlator proto_decode --input "$work/update.pb" \
    --type common.ConfigUpdate --output "$work/update.json"
  python3 - "$work" "$CHANNEL" <<'PY'
import json, sys
work, channel = sys.argv[1], sys.argv[2]
update = json.load(open(f"{work}/update.json"))
# HeaderType CONFIG_UPDATE = 2
envelope = {"payload": {"header": {"channel_header": {"channel_id": channel, "type": 2}},
                        "data": {"config_update": update}}}
json.dump(envelope, open(f"{work}/update_envelope.json", "w"))
PY
  step "encode the update envelope" "$log" configtxlator proto_encode --input "$work/update_envelope.json" \
    --type common.Envelope --output "$work/anchors.tx"
  step "set anchor peer $host:$port for $msp" "$log" with_org "$n" peer channel update \
    -f "$work/anchors.tx" -c "$CHANNEL" "${orderer_args[@]}"
}

# metric_value PORT METRIC: the value of METRIC (its name and labels as the exposition writes them) on the
# operations endpoint at 127.0.0.1:PORT, as a whole number, 0 when absent; exits 2 when unreadable.
metric_value() {
  python3 - "http://127.0.0.1:$1/metrics" "$2" <<'PY'
import sys, urllib.request
try:
    text = urllib.request.urlopen(sys.argv[1], timeout=2).read().decode()
except Exception:
    sys.exit(2)
prefix = sys.argv[2] + " "
values = [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]
print(int(float(values[0])) if values else 0)
PY
}

# await_metric WHO PORT METRIC WAITING READY FAILURE: waits until METRIC on WHO's operations endpoint is
# at least 1, saying WAITING first and READY once it is; fails with FAILURE after the timeout. Does not
# wait when the endpoint cannot be read.
await_metric() {
  local who=$1 port=$2 metric=$3 waiting=$4 ready=$5 failure=$6 value waited
  local timeout=${FABRIC_NETWORK_READY_TIMEOUT:-90}
  [[ "$timeout" =~ ^[0-9]+$ ]] || die "FABRIC_NETWORK_READY_TIMEOUT must be a number of seconds, not '$timeout'"
  for ((waited = 0; ; waited++)); do
    if ! value=$(metric_value "$port" "$metric"); then
      info "  $who's metrics (127.0.0.1:$port) cannot be read; not waiting until $ready"
      return 0
    fi
    if [ "$value" -ge 1 ]; then
      [ "$waited" -eq 0 ] || info "  $ready (after ${waited}s)"
      return 0
    fi
    [ "$waited" -lt "$timeout" ] || die "$failure after ${timeout}s (see the logs in $logs)"
    [ "$waited" -gt 0 ] || info "  $waiting"
    sleep 1
  done
}

# After a (re)start the network takes a few seconds before a transaction can go through: the orderer
# must elect its raft leader (about 5 s after a restart), and the default endorsement policy needs both
# orgs' peers, which each peer's gateway finds through gossip. When both peers start together, a peer's
# first probe of the other org's anchor peer can fail (Fabric sends it before it has installed the
# channel's TLS roots) and gossip retries only after its reconnect interval; until then every submit
# fails with "no combination of peers can be derived which satisfy the endorsement policy".
wait_until_ready() {
  await_metric orderer "$ORDERER_OPS_PORT" "consensus_etcdraft_is_leader{channel=\"$CHANNEL\"}" \
    "waiting for the orderer to elect the raft leader of $CHANNEL" "the orderer leads $CHANNEL" \
    "the orderer has no raft leader for $CHANNEL, so it orders no transaction,"
  local n
  for n in 1 2; do
    await_metric "peer0.org$n" "$(peer_ops_port "$n")" "gossip_membership_total_peers_known{channel=\"$CHANNEL\"}" \
      "waiting for peer0.org$n to see the other org's peer through gossip" \
      "peer0.org$n sees the other org's peer through gossip" \
      "peer0.org$n sees no other peer of $CHANNEL through gossip, so its gateway cannot collect both orgs' endorsements,"
  done
}

cmd_create_channel() {
  [ ${#command_args[@]} -eq 0 ] || usage_error "createChannel takes no arguments: ${command_args[*]}"
  require_network
  require_bins configtxgen osnadmin peer configtxlator
  require_cfg core.yaml
  require_python
  local block=$artifacts/$CHANNEL.block log=$logs/channel.log
  info "Creating channel $CHANNEL"
  render_configtx
  if [ ! -s "$block" ]; then
    step "configtxgen: genesis block of $CHANNEL (profile ReciprocalChannel)" "$log" \
      configtxgen -configPath "$state/configtx" -profile ReciprocalChannel -channelID "$CHANNEL" \
      -outputBlock "$block"
  fi

  local admin=(-o "localhost:$ORDERER_ADMIN_PORT" --ca-file "$orderer_ca"
    --client-cert "$orderer_node/tls/server.crt" --client-key "$orderer_node/tls/server.key")
  # osnadmin exits 0 whatever the HTTP status, so the status line decides: 200 on list = already a
  # member, 201 on join = joined. A container's published port answers before the orderer does: retry.
  local attempt answer joined=false
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    answer=$(osnadmin channel list --channelID "$CHANNEL" "${admin[@]}" 2>&1) || true
    printf '\n$ osnadmin channel list --channelID %s\n%s\n' "$CHANNEL" "$answer" >>"$log"
    if printf '%s\n' "$answer" | grep -q '^Status: 200'; then
      info "  the orderer is a member of $CHANNEL"
      joined=true
      break
    fi
    answer=$(osnadmin channel join --channelID "$CHANNEL" --config-block "$block" "${admin[@]}" 2>&1) || true
    printf '\n$ osnadmin channel join --channelID %s --config-block %s\n%s\n' "$CHANNEL" "$block" "$answer" >>"$log"
    if printf '%s\n' "$answer" | grep -q '^Status: 201'; then
      info "  orderer joined $CHANNEL"
      joined=true
      break
    fi
    [ "$attempt" -lt 10 ] && sleep 2
  done
  if [ "$joined" != true ]; then
    info "$prog: failed: osnadmin channel join (orderer admin endpoint localhost:$ORDERER_ADMIN_PORT)"
    show_log_tail "$log"
    exit 1
  fi

  local n
  for n in 1 2; do
    if with_org "$n" peer channel list 2>/dev/null | grep -qx "$CHANNEL"; then
      info "  peer0.org$n is already in $CHANNEL"
      continue
    fi
    # The orderer may still be electing its raft leader; joining is idempotent until it succeeds.
    if ! retry 10 2 "$log" with_org "$n" peer channel join -b "$block"; then
      info "$prog: failed: peer0.org$n joining $CHANNEL"
      show_log_tail "$log"
      exit 1
    fi
    info "  peer0.org$n joined $CHANNEL"
  done
  for n in 1 2; do
    ensure_anchor_peer "$n"
  done
  wait_until_ready
  if [ "${1:-}" = --for-deploy ]; then
    info "Channel $CHANNEL is ready."
  else
    info "Channel $CHANNEL is ready. Next: '$prog deployCC'."
  fi
}

# ---------------------------------------------------------------------------------------------------------
# deployCC

chaincode_binary() {
  local binary=$1
  if [ -n "$binary" ]; then
    if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then die "--binary $binary is not an executable file"; fi
    (cd "$(dirname "$binary")" && echo "$(pwd)/$(basename "$binary")")
    return
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo is not installed; build reciprocal-chaincode elsewhere and pass --binary FILE"
  info "  cargo build --release -p reciprocal-chaincode"
  (cd "$repo" && cargo build --quiet --release -p reciprocal-chaincode) >>"$logs/deploy.log" 2>&1 ||
    { info "$prog: failed: cargo build --release -p reciprocal-chaincode"; show_log_tail "$logs/deploy.log"; exit 1; }
  local target=${CARGO_TARGET_DIR:-$repo/target}
  echo "$target/release/reciprocal-chaincode"
}

# committed_sequence N: the sequence of the chaincode definition committed as org N's peer sees it (0 when
# none is).
committed_sequence() {
  # The answer is on stdout; stderr holds the error, and with Fabric 3 the CLI's gRPC log lines too.
  local out err=$logs/querycommitted.stderr
  if out=$(with_org "$1" peer lifecycle chaincode querycommitted --channelID "$CHANNEL" --name "$CC_NAME" \
    --output json 2>"$err"); then
    python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("sequence", 0))' "$out"
  elif grep -Eq 'namespace .* is not defined|404' "$err"; then
    echo 0
  else
    printf '\n$ peer lifecycle chaincode querycommitted\n%s\n' "$out$(cat "$err")" >>"$logs/deploy.log"
    info "$prog: failed: peer lifecycle chaincode querycommitted"
    show_log_tail "$logs/deploy.log"
    exit 1
  fi
}

# approved N SEQUENCE PACKAGE_ID: org N approved this package at this sequence.
approved() {
  with_org "$1" peer lifecycle chaincode queryapproved --channelID "$CHANNEL" --name "$CC_NAME" \
    --sequence "$2" --output json 2>/dev/null | grep -qF "\"$3\""
}

# issue_chaincode_tls HOST: a TLS server certificate for the chaincode from Org1's CA (tls profile) naming
# HOST, the host of the address in connection.json: the peer verifies the certificate against that host
# (the ccaas builders drop "domain"). Kept in <state>/chaincode/tls and reused while it names HOST.
issue_chaincode_tls() {
  local host=$1 dir=$state/chaincode/tls log=$logs/deploy.log
  if [ -s "$dir/server.crt" ] && [ "$(cat "$dir/host" 2>/dev/null)" = "$host" ]; then
    return 0
  fi
  [ "$identities" = ca ] || die "deployCC --tls needs the Fabric CA identities of 'up --ca': cryptogen issues no chaincode certificate"
  require_bins fabric-ca-client
  port_busy "$CA_ORG1_PORT" || die "ca-org1 is not listening on localhost:$CA_ORG1_PORT: run '$prog up' first"
  local ca_cert=$state/fabric-ca/org1/ca-cert.pem client_home=$state/fabric-ca-clients/org1 name secret
  local ca_flags=(--caname ca-org1 --tls.certfiles "$ca_cert")
  # A fresh enrollment id each time: a registered id cannot be registered again for another host.
  name=reciprocal-chaincode-$(random_secret | cut -c1-8)
  secret=$(random_secret)
  step "register $name (TLS server identity of the chaincode)" "$log" fabric-ca-client register \
    -u "https://localhost:$CA_ORG1_PORT" -H "$client_home" "${ca_flags[@]}" \
    --id.name "$name" --id.secret "$secret" --id.type client --id.affiliation org1.nodes
  rm -rf "$dir"
  mkdir -p "$dir"
  step "enroll the chaincode's TLS certificate for $host" "$log" fabric-ca-client enroll \
    -u "https://$name:$secret@localhost:$CA_ORG1_PORT" -H "$client_home" -M "$dir/enrollment" \
    --enrollment.profile tls --csr.hosts "$host" --csr.hosts localhost "${ca_flags[@]}"
  cp "$dir"/enrollment/signcerts/* "$dir/server.crt"
  cp "$dir"/enrollment/keystore/* "$dir/server.key"
  cp "$dir"/enrollment/tlscacerts/* "$dir/ca.crt"
  echo "$host" >"$dir/host"
}

# start_chaincode PACKAGE_ID BINARY TLS(true|false)
start_chaincode() {
  local package_id=$1 binary=$2 tls=$3 log=$logs/deploy.log tls_dir=$state/chaincode/tls
  if [ "$runtime" = native ]; then
    stop_process chaincode
    require_free_ports "$CHAINCODE_PORT chaincode server (scripts/down.sh stops the dev ledger's)"
    local tls_env=(CHAINCODE_TLS_DISABLED=true)
    if [ "$tls" = true ]; then
      tls_env=(CHAINCODE_TLS_DISABLED=false CHAINCODE_TLS_CERT="$tls_dir/server.crt" CHAINCODE_TLS_KEY="$tls_dir/server.key")
    fi
    start_process chaincode "$binary" \
      CHAINCODE_SERVER_ADDRESS="127.0.0.1:$CHAINCODE_PORT" \
      CHAINCODE_ID="$package_id" \
      "${tls_env[@]}" \
      --
    wait_for_port chaincode "$CHAINCODE_PORT" "$logs/chaincode.log"
  else
    local context=$state/chaincode/image
    rm -rf "$context"
    mkdir -p "$context"
    cp "$binary" "$context/reciprocal-chaincode"
    step "build image reciprocal-chaincode:local" "$log" "$runtime" build -t reciprocal-chaincode:local \
      -f "$network_dir/chaincode.Dockerfile" "$context"
    export CHAINCODE_ID=$package_id CHAINCODE_TLS_DISABLED=true CHAINCODE_TLS_CERT_PEM='' CHAINCODE_TLS_KEY_PEM=''
    if [ "$tls" = true ]; then
      # As PEM text in the environment: the container's user cannot read the host user's key file.
      CHAINCODE_TLS_DISABLED=false
      CHAINCODE_TLS_CERT_PEM=$(cat "$tls_dir/server.crt")
      CHAINCODE_TLS_KEY_PEM=$(cat "$tls_dir/server.key")
    fi
    step "compose up $CHAINCODE_SERVICE (CHAINCODE_ID=$package_id)" "$log" compose up -d --force-recreate \
      "$CHAINCODE_SERVICE"
  fi
}

cmd_deploy_cc() {
  local binary='' version=1.0 sequence='' tls=false
  while [ ${#command_args[@]} -gt 0 ]; do
    case "${command_args[0]}" in
      --tls) tls=true; command_args=("${command_args[@]:1}") ;;
      --binary | --version | --sequence)
        [ ${#command_args[@]} -ge 2 ] || usage_error "${command_args[0]} needs a value"
        case "${command_args[0]}" in
          --binary) binary=${command_args[1]} ;;
          --version) version=${command_args[1]} ;;
          --sequence) sequence=${command_args[1]} ;;
        esac
        command_args=("${command_args[@]:2}")
        ;;
      *) usage_error "unknown deployCC argument ${command_args[0]}" ;;
    esac
  done
  [[ "$version" =~ ^[[:alnum:]][[:alnum:]_.+-]*$ ]] || usage_error "--version '$version' must be usable in a package label"
  [ -z "$sequence" ] || [[ "$sequence" =~ ^[1-9][0-9]*$ ]] || usage_error "--sequence must be a positive number"
  require_network
  require_bins peer
  require_cfg core.yaml
  require_python
  if [ "$runtime" != native ]; then require_engine; fi
  # The definition is approved and committed on the channel: create it first if `up` was all so far.
  if ! with_org 1 peer channel list 2>/dev/null | grep -qx "$CHANNEL"; then
    info "peer0.org1 is in no channel $CHANNEL yet: creating it first"
    cmd_create_channel --for-deploy
  fi
  local log=$logs/deploy.log package=$state/chaincode/$CC_NAME.tar.gz label=${CC_NAME}_$version address
  mkdir -p "$state/chaincode"
  info "Deploying chaincode $CC_NAME $version to channel $CHANNEL"

  binary=$(chaincode_binary "$binary")
  [ -x "$binary" ] || die "no chaincode binary at $binary"
  # Where the peer dials the chaincode, from its own network namespace.
  if [ "$runtime" = native ]; then address=127.0.0.1:$CHAINCODE_PORT; else address=$CHAINCODE_SERVICE:7052; fi
  local package_args=(--label "$label" --address "$address" --output "$package")
  if [ "$tls" = true ]; then
    issue_chaincode_tls "${address%:*}"
    package_args+=(--tls-root-cert "$state/chaincode/tls/ca.crt")
  fi
  local package_id
  package_id=$("$repo/scripts/package-chaincode.sh" "${package_args[@]}" 2>>"$log") ||
    { info "$prog: failed: scripts/package-chaincode.sh"; show_log_tail "$log"; exit 1; }
  info "  package $package, id $package_id (chaincode at $address)"
  local peer_id
  peer_id=$(with_org 1 peer lifecycle chaincode calculatepackageid "$package" 2>>"$log") ||
    { info "$prog: failed: peer lifecycle chaincode calculatepackageid"; show_log_tail "$log"; exit 1; }
  [ "$peer_id" = "$package_id" ] || die "the peer computes package id $peer_id, scripts/package-chaincode.sh printed $package_id"
  echo "$package_id" >"$state/chaincode/package-id"

  local n
  for n in 1 2; do
    if with_org "$n" peer lifecycle chaincode queryinstalled --output json 2>/dev/null | grep -qF "\"$package_id\""; then
      info "  already installed on peer0.org$n"
    else
      step "install on peer0.org$n" "$log" with_org "$n" peer lifecycle chaincode install "$package"
    fi
  done

  local committed
  committed=$(committed_sequence 1)
  if [ -z "$sequence" ]; then
    if [ "$committed" -gt 0 ] && approved 1 "$committed" "$package_id" && approved 2 "$committed" "$package_id"; then
      sequence=$committed
    else
      sequence=$((committed + 1))
    fi
  fi
  local definition=(--channelID "$CHANNEL" --name "$CC_NAME" --version "$version" --sequence "$sequence")
  if [ "$sequence" -le "$committed" ]; then
    info "  definition sequence $sequence with this package is already committed"
  else
    for n in 1 2; do
      if approved "$n" "$sequence" "$package_id"; then
        info "  Org${n}MSP already approved sequence $sequence"
      else
        step "approve for Org${n}MSP (sequence $sequence)" "$log" with_org "$n" peer lifecycle chaincode \
          approveformyorg "${definition[@]}" --package-id "$package_id" "${orderer_args[@]}"
      fi
    done
    local readiness=
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      readiness=$(with_org 1 peer lifecycle chaincode checkcommitreadiness "${definition[@]}" --output json \
        2>>"$log") || true
      if python3 -c 'import json,sys; a=json.loads(sys.argv[1])["approvals"]; sys.exit(0 if a.get("Org1MSP") and a.get("Org2MSP") else 1)' \
        "$readiness" 2>/dev/null; then
        break
      fi
      readiness=
      sleep 2
    done
    [ -n "$readiness" ] || die "checkcommitreadiness: the definition is not approved by both Org1MSP and Org2MSP (see $log)"
    info "  both orgs approved; committing"
    step "commit the definition (endorsed by peer0.org1 and peer0.org2)" "$log" with_org 1 \
      peer lifecycle chaincode commit "${definition[@]}" "${orderer_args[@]}" \
      --peerAddresses "localhost:$PEER0_ORG1_PORT" --tlsRootCertFiles "$(org_tls_ca 1)" \
      --peerAddresses "localhost:$PEER0_ORG2_PORT" --tlsRootCertFiles "$(org_tls_ca 2)"
  fi
  # Each peer must have committed this sequence before it is asked to run the chaincode.
  local seen
  for n in 1 2; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      seen=$(committed_sequence "$n")
      [ "$seen" -ge "$sequence" ] && break
      sleep 2
    done
    [ "$seen" -ge "$sequence" ] || die "peer0.org$n still shows sequence $seen of $CC_NAME, not $sequence (see $log)"
  done
  info "  committed: $CC_NAME version $version, sequence $sequence"

  start_chaincode "$package_id" "$binary" "$tls"
  local query='{"Args":["org.hyperledger.fabric:GetMetadata"]}'
  for n in 1 2; do
    if ! retry 15 2 "$log" with_org "$n" peer chaincode query -C "$CHANNEL" -n "$CC_NAME" -c "$query"; then
      info "$prog: failed: the chaincode does not answer GetMetadata through peer0.org$n"
      show_log_tail "$log"
      if [ "$runtime" = native ]; then show_log_tail "$logs/chaincode.log"; fi
      exit 1
    fi
    info "  peer0.org$n: GetMetadata answered"
  done
  wait_until_ready
  info "Chaincode $CC_NAME is deployed (package id $package_id$([ "$tls" = true ] && echo ', TLS'))."
}

# ---------------------------------------------------------------------------------------------------------
# down, status, env

cmd_down() {
  local keep=false arg
  for arg in ${command_args[@]+"${command_args[@]}"}; do
    case "$arg" in
      --keep) keep=true ;;
      *) usage_error "unknown down argument $arg" ;;
    esac
  done
  set_paths
  load_recorded
  runtime=${runtime:-native}
  logs=$state/logs
  info "Stopping the Reciprocal Clubs Fabric network ($runtime) in $state"
  # Native processes first, whatever the runtime: their pid files are the record of what was started.
  # Clients before servers: chaincode, peers, orderer, then the CAs and anything else recorded.
  local file name
  for name in chaincode peer0.org1 peer0.org2 orderer; do
    stop_process "$name"
  done
  if [ -d "$pids" ]; then
    for file in "$pids"/*.pid; do
      [ -e "$file" ] || continue
      name=$(basename "$file" .pid)
      stop_process "$name"
    done
  fi
  if [ "$runtime" != native ] && ! command -v "$runtime" >/dev/null 2>&1; then
    info "$prog: $runtime is not installed, so its containers cannot be removed from here"
  elif [ "$runtime" != native ]; then
    export CHAINCODE_ID=${CHAINCODE_ID:-none}
    local volumes=(--volumes)
    if [ "$keep" = true ]; then volumes=(); fi
    if ! compose down ${volumes[@]+"${volumes[@]}"} >>"$state/compose-down.log" 2>&1; then
      info "$prog: failed: compose down"
      show_log_tail "$state/compose-down.log"
      exit 1
    fi
    info "  containers removed${volumes[*]:+ (with their ledger volumes)}"
  fi
  if [ "$keep" = true ]; then
    info "Kept $state (identities, ledgers, logs); '$prog up' resumes."
    return
  fi
  if [ -d "$state" ] && [ ! -f "$state/$STATE_MARKER" ] && [ -n "$(ls -A "$state")" ]; then
    die "refusing to delete $state: it does not hold a network of this script ($STATE_MARKER is missing)"
  fi
  if ! rm -rf "$state" 2>/dev/null; then
    # Files the CA containers wrote belong to their root user.
    if [ "$runtime" != native ] && command -v "$runtime" >/dev/null 2>&1; then
      "$runtime" run --rm -v "$state:/state" --entrypoint sh "hyperledger/fabric-ca:${FABRIC_CA_VERSION:-1.5}" \
        -c 'rm -rf /state/* /state/.[!.]*' >/dev/null 2>&1 || true
    fi
    rm -rf "$state" || die "cannot remove $state"
  fi
  info "Removed $state"
}

cmd_status() {
  [ ${#command_args[@]} -eq 0 ] || usage_error "status takes no arguments: ${command_args[*]}"
  set_paths
  load_recorded
  if [ ! -f "$state/runtime" ]; then
    echo "No network in $state (run '$prog up')."
    return
  fi
  echo "Network state: $state"
  echo "Runtime: $runtime; identities: $identities"
  if [ "$runtime" = native ]; then
    local entry name port
    for entry in ca-org1:$CA_ORG1_PORT ca-org2:$CA_ORG2_PORT ca-ordererOrg:$CA_ORDERER_PORT orderer:$ORDERER_PORT \
      peer0.org1:$PEER0_ORG1_PORT peer0.org2:$PEER0_ORG2_PORT chaincode:$CHAINCODE_PORT; do
      name=${entry%%:*}
      port=${entry##*:}
      if process_running "$name"; then
        printf '  %-14s running (pid %s), port %s %s\n' "$name" "$(sed -n 1p "$pids/$name.pid")" "$port" \
          "$(port_busy "$port" && echo listening || echo 'not listening')"
      elif [ -f "$pids/$name.pid" ]; then
        printf '  %-14s exited (see %s)\n' "$name" "$logs/$name.log"
      elif [ "$identities" = ca ] || [ "${name#ca-}" = "$name" ]; then
        printf '  %-14s not running\n' "$name"
      fi
    done
  elif command -v "$runtime" >/dev/null 2>&1; then
    export CHAINCODE_ID=${CHAINCODE_ID:-none}
    compose ps || true
  fi
  if [ -f "$state/chaincode/package-id" ]; then
    echo "Chaincode package id: $(cat "$state/chaincode/package-id")"
  fi
  if [ -n "${FABRIC_BIN:-}" ] && [ -x "$FABRIC_BIN/peer" ] && [ -f "$orgs/.complete" ] &&
    port_busy "$PEER0_ORG1_PORT" && has_cfg core.yaml; then
    require_bins peer
    echo "Channel $CHANNEL as peer0.org1 sees it:"
    # The peer CLI logs its connections at INFO on stderr; only warnings and errors belong here.
    FABRIC_LOGGING_SPEC=WARNING with_org 1 peer channel getinfo -c "$CHANNEL" 2>&1 | sed 's/^/  /' || true
    FABRIC_LOGGING_SPEC=WARNING with_org 1 peer lifecycle chaincode querycommitted --channelID "$CHANNEL" \
      --name "$CC_NAME" 2>&1 | sed 's/^/  /' || true
  fi
}

cmd_env() {
  local n=1 user=
  while [ ${#command_args[@]} -gt 0 ]; do
    case "${command_args[0]}" in
      --org | --user)
        [ ${#command_args[@]} -ge 2 ] || usage_error "${command_args[0]} needs a value"
        if [ "${command_args[0]}" = --org ]; then n=${command_args[1]}; else user=${command_args[1]}; fi
        command_args=("${command_args[@]:2}")
        ;;
      --org=*) n=${command_args[0]#*=}; command_args=("${command_args[@]:1}") ;;
      *) usage_error "unknown env argument ${command_args[0]}" ;;
    esac
  done
  case "$n" in 1 | 2) ;; *) usage_error "--org must be 1 or 2, not '$n'" ;; esac
  set_paths
  load_recorded
  local domain=org$n.example.com cfg
  if [ -z "$user" ]; then
    if [ "$identities" = cryptogen ]; then
      user=User1
    else
      user=$(demo_users "$n")
      user=${user%% *}
      user=${user%%:*}
    fi
  fi
  cfg=$(fabric_cfg_dir)
  if [ -n "$cfg" ] && [ -d "$cfg" ]; then
    cfg=$(cd "$cfg" && pwd)
  else
    cfg=
  fi
  local msp
  msp=$(org_dir "$n")/users/$user@$domain/msp
  [ -d "$msp" ] || info "# $prog: $msp does not exist (yet): is the network up, and is '$user' an identity of Org${n}MSP?"
  exports() {
    while [ $# -gt 0 ]; do
      printf 'export %s=%q\n' "$1" "$2"
      shift 2
    done
  }
  echo "# Org${n}MSP: the peer CLI as the org's admin, the clubs CLI as $user (eval this output)"
  if [ -n "$cfg" ]; then
    exports FABRIC_CFG_PATH "$cfg"
  else
    echo "# FABRIC_CFG_PATH not set: point FABRIC_BIN (or FABRIC_CFG) at a Fabric release first"
  fi
  exports \
    CORE_PEER_TLS_ENABLED true \
    CORE_PEER_LOCALMSPID "Org${n}MSP" \
    CORE_PEER_MSPCONFIGPATH "$(org_admin_msp "$n")" \
    CORE_PEER_ADDRESS "localhost:$(peer_port "$n")" \
    CORE_PEER_TLS_ROOTCERT_FILE "$(org_tls_ca "$n")" \
    ORDERER_ADDRESS "localhost:$ORDERER_PORT" \
    ORDERER_CA "$orderer_ca" \
    CLUBS_PEER_ENDPOINT "127.0.0.1:$(peer_port "$n")" \
    CLUBS_TLS_ROOT_CERT "$(org_tls_ca "$n")" \
    CLUBS_TLS_SERVER_NAME "peer0.$domain" \
    CLUBS_MSP_ID "Org${n}MSP" \
    CLUBS_MSP_DIR "$msp" \
    CLUBS_CHANNEL "$CHANNEL" \
    CLUBS_CHAINCODE "$CC_NAME"
  if [ "$identities" = ca ]; then
    echo "# clubs ca: Org${n}'s Fabric CA, as its registrar (may register and revoke club identities)"
    exports \
      CLUBS_CA_URL "https://localhost:$(ca_port "org$n")" \
      CLUBS_CA_TLS_ROOT_CERT "$state/fabric-ca/org$n/ca-cert.pem" \
      CLUBS_CA_NAME "$(ca_name "org$n")" \
      CLUBS_CA_MSP_DIR "$state/fabric-ca-clients/org$n/msp"
  fi
}

main() {
  parse_args "$@"
  case "$command" in
    up) cmd_up ;;
    createChannel) cmd_create_channel ;;
    deployCC) cmd_deploy_cc ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    help) usage ;;
    "") usage_error "no command given" ;;
    *) usage_error "unknown command '$command'" ;;
  esac
}

main "$@"
