#!/usr/bin/env bash
# Starts the platform on the embedded dev ledger. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

cat >&2 <<'MSG'
scripts/up.sh: the platform is not assembled yet.
Built so far: the Fabric protocol layer (crates/fabric-protos, crates/fabric-sdk), the `clubs` CLI,
the chaincode shim and contract. Not built yet: the embedded dev ledger (devnet), the blockchain
service and the API services; this script will start them once they exist.
Try: cargo run -p clubs-cli -- block verify ../shared/fixtures/fabric/blocks/*.block
MSG
exit 1
