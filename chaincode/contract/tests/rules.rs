//! Every rule of the contract through the in-memory stub: statuses and exact messages of refusals, and
//! that a refusal writes nothing.

use reciprocal_chaincode::testing::{Actor, FakeNetwork, Outcome};
use serde_json::json;

/// 2026-12-04T16:00:00Z.
const NOW: i64 = 1_796_400_000;
const DAY: i64 = 86_400;
const MEMBER: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const MEMBER_B: &str = "0000000000000000000000000000000000000000000000000000000000000001";

fn ok(outcome: &Outcome) -> serde_json::Value {
    assert_eq!(outcome.response.status, 200, "{}", outcome.response.message);
    outcome.json()
}

fn refused(outcome: &Outcome, status: i32, message: &str) {
    assert_eq!(
        (outcome.response.status, outcome.response.message.as_str()),
        (status, message),
        "unexpected refusal"
    );
    assert!(outcome.event.is_none(), "a refusal emits no event");
}

fn club(network: &mut FakeNetwork, id: &str, zone: Option<&str>) {
    let mut input = json!({"id": id, "name": format!("Club {id}"), "msp_id": "Org1MSP"});
    if let Some(zone) = zone {
        input["residency_zone"] = json!(zone);
    }
    ok(&network.invoke(&Actor::network_admin(), &["CreateClub", &input.to_string()]));
}

fn terms() -> serde_json::Value {
    json!({
        "max_visits_per_month": 2, "max_visits_per_year": 3, "max_stay_days": 3,
        "max_guests_per_visit": 2, "guests_family_only": true, "residency_exclusion": true,
        "allowed_facilities": ["dining", "golf"], "blackout": [{"from": "2026-12-24", "to": "2026-12-26"}],
        "advance_notice_hours": 24,
        "fee": {"per_visit_minor": 2500, "per_guest_minor": 1000, "currency": "EUR"},
        "settlement": "bill_home_club", "valid_from": "2026-01-01", "valid_until": "2027-12-31"
    })
}

/// Alpha (home, zone GB-LND) and beta (host, zone GB-MAN) with an active agreement and a member of alpha.
fn network() -> FakeNetwork {
    let mut network = FakeNetwork::at(NOW);
    club(&mut network, "club-alpha", Some("GB-LND"));
    club(&mut network, "club-beta", Some("GB-MAN"));
    club(&mut network, "club-gamma", Some("GB-LND"));
    let proposal =
        json!({"agreement_id": "ab-1", "counterparty_club": "club-beta", "terms": terms()});
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ProposeAgreement", &proposal.to_string()],
    ));
    ok(&network.invoke(
        &Actor::club_admin("club-beta"),
        &["AcceptAgreement", "ab-1"],
    ));
    anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "active",
        "2027-06-30",
        Some("GB-BRS"),
    );
    network
}

