//! Transaction simulation as a Fabric peer's transaction simulator does it: reads answered from committed
//! state and recorded with their versions (no read-your-own-writes), writes buffered (an empty value is a
//! delete), range scans recorded for phantom-read validation, and the result assembled into a sorted,
//! deterministic read-write set.

use std::collections::{BTreeMap, HashMap};

use fabric_protos::kvrwset::{
    KvMetadataEntry, KvMetadataWrite, KvRead, KvWrite, KvrwSet, QueryReads, RangeQueryInfo,
    Version, range_query_info,
};
use fabric_protos::queryresult::KeyModification;
use fabric_protos::rwset::{NsReadWriteSet, TxReadWriteSet, tx_read_write_set};
use prost::Message;

/// Most results a range query returns (Fabric's `ledger.state.totalQueryLimit`).
pub const TOTAL_QUERY_LIMIT: usize = 100_000;
/// Results per QueryResponse batch of a non-paginated iterator.
pub const BATCH_SIZE: usize = 100;

/// A committed value with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedValue {
    /// The value.
    pub value: Vec<u8>,
    /// The version (height of the last write).
    pub version: Version,
}

/// The committed world state the simulation reads. Implemented by the ledger that drives the chaincode.
pub trait LedgerView: Send + Sync {
    /// The committed value of `key` in `namespace`.
    fn get_state(&self, namespace: &str, key: &str) -> Option<VersionedValue>;
    /// Committed metadata entries of `key` (empty when none).
    fn get_metadata(&self, namespace: &str, key: &str) -> BTreeMap<String, Vec<u8>>;
    /// Keys in `[start, end)` (`end` empty = unbounded) in key order, at most `limit`.
    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Vec<(String, VersionedValue)>;
    /// The committed history of `key`, newest first.
    fn history(&self, namespace: &str, key: &str) -> Result<Vec<KeyModification>, String>;
}

/// An open non-paginated iterator: its results and how far the chaincode has been sent them.
#[derive(Debug)]
pub(crate) struct RangeIterator {
    pub(crate) results: Vec<Vec<u8>>,
    pub(crate) sent: usize,
    /// Index into `range_queries` of the range this iterator records, if it is a state range.
    record: Option<usize>,
    keys: Vec<(String, Version)>,
}

/// The state of one transaction's simulation.
#[derive(Debug)]
pub struct Simulator<'a> {
    namespace: String,
    tx_id: String,
    ledger: &'a dyn LedgerView,
    reads: BTreeMap<String, Option<Version>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    metadata_writes: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    range_queries: Vec<RangeQueryInfo>,
    iterators: HashMap<String, RangeIterator>,
    next_iterator: u64,
    paginated_query: bool,
}

impl std::fmt::Debug for dyn LedgerView + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LedgerView")
    }
}

/// A refusal the peer reports to the chaincode as ERROR.
pub type SimulationError = String;

impl<'a> Simulator<'a> {
    /// A simulation of transaction `tx_id` of chaincode `namespace` over `ledger`.
    pub fn new(namespace: &str, tx_id: &str, ledger: &'a dyn LedgerView) -> Self {
        Self {
            namespace: namespace.to_owned(),
            tx_id: tx_id.to_owned(),
            ledger,
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            metadata_writes: BTreeMap::new(),
            range_queries: Vec::new(),
            iterators: HashMap::new(),
            next_iterator: 0,
            paginated_query: false,
        }
    }

    fn wrote(&self) -> bool {
        !self.writes.is_empty() || !self.metadata_writes.is_empty()
    }

    fn check_write_allowed(&self) -> Result<(), SimulationError> {
        if self.paginated_query {
            return Err(format!(
                "txid [{}]: unsupported transaction. Queries with pagination are not supported in transactions that write",
                self.tx_id
            ));
        }
        Ok(())
    }

    /// GET_STATE: the committed value, recording the version read.
    pub fn get_state(&mut self, key: &str) -> Vec<u8> {
        let committed = self.ledger.get_state(&self.namespace, key);
        // Keep the first version seen: validation then catches any commit that happened since.
        self.reads
            .entry(key.to_owned())
            .or_insert_with(|| committed.as_ref().map(|value| value.version));
        committed.map(|value| value.value).unwrap_or_default()
    }

