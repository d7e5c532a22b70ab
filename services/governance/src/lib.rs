//! The governance service: the clubs of the network, and the proposals and votes by which the network
//! governs itself. Writes go through the blockchain service as the caller's club and role and answer
//! after a VALID commit ([`api`]); reads are SQL over the views of the ledger's Postgres mirror
//! ([`mirror`]). The service keeps no database of its own.

pub mod api;
pub mod mirror;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use platform::ledger::Ledger;
use reciprocal_api::v1::governance_server::GovernanceServer;
use sqlx::postgres::PgPoolOptions;

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
    /// Postgres database of the ledger's mirror (the blockchain service's), read only.
    #[arg(
        long,
        env = "MIRROR_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/reciprocal"
    )]
    pub mirror_database_url: String,
    /// Connections to the mirror's database at most.
    #[arg(long, env = "GOVERNANCE_MIRROR_CONNECTIONS", default_value = "4")]
    pub mirror_connections: u32,
    /// gRPC URL of the blockchain service, which writes to the ledger.
    #[arg(
        long,
        env = "BLOCKCHAIN_GRPC_URL",
        default_value = "http://127.0.0.1:9084"
    )]
    pub blockchain_grpc_url: String,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,
}

/// Runs the service until `shutdown` completes. Install the signal handlers that make `shutdown` before
/// calling, so that a stop requested while the service starts is a graceful one.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    // Connected lazily: the service starts while the mirror is still down, and /readyz says so.
    let mirror = PgPoolOptions::new()
        .max_connections(config.mirror_connections.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy(&config.mirror_database_url)
        .with_context(|| format!("invalid mirror URL {:?}", config.mirror_database_url))?;
    let blockchain = platform::ledger::channel(&config.blockchain_grpc_url)?;
    let ledger = Ledger::new(blockchain, mirror.clone());
    let api = GovernanceApi::new(ledger.clone());

    let metrics = platform::ops::Metrics::new("governance");
    let ready: platform::ops::ReadinessCheck = Arc::new(move || {
        let ledger = ledger.clone();
        Box::pin(async move { ledger.ready().await })
    });
    let grpc = platform::serve::bind(config.grpc_addr, "gRPC").await?;
    let http = platform::serve::bind(config.http_addr, "HTTP").await?;
    let result = platform::serve::serve(
        "governance service",
        grpc,
        tonic::service::Routes::new(GovernanceServer::new(api)),
        http,
        platform::ops::router(metrics.clone(), ready),
        metrics,
        shutdown,
    )
    .await;
    mirror.close().await;
    result
}
