//! The member service: members' personal data, kept in this service's own Postgres database and never
//! sent to the ledger; their pseudonymous anchors on the ledger (`member_ref` = an HMAC of the member id
//! under a secret only the home club's member service knows, with status and validity); and what a host
//! club's front desk may know of a visitor, judged from the ledger's mirror.
//!
//! [`run`] serves the `reciprocal.v1.Members` gRPC API and `/healthz`, `/readyz`, `/metrics` over HTTP.

pub mod api;
pub mod store;
pub mod validate;
pub mod verify;

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use platform::ops::Metrics;
use reciprocal_api::v1::members_server::MembersServer;

use crate::api::MembersApi;
use crate::store::Store;

/// The member service: registers members of a club, keeps their personal data, writes their anchors to
/// the ledger through the blockchain service, erases personal data on request, and tells a host club's
/// front desk whether a visitor may be admitted.
///
/// Every option can also be set from the environment variable shown.
#[derive(Debug, Clone, Parser)]
#[command(name = "member-service", version)]
pub struct Config {
    /// HTTP address: /healthz, /readyz and /metrics.
    #[arg(long, env = "MEMBER_HTTP_ADDR", default_value = "127.0.0.1:8082")]
    pub http_addr: SocketAddr,
    /// gRPC address of the reciprocal.v1.Members API.
    #[arg(long, env = "MEMBER_GRPC_ADDR", default_value = "127.0.0.1:9082")]
    pub grpc_addr: SocketAddr,
    /// Postgres database of the members and their personal data (created if missing).
    #[arg(
        long,
        env = "MEMBER_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/reciprocal_members"
    )]
    pub database_url: String,
    /// The ledger: the blockchain service and the mirror's database.
    #[command(flatten)]
    pub ledger: platform::ledger::LedgerConfig,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,
}

/// Runs the service until `shutdown` completes: creates and migrates the member database, then serves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    platform::db::ensure_database(&config.database_url).await?;
    let pool = platform::db::connect(&config.database_url, 8).await?;
    sqlx::migrate!()
        .run(&pool)
        .await
        .context("migrating the member database")?;
    let ledger = config.ledger.connect()?;
    let store = Store::new(pool.clone());
    let api = MembersApi::new(store, ledger.clone());

    let metrics = Metrics::new("member");
    let ready = {
        let pool = pool.clone();
        platform::ops::readiness(move || {
            let pool = pool.clone();
            let ledger = ledger.clone();
            async move {
                let members = sqlx::query("SELECT 1").execute(&pool).await.is_ok();
                let mut checks = vec![("database", members)];
                checks.extend(ledger.ready().await);
                checks
            }
        })
    };
    let result = platform::serve::serve(
        "member service",
        config.grpc_addr,
        tonic::service::Routes::new(MembersServer::new(api)),
        config.http_addr,
        platform::ops::router(metrics.clone(), ready),
        metrics,
        shutdown,
    )
    .await;
    pool.close().await;
    result
}
