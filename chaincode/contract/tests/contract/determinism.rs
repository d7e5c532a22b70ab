//! Every endorser must compute the same result: the same call on the same state gives byte-identical
//! responses, writes and events.

use reciprocal_chaincode::testing::{Actor, FakeNetwork};
use serde_json::json;

use crate::helpers::*;

fn assert_same(network: &FakeNetwork, actor: &Actor, args: &[&str]) {
    let first = network.simulate(actor, args);
    let second = network.simulate(actor, args);
    ok(&first);
    assert_eq!(first.response, second.response, "{args:?}");
    assert_eq!(first.writes, second.writes, "{args:?}");
    assert_eq!(first.event, second.event, "{args:?}");
    assert!(!first.writes.is_empty(), "{args:?} is a state change");
}

#[test]
fn the_same_transaction_twice_gives_byte_identical_results() {
    let mut network = network();
    network.now = at("2026-12-01");
    assert_same(
        &network,
        &Actor::front_desk("club-beta"),
        &["CheckIn", &visit(1, "2026-12-01").to_string()],
    );
    assert_same(
        &network,
        &Actor::club_admin("club-alpha"),
        &["ProposeAgreement", &propose("ag-1", "club-gamma", &terms())],
    );
    assert_same(
        &network,
        &Actor::club_admin("club-alpha"),
        &[
            "CreateProposal",
            &proposal("p-1", "expel_club", json!({"club_id": "club-gamma"})),
        ],
    );
    ok(&network.invoke(
        &Actor::club_admin("club-alpha"),
        &[
            "CreateProposal",
            &proposal("p-1", "text", json!({"text": "x"})),
        ],
    ));
    for club in ["club-alpha", "club-beta"] {
        ok(&network.invoke(&Actor::club_admin(club), &["CastVote", "p-1", "yes"]));
    }
    assert_same(
        &network,
        &Actor::front_desk("club-gamma"),
        &["CloseProposal", "p-1"],
    );
}

#[test]
fn results_do_not_depend_on_the_order_records_were_written() {
    // Two ledgers reach the same state by different routes; queries over them answer identically.
    let build = |order: &[&str]| {
        let mut network = FakeNetwork::at(NOW);
        for club in order {
            ok(&create_club(&mut network, club, None));
        }
        network
    };
    let forward = build(&["club-a", "club-b", "club-c"]);
    let backward = build(&["club-c", "club-b", "club-a"]);
    let admin = Actor::network_admin();
    assert_eq!(
        forward.simulate(&admin, &["ListClubs"]).response,
        backward.simulate(&admin, &["ListClubs"]).response
    );
}
