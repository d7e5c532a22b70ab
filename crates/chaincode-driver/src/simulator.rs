//! Transaction simulation as a Fabric peer's transaction simulator does it: reads answered from committed
//! state and recorded with their versions (no read-your-own-writes), writes buffered (an empty value is a
//! delete), range scans recorded for phantom-read validation exactly as the peer records them (including
//! the result the peer reads ahead of each batch), and the result assembled into a sorted, deterministic
//! read-write set.

use std::collections::{BTreeMap, HashMap};

use fabric_protos::kvrwset::{
    KvMetadataEntry, KvMetadataWrite, KvRead, KvWrite, KvrwSet, RangeQueryInfo, Version,
};
use fabric_protos::queryresult::{KeyModification, Kv};
use fabric_protos::rwset::{NsReadWriteSet, TxReadWriteSet, tx_read_write_set};
use prost::Message;

use crate::range_reads::RangeReadsBuilder;

/// Most results a query returns (`ledger.state.totalQueryLimit` in the peer's sample configuration).
pub const TOTAL_QUERY_LIMIT: usize = 100_000;
/// Results per QueryResponse of a non-paginated iterator (the peer's `maxResultLimit`).
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
///
/// A peer holds its commit lock while it simulates, so a transaction sees one consistent state;
/// implementations should likewise not change between the calls of one transaction.
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
    /// The committed history of `key`, newest first. An error (e.g. history disabled) is passed to the
    /// chaincode as the peer's ERROR text.
    fn history(&self, namespace: &str, key: &str) -> Result<Vec<KeyModification>, String>;
}

impl std::fmt::Debug for dyn LedgerView + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LedgerView")
    }
}

/// A refusal the peer reports to the chaincode as ERROR (the text after `<REQUEST> failed: ...`).
pub type SimulationError = String;

/// What a range query records for phantom-read validation, built up as the peer's iterator advances.
#[derive(Debug)]
struct RangeRecord {
    start_key: String,
    /// The end key of the query, recorded once the iterator is exhausted.
    query_end_key: String,
    /// The last key read while the iterator is not exhausted.
    end_key: String,
    exhausted: bool,
    reads: RangeReadsBuilder,
}

impl RangeRecord {
    fn into_info(self) -> RangeQueryInfo {
        RangeQueryInfo {
            start_key: self.start_key,
            end_key: self.end_key,
            itr_exhausted: self.exhausted,
            reads_info: self.reads.finish(),
        }
    }
}

/// The source of an open iterator's results.
#[derive(Debug)]
enum Source {
    /// A state range: rows fetched from the ledger, and the record they go into.
    Range {
        rows: std::vec::IntoIter<(String, VersionedValue)>,
        record: usize,
    },
    /// A key's history (not part of the read-write set).
    History(std::vec::IntoIter<KeyModification>),
}

/// An open query iterator, as the peer keeps it between QUERY_STATE_NEXT requests.
#[derive(Debug)]
struct QueryIterator {
    source: Source,
    /// Results read from the source but not yet sent (the peer reads one result ahead of a full batch).
    pending: Vec<Vec<u8>>,
    /// Results read so far, counted against the query limit.
    returned: usize,
    /// For a paginated query: where the next page starts ("" when the range is exhausted).
    bookmark: Option<String>,
}

/// One QueryResponse worth of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Serialized `queryresult.KV` or `queryresult.KeyModification` values.
    pub results: Vec<Vec<u8>>,
    /// Whether QUERY_STATE_NEXT will return more.
    pub has_more: bool,
    /// Set for a paginated query: (fetched records count, bookmark of the next page).
    pub page: Option<(i32, String)>,
}

/// The state of one transaction's simulation.
#[derive(Debug)]
pub struct Simulator<'a> {
    namespace: String,
    tx_id: String,
    ledger: &'a dyn LedgerView,
    /// Whether anything was recorded in the namespace (a peer omits an untouched namespace).
    touched: bool,
    reads: BTreeMap<String, Option<Version>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    metadata_writes: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    ranges: Vec<RangeRecord>,
    iterators: HashMap<String, QueryIterator>,
    next_iterator: u64,
    wrote: bool,
    paginated_query: bool,
}

