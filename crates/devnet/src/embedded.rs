//! A dev network and its chaincode in one process, on ports the OS picks: what tests, benchmarks and
//! examples start (feature `embedded-chaincode`).

use std::path::Path;

use chaincode_shim::chaincode::Chaincode;
use chaincode_shim::server::{ServerConfig, serve_with_listener};
use fabric_sdk::gateway::Gateway;
use fabric_sdk::msp::MspFolder;
use tokio::net::TcpListener;

use crate::chaincode_link::ChaincodeLinkConfig;
use crate::orderer::BatchConfig;
use crate::{DevnetConfig, RunningDevnet, init, start};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Creates a dev network in `dir` (emptied first) with demo identities for `clubs`, serves `chaincode` on a
/// free port in this process, and starts the network on another, cutting blocks with `batch` (the
/// default when `None`). Stopping the runtime stops the chaincode.
pub async fn start_embedded<C: Chaincode>(
    dir: &Path,
    clubs: &[&str],
    chaincode: C,
    batch: Option<BatchConfig>,
) -> Result<RunningDevnet, Failure> {
    let _ = std::fs::remove_dir_all(dir);
    let clubs: Vec<String> = clubs.iter().map(|club| (*club).to_owned()).collect();
    init(dir, &clubs)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(serve_with_listener(
        listener,
        ServerConfig {
            address,
            chaincode_id: "reciprocal:dev".to_owned(),
            tls: None,
        },
        chaincode,
        std::future::pending(),
    ));
    let defaults = DevnetConfig::new(dir.to_owned());
    let config = DevnetConfig {
        chaincode: ChaincodeLinkConfig {
            address: address.to_string(),
            ..ChaincodeLinkConfig::default()
        },
        batch: batch.unwrap_or(defaults.batch),
        ..defaults
    };
    Ok(start(config, Some(TcpListener::bind("127.0.0.1:0").await?)).await?)
}

/// A gateway to `running`, on a connection of its own, as demo user `user` (`networkadmin`,
/// `clubadmin-alpha`, `frontdesk-alpha`, …).
pub async fn gateway_as(running: &RunningDevnet, user: &str) -> Result<Gateway, Failure> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.address))?
        .connect()
        .await?;
    let signing = MspFolder::load(&running.layout.user_msp(user), "Org1MSP")?.signing_identity()?;
    Ok(Gateway::new(
        channel,
        signing.identity().clone(),
        signing.signer(),
    ))
}
