//! The Postgres mirror of the ledger: every block a Deliver stream hands out is written — block, its
//! transactions, their writes and events, and the projections of the domain records — together with the
//! checkpoint, in **one database transaction**. A crash at any point leaves either the whole block and the
//! advanced checkpoint or neither, so on restart the listener resumes at the checkpoint and the mirror ends
//! exactly once. Only VALID transactions change the projections; every transaction is recorded.
//!
//! While catching up, the listener takes every block the stream already holds (up to [`BATCH_TRANSACTIONS`])
//! into one database transaction and writes each table with one `UNNEST` insert, so the rate is bounded by
//! Postgres's bulk insert rather than by round trips.

use std::collections::HashMap;
use std::future::Future;

use fabric_protos::common::Block;
use fabric_protos::common::HeaderType;
use fabric_protos::protos::TxValidationCode;
use fabric_sdk::block::{Arg, block_header_hash, transaction_effects, validation_code_name};
use fabric_sdk::gateway::{Checkpoint, EventsOptions, GatewayError, Network};
use futures_util::{FutureExt, Stream, StreamExt};
use prost::Message;
use sqlx::postgres::PgPool;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// Record kinds the contract stores under composite keys `\0<kind>\0…`, projected into `records`.
pub const RECORD_KINDS: &[&str] = &[
    "club",
    "member",
    "agreement",
    "visit",
    "proposal",
    "vote",
    "settlement",
    "networkrules",
];

/// Most transactions written in one database transaction while catching up.
pub const BATCH_TRANSACTIONS: usize = 500;

/// Why mirroring failed.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A block does not decode.
    #[error("block {block}: {reason}")]
    Block {
        /// Block number.
        block: u64,
        /// What failed.
        reason: String,
    },
    /// A block arrived out of order: the mirror would have a gap.
    #[error("block {got} arrived where block {expected} was due")]
    Gap {
        /// The block expected next.
        expected: u64,
        /// The block received.
        got: u64,
    },
    /// The Deliver stream failed.
    #[error("deliver: {0}")]
    Deliver(#[from] GatewayError),
}

/// The outcome of applying one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The block was written.
    Written {
        /// Its transactions.
        transactions: usize,
    },
    /// The block was already in the mirror (redelivery after a restart): nothing changed.
    AlreadyMirrored,
}

/// A transaction as the mirror records it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TxRow {
    /// Position in the block.
    pub position: i32,
    /// Transaction id.
    pub tx_id: String,
    /// Header type name.
    pub header_type: String,
    /// Validation code, when the block carries one.
    pub validation_code: Option<i32>,
    /// Validation code name.
    pub validation: String,
    /// Creator's MSP id.
    pub creator_msp: String,
    /// Chaincode invoked.
    pub chaincode: Option<String>,
    /// Function invoked.
    pub function: Option<String>,
    /// Client timestamp (RFC 3339).
    #[sqlx(rename = "tx_timestamp")]
    pub timestamp: Option<String>,
}

/// One key written by a transaction.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WriteRow {
    /// Position of the transaction in the block.
    pub position: i32,
    /// Chaincode namespace.
    pub namespace: String,
    /// The key (composite keys contain U+0000).
    pub key: Vec<u8>,
    /// The value written.
    pub value: Vec<u8>,
    /// Whether the key was deleted.
    pub is_delete: bool,
}

/// The chaincode event of a VALID transaction.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRow {
    /// Position of the transaction in the block.
    pub position: i32,
    /// Transaction id.
    pub tx_id: String,
    /// Chaincode.
    pub chaincode: String,
    /// Event name.
    pub name: String,
    /// Payload.
    pub payload: Vec<u8>,
}

/// A domain record's new version, from a VALID transaction's write.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    /// Record kind (`club`, `visit`, …).
    pub kind: String,
    /// Its id; the parts of a multi-part key joined by `/`.
    pub key: String,
    /// The record as JSON; `None` for a delete or a value that is not JSON.
    pub value: Option<serde_json::Value>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// The writing transaction.
    pub tx_id: String,
}

