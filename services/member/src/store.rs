//! The member database: members with their personal data, and each club's secret that turns a member id
//! into the pseudonym the ledger knows (`member_ref`).

use platform::ledger::database_error;
use reciprocal_api::v1::Member;
use ring::hmac;
use ring::rand::{SecureRandom as _, SystemRandom};
use sqlx::postgres::{PgExecutor, PgPool};
use tonic::Status;

/// The columns of a [`MemberRow`], dates and times as text.
macro_rules! member_columns {
    () => {
        "id, club, member_ref, name, email, membership_number, photo_url, status, \
         to_char(valid_until, 'YYYY-MM-DD') AS valid_until, residency_zone, \
         erased_at IS NOT NULL AS erased, \
         to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at, \
         to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS updated_at, \
         anchor_tx_id, anchor_block"
    };
}

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    /// Member id (a UUID).
    pub id: String,
    /// Home club.
    pub club: String,
    /// The member's pseudonym on the ledger.
    pub member_ref: String,
    /// Name (none once erased).
    pub name: Option<String>,
    /// E-mail address (none once erased).
    pub email: Option<String>,
    /// The club's membership number (none once erased).
    pub membership_number: Option<String>,
    /// Photo URL (none when not given or erased).
    pub photo_url: Option<String>,
    /// `active`, `suspended` or `lapsed`.
    pub status: String,
    /// Last day of membership, YYYY-MM-DD.
    pub valid_until: String,
    /// Coarse residency zone.
    pub residency_zone: Option<String>,
    /// Whether the personal data was erased.
    pub erased: bool,
    /// When created (RFC 3339, UTC).
    pub created_at: String,
    /// When last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// The transaction that wrote the current anchor.
    pub anchor_tx_id: Option<String>,
    /// Its block.
    pub anchor_block: Option<i64>,
}

impl MemberRow {
    /// The member as the API answers it.
    pub fn to_api(&self) -> Member {
        Member {
            id: self.id.clone(),
            club: self.club.clone(),
            member_ref: self.member_ref.clone(),
            name: self.name.clone().unwrap_or_default(),
            email: self.email.clone().unwrap_or_default(),
            membership_number: self.membership_number.clone().unwrap_or_default(),
            photo_url: self.photo_url.clone().unwrap_or_default(),
            status: self.status.clone(),
            valid_until: self.valid_until.clone(),
            residency_zone: self.residency_zone.clone().unwrap_or_default(),
            erased: self.erased,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }

    /// The anchor the ledger holds for this member (`UpsertMemberAnchor`'s argument), with `status`.
    pub fn anchor(&self, status: &str, valid_until: &str) -> String {
        serde_json::json!({
            "member_ref": self.member_ref,
            "status": status,
            "valid_until": valid_until,
            "residency_zone": self.residency_zone,
        })
        .to_string()
    }
}

/// A member to insert, validated.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// Member id.
    pub id: String,
    /// Home club.
    pub club: String,
    /// Pseudonym.
    pub member_ref: String,
    /// Name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Membership number.
    pub membership_number: String,
    /// Photo URL.
    pub photo_url: Option<String>,
    /// Status.
    pub status: String,
    /// Last valid day.
    pub valid_until: String,
    /// Residency zone.
    pub residency_zone: Option<String>,
}

/// `member_ref` = lowercase hex of HMAC-SHA256(club secret, member id).
pub fn member_ref(secret: &[u8], member_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hex::encode(hmac::sign(&key, member_id.as_bytes()).as_ref())
}

