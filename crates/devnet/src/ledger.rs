//! The channel ledger: the block store plus the state derived from it, with a watch on the height so
//! commit-status waiters and Deliver streams wake when a block lands.

use std::path::Path;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use fabric_protos::common::{Block, ChannelHeader, Envelope, Payload};
use fabric_protos::kvrwset::KvrwSet;
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ProposalResponsePayload, Transaction, TxValidationCode,
};
use fabric_protos::queryresult::KeyModification;
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;
use tokio::sync::watch;

use crate::state::{Height, StateUpdate, TxRecord, WorldState};
use crate::store::{BlockStore, Recovery, StoreError};

/// Why the ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The block store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The committing task failed.
    #[error("commit task failed: {0}")]
    Task(String),
    /// A stored block does not decode as the ledger wrote it.
    #[error("block {block}: {reason}")]
    BadBlock {
        /// The block number.
        block: u64,
        /// What is wrong.
        reason: String,
    },
}

/// A committed transaction as the ledger indexes it while replaying or committing a block.
#[derive(Debug, Clone)]
pub struct CommittedTx {
    /// Transaction id.
    pub tx_id: String,
    /// Validation code.
    pub code: i32,
    /// Writes (only for valid transactions).
    pub updates: Vec<StateUpdate>,
}

/// The ledger of one channel.
#[derive(Debug)]
pub struct Ledger {
    store: RwLock<BlockStore>,
    state: RwLock<WorldState>,
    height: watch::Sender<u64>,
}

impl Ledger {
    /// Opens the ledger in `dir`, replaying every stored block into the state. Returns what recovery found.
    pub fn open(dir: &Path) -> Result<(Self, Recovery), LedgerError> {
        let (store, recovery) = BlockStore::open(&dir.join("blockfile_000000"))?;
        let mut state = WorldState::default();
        for number in 0..store.height() {
            let block = store.block(number)?.ok_or_else(|| LedgerError::BadBlock {
                block: number,
                reason: "missing from the index".to_owned(),
            })?;
            for (index, tx) in committed_transactions(&block)
                .map_err(|reason| LedgerError::BadBlock {
                    block: number,
                    reason,
                })?
                .into_iter()
                .enumerate()
            {
                apply_tx(
                    &mut state,
                    Height {
                        block: number,
                        tx: index as u64,
                    },
                    tx,
                );
            }
        }
        let (height, _) = watch::channel(store.height());
        Ok((
            Self {
                store: RwLock::new(store),
                state: RwLock::new(state),
                height,
            },
            recovery,
        ))
    }

    /// The current height (number of blocks).
    pub fn height(&self) -> u64 {
        *self.height.borrow()
    }

    /// A receiver that changes whenever a block is committed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// Read access to the world state. Hold it briefly: the committer needs the write side.
    pub fn state(&self) -> RwLockReadGuard<'_, WorldState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Block `number`, decoded.
    pub fn block(&self, number: u64) -> Result<Option<Block>, LedgerError> {
        Ok(self
            .store
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .block(number)?)
    }

    /// Persists `block` (fsync), then applies `transactions` (one per envelope, in order) to the state and
    /// announces the new height. Only the committer calls this.
    pub fn commit(&self, block: &Block, transactions: Vec<CommittedTx>) -> Result<(), LedgerError> {
        let number = block.header.as_ref().map_or(0, |header| header.number);
        self.store
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .append(block)?;
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            for (index, tx) in transactions.into_iter().enumerate() {
                apply_tx(
                    &mut state,
                    Height {
                        block: number,
                        tx: index as u64,
                    },
                    tx,
                );
            }
        }
        self.height.send_replace(number + 1);
        Ok(())
    }

    /// Every modification of `key` in `namespace`, newest first, read back from the blocks that made them.
    pub fn history(&self, namespace: &str, key: &str) -> Result<Vec<KeyModification>, LedgerError> {
        let heights: Vec<Height> = self.state().history(namespace, key).to_vec();
        let mut modifications = Vec::with_capacity(heights.len());
        for height in heights.into_iter().rev() {
            let block = self
                .block(height.block)?
                .ok_or_else(|| LedgerError::BadBlock {
                    block: height.block,
                    reason: "indexed in history but not stored".to_owned(),
                })?;
            let modification =
                modification_at(&block, height.tx, namespace, key).map_err(|reason| {
                    LedgerError::BadBlock {
                        block: height.block,
                        reason,
                    }
                })?;
            modifications.push(modification);
        }
        Ok(modifications)
    }
}

fn apply_tx(state: &mut WorldState, height: Height, tx: CommittedTx) {
    if tx.code == TxValidationCode::Valid as i32 {
        state.apply(height, tx.updates);
    }
    if !tx.tx_id.is_empty() {
        state.record_transaction(
            tx.tx_id,
            TxRecord {
                height,
                validation_code: tx.code,
            },
        );
    }
}

