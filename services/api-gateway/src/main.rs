//! `api-gateway`: the platform's public REST API. See `--help`.

use api_gateway::{Config, run};
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let log_format = config.log_format.clone();
    platform::ops::main("api-gateway", &log_format, |shutdown| run(config, shutdown)).await
}
