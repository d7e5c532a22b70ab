//! Agreement lifecycle: proposal, acceptance, rejection, withdrawal, amendments, suspension, notice of
//! termination, expiry, and at most one open agreement per pair of clubs.

use reciprocal_chaincode::testing::{Actor, FakeNetwork};
use serde_json::json;

use crate::helpers::*;

fn alpha() -> Actor {
    Actor::club_admin("club-alpha")
}
fn beta() -> Actor {
    Actor::club_admin("club-beta")
}
fn gamma() -> Actor {
    Actor::club_admin("club-gamma")
}

#[test]
fn a_proposal_becomes_active_when_the_counterparty_accepts() {
    let mut network = FakeNetwork::at(NOW);
    for club in ["club-alpha", "club-beta"] {
        ok(&create_club(&mut network, club, None));
    }
    let proposed = network.invoke(
        &alpha(),
        &["ProposeAgreement", &propose("ab-1", "club-beta", &terms())],
    );
    let record = ok(&proposed);
    assert_eq!(event(&proposed), "AgreementProposed");
    assert_eq!(
        (
            record["status"].as_str(),
            record["version"].as_u64(),
            record["club_a"].as_str(),
            record["club_b"].as_str()
        ),
        (
            Some("proposed"),
            Some(1),
            Some("club-alpha"),
            Some("club-beta")
        )
    );
    refused(
        &network.invoke(&alpha(), &["AcceptAgreement", "ab-1"]),
        403,
        "AcceptAgreement: only club-beta can accept agreement ab-1",
    );
    network.now += 3600;
    let accepted = network.invoke(&beta(), &["AcceptAgreement", "ab-1"]);
    let record = ok(&accepted);
    assert_eq!(event(&accepted), "AgreementAccepted");
    assert_eq!(record["status"], "active");
    assert_eq!(record["effective_status"], "active");
    assert_eq!(record["accepted_at"], "2026-12-04T17:00:00Z");
    refused(
        &network.invoke(&beta(), &["AcceptAgreement", "ab-1"]),
        409,
        "AcceptAgreement: agreement ab-1 is active",
    );
    // Both clubs list it.
    for club in ["club-alpha", "club-beta"] {
        let listed = ok(&network.invoke(&alpha(), &["ListAgreementsByClub", club]));
        assert_eq!(listed[0]["id"], "ab-1");
    }
}

#[test]
fn proposals_are_refused_unless_the_pair_and_the_terms_are_valid() {
    let mut network = network();
    refused(
        &network.invoke(
            &beta(),
            &["ProposeAgreement", &propose("ab-2", "club-alpha", &terms())],
        ),
        409,
        "clubs club-beta and club-alpha already have agreement ab-1 (active)",
    );
    refused(
        &network.invoke(
            &alpha(),
            &["ProposeAgreement", &propose("aa-1", "club-alpha", &terms())],
        ),
        400,
        "an agreement needs two distinct clubs",
    );
    refused(
        &network.invoke(
            &alpha(),
            &["ProposeAgreement", &propose("ab-1", "club-gamma", &terms())],
        ),
        409,
        "agreement ab-1 already exists",
    );
    refused(
        &network.invoke(
            &alpha(),
            &["ProposeAgreement", &propose("az-1", "club-zeta", &terms())],
        ),
        404,
        "club club-zeta does not exist",
    );
    refused(
        &network.invoke(
            &Actor::front_desk("club-alpha"),
            &["ProposeAgreement", &propose("ag-1", "club-gamma", &terms())],
        ),
        403,
        "ProposeAgreement: role front_desk may not do this",
    );
    ok(&network.invoke(
        &Actor::network_admin(),
        &["SuspendClub", "club-gamma", "audit"],
    ));
    refused(
        &network.invoke(
            &alpha(),
            &["ProposeAgreement", &propose("ag-1", "club-gamma", &terms())],
        ),
        409,
        "club club-gamma is suspended",
    );
}

