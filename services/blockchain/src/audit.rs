//! What auditors ask: the history of a record, where a transaction is with the hash chain from its block to
//! the tip, and `verify`, which checks that the mirror tells the truth — its hash chain, each block's
//! orderer signatures against the orderer CAs of the channel configuration, every derived row against the
//! block it came from, the blocks against the ledger's own, and the projections against the chaincode.

use std::collections::BTreeMap;

use fabric_protos::common::{Block, BlockHeader};
use fabric_sdk::block::{OrdererSignatureVerifier, block_data_hash, block_header_hash};
use fabric_sdk::gateway::{EventsOptions, Gateway, StartPosition};
use futures_util::TryStreamExt;
use prost::Message;
use serde::Serialize;
use sqlx::Row;
use sqlx::postgres::PgPool;

use crate::mirror::{BlockRows, EventRow, RECORD_KINDS, TxRow, WriteRow, composite_key};

/// Bytes shown as lowercase hex in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(&self.0))
    }
}

/// Why an audit query failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing matches.
    #[error("{0}")]
    NotFound(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The ledger could not be read.
    #[error("ledger: {0}")]
    Ledger(String),
}

/// One committed version of a key.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// The writing transaction.
    pub tx_id: String,
    /// Its block.
    pub block_number: u64,
    /// Its position in the block.
    pub position: u32,
    /// Its client timestamp.
    pub timestamp: Option<String>,
    /// Whether the key was deleted.
    pub is_delete: bool,
    /// The value as JSON (`null` for a delete; a string of hex for a value that is not JSON).
    pub value: Option<serde_json::Value>,
    /// The transaction's validation code name (always `VALID`: only valid writes change a key).
    pub validation: String,
}

/// A key's history, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// The record type.
    pub record_type: String,
    /// The record id.
    pub id: String,
    /// The ledger key, with U+0000 shown as `\0`.
    pub key: String,
    /// Every committed version, oldest first.
    pub entries: Vec<HistoryEntry>,
}

/// A block header in a proof.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// Block number.
    pub number: u64,
    /// SHA-256 of the DER header.
    pub header_hash: Hex,
    /// The previous block's header hash.
    pub previous_hash: Hex,
    /// The block's data hash.
    pub data_hash: Hex,
}

/// Where a transaction is, and the chain from its block to the mirror's tip.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    /// Transaction id.
    pub tx_id: String,
    /// Block.
    pub block_number: u64,
    /// Position in the block.
    pub position: u32,
    /// Validation code.
    pub validation_code: Option<i32>,
    /// Its name.
    pub validation: String,
    /// The block's header hash.
    pub block_hash: Hex,
    /// The transaction's block, then each later block to the tip; each link's `previous_hash` is the
    /// previous link's `header_hash`.
    pub chain: Vec<Link>,
    /// Whether the chain holds together as given: every header hash recomputes from its header, and every
    /// link names the one before it.
    pub chain_verified: bool,
}

/// One difference `verify` found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// The block concerned, when one is.
    pub block: Option<u64>,
    /// What is wrong, precisely.
    pub problem: String,
}

/// What `verify` checked and found.
#[derive(Debug, Clone, Serialize, Default)]
pub struct VerifyReport {
    /// The mirror's height (its checkpoint).
    pub mirror_height: u64,
    /// Blocks checked in the mirror.
    pub blocks_checked: u64,
    /// Orderer signatures verified.
    pub orderer_signatures_verified: u64,
    /// Blocks compared with the ledger's (0 when the ledger was not asked).
    pub ledger_blocks_compared: u64,
    /// Records compared with the chaincode's history (0 when the ledger was not asked).
    pub records_compared: u64,
    /// The mirror's tip header hash.
    pub tip_hash: Option<Hex>,
    /// Everything that does not match; empty when the mirror tells the truth.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether everything matched.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, block: Option<u64>, problem: String) {
        self.problems.push(Problem { block, problem });
    }
}

/// The audit queries over one channel's mirror, and the ledger when a gateway is given.
#[derive(Debug, Clone)]
pub struct Audit {
    pool: PgPool,
    channel: String,
    chaincode: String,
    ledger: Option<Gateway>,
}