fn anchor(
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

fn visit(id: u32, date: &str) -> serde_json::Value {
    json!({
        "visit_id": format!("00000000-0000-4000-8000-{id:012}"),
        "member_ref": MEMBER, "host_club": "club-beta", "visit_date": date,
        "nights": 1, "guests": 1, "guests_family": true, "facilities": ["dining"]
    })
}

fn check_in(network: &mut FakeNetwork, input: &serde_json::Value) -> Outcome {
    network.invoke(
        &Actor::front_desk("club-beta"),
        &["CheckIn", &input.to_string()],
    )
}

#[test]
fn bootstrap_creates_active_clubs_once_and_only_by_network_admin() {
    let mut network = FakeNetwork::at(NOW);
    let input = json!({"id": "club-alpha", "name": "Alpha", "msp_id": "Org1MSP"}).to_string();
    refused(
        &network.invoke(&Actor::club_admin("club-alpha"), &["CreateClub", &input]),
        403,
        "CreateClub: only a network_admin may do this",
    );
    let created = network.invoke(&Actor::network_admin(), &["CreateClub", &input]);
    let record = ok(&created);
    assert_eq!(record["status"], "active");
    assert_eq!(record["joined_at"], "2026-12-04T16:00:00Z");
    assert_eq!(created.event.as_ref().unwrap().event_name, "ClubAdmitted");
    refused(
        &network.invoke(&Actor::network_admin(), &["CreateClub", &input]),
        409,
        "club club-alpha already exists",
    );
    refused(
        &network.invoke(
            &Actor::network_admin(),
            &[
                "CreateClub",
                r#"{"id":"Bad Id","name":"x","msp_id":"Org1MSP"}"#,
            ],
        ),
        400,
        "club id must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit, got \"Bad Id\"",
    );
    refused(
        &network.invoke(
            &Actor::network_admin(),
            &[
                "CreateClub",
                r#"{"id":"x","name":"x","msp_id":"Org1MSP","phone":"1"}"#,
            ],
        ),
        400,
        "club: unknown field `phone`, expected one of `id`, `name`, `msp_id`, `contact_ref`, `residency_zone` at line 1 column 47",
    );
    ok(&network.invoke(&Actor::network_admin(), &["CloseBootstrap"]));
    let late = json!({"id": "club-late", "name": "Late", "msp_id": "Org1MSP"}).to_string();
    refused(
        &network.invoke(&Actor::network_admin(), &["CreateClub", &late]),
        409,
        "the bootstrap is closed: new clubs join through an admit_club proposal",
    );
}

#[test]
fn member_anchors_hold_no_personal_data_and_belong_to_their_home_club() {
    let mut network = network();
    refused(
        &anchor(
            &mut network,
            "club-alpha",
            "jane@example.com",
            "active",
            "2027-01-01",
            None,
        ),
        400,
        "member_ref must be 64 lowercase hex characters (an HMAC-SHA256), never personal data",
    );
    refused(
        &anchor(
            &mut network,
            "club-beta",
            MEMBER,
            "active",
            "2027-01-01",
            None,
        ),
        403,
        "UpsertMemberAnchor: member a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90 belongs to club-alpha",
    );
    refused(
        &anchor(
            &mut network,
            "club-alpha",
            MEMBER,
            "gold",
            "2027-01-01",
            None,
        ),
        400,
        "status must be active, suspended or lapsed",
    );
    refused(
        &anchor(
            &mut network,
            "club-alpha",
            MEMBER,
            "active",
            "2027-02-30",
            None,
        ),
        400,
        "valid_until must be a date YYYY-MM-DD, got \"2027-02-30\"",
    );
    let front_desk = network.invoke(
        &Actor::front_desk("club-alpha"),
        &[
            "UpsertMemberAnchor",
            &json!({"member_ref": MEMBER_B, "status": "active", "valid_until": "2027-01-01"})
                .to_string(),
        ],
    );
    refused(
        &front_desk,
        403,
        "UpsertMemberAnchor: role front_desk may not do this",
    );
    let written = anchor(
        &mut network,
        "club-alpha",
        MEMBER_B,
        "active",
        "2027-01-01",
        None,
    );
    assert_eq!(ok(&written)["home_club"], "club-alpha");
    assert_eq!(written.event.as_ref().unwrap().event_name, "MemberAnchored");
}

#[test]
fn agreement_lifecycle_and_its_refusals() {
    let mut network = network();
    let propose = |counterparty: &str, id: &str| {
        json!({"agreement_id": id, "counterparty_club": counterparty, "terms": terms()}).to_string()
    };
    refused(
        &network.invoke(
            &Actor::club_admin("club-beta"),
            &["ProposeAgreement", &propose("club-alpha", "ab-2")],
        ),
        409,
        "clubs club-beta and club-alpha already have agreement ab-1 (active)",
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["ProposeAgreement", &propose("club-alpha", "aa-1")],
        ),
        400,
        "an agreement needs two distinct clubs",
    );
    refused(
        &network.invoke(
            &Actor::front_desk("club-alpha"),
            &["ProposeAgreement", &propose("club-gamma", "ag-1")],
        ),
        403,
        "ProposeAgreement: role front_desk may not do this",
    );
    let mut bad_terms = terms();
    bad_terms["max_visits_per_year"] = json!(1);
    let bad =
        json!({"agreement_id": "ag-1", "counterparty_club": "club-gamma", "terms": bad_terms})
            .to_string();
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["ProposeAgreement", &bad],
        ),
        400,
        "terms.max_visits_per_year must be at least max_visits_per_month and at most 366",
    );
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ProposeAgreement", &propose("club-gamma", "ag-1")],
    ));
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["AcceptAgreement", "ag-1"],
        ),
        403,
        "AcceptAgreement: only club-gamma can accept agreement ag-1",
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-beta"),
            &["AcceptAgreement", "ag-1"],
        ),
        403,
        "AcceptAgreement: club-beta is not a party of agreement ag-1",
    );
    let rejected = network.invoke(
        &Actor::club_admin("club-gamma"),
        &["RejectAgreement", "ag-1", "not now"],
    );
    assert_eq!(ok(&rejected)["status"], "rejected");
    // A rejected agreement frees the pair for a new proposal.
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ProposeAgreement", &propose("club-gamma", "ag-2")],
    ));
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["WithdrawAgreement", "ag-2"],
    ));

    // Suspension: only the suspending party resumes.
    ok(&network.invoke(
        &Actor::club_admin("club-beta"),
        &["SuspendAgreement", "ab-1", "renovation"],
    ));
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["ResumeAgreement", "ab-1"],
        ),
        403,
        "ResumeAgreement: only club-beta can resume agreement ab-1",
    );
    let resumed = network.invoke(
        &Actor::club_admin("club-beta"),
        &["ResumeAgreement", "ab-1"],
    );
    assert_eq!(ok(&resumed)["status"], "active");
    assert_eq!(
        resumed.event.as_ref().unwrap().event_name,
        "AgreementResumed"
    );

    // Amendment: version increases, old terms kept, proposer cannot accept its own amendment.
    let mut new_terms = terms();
    new_terms["max_visits_per_month"] = json!(3);
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ProposeAmendment", "ab-1", &new_terms.to_string()],
    ));
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["AcceptAmendment", "ab-1"],
        ),
        403,
        "AcceptAmendment: club-alpha proposed this amendment; the other party must accept it",
    );
    let amended = ok(&network.invoke(
        &Actor::club_admin("club-beta"),
        &["AcceptAmendment", "ab-1"],
    ));
    assert_eq!(amended["version"], 2);
    assert_eq!(amended["terms"]["max_visits_per_month"], 3);
    assert_eq!(amended["history"][0]["version"], 1);
    assert_eq!(amended["history"][0]["terms"]["max_visits_per_month"], 2);

    // Termination takes effect after the notice period (default 30 days).
    let noticed = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["TerminateAgreement", "ab-1", "merger"],
    ));
    assert_eq!(noticed["termination"]["effective_on"], "2027-01-03");
    assert_eq!(noticed["effective_status"], "active");
    network.now += 30 * DAY;
    let later = ok(&network.invoke(&Actor::club_admin("club-alpha"), &["GetAgreement", "ab-1"]));
    assert_eq!(later["effective_status"], "terminated");
    let listed = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ListAgreementsByClub", "club-alpha"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 3);
}

