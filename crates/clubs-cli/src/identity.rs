//! `clubs identity` (being written).

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum IdentityCommand {}

pub fn run(command: IdentityCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