#[test]
fn terms_are_validated_field_by_field() {
    let mut network = network();
    let cases = [
        (
            "max_visits_per_month",
            json!(0),
            "terms.max_visits_per_month must be between 1 and 31",
        ),
        (
            "max_visits_per_year",
            json!(1),
            "terms.max_visits_per_year must be at least max_visits_per_month and at most 366",
        ),
        (
            "max_stay_days",
            json!(400),
            "terms.max_stay_days must be at most 365",
        ),
        (
            "max_guests_per_visit",
            json!(51),
            "terms.max_guests_per_visit must be at most 50",
        ),
        (
            "allowed_facilities",
            json!(["Golf Course"]),
            "terms.allowed_facilities entry must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit, got \"Golf Course\"",
        ),
        (
            "blackout",
            json!([{"from": "2026-12-26", "to": "2026-12-24"}]),
            "terms.blackout: 2026-12-24 is before 2026-12-26",
        ),
        (
            "blackout",
            json!([{"from": "2026-12-24", "to": "Christmas"}]),
            "terms.blackout.to must be a date YYYY-MM-DD, got \"Christmas\"",
        ),
        (
            "fee",
            json!({"per_visit_minor": 1, "per_guest_minor": 1, "currency": "euro"}),
            "terms.fee.currency must be an ISO 4217 code such as EUR",
        ),
        (
            "fee",
            json!({"per_visit_minor": 100_000_001u64, "per_guest_minor": 1, "currency": "EUR"}),
            "terms.fee amounts must be at most 100000000 minor units",
        ),
        (
            "settlement",
            json!("cash"),
            "terms.settlement must be pay_on_departure or bill_home_club",
        ),
        (
            "valid_until",
            json!("2025-12-31"),
            "terms.valid_until is before terms.valid_from",
        ),
        (
            "valid_from",
            json!("01/01/2026"),
            "terms.valid_from must be a date YYYY-MM-DD, got \"01/01/2026\"",
        ),
        (
            "notice_period_days",
            json!(400),
            "terms.notice_period_days must be at most 365",
        ),
    ];
    for (field, value, message) in cases {
        let mut bad = terms();
        bad[field] = value;
        refused(
            &network.invoke(
                &alpha(),
                &["ProposeAgreement", &propose("ag-1", "club-gamma", &bad)],
            ),
            400,
            message,
        );
    }
    let mut unknown = terms();
    unknown["max_visits_per_week"] = json!(1);
    let outcome = network.invoke(
        &alpha(),
        &["ProposeAgreement", &propose("ag-1", "club-gamma", &unknown)],
    );
    assert_eq!(outcome.response.status, 400);
    assert!(
        outcome
            .response
            .message
            .starts_with("agreement: unknown field `max_visits_per_week`"),
        "{}",
        outcome.response.message
    );
}

#[test]
fn rejection_and_withdrawal_free_the_pair() {
    let mut network = network();
    ok(&network.invoke(
        &alpha(),
        &["ProposeAgreement", &propose("ag-1", "club-gamma", &terms())],
    ));
    refused(
        &network.invoke(&beta(), &["AcceptAgreement", "ag-1"]),
        403,
        "AcceptAgreement: club-beta is not a party of agreement ag-1",
    );
    refused(
        &network.invoke(&alpha(), &["RejectAgreement", "ag-1", "changed our mind"]),
        403,
        "RejectAgreement: only club-gamma can reject agreement ag-1",
    );
    refused(
        &network.invoke(&gamma(), &["RejectAgreement", "ag-1", ""]),
        400,
        "reason must be 1-500 characters without control characters",
    );
    let rejected = network.invoke(&gamma(), &["RejectAgreement", "ag-1", "not now"]);
    let record = ok(&rejected);
    assert_eq!(event(&rejected), "AgreementRejected");
    assert_eq!(
        (record["status"].as_str(), record["reason"].as_str()),
        (Some("rejected"), Some("not now"))
    );
    refused(
        &network.invoke(&gamma(), &["AcceptAgreement", "ag-1"]),
        409,
        "AcceptAgreement: agreement ag-1 is rejected",
    );

    ok(&network.invoke(
        &alpha(),
        &["ProposeAgreement", &propose("ag-2", "club-gamma", &terms())],
    ));
    refused(
        &network.invoke(&gamma(), &["WithdrawAgreement", "ag-2"]),
        403,
        "WithdrawAgreement: only club-alpha can withdraw agreement ag-2",
    );
    let withdrawn = network.invoke(&alpha(), &["WithdrawAgreement", "ag-2"]);
    assert_eq!(ok(&withdrawn)["status"], "withdrawn");
    assert_eq!(event(&withdrawn), "AgreementWithdrawn");
    // The pair is free again, and the club lists all three of its agreements.
    ok(&network.invoke(
        &gamma(),
        &["ProposeAgreement", &propose("ga-1", "club-alpha", &terms())],
    ));
    let listed = ok(&network.invoke(&alpha(), &["ListAgreementsByClub", "club-alpha"]));
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ab-1", "ag-1", "ag-2", "ga-1"]);
}

