//! Ordering and committing: envelopes accepted by Submit are cut into blocks (by count or timeout), each
//! transaction is validated as a committing peer would, and the block — with its TRANSACTIONS_FILTER and
//! an orderer signature in SIGNATURES — is persisted before its transactions become visible.

use std::sync::Arc;
use std::time::Duration;

use fabric_protos::common::{
    Block, BlockData, BlockHeader, BlockMetadata, LastConfig, Metadata, MetadataSignature,
    OrdererBlockMetadata, SignatureHeader,
};
use fabric_sdk::signer::Signer;
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::channel_msp::ChannelMsps;
use crate::ledger::{CommittedTx, Ledger, LedgerError};
use crate::state::Height;
use crate::validation::{BlockOverlay, validate_transaction};

/// Block cutting settings.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Most transactions per block.
    pub max_transactions: usize,
    /// Longest a transaction waits for its block to be cut.
    pub timeout: Duration,
}

/// Who signs blocks, and what the channel is.
#[derive(Debug, Clone)]
pub struct OrdererContext {
    /// Channel name.
    pub channel_id: String,
    /// The only chaincode the dev channel runs.
    pub chaincode: String,
    /// The channel's MSPs, for validation.
    pub msps: Arc<ChannelMsps>,
    /// The orderer's serialized identity (the creator in block signatures).
    pub orderer_identity: Vec<u8>,
    /// The orderer's signer.
    pub orderer_signer: Arc<dyn Signer>,
}

/// Runs the orderer until every sender of `envelopes` is dropped. Errors are fatal: a ledger that cannot
/// persist a block must stop rather than acknowledge it.
pub async fn run(
    mut envelopes: mpsc::Receiver<Vec<u8>>,
    ledger: Arc<Ledger>,
    context: OrdererContext,
    config: BatchConfig,
) -> Result<(), LedgerError> {
    let mut previous_hash = previous_header_hash(&ledger)?;
    while let Some(first) = envelopes.recv().await {
        let mut batch = vec![first];
        // Envelopes that queued while the previous block was committing form the next block at once;
        // only a lone envelope after an idle spell waits (up to the timeout) for company.
        while batch.len() < config.max_transactions {
            match envelopes.try_recv() {
                Ok(envelope) => batch.push(envelope),
                Err(_) => break,
            }
        }
        if batch.len() == 1 {
            let deadline = Instant::now() + config.timeout;
            while batch.len() < config.max_transactions {
                tokio::select! {
                    next = envelopes.recv() => match next {
                        Some(envelope) => batch.push(envelope),
                        None => break,
                    },
                    () = tokio::time::sleep_until(deadline) => break,
                }
            }
        }
        let ledger = Arc::clone(&ledger);
        let context = context.clone();
        previous_hash = tokio::task::spawn_blocking(move || {
            commit_batch(&ledger, &context, batch, previous_hash)
        })
        .await
        .map_err(|error| LedgerError::Task(error.to_string()))??;
    }
    Ok(())
}

fn previous_header_hash(ledger: &Ledger) -> Result<Vec<u8>, LedgerError> {
    let height = ledger.height();
    if height == 0 {
        return Ok(Vec::new());
    }
    let block = ledger
        .block(height - 1)?
        .ok_or_else(|| LedgerError::BadBlock {
            block: height - 1,
            reason: "missing".to_owned(),
        })?;
    let header = block.header.unwrap_or_default();
    Ok(fabric_sdk::block::block_header_hash(&header).to_vec())
}

/// Validates, builds, signs, persists and applies one block; returns its header hash.
fn commit_batch(
    ledger: &Ledger,
    context: &OrdererContext,
    envelopes: Vec<Vec<u8>>,
    previous_hash: Vec<u8>,
) -> Result<Vec<u8>, LedgerError> {
    let number = ledger.height();
    let mut overlay = BlockOverlay::default();
    let mut filter = Vec::with_capacity(envelopes.len());
    let mut transactions = Vec::with_capacity(envelopes.len());
    {
        let state = ledger.state();
        for (index, envelope) in envelopes.iter().enumerate() {
            let validated = validate_transaction(
                envelope,
                Height {
                    block: number,
                    tx: index as u64,
                },
                &context.channel_id,
                &context.chaincode,
                &context.msps,
                &state,
                &mut overlay,
            );
            filter.push(validated.code as u8);
            transactions.push(CommittedTx {
                tx_id: validated.tx_id,
                code: validated.code as i32,
                updates: validated.updates,
            });
        }
    }

    let data = BlockData { data: envelopes };
    let header = BlockHeader {
        number,
        previous_hash,
        data_hash: fabric_sdk::block::block_data_hash(&data).to_vec(),
    };
    let signatures = sign_block(&header, context)?;
    let block = Block {
        header: Some(header.clone()),
        data: Some(data),
        metadata: Some(BlockMetadata {
            metadata: vec![signatures, Vec::new(), filter, Vec::new(), Vec::new()],
        }),
    };
    ledger.commit(&block, transactions)?;
    let valid = block_summary(&block);
    tracing::info!(
        block = number,
        transactions = valid.0,
        valid = valid.1,
        "Committed block"
    );
    Ok(fabric_sdk::block::block_header_hash(&header).to_vec())
}

fn block_summary(block: &Block) -> (usize, usize) {
    let filter = block
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.metadata.get(2))
        .map(Vec::as_slice)
        .unwrap_or_default();
    (
        filter.len(),
        filter.iter().filter(|code| **code == 0).count(),
    )
}

/// The SIGNATURES metadata: the orderer signs `value ‖ signature_header ‖ DER(block header)`.
fn sign_block(header: &BlockHeader, context: &OrdererContext) -> Result<Vec<u8>, LedgerError> {
    let value = OrdererBlockMetadata {
        last_config: Some(LastConfig { index: 0 }),
        consenter_metadata: Vec::new(),
    }
    .encode_to_vec();
    let signature_header = SignatureHeader {
        creator: context.orderer_identity.clone(),
        nonce: fabric_sdk::txid::new_nonce().to_vec(),
    }
    .encode_to_vec();
    let mut signed = value.clone();
    signed.extend_from_slice(&signature_header);
    signed.extend_from_slice(&fabric_sdk::block::block_header_bytes(header));
    let signature =
        context
            .orderer_signer
            .sign(&signed)
            .map_err(|error| LedgerError::BadBlock {
                block: header.number,
                reason: format!("orderer could not sign: {error}"),
            })?;
    Ok(Metadata {
        value,
        signatures: vec![MetadataSignature {
            signature_header,
            signature,
            identifier_header: Vec::new(),
        }],
    }
    .encode_to_vec())
}
