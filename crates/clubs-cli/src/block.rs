//! `clubs block inspect|verify`: read blocks as `peer channel fetch` writes them, show what each
//! transaction did, and check the hash chain (and, optionally, the orderer signatures).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fabric_protos::common::Block;
use fabric_sdk::block::{
    DecodedBlock, decode_block, read_blocks, verify_chain, verify_orderer_signatures,
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
        /// Print JSON (an array of blocks) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check each block's data hash and that each block's previous hash is the header hash of the block
    /// before it. Exits 0 when all hold, 1 naming the first broken block otherwise.
    Verify {
        /// Block files, single blocks or ledger block files (any order: blocks are sorted by number).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also verify each block's orderer signatures against the orderer organisation's CA in the
        /// config block (block 0) found among the files.
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

/// Every block of every file (a file holds one fetched block, or a whole Fabric block file).
fn read_all(files: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, Block)>> {
    let mut blocks = Vec::new();
    for path in files {
        for block in read_blocks(path)? {
            blocks.push((path.clone(), block));
        }
    }
    Ok(blocks)
}

fn inspect(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut decoded = Vec::new();
    for (path, block) in read_all(files)? {
        decoded.push(decode_block(&block).with_context(|| format!("{}", path.display()))?);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&decoded)?);
    } else {
        for block in &decoded {
            print_block(block);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_block(block: &DecodedBlock) {
    println!("block {}", block.number);
    println!("  header hash   {}", block.header_hash);
    println!("  previous hash {}", block.previous_hash);
    println!(
        "  data hash     {}{}",
        block.data_hash,
        if block.data_hash_valid {
            ""
        } else {
            "  (DOES NOT MATCH THE DATA)"
        }
    );
    for signer in &block.signers {
        println!(
            "  signed by     {} {}",
            signer.msp_id,
            signer.subject.as_deref().unwrap_or_default()
        );
    }
    for tx in &block.transactions {
        println!("  tx {} {}", tx.index, tx.tx_id);
        println!(
            "    type {}  channel {}  time {}  validation {}",
            tx.header_type,
            tx.channel_id,
            tx.timestamp.as_deref().unwrap_or("-"),
            tx.validation
        );
        if !tx.creator_msp_id.is_empty() {
            println!(
                "    creator {} {}",
                tx.creator_msp_id,
                tx.creator_subject.as_deref().unwrap_or_default()
            );
        }
        if let Some(call) = &tx.chaincode {
            let args: Vec<String> = call.args.iter().map(ToString::to_string).collect();
            println!(
                "    chaincode {} {}  function {}  args [{}]",
                call.name,
                call.version,
                call.function
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                args.join(", ")
            );
            println!(
                "    response {} {}  endorsed by {}",
                call.response_status,
                call.response_message,
                call.endorsers.join(", ")
            );
            for namespace in &call.namespaces {
                for write in &namespace.writes {
                    println!(
                        "    write {}/{}  {}",
                        namespace.namespace,
                        write.key,
                        if write.is_delete {
                            "DELETE".to_owned()
                        } else {
                            format!("{} bytes", write.value_size)
                        }
                    );
                }
            }
            if let Some(event) = &call.event {
                println!("    event {} ({} bytes)", event.name, event.payload_size);
            }
        }
        if let Some(config) = &tx.config {
            println!("    config sequence {}", config.sequence);
            for org in &config.organizations {
                println!(
                    "    org {} {} ({} root certificates)",
                    org.group, org.msp_id, org.root_cert_count
                );
            }
        }
    }
}

fn verify(files: &[PathBuf], orderer_signatures: bool) -> anyhow::Result<ExitCode> {
    let mut blocks = read_all(files)?;
    blocks.sort_by_key(|(_, block)| block.header.as_ref().map_or(0, |header| header.number));
    let chain: Vec<Block> = blocks.iter().map(|(_, block)| block.clone()).collect();
    let report = match verify_chain(&chain) {
        Ok(report) => report,
        Err(error) => {
            let file = error
                .block()
                .and_then(|number| file_of(&blocks, number))
                .map(|path| format!(" ({})", path.display()))
                .unwrap_or_default();
            eprintln!("FAILED: {error}{file}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for (path, block) in &blocks {
        let header = block.header.clone().unwrap_or_default();
        println!(
            "block {:>6}  {}  {}",
            header.number,
            hex::encode(fabric_sdk::block::block_header_hash(&header)),
            path.display()
        );
    }
    if orderer_signatures {
        let config_block = chain
            .iter()
            .find(|block| {
                block
                    .header
                    .as_ref()
                    .is_some_and(|header| header.number == 0)
            })
            .context("--orderer-signatures needs the config block (block 0) among the files")?;
        let config = decode_block(config_block)?
            .transactions
            .into_iter()
            .find_map(|tx| tx.config)
            .context("block 0 holds no channel configuration")?;
        let roots: Vec<Vec<u8>> = config
            .organizations
            .iter()
            .filter(|org| org.group == "Orderer")
            .flat_map(|org| org.root_certs.clone())
            .collect();
        for block in chain
            .iter()
            .filter(|block| block.header.as_ref().is_some_and(|h| h.number > 0))
        {
            if let Err(error) = verify_orderer_signatures(block, &roots) {
                eprintln!("FAILED: {error}");
                return Ok(ExitCode::FAILURE);
            }
        }
        println!("orderer signatures verified on {} blocks", chain.len() - 1);
    }
    println!(
        "OK: {} blocks, tip {} {}",
        report.blocks,
        report.tip,
        hex::encode(report.tip_hash)
    );
    Ok(ExitCode::SUCCESS)
}

fn file_of(blocks: &[(PathBuf, Block)], number: u64) -> Option<&Path> {
    blocks
        .iter()
        .find(|(_, block)| {
            block
                .header
                .as_ref()
                .is_some_and(|header| header.number == number)
        })
        .map(|(path, _)| path.as_path())
}
