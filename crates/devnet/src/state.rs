//! The world state, key history and transaction index of the channel, kept in memory and rebuilt from the
//! block file at start (see [`crate::store`]). Versions are Fabric's: the (block, transaction) height of
//! the last write, which is what MVCC validation compares.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use fabric_protos::kvrwset::Version;

/// A committed value with its version and metadata (key-level endorsement policies and the like).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedValue {
    /// The committed bytes.
    pub value: Vec<u8>,
    /// The height of the write that produced it.
    pub version: Height,
    /// State metadata entries (e.g. `VALIDATION_PARAMETER`).
    pub metadata: BTreeMap<String, Vec<u8>>,
}

/// A position in the ledger: block number and index of the transaction in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height {
    /// Block number.
    pub block: u64,
    /// Transaction index inside the block.
    pub tx: u64,
}

impl Height {
    /// As a read-write-set version.
    pub fn to_version(self) -> Version {
        Version {
            block_num: self.block,
            tx_num: self.tx,
        }
    }

    /// From a read-write-set version.
    pub fn from_version(version: &Version) -> Self {
        Self {
            block: version.block_num,
            tx: version.tx_num,
        }
    }
}

/// Where a committed transaction is and how it was validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    /// Its position.
    pub height: Height,
    /// Its `TxValidationCode`.
    pub validation_code: i32,
}

/// One write of a valid transaction, as applied to the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUpdate {
    /// `key` now holds `value`.
    Put {
        /// Chaincode namespace.
        namespace: String,
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// `key` was deleted.
    Delete {
        /// Chaincode namespace.
        namespace: String,
        /// The key.
        key: String,
    },
    /// `key`'s metadata was replaced (an empty map removes it).
    Metadata {
        /// Chaincode namespace.
        namespace: String,
        /// The key.
        key: String,
        /// The new entries.
        entries: BTreeMap<String, Vec<u8>>,
    },
}

/// The world state of one channel.
#[derive(Debug, Default)]
pub struct WorldState {
    namespaces: HashMap<String, BTreeMap<String, VersionedValue>>,
    /// Heights of every write of each key, oldest first.
    history: HashMap<(String, String), Vec<Height>>,
    transactions: HashMap<String, TxRecord>,
}

impl WorldState {
    /// The committed value of `key` in `namespace`.
    pub fn get(&self, namespace: &str, key: &str) -> Option<&VersionedValue> {
        self.namespaces.get(namespace)?.get(key)
    }

    /// The committed version of `key`, `None` when it does not exist.
    pub fn version(&self, namespace: &str, key: &str) -> Option<Height> {
        self.get(namespace, key).map(|value| value.version)
    }

    /// Keys in `[start, end)` (empty `end` = unbounded) in key order, at most `limit` of them.
    pub fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Vec<(String, VersionedValue)> {
        let Some(keys) = self.namespaces.get(namespace) else {
            return Vec::new();
        };
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        };
        if !end.is_empty() && end <= start {
            return Vec::new();
        }
        keys.range::<str, _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    /// The heights at which `key` was written or deleted, oldest first.
    pub fn history(&self, namespace: &str, key: &str) -> &[Height] {
        self.history
            .get(&(namespace.to_owned(), key.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// The record of a committed transaction id (valid or not).
    pub fn transaction(&self, tx_id: &str) -> Option<&TxRecord> {
        self.transactions.get(tx_id)
    }

    /// Records a committed transaction id (every transaction in a block, whatever its validation code).
    pub fn record_transaction(&mut self, tx_id: String, record: TxRecord) {
        // The first commit of a tx id wins; a later duplicate is marked invalid and must not replace it.
        self.transactions.entry(tx_id).or_insert(record);
    }

    /// Applies the writes of a valid transaction at `height`.
    pub fn apply(&mut self, height: Height, updates: impl IntoIterator<Item = StateUpdate>) {
        for update in updates {
            match update {
                StateUpdate::Put {
                    namespace,
                    key,
                    value,
                } => {
                    self.history
                        .entry((namespace.clone(), key.clone()))
                        .or_default()
                        .push(height);
                    let keys = self.namespaces.entry(namespace).or_default();
                    let metadata = keys
                        .remove(&key)
                        .map(|old| old.metadata)
                        .unwrap_or_default();
                    keys.insert(
                        key,
                        VersionedValue {
                            value,
                            version: height,
                            metadata,
                        },
                    );
                }
                StateUpdate::Delete { namespace, key } => {
                    self.history
                        .entry((namespace.clone(), key.clone()))
                        .or_default()
                        .push(height);
                    if let Some(keys) = self.namespaces.get_mut(&namespace) {
                        keys.remove(&key);
                    }
                }
                StateUpdate::Metadata {
                    namespace,
                    key,
                    entries,
                } => {
                    if let Some(value) = self
                        .namespaces
                        .get_mut(&namespace)
                        .and_then(|keys| keys.get_mut(&key))
                    {
                        value.metadata = entries;
                        value.version = height;
                    }
                }
            }
        }
    }

    /// How many transactions have been committed.
    pub fn transaction_count(&self) -> usize {
        self.transactions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &[u8]) -> StateUpdate {
        StateUpdate::Put {
            namespace: "cc".into(),
            key: key.into(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn versions_history_and_ranges_follow_writes() {
        let mut state = WorldState::default();
        let h1 = Height { block: 1, tx: 0 };
        let h2 = Height { block: 2, tx: 3 };
        state.apply(h1, [put("a", b"1"), put("b", b"2"), put("c", b"3")]);
        state.apply(
            h2,
            [
                put("a", b"10"),
                StateUpdate::Delete {
                    namespace: "cc".into(),
                    key: "b".into(),
                },
            ],
        );
        assert_eq!(state.version("cc", "a"), Some(h2));
        assert_eq!(state.version("cc", "b"), None);
        assert_eq!(state.version("cc", "c"), Some(h1));
        assert_eq!(state.history("cc", "a"), &[h1, h2]);
        assert_eq!(state.history("cc", "b"), &[h1, h2]);
        let keys: Vec<String> = state
            .range("cc", "a", "", usize::MAX)
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(keys, ["a", "c"]);
        assert!(state.range("cc", "b", "c", 10).is_empty());
        assert!(state.range("other", "", "", 10).is_empty());
    }

    #[test]
    fn first_commit_of_a_tx_id_is_kept() {
        let mut state = WorldState::default();
        let first = TxRecord {
            height: Height { block: 1, tx: 0 },
            validation_code: 0,
        };
        state.record_transaction("t".into(), first.clone());
        state.record_transaction(
            "t".into(),
            TxRecord {
                height: Height { block: 2, tx: 0 },
                validation_code: 9,
            },
        );
        assert_eq!(state.transaction("t"), Some(&first));
    }
}