#[test]
fn check_in_records_a_visit_with_its_fee_and_is_idempotent() {
    let mut network = network();
    let input = visit(1, "2026-12-10");
    let recorded = check_in(&mut network, &input);
    let record = ok(&recorded);
    assert_eq!(record["status"], "checked_in");
    assert_eq!(record["fee_minor"], 3500);
    assert_eq!(record["currency"], "EUR");
    assert_eq!(record["agreement_id"], "ab-1");
    assert_eq!(record["home_club"], "club-alpha");
    let event = recorded.event.as_ref().unwrap();
    assert_eq!(event.event_name, "VisitRecorded");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&event.payload).unwrap(),
        record
    );

    // The same visit again: the first result, nothing written, no event.
    let again = check_in(&mut network, &input);
    assert_eq!(ok(&again), record);
    assert!(again.writes.is_empty() && again.event.is_none());
    let mut changed = input.clone();
    changed["nights"] = json!(2);
    refused(
        &check_in(&mut network, &changed),
        409,
        "visit 00000000-0000-4000-8000-000000000001 was already recorded with different content",
    );
}

#[test]
fn check_in_enforces_every_rule_of_the_agreement() {
    let mut network = network();
    let cases: Vec<(serde_json::Value, i32, &str)> = vec![
        (
            {
                let mut v = visit(2, "2026-12-25");
                v["visit_id"] = json!("not-a-uuid");
                v
            },
            400,
            "visit_id must be a lowercase UUID, got \"not-a-uuid\"",
        ),
        (
            visit(3, "2026-12-25"),
            409,
            "check-in refused: 2026-12-25 is in a blackout period of agreement ab-1",
        ),
        (
            visit(4, "2028-01-05"),
            409,
            "check-in refused: agreement ab-1 does not cover 2028-01-05",
        ),
        (
            {
                let mut v = visit(5, "2026-12-10");
                v["nights"] = json!(4);
                v
            },
            409,
            "check-in refused: a stay of 4 nights exceeds the limit of 3",
        ),
        (
            {
                let mut v = visit(6, "2026-12-10");
                v["guests"] = json!(3);
                v
            },
            409,
            "check-in refused: 3 guests exceed the limit of 2",
        ),
        (
            {
                let mut v = visit(7, "2026-12-10");
                v["guests_family"] = json!(false);
                v
            },
            409,
            "check-in refused: guests must be family of the member under this agreement",
        ),
        (
            {
                let mut v = visit(8, "2026-12-10");
                v["facilities"] = json!(["spa"]);
                v
            },
            409,
            "check-in refused: facility spa is not open to visitors under this agreement",
        ),
        (
            {
                let mut v = visit(9, "2026-12-10");
                v["member_ref"] = json!(MEMBER_B);
                v
            },
            404,
            "member 0000000000000000000000000000000000000000000000000000000000000001 has no anchor on the ledger",
        ),
        (
            {
                let mut v = visit(10, "2026-12-10");
                v["guests"] = json!(-1);
                v
            },
            400,
            "visit: invalid value: integer `-1`, expected u32 at line 1 column 195",
        ),
    ];
    for (input, status, message) in cases {
        let outcome = check_in(&mut network, &input);
        assert_eq!(
            outcome.response.status, status,
            "{input}: {}",
            outcome.response.message
        );
        if status != 400 || !message.starts_with("visit: invalid value") {
            refused(&outcome, status, message);
        }
        assert!(outcome.response.status >= 400);
    }

    // Residency exclusion: a member living in the host's zone is refused.
    anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "active",
        "2027-06-30",
        Some("GB-MAN"),
    );
    refused(
        &check_in(&mut network, &visit(11, "2026-12-10")),
        409,
        "check-in refused: members residing in GB-MAN cannot visit club-beta under the residency exclusion",
    );
    // Membership validity and status.
    anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "active",
        "2026-12-05",
        None,
    );
    refused(
        &check_in(&mut network, &visit(12, "2026-12-10")),
        409,
        "check-in refused: membership of a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90 is valid only until 2026-12-05",
    );
    anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "lapsed",
        "2027-06-30",
        None,
    );
    refused(
        &check_in(&mut network, &visit(13, "2026-12-10")),
        409,
        "check-in refused: member a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90 is lapsed",
    );
    anchor(
        &mut network,
        "club-alpha",
        MEMBER,
        "active",
        "2027-06-30",
        None,
    );

    // A club acts only for itself; its own members are not visitors.
    let other_desk = network.invoke(
        &Actor::front_desk("club-gamma"),
        &["CheckIn", &visit(14, "2026-12-10").to_string()],
    );
    refused(
        &other_desk,
        403,
        "CheckIn: a caller of club-gamma cannot act for club-beta",
    );
    // Without an agreement (gamma hosts alpha's member).
    let mut at_gamma = visit(15, "2026-12-10");
    at_gamma["host_club"] = json!("club-gamma");
    refused(
        &network.invoke(
            &Actor::front_desk("club-gamma"),
            &["CheckIn", &at_gamma.to_string()],
        ),
        409,
        "check-in refused: no active agreement between club-alpha and club-gamma",
    );
    // A suspended agreement does not work.
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["SuspendAgreement", "ab-1", "audit"],
    ));
    refused(
        &check_in(&mut network, &visit(16, "2026-12-10")),
        409,
        "check-in refused: no active agreement between club-alpha and club-beta",
    );
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ResumeAgreement", "ab-1"],
    ));
    // A suspended host club can neither host nor send.
    ok(&network.invoke(
        &Actor::network_admin(),
        &["SuspendClub", "club-beta", "emergency"],
    ));
    refused(
        &check_in(&mut network, &visit(17, "2026-12-10")),
        409,
        "check-in refused: host club club-beta is suspended",
    );
}