/// The member database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// The store over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The secret of `club`, made (32 random bytes) on first use; concurrent first uses agree on one.
    pub async fn club_secret(&self, club: &str) -> Result<Vec<u8>, Status> {
        const SELECT: &str = "SELECT secret FROM club_secrets WHERE club = $1";
        let existing: Option<Vec<u8>> = sqlx::query_scalar(SELECT)
            .bind(club)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        if let Some(secret) = existing {
            return Ok(secret);
        }
        let mut secret = [0u8; 32];
        SystemRandom::new().fill(&mut secret).map_err(|_| {
            tracing::error!("the system random generator failed");
            Status::unavailable("cannot make a club secret now; retry later")
        })?;
        sqlx::query(
            "INSERT INTO club_secrets (club, secret) VALUES ($1, $2) ON CONFLICT (club) DO NOTHING",
        )
        .bind(club)
        .bind(secret.as_slice())
        .execute(&self.pool)
        .await
        .map_err(database_error)?;
        sqlx::query_scalar(SELECT)
            .bind(club)
            .fetch_one(&self.pool)
            .await
            .map_err(database_error)
    }

    /// The member `id`, if any.
    pub async fn get(&self, id: &str) -> Result<Option<MemberRow>, Status> {
        get(&self.pool, id, false).await
    }

    /// A page of members in id order after `after`: of `club`, or of every club. Answers one row more
    /// than `limit` when there are more.
    pub async fn list(
        &self,
        club: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<MemberRow>, Status> {
        sqlx::query_as(concat!(
            "SELECT ",
            member_columns!(),
            " FROM members WHERE ($1::text IS NULL OR club = $1) AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(club)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)
    }
}

/// The member `id`, locked for update in the surrounding transaction when `lock`.
pub async fn get<'e>(
    db: impl PgExecutor<'e>,
    id: &str,
    lock: bool,
) -> Result<Option<MemberRow>, Status> {
    let query = if lock {
        concat!(
            "SELECT ",
            member_columns!(),
            " FROM members WHERE id = $1 FOR UPDATE"
        )
    } else {
        concat!("SELECT ", member_columns!(), " FROM members WHERE id = $1")
    };
    sqlx::query_as(query)
        .bind(id)
        .fetch_optional(db)
        .await
        .map_err(database_error)
}

/// Inserts `member`; a membership number the club already gave another member is AlreadyExists.
pub async fn insert<'e>(db: impl PgExecutor<'e>, member: &NewMember) -> Result<MemberRow, Status> {
    sqlx::query_as(concat!(
        "INSERT INTO members (id, club, member_ref, name, email, membership_number, photo_url, status, \
         valid_until, residency_zone) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10) RETURNING ",
        member_columns!()
    ))
    .bind(&member.id)
    .bind(&member.club)
    .bind(&member.member_ref)
    .bind(&member.name)
    .bind(&member.email)
    .bind(&member.membership_number)
    .bind(&member.photo_url)
    .bind(&member.status)
    .bind(&member.valid_until)
    .bind(&member.residency_zone)
    .fetch_one(db)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db)
            if db.constraint() == Some("members_club_membership_number") =>
        {
            Status::already_exists(format!(
                "membership_number {:?} is already held by another member of {}",
                member.membership_number, member.club
            ))
        }
        sqlx::Error::Database(db) if db.is_unique_violation() => Status::already_exists(format!(
            "member {} already exists",
            member.id
        )),
        _ => database_error(error),
    })
}

/// Stores a new status and validity with the ledger write that anchored them.
pub async fn set_anchor<'e>(
    db: impl PgExecutor<'e>,
    id: &str,
    status: &str,
    valid_until: &str,
    tx_id: &str,
    block: u64,
) -> Result<MemberRow, Status> {
    sqlx::query_as(concat!(
        "UPDATE members SET status = $2, valid_until = $3::date, anchor_tx_id = $4, anchor_block = $5, \
         updated_at = now() WHERE id = $1 RETURNING ",
        member_columns!()
    ))
    .bind(id)
    .bind(status)
    .bind(valid_until)
    .bind(tx_id)
    .bind(block as i64)
    .fetch_one(db)
    .await
    .map_err(database_error)
}

/// Erases the personal data of `id` and stores the ledger write that lapsed its anchor.
pub async fn erase<'e>(
    db: impl PgExecutor<'e>,
    id: &str,
    tx_id: &str,
    block: u64,
) -> Result<MemberRow, Status> {
    sqlx::query_as(concat!(
        "UPDATE members SET name = NULL, email = NULL, membership_number = NULL, photo_url = NULL, \
         status = 'lapsed', erased_at = now(), updated_at = now(), anchor_tx_id = $2, anchor_block = $3 \
         WHERE id = $1 RETURNING ",
        member_columns!()
    ))
    .bind(id)
    .bind(tx_id)
    .bind(block as i64)
    .fetch_one(db)
    .await
    .map_err(database_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_refs_are_keyed_hmacs_in_lowercase_hex() {
        let secret = [7u8; 32];
        let one = member_ref(&secret, "m-1");
        assert_eq!(one.len(), 64);
        assert!(
            one.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(one, member_ref(&secret, "m-1"));
        assert_ne!(one, member_ref(&secret, "m-2"));
        assert_ne!(one, member_ref(&[8u8; 32], "m-1"));
    }
}
