//! How a range query's reads go into the read-write set, and how a validator checks them again.
//!
//! A Fabric peer does not always store the keys a range query returned: up to 50 reads are kept raw, beyond
//! that they are folded into a Merkle summary (SHA-256, degree 50) so large scans stay small in the block.
//! Endorsers must produce byte-identical read-write sets, so the driver builds exactly the summary a peer
//! would, and a committing ledger recomputes it over the current state to detect phantom reads.

use fabric_protos::kvrwset::{
    KvRead, QueryReads, QueryReadsMerkleSummary, RangeQueryInfo, Version, range_query_info,
};
use prost::Message;

/// The Merkle tree degree Fabric uses for range query reads (not configurable on a peer).
pub const MAX_DEGREE: u32 = 50;

/// The level of the tree whose nodes hash raw reads.
const LEAF_LEVEL: u32 = 1;

type Hash = [u8; 32];

fn sha256(bytes: &[u8]) -> Hash {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest.as_ref());
    hash
}

fn combined_hash(hashes: &[Hash]) -> Hash {
    sha256(&hashes.concat())
}

/// Accumulates the reads of one range query in iteration order and yields the `reads_info` a peer
/// records: nothing for an empty result, raw reads up to [`MAX_DEGREE`] results, a Merkle summary above.
#[derive(Debug, Clone)]
pub struct RangeReadsBuilder {
    max_degree: u32,
    pending: Vec<KvRead>,
    /// Hashes per tree level; a level is folded into one hash of the next as soon as it exceeds the degree.
    levels: std::collections::BTreeMap<u32, Vec<Hash>>,
    max_level: u32,
}

impl Default for RangeReadsBuilder {
    fn default() -> Self {
        Self::new(MAX_DEGREE)
    }
}

impl RangeReadsBuilder {
    /// A builder with tree degree `max_degree` (Fabric always uses [`MAX_DEGREE`]; a validator uses the
    /// degree recorded in the summary). Degrees below 2 are raised to 2, the smallest tree Fabric builds.
    pub fn new(max_degree: u32) -> Self {
        Self {
            max_degree: max_degree.max(2),
            pending: Vec::new(),
            levels: std::collections::BTreeMap::new(),
            max_level: LEAF_LEVEL,
        }
    }

    /// Adds the next result of the iteration.
    pub fn add(&mut self, key: String, version: Version) {
        self.pending.push(KvRead {
            key,
            version: Some(version),
        });
        if self.pending.len() > self.max_degree as usize {
            self.hash_pending();
        }
    }

    fn hash_pending(&mut self) {
        let reads = QueryReads {
            kv_reads: std::mem::take(&mut self.pending),
        };
        let leaf = sha256(&reads.encode_to_vec());
        self.push(LEAF_LEVEL, leaf);
    }

    /// Adds `hash` at `level` and folds every level that now holds more than the degree allows.
    fn push(&mut self, level: u32, hash: Hash) {
        let mut level = level;
        self.levels.entry(level).or_default().push(hash);
        loop {
            let Some(hashes) = self.levels.get(&level) else {
                return;
            };
            if hashes.len() <= self.max_degree as usize {
                return;
            }
            let folded = combined_hash(hashes);
            self.levels.remove(&level);
            level += 1;
            self.levels.entry(level).or_default().push(folded);
            self.max_level = self.max_level.max(level);
        }
    }

    fn tree_is_empty(&self) -> bool {
        self.max_level == LEAF_LEVEL && self.levels.get(&LEAF_LEVEL).is_none_or(Vec::is_empty)
    }

    /// What the peer stores in `RangeQueryInfo.reads_info`.
    pub fn finish(mut self) -> Option<range_query_info::ReadsInfo> {
        if self.tree_is_empty() {
            return (!self.pending.is_empty()).then_some(range_query_info::ReadsInfo::RawReads(
                QueryReads {
                    kv_reads: self.pending,
                },
            ));
        }
        if !self.pending.is_empty() {
            self.hash_pending();
        }
        // Carry the partial lower levels up to the highest one, then fold that one if it is too wide.
        let mut level = LEAF_LEVEL;
        while level < self.max_level {
            let hashes = self.levels.remove(&level).unwrap_or_default();
            level += 1;
            let carried = match hashes.as_slice() {
                [] => continue,
                [single] => *single,
                several => combined_hash(several),
            };
            self.levels.entry(level).or_default().push(carried);
        }
        let top = self.levels.remove(&self.max_level).unwrap_or_default();
        let top = if top.len() > self.max_degree as usize {
            self.max_level += 1;
            vec![combined_hash(&top)]
        } else {
            top
        };
        Some(range_query_info::ReadsInfo::ReadsMerkleHashes(
            QueryReadsMerkleSummary {
                max_degree: self.max_degree,
                max_level: self.max_level,
                max_level_hashes: top.into_iter().map(|hash| hash.to_vec()).collect(),
            },
        ))
    }
}

