//! The Postgres mirror of the ledger: every block a Deliver stream hands out is written — block, its
//! transactions, their writes and events, and the projections of the domain records — together with the
//! checkpoint, in **one database transaction**. A crash at any point leaves either the whole block and the
//! advanced checkpoint or neither, so on restart the listener resumes at the checkpoint and the mirror ends
//! exactly once. Only VALID transactions change the projections; every transaction is recorded.

use std::future::Future;

use fabric_protos::common::Block;
use fabric_sdk::block::{TxEffects, block_header_hash, decode_block, transaction_effects};
use fabric_sdk::gateway::{Checkpoint, EventsOptions, GatewayError, Network};
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};

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

/// The mirror of one channel's ledger.
#[derive(Debug, Clone)]
pub struct Mirror {
    pool: PgPool,
    channel: String,
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Splits a composite key `\0kind\0a\0b\0` into its kind and its attributes joined by `/`.
fn record_key(key: &str) -> Option<(&str, String)> {
    let rest = key.strip_prefix('\u{0}')?.strip_suffix('\u{0}')?;
    let mut parts = rest.split('\u{0}');
    let kind = parts.next()?;
    RECORD_KINDS
        .contains(&kind)
        .then(|| (kind, parts.collect::<Vec<_>>().join("/")))
}

impl Mirror {
    /// A mirror of `channel` in `pool`'s database (run [`Mirror::migrate`] first).
    pub fn new(pool: PgPool, channel: &str) -> Self {
        Self {
            pool,
            channel: channel.to_owned(),
        }
    }

    /// Creates or updates the mirror's tables.
    pub async fn migrate(pool: &PgPool) -> Result<(), MirrorError> {
        sqlx::migrate!("./migrations").run(pool).await?;
        Ok(())
    }

    /// The next block the mirror needs (its height).
    pub async fn next_block(&self) -> Result<u64, MirrorError> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT next_block FROM mirror_checkpoint WHERE channel = $1")
                .bind(&self.channel)
                .fetch_optional(&self.pool)
                .await?;
        Ok(next.map_or(0, |next| u64::try_from(next).unwrap_or(0)))
    }

    /// Writes `block` and advances the checkpoint in one database transaction. A block already mirrored is
    /// skipped; a block past the checkpoint is a gap and is refused.
    pub async fn apply(&self, block: &Block) -> Result<Applied, MirrorError> {
        let header = block.header.clone().unwrap_or_default();
        let number = header.number;
        let effects = transaction_effects(block).map_err(|reason| MirrorError::Block {
            block: number,
            reason,
        })?;
        let decoded = decode_block(block).map_err(|error| MirrorError::Block {
            block: number,
            reason: error.to_string(),
        })?;

        let mut db = self.pool.begin().await?;
        // Lock the checkpoint row so two listeners cannot write the same block.
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT next_block FROM mirror_checkpoint WHERE channel = $1 FOR UPDATE",
        )
        .bind(&self.channel)
        .fetch_optional(&mut *db)
        .await?;
        let expected = next.map_or(0, |next| u64::try_from(next).unwrap_or(0));
        if number < expected {
            return Ok(Applied::AlreadyMirrored);
        }
        if number > expected {
            return Err(MirrorError::Gap {
                expected,
                got: number,
            });
        }

        let is_config = decoded.transactions.iter().any(|tx| tx.config.is_some());
        sqlx::query(
            "INSERT INTO blocks (channel, number, header_hash, previous_hash, data_hash, tx_count, is_config)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&self.channel)
        .bind(as_i64(number))
        .bind(block_header_hash(&header).to_vec())
        .bind(&header.previous_hash)
        .bind(&header.data_hash)
        .bind(i32::try_from(effects.len()).unwrap_or(i32::MAX))
        .bind(is_config)
        .execute(&mut *db)
        .await?;
        for (tx, summary) in effects.iter().zip(&decoded.transactions) {
            self.write_transaction(&mut db, number, tx, summary).await?;
        }
        sqlx::query(
            "INSERT INTO mirror_checkpoint (channel, next_block) VALUES ($1, $2)
             ON CONFLICT (channel) DO UPDATE SET next_block = EXCLUDED.next_block, updated_at = now()",
        )
        .bind(&self.channel)
        .bind(as_i64(number + 1))
        .execute(&mut *db)
        .await?;
        db.commit().await?;
        Ok(Applied::Written {
            transactions: effects.len(),
        })
    }

