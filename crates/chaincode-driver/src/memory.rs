//! An in-memory ledger view for tests and benchmarks: a sorted map of keys with versions and history.

use std::collections::BTreeMap;
use std::sync::RwLock;

use fabric_protos::kvrwset::{KvrwSet, Version};
use fabric_protos::queryresult::KeyModification;
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;

use crate::simulator::{LedgerView, VersionedValue};

/// A committed value and its metadata entries, by (namespace, key).
type Entries = BTreeMap<(String, String), (VersionedValue, BTreeMap<String, Vec<u8>>)>;

#[derive(Debug, Default)]
struct Inner {
    state: Entries,
    history: BTreeMap<(String, String), Vec<KeyModification>>,
}

/// A world state in memory.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    inner: RwLock<Inner>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `key` directly, as if committed at `version` by `tx_id`.
    pub fn put(&self, namespace: &str, key: &str, value: &[u8], version: Version, tx_id: &str) {
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = (namespace.to_owned(), key.to_owned());
        let metadata = inner
            .state
            .remove(&id)
            .map(|(_, metadata)| metadata)
            .unwrap_or_default();
        inner.state.insert(
            id.clone(),
            (
                VersionedValue {
                    value: value.to_vec(),
                    version,
                },
                metadata,
            ),
        );
        inner.history.entry(id).or_default().push(KeyModification {
            tx_id: tx_id.to_owned(),
            value: value.to_vec(),
            timestamp: None,
            is_delete: false,
        });
    }

    /// Applies a simulated read-write set's writes as committed at `version`.
    pub fn commit(&self, rwset: &TxReadWriteSet, version: Version, tx_id: &str) {
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for namespace in &rwset.ns_rwset {
            let Ok(kv) = KvrwSet::decode(namespace.rwset.as_slice()) else {
                continue;
            };
            for write in kv.writes {
                let id = (namespace.namespace.clone(), write.key.clone());
                inner
                    .history
                    .entry(id.clone())
                    .or_default()
                    .push(KeyModification {
                        tx_id: tx_id.to_owned(),
                        value: write.value.clone(),
                        timestamp: None,
                        is_delete: write.is_delete,
                    });
                if write.is_delete {
                    inner.state.remove(&id);
                } else {
                    let metadata = inner
                        .state
                        .remove(&id)
                        .map(|(_, metadata)| metadata)
                        .unwrap_or_default();
                    inner.state.insert(
                        id,
                        (
                            VersionedValue {
                                value: write.value,
                                version,
                            },
                            metadata,
                        ),
                    );
                }
            }
            for metadata in kv.metadata_writes {
                let id = (namespace.namespace.clone(), metadata.key.clone());
                if let Some((value, entries)) = inner.state.get_mut(&id) {
                    value.version = version;
                    *entries = metadata
                        .entries
                        .into_iter()
                        .map(|entry| (entry.name, entry.value))
                        .collect();
                }
            }
        }
    }
}

impl LedgerView for MemoryLedger {
    fn get_state(&self, namespace: &str, key: &str) -> Option<VersionedValue> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .state
            .get(&(namespace.to_owned(), key.to_owned()))
            .map(|(value, _)| value.clone())
    }

    fn get_metadata(&self, namespace: &str, key: &str) -> BTreeMap<String, Vec<u8>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .state
            .get(&(namespace.to_owned(), key.to_owned()))
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default()
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Vec<(String, VersionedValue)> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .state
            .range((namespace.to_owned(), start.to_owned())..)
            .take_while(|((ns, key), _)| ns == namespace && (end.is_empty() || key.as_str() < end))
            .take(limit)
            .map(|((_, key), (value, _))| (key.clone(), value.clone()))
            .collect()
    }

    fn history(&self, namespace: &str, key: &str) -> Result<Vec<KeyModification>, String> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut entries = inner
            .history
            .get(&(namespace.to_owned(), key.to_owned()))
            .cloned()
            .unwrap_or_default();
        entries.reverse();
        Ok(entries)
    }
}
