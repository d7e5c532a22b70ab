//! Arbitrary calls into the contract's argument parsing and dispatch, over the in-memory stub seeded
//! with a small network, checking the invariants every endorser relies on.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use reciprocal_chaincode::FUNCTIONS;
use reciprocal_chaincode::testing::{Actor, FakeNetwork, Outcome};

/// 2026-12-04T16:00:00Z.
const NOW: i64 = 1_796_400_000;
const MEMBER: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn must(outcome: &Outcome) {
    assert_eq!(
        outcome.response.status, 200,
        "seed call failed: {}",
        outcome.response.message
    );
}

/// Two clubs with an active agreement and a member, built once and cloned per input.
fn seeded() -> &'static FakeNetwork {
    static NETWORK: OnceLock<FakeNetwork> = OnceLock::new();
    NETWORK.get_or_init(|| {
        let mut network = FakeNetwork::at(NOW);
        for club in ["club-alpha", "club-beta"] {
            let input = serde_json::json!({"id": club, "name": club, "msp_id": "Org1MSP"});
            must(&network.invoke(&Actor::network_admin(), &["CreateClub", &input.to_string()]));
        }
        let terms = serde_json::json!({
            "max_visits_per_month": 2, "max_visits_per_year": 5, "max_stay_days": 3,
            "max_guests_per_visit": 2, "fee": {"per_visit_minor": 100, "per_guest_minor": 10, "currency": "EUR"},
            "settlement": "bill_home_club", "valid_from": "2026-01-01", "valid_until": "2027-12-31"
        });
        let proposal = serde_json::json!({"agreement_id": "ab-1", "counterparty_club": "club-beta", "terms": terms});
        must(&network.invoke(&Actor::club_admin("club-alpha"), &["ProposeAgreement", &proposal.to_string()]));
        must(&network.invoke(&Actor::club_admin("club-beta"), &["AcceptAgreement", "ab-1"]));
        let anchor = serde_json::json!({"member_ref": MEMBER, "status": "active", "valid_until": "2027-06-30"});
        must(&network.invoke(&Actor::club_admin("club-alpha"), &["UpsertMemberAnchor", &anchor.to_string()]));
        network
    })
}

fn actor(u: &mut Unstructured<'_>) -> Result<Actor> {
    Ok(match u.int_in_range(0..=5)? {
        0 => Actor::network_admin(),
        1 => Actor::club_admin("club-alpha"),
        2 => Actor::club_admin("club-beta"),
        3 => Actor::front_desk("club-beta"),
        4 => Actor::club_admin("club-alpha").with_msp("Org2MSP"),
        _ => Actor {
            msp_id: u.arbitrary()?,
            club: u.arbitrary()?,
            role: u.arbitrary()?,
        },
    })
}

/// Valid calls against the seeded network; the fuzzer mutates one field of one of them.
const TEMPLATES: &[&[&str]] = &[
    &[
        "CheckIn",
        r#"{"visit_id":"00000000-0000-4000-8000-000000000001","member_ref":"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","host_club":"club-beta","visit_date":"2026-12-04","nights":1,"guests":1,"guests_family":true,"facilities":["dining"]}"#,
    ],
    &[
        "RefuseVisit",
        r#"{"visit_id":"00000000-0000-4000-8000-000000000002","member_ref":"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","host_club":"club-beta","visit_date":"2026-12-04","reason":"full"}"#,
    ],
    &["CheckOut", "00000000-0000-4000-8000-000000000001"],
    &[
        "CancelVisit",
        "00000000-0000-4000-8000-000000000001",
        "rain",
    ],
    &[
        "DisputeVisit",
        "00000000-0000-4000-8000-000000000001",
        "fee",
    ],
    &[
        "ResolveDispute",
        "00000000-0000-4000-8000-000000000001",
        "ok",
        "10",
    ],
    &[
        "ProposeAmendment",
        "ab-1",
        r#"{"max_visits_per_month":3,"max_visits_per_year":5,"max_stay_days":3,"max_guests_per_visit":2,"blackout":[{"from":"2026-12-24","to":"2026-12-26"}],"fee":{"per_visit_minor":100,"per_guest_minor":10,"currency":"EUR"},"settlement":"bill_home_club","valid_from":"2026-01-01","valid_until":"2027-12-31"}"#,
    ],
    &["AcceptAmendment", "ab-1"],
    &["SuspendAgreement", "ab-1", "audit"],
    &["ResumeAgreement", "ab-1"],
    &["TerminateAgreement", "ab-1", "merger"],
    &[
        "UpsertMemberAnchor",
        r#"{"member_ref":"0000000000000000000000000000000000000000000000000000000000000001","status":"active","valid_until":"2027-01-01","residency_zone":"GB-LND"}"#,
    ],
    &[
        "CreateProposal",
        r#"{"proposal_id":"p-1","kind":"suspend_club","payload":{"club_id":"club-beta","reason":"fees"},"voting_days":1}"#,
    ],
    &[
        "CreateProposal",
        r#"{"proposal_id":"p-2","kind":"amend_network_rule","payload":{"rule":"default_quorum","value":{"numerator":2,"denominator":3,"strict":false}}}"#,
    ],
    &[
        "CreateProposal",
        r#"{"proposal_id":"p-3","kind":"admit_club","payload":{"id":"club-gamma","name":"Gamma","msp_id":"Org2MSP"}}"#,
    ],
    &["CastVote", "p-1", "yes"],
    &["CloseProposal", "p-1"],
    &["CancelProposal", "p-3"],
    &[
        "RecordSettlement",
        r#"{"host_club":"club-beta","home_club":"club-alpha","month":"2026-12","reference":"SEPA-1"}"#,
    ],
    &["ListVisitsByHost", "club-beta", "2026-12", "1", ""],
    &["GetHistory", "vote", "p-1/club-alpha"],
];

