//! Check-in and every rule it enforces, idempotent visit ids, quotas at their boundaries, the host's veto,
//! check-out, cancellation and disputes.

use reciprocal_chaincode::testing::Actor;
use serde_json::{Value, json};

use crate::helpers::*;

fn desk() -> Actor {
    Actor::front_desk("club-beta")
}

fn with(mut input: Value, field: &str, value: Value) -> Value {
    input[field] = value;
    input
}

#[test]
fn check_in_records_the_visit_and_its_fee() {
    let mut network = network();
    let recorded = check_in(&mut network, &visit(1, "2026-12-10"));
    let record = ok(&recorded);
    assert_eq!(event(&recorded), "VisitRecorded");
    assert_eq!(
        record,
        json!({
            "visit_id": visit_id(1), "member_ref": MEMBER, "home_club": "club-alpha",
            "host_club": "club-beta", "agreement_id": "ab-1", "agreement_version": 1,
            "visit_date": "2026-12-10", "nights": 1, "guests": 1, "guests_family": true,
            "facilities": ["dining"], "status": "checked_in", "fee_minor": 3500, "currency": "EUR",
            "settlement": "bill_home_club", "reason": null, "resolution": null,
            "recorded_at": "2026-12-10T10:00:00Z", "updated_at": "2026-12-10T10:00:00Z"
        })
    );
    assert_eq!(
        ok(&network.invoke(&desk(), &["GetVisit", &visit_id(1)])),
        record
    );
    refused(
        &network.invoke(&desk(), &["GetVisit", &visit_id(2)]),
        404,
        &format!("visit {} does not exist", visit_id(2)),
    );
}

#[test]
fn the_same_visit_id_returns_the_first_result_and_other_content_is_a_conflict() {
    let mut network = network();
    let input = visit(1, "2026-12-10");
    let first = ok(&check_in(&mut network, &input));
    network.now += 3600;
    let again = network.invoke(&desk(), &["CheckIn", &input.to_string()]);
    assert_eq!(ok(&again), first);
    assert!(
        again.writes.is_empty(),
        "a repeated check-in writes nothing"
    );
    for (field, value) in [
        ("nights", json!(2)),
        ("guests", json!(0)),
        ("facilities", json!(["golf"])),
        ("visit_date", json!("2026-12-09")),
    ] {
        refused(
            &network.invoke(
                &desk(),
                &["CheckIn", &with(input.clone(), field, value).to_string()],
            ),
            409,
            &format!(
                "visit {} was already recorded with different content",
                visit_id(1)
            ),
        );
    }
    // The id of a check-in cannot be reused for a refusal either.
    let refusal = with(input, "reason", json!("full"));
    refused(
        &network.invoke(&desk(), &["RefuseVisit", &refusal.to_string()]),
        409,
        &format!(
            "visit {} was already recorded with different content",
            visit_id(1)
        ),
    );
}

