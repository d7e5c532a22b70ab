//! What a host club's front desk needs to admit a visitor: the member's anchor, the two clubs, the
//! agreement between them, whether the month is settled and the visits that count towards the quotas,
//! all read from the ledger's mirror and judged by the rules a check-in applies, so that a visitor the
//! desk is told is admissible is not then refused by the chaincode.

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
    /// Coarse residency zone, if the home club recorded one.
    pub residency_zone: Option<String>,
}

/// A club as the mirror holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Club {
    /// `pending`, `active`, `suspended` or `expelled`.
    pub status: String,
    /// Coarse residency zone of the club, if any.
    pub residency_zone: Option<String>,
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
    /// Refuse members whose residency zone is the host's.
    #[serde(default)]
    pub residency_exclusion: bool,
    /// `bill_home_club` or another settlement mode.
    #[serde(default)]
    pub settlement: String,
}

impl Terms {
    /// Whether `date` falls in a blackout range (dates `YYYY-MM-DD` compare as text).
    pub fn in_blackout(&self, date: &str) -> bool {
        self.blackout
            .iter()
            .any(|range| range.from.as_str() <= date && date <= range.to.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Termination {
    effective_on: String,
}

#[derive(Debug, Clone, Deserialize)]
struct AgreementValue {
    id: String,
    status: String,
    terms: Terms,
    #[serde(default)]
    termination: Option<Termination>,
}

/// The agreement a check-in between two clubs is judged under: their latest one that was not rejected
/// or withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// Its id.
    pub id: String,
    /// `proposed`, `active`, `suspended`, `terminated`…
    pub status: String,
    /// Its current terms.
    pub terms: Terms,
    /// The day a notice of termination takes effect, if one was given.
    pub ends_on: Option<String>,
}

impl Agreement {
    /// Whether its terms, and any notice of termination, leave `date` covered.
    pub fn covers(&self, date: &str) -> bool {
        self.terms.valid_from.as_str() <= date
            && date <= self.terms.valid_until.as_str()
            && self.ends_on.as_deref().is_none_or(|ends| date < ends)
    }
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
    let row: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT status, valid_until, value->>'residency_zone' FROM member_anchors \
         WHERE channel = $1 AND member_ref = $2",
    )
    .bind(CHANNEL)
    .bind(member_ref)
    .fetch_optional(mirror)
    .await
    .map_err(database_error)?;
    Ok(row.map(|(status, valid_until, residency_zone)| Anchor {
        status,
        valid_until,
        residency_zone,
    }))
}

/// The club `id` on the mirror, if it is there.
pub async fn club(mirror: &PgPool, id: &str) -> Result<Option<Club>, Status> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT status, value->>'residency_zone' FROM clubs WHERE channel = $1 AND id = $2",
    )
    .bind(CHANNEL)
    .bind(id)
    .fetch_optional(mirror)
    .await
    .map_err(database_error)?;
    Ok(row.map(|(status, residency_zone)| Club {
        status,
        residency_zone,
    }))
}

/// The latest agreement between clubs `a` and `b` (either way round) that was not rejected or
/// withdrawn: the one the chaincode's pair index points to.
pub async fn agreement(mirror: &PgPool, a: &str, b: &str) -> Result<Option<Agreement>, Status> {
    let values: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT value FROM agreements WHERE channel = $1 \
         AND status NOT IN ('rejected', 'withdrawn') \
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
        match serde_json::from_value::<AgreementValue>(value) {
            Ok(agreement) => {
                return Ok(Some(Agreement {
                    id: agreement.id,
                    status: agreement.status,
                    terms: agreement.terms,
                    ends_on: agreement.termination.map(|t| t.effective_on),
                }));
            }
            Err(error) => {
                tracing::warn!(%error, "an agreement on the mirror does not have the expected shape");
            }
        }
    }
    Ok(None)
}