#[test]
fn quotas_count_per_month_and_year_and_ignore_cancelled_and_refused_visits() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-12-01")));
    ok(&check_in(&mut network, &visit(2, "2026-12-02")));
    refused(
        &check_in(&mut network, &visit(3, "2026-12-03")),
        409,
        "check-in refused: monthly quota reached: 2 of 2 visits to club-beta in 2026-12",
    );
    // Cancelling frees a place; a refusal never takes one.
    ok(&network.invoke(
        &Actor::front_desk("club-beta"),
        &[
            "CancelVisit",
            "00000000-0000-4000-8000-000000000002",
            "rain",
        ],
    ));
    let mut refusal = visit(4, "2026-12-03");
    refusal["reason"] = json!("dress code");
    let refused_visit = network.invoke(
        &Actor::front_desk("club-beta"),
        &["RefuseVisit", &refusal.to_string()],
    );
    assert_eq!(ok(&refused_visit)["status"], "refused");
    assert_eq!(
        refused_visit.event.as_ref().unwrap().event_name,
        "VisitRefused"
    );
    ok(&check_in(&mut network, &visit(5, "2026-12-03")));
    // Year: 3 per year; two in December 2026 count, a third in another month of 2026 is over the limit.
    ok(&check_in(&mut network, &visit(6, "2026-11-20")));
    refused(
        &check_in(&mut network, &visit(7, "2026-10-20")),
        409,
        "check-in refused: yearly quota reached: 3 of 3 visits to club-beta in 2026",
    );
    // A new year starts a new count.
    ok(&check_in(&mut network, &visit(8, "2027-01-02")));
}

