//! Compiles `proto/reciprocal/v1` with protox, so no `protoc` binary is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("../../proto");
    let fds = protox::compile(
        [
            "reciprocal/v1/blockchain.proto",
            "reciprocal/v1/common.proto",
            "reciprocal/v1/member.proto",
            "reciprocal/v1/reciprocal.proto",
            "reciprocal/v1/governance.proto",
        ],
        [proto_root.clone()],
    )?;
    println!(
        "cargo:rerun-if-changed={}",
        proto_root.join("reciprocal").display()
    );
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .compile_fds(fds)?;
    Ok(())
}