/// Everything the mirror stores for one block, derived from the block alone.
#[derive(Debug, Clone)]
pub struct BlockRows {
    /// Block number.
    pub number: u64,
    /// SHA-256 of the DER header.
    pub header_hash: Vec<u8>,
    /// Previous header hash.
    pub previous_hash: Vec<u8>,
    /// Data hash.
    pub data_hash: Vec<u8>,
    /// Whether the block holds a configuration transaction.
    pub is_config: bool,
    /// The block as delivered.
    pub raw: Vec<u8>,
    /// Its transactions.
    pub transactions: Vec<TxRow>,
    /// Their writes.
    pub writes: Vec<WriteRow>,
    /// Events of VALID transactions.
    pub events: Vec<EventRow>,
    /// Record versions written by VALID transactions, in order.
    pub records: Vec<RecordRow>,
    /// When the newest transaction of the block was created (its channel header timestamp).
    pub created: Option<std::time::SystemTime>,
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Splits a composite key `\0kind\0a\0b\0` into its kind and its attributes joined by `/`.
pub fn record_key(key: &str) -> Option<(&str, String)> {
    let rest = key.strip_prefix('\u{0}')?.strip_suffix('\u{0}')?;
    let mut parts = rest.split('\u{0}');
    let kind = parts.next()?;
    RECORD_KINDS
        .contains(&kind)
        .then(|| (kind, parts.collect::<Vec<_>>().join("/")))
}

/// The composite key of a record from its kind and `/`-joined id (the inverse of [`record_key`]).
pub fn composite_key(kind: &str, id: &str) -> String {
    let mut key = format!("\u{0}{kind}\u{0}");
    if !id.is_empty() {
        for part in id.split('/') {
            key.push_str(part);
            key.push('\u{0}');
        }
    }
    key
}

impl BlockRows {
    /// Derives the mirror's rows from a block.
    pub fn from_block(block: &Block) -> Result<Self, MirrorError> {
        let header = block.header.clone().unwrap_or_default();
        let number = header.number;
        let fault = |reason: String| MirrorError::Block {
            block: number,
            reason,
        };
        let effects = transaction_effects(block).map_err(fault)?;
        let mut rows = Self {
            number,
            header_hash: block_header_hash(&header).to_vec(),
            previous_hash: header.previous_hash.clone(),
            data_hash: header.data_hash.clone(),
            is_config: effects
                .iter()
                .any(|tx| tx.channel_header.r#type == HeaderType::Config as i32),
            raw: block.encode_to_vec(),
            transactions: Vec::with_capacity(effects.len()),
            writes: Vec::new(),
            events: Vec::new(),
            records: Vec::new(),
            created: None,
        };
        for tx in &effects {
            let position = i32::try_from(tx.index).unwrap_or(i32::MAX);
            let tx_id = &tx.channel_header.tx_id;
            let timestamp = tx.channel_header.timestamp;
            if let Some(created) =
                timestamp.and_then(|timestamp| std::time::SystemTime::try_from(timestamp).ok())
            {
                rows.created = Some(rows.created.map_or(created, |newest| newest.max(created)));
            }
            rows.transactions.push(TxRow {
                position,
                tx_id: tx_id.clone(),
                header_type: HeaderType::try_from(tx.channel_header.r#type).map_or_else(
                    |_| format!("UNKNOWN({})", tx.channel_header.r#type),
                    |kind| kind.as_str_name().to_owned(),
                ),
                validation_code: tx.validation_code.map(i32::from),
                validation: tx.validation_code.map_or_else(
                    || TxValidationCode::NotValidated.as_str_name().to_owned(),
                    validation_code_name,
                ),
                creator_msp: tx.creator_msp_id.clone(),
                chaincode: tx.chaincode_name.clone(),
                function: tx.function.as_deref().map(|function| {
                    Arg::from_bytes(function)
                        .to_string()
                        .trim_matches('"')
                        .to_owned()
                }),
                // prost-types formats timestamps as RFC 3339 in UTC.
                timestamp: timestamp.as_ref().map(ToString::to_string),
            });
            for (namespace, writes) in &tx.writes {
                for write in writes {
                    rows.writes.push(WriteRow {
                        position,
                        namespace: namespace.clone(),
                        key: write.key.as_bytes().to_vec(),
                        value: write.value.clone(),
                        is_delete: write.is_delete,
                    });
                    if tx.is_valid()
                        && let Some((kind, key)) = record_key(&write.key)
                    {
                        rows.records.push(RecordRow {
                            kind: kind.to_owned(),
                            key,
                            value: if write.is_delete {
                                None
                            } else {
                                serde_json::from_slice(&write.value).ok()
                            },
                            deleted: write.is_delete,
                            tx_id: tx_id.clone(),
                        });
                    }
                }
            }
            if let Some(event) = &tx.event
                && tx.is_valid()
            {
                rows.events.push(EventRow {
                    position,
                    tx_id: tx_id.clone(),
                    chaincode: event.chaincode_id.clone(),
                    name: event.event_name.clone(),
                    payload: event.payload.clone(),
                });
            }
        }
        Ok(rows)
    }
}

/// Column arrays of a batch of blocks, for one `UNNEST` insert per table.
#[derive(Default)]
struct Columns {
    block_number: Vec<i64>,
    block_header_hash: Vec<Vec<u8>>,
    block_previous_hash: Vec<Vec<u8>>,
    block_data_hash: Vec<Vec<u8>>,
    block_tx_count: Vec<i32>,
    block_is_config: Vec<bool>,
    block_raw: Vec<Vec<u8>>,
    tx_block: Vec<i64>,
    tx_position: Vec<i32>,
    tx_id: Vec<String>,
    tx_header_type: Vec<String>,
    tx_code: Vec<Option<i32>>,
    tx_validation: Vec<String>,
    tx_creator: Vec<String>,
    tx_chaincode: Vec<Option<String>>,
    tx_function: Vec<Option<String>>,
    tx_timestamp: Vec<Option<String>>,
    write_block: Vec<i64>,
    write_position: Vec<i32>,
    write_namespace: Vec<String>,
    write_key: Vec<Vec<u8>>,
    write_value: Vec<Vec<u8>>,
    write_delete: Vec<bool>,
    event_block: Vec<i64>,
    event_position: Vec<i32>,
    event_tx: Vec<String>,
    event_chaincode: Vec<String>,
    event_name: Vec<String>,
    event_payload: Vec<Vec<u8>>,
    // The latest version of each record in the batch: one upsert may touch a row only once.
    records: HashMap<(String, String), (RecordRow, i64)>,
}

impl Columns {
    fn push(&mut self, rows: BlockRows) {
        let number = as_i64(rows.number);
        self.block_number.push(number);
        self.block_header_hash.push(rows.header_hash);
        self.block_previous_hash.push(rows.previous_hash);
        self.block_data_hash.push(rows.data_hash);
        self.block_tx_count
            .push(i32::try_from(rows.transactions.len()).unwrap_or(i32::MAX));
        self.block_is_config.push(rows.is_config);
        self.block_raw.push(rows.raw);
        for tx in rows.transactions {
            self.tx_block.push(number);
            self.tx_position.push(tx.position);
            self.tx_id.push(tx.tx_id);
            self.tx_header_type.push(tx.header_type);
            self.tx_code.push(tx.validation_code);
            self.tx_validation.push(tx.validation);
            self.tx_creator.push(tx.creator_msp);
            self.tx_chaincode.push(tx.chaincode);
            self.tx_function.push(tx.function);
            self.tx_timestamp.push(tx.timestamp);
        }
        for write in rows.writes {
            self.write_block.push(number);
            self.write_position.push(write.position);
            self.write_namespace.push(write.namespace);
            self.write_key.push(write.key);
            self.write_value.push(write.value);
            self.write_delete.push(write.is_delete);
        }
        for event in rows.events {
            self.event_block.push(number);
            self.event_position.push(event.position);
            self.event_tx.push(event.tx_id);
            self.event_chaincode.push(event.chaincode);
            self.event_name.push(event.name);
            self.event_payload.push(event.payload);
        }
        for record in rows.records {
            self.records
                .insert((record.kind.clone(), record.key.clone()), (record, number));
        }
    }
}

/// The mirror of one channel's ledger.
#[derive(Debug, Clone)]
pub struct Mirror {
    pool: PgPool,
    channel: String,
    height: watch::Sender<u64>,
    metrics: Option<Metrics>,
}

impl Mirror {
    /// A mirror of `channel` in `pool`'s database (run [`Mirror::migrate`] first).
    pub fn new(pool: PgPool, channel: &str) -> Self {
        Self {
            pool,
            channel: channel.to_owned(),
            height: watch::Sender::new(0),
            metrics: None,
        }
    }

    /// Reports the mirror's height, the ledger's and the lag to `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Creates or updates the mirror's tables.
    pub async fn migrate(pool: &PgPool) -> Result<(), MirrorError> {
        sqlx::migrate!("./migrations").run(pool).await?;
        Ok(())
    }

    /// The channel mirrored.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The mirror's height as this process last wrote or read it; changes as blocks are written.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// The next block the mirror needs (its height), from the database.
    pub async fn next_block(&self) -> Result<u64, MirrorError> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT next_block FROM mirror_checkpoint WHERE channel = $1")
                .bind(&self.channel)
                .fetch_optional(&self.pool)
                .await?;
        let next = next.map_or(0, |next| u64::try_from(next).unwrap_or(0));
        self.height.send_if_modified(|height| {
            let changed = *height < next;
            *height = (*height).max(next);
            changed
        });
        Ok(next)
    }

    /// Writes `block` and advances the checkpoint in one database transaction. A block already mirrored is
    /// skipped; a block past the checkpoint is a gap and is refused.
    pub async fn apply(&self, block: &Block) -> Result<Applied, MirrorError> {
        let written = self.apply_batch(std::slice::from_ref(block)).await?;
        Ok(if written.blocks == 0 {
            Applied::AlreadyMirrored
        } else {
            Applied::Written {
                transactions: written.transactions,
            }
        })
    }

    /// Writes consecutive blocks and advances the checkpoint past the last, all in one database
    /// transaction. Blocks already mirrored are skipped; the first new block must be the one the checkpoint
    /// names and the rest must follow it, or nothing is written.
    pub async fn apply_batch(&self, blocks: &[Block]) -> Result<Written, MirrorError> {
        let rows = blocks
            .iter()
            .map(BlockRows::from_block)
            .collect::<Result<Vec<_>, _>>()?;
        self.write_rows(rows).await
    }

    /// Writes the rows of consecutive blocks as [`Mirror::apply_batch`] does.
    async fn write_rows(&self, blocks: Vec<BlockRows>) -> Result<Written, MirrorError> {
        let started = std::time::Instant::now();
        let mut db = self.pool.begin().await?;
        // Lock the checkpoint row so two listeners cannot write the same block.
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT next_block FROM mirror_checkpoint WHERE channel = $1 FOR UPDATE",
        )
        .bind(&self.channel)
        .fetch_optional(&mut *db)
        .await?;
        let mut expected = next.map_or(0, |next| u64::try_from(next).unwrap_or(0));
        let mut columns = Columns::default();
        let mut written = Written::default();
        let mut created = Vec::new();
        for rows in blocks {
            if rows.number < expected {
                continue;
            }
            if rows.number > expected {
                return Err(MirrorError::Gap {
                    expected,
                    got: rows.number,
                });
            }
            written.blocks += 1;
            written.transactions += rows.transactions.len();
            created.extend(rows.created);
            columns.push(rows);
            expected += 1;
        }
        if written.blocks == 0 {
            return Ok(written);
        }
        let locked = started.elapsed();
        self.insert(&mut db, columns).await?;
        let inserted = started.elapsed();
        sqlx::query(
            "INSERT INTO mirror_checkpoint (channel, next_block) VALUES ($1, $2)
             ON CONFLICT (channel) DO UPDATE SET next_block = EXCLUDED.next_block, updated_at = now()",
        )
        .bind(&self.channel)
        .bind(as_i64(expected))
        .execute(&mut *db)
        .await?;
        db.commit().await?;
        tracing::trace!(
            lock_ms = locked.as_secs_f64() * 1e3,
            insert_ms = (inserted - locked).as_secs_f64() * 1e3,
            commit_ms = (started.elapsed() - inserted).as_secs_f64() * 1e3,
            blocks = written.blocks,
            "Batch timing"
        );
        self.height.send_replace(expected);
        if let Some(metrics) = &self.metrics {
            metrics.mirror_height.set(as_i64(expected));
            let now = std::time::SystemTime::now();
            for created in created {
                let lag = now.duration_since(created).unwrap_or_default();
                metrics.mirror_lag_seconds.observe(lag.as_secs_f64());
            }
        }
        written.height = expected;
        Ok(written)
    }

