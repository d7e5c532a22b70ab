//! What a host club's front desk needs to admit a visitor: the member's anchor, the agreement between
//! the two clubs and the visits that count towards its quotas, all read from the ledger's mirror, judged
//! by the rules a check-in applies.

use platform::ledger::{CHANNEL, database_error};
use serde::Deserialize;
use sqlx::postgres::PgPool;
use tonic::Status;

/// The member's anchor as the mirror holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// `active`, `suspended` or `lapsed`.
    pub status: String,
    /// Last valid day.
    pub valid_until: String,
}

/// An inclusive range of days.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DateRange {
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
}

/// The parts of an agreement's terms a verification needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Terms {
    /// Visits per member per host per month.
    pub max_visits_per_month: u32,
    /// Visits per member per host per year.
    pub max_visits_per_year: u32,
    /// Days closed to visitors.
    #[serde(default)]
    pub blackout: Vec<DateRange>,
    /// First day of validity.
    pub valid_from: String,
    /// Last day of validity.
    pub valid_until: String,
}

impl Terms {
    /// Whether `date` falls in a blackout range (dates `YYYY-MM-DD` compare as text).
    pub fn in_blackout(&self, date: &str) -> bool {
        self.blackout
            .iter()
            .any(|range| range.from.as_str() <= date && date <= range.to.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Termination {
    effective_on: String,
}

#[derive(Debug, Clone, Deserialize)]
struct AgreementValue {
    id: String,
    terms: Terms,
    #[serde(default)]
    termination: Option<Termination>,
}

/// An active agreement that covers a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// Its id.
    pub id: String,
    /// Its current terms.
    pub terms: Terms,
}

/// Visits of one member to one host that count towards the quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// In the month of the date.
    pub month: u32,
    /// In the year of the date.
    pub year: u32,
}

/// The anchor of `member_ref` on the mirror, if it has one.
pub async fn anchor(mirror: &PgPool, member_ref: &str) -> Result<Option<Anchor>, Status> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT status, valid_until FROM member_anchors WHERE channel = $1 AND member_ref = $2",
    )
    .bind(CHANNEL)
    .bind(member_ref)
    .fetch_optional(mirror)
    .await
    .map_err(database_error)?;
    Ok(row.map(|(status, valid_until)| Anchor {
        status,
        valid_until,
    }))
}

/// The active agreement between clubs `a` and `b` (either way round) whose terms cover `date` and whose
/// notice of termination, if any, has not taken effect by then.
pub async fn agreement(
    mirror: &PgPool,
    a: &str,
    b: &str,
    date: &str,
) -> Result<Option<Agreement>, Status> {
    let values: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT value FROM agreements WHERE channel = $1 AND status = 'active' \
         AND ((club_a = $2 AND club_b = $3) OR (club_a = $3 AND club_b = $2)) \
         ORDER BY block_number DESC, id",
    )
    .bind(CHANNEL)
    .bind(a)
    .bind(b)
    .fetch_all(mirror)
    .await
    .map_err(database_error)?;
    for value in values {
        let agreement: AgreementValue = match serde_json::from_value(value) {
            Ok(agreement) => agreement,
            Err(error) => {
                tracing::warn!(%error, "an agreement on the mirror does not have the expected shape");
                continue;
            }
        };
        let terms = &agreement.terms;
        let covered = terms.valid_from.as_str() <= date
            && date <= terms.valid_until.as_str()
            && agreement
                .termination
                .as_ref()
                .is_none_or(|termination| date < termination.effective_on.as_str());
        if covered {
            return Ok(Some(Agreement {
                id: agreement.id,
                terms: agreement.terms,
            }));
        }
    }
    Ok(None)
}

/// Visits of `member_ref` to `host` in the month and the year of `date` that count (neither cancelled
/// nor refused).
pub async fn counts(
    mirror: &PgPool,
    member_ref: &str,
    host: &str,
    date: &str,
) -> Result<Counts, Status> {
    let year = date.get(..4).unwrap_or_default();
    let month = date.get(..7).unwrap_or_default();
    let (in_month, in_year): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE month = $6), count(*) FROM visits \
         WHERE channel = $1 AND member_ref = $2 AND host_club = $3 \
         AND visit_date BETWEEN $4 AND $5 AND status NOT IN ('cancelled', 'refused')",
    )
    .bind(CHANNEL)
    .bind(member_ref)
    .bind(host)
    .bind(format!("{year}-01-01"))
    .bind(format!("{year}-12-31"))
    .bind(month)
    .fetch_one(mirror)
    .await
    .map_err(database_error)?;
    Ok(Counts {
        month: u32::try_from(in_month).unwrap_or(u32::MAX),
        year: u32::try_from(in_year).unwrap_or(u32::MAX),
    })
}