#[test]
fn check_out_dispute_resolution_and_settlement() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-12-01")));
    ok(&check_in(&mut network, &visit(2, "2026-12-02")));
    let id1 = "00000000-0000-4000-8000-000000000001";
    let id2 = "00000000-0000-4000-8000-000000000002";
    refused(
        &network.invoke(
            &Actor::club_admin("club-beta"),
            &["DisputeVisit", id1, "wrong fee"],
        ),
        403,
        "DisputeVisit: a caller of club-beta cannot act for club-alpha",
    );
    ok(&network.invoke(&Actor::front_desk("club-beta"), &["CheckOut", id1]));
    ok(&network.invoke(&Actor::front_desk("club-beta"), &["CheckOut", id2]));
    refused(
        &network.invoke(&Actor::front_desk("club-beta"), &["CheckOut", id1]),
        409,
        "CheckOut: visit 00000000-0000-4000-8000-000000000001 is checked_out",
    );
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["DisputeVisit", id2, "no guest came"],
    ));
    // Disputed visits stay out of the statement until resolved.
    let statement = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetStatement", "club-beta", "club-alpha", "2026-12"],
    ));
    assert_eq!(
        (
            statement["visit_count"].as_u64(),
            statement["total_minor"].as_u64()
        ),
        (Some(1), Some(3500))
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-beta"),
            &["ResolveDispute", id2, "agreed", "9999"],
        ),
        400,
        "a resolution may lower the fee, not raise it",
    );
    let resolved = ok(&network.invoke(
        &Actor::club_admin("club-beta"),
        &["ResolveDispute", id2, "guest fee waived", "2500"],
    ));
    assert_eq!(
        (resolved["status"].as_str(), resolved["fee_minor"].as_u64()),
        (Some("checked_out"), Some(2500))
    );
    let settlement = json!({"host_club": "club-beta", "home_club": "club-alpha", "month": "2026-12", "reference": "SEPA-2026-12-001"}).to_string();
    refused(
        &network.invoke(
            &Actor::club_admin("club-gamma"),
            &["RecordSettlement", &settlement],
        ),
        403,
        "RecordSettlement: club-gamma is neither club-beta nor club-alpha",
    );
    let recorded = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["RecordSettlement", &settlement],
    ));
    assert_eq!(
        (
            recorded["visit_count"].as_u64(),
            recorded["total_minor"].as_u64()
        ),
        (Some(2), Some(6000))
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-beta"),
            &["RecordSettlement", &settlement],
        ),
        409,
        "club-beta owed by club-alpha for 2026-12 is already settled",
    );
}

