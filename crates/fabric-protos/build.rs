//! Compiles `proto/fabric` (and the `google.rpc` status used in gRPC error details) with protox, so no
//! `protoc` binary is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("../../proto");
    let fabric = proto_root.join("fabric");

    let files = [
        "common/common.proto",
        "common/configtx.proto",
        "common/configuration.proto",
        "common/policies.proto",
        "msp/identities.proto",
        "msp/msp_config.proto",
        "msp/msp_principal.proto",
        "peer/chaincode.proto",
        "peer/chaincode_event.proto",
        "peer/chaincode_shim.proto",
        "peer/configuration.proto",
        "peer/events.proto",
        "peer/peer.proto",
        "peer/proposal.proto",
        "peer/proposal_response.proto",
        "peer/transaction.proto",
        "orderer/ab.proto",
        "orderer/configuration.proto",
        "gateway/gateway.proto",
        "ledger/rwset/rwset.proto",
        "ledger/rwset/kvrwset/kv_rwset.proto",
        "ledger/queryresult/kv_query_result.proto",
        "google/rpc/status.proto",
    ];
    let includes = [fabric.clone(), proto_root.clone()];
    let fds = protox::compile(files, includes)?;
    println!("cargo:rerun-if-changed={}", proto_root.display());

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // `protos.Chaincode/Connect` would clash with the generated `connect` constructor; callers build
        // clients from a channel they own instead.
        .build_transport(false)
        .compile_fds(fds)?;
    Ok(())
}
