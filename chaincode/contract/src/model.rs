//! The records on the ledger, as JSON with stable snake_case field names, and the validation of their
//! inputs. No record holds personal data: members appear only as `member_ref`, an HMAC only their home
//! club can link to a person.

use serde::{Deserialize, Serialize};

use crate::dates::Date;
use crate::error::{ContractResult, bad_request};

/// A club of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Club {
    /// Club id (`[a-z0-9][a-z0-9._-]*`, at most 64 characters).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The Fabric MSP of the organisation that runs the club's identities.
    pub msp_id: String,
    /// `pending` (admission proposed), `active`, `suspended` or `expelled`.
    pub status: String,
    /// When the club became active (RFC 3339), if it has.
    pub joined_at: Option<String>,
    /// An opaque reference to the club's contact, kept off the ledger.
    pub contact_ref: Option<String>,
    /// Coarse residency zone of the club (e.g. a region code) for residency exclusion.
    pub residency_zone: Option<String>,
    /// Why the status last changed.
    pub status_reason: Option<String>,
}

/// Input to create or admit a club.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClubInput {
    /// Club id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// MSP id.
    pub msp_id: String,
    /// Opaque contact reference.
    #[serde(default)]
    pub contact_ref: Option<String>,
    /// Residency zone.
    #[serde(default)]
    pub residency_zone: Option<String>,
}

impl ClubInput {
    /// Checks the fields.
    pub fn validate(&self) -> ContractResult<()> {
        validate_id("club id", &self.id)?;
        validate_text("club name", &self.name, 200)?;
        validate_id_like("msp_id", &self.msp_id)?;
        if let Some(contact) = &self.contact_ref {
            validate_text("contact_ref", contact, 200)?;
        }
        if let Some(zone) = &self.residency_zone {
            validate_zone(zone)?;
        }
        Ok(())
    }
}

/// A member's anchor on the ledger: no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAnchor {
    /// hex(HMAC-SHA256(home club secret, member id)): 64 lowercase hex characters.
    pub member_ref: String,
    /// The club the member belongs to.
    pub home_club: String,
    /// `active`, `suspended` or `lapsed`.
    pub status: String,
    /// Last day of membership (YYYY-MM-DD).
    pub valid_until: String,
    /// Coarse residency zone, for residency exclusion.
    pub residency_zone: Option<String>,
    /// When the anchor was last written.
    pub updated_at: String,
}

/// Input to write a member anchor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberAnchorInput {
    /// The member reference.
    pub member_ref: String,
    /// Status.
    pub status: String,
    /// Last valid day.
    pub valid_until: String,
    /// Residency zone.
    #[serde(default)]
    pub residency_zone: Option<String>,
}

/// A fee schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    /// Per visit, in minor units (cents).
    pub per_visit_minor: u64,
    /// Per guest, in minor units.
    pub per_guest_minor: u64,
    /// ISO 4217 currency code.
    pub currency: String,
}

/// An inclusive date range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
}

/// The terms of a reciprocal agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// Visits per member per host club per calendar month.
    pub max_visits_per_month: u32,
    /// Visits per member per host club per calendar year.
    pub max_visits_per_year: u32,
    /// Nights per visit (0 = day visits only).
    pub max_stay_days: u32,
    /// Guests per visit.
    pub max_guests_per_visit: u32,
    /// Guests must be family of the member.
    #[serde(default)]
    pub guests_family_only: bool,
    /// Refuse members whose residency zone is the host's.
    #[serde(default)]
    pub residency_exclusion: bool,
    /// Facilities visitors may use (empty = all).
    #[serde(default)]
    pub allowed_facilities: Vec<String>,
    /// Dates when visits are refused.
    #[serde(default)]
    pub blackout: Vec<DateRange>,
    /// Notice a visit needs, in hours (informational for reservations, which are off-ledger).
    #[serde(default)]
    pub advance_notice_hours: u32,
    /// Fees.
    pub fee: Fee,
    /// `pay_on_departure` or `bill_home_club`.
    pub settlement: String,
    /// First day of validity.
    pub valid_from: String,
    /// Last day of validity.
    pub valid_until: String,
    /// Days between notice of termination and its effect (default: the network rule, 30).
    #[serde(default)]
    pub notice_period_days: Option<u32>,
}

