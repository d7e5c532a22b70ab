//! Bootstrap, emergency suspension, member anchors and who may act for a club.

use reciprocal_chaincode::testing::{Actor, FakeNetwork};
use serde_json::json;

use crate::helpers::*;

#[test]
fn bootstrap_creates_active_clubs_once_and_only_by_a_network_admin() {
    let mut network = FakeNetwork::at(NOW);
    let input = json!({"id": "club-alpha", "name": "Alpha", "msp_id": "Org1MSP"}).to_string();
    refused(
        &network.invoke(&Actor::club_admin("club-alpha"), &["CreateClub", &input]),
        403,
        "CreateClub: only a network_admin may do this",
    );
    let created = network.invoke(&Actor::network_admin(), &["CreateClub", &input]);
    let record = ok(&created);
    assert_eq!(event(&created), "ClubAdmitted");
    assert_eq!(
        record,
        json!({"id": "club-alpha", "name": "Alpha", "msp_id": "Org1MSP", "status": "active",
               "joined_at": "2026-12-04T16:00:00Z", "contact_ref": null, "residency_zone": null,
               "status_reason": null})
    );
    refused(
        &network.invoke(&Actor::network_admin(), &["CreateClub", &input]),
        409,
        "club club-alpha already exists",
    );
    let closed = network.invoke(&Actor::network_admin(), &["CloseBootstrap"]);
    assert_eq!(ok(&closed)["bootstrap_open"], false);
    assert_eq!(event(&closed), "NetworkRulesChanged");
    refused(
        &network.invoke(&Actor::network_admin(), &["CloseBootstrap"]),
        409,
        "the bootstrap is already closed",
    );
    let late = json!({"id": "club-late", "name": "Late", "msp_id": "Org1MSP"}).to_string();
    refused(
        &network.invoke(&Actor::network_admin(), &["CreateClub", &late]),
        409,
        "the bootstrap is closed: new clubs join through an admit_club proposal",
    );
}

#[test]
fn club_input_is_validated_and_carries_no_personal_data() {
    let mut network = FakeNetwork::at(NOW);
    let cases = [
        (
            json!({"id": "Bad Id", "name": "x", "msp_id": "Org1MSP"}),
            "club id must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit, got \"Bad Id\"",
        ),
        (
            json!({"id": "x", "name": "x", "msp_id": "Org1MSP", "phone": "1"}),
            "club: unknown field `phone`, expected one of `id`, `name`, `msp_id`, `contact_ref`, `residency_zone` at line 1 column 47",
        ),
        (
            json!({"id": "x", "name": "x", "msp_id": "Org1MSP", "contact_ref": "secretary@club.example"}),
            "contact_ref looks like personal data (an e-mail address or phone number); the ledger holds none",
        ),
        (
            json!({"id": "x", "name": "Call +44 20 7946 0958", "msp_id": "Org1MSP"}),
            "club name looks like personal data (an e-mail address or phone number); the ledger holds none",
        ),
        (
            json!({"id": "x", "name": "x", "msp_id": "Org1 MSP"}),
            "msp_id must be 1-64 characters of letters, digits, '.', '_' or '-'",
        ),
        (
            json!({"id": "x", "name": "x", "msp_id": "Org1MSP", "residency_zone": "SW1A 1AA"}),
            "residency_zone must be a coarse code of 1-16 characters A-Z, 0-9 or '-' (e.g. GB-LND)",
        ),
        (
            json!({"id": "x", "name": "", "msp_id": "Org1MSP"}),
            "club name must be 1-200 characters without control characters",
        ),
    ];
    for (input, message) in cases {
        refused(
            &network.invoke(&Actor::network_admin(), &["CreateClub", &input.to_string()]),
            400,
            message,
        );
    }
    assert!(network.state().is_empty());
}

#[test]
fn clubs_are_listed_in_id_order_and_unknown_ones_are_404() {
    let mut network = network();
    let listed = ok(&network.invoke(&Actor::front_desk("club-beta"), &["ListClubs"]));
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|club| club["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["club-alpha", "club-beta", "club-gamma"]);
    refused(
        &network.invoke(&Actor::front_desk("club-beta"), &["GetClub", "club-zeta"]),
        404,
        "club club-zeta does not exist",
    );
}

#[test]
fn a_network_admin_may_suspend_a_club_in_an_emergency() {
    let mut network = network();
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["SuspendClub", "club-beta", "fraud"],
        ),
        403,
        "SuspendClub: only a network_admin may do this",
    );
    let suspended = network.invoke(
        &Actor::network_admin(),
        &["SuspendClub", "club-beta", "suspected fraud"],
    );
    let club = ok(&suspended);
    assert_eq!(event(&suspended), "ClubStatusChanged");
    assert_eq!(
        (club["status"].as_str(), club["status_reason"].as_str()),
        (Some("suspended"), Some("suspected fraud"))
    );
    refused(
        &network.invoke(
            &Actor::network_admin(),
            &["SuspendClub", "club-beta", "again"],
        ),
        409,
        "club club-beta is suspended",
    );
    refused(
        &network.invoke(&Actor::network_admin(), &["SuspendClub", "club-zeta", "x"]),
        404,
        "club club-zeta does not exist",
    );
}