    /// PUT_STATE (an empty value deletes).
    pub fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), SimulationError> {
        self.check_write_allowed()?;
        if key.is_empty() {
            return Err("key must not be an empty string".to_owned());
        }
        self.writes
            .insert(key.to_owned(), (!value.is_empty()).then_some(value));
        Ok(())
    }

    /// DEL_STATE.
    pub fn del_state(&mut self, key: &str) -> Result<(), SimulationError> {
        self.check_write_allowed()?;
        self.writes.insert(key.to_owned(), None);
        Ok(())
    }

    /// GET_STATE_METADATA: committed metadata, recording the version read.
    pub fn get_metadata(&mut self, key: &str) -> BTreeMap<String, Vec<u8>> {
        let committed = self.ledger.get_state(&self.namespace, key);
        self.reads
            .entry(key.to_owned())
            .or_insert_with(|| committed.as_ref().map(|value| value.version));
        self.ledger.get_metadata(&self.namespace, key)
    }

    /// PUT_STATE_METADATA: one entry.
    pub fn put_metadata(
        &mut self,
        key: &str,
        name: &str,
        value: Vec<u8>,
    ) -> Result<(), SimulationError> {
        self.check_write_allowed()?;
        let entries = self
            .metadata_writes
            .entry(key.to_owned())
            .or_insert_with(|| self.ledger.get_metadata(&self.namespace, key));
        entries.insert(name.to_owned(), value);
        Ok(())
    }

    fn new_iterator_id(&mut self) -> String {
        self.next_iterator += 1;
        format!("{}-{}", self.tx_id, self.next_iterator)
    }

    /// GET_STATE_BY_RANGE without pagination: opens an iterator and returns its id.
    pub fn open_range(&mut self, start: &str, end: &str) -> String {
        let rows = self
            .ledger
            .range(&self.namespace, start, end, TOTAL_QUERY_LIMIT);
        let keys = rows
            .iter()
            .map(|(key, value)| (key.clone(), value.version))
            .collect();
        let results = rows
            .into_iter()
            .map(|(key, value)| {
                fabric_protos::queryresult::Kv {
                    namespace: self.namespace.clone(),
                    key,
                    value: value.value,
                }
                .encode_to_vec()
            })
            .collect();
        self.range_queries.push(RangeQueryInfo {
            start_key: start.to_owned(),
            end_key: end.to_owned(),
            itr_exhausted: false,
            reads_info: Some(range_query_info::ReadsInfo::RawReads(QueryReads {
                kv_reads: Vec::new(),
            })),
        });
        let record = Some(self.range_queries.len() - 1);
        let id = self.new_iterator_id();
        self.iterators.insert(
            id.clone(),
            RangeIterator {
                results,
                sent: 0,
                record,
                keys,
            },
        );
        id
    }

    /// GET_HISTORY_FOR_KEY: opens an iterator over the history (not recorded in the read set).
    pub fn open_history(&mut self, key: &str) -> Result<String, SimulationError> {
        let results = self
            .ledger
            .history(&self.namespace, key)?
            .into_iter()
            .map(|modification| modification.encode_to_vec())
            .collect();
        let id = self.new_iterator_id();
        self.iterators.insert(
            id.clone(),
            RangeIterator {
                results,
                sent: 0,
                record: None,
                keys: Vec::new(),
            },
        );
        Ok(id)
    }

    /// The next batch of an iterator: (results, has_more). Unknown ids are an error.
    pub fn next_batch(&mut self, id: &str) -> Result<(Vec<Vec<u8>>, bool), SimulationError> {
        let iterator = self
            .iterators
            .get_mut(id)
            .ok_or_else(|| format!("query iterator not found: {id}"))?;
        let end = (iterator.sent + BATCH_SIZE).min(iterator.results.len());
        let batch = iterator.results[iterator.sent..end].to_vec();
        let sent_before = iterator.sent;
        iterator.sent = end;
        let has_more = end < iterator.results.len();
        if let Some(record) = iterator.record {
            let reads: Vec<KvRead> = iterator.keys[sent_before..end]
                .iter()
                .map(|(key, version)| KvRead {
                    key: key.clone(),
                    version: Some(*version),
                })
                .collect();
            let exhausted = !has_more;
            if let Some(info) = self.range_queries.get_mut(record) {
                if let Some(range_query_info::ReadsInfo::RawReads(raw)) = &mut info.reads_info {
                    raw.kv_reads.extend(reads);
                }
                info.itr_exhausted = exhausted;
            }
        }
        if !has_more {
            self.iterators.remove(id);
        }
        Ok((batch, has_more))
    }

    /// QUERY_STATE_CLOSE.
    pub fn close(&mut self, id: &str) {
        self.iterators.remove(id);
    }

    /// GET_STATE_BY_RANGE with pagination: one page and the bookmark of the next (empty when done).
    pub fn page(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<(Vec<Vec<u8>>, String), SimulationError> {
        if self.wrote() {
            return Err(format!(
                "txid [{}]: unsupported transaction. Queries with pagination are not supported in transactions that write",
                self.tx_id
            ));
        }
        self.paginated_query = true;
        let from = if bookmark.is_empty() || bookmark < start {
            start
        } else {
            bookmark
        };
        let size = usize::try_from(page_size.max(1)).unwrap_or(1);
        let mut rows = self.ledger.range(&self.namespace, from, end, size + 1);
        let next = if rows.len() > size {
            rows.pop().map(|(key, _)| key).unwrap_or_default()
        } else {
            String::new()
        };
        let results = rows
            .into_iter()
            .map(|(key, value)| {
                fabric_protos::queryresult::Kv {
                    namespace: self.namespace.clone(),
                    key,
                    value: value.value,
                }
                .encode_to_vec()
            })
            .collect();
        Ok((results, next))
    }

    /// The read-write set, sorted by key as Fabric's builder sorts it.
    pub fn into_rwset(self) -> TxReadWriteSet {
        let kv = KvrwSet {
            reads: self
                .reads
                .into_iter()
                .map(|(key, version)| KvRead { key, version })
                .collect(),
            range_queries_info: self.range_queries,
            writes: self
                .writes
                .into_iter()
                .map(|(key, value)| KvWrite {
                    key,
                    is_delete: value.is_none(),
                    value: value.unwrap_or_default(),
                })
                .collect(),
            metadata_writes: self
                .metadata_writes
                .into_iter()
                .map(|(key, entries)| KvMetadataWrite {
                    key,
                    entries: entries
                        .into_iter()
                        .map(|(name, value)| KvMetadataEntry { name, value })
                        .collect(),
                })
                .collect(),
        };
        TxReadWriteSet {
            data_model: tx_read_write_set::DataModel::Kv as i32,
            ns_rwset: vec![NsReadWriteSet {
                namespace: self.namespace,
                rwset: kv.encode_to_vec(),
                collection_hashed_rwset: Vec::new(),
            }],
        }
    }
}
