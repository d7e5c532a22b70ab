//! `clubs`: the operator and audit tool of the Reciprocal Clubs platform.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Prints a line on standard output like `println!`, but a reader that has gone away (`clubs … | head`)
/// ends the program quietly, as it would any Unix tool, instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_line(format_args!($($arg)*))
    };
}

mod audit;
mod block;
mod ca;
mod identity;
mod tx;

/// Operator and audit tool for the Reciprocal Clubs ledger.
#[derive(Debug, Parser)]
#[command(name = "clubs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ask the ledger's mirror what happened, and check that it tells the truth.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Inspect and verify Fabric blocks (as `peer channel fetch` writes them).
    #[command(subcommand)]
    Block(block::BlockCommand),
    /// Enroll, register, revoke and list identities with a Fabric CA.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Show Fabric identities (MSP folders).
    #[command(subcommand)]
    Identity(identity::IdentityCommand),
    /// Submit or evaluate contract functions through a peer's Gateway.
    #[command(subcommand)]
    Tx(tx::TxCommand),
}

/// Writes one line of output; see [`out!`].
fn write_line(line: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("clubs: cannot write the output: {error}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Audit(command) => audit::run(command),
        Command::Block(command) => block::run(command),
        Command::Ca(command) => ca::run(command),
        Command::Identity(command) => identity::run(command),
        Command::Tx(command) => tx::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("clubs: {error:#}");
            ExitCode::FAILURE
        }
    }
}
