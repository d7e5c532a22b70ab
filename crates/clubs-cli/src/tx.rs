//! `clubs tx submit|evaluate`: invoke a contract function through a peer's Gateway (a real Fabric peer or
//! the dev ledger) as a given identity, and print the result.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use fabric_sdk::gateway::{Gateway, GatewayError, TransactionOptions, code_name, peer_endpoint};
use fabric_sdk::msp::MspFolder;

/// Defaults match `scripts/up.sh`: the dev ledger on 127.0.0.1:7051 acting as its network admin.
const DEFAULT_MSP_DIR: &str = ".state/devnet/organizations/peerOrganizations/org1.example.com/users/networkadmin@org1.example.com/msp";

/// Where and as whom to connect.
#[derive(Debug, clap::Args)]
pub struct Connection {
    /// Peer address (host:port).
    #[arg(long, env = "CLUBS_PEER_ENDPOINT", default_value = "127.0.0.1:7051")]
    peer: String,
    /// PEM file of the CA that issued the peer's TLS certificate; enables TLS.
    #[arg(long, env = "CLUBS_TLS_ROOT_CERT")]
    tls_root_cert: Option<PathBuf>,
    /// Server name to expect in the peer's TLS certificate (e.g. peer0.org1.example.com).
    #[arg(long, env = "CLUBS_TLS_SERVER_NAME")]
    tls_server_name: Option<String>,
    /// MSP folder of the identity to act as.
    #[arg(long, env = "CLUBS_MSP_DIR", default_value = DEFAULT_MSP_DIR)]
    msp_dir: PathBuf,
    /// MSP id of that identity.
    #[arg(long, env = "CLUBS_MSP_ID", default_value = "Org1MSP")]
    msp_id: String,
    /// Channel.
    #[arg(long, env = "CLUBS_CHANNEL", default_value = "reciprocal")]
    pub channel: String,
    /// Chaincode.
    #[arg(long, env = "CLUBS_CHAINCODE", default_value = "reciprocal")]
    pub chaincode: String,
}

/// Transaction commands.
#[derive(Debug, clap::Subcommand)]
pub enum TxCommand {
    /// Endorse, order and commit a transaction; prints its result, transaction id and block.
    Submit {
        #[command(flatten)]
        connection: Connection,
        /// Function name.
        function: String,
        /// Arguments.
        args: Vec<String>,
    },
    /// Evaluate a query on one peer (nothing is committed); prints its result.
    Evaluate {
        #[command(flatten)]
        connection: Connection,
        /// Function name.
        function: String,
        /// Arguments.
        args: Vec<String>,
    },
}

pub async fn gateway(connection: &Connection) -> anyhow::Result<Gateway> {
    let folder = MspFolder::load(&connection.msp_dir, &connection.msp_id)?;
    let signing = folder.signing_identity()?;
    let tls_root = match &connection.tls_root_cert {
        Some(path) => Some(std::fs::read(path).with_context(|| format!("{}", path.display()))?),
        None => None,
    };
    let endpoint = peer_endpoint(
        &connection.peer,
        tls_root,
        connection.tls_server_name.as_deref(),
    )
    .with_context(|| format!("peer address {:?}", connection.peer))?;
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach the peer at {}", connection.peer))?;
    Ok(Gateway::new(
        channel,
        signing.identity().clone(),
        signing.signer(),
    ))
}

fn print_result(result: &[u8]) {
    match serde_json::from_slice::<serde_json::Value>(result) {
        Ok(json) => out!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        ),
        Err(_) => out!("{}", String::from_utf8_lossy(result)),
    }
}

fn report(error: &GatewayError) -> ExitCode {
    eprintln!("clubs: {error}");
    if let Some(code) = error.validation_code() {
        eprintln!(
            "clubs: the transaction was committed invalid ({})",
            code_name(code)
        );
    }
    ExitCode::FAILURE
}

/// Runs a transaction command.
pub fn run(command: TxCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            TxCommand::Submit {
                connection,
                function,
                args,
            } => {
                let gateway = gateway(&connection).await?;
                let contract = gateway
                    .network(&connection.channel)
                    .contract(&connection.chaincode);
                match contract
                    .submit(&function, TransactionOptions::with_args(&args))
                    .await
                {
                    Ok(submitted) => {
                        print_result(&submitted.result);
                        eprintln!(
                            "committed: tx {} in block {}",
                            submitted.tx_id, submitted.block_number
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(error) => Ok(report(&error)),
                }
            }
            TxCommand::Evaluate {
                connection,
                function,
                args,
            } => {
                let gateway = gateway(&connection).await?;
                let contract = gateway
                    .network(&connection.channel)
                    .contract(&connection.chaincode);
                match contract.evaluate_transaction(&function, &args).await {
                    Ok(result) => {
                        print_result(&result);
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(error) => Ok(report(&error)),
                }
            }
        }
    })
}