impl Terms {
    /// Checks the terms.
    pub fn validate(&self) -> ContractResult<()> {
        if self.max_visits_per_month == 0 || self.max_visits_per_month > 31 {
            return Err(bad_request(
                "terms.max_visits_per_month must be between 1 and 31",
            ));
        }
        if self.max_visits_per_year < self.max_visits_per_month || self.max_visits_per_year > 366 {
            return Err(bad_request(
                "terms.max_visits_per_year must be at least max_visits_per_month and at most 366",
            ));
        }
        if self.max_stay_days > 365 {
            return Err(bad_request("terms.max_stay_days must be at most 365"));
        }
        if self.max_guests_per_visit > 50 {
            return Err(bad_request("terms.max_guests_per_visit must be at most 50"));
        }
        if self.allowed_facilities.len() > 50 {
            return Err(bad_request(
                "terms.allowed_facilities: at most 50 facilities",
            ));
        }
        for facility in &self.allowed_facilities {
            validate_id("terms.allowed_facilities entry", facility)?;
        }
        if self.blackout.len() > 100 {
            return Err(bad_request("terms.blackout: at most 100 ranges"));
        }
        for range in &self.blackout {
            let from = parse_date("terms.blackout.from", &range.from)?;
            let to = parse_date("terms.blackout.to", &range.to)?;
            if to < from {
                return Err(bad_request(format!(
                    "terms.blackout: {} is before {}",
                    range.to, range.from
                )));
            }
        }
        if self.advance_notice_hours > 24 * 365 {
            return Err(bad_request(
                "terms.advance_notice_hours must be at most a year",
            ));
        }
        let currency = &self.fee.currency;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad_request(
                "terms.fee.currency must be an ISO 4217 code such as EUR",
            ));
        }
        if self.fee.per_visit_minor > 100_000_000 || self.fee.per_guest_minor > 100_000_000 {
            return Err(bad_request(
                "terms.fee amounts must be at most 100000000 minor units",
            ));
        }
        if self.settlement != "pay_on_departure" && self.settlement != "bill_home_club" {
            return Err(bad_request(
                "terms.settlement must be pay_on_departure or bill_home_club",
            ));
        }
        let from = parse_date("terms.valid_from", &self.valid_from)?;
        let until = parse_date("terms.valid_until", &self.valid_until)?;
        if until < from {
            return Err(bad_request("terms.valid_until is before terms.valid_from"));
        }
        if self.notice_period_days.is_some_and(|days| days > 365) {
            return Err(bad_request("terms.notice_period_days must be at most 365"));
        }
        Ok(())
    }

    /// Whether `date` falls in a blackout range.
    pub fn in_blackout(&self, date: Date) -> bool {
        self.blackout.iter().any(
            |range| match (Date::parse(&range.from), Date::parse(&range.to)) {
                (Some(from), Some(to)) => from <= date && date <= to,
                _ => false,
            },
        )
    }
}

/// A proposed change of terms awaiting the other party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    /// The new terms.
    pub terms: Terms,
    /// The club that proposed them.
    pub proposed_by: String,
    /// When.
    pub proposed_at: String,
}

/// Terms superseded by an amendment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastTerms {
    /// Their version.
    pub version: u32,
    /// The terms.
    pub terms: Terms,
    /// When they were replaced.
    pub superseded_at: String,
}

/// Notice of termination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Termination {
    /// The club that gave notice.
    pub given_by: String,
    /// When.
    pub given_at: String,
    /// First day on which the agreement no longer applies.
    pub effective_on: String,
    /// Why.
    pub reason: String,
}

