//! Read-only queries: visits by host and by member (paginated), history of any record, the contract
//! metadata, and how badly formed calls are answered.

use reciprocal_chaincode::testing::Actor;
use serde_json::json;

use crate::helpers::*;

#[test]
fn visits_of_a_host_and_of_a_member_are_paged_by_month() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-12-01")));
    ok(&check_in(&mut network, &visit(2, "2026-12-02")));
    ok(&check_in(&mut network, &visit(3, "2027-01-02")));
    let desk = Actor::front_desk("club-beta");
    let first = ok(&network.invoke(
        &desk,
        &["ListVisitsByHost", "club-beta", "2026-12", "1", ""],
    ));
    assert_eq!(first["visits"].as_array().unwrap().len(), 1);
    assert_eq!(first["visits"][0]["visit_id"], visit_id(1));
    let bookmark = first["bookmark"].as_str().unwrap().to_owned();
    assert!(!bookmark.is_empty());
    let second = ok(&network.invoke(
        &desk,
        &["ListVisitsByHost", "club-beta", "2026-12", "1", &bookmark],
    ));
    assert_eq!(second["visits"][0]["visit_id"], visit_id(2));
    assert_eq!(second["bookmark"], "");
    // Defaults: page size 50, from the start; other months and hosts are separate.
    let whole = ok(&network.invoke(&desk, &["ListVisitsByHost", "club-beta", "2026-12"]));
    assert_eq!(whole["visits"].as_array().unwrap().len(), 2);
    let january = ok(&network.invoke(&desk, &["ListVisitsByHost", "club-beta", "2027-01"]));
    assert_eq!(january["visits"][0]["visit_id"], visit_id(3));
    let gamma = ok(&network.invoke(&desk, &["ListVisitsByHost", "club-gamma", "2026-12"]));
    assert_eq!(gamma, json!({"visits": [], "bookmark": ""}));

    let by_member = ok(&network.invoke(&desk, &["ListVisitsByMember", MEMBER, "2026-12"]));
    let ids: Vec<&str> = by_member["visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["visit_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [visit_id(1), visit_id(2)]);

    refused(
        &network.invoke(&desk, &["ListVisitsByMember", MEMBER, "2026-13"]),
        400,
        "month must be YYYY-MM, got \"2026-13\"",
    );
    refused(
        &network.invoke(&desk, &["ListVisitsByHost", "club-beta", "2026-12", "0"]),
        400,
        "page_size must be between 1 and 200",
    );
    refused(
        &network.invoke(&desk, &["ListVisitsByHost", "club-beta", "2026-12", "many"]),
        400,
        "page_size must be a number",
    );
    refused(
        &network.invoke(
            &desk,
            &["ListVisitsByMember", "jane@example.com", "2026-12"],
        ),
        400,
        "member_ref must be 64 lowercase hex characters (an HMAC-SHA256), never personal data",
    );
}

#[test]
fn the_history_of_any_record_lists_its_versions_newest_first() {
    let mut network = network();
    ok(&check_in(&mut network, &visit(1, "2026-12-04")));
    network.now = NOW + 3600;
    ok(&network.invoke(&Actor::front_desk("club-beta"), &["CheckOut", &visit_id(1)]));
    let history = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetHistory", "visit", &visit_id(1)],
    ));
    let entries = history.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (
            entries[0]["value"]["status"].as_str(),
            entries[0]["timestamp"].as_str(),
            entries[0]["is_delete"].as_bool()
        ),
        (
            Some("checked_out"),
            Some("2026-12-04T17:00:00Z"),
            Some(false)
        )
    );
    assert_eq!(entries[1]["value"]["status"], "checked_in");
    assert_ne!(entries[0]["tx_id"], entries[1]["tx_id"]);

    let agreement = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetHistory", "agreement", "ab-1"],
    ));
    assert_eq!(
        agreement.as_array().unwrap().len(),
        2,
        "proposed, then accepted"
    );
    assert_eq!(agreement[0]["value"]["status"], "active");
    let member = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetHistory", "member", MEMBER],
    ));
    assert_eq!(member[0]["value"]["home_club"], "club-alpha");

    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &[
            "CreateProposal",
            &proposal("p-1", "text", json!({"text": "x"})),
        ],
    ));
    ok(&network.invoke(&Actor::club_admin("club-beta"), &["CastVote", "p-1", "yes"]));
    let vote = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetHistory", "vote", "p-1/club-beta"],
    ));
    assert_eq!(vote[0]["value"]["choice"], "yes");
    let rules = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetHistory", "networkrules", ""],
    ));
    assert_eq!(rules[0]["value"]["bootstrap_open"], false);
    let none = ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &["GetHistory", "settlement", "club-beta/club-alpha/2026-12"],
    ));
    assert_eq!(none, json!([]));

    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["GetHistory", "vote", "p-1"],
        ),
        400,
        "a vote id has 2 part(s) separated by '/', got \"p-1\"",
    );
    refused(
        &network.invoke(
            &Actor::club_admin("club-alpha"),
            &["GetHistory", "visitcount", "x"],
        ),
        400,
        "record_type must be club, member, agreement, visit, settlement, proposal, vote or networkrules, got \"visitcount\"",
    );
}

