//! The service as a library: its configuration and [`run`], so tests and tools can start it in process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use fabric_sdk::gateway::{Timeouts, peer_endpoint};
use reciprocal_api::v1::blockchain_server::BlockchainServer;
use sqlx::postgres::PgPoolOptions;
use std::future::IntoFuture as _;
use tokio::sync::watch;

use crate::api::BlockchainApi;
use crate::audit::Audit;
use crate::events::{EventPublisher, EventsConfig};
use crate::http::{HttpState, router};
use crate::metrics::Metrics;
use crate::mirror::Mirror;
use crate::wallet::{Wallet, WalletSource};

const DEFAULT_WALLET: &str =
    "Org1MSP=.state/devnet/organizations/peerOrganizations/org1.example.com/users";

/// The blockchain service: submits and evaluates contract functions for the platform's services as the
/// identity of the caller's club and role, mirrors every block into Postgres, publishes each committed
/// chaincode event to NATS JetStream, and answers audit queries.
///
/// Every option can also be set from the environment variable shown. The defaults run against the
/// embedded dev ledger started by scripts/up.sh.
#[derive(Debug, Parser)]
#[command(name = "blockchain-service", version)]
pub struct Config {
    /// HTTP address: /healthz, /readyz, /metrics and /audit/….
    #[arg(long, env = "BLOCKCHAIN_HTTP_ADDR", default_value = "127.0.0.1:8084")]
    pub http_addr: SocketAddr,
    /// gRPC address of the reciprocal.v1.Blockchain API.
    #[arg(long, env = "BLOCKCHAIN_GRPC_ADDR", default_value = "127.0.0.1:9084")]
    pub grpc_addr: SocketAddr,
    /// The peer's Gateway and Deliver endpoint (host:port).
    #[arg(
        long,
        env = "BLOCKCHAIN_PEER_ENDPOINT",
        default_value = "127.0.0.1:7051"
    )]
    pub peer_endpoint: String,
    /// PEM file of the peer's TLS CA; TLS is used when set.
    #[arg(long, env = "BLOCKCHAIN_TLS_ROOT_CERT")]
    pub tls_root_cert: Option<PathBuf>,
    /// Name to check in the peer's TLS certificate (e.g. peer0.org1.example.com).
    #[arg(long, env = "BLOCKCHAIN_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
    /// Channel.
    #[arg(long, env = "BLOCKCHAIN_CHANNEL", default_value = "reciprocal")]
    pub channel: String,
    /// Chaincode.
    #[arg(long, env = "BLOCKCHAIN_CHAINCODE", default_value = "reciprocal")]
    pub chaincode: String,
    /// Identities to act as, MSPID=DIR: an MSP folder, or a folder of them (a cryptogen `users/`). Each
    /// identity's club and role come from its certificate's `club` and `role` attributes. Repeat, or
    /// separate with commas.
    #[arg(long, env = "BLOCKCHAIN_WALLET", value_delimiter = ',', default_value = DEFAULT_WALLET)]
    pub wallet: Vec<WalletSource>,
    /// Postgres database of the mirror (created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/reciprocal"
    )]
    pub database_url: String,
    /// NATS server for events; empty disables publishing.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// JetStream stream that holds the events.
    #[arg(
        long,
        env = "BLOCKCHAIN_EVENTS_STREAM",
        default_value = "RECIPROCAL_EVENTS"
    )]
    pub events_stream: String,
    /// Subject prefix of the events.
    #[arg(
        long,
        env = "BLOCKCHAIN_EVENTS_PREFIX",
        default_value = "reciprocal.events"
    )]
    pub events_prefix: String,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,
}