    async fn insert(
        &self,
        db: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        c: Columns,
    ) -> Result<(), MirrorError> {
        sqlx::query(
            "INSERT INTO blocks (channel, number, header_hash, previous_hash, data_hash, tx_count, is_config, raw)
             SELECT $1, * FROM UNNEST($2::BIGINT[], $3::BYTEA[], $4::BYTEA[], $5::BYTEA[], $6::INTEGER[],
                                      $7::BOOLEAN[], $8::BYTEA[])",
        )
        .bind(&self.channel)
        .bind(&c.block_number)
        .bind(&c.block_header_hash)
        .bind(&c.block_previous_hash)
        .bind(&c.block_data_hash)
        .bind(&c.block_tx_count)
        .bind(&c.block_is_config)
        .bind(&c.block_raw)
        .execute(&mut **db)
        .await?;
        sqlx::query(
            "INSERT INTO transactions (channel, block_number, position, tx_id, header_type, validation_code,
                 validation, creator_msp, chaincode, function, tx_timestamp)
             SELECT $1, * FROM UNNEST($2::BIGINT[], $3::INTEGER[], $4::TEXT[], $5::TEXT[], $6::INTEGER[],
                                      $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[])",
        )
        .bind(&self.channel)
        .bind(&c.tx_block)
        .bind(&c.tx_position)
        .bind(&c.tx_id)
        .bind(&c.tx_header_type)
        .bind(&c.tx_code)
        .bind(&c.tx_validation)
        .bind(&c.tx_creator)
        .bind(&c.tx_chaincode)
        .bind(&c.tx_function)
        .bind(&c.tx_timestamp)
        .execute(&mut **db)
        .await?;
        if !c.write_block.is_empty() {
            sqlx::query(
                "INSERT INTO writes (channel, block_number, position, namespace, key, value, is_delete)
                 SELECT $1, * FROM UNNEST($2::BIGINT[], $3::INTEGER[], $4::TEXT[], $5::BYTEA[], $6::BYTEA[],
                                          $7::BOOLEAN[])",
            )
            .bind(&self.channel)
            .bind(&c.write_block)
            .bind(&c.write_position)
            .bind(&c.write_namespace)
            .bind(&c.write_key)
            .bind(&c.write_value)
            .bind(&c.write_delete)
            .execute(&mut **db)
            .await?;
        }
        if !c.event_block.is_empty() {
            sqlx::query(
                "INSERT INTO events (channel, block_number, position, tx_id, chaincode, name, payload)
                 SELECT $1, * FROM UNNEST($2::BIGINT[], $3::INTEGER[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                                          $7::BYTEA[])",
            )
            .bind(&self.channel)
            .bind(&c.event_block)
            .bind(&c.event_position)
            .bind(&c.event_tx)
            .bind(&c.event_chaincode)
            .bind(&c.event_name)
            .bind(&c.event_payload)
            .execute(&mut **db)
            .await?;
        }
        if !c.records.is_empty() {
            let mut kinds = Vec::with_capacity(c.records.len());
            let mut keys = Vec::with_capacity(c.records.len());
            let mut values = Vec::with_capacity(c.records.len());
            let mut deleted = Vec::with_capacity(c.records.len());
            let mut numbers = Vec::with_capacity(c.records.len());
            let mut tx_ids = Vec::with_capacity(c.records.len());
            for (record, number) in c.records.into_values() {
                kinds.push(record.kind);
                keys.push(record.key);
                values.push(record.value.map(|value| value.to_string()));
                deleted.push(record.deleted);
                numbers.push(number);
                tx_ids.push(record.tx_id);
            }
            sqlx::query(
                "INSERT INTO records (channel, kind, record_key, value, deleted, block_number, tx_id)
                 SELECT $1, kind, record_key, value::JSONB, deleted, block_number, tx_id
                 FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BOOLEAN[], $6::BIGINT[], $7::TEXT[])
                      AS r(kind, record_key, value, deleted, block_number, tx_id)
                 ON CONFLICT (channel, kind, record_key) DO UPDATE SET value = EXCLUDED.value,
                     deleted = EXCLUDED.deleted, block_number = EXCLUDED.block_number, tx_id = EXCLUDED.tx_id",
            )
            .bind(&self.channel)
            .bind(&kinds)
            .bind(&keys)
            .bind(&values)
            .bind(&deleted)
            .bind(&numbers)
            .bind(&tx_ids)
            .execute(&mut **db)
            .await?;
        }
        Ok(())
    }