/// The transactions of a stored block with their validation codes and, for valid endorser transactions,
/// their writes.
pub fn committed_transactions(block: &Block) -> Result<Vec<CommittedTx>, String> {
    let data = block
        .data
        .as_ref()
        .map(|data| data.data.as_slice())
        .unwrap_or_default();
    let filter = block
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.metadata.get(2))
        .cloned()
        .unwrap_or_default();
    let mut transactions = Vec::with_capacity(data.len());
    for (index, envelope_bytes) in data.iter().enumerate() {
        let code = filter
            .get(index)
            .map_or(TxValidationCode::NotValidated as i32, |code| {
                i32::from(*code)
            });
        let (channel_header, payload) =
            envelope_header(envelope_bytes).map_err(|reason| format!("tx {index}: {reason}"))?;
        let updates = if code == TxValidationCode::Valid as i32 && channel_header.r#type == 3 {
            let (_, rwset) =
                endorser_action(&payload.data).map_err(|reason| format!("tx {index}: {reason}"))?;
            writes_of(&rwset).map_err(|reason| format!("tx {index}: {reason}"))?
        } else {
            Vec::new()
        };
        transactions.push(CommittedTx {
            tx_id: channel_header.tx_id,
            code,
            updates,
        });
    }
    Ok(transactions)
}

fn envelope_header(envelope_bytes: &[u8]) -> Result<(ChannelHeader, Payload), String> {
    let envelope = Envelope::decode(envelope_bytes).map_err(|e| format!("Envelope: {e}"))?;
    let payload =
        Payload::decode(envelope.payload.as_slice()).map_err(|e| format!("Payload: {e}"))?;
    let header = payload.header.as_ref().ok_or("Payload without header")?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| format!("ChannelHeader: {e}"))?;
    Ok((channel_header, payload))
}

fn endorser_action(transaction_bytes: &[u8]) -> Result<(ChaincodeAction, TxReadWriteSet), String> {
    let transaction =
        Transaction::decode(transaction_bytes).map_err(|e| format!("Transaction: {e}"))?;
    let action = transaction
        .actions
        .first()
        .ok_or("Transaction without actions")?;
    let action_payload = ChaincodeActionPayload::decode(action.payload.as_slice())
        .map_err(|e| format!("ChaincodeActionPayload: {e}"))?;
    let endorsed = action_payload
        .action
        .ok_or("ChaincodeActionPayload without action")?;
    let response_payload =
        ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
            .map_err(|e| format!("ProposalResponsePayload: {e}"))?;
    let chaincode_action = ChaincodeAction::decode(response_payload.extension.as_slice())
        .map_err(|e| format!("ChaincodeAction: {e}"))?;
    let rwset = TxReadWriteSet::decode(chaincode_action.results.as_slice())
        .map_err(|e| format!("TxReadWriteSet: {e}"))?;
    Ok((chaincode_action, rwset))
}

fn writes_of(rwset: &TxReadWriteSet) -> Result<Vec<StateUpdate>, String> {
    let mut updates = Vec::new();
    for namespace_set in &rwset.ns_rwset {
        let kv =
            KvrwSet::decode(namespace_set.rwset.as_slice()).map_err(|e| format!("KVRWSet: {e}"))?;
        let namespace = &namespace_set.namespace;
        for write in kv.writes {
            updates.push(if write.is_delete {
                StateUpdate::Delete {
                    namespace: namespace.clone(),
                    key: write.key,
                }
            } else {
                StateUpdate::Put {
                    namespace: namespace.clone(),
                    key: write.key,
                    value: write.value,
                }
            });
        }
        for metadata in kv.metadata_writes {
            updates.push(StateUpdate::Metadata {
                namespace: namespace.clone(),
                key: metadata.key,
                entries: metadata
                    .entries
                    .into_iter()
                    .map(|entry| (entry.name, entry.value))
                    .collect(),
            });
        }
    }
    Ok(updates)
}

fn modification_at(
    block: &Block,
    tx: u64,
    namespace: &str,
    key: &str,
) -> Result<KeyModification, String> {
    let envelope_bytes = block
        .data
        .as_ref()
        .and_then(|data| data.data.get(tx as usize))
        .ok_or_else(|| format!("no transaction {tx}"))?;
    let (channel_header, payload) = envelope_header(envelope_bytes)?;
    let (_, rwset) = endorser_action(&payload.data)?;
    let write = writes_of(&rwset)?
        .into_iter()
        .filter_map(|update| match update {
            StateUpdate::Put {
                namespace: ns,
                key: k,
                value,
            } if ns == namespace && k == key => Some((value, false)),
            StateUpdate::Delete {
                namespace: ns,
                key: k,
            } if ns == namespace && k == key => Some((Vec::new(), true)),
            _ => None,
        })
        .next_back()
        .ok_or_else(|| format!("transaction {tx} does not write {key:?}"))?;
    Ok(KeyModification {
        tx_id: channel_header.tx_id,
        value: write.0,
        timestamp: channel_header.timestamp,
        is_delete: write.1,
    })
}

/// The `ChaincodeAction` of a valid endorser transaction (for events), if the envelope holds one.
pub fn chaincode_action_of(envelope_bytes: &[u8]) -> Option<(ChannelHeader, ChaincodeAction)> {
    let (channel_header, payload) = envelope_header(envelope_bytes).ok()?;
    if channel_header.r#type != 3 {
        return None;
    }
    let (action, _) = endorser_action(&payload.data).ok()?;
    Some((channel_header, action))
}
