//! `reciprocal-chaincode`: the reciprocal contract served as a Fabric chaincode-as-a-service.

use std::process::ExitCode;

use chaincode_shim::server::{ENV_HELP, ServerConfig, serve};
use clap::Parser;
use reciprocal_chaincode::ReciprocalContract;
use tracing_subscriber::EnvFilter;

/// Serves the reciprocal clubs contract for Fabric peers to dial (chaincode as a service).
#[derive(Debug, Parser)]
#[command(name = "reciprocal-chaincode", version, after_help = format!(
    "{ENV_HELP}\n  LOG_FORMAT                    json for JSON log lines               [default: text]"
))]
struct Cli {}

#[tokio::main]
async fn main() -> ExitCode {
    Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()));
    if std::env::var("LOG_FORMAT").is_ok_and(|format| format == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let config = match ServerConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "Invalid configuration; see --help");
            return ExitCode::from(64);
        }
    };
    tracing::info!(address = %config.address, chaincode_id = %config.chaincode_id, tls = config.tls.is_some(), "Serving chaincode");
    match serve(config, ReciprocalContract, shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("Stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "Chaincode server failed");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM (what container runtimes send to stop a service).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            // Without a SIGTERM handler, SIGINT still stops the server.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("Shutdown signal received");
}
