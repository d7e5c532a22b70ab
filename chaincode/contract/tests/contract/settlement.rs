//! Monthly statements of fees billed to the home club, and recording them as settled.

use reciprocal_chaincode::testing::{Actor, FakeNetwork};
use serde_json::json;

use crate::helpers::*;

fn statement(network: &mut FakeNetwork) -> serde_json::Value {
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetStatement", "club-beta", "club-alpha", "2026-12"],
    ))
}

fn settle(
    network: &mut FakeNetwork,
    actor: &Actor,
    reference: &str,
) -> reciprocal_chaincode::testing::Outcome {
    let input = json!({"host_club": "club-beta", "home_club": "club-alpha", "month": "2026-12", "reference": reference});
    network.invoke(actor, &["RecordSettlement", &input.to_string()])
}

/// Two checked-out December visits of MEMBER at beta (3500 and 2500 minor units).
fn two_visits() -> FakeNetwork {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-12-01")));
    let alone = {
        let mut v = visit(2, "2026-12-02");
        v["guests"] = json!(0);
        v
    };
    ok(&check_in(&mut network, &alone));
    for n in [1, 2] {
        ok(&network.invoke(&Actor::front_desk("club-beta"), &["CheckOut", &visit_id(n)]));
    }
    network
}

#[test]
fn a_statement_sums_checked_out_visits_billed_to_the_home_club() {
    let mut network = two_visits();
    assert_eq!(
        statement(&mut network),
        json!({"host_club": "club-beta", "home_club": "club-alpha", "month": "2026-12",
               "visit_count": 2, "total_minor": 6000, "currency": "EUR",
               "visit_ids": [visit_id(1), visit_id(2)], "open_visit_ids": []})
    );
    // Other months and the other direction are separate statements.
    let november = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetStatement", "club-beta", "club-alpha", "2026-11"],
    ));
    assert_eq!(november["visit_count"], 0);
    let reverse = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetStatement", "club-alpha", "club-beta", "2026-12"],
    ));
    assert_eq!(reverse["visit_count"], 0);
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["GetStatement", "club-beta", "club-alpha", "December"],
        ),
        400,
        "month must be YYYY-MM, got \"December\"",
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["GetStatement", "club-beta", "club-beta", "2026-12"],
        ),
        400,
        "host_club and home_club must differ",
    );
}

#[test]
fn open_and_disputed_visits_wait_and_block_the_settlement() {
    let mut network = two_visits();
    // A second member of alpha is still checked in; the first one's second visit is disputed.
    ok(&anchor(
        &mut network,
        "club-alpha",
        MEMBER_B,
        "active",
        "2027-06-30",
        None,
    ));
    let other = {
        let mut v = visit(3, "2026-12-03");
        v["member_ref"] = json!(MEMBER_B);
        v
    };
    ok(&check_in(&mut network, &other));
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["DisputeVisit", &visit_id(2), "was not there"],
    ));
    let pending = statement(&mut network);
    assert_eq!(
        (
            pending["visit_count"].as_u64(),
            pending["total_minor"].as_u64()
        ),
        (Some(1), Some(3500))
    );
    assert_eq!(pending["open_visit_ids"], json!([visit_id(2), visit_id(3)]));
    refused(
        &settle(
            &mut network,
            &Actor::club_admin("club-alpha"),
            "SEPA-2026-12-001",
        ),
        409,
        "club-beta owed by club-alpha for 2026-12 cannot be settled yet: 2 visits are still checked in or disputed",
    );
    ok(&network.invoke(
        &Actor::club_admin("club-beta"),
        &["ResolveDispute", &visit_id(2), "waived", "0"],
    ));
    ok(&network.invoke(
        &Actor::club_admin("club-beta"),
        &["CancelVisit", &visit_id(3), "no show"],
    ));
    let settled = settle(
        &mut network,
        &Actor::club_admin("club-beta"),
        "SEPA-2026-12-001",
    );
    let record = ok(&settled);
    assert_eq!(event(&settled), "SettlementRecorded");
    assert_eq!(
        (
            record["visit_count"].as_u64(),
            record["total_minor"].as_u64(),
            record["settled_by"].as_str()
        ),
        (Some(2), Some(3500), Some("club-beta"))
    );
}

