//! Reads of agreements and visits from the views of the ledger's mirror (`agreements`, `visits`), one
//! SQL query per answer, keyset-paginated by record id.

use platform::ledger::{CHANNEL, database_error};
use sqlx::postgres::PgPool;
use tonic::Status;

pub use platform::ledger::{Row, into_record, page};

/// The agreements with their status as of `$2` (today, YYYY-MM-DD): the mirror holds each agreement as
/// last written, so `effective_status` is derived again the way the contract derives it on reads
/// (`expired` after `valid_until`, `terminated` from the day a notice takes effect).
macro_rules! agreements {
    ($tail:literal) => {
        concat!(
            "SELECT id, jsonb_set(value, '{effective_status}', to_jsonb(effective))::text AS value, \
                    block_number, tx_id \
             FROM (SELECT id, club_a, club_b, value, block_number, tx_id, \
                          CASE WHEN status IN ('rejected', 'withdrawn') THEN status \
                               WHEN value->'termination'->>'effective_on' <= $2 THEN 'terminated' \
                               WHEN value->'terms'->>'valid_until' < $2 THEN 'expired' \
                               ELSE status END AS effective \
                   FROM agreements WHERE channel = $1) AS a ",
            $tail
        )
    };
}

/// The agreement `id` as of `today`.
pub async fn agreement(pool: &PgPool, id: &str, today: &str) -> Result<Option<Row>, Status> {
    sqlx::query_as(agreements!("WHERE id = $3"))
        .bind(CHANNEL)
        .bind(today)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(database_error)
}

/// Filters of an agreement listing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AgreementFilter {
    /// A party: `club_a` or `club_b`.
    pub club: Option<String>,
    /// The status as of today.
    pub status: Option<String>,
}

/// Agreements matching `filter` as of `today`, ids after `after`, at most `limit + 1`.
pub async fn agreements(
    pool: &PgPool,
    filter: &AgreementFilter,
    today: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<Row>, Status> {
    sqlx::query_as(agreements!(
        "WHERE ($3 = '' OR club_a = $3 OR club_b = $3) AND ($4 = '' OR effective = $4) \
         AND id > $5 ORDER BY id LIMIT $6"
    ))
    .bind(CHANNEL)
    .bind(today)
    .bind(filter.club.as_deref().unwrap_or_default())
    .bind(filter.status.as_deref().unwrap_or_default())
    .bind(after)
    .bind(limit + 1)
    .fetch_all(pool)
    .await
    .map_err(database_error)
}

/// The parties (`club_a`, `club_b`) of agreement `id`, if the mirror holds it.
pub async fn agreement_parties(
    pool: &PgPool,
    id: &str,
) -> Result<Option<(String, String)>, Status> {
    sqlx::query_as("SELECT club_a, club_b FROM agreements WHERE channel = $1 AND id = $2")
        .bind(CHANNEL)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(database_error)
}

/// The visit `id`.
pub async fn visit(pool: &PgPool, id: &str) -> Result<Option<Row>, Status> {
    sqlx::query_as(
        "SELECT visit_id, value::text, block_number, tx_id FROM visits \
         WHERE channel = $1 AND visit_id = $2",
    )
    .bind(CHANNEL)
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(database_error)
}

/// Filters of a visit listing; every one given must match.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VisitFilter {
    /// The club visited.
    pub host_club: Option<String>,
    /// The member's club.
    pub home_club: Option<String>,
    /// The member's ledger reference.
    pub member_ref: Option<String>,
    /// `YYYY-MM` of the visit date.
    pub month: Option<String>,
    /// The visit's status.
    pub status: Option<String>,
}

/// The query of a visit listing and the values of its filters: `$1` the channel, `$2` the id to start
/// after, `$3` the row limit, then one parameter per filter given. Only the filters given appear in the
/// query, so each combination is planned on its own: host and month use the index on (channel,
/// host_club, month, visit_id), which also yields the rows in keyset order.
pub fn visit_list_sql(filter: &VisitFilter) -> (String, Vec<String>) {
    let mut sql = String::from(
        "SELECT visit_id, value::text, block_number, tx_id FROM visits WHERE channel = $1 AND visit_id > $2",
    );
    let mut values = Vec::new();
    for (column, value) in [
        ("host_club", &filter.host_club),
        ("month", &filter.month),
        ("home_club", &filter.home_club),
        ("member_ref", &filter.member_ref),
        ("status", &filter.status),
    ] {
        if let Some(value) = value {
            values.push(value.clone());
            // Column names are the constants above; values travel as parameters.
            sql.push_str(&format!(" AND {column} = ${}", values.len() + 3));
        }
    }
    sql.push_str(" ORDER BY visit_id LIMIT $3");
    (sql, values)
}

/// Visits matching `filter`, ids after `after`, at most `limit + 1`.
pub async fn visits(
    pool: &PgPool,
    filter: &VisitFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<Row>, Status> {
    let (sql, values) = visit_list_sql(filter);
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(CHANNEL)
        .bind(after.to_owned())
        .bind(limit + 1);
    for value in values {
        query = query.bind(value);
    }
    query.fetch_all(pool).await.map_err(database_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_given_filters_reach_the_query() {
        let (sql, values) = visit_list_sql(&VisitFilter {
            host_club: Some("club-beta".into()),
            month: Some("2026-12".into()),
            ..VisitFilter::default()
        });
        assert!(
            sql.ends_with("AND host_club = $4 AND month = $5 ORDER BY visit_id LIMIT $3"),
            "{sql}"
        );
        assert_eq!(values, ["club-beta", "2026-12"]);
        let (sql, values) = visit_list_sql(&VisitFilter::default());
        assert!(!sql.contains("host_club"));
        assert!(values.is_empty());
    }
}