/// The key as text a person can read: U+0000 shown as `\0`.
pub fn shown_key(key: &str) -> String {
    key.replace('\u{0}', "\\0")
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn as_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn json_or_hex(value: &[u8]) -> serde_json::Value {
    serde_json::from_slice(value).unwrap_or_else(|_| serde_json::Value::String(hex::encode(value)))
}

/// Checks a record reference before it becomes a key: a known type, and an id of printable parts.
fn check_record(record_type: &str, id: &str) -> Result<(), AuditError> {
    if !RECORD_KINDS.contains(&record_type) {
        return Err(AuditError::BadRequest(format!(
            "record type must be one of {}, got {record_type:?}",
            RECORD_KINDS.join(", ")
        )));
    }
    if id.len() > 512 || id.chars().any(char::is_control) {
        return Err(AuditError::BadRequest(
            "id must be at most 512 printable characters".to_owned(),
        ));
    }
    Ok(())
}

fn header_of(number: u64, previous_hash: &[u8], data_hash: &[u8]) -> BlockHeader {
    BlockHeader {
        number,
        previous_hash: previous_hash.to_vec(),
        data_hash: data_hash.to_vec(),
    }
}

impl Audit {
    /// Audit of `channel`'s mirror in `pool`; `ledger` (a gateway to a peer) lets `verify` compare with the
    /// ledger and the chaincode.
    pub fn new(pool: PgPool, channel: &str, chaincode: &str, ledger: Option<Gateway>) -> Self {
        Self {
            pool,
            channel: channel.to_owned(),
            chaincode: chaincode.to_owned(),
            ledger,
        }
    }

    /// Every committed version of record `record_type`/`id` in the mirror, oldest first.
    pub async fn history(&self, record_type: &str, id: &str) -> Result<History, AuditError> {
        check_record(record_type, id)?;
        let key = composite_key(record_type, id);
        let rows = sqlx::query(
            "SELECT w.block_number, w.position, t.tx_id, t.tx_timestamp, w.is_delete, w.value, t.validation
             FROM writes w JOIN transactions t USING (channel, block_number, position)
             WHERE w.channel = $1 AND w.key = $2 AND t.validation = 'VALID'
             ORDER BY w.block_number, w.position",
        )
        .bind(&self.channel)
        .bind(key.as_bytes())
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Err(AuditError::NotFound(format!(
                "no committed version of {record_type} {id:?} in the mirror"
            )));
        }
        let entries = rows
            .iter()
            .map(|row| {
                let is_delete: bool = row.try_get("is_delete")?;
                let value: Vec<u8> = row.try_get("value")?;
                Ok(HistoryEntry {
                    tx_id: row.try_get("tx_id")?,
                    block_number: as_u64(row.try_get("block_number")?),
                    position: u32::try_from(row.try_get::<i32, _>("position")?).unwrap_or(0),
                    timestamp: row.try_get("tx_timestamp")?,
                    is_delete,
                    value: (!is_delete).then(|| json_or_hex(&value)),
                    validation: row.try_get("validation")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(History {
            record_type: record_type.to_owned(),
            id: id.to_owned(),
            key: shown_key(&key),
            entries,
        })
    }

    /// The record's history as the chaincode tells it from the ledger (`GetHistory`), newest first.
    pub async fn ledger_history(
        &self,
        record_type: &str,
        id: &str,
    ) -> Result<serde_json::Value, AuditError> {
        check_record(record_type, id)?;
        let gateway = self.gateway()?;
        let result = gateway
            .network(&self.channel)
            .contract(&self.chaincode)
            .evaluate_transaction("GetHistory", &[record_type, id])
            .await
            .map_err(|error| AuditError::Ledger(error.to_string()))?;
        serde_json::from_slice(&result)
            .map_err(|error| AuditError::Ledger(format!("GetHistory answered non-JSON: {error}")))
    }

    fn gateway(&self) -> Result<&Gateway, AuditError> {
        self.ledger
            .as_ref()
            .ok_or_else(|| AuditError::Ledger("no peer to ask".to_owned()))
    }

    /// Where transaction `tx_id` is and the hash chain from its block to the mirror's tip.
    pub async fn proof(&self, tx_id: &str) -> Result<Proof, AuditError> {
        if tx_id.is_empty()
            || tx_id.len() > 128
            || !tx_id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(AuditError::BadRequest(format!(
                "a transaction id is up to 128 letters and digits, got {tx_id:?}"
            )));
        }
        // A duplicate transaction id is recorded as invalid; the valid one, if any, is the transaction.
        let row = sqlx::query(
            "SELECT block_number, position, validation_code, validation FROM transactions
             WHERE channel = $1 AND tx_id = $2
             ORDER BY (validation = 'VALID') DESC, block_number, position LIMIT 1",
        )
        .bind(&self.channel)
        .bind(tx_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| AuditError::NotFound(format!("transaction {tx_id} is not in the mirror")))?;
        let block_number: i64 = row.try_get("block_number")?;
        let links = sqlx::query(
            "SELECT number, header_hash, previous_hash, data_hash FROM blocks
             WHERE channel = $1 AND number >= $2 ORDER BY number",
        )
        .bind(&self.channel)
        .bind(block_number)
        .fetch_all(&self.pool)
        .await?;
        let mut chain = Vec::with_capacity(links.len());
        for link in &links {
            chain.push(Link {
                number: as_u64(link.try_get("number")?),
                header_hash: Hex(link.try_get("header_hash")?),
                previous_hash: Hex(link.try_get("previous_hash")?),
                data_hash: Hex(link.try_get("data_hash")?),
            });
        }
        let chain_verified = chain.iter().enumerate().all(|(index, link)| {
            let recomputed = block_header_hash(&header_of(
                link.number,
                &link.previous_hash.0,
                &link.data_hash.0,
            ));
            recomputed.as_slice() == link.header_hash.0.as_slice()
                && (index == 0 || {
                    let before = &chain[index - 1];
                    before.number + 1 == link.number && before.header_hash == link.previous_hash
                })
        });
        Ok(Proof {
            tx_id: tx_id.to_owned(),
            block_number: as_u64(block_number),
            position: u32::try_from(row.try_get::<i32, _>("position")?).unwrap_or(0),
            validation_code: row.try_get("validation_code")?,
            validation: row.try_get("validation")?,
            block_hash: chain
                .first()
                .map(|link| link.header_hash.clone())
                .unwrap_or(Hex(Vec::new())),
            chain,
            chain_verified,
        })
    }
}

/// The mirror's stored rows of one block.
struct StoredRows {
    transactions: Vec<TxRow>,
    writes: Vec<WriteRow>,
    events: Vec<EventRow>,
}

fn field_diffs(mirror: &TxRow, block: &TxRow) -> Vec<String> {
    let mut diffs = Vec::new();
    macro_rules! compare {
        ($($field:ident),*) => {$(
            if mirror.$field != block.$field {
                diffs.push(format!(
                    "{} is {:?} in the mirror but {:?} in the block",
                    stringify!($field), mirror.$field, block.$field
                ));
            }
        )*};
    }
    compare!(
        tx_id,
        header_type,
        validation_code,
        validation,
        creator_msp,
        chaincode,
        function,
        timestamp
    );
    diffs
}

type WriteKey<'a> = (i32, &'a str, &'a [u8]);

fn index_writes(writes: &[WriteRow]) -> BTreeMap<WriteKey<'_>, (&[u8], bool)> {
    writes
        .iter()
        .map(|w| {
            (
                (w.position, w.namespace.as_str(), w.key.as_slice()),
                (w.value.as_slice(), w.is_delete),
            )
        })
        .collect()
}

fn shown_bytes(bytes: &[u8]) -> String {
    shown_key(&String::from_utf8_lossy(bytes))
}

impl Audit {
    async fn stored_rows(&self, number: i64) -> Result<StoredRows, AuditError> {
        let transactions = sqlx::query_as::<_, TxRow>(
            "SELECT position, tx_id, header_type, validation_code, validation, creator_msp, chaincode,
                    function, tx_timestamp
             FROM transactions WHERE channel = $1 AND block_number = $2 ORDER BY position",
        )
        .bind(&self.channel)
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        let writes = sqlx::query_as::<_, WriteRow>(
            "SELECT position, namespace, key, value, is_delete FROM writes
             WHERE channel = $1 AND block_number = $2",
        )
        .bind(&self.channel)
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        let events = sqlx::query_as::<_, EventRow>(
            "SELECT position, tx_id, chaincode, name, payload FROM events
             WHERE channel = $1 AND block_number = $2 ORDER BY position",
        )
        .bind(&self.channel)
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        Ok(StoredRows {
            transactions,
            writes,
            events,
        })
    }

    /// Compares the rows the mirror stores for a block with the rows the block itself yields.
    fn compare_rows(report: &mut VerifyReport, derived: &BlockRows, stored: StoredRows) {
        let number = Some(derived.number);
        let stored_txs: BTreeMap<i32, &TxRow> = stored
            .transactions
            .iter()
            .map(|tx| (tx.position, tx))
            .collect();
        for tx in &derived.transactions {
            match stored_txs.get(&tx.position) {
                None => report.problem(
                    number,
                    format!(
                        "transaction {} ({}) is missing from the mirror",
                        tx.position, tx.tx_id
                    ),
                ),
                Some(row) => {
                    for diff in field_diffs(row, tx) {
                        report.problem(
                            number,
                            format!("transaction {} ({}): {diff}", tx.position, tx.tx_id),
                        );
                    }
                }
            }
        }
        for tx in &stored.transactions {
            if !derived
                .transactions
                .iter()
                .any(|derived| derived.position == tx.position)
            {
                report.problem(
                    number,
                    format!(
                        "the mirror has transaction {} ({}) that the block does not",
                        tx.position, tx.tx_id
                    ),
                );
            }
        }
        let block_writes = index_writes(&derived.writes);
        let mirror_writes = index_writes(&stored.writes);
        for (key, value) in &block_writes {
            let (position, namespace, name) = key;
            let what = format!(
                "transaction {position} write of {namespace} key {}",
                shown_bytes(name)
            );
            match mirror_writes.get(key) {
                None => report.problem(number, format!("{what} is missing from the mirror")),
                Some(stored) if stored.1 != value.1 => report.problem(
                    number,
                    format!("{what}: delete flag is {} in the mirror but {} in the block", stored.1, value.1),
                ),
                Some(stored) if stored.0 != value.0 => report.problem(
                    number,
                    format!(
                        "{what}: the mirror's value ({} bytes, sha256 {}) differs from the block's ({} bytes, sha256 {})",
                        stored.0.len(),
                        hex::encode(fabric_sdk::signer::sha256(stored.0)),
                        value.0.len(),
                        hex::encode(fabric_sdk::signer::sha256(value.0)),
                    ),
                ),
                Some(_) => {}
            }
        }
        for (position, namespace, name) in mirror_writes.keys() {
            if !block_writes.contains_key(&(*position, *namespace, *name)) {
                report.problem(
                    number,
                    format!(
                        "the mirror has a write of {namespace} key {} in transaction {position} that the block does not",
                        shown_bytes(name)
                    ),
                );
            }
        }
        if derived.events != stored.events {
            for event in &derived.events {
                if !stored.events.contains(event) {
                    report.problem(
                        number,
                        format!(
                            "event {} of transaction {} ({}) is missing or altered in the mirror",
                            event.name, event.position, event.tx_id
                        ),
                    );
                }
            }
            for event in &stored.events {
                if !derived.events.contains(event) {
                    report.problem(
                        number,
                        format!(
                            "the mirror has event {} of transaction {} ({}) that the block does not",
                            event.name, event.position, event.tx_id
                        ),
                    );
                }
            }
        }
    }

    /// Checks that the mirror tells the truth. Always: the hash chain of the stored headers, each stored
    /// block's data hash and orderer signatures, and every transaction, write and event row against the
    /// block it came from, and the projections against the writes. With `compare_ledger`, also each block
    /// against the peer's, and each projected record against the chaincode's history of it.
    pub async fn verify(&self, compare_ledger: bool) -> Result<VerifyReport, AuditError> {
        let mut report = VerifyReport::default();
        let checkpoint: Option<i64> =
            sqlx::query_scalar("SELECT next_block FROM mirror_checkpoint WHERE channel = $1")
                .bind(&self.channel)
                .fetch_optional(&self.pool)
                .await?;
        report.mirror_height = checkpoint.map_or(0, as_u64);
        let raw_hashes = self.verify_mirror(&mut report).await?;
        self.verify_projections(&mut report).await?;
        if compare_ledger {
            self.verify_against_ledger(&mut report, &raw_hashes).await?;
            self.verify_records_with_chaincode(&mut report).await?;
        }
        Ok(report)
    }

    /// The stored chain, blocks and rows. Returns the SHA-256 of each stored block, by number.
    async fn verify_mirror(
        &self,
        report: &mut VerifyReport,
    ) -> Result<BTreeMap<u64, [u8; 32]>, AuditError> {
        let mut raw_hashes = BTreeMap::new();
        let mut verifier = OrdererSignatureVerifier::new();
        let mut expected = 0_u64;
        let mut previous: Option<Vec<u8>> = None;
        let mut rows = sqlx::query(
            "SELECT number, header_hash, previous_hash, data_hash, tx_count, is_config, raw FROM blocks
             WHERE channel = $1 ORDER BY number",
        )
        .bind(&self.channel)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let number = as_u64(row.try_get("number")?);
            let at = Some(number);
            let header_hash: Vec<u8> = row.try_get("header_hash")?;
            let previous_hash: Vec<u8> = row.try_get("previous_hash")?;
            let data_hash: Vec<u8> = row.try_get("data_hash")?;
            let tx_count: i32 = row.try_get("tx_count")?;
            let is_config: bool = row.try_get("is_config")?;
            let raw: Option<Vec<u8>> = row.try_get("raw")?;
            report.blocks_checked += 1;
            if number != expected {
                let missing = if number == expected + 1 {
                    format!("block {expected} is missing from the mirror")
                } else {
                    format!(
                        "blocks {expected} to {} are missing from the mirror",
                        number.saturating_sub(1)
                    )
                };
                report.problem(Some(expected), missing);
                previous = None;
            }
            expected = number + 1;
            let recomputed = block_header_hash(&header_of(number, &previous_hash, &data_hash));
            if recomputed.as_slice() != header_hash.as_slice() {
                report.problem(
                    at,
                    format!(
                        "stored header hash {} is not the hash of the stored header ({})",
                        hex::encode(&header_hash),
                        hex::encode(recomputed)
                    ),
                );
            }
            if let Some(previous) = &previous
                && previous != &previous_hash
            {
                report.problem(
                    at,
                    format!(
                        "previous hash {} is not the header hash of block {} ({})",
                        hex::encode(&previous_hash),
                        number.saturating_sub(1),
                        hex::encode(previous)
                    ),
                );
            }
            previous = Some(header_hash.clone());
            report.tip_hash = Some(Hex(header_hash.clone()));
            let Some(raw) = raw else {
                report.problem(at, "the mirror does not hold the block itself".to_owned());
                continue;
            };
            raw_hashes.insert(number, fabric_sdk::signer::sha256(&raw));
            let block = match Block::decode(raw.as_slice()) {
                Ok(block) => block,
                Err(error) => {
                    report.problem(at, format!("the stored block does not decode: {error}"));
                    continue;
                }
            };
            let header = block.header.clone().unwrap_or_default();
            if header != header_of(number, &previous_hash, &data_hash) {
                report.problem(
                    at,
                    "the stored header columns differ from the stored block's header".to_owned(),
                );
            }
            let computed = block_data_hash(&block.data.clone().unwrap_or_default());
            if computed.as_slice() != header.data_hash.as_slice() {
                report.problem(
                    at,
                    format!(
                        "data hash {} does not match the block's data ({})",
                        hex::encode(&header.data_hash),
                        hex::encode(computed)
                    ),
                );
            }
            match verifier.verify(&block) {
                Ok(count) => report.orderer_signatures_verified += count as u64,
                Err(error) => report.problem(at, format!("orderer signature: {error}")),
            }
            let derived = match BlockRows::from_block(&block) {
                Ok(derived) => derived,
                Err(error) => {
                    report.problem(at, error.to_string());
                    continue;
                }
            };
            if usize::try_from(tx_count).ok() != Some(derived.transactions.len()) {
                report.problem(
                    at,
                    format!(
                        "tx_count is {tx_count} but the block has {}",
                        derived.transactions.len()
                    ),
                );
            }
            if is_config != derived.is_config {
                report.problem(
                    at,
                    format!(
                        "is_config is {is_config} but the block says {}",
                        derived.is_config
                    ),
                );
            }
            let stored = self.stored_rows(as_i64(number)).await?;
            Self::compare_rows(report, &derived, stored);
        }
        if expected != report.mirror_height {
            report.problem(
                None,
                format!(
                    "the checkpoint says the mirror holds blocks up to {} but its last block is {}",
                    report.mirror_height.saturating_sub(1),
                    expected.saturating_sub(1)
                ),
            );
        }
        Ok(raw_hashes)
    }

    /// Each projected record against the latest write of its key by a VALID transaction.
    async fn verify_projections(&self, report: &mut VerifyReport) -> Result<(), AuditError> {
        let latest = sqlx::query(
            "SELECT DISTINCT ON (w.key) w.key, w.value, w.is_delete, w.block_number, t.tx_id
             FROM writes w JOIN transactions t USING (channel, block_number, position)
             WHERE w.channel = $1 AND t.validation = 'VALID'
             ORDER BY w.key, w.block_number DESC, w.position DESC",
        )
        .bind(&self.channel)
        .fetch_all(&self.pool)
        .await?;
        let mut expected = BTreeMap::new();
        for row in &latest {
            let key: Vec<u8> = row.try_get("key")?;
            let Some((kind, id)) = std::str::from_utf8(&key)
                .ok()
                .and_then(crate::mirror::record_key)
            else {
                continue;
            };
            let is_delete: bool = row.try_get("is_delete")?;
            let value: Vec<u8> = row.try_get("value")?;
            let value = if is_delete {
                None
            } else {
                serde_json::from_slice::<serde_json::Value>(&value).ok()
            };
            let tx_id: String = row.try_get("tx_id")?;
            expected.insert((kind.to_owned(), id), (value, is_delete, tx_id));
        }
        let records = sqlx::query(
            "SELECT kind, record_key, value::TEXT AS value, deleted, tx_id FROM records WHERE channel = $1",
        )
        .bind(&self.channel)
        .fetch_all(&self.pool)
        .await?;
        let mut seen = 0;
        for row in &records {
            let kind: String = row.try_get("kind")?;
            let id: String = row.try_get("record_key")?;
            let value: Option<String> = row.try_get("value")?;
            let value =
                value.and_then(|value| serde_json::from_str::<serde_json::Value>(&value).ok());
            let deleted: bool = row.try_get("deleted")?;
            let tx_id: String = row.try_get("tx_id")?;
            match expected.get(&(kind.clone(), id.clone())) {
                None => report.problem(
                    None,
                    format!("projection {kind} {id:?} has no write of its key in the mirror"),
                ),
                Some((want, want_deleted, want_tx)) => {
                    seen += 1;
                    if want_tx != &tx_id || want_deleted != &deleted || want != &value {
                        report.problem(
                            None,
                            format!(
                                "projection {kind} {id:?} (tx {tx_id}) is not the last valid write of its key (tx {want_tx})"
                            ),
                        );
                    }
                }
            }
        }
        if seen < expected.len() {
            for (kind, id) in expected.keys() {
                let present = records.iter().any(|row| {
                    row.try_get::<String, _>("kind").is_ok_and(|k| &k == kind)
                        && row
                            .try_get::<String, _>("record_key")
                            .is_ok_and(|k| &k == id)
                });
                if !present {
                    report.problem(None, format!("projection {kind} {id:?} is missing"));
                }
            }
        }
        Ok(())
    }

    /// The mirror's blocks against the peer's.
    async fn verify_against_ledger(
        &self,
        report: &mut VerifyReport,
        raw_hashes: &BTreeMap<u64, [u8; 32]>,
    ) -> Result<(), AuditError> {
        if report.mirror_height == 0 {
            return Ok(());
        }
        let gateway = self.gateway()?;
        let mut blocks = gateway
            .network(&self.channel)
            .block_events(&EventsOptions {
                start: StartPosition::Block(0),
                ..EventsOptions::default()
            })
            .await
            .map_err(|error| AuditError::Ledger(error.to_string()))?;
        let mut verifier = OrdererSignatureVerifier::new();
        for expected in 0..report.mirror_height {
            let block = tokio::time::timeout(std::time::Duration::from_secs(30), blocks.next())
                .await
                .map_err(|_| {
                    AuditError::Ledger(format!(
                        "the peer did not deliver block {expected} within 30 s"
                    ))
                })?
                .ok_or_else(|| {
                    AuditError::Ledger(format!("the peer ended the stream before block {expected}"))
                })?
                .map_err(|error| AuditError::Ledger(error.to_string()))?;
            let number = block.header.as_ref().map_or(0, |header| header.number);
            if number != expected {
                return Err(AuditError::Ledger(format!(
                    "the peer delivered block {number} where {expected} was due"
                )));
            }
            report.ledger_blocks_compared += 1;
            if let Err(error) = verifier.verify(&block) {
                report.problem(
                    Some(number),
                    format!("the ledger's block fails orderer signature verification: {error}"),
                );
            }
            let hash = fabric_sdk::signer::sha256(&block.encode_to_vec());
            match raw_hashes.get(&number) {
                Some(stored) if stored == &hash => {}
                Some(_) => report.problem(
                    Some(number),
                    "the mirror's block differs from the ledger's".to_owned(),
                ),
                None => {} // reported as missing by the mirror check
            }
        }
        Ok(())
    }

    /// Each projected record against the chaincode's history of its key: the version the mirror holds must
    /// be the one the same transaction wrote on the ledger.
    async fn verify_records_with_chaincode(
        &self,
        report: &mut VerifyReport,
    ) -> Result<(), AuditError> {
        use futures_util::StreamExt;
        let records = sqlx::query(
            "SELECT kind, record_key, value::TEXT AS value, deleted, tx_id FROM records WHERE channel = $1
             ORDER BY kind, record_key",
        )
        .bind(&self.channel)
        .fetch_all(&self.pool)
        .await?;
        let mut checks = Vec::with_capacity(records.len());
        for row in &records {
            let kind: String = row.try_get("kind")?;
            let id: String = row.try_get("record_key")?;
            let value: Option<String> = row.try_get("value")?;
            let deleted: bool = row.try_get("deleted")?;
            let tx_id: String = row.try_get("tx_id")?;
            checks.push((
                kind,
                id,
                value.and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok()),
                deleted,
                tx_id,
            ));
        }
        let results: Vec<Option<Problem>> = futures_util::stream::iter(checks)
            .map(|(kind, id, value, deleted, tx_id)| async move {
                let history = match self.ledger_history(&kind, &id).await {
                    Ok(history) => history,
                    Err(error) => {
                        return Some(Problem { block: None, problem: format!("{kind} {id:?}: {error}") });
                    }
                };
                let entry = history
                    .as_array()
                    .and_then(|entries| entries.iter().find(|entry| entry["tx_id"] == tx_id.as_str()));
                let problem = match entry {
                    None => format!("{kind} {id:?}: the ledger has no version written by transaction {tx_id}"),
                    Some(entry) => {
                        let ledger_deleted = entry["is_delete"].as_bool().unwrap_or(false);
                        let ledger_value = entry.get("value").filter(|value| !value.is_null()).cloned();
                        if ledger_deleted == deleted && ledger_value == value {
                            return None;
                        }
                        format!("{kind} {id:?}: the mirror's version differs from the ledger's (transaction {tx_id})")
                    }
                };
                Some(Problem { block: None, problem })
            })
            .buffer_unordered(16)
            .collect()
            .await;
        report.records_compared += records.len() as u64;
        report.problems.extend(results.into_iter().flatten());
        Ok(())
    }
}