    async fn write_transaction(
        &self,
        db: &mut Transaction<'_, Postgres>,
        number: u64,
        tx: &TxEffects,
        summary: &fabric_sdk::block::DecodedTransaction,
    ) -> Result<(), MirrorError> {
        let position = i32::try_from(tx.index).unwrap_or(i32::MAX);
        let call = summary.chaincode.as_ref();
        sqlx::query(
            "INSERT INTO transactions (channel, block_number, position, tx_id, header_type, validation_code,
                 validation, creator_msp, chaincode, function, tx_timestamp)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&self.channel)
        .bind(as_i64(number))
        .bind(position)
        .bind(&summary.tx_id)
        .bind(&summary.header_type)
        .bind(tx.validation_code.map(i32::from))
        .bind(&summary.validation)
        .bind(&summary.creator_msp_id)
        .bind(call.map(|call| call.name.clone()))
        .bind(call.and_then(|call| call.function.as_ref()).map(ToString::to_string).map(|f| f.trim_matches('"').to_owned()))
        .bind(&summary.timestamp)
        .execute(&mut **db)
        .await?;
        for (namespace, writes) in &tx.writes {
            for write in writes {
                sqlx::query(
                    "INSERT INTO writes (channel, block_number, position, namespace, key, value, is_delete)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (channel, block_number, position, namespace, key)
                     DO UPDATE SET value = EXCLUDED.value, is_delete = EXCLUDED.is_delete",
                )
                .bind(&self.channel)
                .bind(as_i64(number))
                .bind(position)
                .bind(namespace)
                .bind(write.key.as_bytes())
                .bind(&write.value)
                .bind(write.is_delete)
                .execute(&mut **db)
                .await?;
                if tx.is_valid()
                    && let Some((kind, key)) = record_key(&write.key)
                {
                    let value: Option<serde_json::Value> = if write.is_delete {
                        None
                    } else {
                        serde_json::from_slice(&write.value).ok()
                    };
                    sqlx::query(
                        "INSERT INTO records (channel, kind, record_key, value, deleted, block_number, tx_id)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (channel, kind, record_key) DO UPDATE SET value = EXCLUDED.value,
                             deleted = EXCLUDED.deleted, block_number = EXCLUDED.block_number, tx_id = EXCLUDED.tx_id",
                    )
                    .bind(&self.channel)
                    .bind(kind)
                    .bind(&key)
                    .bind(value)
                    .bind(write.is_delete)
                    .bind(as_i64(number))
                    .bind(&summary.tx_id)
                    .execute(&mut **db)
                    .await?;
                }
            }
        }
        if let Some(event) = &tx.event
            && tx.is_valid()
        {
            sqlx::query(
                "INSERT INTO events (channel, block_number, position, tx_id, chaincode, name, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&self.channel)
            .bind(as_i64(number))
            .bind(position)
            .bind(&summary.tx_id)
            .bind(&event.chaincode_id)
            .bind(&event.event_name)
            .bind(&event.payload)
            .execute(&mut **db)
            .await?;
        }
        Ok(())
    }

    /// Follows the channel's blocks from the checkpoint until `stop` completes, writing each one.
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
        let mut blocks = network.block_events(&options).await?;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return Ok(()),
                next = blocks.next() => match next {
                    Some(block) => {
                        let block = block?;
                        if let Applied::Written { transactions } = self.apply(&block).await? {
                            let number = block.header.as_ref().map_or(0, |header| header.number);
                            tracing::info!(block = number, transactions, "Mirrored block");
                        }
                    }
                    None => return Ok(()),
                },
            }
        }
    }
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
}