/// A bilateral reciprocal agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    /// Agreement id.
    pub id: String,
    /// The proposing club.
    pub club_a: String,
    /// The accepting club.
    pub club_b: String,
    /// `proposed`, `active`, `rejected`, `withdrawn` or `suspended` (stored); see `effective_status`.
    pub status: String,
    /// Derived at read time: also `expired` (past valid_until) or `terminated` (notice took effect).
    pub effective_status: String,
    /// Terms version (1, then +1 per accepted amendment).
    pub version: u32,
    /// Current terms.
    pub terms: Terms,
    /// Earlier terms.
    pub history: Vec<PastTerms>,
    /// An amendment awaiting acceptance.
    pub pending_amendment: Option<Amendment>,
    /// When proposed.
    pub proposed_at: String,
    /// When accepted.
    pub accepted_at: Option<String>,
    /// The club that suspended it.
    pub suspended_by: Option<String>,
    /// Why it was suspended, rejected or withdrawn.
    pub reason: Option<String>,
    /// Notice of termination.
    pub termination: Option<Termination>,
    /// Last change.
    pub updated_at: String,
}

impl Agreement {
    /// The other party.
    pub fn counterparty(&self, club: &str) -> Option<&str> {
        if club == self.club_a {
            Some(&self.club_b)
        } else if club == self.club_b {
            Some(&self.club_a)
        } else {
            None
        }
    }

    /// The status as of `today`: stored status, unless the terms expired or a termination took effect.
    pub fn status_on(&self, today: Date) -> String {
        if matches!(self.status.as_str(), "rejected" | "withdrawn") {
            return self.status.clone();
        }
        if let Some(effective) = self
            .termination
            .as_ref()
            .and_then(|t| Date::parse(&t.effective_on))
            && today >= effective
        {
            return "terminated".to_owned();
        }
        if Date::parse(&self.terms.valid_until).is_some_and(|until| today > until) {
            return "expired".to_owned();
        }
        self.status.clone()
    }

    /// Whether the agreement still occupies its pair of clubs (at most one such per pair).
    pub fn is_open(&self, today: Date) -> bool {
        matches!(
            self.status_on(today).as_str(),
            "proposed" | "active" | "suspended"
        )
    }
}

/// A visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// Client-chosen UUID.
    pub visit_id: String,
    /// The visiting member.
    pub member_ref: String,
    /// The member's club.
    pub home_club: String,
    /// The club visited.
    pub host_club: String,
    /// The agreement the visit is under (absent for a refusal without one).
    pub agreement_id: Option<String>,
    /// The agreement's terms version.
    pub agreement_version: Option<u32>,
    /// Day of the visit.
    pub visit_date: String,
    /// Nights of stay (0 = day visit).
    pub nights: u32,
    /// Number of guests.
    pub guests: u32,
    /// Whether the guests are family.
    pub guests_family: bool,
    /// Facilities used.
    pub facilities: Vec<String>,
    /// `checked_in`, `checked_out`, `cancelled`, `refused` or `disputed`.
    pub status: String,
    /// Fee in minor units.
    pub fee_minor: u64,
    /// Currency of the fee.
    pub currency: String,
    /// `pay_on_departure` or `bill_home_club`.
    pub settlement: String,
    /// Why it was refused, cancelled or disputed.
    pub reason: Option<String>,
    /// Dispute resolution, when resolved.
    pub resolution: Option<String>,
    /// Recorded at.
    pub recorded_at: String,
    /// Last change.
    pub updated_at: String,
}

/// Input to record a visit (check-in) or a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitInput {
    /// UUID chosen by the client; makes the request idempotent.
    pub visit_id: String,
    /// The visiting member.
    pub member_ref: String,
    /// The club visited.
    pub host_club: String,
    /// Day of the visit.
    pub visit_date: String,
    /// Nights of stay.
    #[serde(default)]
    pub nights: u32,
    /// Guests.
    #[serde(default)]
    pub guests: u32,
    /// Whether the guests are family.
    #[serde(default)]
    pub guests_family: bool,
    /// Facilities to use.
    #[serde(default)]
    pub facilities: Vec<String>,
    /// For refusals: why.
    #[serde(default)]
    pub reason: Option<String>,
}

impl VisitInput {
    /// Checks the fields.
    pub fn validate(&self) -> ContractResult<Date> {
        validate_uuid(&self.visit_id)?;
        validate_member_ref(&self.member_ref)?;
        validate_id("host_club", &self.host_club)?;
        let date = parse_date("visit_date", &self.visit_date)?;
        if self.nights > 365 {
            return Err(bad_request("nights must be at most 365"));
        }
        if self.guests > 50 {
            return Err(bad_request("guests must be at most 50"));
        }
        if self.facilities.len() > 50 {
            return Err(bad_request("facilities: at most 50"));
        }
        for facility in &self.facilities {
            validate_id("facility", facility)?;
        }
        if let Some(reason) = &self.reason {
            validate_text("reason", reason, 500)?;
        }
        Ok(date)
    }
}

