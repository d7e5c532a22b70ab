//! `member-service`: members, their personal data and their ledger anchors. See `--help`.

use clap::Parser;
use member_service::{Config, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let log_format = config.log_format.clone();
    platform::ops::main("member-service", &log_format, |shutdown| {
        run(config, shutdown)
    })
    .await
}
