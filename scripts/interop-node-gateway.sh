#!/usr/bin/env bash
# Drives the dev ledger and the Rust chaincode with Hyperledger's official Node gateway client
# (@hyperledger/fabric-gateway): submit, evaluate, chaincode events, error details and block events.
# Skips (exit 0) when Node.js or the npm registry is not available.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "interop-node-gateway: skipped (Node.js and npm are not installed)"
  exit 0
fi
client_dir=tests/interop/node-gateway
if [ ! -d "$client_dir/node_modules/@hyperledger/fabric-gateway" ]; then
  if ! (cd "$client_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null); then
    echo "interop-node-gateway: skipped (npm install failed)"
    exit 0
  fi
fi

cargo build --quiet -p devnet -p reciprocal-chaincode
bin="${CARGO_TARGET_DIR:-target}/debug"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
peer_port=$(free_port)
chaincode_port=$(free_port)

"$bin/devnet" init "$work/net" --clubs club-alpha >/dev/null
CHAINCODE_ID=reciprocal:dev CHAINCODE_SERVER_ADDRESS="127.0.0.1:$chaincode_port" \
  "$bin/reciprocal-chaincode" >"$work/chaincode.log" 2>&1 &
pids+=($!)
"$bin/devnet" start "$work/net" --listen "127.0.0.1:$peer_port" \
  --chaincode-address "127.0.0.1:$chaincode_port" >"$work/devnet.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$peer_port") 2>/dev/null && break
  sleep 0.1
done

if node "$client_dir/interop.mjs" "$work/net" "127.0.0.1:$peer_port"; then
  echo "interop-node-gateway: 1 passed, 0 failed"
else
  echo "--- devnet log"; tail -20 "$work/devnet.log"
  echo "--- chaincode log"; tail -20 "$work/chaincode.log"
  echo "interop-node-gateway: 0 passed, 1 failed"
  exit 1
fi