/// Whether a range query recorded at endorsement still returns the same results, as Fabric's validator
/// decides it (a `false` is a PHANTOM_READ_CONFLICT).
///
/// `current` must yield, in key order, the keys and versions of the range *as of validation* (committed
/// state with the writes of earlier valid transactions of the block applied): keys from `info.start_key`
/// up to `info.end_key`, excluded when `info.itr_exhausted`, **included** otherwise — a peer records the
/// last key it read as the end of a scan the chaincode did not finish.
pub fn range_query_unchanged(
    info: &RangeQueryInfo,
    current: impl IntoIterator<Item = (String, Version)>,
) -> bool {
    let mut current = current.into_iter();
    match &info.reads_info {
        None | Some(range_query_info::ReadsInfo::RawReads(_)) => {
            let recorded = match &info.reads_info {
                Some(range_query_info::ReadsInfo::RawReads(raw)) => raw.kv_reads.as_slice(),
                _ => &[],
            };
            let same = recorded.iter().all(|read| {
                current
                    .next()
                    .is_some_and(|(key, version)| key == read.key && Some(version) == read.version)
            });
            same && current.next().is_none()
        }
        Some(range_query_info::ReadsInfo::ReadsMerkleHashes(summary)) => {
            if summary.max_degree < 2 {
                return false;
            }
            let mut builder = RangeReadsBuilder::new(summary.max_degree);
            for (key, version) in current {
                builder.add(key, version);
            }
            matches!(
                builder.finish(),
                Some(range_query_info::ReadsInfo::ReadsMerkleHashes(rebuilt)) if rebuilt == *summary
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(block_num: u64) -> Version {
        Version {
            block_num,
            tx_num: 0,
        }
    }

    fn rows(count: usize) -> Vec<(String, Version)> {
        (0..count)
            .map(|i| (format!("k{i:05}"), version(i as u64 % 7)))
            .collect()
    }

    fn build(rows: &[(String, Version)]) -> Option<range_query_info::ReadsInfo> {
        let mut builder = RangeReadsBuilder::default();
        for (key, version) in rows {
            builder.add(key.clone(), *version);
        }
        builder.finish()
    }

    fn leaf(rows: &[(String, Version)]) -> Hash {
        let reads = QueryReads {
            kv_reads: rows
                .iter()
                .map(|(key, version)| KvRead {
                    key: key.clone(),
                    version: Some(*version),
                })
                .collect(),
        };
        sha256(&reads.encode_to_vec())
    }

    #[test]
    fn no_results_record_no_reads_and_few_results_stay_raw() {
        assert_eq!(build(&[]), None);
        let fifty = rows(50);
        let Some(range_query_info::ReadsInfo::RawReads(raw)) = build(&fifty) else {
            panic!("50 reads stay raw");
        };
        assert_eq!(raw.kv_reads.len(), 50);
        assert_eq!(raw.kv_reads[49].key, "k00049");
    }

    #[test]
    fn fifty_one_results_become_one_leaf_hash() {
        let rows = rows(51);
        let Some(range_query_info::ReadsInfo::ReadsMerkleHashes(summary)) = build(&rows) else {
            panic!("51 reads are hashed");
        };
        assert_eq!(summary.max_degree, 50);
        assert_eq!(summary.max_level, 1);
        assert_eq!(summary.max_level_hashes, vec![leaf(&rows).to_vec()]);
    }

    #[test]
    fn leftover_reads_form_a_last_leaf() {
        // 51 + 51 + 10: two full leaves and one partial, all at level 1.
        let rows = rows(112);
        let Some(range_query_info::ReadsInfo::ReadsMerkleHashes(summary)) = build(&rows) else {
            panic!("hashed");
        };
        assert_eq!(summary.max_level, 1);
        assert_eq!(
            summary.max_level_hashes,
            vec![
                leaf(&rows[0..51]).to_vec(),
                leaf(&rows[51..102]).to_vec(),
                leaf(&rows[102..]).to_vec()
            ]
        );
    }

    #[test]
    fn a_full_level_folds_into_the_next() {
        // 51 leaves of 51 reads fold into one level-2 hash as the 51st leaf arrives; 3 more reads leave a
        // partial leaf that is carried up beside it.
        let rows = rows(51 * 51 + 3);
        let leaves: Vec<Hash> = rows[..51 * 51].chunks(51).map(leaf).collect();
        let level_two = combined_hash(&leaves);
        let Some(range_query_info::ReadsInfo::ReadsMerkleHashes(summary)) = build(&rows) else {
            panic!("hashed");
        };
        assert_eq!(summary.max_level, 2);
        assert_eq!(
            summary.max_level_hashes,
            vec![level_two.to_vec(), leaf(&rows[51 * 51..]).to_vec()]
        );
    }

    #[test]
    fn validation_accepts_the_same_results_and_rejects_phantoms() {
        for count in [0, 3, 50, 51, 140] {
            let recorded = rows(count);
            let info = RangeQueryInfo {
                start_key: "k".to_owned(),
                end_key: "l".to_owned(),
                itr_exhausted: true,
                reads_info: build(&recorded),
            };
            assert!(range_query_unchanged(&info, recorded.clone()), "{count}");
            let mut inserted = recorded.clone();
            inserted.push(("k99999".to_owned(), version(1)));
            assert!(!range_query_unchanged(&info, inserted), "insert {count}");
            if count > 0 {
                let mut updated = recorded.clone();
                updated[count - 1].1 = version(99);
                assert!(!range_query_unchanged(&info, updated), "update {count}");
                assert!(
                    !range_query_unchanged(&info, recorded[1..].to_vec()),
                    "delete {count}"
                );
            }
        }
    }
}