/// Everything a verification judges.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The member's home club.
    pub home_club: &'a str,
    /// The host club.
    pub host_club: &'a str,
    /// The day of the visit.
    pub date: &'a str,
    /// The anchor on the mirror.
    pub anchor: Option<&'a Anchor>,
    /// The agreement covering the date.
    pub agreement: Option<&'a Agreement>,
    /// Visits that count.
    pub counts: Counts,
}

/// Why a check-in on the date would be refused, judged in the order a front desk would explain it;
/// none when it would pass.
pub fn refusal(facts: &Facts<'_>) -> Option<String> {
    let Facts {
        home_club,
        host_club,
        date,
        anchor,
        agreement,
        counts,
    } = facts;
    if home_club == host_club {
        return Some(format!(
            "the member belongs to {host_club}: a club's own members are not visitors"
        ));
    }
    let Some(anchor) = anchor else {
        return Some("the member has no anchor on the ledger".to_owned());
    };
    if anchor.status != "active" {
        return Some(format!("the member is {} at {home_club}", anchor.status));
    }
    if anchor.valid_until.as_str() < *date {
        return Some(format!(
            "the membership is valid only until {}",
            anchor.valid_until
        ));
    }
    let Some(agreement) = agreement else {
        return Some(format!(
            "there is no active agreement between {home_club} and {host_club} on {date}"
        ));
    };
    let terms = &agreement.terms;
    if terms.in_blackout(date) {
        return Some(format!(
            "{date} is in a blackout period of agreement {}",
            agreement.id
        ));
    }
    if counts.month >= terms.max_visits_per_month {
        return Some(format!(
            "monthly quota reached: {} of {} visits to {host_club} in {}",
            counts.month,
            terms.max_visits_per_month,
            date.get(..7).unwrap_or(date)
        ));
    }
    if counts.year >= terms.max_visits_per_year {
        return Some(format!(
            "yearly quota reached: {} of {} visits to {host_club} in {}",
            counts.year,
            terms.max_visits_per_year,
            date.get(..4).unwrap_or(date)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> Terms {
        Terms {
            max_visits_per_month: 2,
            max_visits_per_year: 3,
            blackout: vec![DateRange {
                from: "2026-12-24".into(),
                to: "2026-12-26".into(),
            }],
            valid_from: "2026-01-01".into(),
            valid_until: "2026-12-31".into(),
        }
    }

    #[test]
    fn the_first_failing_rule_is_the_reason() {
        let active = Anchor {
            status: "active".into(),
            valid_until: "2026-06-30".into(),
        };
        let agreement = Agreement {
            id: "ag-1".into(),
            terms: terms(),
        };
        let facts = |date, anchor, agreement, month, year| Facts {
            home_club: "club-alpha",
            host_club: "club-beta",
            date,
            anchor,
            agreement,
            counts: Counts { month, year },
        };
        let reason = |facts: Facts<'_>| refusal(&facts).unwrap_or_default();
        assert_eq!(
            refusal(&facts("2026-05-10", Some(&active), Some(&agreement), 1, 2)),
            None
        );
        let lapsed = Anchor {
            status: "lapsed".into(),
            ..active.clone()
        };
        assert!(
            reason(facts("2026-05-10", Some(&lapsed), None, 9, 9)).contains("is lapsed"),
            "the anchor comes first"
        );
        assert!(reason(facts("2026-05-10", None, None, 0, 0)).contains("no anchor"));
        assert!(
            reason(facts("2026-07-01", Some(&active), None, 0, 0))
                .contains("valid only until 2026-06-30")
        );
        assert!(
            reason(facts("2026-05-10", Some(&active), None, 0, 0)).contains("no active agreement")
        );
        let long = Anchor {
            valid_until: "2027-12-31".into(),
            ..active.clone()
        };
        assert!(
            reason(facts("2026-12-25", Some(&long), Some(&agreement), 0, 0)).contains("blackout")
        );
        assert!(
            reason(facts("2026-05-10", Some(&active), Some(&agreement), 2, 2))
                .starts_with("monthly quota reached: 2 of 2")
        );
        assert!(
            reason(facts("2026-05-10", Some(&active), Some(&agreement), 1, 3))
                .starts_with("yearly quota reached: 3 of 3")
        );
        let own = Facts {
            host_club: "club-alpha",
            ..facts("2026-05-10", Some(&active), Some(&agreement), 0, 0)
        };
        assert!(reason(own).contains("own members"));
    }
}
