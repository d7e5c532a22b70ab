//! `reciprocal-service`: agreements between clubs and visits under them. See `--help`.

use clap::Parser;
use reciprocal_service::{Config, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    platform::ops::init_logging(&config.log_format);
    // Installed first, so a stop requested while the service starts is a graceful one.
    let result = match platform::ops::shutdown_signal() {
        Ok(shutdown) => run(config, shutdown).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("reciprocal-service: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
