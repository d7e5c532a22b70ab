//! Reads of clubs, proposals and votes from the views of the ledger's mirror (`clubs`, `proposals`,
//! `votes`), keyset-paginated by record id.

use platform::ledger::{CHANNEL, database_error};
use sqlx::postgres::PgPool;
use tonic::Status;

pub use platform::ledger::{Row, into_record, page};

/// The club `id`.
pub async fn club(pool: &PgPool, id: &str) -> Result<Option<Row>, Status> {
    sqlx::query_as(
        "SELECT id, value::text, block_number, tx_id FROM clubs WHERE channel = $1 AND id = $2",
    )
    .bind(CHANNEL)
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(database_error)
}

/// Clubs with `status` (any when empty), ids after `after`, at most `limit + 1`.
pub async fn clubs(
    pool: &PgPool,
    status: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<Row>, Status> {
    sqlx::query_as(
        "SELECT id, value::text, block_number, tx_id FROM clubs \
         WHERE channel = $1 AND ($2 = '' OR status = $2) AND id > $3 ORDER BY id LIMIT $4",
    )
    .bind(CHANNEL)
    .bind(status)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(pool)
    .await
    .map_err(database_error)
}

/// The proposal `id`.
pub async fn proposal(pool: &PgPool, id: &str) -> Result<Option<Row>, Status> {
    sqlx::query_as(
        "SELECT id, value::text, block_number, tx_id FROM proposals WHERE channel = $1 AND id = $2",
    )
    .bind(CHANNEL)
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(database_error)
}

/// Proposals with `status` (any when empty), ids after `after`, at most `limit + 1`.
pub async fn proposals(
    pool: &PgPool,
    status: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<Row>, Status> {
    sqlx::query_as(
        "SELECT id, value::text, block_number, tx_id FROM proposals \
         WHERE channel = $1 AND ($2 = '' OR status = $2) AND id > $3 ORDER BY id LIMIT $4",
    )
    .bind(CHANNEL)
    .bind(status)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(pool)
    .await
    .map_err(database_error)
}

/// The votes cast on proposal `id`, by club.
pub async fn votes(pool: &PgPool, id: &str) -> Result<Vec<Row>, Status> {
    sqlx::query_as(
        "SELECT club, value::text, block_number, tx_id FROM votes \
         WHERE channel = $1 AND proposal_id = $2 ORDER BY club",
    )
    .bind(CHANNEL)
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(database_error)
}
