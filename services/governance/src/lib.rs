//! The governance service: the clubs of the network, and the proposals and votes by which the network
//! governs itself. Writes go through the blockchain service as the caller's club and role and answer
//! after a VALID commit ([`api`]); reads are SQL over the views of the ledger's Postgres mirror
//! ([`mirror`]). The service keeps no database of its own.

pub mod api;
pub mod mirror;

use std::future::Future;
use std::net::SocketAddr;

use clap::Parser;
use reciprocal_api::v1::governance_server::GovernanceServer;

use crate::api::GovernanceApi;

/// The governance service: clubs, proposals and votes.
///
/// Every option can also be set from the environment variable shown. The defaults fit one machine
/// running the whole platform (scripts/up.sh).
#[derive(Debug, Clone, Parser)]
#[command(name = "governance-service", version)]
pub struct Config {
    /// HTTP address: /healthz, /readyz and /metrics.
    #[arg(long, env = "GOVERNANCE_HTTP_ADDR", default_value = "127.0.0.1:8087")]
    pub http_addr: SocketAddr,
    /// gRPC address of the reciprocal.v1.Governance API.
    #[arg(long, env = "GOVERNANCE_GRPC_ADDR", default_value = "127.0.0.1:9087")]
    pub grpc_addr: SocketAddr,
    /// The ledger: the blockchain service and the mirror's database.
    #[command(flatten)]
    pub ledger: platform::ledger::LedgerConfig,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,
}

/// Runs the service until `shutdown` completes. Install the signal handlers that make `shutdown` before
/// calling, so that a stop requested while the service starts is a graceful one.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let ledger = config.ledger.connect()?;
    let api = GovernanceApi::new(ledger.clone());

    let metrics = platform::ops::Metrics::new("governance");
    let ready = {
        let ledger = ledger.clone();
        platform::ops::readiness(move || {
            let ledger = ledger.clone();
            async move { ledger.ready().await }
        })
    };
    let result = platform::serve::serve(
        "governance service",
        config.grpc_addr,
        tonic::service::Routes::new(GovernanceServer::new(api)),
        config.http_addr,
        platform::ops::router(metrics.clone(), ready),
        metrics,
        shutdown,
    )
    .await;
    ledger.mirror().close().await;
    result
}
