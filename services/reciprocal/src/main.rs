//! `reciprocal-service`: agreements between clubs and visits under them. See `--help`.

use clap::Parser;
use reciprocal_service::{Config, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let log_format = config.log_format.clone();
    platform::ops::main("reciprocal-service", &log_format, |shutdown| {
        run(config, shutdown)
    })
    .await
}