    /// Follows the channel's blocks from the checkpoint until `stop` completes, writing them.
    ///
    /// Reading and writing overlap: while one batch is written, the blocks the stream already holds (up to
    /// [`BATCH_TRANSACTIONS`] transactions) are taken and decoded into rows on a blocking thread; a block
    /// that arrives alone is written at once. Stopping mid-write rolls that batch back; the checkpoint
    /// still names the first block not written.
    pub async fn follow(
        &self,
        network: &Network,
        stop: impl Future<Output = ()>,
    ) -> Result<(), MirrorError> {
        let options = EventsOptions {
            checkpoint: Some(Checkpoint {
                block_number: self.next_block().await?,
                transaction_id: None,
            }),
            ..EventsOptions::default()
        };
        let blocks = network.block_events(&options).await?;
        let blocks = futures_util::stream::unfold(blocks, |mut blocks| async move {
            blocks.next().await.map(|block| (block, blocks))
        });
        self.follow_stream(Box::pin(blocks), stop).await
    }

    /// Writes the blocks of `blocks` — consecutive, from the checkpoint on — as [`Mirror::follow`] does,
    /// until the stream ends or `stop` completes.
    pub async fn follow_stream(
        &self,
        mut blocks: impl Stream<Item = Result<Block, GatewayError>> + Unpin + Send + 'static,
        stop: impl Future<Output = ()>,
    ) -> Result<(), MirrorError> {
        // One batch decoded ahead of the one being written.
        let (decoded, mut ready) =
            tokio::sync::mpsc::channel::<Result<Vec<BlockRows>, MirrorError>>(1);
        let read = async move {
            loop {
                let Some(first) = blocks.next().await else {
                    return;
                };
                let mut batch = Vec::new();
                let mut failure = None;
                let mut ended = false;
                match first {
                    Ok(block) => batch.push(block),
                    Err(error) => failure = Some(error.into()),
                }
                let mut transactions = batch.iter().map(tx_count).sum::<usize>();
                while failure.is_none() && transactions < BATCH_TRANSACTIONS {
                    // Only what the stream already holds: a pending read is dropped, losing nothing.
                    match blocks.next().now_or_never() {
                        Some(Some(Ok(block))) => {
                            transactions += tx_count(&block);
                            batch.push(block);
                        }
                        Some(Some(Err(error))) => failure = Some(error.into()),
                        Some(None) => ended = true,
                        None => break,
                    }
                    if ended {
                        break;
                    }
                }
                for block in &batch {
                    self.delivered(block);
                }
                if !batch.is_empty() {
                    let rows = tokio::task::spawn_blocking(move || {
                        batch
                            .iter()
                            .map(BlockRows::from_block)
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .await
                    .unwrap_or_else(|error| {
                        Err(MirrorError::Block {
                            block: 0,
                            reason: format!("decoding stopped: {error}"),
                        })
                    });
                    if decoded.send(rows).await.is_err() {
                        return;
                    }
                }
                if let Some(failure) = failure {
                    let _ = decoded.send(Err(failure)).await;
                    return;
                }
                if ended {
                    return;
                }
            }
        };
        let write = async move {
            while let Some(next) = ready.recv().await {
                let mut rows = next?;
                // Batches decoded meanwhile go into the same database transaction.
                let mut failure = None;
                while rows
                    .iter()
                    .map(|block| block.transactions.len())
                    .sum::<usize>()
                    < BATCH_TRANSACTIONS
                {
                    match ready.try_recv() {
                        Ok(Ok(more)) => rows.extend(more),
                        Ok(Err(error)) => {
                            failure = Some(error);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let written = self.write_rows(rows).await?;
                if written.blocks > 0 {
                    tracing::debug!(
                        blocks = written.blocks,
                        transactions = written.transactions,
                        height = written.height,
                        "Mirrored blocks"
                    );
                }
                if let Some(failure) = failure {
                    return Err(failure);
                }
            }
            Ok(())
        };
        tokio::pin!(stop);
        tokio::select! {
            () = &mut stop => Ok(()),
            ((), result) = async { tokio::join!(read, write) } => result,
        }
    }
}

impl Mirror {
    fn delivered(&self, block: &Block) {
        if let (Some(metrics), Some(header)) = (&self.metrics, &block.header) {
            let height = as_i64(header.number.saturating_add(1));
            if metrics.ledger_height.get() < height {
                metrics.ledger_height.set(height);
            }
        }
    }
}

fn tx_count(block: &Block) -> usize {
    block.data.as_ref().map_or(0, |data| data.data.len())
}

/// What [`Mirror::apply_batch`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Blocks written (not counting those already mirrored).
    pub blocks: usize,
    /// Their transactions.
    pub transactions: usize,
    /// The mirror's height afterwards (0 when nothing was written).
    pub height: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_keys_of_records_are_projected_and_indexes_are_not() {
        assert_eq!(
            record_key("\u{0}club\u{0}club-alpha\u{0}"),
            Some(("club", "club-alpha".to_owned()))
        );
        assert_eq!(
            record_key("\u{0}vote\u{0}p-1\u{0}club-beta\u{0}"),
            Some(("vote", "p-1/club-beta".to_owned()))
        );
        assert_eq!(
            record_key("\u{0}hostvisit\u{0}club\u{0}2026-12\u{0}v\u{0}"),
            None
        );
        assert_eq!(record_key("plain"), None);
    }

    #[test]
    fn composite_key_is_the_inverse_of_record_key() {
        for key in [
            "\u{0}club\u{0}club-alpha\u{0}",
            "\u{0}vote\u{0}p-1\u{0}club-beta\u{0}",
            "\u{0}networkrules\u{0}",
        ] {
            let (kind, id) = record_key(key).unwrap();
            assert_eq!(composite_key(kind, &id), key);
        }
    }
}