#[test]
fn either_club_records_the_settlement_once() {
    let mut network = two_visits();
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["GetSettlement", "club-beta", "club-alpha", "2026-12"],
        ),
        404,
        "no settlement between club-beta and club-alpha for 2026-12",
    );
    refused(
        &settle(&mut network, &Actor::club_admin("club-gamma"), "SEPA-1"),
        403,
        "RecordSettlement: club-gamma is neither club-beta nor club-alpha",
    );
    refused(
        &settle(&mut network, &Actor::front_desk("club-alpha"), "SEPA-1"),
        403,
        "RecordSettlement: role front_desk may not do this",
    );
    refused(
        &settle(
            &mut network,
            &Actor::club_admin("club-alpha"),
            "treasurer@alpha.example",
        ),
        400,
        "reference looks like personal data (an e-mail address or phone number); the ledger holds none",
    );
    let recorded = ok(&settle(
        &mut network,
        &Actor::club_admin("club-alpha"),
        "SEPA-2026-12-001",
    ));
    assert_eq!(
        recorded,
        json!({"host_club": "club-beta", "home_club": "club-alpha", "month": "2026-12",
               "visit_count": 2, "total_minor": 6000, "currency": "EUR",
               "visit_ids": [visit_id(1), visit_id(2)], "status": "settled",
               "reference": "SEPA-2026-12-001", "settled_by": "club-alpha",
               "settled_at": "2026-12-02T10:00:00Z"})
    );
    assert_eq!(
        ok(&network.invoke(
            &Actor::club_admin("club-beta"),
            &["GetSettlement", "club-beta", "club-alpha", "2026-12"],
        )),
        recorded
    );
    refused(
        &settle(&mut network, &Actor::club_admin("club-beta"), "SEPA-2"),
        409,
        "club-beta owed by club-alpha for 2026-12 is already settled (reference SEPA-2026-12-001)",
    );
}

#[test]
fn a_settled_month_is_closed_to_disputes_and_late_visits() {
    let mut network = two_visits();
    ok(&settle(
        &mut network,
        &Actor::club_admin("club-alpha"),
        "SEPA-2026-12-001",
    ));
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["DisputeVisit", &visit_id(1), "late complaint"],
        ),
        409,
        &format!(
            "DisputeVisit: visit {} was settled with 2026-12 (reference SEPA-2026-12-001)",
            visit_id(1)
        ),
    );
    refused(
        &check_in(&mut network, &visit(3, "2026-12-03")),
        409,
        "check-in refused: 2026-12 is already settled between club-beta and club-alpha (reference SEPA-2026-12-001)",
    );
}

#[test]
fn nothing_to_settle_and_pay_on_departure_visits_are_not_billed() {
    let mut network = FakeNetwork::at(NOW);
    for club in ["club-alpha", "club-beta"] {
        ok(&create_club(&mut network, club, None));
    }
    let mut cash = terms();
    cash["settlement"] = json!("pay_on_departure");
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["ProposeAgreement", &propose("ab-1", "club-beta", &cash)],
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
        None,
    ));
    let recorded = ok(&check_in(&mut network, &visit(1, "2026-12-01")));
    assert_eq!(recorded["settlement"], "pay_on_departure");
    ok(&network.invoke(&Actor::front_desk("club-beta"), &["CheckOut", &visit_id(1)]));
    assert_eq!(statement(&mut network)["visit_count"], 0);
    refused(
        &settle(&mut network, &Actor::club_admin("club-alpha"), "SEPA-1"),
        409,
        "there is nothing to settle between club-beta and club-alpha for 2026-12",
    );
}