/// A JSON value chosen to hit validation edges: odd strings, dates, large and negative numbers.
fn value(u: &mut Unstructured<'_>) -> Result<serde_json::Value> {
    use serde_json::json;
    Ok(match u.int_in_range(0..=7)? {
        0 => json!(u.arbitrary::<String>()?),
        1 => json!(u.arbitrary::<i64>()?),
        2 => json!(u.arbitrary::<u32>()? % 400),
        3 => json!(u.arbitrary::<bool>()?),
        4 => serde_json::Value::Null,
        5 => json!(format!(
            "2026-{:02}-{:02}",
            u.int_in_range(0..=13)?,
            u.int_in_range(0..=32)?
        )),
        6 => json!([u.arbitrary::<String>()?]),
        _ => json!({ u.arbitrary::<String>()?: u.arbitrary::<String>()? }),
    })
}

/// A template call with one argument replaced, or one field of its JSON argument changed or removed.
fn mutated_template(u: &mut Unstructured<'_>) -> Result<Vec<Vec<u8>>> {
    let template = TEMPLATES[u.choose_index(TEMPLATES.len())?];
    let mut args: Vec<Vec<u8>> = template.iter().map(|a| a.as_bytes().to_vec()).collect();
    if u.ratio(1, 4)? {
        return Ok(args);
    }
    let index = 1 + u.choose_index(args.len() - 1)?;
    match serde_json::from_slice::<serde_json::Value>(&args[index]) {
        Ok(serde_json::Value::Object(mut object)) => {
            let keys: Vec<String> = object.keys().cloned().collect();
            let key = keys[u.choose_index(keys.len())?].clone();
            if u.ratio(1, 5)? {
                object.remove(&key);
            } else {
                object.insert(key, value(u)?);
            }
            args[index] = serde_json::Value::Object(object).to_string().into_bytes();
        }
        _ => args[index] = u.arbitrary()?,
    }
    Ok(args)
}

fn call(u: &mut Unstructured<'_>) -> Result<Vec<Vec<u8>>> {
    if u.ratio(1, 2)? {
        return mutated_template(u);
    }
    // Mostly a real function name, so the fuzzer spends its time in argument handling.
    let function = if u.ratio(7, 8)? {
        FUNCTIONS[u.choose_index(FUNCTIONS.len())?]
            .name
            .as_bytes()
            .to_vec()
    } else {
        u.arbitrary()?
    };
    let mut args = vec![function];
    for _ in 0..u.int_in_range(0..=5)? {
        args.push(u.arbitrary()?);
    }
    Ok(args)
}

fn check(outcome: &Outcome) {
    let status = outcome.response.status;
    assert!(
        matches!(status, 200 | 400 | 403 | 404 | 409),
        "status {status}: {}",
        outcome.response.message
    );
    if status == 200 {
        if outcome.writes.is_empty() {
            assert_eq!(outcome.events_set, 0);
        } else {
            assert_eq!(outcome.events_set, 1, "one event per state change");
            let event = outcome.event.as_ref().expect("event");
            assert_eq!(event.payload, outcome.response.payload);
        }
    } else {
        assert!(outcome.writes.is_empty(), "a refusal writes nothing");
        assert_eq!(outcome.events_set, 0, "a refusal emits no event");
    }
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let mut network = seeded().clone();
    for _ in 0..u.int_in_range(1..=4)? {
        network.now = NOW + i64::from(u.int_in_range(-40i32..=400)?) * 86_400 / 4;
        let actor = actor(&mut u)?;
        let args = call(&mut u)?;
        let first = network.simulate_raw(&actor, args.clone());
        check(&first);
        let second = network.simulate_raw(&actor, args);
        assert_eq!(first.response, second.response, "deterministic response");
        assert_eq!(first.writes, second.writes, "deterministic writes");
        network.commit(&first);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    // Running out of input is the end of an input, not a finding.
    let _ = run(data);
});