#[test]
fn check_in_enforces_every_term_of_the_agreement() {
    let mut network = network();
    let cases: Vec<(Value, i32, String)> = vec![
        (
            with(visit(2, "2026-12-10"), "visit_id", json!("not-a-uuid")),
            400,
            "visit_id must be a lowercase UUID, got \"not-a-uuid\"".to_owned(),
        ),
        (
            with(
                visit(2, "2026-12-10"),
                "member_ref",
                json!("jane@example.com"),
            ),
            400,
            "member_ref must be 64 lowercase hex characters (an HMAC-SHA256), never personal data"
                .to_owned(),
        ),
        (
            with(visit(2, "2026-12-10"), "visit_date", json!("2026-12-32")),
            400,
            "visit_date must be a date YYYY-MM-DD, got \"2026-12-32\"".to_owned(),
        ),
        (
            with(visit(2, "2026-12-10"), "reason", json!("x")),
            400,
            "reason is only for RefuseVisit".to_owned(),
        ),
        (
            visit(3, "2026-12-25"),
            409,
            "check-in refused: 2026-12-25 is in a blackout period of agreement ab-1".to_owned(),
        ),
        (
            visit(3, "2026-12-24"),
            409,
            "check-in refused: 2026-12-24 is in a blackout period of agreement ab-1".to_owned(),
        ),
        (
            visit(4, "2025-12-31"),
            409,
            "check-in refused: agreement ab-1 does not cover 2025-12-31".to_owned(),
        ),
        (
            visit(4, "2028-01-01"),
            409,
            "check-in refused: agreement ab-1 does not cover 2028-01-01".to_owned(),
        ),
        (
            with(visit(5, "2026-12-10"), "nights", json!(4)),
            409,
            "check-in refused: a stay of 4 nights exceeds the limit of 3".to_owned(),
        ),
        (
            with(visit(6, "2026-12-10"), "guests", json!(3)),
            409,
            "check-in refused: 3 guests exceed the limit of 2".to_owned(),
        ),
        (
            with(visit(7, "2026-12-10"), "guests_family", json!(false)),
            409,
            "check-in refused: guests must be family of the member under this agreement".to_owned(),
        ),
        (
            with(
                visit(8, "2026-12-10"),
                "facilities",
                json!(["dining", "spa"]),
            ),
            409,
            "check-in refused: facility spa is not open to visitors under this agreement"
                .to_owned(),
        ),
        (
            with(visit(9, "2026-12-10"), "member_ref", json!(MEMBER_B)),
            404,
            format!("member {MEMBER_B} has no anchor on the ledger"),
        ),
    ];
    for (input, status, message) in cases {
        refused(&check_in(&mut network, &input), status, &message);
    }
    // At the limits the visit is fine: the last day before the blackout, 3 nights, 2 family guests.
    let at_limits = with(
        with(visit(10, "2026-12-23"), "nights", json!(3)),
        "guests",
        json!(2),
    );
    assert_eq!(ok(&check_in(&mut network, &at_limits))["fee_minor"], 4500);
    // Without guests the family rule does not apply.
    let alone = with(
        with(visit(11, "2026-12-27"), "guests", json!(0)),
        "guests_family",
        json!(false),
    );
    assert_eq!(ok(&check_in(&mut network, &alone))["fee_minor"], 2500);
}

#[test]
fn check_in_is_refused_for_a_member_who_is_not_in_good_standing() {
    let mut network = network();
    // Residency exclusion: a member living in the host's zone.
    ok(&anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "active",
        "2027-06-30",
        Some("GB-MAN"),
    ));
    refused(
        &check_in(&mut network, &visit(1, "2026-12-10")),
        409,
        "check-in refused: members residing in GB-MAN cannot visit club-beta under the residency exclusion",
    );
    // Without a known zone the exclusion cannot apply.
    ok(&anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "active",
        "2027-06-30",
        None,
    ));
    ok(&check_in(&mut network, &visit(2, "2026-12-10")));
    // Membership must be valid on the visit's date: the last valid day is fine, the day after is not.
    ok(&anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "active",
        "2026-12-11",
        None,
    ));
    ok(&check_in(&mut network, &visit(3, "2026-12-11")));
    refused(
        &check_in(&mut network, &visit(4, "2026-12-12")),
        409,
        &format!("check-in refused: membership of {MEMBER} is valid only until 2026-12-11"),
    );
    for status in ["lapsed", "suspended"] {
        ok(&anchor(
            &mut network,
            "club-alpha",
            MEMBER,
            status,
            "2027-06-30",
            None,
        ));
        refused(
            &check_in(&mut network, &visit(5, "2026-12-13")),
            409,
            &format!("check-in refused: member {MEMBER} is {status}"),
        );
    }
    // A club's own members are not visitors.
    ok(&anchor(
        &mut network,
        "club-beta",
        MEMBER_B,
        "active",
        "2027-06-30",
        None,
    ));
    refused(
        &check_in(
            &mut network,
            &with(visit(6, "2026-12-13"), "member_ref", json!(MEMBER_B)),
        ),
        400,
        &format!("member {MEMBER_B} belongs to club-beta: a club's own members are not visitors"),
    );
}

