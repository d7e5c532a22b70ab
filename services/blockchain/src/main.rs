//! `blockchain-service`: the platform's only Fabric client. See `--help`.

use blockchain_service::server::{Config, run};
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let log_format = config.log_format.clone();
    platform::ops::main("blockchain-service", &log_format, |shutdown| {
        run(config, shutdown)
    })
    .await
}