#[test]
fn metadata_describes_every_function_in_fabric_contract_api_form() {
    let mut network = network();
    let outcome = network.invoke(
        &Actor::front_desk("club-beta"),
        &["org.hyperledger.fabric:GetMetadata"],
    );
    let metadata = ok(&outcome);
    assert_eq!(metadata["info"]["title"], "reciprocal");
    let contract = &metadata["contracts"]["ReciprocalContract"];
    assert_eq!(contract["name"], "ReciprocalContract");
    let mut listed: Vec<String> = contract["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    let system = &metadata["contracts"]["org.hyperledger.fabric"]["transactions"];
    assert_eq!(
        system,
        &json!([{"name": "GetMetadata", "tag": ["evaluate"], "parameters": [],
        "returns": {"type": "string", "description": "the resulting record(s) as JSON"}}])
    );
    listed.push("org.hyperledger.fabric:GetMetadata".to_owned());
    let mut expected: Vec<String> = reciprocal_chaincode::FUNCTIONS
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);

    let transaction = |name: &str| {
        contract["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(transaction("CheckIn")["tag"], json!(["submit"]));
    assert_eq!(transaction("GetVisit")["tag"], json!(["evaluate"]));
    assert_eq!(
        transaction("ResolveDispute")["parameters"],
        json!([
            {"name": "visit_id", "required": true, "schema": {"type": "string"}},
            {"name": "resolution", "required": true, "schema": {"type": "string"}},
            {"name": "fee_minor", "required": false, "schema": {"type": "string"}},
        ])
    );
    assert_eq!(
        transaction("CheckIn")["parameters"][0],
        json!({"name": "visit", "required": true, "schema": {"type": "string"},
               "description": "a JSON object, sent as one string argument"})
    );
    // Every listed function is dispatched: none answers "unknown function".
    for function in reciprocal_chaincode::FUNCTIONS {
        let answer = network.simulate(&Actor::front_desk("club-beta"), &[function.name]);
        assert!(
            !answer.response.message.starts_with("unknown function"),
            "{}",
            function.name
        );
    }
}

#[test]
fn bad_calls_are_clear_400s() {
    let mut network = network();
    let alpha = Actor::club_admin("club-alpha");
    refused(&network.invoke(&alpha, &[]), 400, "no function given");
    refused(
        &network.invoke(&alpha, &["Nope"]),
        400,
        "unknown function \"Nope\"",
    );
    refused(
        &network.invoke(&alpha, &["GetClub"]),
        400,
        "GetClub takes 1 argument (club_id), got 0",
    );
    refused(
        &network.invoke(&alpha, &["RejectAgreement", "ab-1", "x", "y"]),
        400,
        "RejectAgreement takes 2 arguments (agreement_id, reason), got 3",
    );
    refused(
        &network.invoke(&alpha, &["ListVisitsByHost", "club-beta"]),
        400,
        "ListVisitsByHost takes 2 to 4 arguments (host_club, month, page_size, bookmark), got 1",
    );
    refused(
        &network.invoke(&alpha, &["CheckIn", "{not json"]),
        400,
        "visit: key must be a string at line 1 column 2",
    );
    refused(
        &network.invoke_raw(&alpha, vec![b"GetClub".to_vec(), vec![0xff, 0xfe]]),
        400,
        "club_id must be UTF-8 text",
    );
    refused(
        &network.invoke(&alpha, &["GetClub", "club\u{0}alpha"]),
        400,
        "club id must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit, got \"club\\0alpha\"",
    );
    // The contract may be named, as fabric-contract-api clients do.
    let named = ok(&network.invoke(&alpha, &["ReciprocalContract:GetClub", "club-alpha"]));
    assert_eq!(named["id"], "club-alpha");
}