#[test]
fn visit_queries_page_by_host_and_member() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-12-01")));
    ok(&check_in(&mut network, &visit(2, "2026-12-02")));
    let first = ok(&network.invoke(
        &Actor::front_desk("club-beta"),
        &["ListVisitsByHost", "club-beta", "2026-12", "1", ""],
    ));
    assert_eq!(first["visits"].as_array().unwrap().len(), 1);
    let bookmark = first["bookmark"].as_str().unwrap().to_owned();
    assert!(!bookmark.is_empty());
    let second = ok(&network.invoke(
        &Actor::front_desk("club-beta"),
        &["ListVisitsByHost", "club-beta", "2026-12", "1", &bookmark],
    ));
    assert_eq!(
        second["visits"][0]["visit_id"],
        "00000000-0000-4000-8000-000000000002"
    );
    assert_eq!(second["bookmark"], "");
    let by_member = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ListVisitsByMember", MEMBER, "2026-12"],
    ));
    assert_eq!(by_member["visits"].as_array().unwrap().len(), 2);
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["ListVisitsByMember", MEMBER, "2026-13"],
        ),
        400,
        "month must be YYYY-MM, got \"2026-13\"",
    );
    let history = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetHistory", "agreement", "ab-1"],
    ));
    assert_eq!(
        history.as_array().unwrap().len(),
        2,
        "proposed, then accepted"
    );
    assert_eq!(history[0]["value"]["status"], "active");
}

fn proposal(id: &str, kind: &str, payload: serde_json::Value) -> String {
    json!({"proposal_id": id, "kind": kind, "payload": payload}).to_string()
}