/// A recorded settlement of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// The club that hosted the visits.
    pub host_club: String,
    /// The club whose members visited.
    pub home_club: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Visits billed.
    pub visit_count: u64,
    /// Total in minor units.
    pub total_minor: u64,
    /// Currency.
    pub currency: String,
    /// The visits billed.
    pub visit_ids: Vec<String>,
    /// Always `settled`.
    pub status: String,
    /// Payment reference.
    pub reference: String,
    /// The club that recorded it.
    pub settled_by: String,
    /// When.
    pub settled_at: String,
}

/// A governance proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Proposal id.
    pub id: String,
    /// `admit_club`, `suspend_club`, `reinstate_club`, `expel_club`, `amend_network_rule` or `text`.
    pub kind: String,
    /// Kind-specific payload.
    pub payload: serde_json::Value,
    /// The proposing club.
    pub proposer_club: String,
    /// The club the proposal is about (it does not vote).
    pub target_club: Option<String>,
    /// Voting opens.
    pub opens_at: String,
    /// Voting closes.
    pub closes_at: String,
    /// Unix seconds of `closes_at`.
    pub closes_at_seconds: i64,
    /// Quorum: votes cast must be more than this fraction of eligible clubs.
    pub quorum: Fraction,
    /// Threshold: yes votes relative to yes + no.
    pub threshold: Fraction,
    /// `open`, `passed`, `rejected`, `executed` or `cancelled`.
    pub status: String,
    /// Tally at decision.
    pub tally: Option<Tally>,
    /// When decided or cancelled.
    pub decided_at: Option<String>,
}

/// A fraction with its comparison: `strict` means "more than", otherwise "at least".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fraction {
    /// Numerator.
    pub numerator: u32,
    /// Denominator.
    pub denominator: u32,
    /// More than (true) or at least (false).
    pub strict: bool,
}

impl Fraction {
    /// More than half.
    pub const MAJORITY: Self = Self {
        numerator: 1,
        denominator: 2,
        strict: true,
    };
    /// At least two thirds.
    pub const TWO_THIRDS: Self = Self {
        numerator: 2,
        denominator: 3,
        strict: false,
    };

    /// Whether `part` out of `whole` meets the fraction (`whole` 0 never does).
    pub fn met(self, part: u64, whole: u64) -> bool {
        if whole == 0 {
            return false;
        }
        let left = part * u64::from(self.denominator);
        let right = whole * u64::from(self.numerator);
        if self.strict {
            left > right
        } else {
            left >= right
        }
    }

    /// Whether meeting `self` always meets `other` too (`self` is at least as demanding).
    pub fn at_least_as_strict_as(self, other: Self) -> bool {
        let left = u64::from(self.numerator) * u64::from(other.denominator);
        let right = u64::from(other.numerator) * u64::from(self.denominator);
        left > right || (left == right && (self.strict || !other.strict))
    }

    /// Checks the fraction.
    pub fn validate(self, name: &str) -> ContractResult<()> {
        if self.denominator == 0 || self.numerator > self.denominator {
            return Err(bad_request(format!(
                "{name} must be a fraction between 0 and 1 with a non-zero denominator"
            )));
        }
        Ok(())
    }
}

/// Votes counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Yes.
    pub yes: u64,
    /// No.
    pub no: u64,
    /// Abstain.
    pub abstain: u64,
    /// Clubs entitled to vote.
    pub eligible: u64,
}

/// A club's vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The proposal.
    pub proposal_id: String,
    /// The voting club.
    pub club: String,
    /// `yes`, `no` or `abstain`.
    pub choice: String,
    /// When.
    pub cast_at: String,
}