#[test]
fn check_in_needs_two_active_clubs_and_a_working_agreement() {
    let mut network = network();
    refused(
        &network.invoke(
            &Actor::front_desk("club-gamma"),
            &["CheckIn", &visit(1, "2026-12-04").to_string()],
        ),
        403,
        "CheckIn: a caller of club-gamma cannot act for club-beta",
    );
    // Gamma hosting alpha's member: no agreement between them.
    let at_gamma = with(visit(2, "2026-12-04"), "host_club", json!("club-gamma"));
    refused(
        &network.invoke(
            &Actor::front_desk("club-gamma"),
            &["CheckIn", &at_gamma.to_string()],
        ),
        409,
        "check-in refused: there is no agreement between club-alpha and club-gamma",
    );
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["SuspendAgreement", "ab-1", "audit"],
    ));
    refused(
        &check_in(&mut network, &visit(3, "2026-12-04")),
        409,
        "check-in refused: agreement ab-1 is suspended",
    );
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ResumeAgreement", "ab-1"],
    ));
    ok(&check_in(&mut network, &visit(4, "2026-12-04")));
    ok(&network.invoke(
        &Actor::network_admin(),
        &["SuspendClub", "club-alpha", "emergency"],
    ));
    refused(
        &check_in(&mut network, &visit(5, "2026-12-04")),
        409,
        "check-in refused: home club club-alpha is suspended",
    );
    ok(&network.invoke(
        &Actor::network_admin(),
        &["SuspendClub", "club-beta", "emergency"],
    ));
    refused(
        &check_in(&mut network, &visit(6, "2026-12-04")),
        409,
        "check-in refused: host club club-beta is suspended",
    );
}

#[test]
fn visits_after_a_termination_takes_effect_are_refused() {
    let mut network = network();
    ok(&network.invoke(
        &Actor::club_admin("club-beta"),
        &["TerminateAgreement", "ab-1", "closing"],
    ));
    ok(&check_in(&mut network, &visit(1, "2027-01-02")));
    refused(
        &check_in(&mut network, &visit(2, "2027-01-03")),
        409,
        "check-in refused: agreement ab-1 does not cover 2027-01-03",
    );
}

#[test]
fn a_late_recording_is_judged_on_the_visit_date() {
    let mut network = network();
    // The agreement expired on 2027-12-31; a visit of 2027-12-30 is recorded on 2028-01-05.
    network.now = at("2028-01-05");
    ok(&anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "active",
        "2028-06-30",
        None,
    ));
    let late = with(visit(1, "2027-12-30"), "guests", json!(0));
    assert_eq!(
        ok(&network.invoke(&desk(), &["CheckIn", &late.to_string()]))["agreement_id"],
        "ab-1"
    );
    let after = with(
        with(late, "visit_id", json!(visit_id(2))),
        "visit_date",
        json!("2028-01-04"),
    );
    refused(
        &network.invoke(&desk(), &["CheckIn", &after.to_string()]),
        409,
        "check-in refused: agreement ab-1 does not cover 2028-01-04",
    );
}

#[test]
fn a_visit_is_recorded_on_its_day_or_up_to_thirty_days_late() {
    let mut network = network();
    // The clock is at 2026-12-04 UTC: the next day is allowed for clubs ahead of UTC, not the one after.
    let record = |network: &mut reciprocal_chaincode::testing::FakeNetwork, n: u32, date: &str| {
        network.invoke(
            &desk(),
            &[
                "CheckIn",
                &with(visit(n, date), "guests", json!(0)).to_string(),
            ],
        )
    };
    ok(&record(&mut network, 1, "2026-12-05"));
    refused(
        &record(&mut network, 2, "2026-12-06"),
        400,
        "visit_date 2026-12-06 is in the future (the transaction date is 2026-12-04 UTC)",
    );
    ok(&record(&mut network, 3, "2026-11-04"));
    refused(
        &record(&mut network, 4, "2026-11-03"),
        400,
        "visit_date 2026-11-03 is more than 30 days ago (the transaction date is 2026-12-04 UTC)",
    );
    // A retry long after still gets the first answer.
    network.now += 90 * DAY;
    assert_eq!(
        ok(&record(&mut network, 1, "2026-12-05"))["visit_id"],
        visit_id(1)
    );
}

#[test]
fn monthly_quota_counts_per_calendar_month_at_its_boundary() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-11-29")));
    ok(&check_in(&mut network, &visit(2, "2026-11-30")));
    refused(
        &check_in(&mut network, &visit(3, "2026-11-30")),
        409,
        "check-in refused: monthly quota reached: 2 of 2 visits to club-beta in 2026-11",
    );
    // The first of the next month starts a new monthly count (the yearly count is now 2 of 3).
    ok(&check_in(&mut network, &visit(4, "2026-12-01")));
}