impl<'a> Simulator<'a> {
    /// A simulation of transaction `tx_id` of chaincode `namespace` over `ledger`.
    pub fn new(namespace: &str, tx_id: &str, ledger: &'a dyn LedgerView) -> Self {
        Self {
            namespace: namespace.to_owned(),
            tx_id: tx_id.to_owned(),
            ledger,
            touched: false,
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            metadata_writes: BTreeMap::new(),
            ranges: Vec::new(),
            iterators: HashMap::new(),
            next_iterator: 0,
            wrote: false,
            paginated_query: false,
        }
    }

    /// A write is refused once the transaction has run a paginated query, as on a peer.
    fn check_write_allowed(&mut self) -> Result<(), SimulationError> {
        if self.paginated_query {
            return Err(format!(
                "txid [{}]: unsupported transaction: a transaction that ran a paginated query cannot write",
                self.tx_id
            ));
        }
        self.wrote = true;
        self.touched = true;
        Ok(())
    }

    fn record_read(&mut self, key: &str, version: Option<Version>) {
        // The peer keeps the version of the last read of a key.
        self.reads.insert(key.to_owned(), version);
        self.touched = true;
    }

    /// GET_STATE: the committed value (empty when absent), recording the version read.
    pub fn get_state(&mut self, key: &str) -> Vec<u8> {
        let committed = self.ledger.get_state(&self.namespace, key);
        self.record_read(key, committed.as_ref().map(|value| value.version));
        committed.map(|value| value.value).unwrap_or_default()
    }