#[test]
fn member_anchors_hold_no_personal_data_and_belong_to_their_home_club() {
    let mut network = network();
    for member_ref in [
        "jane@example.com",
        "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90",
        "a1b2c3",
    ] {
        refused(
            &anchor(
                &mut network,
                "club-alpha",
                member_ref,
                "active",
                "2027-01-01",
                None,
            ),
            400,
            "member_ref must be 64 lowercase hex characters (an HMAC-SHA256), never personal data",
        );
    }
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
        &format!("UpsertMemberAnchor: member {MEMBER} belongs to club-alpha"),
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
    refused(
        &anchor(
            &mut network,
            "club-alpha",
            MEMBER,
            "active",
            "2027-01-01",
            Some("SW1A 1AA"),
        ),
        400,
        "residency_zone must be a coarse code of 1-16 characters A-Z, 0-9 or '-' (e.g. GB-LND)",
    );
    let name = json!({"member_ref": MEMBER_B, "status": "active", "valid_until": "2027-01-01", "name": "Jane"});
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["UpsertMemberAnchor", &name.to_string()],
        ),
        400,
        "anchor: unknown field `name`, expected one of `member_ref`, `status`, `valid_until`, `residency_zone` at line 1 column 87",
    );
    let input = json!({"member_ref": MEMBER_B, "status": "active", "valid_until": "2027-01-01"})
        .to_string();
    refused(
        &network.invoke(
            &Actor::front_desk("club-alpha"),
            &["UpsertMemberAnchor", &input],
        ),
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
    assert_eq!(event(&written), "MemberAnchored");
    assert_eq!(
        ok(&written),
        json!({"member_ref": MEMBER_B, "home_club": "club-alpha", "status": "active",
               "valid_until": "2027-01-01", "residency_zone": null,
               "updated_at": "2026-12-04T16:00:00Z"})
    );
    // The home club updates its own anchor.
    let lapsed = anchor(
        &mut network,
        "club-alpha",
        MEMBER_B,
        "lapsed",
        "2027-01-01",
        None,
    );
    assert_eq!(ok(&lapsed)["status"], "lapsed");
    assert_eq!(
        ok(&network.invoke(
            &Actor::front_desk("club-beta"),
            &["GetMemberAnchor", MEMBER_B]
        ))["status"],
        "lapsed"
    );
}

#[test]
fn a_caller_acts_only_for_its_own_club_from_its_own_msp() {
    let mut network = network();
    let input = json!({"member_ref": MEMBER_B, "status": "active", "valid_until": "2027-01-01"})
        .to_string();
    // A certificate of another organisation naming alpha in its attributes.
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha").with_msp("Org2MSP"),
            &["UpsertMemberAnchor", &input],
        ),
        403,
        "UpsertMemberAnchor: club club-alpha belongs to Org1MSP, not Org2MSP",
    );
    let no_role = Actor {
        msp_id: "Org1MSP".to_owned(),
        club: Some("club-alpha".to_owned()),
        role: Some("member".to_owned()),
    };
    refused(
        &network.invoke(&no_role, &["UpsertMemberAnchor", &input]),
        403,
        "UpsertMemberAnchor: the caller's certificate carries no known role attribute",
    );
    let no_club = Actor {
        msp_id: "Org1MSP".to_owned(),
        club: None,
        role: Some("club_admin".to_owned()),
    };
    refused(
        &network.invoke(&no_club, &["UpsertMemberAnchor", &input]),
        403,
        "UpsertMemberAnchor: the caller's certificate carries no club attribute",
    );
    let unknown_club = network.invoke(
        &Actor::club_admin("club-zeta"),
        &["UpsertMemberAnchor", &input],
    );
    refused(&unknown_club, 404, "club club-zeta does not exist");
    refused(
        &network.invoke(
            &Actor::front_desk("club-beta").with_msp("Org2MSP"),
            &["CheckIn", &visit(1, "2026-12-04").to_string()],
        ),
        403,
        "CheckIn: club club-beta belongs to Org1MSP, not Org2MSP",
    );
}
