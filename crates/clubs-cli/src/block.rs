//! `clubs block` (being written).

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum BlockCommand {}

pub fn run(command: BlockCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