    /// PUT_STATE (an empty value deletes).
    pub fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), SimulationError> {
        self.check_write_allowed()?;
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

    /// GET_STATE_METADATA: committed metadata, recording the version read (the peer reads the key).
    pub fn get_metadata(&mut self, key: &str) -> BTreeMap<String, Vec<u8>> {
        let committed = self.ledger.get_state(&self.namespace, key);
        self.record_read(key, committed.as_ref().map(|value| value.version));
        self.ledger.get_metadata(&self.namespace, key)
    }

    /// PUT_STATE_METADATA: the key's metadata becomes this one entry (the peer replaces the whole metadata
    /// of the key, and a later call in the same transaction replaces an earlier one).
    pub fn put_metadata(
        &mut self,
        key: &str,
        name: &str,
        value: Vec<u8>,
    ) -> Result<(), SimulationError> {
        self.check_write_allowed()?;
        self.metadata_writes
            .insert(key.to_owned(), BTreeMap::from([(name.to_owned(), value)]));
        Ok(())
    }

    fn new_iterator_id(&mut self) -> String {
        self.next_iterator += 1;
        format!("{}-{}", self.tx_id, self.next_iterator)
    }

    fn open_range_iterator(
        &mut self,
        start: &str,
        end: &str,
        bookmark: Option<String>,
        rows: Vec<(String, VersionedValue)>,
    ) -> String {
        self.touched = true;
        self.ranges.push(RangeRecord {
            start_key: start.to_owned(),
            query_end_key: end.to_owned(),
            end_key: String::new(),
            exhausted: false,
            reads: RangeReadsBuilder::default(),
        });
        let record = self.ranges.len() - 1;
        let id = self.new_iterator_id();
        self.iterators.insert(
            id.clone(),
            QueryIterator {
                source: Source::Range {
                    rows: rows.into_iter(),
                    record,
                },
                pending: Vec::new(),
                returned: 0,
                bookmark,
            },
        );
        id
    }

    /// GET_STATE_BY_RANGE without pagination: opens an iterator and returns its first batch.
    pub fn open_range(&mut self, start: &str, end: &str) -> (String, Batch) {
        let rows = self
            .ledger
            .range(&self.namespace, start, end, TOTAL_QUERY_LIMIT);
        let id = self.open_range_iterator(start, end, None, rows);
        let batch = self.fill(&id, TOTAL_QUERY_LIMIT);
        (id, batch)
    }

    /// GET_STATE_BY_RANGE with pagination: one page starting at `bookmark` (or `start`) and the bookmark of
    /// the next page ("" when the range is exhausted). Only allowed before any write.
    pub fn open_page(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<(String, Batch), SimulationError> {
        if self.wrote {
            return Err(format!(
                "txid [{}]: unsupported transaction: paginated queries are only allowed in read-only transactions",
                self.tx_id
            ));
        }
        self.paginated_query = true;
        // The peer restarts the scan at the bookmark, which is recorded as the start of the range.
        let from = if bookmark.is_empty() { start } else { bookmark };
        let limit = usize::try_from(page_size)
            .ok()
            .filter(|size| *size > 0)
            .map_or(TOTAL_QUERY_LIMIT, |size| size.min(TOTAL_QUERY_LIMIT));
        let mut rows = self
            .ledger
            .range(&self.namespace, from, end, limit.saturating_add(1));
        let next = if rows.len() > limit {
            rows.pop().map(|(key, _)| key).unwrap_or_default()
        } else {
            String::new()
        };
        let id = self.open_range_iterator(from, end, Some(next), rows);
        let batch = self.fill(&id, limit);
        Ok((id, batch))
    }

    /// GET_HISTORY_FOR_KEY: opens an iterator over the history (not recorded in the read set).
    pub fn open_history(&mut self, key: &str) -> Result<(String, Batch), SimulationError> {
        let history = self.ledger.history(&self.namespace, key)?;
        let id = self.new_iterator_id();
        self.iterators.insert(
            id.clone(),
            QueryIterator {
                source: Source::History(history.into_iter()),
                pending: Vec::new(),
                returned: 0,
                bookmark: None,
            },
        );
        let batch = self.fill(&id, TOTAL_QUERY_LIMIT);
        Ok((id, batch))
    }

    /// QUERY_STATE_NEXT: the next batch of an open iterator.
    pub fn next_batch(&mut self, id: &str) -> Result<Batch, SimulationError> {
        if !self.iterators.contains_key(id) {
            return Err(format!("query iterator not found: {id}"));
        }
        Ok(self.fill(id, TOTAL_QUERY_LIMIT))
    }

    /// QUERY_STATE_CLOSE: releases the iterator (what it read stays recorded).
    pub fn close(&mut self, id: &str) {
        self.iterators.remove(id);
    }

    /// Advances an iterator by one result, recording it as the peer's range iterator does: each key read
    /// becomes the provisional end of the range; running out marks the range exhausted with its real end.
    fn advance(&mut self, id: &str) -> Option<Vec<u8>> {
        let iterator = self.iterators.get_mut(id)?;
        match &mut iterator.source {
            Source::History(entries) => entries.next().map(|entry| entry.encode_to_vec()),
            Source::Range { rows, record } => {
                let record = self.ranges.get_mut(*record)?;
                match rows.next() {
                    Some((key, value)) => {
                        record.reads.add(key.clone(), value.version);
                        record.end_key.clone_from(&key);
                        Some(
                            Kv {
                                namespace: self.namespace.clone(),
                                key,
                                value: value.value,
                            }
                            .encode_to_vec(),
                        )
                    }
                    None => {
                        record.exhausted = true;
                        record.end_key.clone_from(&record.query_end_key);
                        None
                    }
                }
            }
        }
    }

    /// Builds the next QueryResponse of an iterator the way the peer does: results are queued until a
    /// batch is full, and the result read after a full batch is kept for the next one; the iterator is
    /// released when it runs out or reaches `limit` (or after one page, for a paginated query).
    fn fill(&mut self, id: &str, limit: usize) -> Batch {
        let paginated = self
            .iterators
            .get(id)
            .is_some_and(|iterator| iterator.bookmark.is_some());
        loop {
            let Some(iterator) = self.iterators.get(id) else {
                return Batch {
                    results: Vec::new(),
                    has_more: false,
                    page: None,
                };
            };
            if iterator.returned >= limit {
                return self.finish(id);
            }
            let Some(result) = self.advance(id) else {
                return self.finish(id);
            };
            let Some(iterator) = self.iterators.get_mut(id) else {
                return self.finish(id);
            };
            iterator.returned += 1;
            if !paginated && iterator.pending.len() == BATCH_SIZE {
                let results = std::mem::replace(&mut iterator.pending, vec![result]);
                return Batch {
                    results,
                    has_more: true,
                    page: None,
                };
            }
            iterator.pending.push(result);
        }
    }

    fn finish(&mut self, id: &str) -> Batch {
        let Some(iterator) = self.iterators.remove(id) else {
            return Batch {
                results: Vec::new(),
                has_more: false,
                page: None,
            };
        };
        let count = i32::try_from(iterator.returned).unwrap_or(i32::MAX);
        Batch {
            results: iterator.pending,
            has_more: false,
            page: iterator.bookmark.map(|bookmark| (count, bookmark)),
        }
    }

    /// The read-write set, sorted by key as Fabric's builder sorts it; range queries in the order they
    /// were opened, a repeated identical one recorded once. Without any read, write or range query the
    /// set has no namespace at all, as on a peer.
    pub fn into_rwset(self) -> TxReadWriteSet {
        let mut ns_rwset = Vec::new();
        if self.touched {
            let mut range_queries_info: Vec<RangeQueryInfo> = Vec::new();
            for record in self.ranges {
                let info = record.into_info();
                let seen = range_queries_info.iter().any(|other| {
                    other.start_key == info.start_key
                        && other.end_key == info.end_key
                        && other.itr_exhausted == info.itr_exhausted
                });
                if !seen {
                    range_queries_info.push(info);
                }
            }
            let kv = KvrwSet {
                reads: self
                    .reads
                    .into_iter()
                    .map(|(key, version)| KvRead { key, version })
                    .collect(),
                range_queries_info,
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
            ns_rwset.push(NsReadWriteSet {
                namespace: self.namespace,
                rwset: kv.encode_to_vec(),
                collection_hashed_rwset: Vec::new(),
            });
        }
        TxReadWriteSet {
            data_model: tx_read_write_set::DataModel::Kv as i32,
            ns_rwset,
        }
    }
}

#[cfg(test)]
mod tests {
    use fabric_protos::kvrwset::range_query_info::ReadsInfo;

    use super::*;
    use crate::memory::MemoryLedger;

    fn version(block_num: u64) -> Version {
        Version {
            block_num,
            tx_num: 0,
        }
    }

    fn ledger_with(count: usize) -> MemoryLedger {
        let ledger = MemoryLedger::new();
        for i in 0..count {
            ledger.put("cc", &format!("k{i:03}"), b"v", version(i as u64), "seed");
        }
        ledger
    }

    fn kv(rwset: &TxReadWriteSet) -> KvrwSet {
        assert_eq!(rwset.ns_rwset.len(), 1);
        assert_eq!(rwset.ns_rwset[0].namespace, "cc");
        KvrwSet::decode(rwset.ns_rwset[0].rwset.as_slice()).unwrap()
    }

    fn keys(batch: &Batch) -> Vec<String> {
        batch
            .results
            .iter()
            .map(|bytes| Kv::decode(bytes.as_slice()).unwrap().key)
            .collect()
    }

    /// The reads_info a peer records after reading the first `count` keys of `ledger_with`.
    fn expected_reads(count: usize) -> Option<ReadsInfo> {
        let mut builder = RangeReadsBuilder::default();
        for i in 0..count {
            builder.add(format!("k{i:03}"), version(i as u64));
        }
        builder.finish()
    }

    #[test]
    fn a_scan_stopped_after_one_batch_records_the_read_ahead_key() {
        let ledger = ledger_with(250);
        let mut simulator = Simulator::new("cc", "tx", &ledger);
        let (id, first) = simulator.open_range("k000", "k999");
        assert_eq!(first.results.len(), BATCH_SIZE);
        assert!(first.has_more);
        simulator.close(&id);
        let set = kv(&simulator.into_rwset());
        let [info] = set.range_queries_info.as_slice() else {
            panic!("one range query");
        };
        // The peer read the 101st key to learn that more follow; it is the recorded end of the scan.
        assert_eq!(
            (info.start_key.as_str(), info.end_key.as_str()),
            ("k000", "k100")
        );
        assert!(!info.itr_exhausted);
        assert_eq!(info.reads_info, expected_reads(101));
        assert!(matches!(
            info.reads_info,
            Some(ReadsInfo::ReadsMerkleHashes(_))
        ));
    }

    #[test]
    fn a_drained_scan_is_exhausted_with_the_query_end_key() {
        let ledger = ledger_with(250);
        let mut simulator = Simulator::new("cc", "tx", &ledger);
        let (id, first) = simulator.open_range("k000", "k999");
        let second = simulator.next_batch(&id).unwrap();
        let third = simulator.next_batch(&id).unwrap();
        assert_eq!(keys(&second)[0], "k100");
        assert_eq!((second.results.len(), second.has_more), (BATCH_SIZE, true));
        assert_eq!((third.results.len(), third.has_more), (50, false));
        assert_eq!(keys(&third).last().map(String::as_str), Some("k249"));
        assert!(first.has_more);
        // The iterator is released once exhausted.
        assert!(simulator.next_batch(&id).is_err());
        let set = kv(&simulator.into_rwset());
        let info = &set.range_queries_info[0];
        assert_eq!(info.end_key, "k999");
        assert!(info.itr_exhausted);
        assert_eq!(info.reads_info, expected_reads(250));
    }

    #[test]
    fn small_and_empty_scans_record_raw_reads_or_nothing() {
        let ledger = ledger_with(100);
        let mut simulator = Simulator::new("cc", "tx", &ledger);
        let (_, all) = simulator.open_range("k000", "k100");
        // Exactly one full batch: the peer sees the end while filling it.
        assert_eq!((all.results.len(), all.has_more), (100, false));
        let (_, few) = simulator.open_range("k010", "k013");
        assert_eq!(keys(&few), ["k010", "k011", "k012"]);
        let (_, none) = simulator.open_range("x", "");
        assert!(none.results.is_empty());
        // The same scan again is recorded once.
        let _ = simulator.open_range("k010", "k013");
        let set = kv(&simulator.into_rwset());
        assert_eq!(set.range_queries_info.len(), 3);
        let Some(ReadsInfo::RawReads(raw)) = &set.range_queries_info[1].reads_info else {
            panic!("three reads stay raw");
        };
        let read_keys: Vec<&str> = raw.kv_reads.iter().map(|read| read.key.as_str()).collect();
        assert_eq!(read_keys, ["k010", "k011", "k012"]);
        assert_eq!(raw.kv_reads[0].version, Some(version(10)));
        let empty = &set.range_queries_info[2];
        assert_eq!(
            (empty.start_key.as_str(), empty.end_key.as_str()),
            ("x", "")
        );
        assert!(empty.itr_exhausted);
        assert_eq!(empty.reads_info, None);
        // Range reads are not point reads.
        assert!(set.reads.is_empty());
    }

    #[test]
    fn pages_restart_at_the_bookmark_and_record_what_they_read() {
        let ledger = ledger_with(250);
        let mut simulator = Simulator::new("cc", "tx", &ledger);
        let (_, first) = simulator.open_page("k000", "k999", 100, "").unwrap();
        assert_eq!(first.results.len(), 100);
        assert_eq!(first.page, Some((100, "k100".to_owned())));
        assert!(!first.has_more);
        let (_, last) = simulator.open_page("k000", "k999", 100, "k200").unwrap();
        assert_eq!(keys(&last)[0], "k200");
        assert_eq!(last.page, Some((50, String::new())));
        let set = kv(&simulator.into_rwset());
        let [page_one, page_three] = set.range_queries_info.as_slice() else {
            panic!("two range queries");
        };
        // A full page stops without looking further: not exhausted, ends at its last key.
        assert_eq!(
            (
                page_one.start_key.as_str(),
                page_one.end_key.as_str(),
                page_one.itr_exhausted
            ),
            ("k000", "k099", false)
        );
        assert_eq!(page_one.reads_info, expected_reads(100));
        assert_eq!(
            (
                page_three.start_key.as_str(),
                page_three.end_key.as_str(),
                page_three.itr_exhausted
            ),
            ("k200", "k999", true)
        );
    }

    #[test]
    fn paginated_queries_and_writes_exclude_each_other() {
        let ledger = ledger_with(3);
        let mut reader = Simulator::new("cc", "tx1", &ledger);
        reader.open_page("", "", 2, "").unwrap();
        let refused = reader.put_state("k000", b"x".to_vec()).unwrap_err();
        assert!(
            refused.contains("tx1") && refused.contains("paginated"),
            "{refused}"
        );
        assert!(reader.put_metadata("k000", "m", Vec::new()).is_err());
        assert!(reader.del_state("k000").is_err());

        let mut writer = Simulator::new("cc", "tx2", &ledger);
        writer.del_state("k001").unwrap();
        let refused = writer.open_page("", "", 2, "").unwrap_err();
        assert!(refused.contains("read-only"), "{refused}");
        // Plain ranges are fine in a writing transaction.
        assert_eq!(writer.open_range("", "").1.results.len(), 3);
    }

    #[test]
    fn writes_metadata_and_reads_are_recorded_as_a_peer_does() {
        let ledger = ledger_with(2);
        let mut simulator = Simulator::new("cc", "tx", &ledger);
        assert_eq!(simulator.get_state("k000"), b"v");
        assert!(simulator.get_state("absent").is_empty());
        simulator.put_state("k000", b"new".to_vec()).unwrap();
        // No read-your-own-writes.
        assert_eq!(simulator.get_state("k000"), b"v");
        simulator.put_state("gone", Vec::new()).unwrap();
        simulator
            .put_metadata("k001", "first", b"1".to_vec())
            .unwrap();
        simulator
            .put_metadata("k001", "VALIDATION_PARAMETER", b"p".to_vec())
            .unwrap();
        // A later read of a key that changed in between keeps the later version, like the peer.
        ledger.put("cc", "k000", b"v2", version(9), "other");
        simulator.get_state("k000");
        let set = kv(&simulator.into_rwset());
        let reads: Vec<(&str, Option<Version>)> = set
            .reads
            .iter()
            .map(|read| (read.key.as_str(), read.version))
            .collect();
        assert_eq!(reads, [("absent", None), ("k000", Some(version(9)))]);
        let writes: Vec<(&str, &[u8], bool)> = set
            .writes
            .iter()
            .map(|write| (write.key.as_str(), write.value.as_slice(), write.is_delete))
            .collect();
        assert_eq!(
            writes,
            [("gone", &b""[..], true), ("k000", &b"new"[..], false)]
        );
        // The last metadata call replaces the key's whole metadata.
        assert_eq!(
            set.metadata_writes,
            [KvMetadataWrite {
                key: "k001".to_owned(),
                entries: vec![KvMetadataEntry {
                    name: "VALIDATION_PARAMETER".to_owned(),
                    value: b"p".to_vec()
                }]
            }]
        );
    }

    #[test]
    fn a_transaction_that_touches_nothing_has_no_namespace() {
        let ledger = ledger_with(1);
        let mut simulator = Simulator::new("cc", "tx", &ledger);
        let (_, history) = simulator.open_history("k000").unwrap();
        assert_eq!(history.results.len(), 1);
        let rwset = simulator.into_rwset();
        assert!(rwset.ns_rwset.is_empty());
        assert_eq!(rwset.data_model, tx_read_write_set::DataModel::Kv as i32);
    }

    #[test]
    fn history_comes_in_batches_newest_first() {
        let ledger = MemoryLedger::new();
        for i in 0..150u64 {
            ledger.put(
                "cc",
                "h",
                format!("{i}").as_bytes(),
                version(i),
                &format!("t{i}"),
            );
        }
        let mut simulator = Simulator::new("cc", "tx", &ledger);
        let (id, first) = simulator.open_history("h").unwrap();
        assert_eq!((first.results.len(), first.has_more), (100, true));
        let newest = KeyModification::decode(first.results[0].as_slice()).unwrap();
        assert_eq!(newest.tx_id, "t149");
        let rest = simulator.next_batch(&id).unwrap();
        assert_eq!((rest.results.len(), rest.has_more), (50, false));
    }
}