#[test]
fn yearly_quota_counts_per_calendar_year_at_its_boundary() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-10-01")));
    ok(&check_in(&mut network, &visit(2, "2026-11-01")));
    ok(&check_in(&mut network, &visit(3, "2026-12-01")));
    refused(
        &check_in(&mut network, &visit(4, "2026-12-31")),
        409,
        "check-in refused: yearly quota reached: 3 of 3 visits to club-beta in 2026",
    );
    ok(&check_in(&mut network, &visit(5, "2027-01-01")));
}

#[test]
fn quotas_are_per_member_and_per_host() {
    let mut network = network();
    ok(&anchor(
        &mut network,
        "club-alpha",
        MEMBER_B,
        "active",
        "2027-06-30",
        None,
    ));
    ok(&check_in(&mut network, &visit(1, "2026-12-01")));
    ok(&check_in(&mut network, &visit(2, "2026-12-02")));
    // Another member of the same club has a quota of their own.
    ok(&check_in(
        &mut network,
        &with(visit(3, "2026-12-02"), "member_ref", json!(MEMBER_B)),
    ));
}

#[test]
fn cancelled_and_refused_visits_do_not_count() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-12-01")));
    ok(&check_in(&mut network, &visit(2, "2026-12-02")));
    refused(
        &network.invoke(&desk(), &["CancelVisit", &visit_id(2), ""]),
        400,
        "reason must be 1-500 characters without control characters",
    );
    let cancelled = network.invoke(&desk(), &["CancelVisit", &visit_id(2), "booked in error"]);
    let record = ok(&cancelled);
    assert_eq!(event(&cancelled), "VisitCancelled");
    assert_eq!(
        (record["status"].as_str(), record["reason"].as_str()),
        (Some("cancelled"), Some("booked in error"))
    );
    refused(
        &network.invoke(&desk(), &["CancelVisit", &visit_id(2), "again"]),
        409,
        &format!("CancelVisit: visit {} is cancelled", visit_id(2)),
    );
    // The host's veto: recorded with its reason, never counted.
    let veto = with(visit(3, "2026-12-02"), "reason", json!("dress code"));
    let refused_visit = network.invoke(&desk(), &["RefuseVisit", &veto.to_string()]);
    let record = ok(&refused_visit);
    assert_eq!(event(&refused_visit), "VisitRefused");
    assert_eq!(
        (
            record["status"].as_str(),
            record["reason"].as_str(),
            record["fee_minor"].as_u64()
        ),
        (Some("refused"), Some("dress code"), Some(0))
    );
    // Refusing again with the same content is a no-op.
    let again = network.invoke(&desk(), &["RefuseVisit", &veto.to_string()]);
    assert_eq!(ok(&again), record);
    assert!(again.writes.is_empty());
    // The cancelled and the refused visit left the month's second place free.
    ok(&check_in(&mut network, &visit(4, "2026-12-03")));
    refused(
        &check_in(&mut network, &visit(5, "2026-12-03")),
        409,
        "check-in refused: monthly quota reached: 2 of 2 visits to club-beta in 2026-12",
    );
}

#[test]
fn the_host_may_refuse_any_visit_even_without_an_agreement() {
    let mut network = network();
    refused(
        &network.invoke(
            &desk(),
            &["RefuseVisit", &visit(1, "2026-12-04").to_string()],
        ),
        400,
        "reason is required to refuse a visit",
    );
    let at_gamma = with(
        with(visit(2, "2026-12-04"), "host_club", json!("club-gamma")),
        "reason",
        json!("full house"),
    );
    let outcome = network.invoke(
        &Actor::front_desk("club-gamma"),
        &["RefuseVisit", &at_gamma.to_string()],
    );
    let record = ok(&outcome);
    assert_eq!(record["agreement_id"], json!(null));
    assert_eq!(record["home_club"], "club-alpha");
}

#[test]
fn check_out_and_its_refusals() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-12-04")));
    refused(
        &network.invoke(
            &Actor::front_desk("club-alpha"),
            &["CheckOut", &visit_id(1)],
        ),
        403,
        "CheckOut: a caller of club-alpha cannot act for club-beta",
    );
    let out = network.invoke(&desk(), &["CheckOut", &visit_id(1)]);
    assert_eq!(ok(&out)["status"], "checked_out");
    assert_eq!(event(&out), "VisitCheckedOut");
    refused(
        &network.invoke(&desk(), &["CheckOut", &visit_id(1)]),
        409,
        &format!("CheckOut: visit {} is checked_out", visit_id(1)),
    );
    refused(
        &network.invoke(&desk(), &["CancelVisit", &visit_id(1), "late"]),
        409,
        &format!("CancelVisit: visit {} is checked_out", visit_id(1)),
    );
    refused(
        &network.invoke(&desk(), &["CheckOut", &visit_id(7)]),
        404,
        &format!("visit {} does not exist", visit_id(7)),
    );
}

