//! `clubs block inspect|verify`: read blocks as `peer channel fetch` (or a peer's ledger) writes them, show
//! what each transaction did, and check the hash chain and, optionally, the orderer signatures, so that an
//! auditor can check the ledger without trusting the peer that served it.

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use fabric_protos::common::Block;
use fabric_sdk::block::{
    ChainError, ConfigSummary, DecodedBlock, DecodedTransaction, OrdererSignatureVerifier,
    OrdererVerifyError, block_header_hash, decode_block, read_blocks, verify_chain,
};

/// Block commands.
#[derive(Debug, clap::Subcommand)]
pub enum BlockCommand {
    /// Print each block: hashes, and per transaction its id, type, creator, chaincode call, validation
    /// code, writes and event.
    Inspect {
        /// Block files: single blocks as `peer channel fetch` writes them, or ledger block files
        /// (`blockfile_000000`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON (one array of blocks) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check each block's data hash and that each block's previous hash is the header hash of the block
    /// before it. Exits 0 when all hold, 1 naming the first broken block otherwise.
    Verify {
        /// Block files, single blocks or ledger block files, in any order: blocks are sorted by number.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also verify each block's orderer signatures against the orderer organisations' CAs of the
        /// channel configuration in force, which needs the config block (block 0) among the files.
        #[arg(long)]
        orderer_signatures: bool,
    },
}

/// Runs a block command.
pub fn run(command: BlockCommand) -> anyhow::Result<ExitCode> {
    match command {
        BlockCommand::Inspect { files, json } => inspect(&files, json),
        BlockCommand::Verify {
            files,
            orderer_signatures,
        } => verify(&files, orderer_signatures),
    }
}

/// A block and the file it came from.
struct Located {
    path: PathBuf,
    block: Block,
}

impl Located {
    fn number(&self) -> u64 {
        number_of(&self.block)
    }
}

/// Every block of every file (a file holds one fetched block, or a whole ledger block file).
fn read_all(files: &[PathBuf]) -> anyhow::Result<Vec<Located>> {
    let mut blocks = Vec::new();
    for path in files {
        for block in read_blocks(path)? {
            blocks.push(Located {
                path: path.clone(),
                block,
            });
        }
    }
    Ok(blocks)
}

fn inspect(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut decoded = Vec::new();
    for located in read_all(files)? {
        decoded.push(
            decode_block(&located.block).with_context(|| located.path.display().to_string())?,
        );
    }
    if json {
        out!("{}", serde_json::to_string_pretty(&decoded)?);
    } else {
        for block in &decoded {
            print_block(block);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Text from a block, with control characters escaped: what a transaction carries must not be able to
/// drive the terminal, and composite keys show their U+0000 separators as `\0`.
fn shown(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_debug().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

fn print_block(block: &DecodedBlock) {
    out!("block {}", block.number);
    out!("  header hash   {}", block.header_hash);
    out!("  previous hash {}", block.previous_hash);
    out!(
        "  data hash     {}{}",
        block.data_hash,
        if block.data_hash_valid {
            ""
        } else {
            "  (DOES NOT MATCH THE DATA)"
        }
    );
    if let Some(last_config) = block.last_config {
        out!("  last config   {last_config}");
    }
    for signer in &block.signers {
        match signer.consenter_id {
            Some(id) => out!("  signed by     BFT consenter {id}"),
            None => out!(
                "  signed by     {} {}",
                shown(&signer.msp_id),
                shown(signer.subject.as_deref().unwrap_or_default())
            ),
        }
    }
    for tx in &block.transactions {
        print_transaction(tx);
    }
}

fn print_transaction(tx: &DecodedTransaction) {
    out!("  tx {} {}", tx.index, shown(&tx.tx_id));
    out!(
        "    type {}  channel {}  time {}  validation {}",
        tx.header_type,
        shown(&tx.channel_id),
        tx.timestamp.as_deref().unwrap_or("-"),
        tx.validation
    );
    if !tx.creator_msp_id.is_empty() {
        out!(
            "    creator {} {}",
            shown(&tx.creator_msp_id),
            shown(tx.creator_subject.as_deref().unwrap_or_default())
        );
    }
    for call in tx.chaincode.iter().chain(&tx.extra_actions) {
        let args: Vec<String> = call.args.iter().map(ToString::to_string).collect();
        out!(
            "    chaincode {} {}  function {}  args [{}]",
            shown(&call.name),
            shown(&call.version),
            call.function
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_else(|| "-".to_owned()),
            args.join(", ")
        );
        let endorsers: Vec<Cow<'_, str>> = call.endorsers.iter().map(|e| shown(e)).collect();
        let message = if call.response_message.is_empty() {
            String::new()
        } else {
            format!(" {}", shown(&call.response_message))
        };
        out!(
            "    response {}{message}  endorsed by {}",
            call.response_status,
            endorsers.join(", ")
        );
        for namespace in &call.namespaces {
            for write in &namespace.writes {
                out!(
                    "    write {}/{}  {}",
                    shown(&namespace.namespace),
                    shown(&write.key),
                    if write.is_delete {
                        "DELETE".to_owned()
                    } else {
                        format!("{} bytes", write.value_size)
                    }
                );
            }
        }
        if let Some(event) = &call.event {
            out!(
                "    event {} ({} bytes)",
                shown(&event.name),
                event.payload_size
            );
        }
    }
    if let Some(config) = &tx.config {
        print_config(config);
    }
}

fn print_config(config: &ConfigSummary) {
    let consenters: Vec<String> = config
        .consenters
        .iter()
        .map(|consenter| format!("{}:{}", shown(&consenter.host), consenter.port))
        .collect();
    out!(
        "    config sequence {}  consensus {}  consenters {}",
        config.sequence,
        shown(config.consensus_type.as_deref().unwrap_or("-")),
        consenters.join(", ")
    );
    let capabilities: Vec<String> = config
        .capabilities
        .iter()
        .map(|(level, names)| format!("{level} {}", shown(&names.join(" "))))
        .collect();
    out!("    capabilities {}", capabilities.join("; "));
    for org in &config.organizations {
        let addresses = if org.group == "Orderer" {
            &org.endpoints
        } else {
            &org.anchor_peers
        };
        let addresses: Vec<Cow<'_, str>> = addresses.iter().map(|a| shown(a)).collect();
        out!(
            "    org {} {}  CA certificates {}  TLS CA certificates {}  {} {}",
            org.group,
            shown(&org.msp_id),
            org.root_certs.len() + org.intermediate_certs.len(),
            org.tls_root_certs.len(),
            if org.group == "Orderer" {
                "endpoints"
            } else {
                "anchor peers"
            },
            if addresses.is_empty() {
                "-".to_owned()
            } else {
                addresses.join(", ")
            }
        );
    }
}

fn verify(files: &[PathBuf], orderer_signatures: bool) -> anyhow::Result<ExitCode> {
    let mut located = read_all(files)?;
    // Stable, so that a block given twice is reported as such rather than silently dropped.
    located.sort_by_key(Located::number);
    let (paths, chain): (Vec<PathBuf>, Vec<Block>) = located
        .into_iter()
        .map(|located| (located.path, located.block))
        .unzip();
    let verified = verify_chain(&chain);
    let broken_at = verified.as_ref().err().and_then(ChainError::block);
    for (path, block) in paths.iter().zip(&chain) {
        let header = block.header.clone().unwrap_or_default();
        if broken_at == Some(header.number) {
            break;
        }
        out!(
            "block {:>6}  {}  {}",
            header.number,
            hex::encode(block_header_hash(&header)),
            path.display()
        );
    }
    let report = match verified {
        Ok(report) => report,
        Err(error) => {
            let file = broken_at
                .and_then(|number| chain.iter().position(|block| number_of(block) == number))
                .map(|index| format!(" ({})", paths[index].display()))
                .unwrap_or_default();
            eprintln!("FAILED: {error}{file}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if orderer_signatures {
        match verify_signatures(&paths, &chain)? {
            Ok(count) => out!("orderer signatures verified on {count} blocks"),
            Err(failure) => {
                eprintln!("FAILED: {failure}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    out!(
        "OK: {} blocks, tip {} {}",
        report.blocks,
        report.tip,
        hex::encode(report.tip_hash)
    );
    Ok(ExitCode::SUCCESS)
}

fn number_of(block: &Block) -> u64 {
    block.header.as_ref().map_or(0, |header| header.number)
}

/// Verifies the orderer signature of every block but the genesis block against the orderer CAs of the
/// configuration in force before it. The outer error is a usage problem; the inner one a block that fails
/// verification.
fn verify_signatures(paths: &[PathBuf], chain: &[Block]) -> anyhow::Result<Result<usize, String>> {
    let mut verifier = OrdererSignatureVerifier::new();
    let mut count = 0;
    for (path, block) in paths.iter().zip(chain) {
        match verifier.verify(block) {
            Ok(verified) => count += usize::from(verified > 0),
            Err(OrdererVerifyError::NoConfiguration(_)) => anyhow::bail!(
                "--orderer-signatures needs the channel's config block (block 0) among the files"
            ),
            Err(OrdererVerifyError::Config { reason, .. }) => {
                anyhow::bail!("{}: {reason}", path.display())
            }
            Err(error) => return Ok(Err(format!("{error} ({})", path.display()))),
        }
    }
    Ok(Ok(count))
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn control_characters_are_escaped_for_the_terminal() {
        assert_eq!(shown("asset1"), "asset1");
        assert_eq!(shown("\u{0}club\u{0}alpha\u{0}"), "\\0club\\0alpha\\0");
        assert_eq!(shown("evil\u{1b}[2Jname"), "evil\\u{1b}[2Jname");
    }
}
