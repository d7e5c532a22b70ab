//! Reads of clubs, proposals and votes from the views of the ledger's mirror (`clubs`, `proposals`,
//! `votes`), keyset-paginated by record id.

use platform::ledger::{CHANNEL, database_error};
use sqlx::postgres::PgPool;
use tonic::Status;

pub use platform::ledger::{Row, into_record, page};

/// A view of the mirror whose records are keyed by `id` and carry a `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `clubs`.
    Clubs,
    /// `proposals`.
    Proposals,
}

macro_rules! by_id {
    ($view:literal) => {
        concat!(
            "SELECT id, value::text, block_number, tx_id FROM ",
            $view,
            " WHERE channel = $1 AND id = $2"
        )
    };
}

macro_rules! listed {
    ($view:literal) => {
        concat!(
            "SELECT id, value::text, block_number, tx_id FROM ",
            $view,
            " WHERE channel = $1 AND ($2 = '' OR status = $2) AND id > $3 ORDER BY id LIMIT $4"
        )
    };
}

/// The record `id` of `view`.
pub async fn one(pool: &PgPool, view: View, id: &str) -> Result<Option<Row>, Status> {
    let sql = match view {
        View::Clubs => by_id!("clubs"),
        View::Proposals => by_id!("proposals"),
    };
    sqlx::query_as(sql)
        .bind(CHANNEL)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(database_error)
}

/// Records of `view` with `status` (any when empty), ids after `after`, at most `limit + 1`.
pub async fn list(
    pool: &PgPool,
    view: View,
    status: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<Row>, Status> {
    let sql = match view {
        View::Clubs => listed!("clubs"),
        View::Proposals => listed!("proposals"),
    };
    sqlx::query_as(sql)
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
