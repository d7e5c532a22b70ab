//! `api-gateway`: the platform's public REST API. See `--help`.

use api_gateway::{Config, run};
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    platform::ops::init_logging(&config.log_format);
    // Installed first, so a stop requested while the gateway starts is a graceful one.
    let result = match platform::ops::shutdown_signal() {
        Ok(shutdown) => run(config, shutdown).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("api-gateway: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
