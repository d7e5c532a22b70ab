//! Governance: proposals of every kind, one final vote per active club, early and late decisions,
//! quorum and thresholds (two thirds to expel), execution in the closing transaction, cancellation.

use reciprocal_chaincode::testing::{Actor, FakeNetwork};
use serde_json::json;

use crate::helpers::*;

fn admin(club: &str) -> Actor {
    Actor::club_admin(club)
}

fn vote(network: &mut FakeNetwork, club: &str, id: &str, choice: &str) {
    ok(&network.invoke(&admin(club), &["CastVote", id, choice]));
}

fn club_status(network: &mut FakeNetwork, club: &str) -> String {
    ok(&network.invoke(&admin("club-alpha"), &["GetClub", club]))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Alpha, beta, gamma and delta, all active.
fn four_clubs() -> FakeNetwork {
    let mut network = network();
    ok(&create_club(&mut network, "club-delta", None));
    network
}

#[test]
fn an_admission_passes_early_and_is_executed_in_the_closing_transaction() {
    let mut network = network();
    let admit = proposal(
        "p-1",
        "admit_club",
        json!({"id": "club-delta", "name": "Delta", "msp_id": "Org2MSP"}),
    );
    let created = network.invoke(&admin("club-alpha"), &["CreateProposal", &admit]);
    let record = ok(&created);
    assert_eq!(event(&created), "ProposalCreated");
    assert_eq!(
        (
            record["status"].as_str(),
            record["opens_at"].as_str(),
            record["closes_at"].as_str(),
            record["target_club"].as_str()
        ),
        (
            Some("open"),
            Some("2026-12-04T16:00:00Z"),
            Some("2026-12-11T16:00:00Z"),
            Some("club-delta")
        )
    );
    assert_eq!(
        record["quorum"],
        json!({"numerator": 1, "denominator": 2, "strict": true})
    );
    assert_eq!(club_status(&mut network, "club-delta"), "pending");
    // The network governs itself now: the bootstrap is over.
    let late = json!({"id": "club-late", "name": "Late", "msp_id": "Org1MSP"}).to_string();
    refused(
        &network.invoke(&Actor::network_admin(), &["CreateClub", &late]),
        409,
        "the bootstrap is closed: new clubs join through an admit_club proposal",
    );

    let cast = network.invoke(&admin("club-alpha"), &["CastVote", "p-1", "yes"]);
    assert_eq!(
        ok(&cast),
        json!({"proposal_id": "p-1", "club": "club-alpha", "choice": "yes", "cast_at": "2026-12-04T16:00:00Z"})
    );
    assert_eq!(event(&cast), "VoteCast");
    refused(
        &network.invoke(&admin("club-alpha"), &["CastVote", "p-1", "no"]),
        409,
        "CastVote: club-alpha has already voted on proposal p-1; a vote is final",
    );
    refused(
        &network.invoke(&Actor::front_desk("club-beta"), &["CastVote", "p-1", "yes"]),
        403,
        "CastVote: role front_desk may not do this",
    );
    refused(
        &network.invoke(&admin("club-beta"), &["CastVote", "p-1", "maybe"]),
        400,
        "choice must be yes, no or abstain",
    );
    refused(
        &network.invoke(&Actor::front_desk("club-gamma"), &["CloseProposal", "p-1"]),
        409,
        "CloseProposal: proposal p-1 is open until 2026-12-11T16:00:00Z and its outcome can still change (1 yes, 0 no, 0 abstain of 3 eligible)",
    );
    vote(&mut network, "club-beta", "p-1", "yes");
    // Two yes of three: whatever gamma does, quorum and majority hold. Anyone may close.
    let closed = network.invoke(&Actor::front_desk("club-gamma"), &["CloseProposal", "p-1"]);
    let decided = ok(&closed);
    assert_eq!(event(&closed), "ProposalDecided");
    assert_eq!(decided["status"], "executed");
    assert_eq!(
        decided["tally"],
        json!({"yes": 2, "no": 0, "abstain": 0, "eligible": 3})
    );
    let delta = ok(&network.invoke(&admin("club-alpha"), &["GetClub", "club-delta"]));
    assert_eq!(
        (
            delta["status"].as_str(),
            delta["joined_at"].as_str(),
            delta["msp_id"].as_str()
        ),
        (
            Some("active"),
            Some("2026-12-04T16:00:00Z"),
            Some("Org2MSP")
        )
    );
    // The new club acts through identities of its own MSP.
    let member = json!({"member_ref": MEMBER_B, "status": "active", "valid_until": "2027-06-30"});
    let anchored = network.invoke(
        &admin("club-delta").with_msp("Org2MSP"),
        &["UpsertMemberAnchor", &member.to_string()],
    );
    assert_eq!(ok(&anchored)["home_club"], "club-delta");
    refused(
        &network.invoke(&admin("club-gamma"), &["CastVote", "p-1", "no"]),
        409,
        "CastVote: proposal p-1 is executed",
    );
    refused(
        &network.invoke(&admin("club-gamma"), &["CloseProposal", "p-1"]),
        409,
        "CloseProposal: proposal p-1 is executed",
    );
    let executed =
        ok(&network.invoke(&admin("club-alpha"), &["ListProposalsByStatus", "executed"]));
    assert_eq!(executed.as_array().unwrap().len(), 1);
    assert_eq!(executed[0]["id"], "p-1");
    let open = ok(&network.invoke(&admin("club-alpha"), &["ListProposalsByStatus", "open"]));
    assert_eq!(open, json!([]));
}

#[test]
fn a_failed_admission_removes_the_pending_club() {
    let mut network = network();
    let admit = proposal(
        "p-1",
        "admit_club",
        json!({"id": "club-delta", "name": "Delta", "msp_id": "Org2MSP"}),
    );
    ok(&network.invoke(&admin("club-alpha"), &["CreateProposal", &admit]));
    vote(&mut network, "club-beta", "p-1", "no");
    vote(&mut network, "club-gamma", "p-1", "no");
    // Two no of three: even alpha's yes cannot make a majority.
    let decided = ok(&network.invoke(&admin("club-beta"), &["CloseProposal", "p-1"]));
    assert_eq!(decided["status"], "rejected");
    refused(
        &network.invoke(&admin("club-alpha"), &["GetClub", "club-delta"]),
        404,
        "club club-delta does not exist",
    );
    let history = ok(&network.invoke(&admin("club-alpha"), &["GetHistory", "club", "club-delta"]));
    assert_eq!(history[0]["is_delete"], true);
    assert_eq!(history[1]["value"]["status"], "pending");
}

#[test]
fn without_quorum_a_proposal_fails_when_the_window_closes() {
    let mut network = four_clubs();
    let text = proposal("p-1", "text", json!({"text": "Adopt a shared dress code"}));
    ok(&network.invoke(&admin("club-alpha"), &["CreateProposal", &text]));
    vote(&mut network, "club-alpha", "p-1", "yes");
    vote(&mut network, "club-beta", "p-1", "yes");
    // Two of four is not more than half.
    network.now = NOW + 7 * DAY - 1;
    refused(
        &network.invoke(&admin("club-gamma"), &["CloseProposal", "p-1"]),
        409,
        "CloseProposal: proposal p-1 is open until 2026-12-11T16:00:00Z and its outcome can still change (2 yes, 0 no, 0 abstain of 4 eligible)",
    );
    network.now = NOW + 7 * DAY;
    refused(
        &network.invoke(&admin("club-gamma"), &["CastVote", "p-1", "yes"]),
        409,
        "CastVote: voting on proposal p-1 closed at 2026-12-11T16:00:00Z",
    );
    let decided = ok(&network.invoke(&admin("club-gamma"), &["CloseProposal", "p-1"]));
    assert_eq!(decided["status"], "rejected");
}

#[test]
fn abstentions_count_for_quorum_but_not_for_the_majority() {
    let mut network = four_clubs();
    let text = proposal("p-1", "text", json!({"text": "Publish an annual report"}));
    ok(&network.invoke(&admin("club-alpha"), &["CreateProposal", &text]));
    vote(&mut network, "club-alpha", "p-1", "yes");
    vote(&mut network, "club-beta", "p-1", "abstain");
    vote(&mut network, "club-gamma", "p-1", "abstain");
    network.now = NOW + 8 * DAY;
    let decided = ok(&network.invoke(&admin("club-gamma"), &["CloseProposal", "p-1"]));
    // Three of four voted (quorum), one yes and no no: a non-binding text passes.
    assert_eq!(decided["status"], "passed");
    assert_eq!(
        decided["tally"],
        json!({"yes": 1, "no": 0, "abstain": 2, "eligible": 4})
    );
}

#[test]
fn expulsion_needs_two_thirds_and_the_target_does_not_vote() {
    let mut network = four_clubs();
    let expel = proposal(
        "p-1",
        "expel_club",
        json!({"club_id": "club-delta", "reason": "unpaid fees"}),
    );
    let created = ok(&network.invoke(&admin("club-alpha"), &["CreateProposal", &expel]));
    assert_eq!(
        created["threshold"],
        json!({"numerator": 2, "denominator": 3, "strict": false})
    );
    refused(
        &network.invoke(&admin("club-delta"), &["CastVote", "p-1", "no"]),
        403,
        "CastVote: club-delta is the subject of proposal p-1 and does not vote",
    );
    vote(&mut network, "club-alpha", "p-1", "yes");
    vote(&mut network, "club-beta", "p-1", "no");
    network.now = NOW + 8 * DAY;
    // One yes, one no of three eligible: quorum, but a simple majority is not two thirds.
    let decided = ok(&network.invoke(&admin("club-gamma"), &["CloseProposal", "p-1"]));
    assert_eq!(decided["status"], "rejected");
    assert_eq!(club_status(&mut network, "club-delta"), "active");

    // Two yes and one no is exactly two thirds: expelled, in the closing transaction.
    let again = proposal("p-2", "expel_club", json!({"club_id": "club-delta"}));
    ok(&network.invoke(&admin("club-alpha"), &["CreateProposal", &again]));
    vote(&mut network, "club-alpha", "p-2", "yes");
    vote(&mut network, "club-beta", "p-2", "no");
    vote(&mut network, "club-gamma", "p-2", "yes");
    let decided = ok(&network.invoke(&admin("club-beta"), &["CloseProposal", "p-2"]));
    assert_eq!(decided["status"], "executed");
    let delta = ok(&network.invoke(&admin("club-alpha"), &["GetClub", "club-delta"]));
    assert_eq!(
        (delta["status"].as_str(), delta["status_reason"].as_str()),
        (Some("expelled"), Some("proposal p-2 (expel_club)"))
    );
    // An expelled club can no longer act.
    refused(
        &network.invoke(
            &admin("club-delta"),
            &[
                "CreateProposal",
                &proposal("p-3", "text", json!({"text": "x"})),
            ],
        ),
        403,
        "CreateProposal: club club-delta is expelled",
    );
}

#[test]
fn suspension_and_reinstatement_by_vote() {
    let mut network = four_clubs();
    let suspend = proposal(
        "p-1",
        "suspend_club",
        json!({"club_id": "club-beta", "reason": "unpaid fees"}),
    );
    ok(&network.invoke(&admin("club-alpha"), &["CreateProposal", &suspend]));
    for club in ["club-alpha", "club-gamma"] {
        vote(&mut network, club, "p-1", "yes");
    }
    // Two yes of three eligible, beta excluded: passes early.
    assert_eq!(
        ok(&network.invoke(&admin("club-delta"), &["CloseProposal", "p-1"]))["status"],
        "executed"
    );
    assert_eq!(club_status(&mut network, "club-beta"), "suspended");
    // A suspended club neither hosts nor votes.
    refused(
        &check_in(&mut network, &visit(1, "2026-12-04")),
        409,
        "check-in refused: host club club-beta is suspended",
    );
    network.now = NOW;
    let text = proposal("p-2", "text", json!({"text": "x"}));
    ok(&network.invoke(&admin("club-alpha"), &["CreateProposal", &text]));
    refused(
        &network.invoke(&admin("club-beta"), &["CastVote", "p-2", "yes"]),
        403,
        "CastVote: club club-beta is suspended",
    );
    refused(
        &network.invoke(
            &admin("club-alpha"),
            &[
                "CreateProposal",
                &proposal("p-3", "suspend_club", json!({"club_id": "club-beta"})),
            ],
        ),
        409,
        "suspend_club: club club-beta is suspended",
    );
    let reinstate = proposal("p-3", "reinstate_club", json!({"club_id": "club-beta"}));
    ok(&network.invoke(&admin("club-gamma"), &["CreateProposal", &reinstate]));
    for club in ["club-alpha", "club-gamma", "club-delta"] {
        vote(&mut network, club, "p-3", "yes");
    }
    assert_eq!(
        ok(&network.invoke(&admin("club-delta"), &["CloseProposal", "p-3"]))["status"],
        "executed"
    );
    assert_eq!(club_status(&mut network, "club-beta"), "active");
    ok(&check_in(&mut network, &visit(1, "2026-12-04")));
}

#[test]
fn network_rules_change_by_vote() {
    let mut network = network();
    let rule = proposal(
        "p-1",
        "amend_network_rule",
        json!({"rule": "default_notice_period_days", "value": 60}),
    );
    ok(&network.invoke(&admin("club-beta"), &["CreateProposal", &rule]));
    for club in ["club-alpha", "club-beta", "club-gamma"] {
        vote(&mut network, club, "p-1", "yes");
    }
    ok(&network.invoke(&admin("club-alpha"), &["CloseProposal", "p-1"]));
    let rules = ok(&network.invoke(&admin("club-alpha"), &["GetNetworkRules"]));
    assert_eq!(rules["default_notice_period_days"], 60);
    let noticed = ok(&network.invoke(
        &admin("club-alpha"),
        &["TerminateAgreement", "ab-1", "moving"],
    ));
    assert_eq!(noticed["termination"]["effective_on"], "2027-02-02");

    // The default quorum is a rule too; new proposals take it up.
    let quorum = proposal(
        "p-2",
        "amend_network_rule",
        json!({"rule": "default_quorum", "value": {"numerator": 2, "denominator": 3, "strict": false}}),
    );
    ok(&network.invoke(&admin("club-beta"), &["CreateProposal", &quorum]));
    for club in ["club-alpha", "club-beta"] {
        vote(&mut network, club, "p-2", "yes");
    }
    ok(&network.invoke(&admin("club-alpha"), &["CloseProposal", "p-2"]));
    let later = ok(&network.invoke(
        &admin("club-gamma"),
        &[
            "CreateProposal",
            &proposal("p-3", "text", json!({"text": "x"})),
        ],
    ));
    assert_eq!(
        later["quorum"],
        json!({"numerator": 2, "denominator": 3, "strict": false})
    );

    for (payload, message) in [
        (
            json!({"rule": "max_clubs", "value": 5}),
            "unknown network rule max_clubs: default_notice_period_days, default_voting_days, default_quorum, default_threshold or expel_threshold",
        ),
        (
            json!({"rule": "default_notice_period_days", "value": 400}),
            "default_notice_period_days must be at most 365",
        ),
        (
            json!({"rule": "default_notice_period_days", "value": "sixty"}),
            "default_notice_period_days must be a whole number",
        ),
        (
            json!({"rule": "default_quorum", "value": {"numerator": 3, "denominator": 2, "strict": true}}),
            "default_quorum must be a fraction between 0 and 1 with a non-zero denominator",
        ),
    ] {
        refused(
            &network.invoke(
                &admin("club-beta"),
                &[
                    "CreateProposal",
                    &proposal("p-9", "amend_network_rule", payload),
                ],
            ),
            400,
            message,
        );
    }
}

#[test]
fn the_proposer_cancels_only_before_any_vote() {
    let mut network = network();
    let text = proposal("p-1", "text", json!({"text": "Adopt a shared dress code"}));
    ok(&network.invoke(&admin("club-gamma"), &["CreateProposal", &text]));
    refused(
        &network.invoke(&admin("club-alpha"), &["CancelProposal", "p-1"]),
        403,
        "CancelProposal: only club-gamma can cancel proposal p-1",
    );
    let cancelled = network.invoke(&admin("club-gamma"), &["CancelProposal", "p-1"]);
    assert_eq!(ok(&cancelled)["status"], "cancelled");
    assert_eq!(event(&cancelled), "ProposalCancelled");
    refused(
        &network.invoke(&admin("club-gamma"), &["CancelProposal", "p-1"]),
        409,
        "CancelProposal: proposal p-1 is cancelled",
    );
    let listed = ok(&network.invoke(
        &admin("club-gamma"),
        &["ListProposalsByStatus", "cancelled"],
    ));
    assert_eq!(listed[0]["id"], "p-1");

    let admit = proposal(
        "p-2",
        "admit_club",
        json!({"id": "club-delta", "name": "Delta", "msp_id": "Org2MSP"}),
    );
    ok(&network.invoke(&admin("club-gamma"), &["CreateProposal", &admit]));
    vote(&mut network, "club-alpha", "p-2", "no");
    refused(
        &network.invoke(&admin("club-gamma"), &["CancelProposal", "p-2"]),
        409,
        "CancelProposal: proposal p-2 already has votes",
    );
    let admit = proposal(
        "p-3",
        "admit_club",
        json!({"id": "club-epsilon", "name": "Epsilon", "msp_id": "Org2MSP"}),
    );
    ok(&network.invoke(&admin("club-gamma"), &["CreateProposal", &admit]));
    ok(&network.invoke(&admin("club-gamma"), &["CancelProposal", "p-3"]));
    refused(
        &network.invoke(&admin("club-alpha"), &["GetClub", "club-epsilon"]),
        404,
        "club club-epsilon does not exist",
    );
}

#[test]
fn proposals_are_validated_before_anything_is_written() {
    let mut network = network();
    let cases = [
        (proposal("p-1", "dissolve", json!({})), 400,
            "kind must be admit_club, suspend_club, reinstate_club, expel_club, amend_network_rule or text, got \"dissolve\""),
        (proposal("p-1", "suspend_club", json!({"club_id": "club-alpha"})), 400,
            "a club cannot propose a vote about itself"),
        (proposal("p-1", "suspend_club", json!({"club_id": "club-zeta"})), 404,
            "club club-zeta does not exist"),
        (proposal("p-1", "reinstate_club", json!({"club_id": "club-beta"})), 409,
            "reinstate_club: club club-beta is active"),
        (proposal("p-1", "admit_club", json!({"id": "club-beta", "name": "Beta", "msp_id": "Org1MSP"})), 409,
            "club club-beta already exists"),
        (proposal("p-1", "text", json!({"text": "call me on +44 20 7946 0958"})), 400,
            "text looks like personal data (an e-mail address or phone number); the ledger holds none"),
        (json!({"proposal_id": "p-1", "kind": "text", "payload": {"text": "x"}, "voting_days": 0}).to_string(), 400,
            "voting_days must be between 1 and 90"),
        (json!({"proposal_id": "p-1", "kind": "text", "payload": {"text": "x"}, "threshold": {"numerator": 1, "denominator": 0, "strict": true}}).to_string(), 400,
            "threshold must be a fraction between 0 and 1 with a non-zero denominator"),
        (json!({"proposal_id": "p-1", "kind": "text", "payload": {"text": "x"}, "quorum": {"numerator": 0, "denominator": 1, "strict": false}}).to_string(), 400,
            "quorum at least 0/1 is below the network rule (more than 1/2)"),
        (json!({"proposal_id": "p-1", "kind": "text", "payload": {"text": "x"}, "quorum": {"numerator": 1, "denominator": 2, "strict": false}}).to_string(), 400,
            "quorum at least 1/2 is below the network rule (more than 1/2)"),
        (json!({"proposal_id": "p-1", "kind": "expel_club", "payload": {"club_id": "club-beta"}, "threshold": {"numerator": 3, "denominator": 5, "strict": true}}).to_string(), 400,
            "threshold more than 3/5 is below the network rule (at least 2/3)"),
    ];
    for (input, status, message) in cases {
        refused(
            &network.invoke(&admin("club-alpha"), &["CreateProposal", &input]),
            status,
            message,
        );
    }
    let outcome = network.invoke(
        &admin("club-alpha"),
        &[
            "CreateProposal",
            &proposal("p-1", "text", json!({"words": "x"})),
        ],
    );
    assert_eq!(outcome.response.status, 400);
    assert_eq!(
        outcome.response.message,
        "payload of a text proposal: unknown field `words`, expected `text`"
    );
    refused(
        &network.invoke(
            &Actor::front_desk("club-alpha"),
            &[
                "CreateProposal",
                &proposal("p-1", "text", json!({"text": "x"})),
            ],
        ),
        403,
        "CreateProposal: role front_desk may not do this",
    );
    ok(&network.invoke(
        &admin("club-alpha"),
        &[
            "CreateProposal",
            &proposal("p-1", "text", json!({"text": "x"})),
        ],
    ));
    refused(
        &network.invoke(
            &admin("club-beta"),
            &[
                "CreateProposal",
                &proposal("p-1", "text", json!({"text": "y"})),
            ],
        ),
        409,
        "proposal p-1 already exists",
    );
    refused(
        &network.invoke(&admin("club-beta"), &["ListProposalsByStatus", "pending"]),
        400,
        "status must be open, passed, rejected, executed or cancelled",
    );
    refused(
        &network.invoke(&admin("club-beta"), &["CastVote", "p-404", "yes"]),
        404,
        "proposal p-404 does not exist",
    );
}

#[test]
fn a_proposer_may_require_a_larger_majority() {
    let mut network = network();
    let unanimous = json!({"proposal_id": "p-1", "kind": "text", "payload": {"text": "x"},
        "threshold": {"numerator": 1, "denominator": 1, "strict": false}, "voting_days": 2});
    let created = ok(&network.invoke(
        &admin("club-alpha"),
        &["CreateProposal", &unanimous.to_string()],
    ));
    assert_eq!(created["closes_at"], "2026-12-06T16:00:00Z");
    vote(&mut network, "club-alpha", "p-1", "yes");
    vote(&mut network, "club-beta", "p-1", "yes");
    vote(&mut network, "club-gamma", "p-1", "no");
    assert_eq!(
        ok(&network.invoke(&admin("club-alpha"), &["CloseProposal", "p-1"]))["status"],
        "rejected"
    );
}

#[test]
fn votes_of_a_proposal_are_listed_by_club() {
    let mut network = network();
    ok(&network.invoke(
        &admin("club-alpha"),
        &[
            "CreateProposal",
            &proposal("p-1", "text", json!({"text": "x"})),
        ],
    ));
    vote(&mut network, "club-gamma", "p-1", "no");
    vote(&mut network, "club-alpha", "p-1", "yes");
    let votes = ok(&network.invoke(&admin("club-beta"), &["ListVotes", "p-1"]));
    let listed: Vec<(&str, &str)> = votes
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["club"].as_str().unwrap(), v["choice"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [("club-alpha", "yes"), ("club-gamma", "no")]);
}
