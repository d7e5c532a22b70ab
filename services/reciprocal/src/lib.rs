//! The reciprocal service: reciprocal agreements between clubs and the visits members make under them.
//! Writes go through the blockchain service as the caller's club and role and answer after a VALID
//! commit ([`api`]); reads are SQL over the views of the ledger's Postgres mirror ([`mirror`]). The
//! service keeps no database of its own. Members are resolved to their ledger reference by the member
//! service, so no personal data reaches the ledger.

pub mod api;
pub mod input;
pub mod mirror;

use std::future::Future;
use std::net::SocketAddr;

use clap::Parser;
use reciprocal_api::v1::members_client::MembersClient;
use reciprocal_api::v1::reciprocal_server::ReciprocalServer;

use crate::api::ReciprocalApi;

/// The reciprocal service: agreements between clubs and visits under them.
///
/// Every option can also be set from the environment variable shown. The defaults fit one machine
/// running the whole platform (scripts/up.sh).
#[derive(Debug, Clone, Parser)]
#[command(name = "reciprocal-service", version)]
pub struct Config {
    /// HTTP address: /healthz, /readyz and /metrics.
    #[arg(long, env = "RECIPROCAL_HTTP_ADDR", default_value = "127.0.0.1:8083")]
    pub http_addr: SocketAddr,
    /// gRPC address of the reciprocal.v1.Reciprocal API.
    #[arg(long, env = "RECIPROCAL_GRPC_ADDR", default_value = "127.0.0.1:9083")]
    pub grpc_addr: SocketAddr,
    /// The ledger: the blockchain service and the mirror's database.
    #[command(flatten)]
    pub ledger: platform::ledger::LedgerConfig,
    /// gRPC URL of the member service, which resolves members to their ledger references.
    #[arg(long, env = "MEMBER_GRPC_URL", default_value = "http://127.0.0.1:9082")]
    pub member_grpc_url: String,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,
}

/// Runs the service until `shutdown` completes. Install the signal handlers that make `shutdown` before
/// calling, so that a stop requested while the service starts is a graceful one.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let ledger = config.ledger.connect()?;
    let members = MembersClient::new(platform::ledger::channel(&config.member_grpc_url)?);
    let api = ReciprocalApi::new(ledger.clone(), members);

    let metrics = platform::ops::Metrics::new("reciprocal");
    let ready = {
        let api = api.clone();
        platform::ops::readiness(move || {
            let api = api.clone();
            async move { api.ready().await }
        })
    };
    let result = platform::serve::serve(
        "reciprocal service",
        config.grpc_addr,
        tonic::service::Routes::new(ReciprocalServer::new(api)),
        config.http_addr,
        platform::ops::router(metrics.clone(), ready),
        metrics,
        shutdown,
    )
    .await;
    ledger.mirror().close().await;
    result
}
