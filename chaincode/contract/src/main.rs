//! `reciprocal-chaincode`: the reciprocal contract served as a Fabric chaincode-as-a-service.

use std::process::ExitCode;

use chaincode_shim::server::{ENV_HELP, ServerConfig, serve};
use clap::Parser;
use reciprocal_chaincode::ReciprocalContract;

/// Serves the reciprocal clubs contract for Fabric peers to dial (chaincode as a service).
#[derive(Debug, Parser)]
#[command(name = "reciprocal-chaincode", version, about, after_help = ENV_HELP)]
struct Cli {}

#[tokio::main]
async fn main() -> ExitCode {
    Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("LOG_FORMAT").is_ok_and(|format| format == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let config = match ServerConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("reciprocal-chaincode: {error}\n\n{ENV_HELP}");
            return ExitCode::from(64);
        }
    };
    tracing::info!(address = %config.address, chaincode_id = %config.chaincode_id, tls = config.tls.is_some(), "Serving chaincode");
    match serve(config, ReciprocalContract, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("reciprocal-chaincode: {error}");
            ExitCode::FAILURE
        }
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