/// Runs the service until `shutdown` completes. Install the signal handlers that make `shutdown` before
/// calling, so that a stop requested while the service starts is a graceful one.
pub async fn run(args: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let wallet = Wallet::load(&args.wallet).context("loading the wallet")?;
    tracing::info!(actors = ?wallet, "Wallet loaded");

    platform::db::ensure_database(&args.database_url).await?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&args.database_url)
        .await
        .with_context(|| format!("cannot connect to Postgres at {}", args.database_url))?;
    Mirror::migrate(&pool)
        .await
        .context("migrating the mirror")?;

    let tls_root = match &args.tls_root_cert {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let channel = peer_endpoint(
        &args.peer_endpoint,
        tls_root,
        args.tls_server_name.as_deref(),
    )
    .with_context(|| format!("peer endpoint {:?}", args.peer_endpoint))?
    .connect_lazy();
    let gateways = wallet.gateways(&channel, Timeouts::default());
    let reader = gateways
        .any()
        .cloned()
        .context("the wallet holds no identity to read blocks with")?;

    let metrics = Metrics::new();
    let mirror = Mirror::new(pool.clone(), &args.channel).with_metrics(metrics.clone());
    mirror.next_block().await?;
    let audit = Audit::new(
        pool.clone(),
        &args.channel,
        &args.chaincode,
        Some(reader.clone()),
    );

    let (stop_sender, stop) = watch::channel(false);
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };

    // The block listener: reconnects with backoff until stopped.
    let following = Arc::new(AtomicBool::new(false));
    let listener = {
        let mirror = mirror.clone();
        let network = reader.network(&args.channel);
        let following = following.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                following.store(true, Ordering::Relaxed);
                let result = mirror.follow(&network, stopped(stop.clone())).await;
                following.store(false, Ordering::Relaxed);
                if *stop.borrow() {
                    return;
                }
                match result {
                    Ok(()) => tracing::warn!("The peer ended the block stream; reconnecting"),
                    Err(error) => tracing::warn!(%error, "Block listener failed; reconnecting"),
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped(stop.clone()) => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        })
    };

    let nats = if args.nats_url.is_empty() {
        None
    } else {
        let client = async_nats::connect(&args.nats_url)
            .await
            .with_context(|| format!("cannot connect to NATS at {}", args.nats_url))?;
        Some(client)
    };
    let publisher = match &nats {
        Some(client) => {
            let publisher = EventPublisher::new(
                pool.clone(),
                &args.channel,
                client.clone(),
                EventsConfig {
                    stream: args.events_stream.clone(),
                    subject_prefix: args.events_prefix.clone(),
                    ..EventsConfig::default()
                },
                metrics.clone(),
            )
            .await
            .context("setting up the JetStream stream")?;
            let height = mirror.subscribe();
            let stop = stop.clone();
            Some(tokio::spawn(async move {
                publisher.run(height, stopped(stop)).await;
            }))
        }
        None => None,
    };

    let api = BlockchainApi::new(
        gateways,
        &args.chaincode,
        mirror.clone(),
        audit.clone(),
        metrics.clone(),
    )
    .with_following(following.clone());
    let grpc_listener = tokio::net::TcpListener::bind(args.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.grpc_addr))?;
    let http_listener = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    // The standard gRPC health check answers SERVING until the shutdown begins.
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let mut grpc = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(BlockchainServer::new(api))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                stopped(stop.clone()),
            ),
    );
    let state = HttpState {
        audit,
        metrics,
        pool: pool.clone(),
        nats,
        following,
    };
    let mut http = tokio::spawn(
        axum::serve(http_listener, router(state))
            .with_graceful_shutdown(stopped(stop.clone()))
            .into_future(),
    );
    tracing::info!(http = %args.http_addr, grpc = %args.grpc_addr, peer = %args.peer_endpoint, "Blockchain service started");

    let failure = tokio::select! {
        () = shutdown => None,
        result = &mut grpc => Some(format!("gRPC server stopped: {result:?}")),
        result = &mut http => Some(format!("HTTP server stopped: {result:?}")),
    };
    tracing::info!("Shutting down");
    health
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    let _ = stop_sender.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        let _ = grpc.await;
        let _ = http.await;
        let _ = listener.await;
        if let Some(publisher) = publisher {
            let _ = publisher.await;
        }
    })
    .await;
    if let Some(failure) = failure {
        anyhow::bail!(failure);
    }
    pool.close().await;
    Ok(())
}
