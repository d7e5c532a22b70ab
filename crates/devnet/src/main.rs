//! `devnet`: the embedded dev ledger's command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use devnet::chaincode_link::ChaincodeLinkConfig;
use devnet::orderer::BatchConfig;
use devnet::{DevnetConfig, init, start};

/// A Fabric-compatible peer and orderer in one process: serves Gateway and Deliver, drives the chaincode
/// as a service, and keeps Fabric-format blocks on disk.
#[derive(Debug, Parser)]
#[command(name = "devnet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a dev network in DIR: Org1 and orderer crypto material (cryptogen layout) and demo club users.
    Init {
        /// The network directory to create.
        dir: PathBuf,
        /// Demo clubs to issue club_admin and front_desk identities for.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "club-alpha,club-beta,club-gamma"
        )]
        clubs: Vec<String>,
    },
    /// Serve the dev network in DIR (created by `devnet init`).
    Start {
        /// The network directory.
        dir: PathBuf,
        /// Address for the Gateway and Deliver services.
        #[arg(long, env = "DEVNET_LISTEN", default_value = "127.0.0.1:7051")]
        listen: SocketAddr,
        /// Address of the chaincode server (chaincode as a service).
        #[arg(
            long,
            env = "DEVNET_CHAINCODE_ADDRESS",
            default_value = "127.0.0.1:7052"
        )]
        chaincode_address: String,
        /// Package id the chaincode must register with.
        #[arg(long, env = "DEVNET_CHAINCODE_ID", default_value = "reciprocal:dev")]
        chaincode_id: String,
        /// Most transactions per block.
        #[arg(long, env = "DEVNET_BATCH_SIZE", default_value_t = 500)]
        batch_size: usize,
        /// Longest wait before a block is cut, in milliseconds.
        #[arg(long, env = "DEVNET_BATCH_TIMEOUT_MS", default_value_t = 10)]
        batch_timeout_ms: u64,
        /// Serve TLS with the peer's certificate (organizations/.../peers/peer0.*/tls).
        #[arg(long, env = "DEVNET_TLS")]
        tls: bool,
        /// Log as JSON lines.
        #[arg(long, env = "LOG_FORMAT_JSON")]
        json_logs: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Init { dir, clubs } => match init(&dir, &clubs) {
            Ok(layout) => {
                println!("Created dev network in {}", dir.display());
                println!(
                    "  channel {}, chaincode {}, MSP {}",
                    layout.settings.channel, layout.settings.chaincode, layout.settings.msp_id
                );
                for user in &layout.settings.users {
                    println!(
                        "  {:<20} {:<14} {}",
                        user.name,
                        user.role,
                        user.msp_dir.display()
                    );
                }
                println!("Start it with: devnet start {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("devnet init: {error}");
                ExitCode::FAILURE
            }
        },
        Command::Start {
            dir,
            listen,
            chaincode_address,
            chaincode_id,
            batch_size,
            batch_timeout_ms,
            tls,
            json_logs,
        } => {
            init_logging(json_logs);
            let config = DevnetConfig {
                listen,
                chaincode: ChaincodeLinkConfig {
                    address: chaincode_address,
                    chaincode_id,
                    ..ChaincodeLinkConfig::default()
                },
                batch: BatchConfig {
                    max_transactions: batch_size.max(1),
                    timeout: Duration::from_millis(batch_timeout_ms),
                },
                tls,
                ..DevnetConfig::new(dir)
            };
            let chaincode_address = config.chaincode.address.clone();
            let mut running = match start(config, None).await {
                Ok(running) => running,
                Err(error) => {
                    eprintln!("devnet start: {error}");
                    return ExitCode::from(64);
                }
            };
            let settings = &running.layout.settings;
            tracing::info!(
                address = %running.address,
                channel = %settings.channel,
                chaincode = %settings.chaincode,
                chaincode_address = %chaincode_address,
                tls,
                "Dev ledger serving Gateway and Deliver"
            );
            println!(
                "devnet: Gateway and Deliver on {}{} (channel {}, chaincode {} dialled at {})",
                if tls { "https://" } else { "" },
                running.address,
                settings.channel,
                settings.chaincode,
                chaincode_address
            );
            println!(
                "devnet: client identities under {}",
                running.layout.org.root.join("users").display()
            );
            tokio::select! {
                result = running.wait() => {
                    if let Err(error) = result {
                        eprintln!("devnet: stopped: {error}");
                        return ExitCode::FAILURE;
                    }
                    ExitCode::SUCCESS
                }
                () = shutdown_signal() => {
                    tracing::info!("Shutting down");
                    running.stop().await;
                    ExitCode::SUCCESS
                }
            }
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