#[test]
fn the_home_club_disputes_and_the_host_resolves() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-12-04")));
    ok(&network.invoke(&desk(), &["CheckOut", &visit_id(1)]));
    refused(
        &network.invoke(
            &Actor::club_admin("club-beta"),
            &["DisputeVisit", &visit_id(1), "wrong fee"],
        ),
        403,
        "DisputeVisit: a caller of club-beta cannot act for club-alpha",
    );
    refused(
        &network.invoke(
            &Actor::front_desk("club-alpha"),
            &["DisputeVisit", &visit_id(1), "wrong fee"],
        ),
        403,
        "DisputeVisit: role front_desk may not do this",
    );
    let disputed = network.invoke(
        &Actor::club_admin("club-alpha"),
        &["DisputeVisit", &visit_id(1), "no guest came"],
    );
    let record = ok(&disputed);
    assert_eq!(event(&disputed), "VisitDisputed");
    assert_eq!(
        (record["status"].as_str(), record["reason"].as_str()),
        (Some("disputed"), Some("no guest came"))
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["ResolveDispute", &visit_id(1), "agreed"],
        ),
        403,
        "ResolveDispute: a caller of club-alpha cannot act for club-beta",
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-beta"),
            &["ResolveDispute", &visit_id(1), "agreed", "9999"],
        ),
        400,
        "a resolution may lower the fee, not raise it",
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-beta"),
            &["ResolveDispute", &visit_id(1), "agreed", "ten"],
        ),
        400,
        "fee_minor must be a number",
    );
    let resolved = network.invoke(
        &Actor::club_admin("club-beta"),
        &["ResolveDispute", &visit_id(1), "guest fee waived", "2500"],
    );
    let record = ok(&resolved);
    assert_eq!(event(&resolved), "DisputeResolved");
    assert_eq!(
        (
            record["status"].as_str(),
            record["fee_minor"].as_u64(),
            record["resolution"].as_str()
        ),
        (Some("checked_out"), Some(2500), Some("guest fee waived"))
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-beta"),
            &["ResolveDispute", &visit_id(1), "again"],
        ),
        409,
        &format!("ResolveDispute: visit {} is checked_out", visit_id(1)),
    );
    // Without a fee the resolution keeps it.
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["DisputeVisit", &visit_id(1), "still wrong"],
    ));
    let kept = ok(&network.invoke(
        &Actor::club_admin("club-beta"),
        &["ResolveDispute", &visit_id(1), "fee stands"],
    ));
    assert_eq!(kept["fee_minor"], 2500);
}

#[test]
fn concurrent_check_ins_of_one_member_conflict_under_mvcc() {
    let mut network = network();
    network.now = at("2026-12-04");
    // Two front desks endorse different visits of the same member against the same committed state.
    let first = network.simulate(&desk(), &["CheckIn", &visit(1, "2026-12-04").to_string()]);
    let second = network.simulate(&desk(), &["CheckIn", &visit(2, "2026-12-04").to_string()]);
    ok(&first);
    ok(&second);
    // Both read and write the member's quota counters, so whichever commits second fails validation
    // and its client retries against the new count: racing check-ins cannot exceed a quota.
    let counters: Vec<&String> = first
        .writes
        .keys()
        .filter(|key| key.contains("visitcount"))
        .collect();
    assert_eq!(counters.len(), 2, "a month and a year counter");
    for key in counters {
        assert!(
            second.reads.contains_key(key),
            "the second check-in reads {key:?}"
        );
    }
    assert!(network.commit(&first));
    assert!(!network.commit(&second), "MVCC read conflict");
    ok(&check_in(&mut network, &visit(2, "2026-12-04")));
    refused(
        &check_in(&mut network, &visit(3, "2026-12-04")),
        409,
        "check-in refused: monthly quota reached: 2 of 2 visits to club-beta in 2026-12",
    );
}
