//! `governance-service`: the clubs of the network, proposals and votes. See `--help`.

use clap::Parser;
use governance_service::{Config, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let log_format = config.log_format.clone();
    platform::ops::main("governance-service", &log_format, |shutdown| {
        run(config, shutdown)
    })
    .await
}