#[test]
fn an_admission_vote_admits_a_club_and_execution_is_in_the_closing_transaction() {
    let mut network = network();
    let admit = proposal(
        "p-1",
        "admit_club",
        json!({"id": "club-delta", "name": "Delta", "msp_id": "Org1MSP"}),
    );
    let created = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["CreateProposal", &admit],
    ));
    assert_eq!(created["closes_at"], "2026-12-11T16:00:00Z");
    assert_eq!(
        ok(&network.invoke(&Actor::club_admin("club-alpha"), &["GetClub", "club-delta"]))["status"],
        "pending"
    );
    // The bootstrap is over once governance starts.
    let late = json!({"id": "club-late", "name": "Late", "msp_id": "Org1MSP"}).to_string();
    assert_eq!(
        network
            .invoke(&Actor::network_admin(), &["CreateClub", &late])
            .response
            .status,
        409
    );

    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["CastVote", "p-1", "yes"],
    ));
    refused(
        &network.invoke(&Actor::club_admin("club-alpha"), &["CastVote", "p-1", "no"]),
        409,
        "CastVote: club-alpha has already voted on proposal p-1; a vote is final",
    );
    refused(
        &network.invoke(&Actor::front_desk("club-beta"), &["CastVote", "p-1", "yes"]),
        403,
        "CastVote: role front_desk may not do this",
    );
    // One yes of three: still undecided.
    refused(
        &network.invoke(&Actor::front_desk("club-gamma"), &["CloseProposal", "p-1"]),
        409,
        "CloseProposal: proposal p-1 is open until 2026-12-11T16:00:00Z and its outcome can still change (1 yes, 0 no, 0 abstain of 3 eligible)",
    );
    ok(&network.invoke(&Actor::club_admin("club-beta"), &["CastVote", "p-1", "yes"]));
    // Two yes of three: the outcome can no longer change, so it is decided early and executed.
    let closed = network.invoke(&Actor::front_desk("club-gamma"), &["CloseProposal", "p-1"]);
    let decided = ok(&closed);
    assert_eq!(decided["status"], "executed");
    assert_eq!(
        decided["tally"],
        json!({"yes": 2, "no": 0, "abstain": 0, "eligible": 3})
    );
    assert_eq!(closed.event.as_ref().unwrap().event_name, "ProposalDecided");
    assert_eq!(
        ok(&network.invoke(&Actor::club_admin("club-alpha"), &["GetClub", "club-delta"]))["status"],
        "active"
    );
    let executed = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ListProposalsByStatus", "executed"],
    ));
    assert_eq!(executed[0]["id"], "p-1");
}

#[test]
fn expulsion_needs_two_thirds_and_the_target_does_not_vote() {
    let mut network = network();
    club(&mut network, "club-delta", None);
    let expel = proposal(
        "p-2",
        "expel_club",
        json!({"club_id": "club-delta", "reason": "unpaid fees"}),
    );
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["CreateProposal", &expel],
    ));
    refused(
        &network.invoke(&Actor::club_admin("club-delta"), &["CastVote", "p-2", "no"]),
        403,
        "CastVote: club-delta is the subject of proposal p-2 and does not vote",
    );
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["CastVote", "p-2", "yes"],
    ));
    ok(&network.invoke(&Actor::club_admin("club-beta"), &["CastVote", "p-2", "no"]));
    refused(
        &network.invoke(&Actor::club_admin("club-gamma"), &["CancelProposal", "p-2"]),
        403,
        "CancelProposal: only club-alpha can cancel proposal p-2",
    );
    // After the window: 1 yes, 1 no of 3 eligible — quorum met, but not two thirds.
    network.now += 8 * DAY;
    refused(
        &network.invoke(
            &Actor::club_admin("club-gamma"),
            &["CastVote", "p-2", "yes"],
        ),
        409,
        "CastVote: voting on proposal p-2 closed at 2026-12-11T16:00:00Z",
    );
    let decided = ok(&network.invoke(&Actor::club_admin("club-gamma"), &["CloseProposal", "p-2"]));
    assert_eq!(decided["status"], "rejected");
    assert_eq!(
        ok(&network.invoke(&Actor::club_admin("club-alpha"), &["GetClub", "club-delta"]))["status"],
        "active"
    );
}