#[test]
fn amendments_raise_the_version_and_keep_the_old_terms() {
    let mut network = network();
    let mut new_terms = terms();
    new_terms["max_visits_per_month"] = json!(3);
    let proposed = network.invoke(
        &alpha(),
        &["ProposeAmendment", "ab-1", &new_terms.to_string()],
    );
    let record = ok(&proposed);
    assert_eq!(event(&proposed), "AgreementAmendmentProposed");
    assert_eq!(record["version"], 1, "terms change only on acceptance");
    assert_eq!(record["pending_amendment"]["proposed_by"], "club-alpha");
    refused(
        &network.invoke(&beta(), &["ProposeAmendment", "ab-1", &terms().to_string()]),
        409,
        "ProposeAmendment: agreement ab-1 already has an amendment proposed by club-alpha",
    );
    refused(
        &network.invoke(&alpha(), &["AcceptAmendment", "ab-1"]),
        403,
        "AcceptAmendment: club-alpha proposed this amendment; the other party must accept it",
    );
    network.now += DAY;
    let accepted = network.invoke(&beta(), &["AcceptAmendment", "ab-1"]);
    let amended = ok(&accepted);
    assert_eq!(event(&accepted), "AgreementAmended");
    assert_eq!(amended["version"], 2);
    assert_eq!(amended["terms"]["max_visits_per_month"], 3);
    assert_eq!(amended["pending_amendment"], json!(null));
    let mut old_terms = terms();
    old_terms["notice_period_days"] = json!(null);
    assert_eq!(
        amended["history"],
        json!([{"version": 1, "terms": old_terms, "superseded_at": "2026-12-05T16:00:00Z"}])
    );
    refused(
        &network.invoke(&beta(), &["AcceptAmendment", "ab-1"]),
        409,
        "AcceptAmendment: agreement ab-1 has no pending amendment",
    );
    // A rejected amendment leaves the terms as they are.
    ok(&network.invoke(&beta(), &["ProposeAmendment", "ab-1", &terms().to_string()]));
    refused(
        &network.invoke(&beta(), &["RejectAmendment", "ab-1", "no"]),
        403,
        "RejectAmendment: club-beta proposed this amendment; the other party must answer it",
    );
    let rejected = network.invoke(&alpha(), &["RejectAmendment", "ab-1", "keep three visits"]);
    let record = ok(&rejected);
    assert_eq!(event(&rejected), "AgreementAmendmentRejected");
    assert_eq!(
        (
            record["version"].as_u64(),
            record["terms"]["max_visits_per_month"].as_u64()
        ),
        (Some(2), Some(3))
    );
    assert_eq!(record["pending_amendment"], json!(null));
}

#[test]
fn only_the_suspending_party_resumes() {
    let mut network = network();
    refused(
        &network.invoke(&alpha(), &["ResumeAgreement", "ab-1"]),
        409,
        "ResumeAgreement: agreement ab-1 is active",
    );
    let suspended = network.invoke(&beta(), &["SuspendAgreement", "ab-1", "renovation"]);
    let record = ok(&suspended);
    assert_eq!(event(&suspended), "AgreementSuspended");
    assert_eq!(
        (record["suspended_by"].as_str(), record["reason"].as_str()),
        (Some("club-beta"), Some("renovation"))
    );
    refused(
        &network.invoke(&alpha(), &["SuspendAgreement", "ab-1", "too"]),
        409,
        "SuspendAgreement: agreement ab-1 is suspended",
    );
    refused(
        &network.invoke(&alpha(), &["ResumeAgreement", "ab-1"]),
        403,
        "ResumeAgreement: only club-beta can resume agreement ab-1",
    );
    refused(
        &network.invoke(&gamma(), &["ResumeAgreement", "ab-1"]),
        403,
        "ResumeAgreement: club-gamma is not a party of agreement ab-1",
    );
    let resumed = network.invoke(&beta(), &["ResumeAgreement", "ab-1"]);
    assert_eq!(ok(&resumed)["status"], "active");
    assert_eq!(event(&resumed), "AgreementResumed");
}

