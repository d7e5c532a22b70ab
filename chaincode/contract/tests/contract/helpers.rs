//! Shared set-up: a network of three clubs with an active agreement, callers, and assertions that check
//! the contract's invariants on every call (one event per state change carrying the new record, nothing
//! written and no event on a refusal).

use reciprocal_chaincode::testing::{Actor, FakeNetwork, Outcome};
use serde_json::{Value, json};

/// 2026-12-04T16:00:00Z.
pub const NOW: i64 = 1_796_400_000;
pub const DAY: i64 = 86_400;
pub const MEMBER: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
pub const MEMBER_B: &str = "0000000000000000000000000000000000000000000000000000000000000001";

/// Unix seconds of 10:00 UTC on `date` (YYYY-MM-DD).
pub fn at(date: &str) -> i64 {
    let day = |year: i64, month: i64, day: i64| {
        // Days from 1970-01-01 (valid for the years the tests use).
        let (y, m) = if month <= 2 {
            (year - 1, month + 12)
        } else {
            (year, month)
        };
        365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + day - 719_469
    };
    let parts: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    day(parts[0], parts[1], parts[2]) * DAY + 10 * 3600
}

/// Asserts success and the event invariant; returns the payload as JSON.
pub fn ok(outcome: &Outcome) -> Value {
    assert_eq!(
        outcome.response.status, 200,
        "expected success, got {}: {}",
        outcome.response.status, outcome.response.message
    );
    if outcome.writes.is_empty() {
        assert_eq!(
            outcome.events_set, 0,
            "a call that writes nothing emits no event"
        );
    } else {
        assert_eq!(
            outcome.events_set, 1,
            "a state change emits exactly one event"
        );
        let event = outcome.event.as_ref().unwrap();
        assert_eq!(
            event.payload, outcome.response.payload,
            "the event of {} carries the new record",
            event.event_name
        );
    }
    outcome.json()
}

/// The name of the event a successful call emitted.
pub fn event(outcome: &Outcome) -> &str {
    &outcome.event.as_ref().expect("an event").event_name
}

/// Asserts a refusal with exactly this status and message, and that it wrote nothing.
pub fn refused(outcome: &Outcome, status: i32, message: &str) {
    assert_eq!(
        (outcome.response.status, outcome.response.message.as_str()),
        (status, message),
        "unexpected answer"
    );
    assert!(
        outcome.writes.is_empty(),
        "a refusal writes nothing: {:?}",
        outcome.writes
    );
    assert_eq!(outcome.events_set, 0, "a refusal emits no event");
    assert!(outcome.response.payload.is_empty());
}

pub fn create_club(network: &mut FakeNetwork, id: &str, zone: Option<&str>) -> Outcome {
    let mut input = json!({"id": id, "name": format!("Club {id}"), "msp_id": "Org1MSP"});
    if let Some(zone) = zone {
        input["residency_zone"] = json!(zone);
    }
    network.invoke(&Actor::network_admin(), &["CreateClub", &input.to_string()])
}

pub fn terms() -> Value {
    json!({
        "max_visits_per_month": 2, "max_visits_per_year": 3, "max_stay_days": 3,
        "max_guests_per_visit": 2, "guests_family_only": true, "residency_exclusion": true,
        "allowed_facilities": ["dining", "golf"], "blackout": [{"from": "2026-12-24", "to": "2026-12-26"}],
        "advance_notice_hours": 24,
        "fee": {"per_visit_minor": 2500, "per_guest_minor": 1000, "currency": "EUR"},
        "settlement": "bill_home_club", "valid_from": "2026-01-01", "valid_until": "2027-12-31"
    })
}

pub fn propose(id: &str, counterparty: &str, terms: &Value) -> String {
    json!({"agreement_id": id, "counterparty_club": counterparty, "terms": terms}).to_string()
}

/// Alpha (zone GB-LND), beta (host, GB-MAN) and gamma (GB-LND); agreement `ab-1` between alpha and
/// beta is active; MEMBER is an active member of alpha living in GB-BRS. The clock is at NOW.
pub fn network() -> FakeNetwork {
    let mut network = FakeNetwork::at(NOW);
    ok(&create_club(&mut network, "club-alpha", Some("GB-LND")));
    ok(&create_club(&mut network, "club-beta", Some("GB-MAN")));
    ok(&create_club(&mut network, "club-gamma", Some("GB-LND")));
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ProposeAgreement", &propose("ab-1", "club-beta", &terms())],
    ));
    ok(&network.invoke(
        &Actor::club_admin("club-beta"),
        &["AcceptAgreement", "ab-1"],
    ));
    ok(&anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "active",
        "2027-06-30",
        Some("GB-BRS"),
    ));
    network
}

pub fn anchor(
    network: &mut FakeNetwork,
    club: &str,
    member: &str,
    status: &str,
    until: &str,
    zone: Option<&str>,
) -> Outcome {
    let mut input = json!({"member_ref": member, "status": status, "valid_until": until});
    if let Some(zone) = zone {
        input["residency_zone"] = json!(zone);
    }
    network.invoke(
        &Actor::club_admin(club),
        &["UpsertMemberAnchor", &input.to_string()],
    )
}

pub fn visit_id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A day visit request of MEMBER at beta: one night, one family guest, dining.
pub fn visit(n: u32, date: &str) -> Value {
    json!({
        "visit_id": visit_id(n),
        "member_ref": MEMBER, "host_club": "club-beta", "visit_date": date,
        "nights": 1, "guests": 1, "guests_family": true, "facilities": ["dining"]
    })
}

/// Beta's front desk checks `input` in on its visit date (the clock moves to that day).
pub fn check_in(network: &mut FakeNetwork, input: &Value) -> Outcome {
    network.now = at(input["visit_date"].as_str().unwrap());
    network.invoke(
        &Actor::front_desk("club-beta"),
        &["CheckIn", &input.to_string()],
    )
}

pub fn proposal(id: &str, kind: &str, payload: Value) -> String {
    json!({"proposal_id": id, "kind": kind, "payload": payload}).to_string()
}