#[test]
fn network_rules_change_by_vote_and_proposals_cancel_before_votes() {
    let mut network = network();
    let rule = proposal(
        "p-3",
        "amend_network_rule",
        json!({"rule": "default_notice_period_days", "value": 60}),
    );
    ok(&network.invoke(&Actor::club_admin("club-beta"), &["CreateProposal", &rule]));
    for club in ["club-alpha", "club-beta", "club-gamma"] {
        ok(&network.invoke(&Actor::club_admin(club), &["CastVote", "p-3", "yes"]));
    }
    ok(&network.invoke(&Actor::club_admin("club-alpha"), &["CloseProposal", "p-3"]));
    let rules = ok(&network.invoke(&Actor::club_admin("club-alpha"), &["GetNetworkRules"]));
    assert_eq!(rules["default_notice_period_days"], 60);
    let noticed = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["TerminateAgreement", "ab-1", "moving"],
    ));
    assert_eq!(noticed["termination"]["effective_on"], "2027-02-02");

    let text = proposal("p-4", "text", json!({"text": "Adopt a shared dress code"}));
    ok(&network.invoke(&Actor::club_admin("club-gamma"), &["CreateProposal", &text]));
    let cancelled =
        ok(&network.invoke(&Actor::club_admin("club-gamma"), &["CancelProposal", "p-4"]));
    assert_eq!(cancelled["status"], "cancelled");
    refused(
        &network.invoke(
            &Actor::club_admin("club-gamma"),
            &["CreateProposal", &proposal("p-5", "dissolve", json!({}))],
        ),
        400,
        "kind must be admit_club, suspend_club, reinstate_club, expel_club, amend_network_rule or text, got \"dissolve\"",
    );
}

#[test]
fn refusals_write_nothing_and_transactions_are_deterministic() {
    let mut network = network();
    let refusal = check_in(&mut network, &visit(3, "2026-12-25"));
    assert!(refusal.writes.is_empty());
    let first = network.simulate(
        &Actor::front_desk("club-beta"),
        &["CheckIn", &visit(1, "2026-12-01").to_string()],
    );
    let second = network.simulate(
        &Actor::front_desk("club-beta"),
        &["CheckIn", &visit(1, "2026-12-01").to_string()],
    );
    assert_eq!(first.response, second.response);
    assert_eq!(first.writes, second.writes);
    assert_eq!(first.event, second.event);
}

#[test]
fn bad_calls_are_clear_400s() {
    let mut network = network();
    refused(
        &network.invoke(&Actor::club_admin("club-alpha"), &["Nope"]),
        400,
        "unknown function \"Nope\"",
    );
    refused(
        &network.invoke(&Actor::club_admin("club-alpha"), &["GetClub"]),
        400,
        "GetClub takes 1 arguments (club_id), got 0",
    );
    refused(
        &network.invoke(&Actor::club_admin("club-alpha"), &["CheckIn", "{not json"]),
        400,
        "visit: key must be a string at line 1 column 2",
    );
    let anonymous = Actor {
        msp_id: "Org1MSP".to_owned(),
        club: None,
        role: None,
    };
    refused(
        &network.invoke(&anonymous, &["ProposeAgreement", "{}"]),
        400,
        "agreement: missing field `agreement_id` at line 1 column 2",
    );
}

#[test]
fn metadata_describes_every_function() {
    let mut network = network();
    let metadata = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["org.hyperledger.fabric:GetMetadata"],
    ));
    let transactions = metadata["contracts"]["ReciprocalContract"]["transactions"]
        .as_array()
        .unwrap();
    assert_eq!(
        transactions.len(),
        reciprocal_chaincode::FUNCTIONS.len() - 1
    );
    let check_in = transactions
        .iter()
        .find(|t| t["name"] == "CheckIn")
        .unwrap();
    assert_eq!(check_in["tag"], json!(["submit"]));
    let get = transactions
        .iter()
        .find(|t| t["name"] == "GetVisit")
        .unwrap();
    assert_eq!(get["tag"], json!(["evaluate"]));
    assert_eq!(get["parameters"][0]["name"], "visit_id");
}
