//! Reads of clubs, proposals and votes from the views of the ledger's mirror (`clubs`, `proposals`,
//! `votes`), keyset-paginated by record id.

use platform::ledger::{CHANNEL, database_error, record};
use reciprocal_api::v1::{Record, RecordList};
use sqlx::postgres::PgPool;
use tonic::Status;

/// One record as read: its id, value, block and transaction.
pub type Row = (String, serde_json::Value, i64, String);

/// A page of at most `limit` records from `rows` (fetched with one row more than the page, which tells
/// whether another page follows).
pub fn page(mut rows: Vec<Row>, limit: i64, mirror_height: u64) -> RecordList {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next_after = match rows.last() {
        Some((id, ..)) if more => id.clone(),
        _ => String::new(),
    };
    RecordList {
        records: rows.into_iter().map(into_record).collect(),
        next_after,
        mirror_height,
    }
}

/// The record of a row.
pub fn into_record((_, value, block_number, tx_id): Row) -> Record {
    record(value, block_number, tx_id)
}

/// The club `id`.
pub async fn club(pool: &PgPool, id: &str) -> Result<Option<Row>, Status> {
    sqlx::query_as(
        "SELECT id, value, block_number, tx_id FROM clubs WHERE channel = $1 AND id = $2",
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
        "SELECT id, value, block_number, tx_id FROM clubs \
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
        "SELECT id, value, block_number, tx_id FROM proposals WHERE channel = $1 AND id = $2",
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
        "SELECT id, value, block_number, tx_id FROM proposals \
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
        "SELECT club, value, block_number, tx_id FROM votes \
         WHERE channel = $1 AND proposal_id = $2 ORDER BY club",
    )
    .bind(CHANNEL)
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(database_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_names_where_the_next_one_starts() {
        let row = |id: &str| (id.to_owned(), serde_json::json!({"id": id}), 1, "tx".into());
        let full = page(vec![row("a"), row("b"), row("c")], 2, 7);
        assert_eq!(full.records.len(), 2);
        assert_eq!(full.next_after, "b");
        let last = page(vec![row("a")], 2, 7);
        assert_eq!(last.next_after, "");
        assert_eq!(last.mirror_height, 7);
    }
}