/// The reference of the settlement the host recorded for the month of `date` with the home club, if
/// the month is settled.
pub async fn settled(
    mirror: &PgPool,
    host: &str,
    home: &str,
    date: &str,
) -> Result<Option<String>, Status> {
    sqlx::query_scalar(
        "SELECT coalesce(value->>'reference', '') FROM settlements \
         WHERE channel = $1 AND host_club = $2 AND home_club = $3 AND month = $4",
    )
    .bind(CHANNEL)
    .bind(host)
    .bind(home)
    .bind(date.get(..7).unwrap_or_default())
    .fetch_optional(mirror)
    .await
    .map_err(database_error)
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
    /// The home club on the mirror.
    pub home: Option<&'a Club>,
    /// The host club on the mirror.
    pub host: Option<&'a Club>,
    /// The day of the visit.
    pub date: &'a str,
    /// The anchor on the mirror.
    pub anchor: Option<&'a Anchor>,
    /// The agreement between the clubs.
    pub agreement: Option<&'a Agreement>,
    /// The reference of the host's settlement with the home club for the month, if settled.
    pub settled: Option<&'a str>,
    /// Visits that count.
    pub counts: Counts,
}

/// Why a check-in on the date would be refused, judged by the rules and in the order the chaincode's
/// check-in applies them; none when it would pass. (The stay, guests and facilities are judged at
/// check-in, where the desk gives them.)
pub fn refusal(facts: &Facts<'_>) -> Option<String> {
    let Facts {
        home_club,
        host_club,
        home,
        host,
        date,
        anchor,
        agreement,
        settled,
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
    for (role, id, club) in [("host", host_club, host), ("home", home_club, home)] {
        match club {
            None => return Some(format!("{role} club {id} is not on the ledger")),
            Some(club) if club.status != "active" => {
                return Some(format!("{role} club {id} is {}", club.status));
            }
            Some(_) => {}
        }
    }
    let Some(agreement) = agreement else {
        return Some(format!(
            "there is no active agreement between {home_club} and {host_club} on {date}"
        ));
    };
    if agreement.status != "active" {
        return Some(format!(
            "agreement {} is {}",
            agreement.id, agreement.status
        ));
    }
    if !agreement.covers(date) {
        return Some(format!("agreement {} does not cover {date}", agreement.id));
    }
    let terms = &agreement.terms;
    if terms.in_blackout(date) {
        return Some(format!(
            "{date} is in a blackout period of agreement {}",
            agreement.id
        ));
    }
    if anchor.status != "active" {
        return Some(format!("the member is {} at {home_club}", anchor.status));
    }
    if anchor.valid_until.as_str() < *date {
        return Some(format!(
            "the membership is valid only until {}",
            anchor.valid_until
        ));
    }
    if terms.residency_exclusion
        && let (Some(member_zone), Some(host_zone)) = (
            &anchor.residency_zone,
            host.and_then(|host| host.residency_zone.as_ref()),
        )
        && member_zone == host_zone
    {
        return Some(format!(
            "members residing in {host_zone} cannot visit {host_club} under the residency exclusion"
        ));
    }
    if terms.settlement == "bill_home_club"
        && let Some(reference) = settled
    {
        return Some(format!(
            "{} is already settled between {host_club} and {home_club} (reference {reference})",
            date.get(..7).unwrap_or(date)
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
            residency_exclusion: false,
            settlement: "bill_home_club".into(),
        }
    }

    /// An active London member's anchor, valid until `valid_until`.
    fn londoner(valid_until: &str) -> Anchor {
        Anchor {
            status: "active".into(),
            valid_until: valid_until.into(),
            residency_zone: Some("GB-LND".into()),
        }
    }

    /// Active agreement `ag-1` under [`terms`].
    fn agreement() -> Agreement {
        Agreement {
            id: "ag-1".into(),
            status: "active".into(),
            terms: terms(),
            ends_on: None,
        }
    }

    fn active_club(zone: Option<&str>) -> Club {
        Club {
            status: "active".into(),
            residency_zone: zone.map(str::to_owned),
        }
    }

    #[test]
    fn the_first_failing_rule_is_the_reason() {
        let active = londoner("2026-06-30");
        let agreement = agreement();
        let club = active_club(Some("GB-LND"));
        let facts = |date, anchor, agreement, month, year| Facts {
            home_club: "club-alpha",
            host_club: "club-beta",
            home: Some(&club),
            host: Some(&club),
            date,
            anchor,
            agreement,
            settled: None,
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
            reason(facts("2026-05-10", Some(&lapsed), Some(&agreement), 9, 9))
                .contains("is lapsed"),
            "the anchor comes before the quotas"
        );
        assert!(
            reason(facts("2026-05-10", Some(&lapsed), None, 0, 0)).contains("no active agreement"),
            "the agreement comes before the anchor's status, as in the chaincode"
        );
        assert!(reason(facts("2026-05-10", None, None, 0, 0)).contains("no anchor"));
        assert!(
            reason(facts("2026-06-30", Some(&active), Some(&agreement), 0, 0)).is_empty(),
            "the last valid day is admissible"
        );
        assert!(
            reason(facts("2026-07-01", Some(&active), Some(&agreement), 0, 0))
                .contains("valid only until 2026-06-30")
        );
        let long = Anchor {
            valid_until: "2027-12-31".into(),
            ..active.clone()
        };
        assert!(
            reason(facts("2026-12-25", Some(&long), Some(&agreement), 0, 0)).contains("blackout")
        );
        assert!(
            reason(facts("2027-01-05", Some(&long), Some(&agreement), 0, 0))
                .contains("ag-1 does not cover 2027-01-05")
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

    #[test]
    fn clubs_agreement_status_residency_and_settlement_refuse_as_check_in_does() {
        let anchor = londoner("2099-12-31");
        let agreement = agreement();
        let london = active_club(Some("GB-LND"));
        let paris = active_club(Some("FR-PAR"));
        let suspended = Club {
            status: "suspended".into(),
            ..paris.clone()
        };
        let base = Facts {
            home_club: "club-alpha",
            host_club: "club-beta",
            home: Some(&paris),
            host: Some(&london),
            date: "2026-05-10",
            anchor: Some(&anchor),
            agreement: Some(&agreement),
            settled: None,
            counts: Counts::default(),
        };
        let reason = |facts: Facts<'_>| refusal(&facts).unwrap_or_default();
        assert_eq!(refusal(&base), None, "no exclusion in the terms");

        let host_suspended = Facts {
            host: Some(&suspended),
            ..base.clone()
        };
        assert_eq!(reason(host_suspended), "host club club-beta is suspended");
        let home_suspended = Facts {
            home: Some(&suspended),
            ..base.clone()
        };
        assert_eq!(reason(home_suspended), "home club club-alpha is suspended");
        let home_missing = Facts {
            home: None,
            ..base.clone()
        };
        assert!(reason(home_missing).contains("not on the ledger"));

        let paused = Agreement {
            status: "suspended".into(),
            ..agreement.clone()
        };
        assert_eq!(
            reason(Facts {
                agreement: Some(&paused),
                ..base.clone()
            }),
            "agreement ag-1 is suspended"
        );
        let ending = Agreement {
            ends_on: Some("2026-05-10".into()),
            ..agreement.clone()
        };
        assert!(
            reason(Facts {
                agreement: Some(&ending),
                ..base.clone()
            })
            .contains("does not cover 2026-05-10"),
            "termination takes effect on its day"
        );

        let excluding = Agreement {
            terms: Terms {
                residency_exclusion: true,
                ..terms()
            },
            ..agreement.clone()
        };
        assert_eq!(
            reason(Facts {
                agreement: Some(&excluding),
                ..base.clone()
            }),
            "members residing in GB-LND cannot visit club-beta under the residency exclusion"
        );
        let elsewhere = Anchor {
            residency_zone: Some("FR-PAR".into()),
            ..anchor.clone()
        };
        assert_eq!(
            refusal(&Facts {
                agreement: Some(&excluding),
                anchor: Some(&elsewhere),
                ..base.clone()
            }),
            None
        );
        let unknown = Anchor {
            residency_zone: None,
            ..anchor.clone()
        };
        assert_eq!(
            refusal(&Facts {
                agreement: Some(&excluding),
                anchor: Some(&unknown),
                ..base.clone()
            }),
            None,
            "no zone recorded, no exclusion"
        );

        assert_eq!(
            reason(Facts {
                settled: Some("INV-7"),
                ..base.clone()
            }),
            "2026-05 is already settled between club-beta and club-alpha (reference INV-7)"
        );
        let paid_on_departure = Agreement {
            terms: Terms {
                settlement: "pay_on_departure".into(),
                ..terms()
            },
            ..agreement.clone()
        };
        assert_eq!(
            refusal(&Facts {
                agreement: Some(&paid_on_departure),
                settled: Some("INV-7"),
                ..base.clone()
            }),
            None,
            "a settlement closes the month only for visits billed to the home club"
        );
    }
}