/// Network-wide rules, changed by `amend_network_rule` proposals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRules {
    /// Notice period for agreements that do not set one.
    pub default_notice_period_days: u32,
    /// Default quorum.
    pub default_quorum: Fraction,
    /// Default threshold.
    pub default_threshold: Fraction,
    /// Threshold for expelling a club.
    pub expel_threshold: Fraction,
    /// Default voting period.
    pub default_voting_days: u32,
    /// While true, a network admin may create clubs directly.
    pub bootstrap_open: bool,
}

impl std::fmt::Display for Fraction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let comparison = if self.strict { "more than" } else { "at least" };
        write!(f, "{comparison} {}/{}", self.numerator, self.denominator)
    }
}

impl Default for NetworkRules {
    fn default() -> Self {
        Self {
            default_notice_period_days: 30,
            default_quorum: Fraction::MAJORITY,
            default_threshold: Fraction::MAJORITY,
            expel_threshold: Fraction::TWO_THIRDS,
            default_voting_days: 7,
            bootstrap_open: true,
        }
    }
}

/// Parses a date argument.
pub fn parse_date(name: &str, text: &str) -> ContractResult<Date> {
    Date::parse(text)
        .ok_or_else(|| bad_request(format!("{name} must be a date YYYY-MM-DD, got {text:?}")))
}

/// Ids: 1–64 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn validate_id(name: &str, id: &str) -> ContractResult<()> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id.bytes().enumerate().all(|(index, byte)| {
            byte.is_ascii_lowercase()
                || byte.is_ascii_digit()
                || (index > 0 && matches!(byte, b'.' | b'_' | b'-'))
        });
    if valid {
        Ok(())
    } else {
        Err(bad_request(format!(
            "{name} must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit, got {id:?}"
        )))
    }
}

/// MSP ids: like ids, but letters of either case.
fn validate_id_like(name: &str, id: &str) -> ContractResult<()> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(bad_request(format!(
            "{name} must be 1-64 characters of letters, digits, '.', '_' or '-'"
        )))
    }
}

/// Free text (names, reasons, references): non-empty, bounded, no control characters, and nothing that
/// looks like personal data — every such text is replicated to every peer and kept forever.
pub fn validate_text(name: &str, text: &str, max: usize) -> ContractResult<()> {
    if text.trim().is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(bad_request(format!(
            "{name} must be 1-{max} characters without control characters"
        )));
    }
    reject_personal_data(name, text)
}

/// Free text on the ledger must not look like personal data. The check is deliberately narrow so that
/// payment references and dates pass: it refuses anything with an `@` (e-mail addresses, handles) and
/// international phone numbers (`+` followed by at least seven digits, spaces, dashes or brackets).
pub fn reject_personal_data(name: &str, text: &str) -> ContractResult<()> {
    let phone = text.match_indices('+').any(|(index, _)| {
        text[index + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .filter(char::is_ascii_digit)
            .count()
            >= 7
    });
    if text.contains('@') || phone {
        return Err(bad_request(format!(
            "{name} looks like personal data (an e-mail address or phone number); the ledger holds none"
        )));
    }
    Ok(())
}

/// Residency zones are coarse codes: 1–16 characters of A-Z, 0-9 and '-'.
pub fn validate_zone(zone: &str) -> ContractResult<()> {
    let valid = !zone.is_empty()
        && zone.len() <= 16
        && zone
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(bad_request(
            "residency_zone must be a coarse code of 1-16 characters A-Z, 0-9 or '-' (e.g. GB-LND)",
        ))
    }
}

/// A member reference is an HMAC-SHA256 in lowercase hex: exactly 64 characters of 0-9a-f.
pub fn validate_member_ref(member_ref: &str) -> ContractResult<()> {
    if member_ref.len() == 64
        && member_ref
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(bad_request(
            "member_ref must be 64 lowercase hex characters (an HMAC-SHA256), never personal data",
        ))
    }
}

/// A UUID in its canonical 8-4-4-4-12 form (lowercase hex).
pub fn validate_uuid(id: &str) -> ContractResult<()> {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    let valid = lengths == [8, 4, 4, 4, 12]
        && groups.iter().all(|group| {
            group
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
    if valid {
        Ok(())
    } else {
        Err(bad_request(format!(
            "visit_id must be a lowercase UUID, got {id:?}"
        )))
    }
}
