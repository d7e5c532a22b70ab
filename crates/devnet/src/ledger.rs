//! The channel ledger: the block store plus the state derived from it, with a watch on the height so
//! commit-status waiters and Deliver streams wake when a block lands.

use std::path::Path;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use fabric_protos::common::Block;
use fabric_protos::kvrwset::{KvMetadataWrite, KvWrite};
use fabric_protos::protos::TxValidationCode;
use fabric_protos::queryresult::KeyModification;
use fabric_sdk::block::{TxEffects, transaction_effects};
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
    Ok(transaction_effects(block)?
        .into_iter()
        .map(|tx| CommittedTx {
            code: tx
                .validation_code
                .map_or(TxValidationCode::NotValidated as i32, i32::from),
            updates: if tx.is_valid() {
                updates_of(&tx)
            } else {
                Vec::new()
            },
            tx_id: tx.channel_header.tx_id,
        })
        .collect())
}

/// The state updates of a transaction's writes, in read-write-set order.
pub fn updates_of(tx: &TxEffects) -> Vec<StateUpdate> {
    let mut updates = Vec::new();
    for (namespace, writes) in &tx.writes {
        updates.extend(writes.iter().map(|write| state_update(namespace, write)));
    }
    for (namespace, metadata_writes) in &tx.metadata_writes {
        updates.extend(
            metadata_writes
                .iter()
                .map(|metadata| metadata_update(namespace, metadata)),
        );
    }
    updates
}

/// One write as a state update.
pub fn state_update(namespace: &str, write: &KvWrite) -> StateUpdate {
    if write.is_delete {
        StateUpdate::Delete {
            namespace: namespace.to_owned(),
            key: write.key.clone(),
        }
    } else {
        StateUpdate::Put {
            namespace: namespace.to_owned(),
            key: write.key.clone(),
            value: write.value.clone(),
        }
    }
}

/// One metadata write as a state update.
pub fn metadata_update(namespace: &str, metadata: &KvMetadataWrite) -> StateUpdate {
    StateUpdate::Metadata {
        namespace: namespace.to_owned(),
        key: metadata.key.clone(),
        entries: metadata
            .entries
            .iter()
            .map(|entry| (entry.name.clone(), entry.value.clone()))
            .collect(),
    }
}

fn modification_at(
    block: &Block,
    tx: u64,
    namespace: &str,
    key: &str,
) -> Result<KeyModification, String> {
    let effects = transaction_effects(block)?
        .into_iter()
        .nth(tx as usize)
        .ok_or_else(|| format!("no transaction {tx}"))?;
    let write = effects
        .writes
        .iter()
        .filter(|(ns, _)| ns == namespace)
        .flat_map(|(_, writes)| writes)
        .rfind(|write| write.key == key)
        .ok_or_else(|| format!("transaction {tx} does not write {key:?}"))?;
    Ok(KeyModification {
        tx_id: effects.channel_header.tx_id,
        value: if write.is_delete {
            Vec::new()
        } else {
            write.value.clone()
        },
        timestamp: effects.channel_header.timestamp,
        is_delete: write.is_delete,
    })
}