#[test]
fn notice_of_termination_takes_effect_after_the_notice_period() {
    let mut network = network();
    let noticed = network.invoke(&alpha(), &["TerminateAgreement", "ab-1", "merger"]);
    let record = ok(&noticed);
    assert_eq!(event(&noticed), "AgreementTerminationNoticed");
    assert_eq!(
        record["termination"],
        json!({"given_by": "club-alpha", "given_at": "2026-12-04T16:00:00Z",
               "effective_on": "2027-01-03", "reason": "merger"})
    );
    assert_eq!(record["effective_status"], "active");
    refused(
        &network.invoke(&beta(), &["TerminateAgreement", "ab-1", "agreed"]),
        409,
        "TerminateAgreement: club-alpha already gave notice, effective 2027-01-03",
    );
    // The day before it takes effect the agreement still works; on that day it is terminated.
    network.now = at("2027-01-02");
    let before = ok(&network.invoke(&alpha(), &["GetAgreement", "ab-1"]));
    assert_eq!(before["effective_status"], "active");
    network.now = at("2027-01-03");
    let after = ok(&network.invoke(&alpha(), &["GetAgreement", "ab-1"]));
    assert_eq!(after["effective_status"], "terminated");
    assert_eq!(
        after["status"], "active",
        "the stored status is unchanged; termination is derived"
    );
    refused(
        &network.invoke(&beta(), &["SuspendAgreement", "ab-1", "late"]),
        409,
        "SuspendAgreement: agreement ab-1 is terminated",
    );
    // A terminated agreement no longer occupies the pair.
    ok(&network.invoke(
        &beta(),
        &["ProposeAgreement", &propose("ba-2", "club-alpha", &terms())],
    ));
}

#[test]
fn the_agreements_own_notice_period_overrides_the_network_default() {
    let mut network = network();
    let mut short = terms();
    short["notice_period_days"] = json!(7);
    ok(&network.invoke(
        &alpha(),
        &["ProposeAgreement", &propose("ag-1", "club-gamma", &short)],
    ));
    ok(&network.invoke(&gamma(), &["AcceptAgreement", "ag-1"]));
    let noticed = ok(&network.invoke(&gamma(), &["TerminateAgreement", "ag-1", "closing"]));
    assert_eq!(noticed["termination"]["effective_on"], "2026-12-11");
}

#[test]
fn an_agreement_past_valid_until_is_expired_and_frees_the_pair() {
    let mut network = network();
    network.now = at("2027-12-31");
    assert_eq!(
        ok(&network.invoke(&alpha(), &["GetAgreement", "ab-1"]))["effective_status"],
        "active"
    );
    network.now = at("2028-01-01");
    assert_eq!(
        ok(&network.invoke(&alpha(), &["GetAgreement", "ab-1"]))["effective_status"],
        "expired"
    );
    refused(
        &network.invoke(
            &alpha(),
            &["ProposeAmendment", "ab-1", &terms().to_string()],
        ),
        409,
        "ProposeAmendment: agreement ab-1 is expired",
    );
    let mut renewed = terms();
    renewed["valid_from"] = json!("2028-01-01");
    renewed["valid_until"] = json!("2029-12-31");
    let outcome = network.invoke(
        &alpha(),
        &["ProposeAgreement", &propose("ab-2", "club-beta", &renewed)],
    );
    assert_eq!(ok(&outcome)["status"], "proposed");
    refused(
        &network.invoke(&alpha(), &["GetAgreement", "ab-9"]),
        404,
        "agreement ab-9 does not exist",
    );
}
