//! `blockchain-service`: the platform's only Fabric client. See `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use blockchain_service::api::BlockchainApi;
use blockchain_service::audit::Audit;
use blockchain_service::events::{EventPublisher, EventsConfig};
use blockchain_service::http::{HttpState, router};
use blockchain_service::metrics::Metrics;
use blockchain_service::mirror::Mirror;
use blockchain_service::wallet::{Wallet, WalletSource};
use clap::Parser;
use fabric_sdk::gateway::{Timeouts, peer_endpoint};
use reciprocal_api::v1::blockchain_server::BlockchainServer;
use sqlx::postgres::PgPoolOptions;
use std::future::IntoFuture as _;

use tokio::sync::watch;

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
struct Args {
    /// HTTP address: /healthz, /readyz, /metrics and /audit/….
    #[arg(long, env = "BLOCKCHAIN_HTTP_ADDR", default_value = "127.0.0.1:8084")]
    http_addr: SocketAddr,
    /// gRPC address of the reciprocal.v1.Blockchain API.
    #[arg(long, env = "BLOCKCHAIN_GRPC_ADDR", default_value = "127.0.0.1:9084")]
    grpc_addr: SocketAddr,
    /// The peer's Gateway and Deliver endpoint (host:port).
    #[arg(
        long,
        env = "BLOCKCHAIN_PEER_ENDPOINT",
        default_value = "127.0.0.1:7051"
    )]
    peer_endpoint: String,
    /// PEM file of the peer's TLS CA; TLS is used when set.
    #[arg(long, env = "BLOCKCHAIN_TLS_ROOT_CERT")]
    tls_root_cert: Option<PathBuf>,
    /// Name to check in the peer's TLS certificate (e.g. peer0.org1.example.com).
    #[arg(long, env = "BLOCKCHAIN_TLS_SERVER_NAME")]
    tls_server_name: Option<String>,
    /// Channel.
    #[arg(long, env = "BLOCKCHAIN_CHANNEL", default_value = "reciprocal")]
    channel: String,
    /// Chaincode.
    #[arg(long, env = "BLOCKCHAIN_CHAINCODE", default_value = "reciprocal")]
    chaincode: String,
    /// Identities to act as, MSPID=DIR: an MSP folder, or a folder of them (a cryptogen `users/`). Each
    /// identity's club and role come from its certificate's `club` and `role` attributes. Repeat, or
    /// separate with commas.
    #[arg(long, env = "BLOCKCHAIN_WALLET", value_delimiter = ',', default_value = DEFAULT_WALLET)]
    wallet: Vec<WalletSource>,
    /// Postgres database of the mirror (created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/reciprocal"
    )]
    database_url: String,
    /// NATS server for events; empty disables publishing.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// JetStream stream that holds the events.
    #[arg(
        long,
        env = "BLOCKCHAIN_EVENTS_STREAM",
        default_value = "RECIPROCAL_EVENTS"
    )]
    events_stream: String,
    /// Subject prefix of the events.
    #[arg(
        long,
        env = "BLOCKCHAIN_EVENTS_PREFIX",
        default_value = "reciprocal.events"
    )]
    events_prefix: String,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    log_format: String,
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Listens for SIGTERM and SIGINT from now on; the future completes at the first.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Creates the database named in `url` if it does not exist.
async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let Some((server, name)) = url.rsplit_once('/') else {
        return Ok(());
    };
    let name = name.split('?').next().unwrap_or(name);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(());
    }
    let admin = sqlx::PgPool::connect(&format!("{server}/postgres"))
        .await
        .with_context(|| format!("cannot connect to Postgres at {server}"))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&admin)
            .await?;
    if !exists {
        // The name was checked to be letters, digits and underscores.
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await;
        if let Err(error) = created {
            // Another instance may have created it meanwhile.
            tracing::debug!(%error, "CREATE DATABASE");
        }
    }
    admin.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    init_logging(&args.log_format);
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("blockchain-service: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Installed first, so a stop requested while the service starts is a graceful one.
    let shutdown = shutdown_signal()?;
    let wallet = Wallet::load(&args.wallet).context("loading the wallet")?;
    tracing::info!(actors = ?wallet, "Wallet loaded");

    ensure_database(&args.database_url).await?;
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
    );
    let grpc_listener = tokio::net::TcpListener::bind(args.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.grpc_addr))?;
    let http_listener = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    let mut grpc = tokio::spawn(
        tonic::transport::Server::builder()
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
