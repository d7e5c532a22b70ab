//! The member API end to end: requests on the gateway, through the domain services and the blockchain
//! service to the dev ledger running the real chaincode, and reads back from the Postgres mirror.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Reply, Stack};

fn terms(per_month: u32) -> Value {
    let year: u32 = platform::ledger::today()[..4].parse().unwrap();
    json!({
        "max_visits_per_month": per_month,
        "max_visits_per_year": 12,
        "max_stay_days": 3,
        "max_guests_per_visit": 2,
        "fee": {"per_visit_minor": 2500, "per_guest_minor": 1000, "currency": "GBP"},
        "settlement": "bill_home_club",
        "valid_from": format!("{year}-01-01"),
        "valid_until": format!("{}-12-31", year + 1),
    })
}

fn assert_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{reply:?}");
}

fn block(reply: &Reply) -> u64 {
    reply.body["block"]
        .as_u64()
        .unwrap_or_else(|| panic!("no block in {reply:?}"))
}

#[tokio::test]
async fn clubs_agree_members_visit_votes_admit_and_erasure_keeps_the_ledger_verifiable() {
    let stack = Stack::start("e2e", 0).await;
    let admin = stack.token("admin").await;
    let alpha_admin = stack.token("alpha-admin").await;
    let alpha_desk = stack.token("alpha-desk").await;
    let beta_admin = stack.token("beta-admin").await;
    let beta_desk = stack.token("beta-desk").await;
    let gamma_admin = stack.token("gamma-admin").await;
    let call = |token: &str, method: Method, path: &str, body: Option<Value>| {
        let token = token.to_owned();
        let path = path.to_owned();
        let stack = &stack;
        async move { stack.call(Some(&token), method, &path, body).await }
    };

    // No token: 401 with the error shape and a request id, which the client may choose.
    let anonymous = stack
        .send(
            stack
                .client
                .get(format!("{}/api/v1/clubs", stack.base))
                .header("x-request-id", "trace-42"),
        )
        .await;
    assert_status(&anonymous, 401);
    assert_eq!(anonymous.request_id.as_deref(), Some("trace-42"));
    assert_eq!(anonymous.body["error"]["request_id"], "trace-42");
    assert_eq!(anonymous.body["error"]["code"], "unauthenticated");

    // Ready: the gateway's database answers and every service behind it reports SERVING on the gRPC
    // health check, as the gateway itself does on its gRPC port.
    let ready = stack
        .send(stack.client.get(format!("{}/readyz", stack.base)))
        .await;
    assert_status(&ready, 200);
    for dependency in [
        "database",
        "member",
        "reciprocal",
        "governance",
        "blockchain",
    ] {
        assert_eq!(ready.body[dependency], true, "{ready:?}");
    }
    let channel = platform::ledger::channel(&format!("http://{}", stack.grpc)).unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // Bootstrap: the network admin creates the clubs; a club admin may not.
    for (id, name) in [
        ("club-alpha", "Alpha"),
        ("club-beta", "Beta"),
        ("club-gamma", "Gamma"),
    ] {
        let created = call(
            &admin,
            Method::POST,
            "/api/v1/clubs",
            Some(json!({"id": id, "name": name, "msp_id": "Org1MSP"})),
        )
        .await;
        assert_status(&created, 201);
        assert_eq!(created.body["club"]["status"], "active");
        assert_eq!(created.body["tx_id"].as_str().unwrap().len(), 64);
    }
    let refused = call(
        &alpha_admin,
        Method::POST,
        "/api/v1/clubs",
        Some(json!({"id": "club-x", "name": "X", "msp_id": "Org1MSP"})),
    )
    .await;
    assert_status(&refused, 403);

    // An agreement: proposed by alpha; only beta's admin may accept it.
    let proposed = call(
        &alpha_admin,
        Method::POST,
        "/api/v1/agreements",
        Some(json!({"counterparty": "club-beta", "terms": terms(2)})),
    )
    .await;
    assert_status(&proposed, 201);
    let agreement = proposed.body["agreement"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let accept = format!("/api/v1/agreements/{agreement}/accept");
    let by_desk = call(&beta_desk, Method::POST, &accept, None).await;
    assert_status(&by_desk, 403);
    let by_other_club = call(&gamma_admin, Method::POST, &accept, None).await;
    assert_status(&by_other_club, 403);
    let accepted = call(&beta_admin, Method::POST, &accept, None).await;
    assert_status(&accepted, 200);
    assert_eq!(accepted.body["agreement"]["status"], "active");

    // A member of beta; alpha's admin cannot register members for beta.
    let member_body = json!({"name": "Grace Hopper", "email": "grace@beta.example", "membership_number": "B-1", "valid_until": "2099-12-31"});
    let foreign = call(&alpha_admin, Method::POST, "/api/v1/members", Some(json!({"club": "club-beta", "name": "X", "email": "x@beta.example", "membership_number": "B-9", "valid_until": "2099-12-31"}))).await;
    assert_status(&foreign, 403);
    let created = call(
        &beta_admin,
        Method::POST,
        "/api/v1/members",
        Some(member_body),
    )
    .await;
    assert_status(&created, 201);
    let grace = created.body["member"]["id"].as_str().unwrap().to_owned();
    let member_ref = created.body["member"]["member_ref"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(member_ref.len(), 64);

    // The front desk verifies her at alpha: two visits left this month.
    let verification = call(
        &alpha_desk,
        Method::GET,
        &format!("/api/v1/members/{grace}/verification?min_block=0"),
        None,
    )
    .await;
    // `min_block` is not a parameter of verification: unknown query parameters are refused.
    assert_status(&verification, 400);
    let verification = call(
        &alpha_desk,
        Method::GET,
        &format!("/api/v1/members/{grace}/verification"),
        None,
    )
    .await;
    assert_status(&verification, 200);
    assert_eq!(verification.body["name"], "Grace Hopper");
    assert_eq!(verification.body["remaining_this_month"], 2);
    assert_eq!(verification.body["admissible"], true);
    assert!(verification.body.get("email").is_none(), "{verification:?}");

    // Check in until the monthly quota; the next is refused with the reason.
    let mut visits = Vec::new();
    let mut last_block = 0;
    for _ in 0..2 {
        let visit = call(
            &alpha_desk,
            Method::POST,
            "/api/v1/visits",
            Some(json!({"member_id": grace})),
        )
        .await;
        assert_status(&visit, 201);
        assert_eq!(visit.body["visit"]["status"], "checked_in");
        assert_eq!(visit.body["visit"]["member_ref"], member_ref.as_str());
        assert_eq!(visit.body["member"]["name"], "Grace Hopper");
        last_block = block(&visit);
        visits.push(visit.body["visit"]["visit_id"].as_str().unwrap().to_owned());
    }
    let over = call(
        &alpha_desk,
        Method::POST,
        "/api/v1/visits",
        Some(json!({"member_id": grace})),
    )
    .await;
    assert_status(&over, 409);
    assert!(over.message().contains("quota"), "{over:?}");
    // Beta's desk cannot check visitors in at alpha.
    let elsewhere = call(
        &beta_desk,
        Method::POST,
        "/api/v1/visits",
        Some(json!({"member_id": grace, "host_club": "club-alpha"})),
    )
    .await;
    assert_status(&elsewhere, 403);

    // The host's visits this month, read from the mirror once it holds the last check-in.
    let month = &platform::ledger::today()[..7];
    let listed = call(
        &alpha_desk,
        Method::GET,
        &format!("/api/v1/visits?host=club-alpha&month={month}&min_block={last_block}"),
        None,
    )
    .await;
    assert_status(&listed, 200);
    let mut ids: Vec<String> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|visit| visit["visit_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    visits.sort();
    assert_eq!(ids, visits);
    // Gamma's staff may not list alpha's visits.
    let gamma_desk = stack.token("gamma-desk").await;
    assert_status(
        &call(
            &gamma_desk,
            Method::GET,
            &format!("/api/v1/visits?host=club-alpha&month={month}"),
            None,
        )
        .await,
        403,
    );

    // Checking out one visit.
    let checked_out = call(
        &alpha_desk,
        Method::POST,
        &format!("/api/v1/visits/{}/checkout", visits[0]),
        None,
    )
    .await;
    assert_status(&checked_out, 200);
    assert_eq!(checked_out.body["visit"]["status"], "checked_out");

    // Governance: alpha proposes to admit delta; alpha and beta vote yes; the close admits it.
    let proposal = call(&alpha_admin, Method::POST, "/api/v1/proposals", Some(json!({"kind": "admit_club", "payload": {"id": "club-delta", "name": "Delta", "msp_id": "Org1MSP"}}))).await;
    assert_status(&proposal, 201);
    let proposal_id = proposal.body["proposal"]["id"].as_str().unwrap().to_owned();
    let votes = format!("/api/v1/proposals/{proposal_id}/votes");
    assert_status(
        &call(
            &alpha_desk,
            Method::POST,
            &votes,
            Some(json!({"choice": "yes"})),
        )
        .await,
        403,
    );
    assert_status(
        &call(
            &alpha_admin,
            Method::POST,
            &votes,
            Some(json!({"choice": "yes"})),
        )
        .await,
        201,
    );
    assert_status(
        &call(
            &alpha_admin,
            Method::POST,
            &votes,
            Some(json!({"choice": "no"})),
        )
        .await,
        409,
    );
    assert_status(
        &call(
            &beta_admin,
            Method::POST,
            &votes,
            Some(json!({"choice": "yes"})),
        )
        .await,
        201,
    );
    let closed = call(
        &gamma_admin,
        Method::POST,
        &format!("/api/v1/proposals/{proposal_id}/close"),
        None,
    )
    .await;
    assert_status(&closed, 200);
    assert!(
        matches!(
            closed.body["proposal"]["status"].as_str(),
            Some("passed" | "executed")
        ),
        "{closed:?}"
    );
    let delta = call(
        &gamma_admin,
        Method::GET,
        &format!("/api/v1/clubs/club-delta?min_block={}", block(&closed)),
        None,
    )
    .await;
    assert_status(&delta, 200);
    assert_eq!(delta.body["status"], "active");

    // A member signs in for herself: beta's admin links her sign-in subject to her membership.
    let link = json!({"subject": "hanko-user-grace", "name": "grace", "role": "member", "club": "club-beta", "member_id": grace});
    assert_status(
        &call(
            &alpha_admin,
            Method::POST,
            "/api/v1/users",
            Some(link.clone()),
        )
        .await,
        403,
    );
    // A member account must name a member of its club.
    let elsewhere = json!({"subject": "hanko-user-x", "name": "x", "role": "member", "club": "club-alpha", "member_id": grace});
    assert_status(
        &call(
            &alpha_admin,
            Method::POST,
            "/api/v1/users",
            Some(elsewhere.clone()),
        )
        .await,
        403,
    );
    let mislinked = call(&admin, Method::POST, "/api/v1/users", Some(elsewhere)).await;
    assert_status(&mislinked, 400);
    assert!(
        mislinked.message().contains("belongs to club-beta"),
        "{mislinked:?}"
    );
    assert_status(
        &call(&beta_admin, Method::POST, "/api/v1/users", Some(link)).await,
        201,
    );
    // Alpha's admin cannot take over an account beta linked.
    let takeover = json!({"subject": "hanko-user-grace", "name": "grace-at-alpha", "role": "club_admin", "club": "club-alpha"});
    let taken = call(&alpha_admin, Method::POST, "/api/v1/users", Some(takeover)).await;
    assert_status(&taken, 403);
    assert!(
        taken.message().contains("linked by another club"),
        "{taken:?}"
    );
    // Nobody relinks their own account, so a club admin cannot lock themselves out by accident.
    let own = call(&beta_admin, Method::GET, "/api/v1/me", None).await;
    let demote = json!({"subject": own.body["subject"], "name": "beta-admin", "role": "member", "club": "club-beta", "member_id": grace});
    let demoted = call(&beta_admin, Method::POST, "/api/v1/users", Some(demote)).await;
    assert_status(&demoted, 403);
    assert!(
        demoted.message().contains("your own account"),
        "{demoted:?}"
    );
    let still = call(&beta_admin, Method::GET, "/api/v1/me", None).await;
    assert_eq!(still.body["role"], "club_admin", "{still:?}");
    let grace_token = stack.token("grace").await;
    let me = call(&grace_token, Method::GET, "/api/v1/me", None).await;
    assert_eq!(me.body["role"], "member");
    assert_eq!(me.body["member_id"], grace.as_str());
    assert_status(
        &call(
            &grace_token,
            Method::GET,
            &format!("/api/v1/members/{grace}"),
            None,
        )
        .await,
        200,
    );
    let own_visits = call(
        &grace_token,
        Method::GET,
        &format!("/api/v1/visits?member={grace}&month={month}"),
        None,
    )
    .await;
    assert_status(&own_visits, 200);
    assert_eq!(own_visits.body["items"].as_array().unwrap().len(), 2);
    assert_status(
        &call(
            &grace_token,
            Method::POST,
            "/api/v1/visits",
            Some(json!({"member_id": grace, "host_club": "club-alpha"})),
        )
        .await,
        403,
    );

    // Erasure: the personal data goes; the anchor lapses; the visits' history still verifies.
    let erased = call(
        &beta_admin,
        Method::DELETE,
        &format!("/api/v1/members/{grace}/personal-data"),
        None,
    )
    .await;
    assert_status(&erased, 200);
    assert_eq!(erased.body["member"]["erased"], true);
    assert_eq!(erased.body["member"]["name"], Value::Null);
    let read = call(
        &beta_admin,
        Method::GET,
        &format!("/api/v1/members/{grace}"),
        None,
    )
    .await;
    assert_status(&read, 200);
    assert_eq!(read.body["email"], Value::Null);
    let history = call(
        &alpha_admin,
        Method::GET,
        &format!("/api/v1/audit/history/visit/{}", visits[0]),
        None,
    )
    .await;
    assert_status(&history, 200);
    let entries = history.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "check-in and check-out: {history:?}");
    assert_eq!(entries[0]["value"]["member_ref"], member_ref.as_str());
    let tx = entries[0]["tx_id"].as_str().unwrap();
    let proof = call(
        &alpha_admin,
        Method::GET,
        &format!("/api/v1/audit/tx/{tx}"),
        None,
    )
    .await;
    assert_status(&proof, 200);
    assert_eq!(proof.body["validation"], "VALID");
    assert!(!proof.body["chain"].as_array().unwrap().is_empty());
    let after_erasure = block(&erased);
    let listed = call(
        &alpha_desk,
        Method::GET,
        &format!("/api/v1/visits?host=club-alpha&month={month}&min_block={after_erasure}"),
        None,
    )
    .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    let verify = stack
        .client
        .post(format!(
            "http://{}/audit/verify?ledger=true",
            stack.ledger.blockchain_http
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200, "{}", verify.text().await.unwrap());
    // The erased member can no longer check in.
    let lapsed = call(
        &alpha_desk,
        Method::POST,
        "/api/v1/visits",
        Some(json!({"member_id": grace})),
    )
    .await;
    assert!(matches!(lapsed.status, 404 | 409), "{lapsed:?}");

    stack.stop().await;
}

/// Sends `body` as raw bytes with a JSON content type.
async fn raw(stack: &Stack, token: &str, method: Method, path: &str, body: &str) -> Reply {
    stack
        .send(
            stack
                .client
                .request(method, format!("{}{path}", stack.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
        .await
}

fn assert_clear_4xx(reply: &Reply, what: &str) {
    assert!((400..500).contains(&reply.status), "{what}: {reply:?}");
    let error = &reply.body["error"];
    assert!(
        !error["code"].as_str().unwrap_or_default().is_empty(),
        "{what}: {reply:?}"
    );
    assert!(
        error["message"].as_str().unwrap_or_default().len() > 10,
        "{what}: {reply:?}"
    );
    assert_eq!(
        error["request_id"].as_str(),
        reply.request_id.as_deref(),
        "{what}"
    );
    assert!(
        !reply.message().contains("no such route"),
        "{what} is not routed: {reply:?}"
    );
}

#[tokio::test]
async fn bad_input_on_every_route_answers_4xx_with_a_clear_message_and_changes_nothing() {
    let stack = Stack::start("badinput", 0).await;
    let admin = stack.token("admin").await;
    let alpha_admin = stack.token("alpha-admin").await;
    let created = stack
        .call(
            Some(&admin),
            Method::POST,
            "/api/v1/clubs",
            Some(json!({"id": "club-alpha", "name": "Alpha", "msp_id": "Org1MSP"})),
        )
        .await;
    assert_status(&created, 201);
    let height = block(&created);

    // Every route of the OpenAPI document: malformed JSON, unknown fields, unknown query parameters.
    let document: Value = serde_json::from_str(api_gateway::routes::OPENAPI).unwrap();
    let mut routes = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        if path.contains("/dev/") || path.ends_with("openapi.json") {
            continue;
        }
        for (method, operation) in operations.as_object().unwrap() {
            let mut concrete = path
                .replace("{key}", "visit/x")
                .replace("{tx_id}", "x")
                .replace("{id}", "x");
            if concrete.contains("{action}") {
                let action = operation["parameters"][1]["schema"]["enum"][0]
                    .as_str()
                    .unwrap();
                concrete = concrete.replace("{action}", action);
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            routes += 1;
            if operation.get("requestBody").is_some() {
                for body in ["{", "[1, 2]", r#"{"surely_not_a_field": 1}"#, "\"text\""] {
                    let reply = raw(&stack, &alpha_admin, method.clone(), &concrete, body).await;
                    assert_clear_4xx(&reply, &format!("{method} {concrete} with {body}"));
                }
            } else if operation["parameters"]
                .as_array()
                .is_some_and(|parameters| parameters.iter().any(|p| p["in"] == "query"))
            {
                let reply = raw(
                    &stack,
                    &alpha_admin,
                    method.clone(),
                    &format!("{concrete}?surely_not_a_parameter=1"),
                    "",
                )
                .await;
                assert_clear_4xx(
                    &reply,
                    &format!("{method} {concrete}?surely_not_a_parameter=1"),
                );
            }
        }
    }
    assert!(routes >= 25, "{routes} routes in the document");

    // Wrong types, missing fields, out-of-range numbers, invalid values.
    let year = &platform::ledger::today()[..4];
    let cases: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/api/v1/visits".into(),
            json!({"member_id": "m", "nights": "two"}),
        ),
        (
            Method::POST,
            "/api/v1/visits".into(),
            json!({"member_id": "m", "guests": -1}),
        ),
        (
            Method::POST,
            "/api/v1/visits".into(),
            json!({"member_id": "m", "nights": 99_999_999_999u64}),
        ),
        (Method::POST, "/api/v1/visits".into(), json!({"nights": 1})),
        (
            Method::POST,
            "/api/v1/visits".into(),
            json!({"member_id": "m", "visit_date": "2026-02-30"}),
        ),
        (
            Method::POST,
            "/api/v1/members".into(),
            json!({"name": "N", "membership_number": "1", "valid_until": "2099-01-01"}),
        ),
        (
            Method::POST,
            "/api/v1/members".into(),
            json!({"name": "N", "email": "not-an-email", "membership_number": "1", "valid_until": "2099-01-01"}),
        ),
        (
            Method::POST,
            "/api/v1/members".into(),
            json!({"name": "", "email": "n@alpha.example", "membership_number": "1", "valid_until": "2099-01-01"}),
        ),
        (
            Method::POST,
            "/api/v1/members".into(),
            json!({"name": "N", "email": "n@alpha.example", "membership_number": "1", "valid_until": "someday"}),
        ),
        (
            Method::POST,
            "/api/v1/members".into(),
            json!({"name": "N", "email": "n@alpha.example", "membership_number": 7, "valid_until": "2099-01-01"}),
        ),
        (
            Method::POST,
            "/api/v1/agreements".into(),
            json!({"counterparty": "club-beta", "terms": "generous"}),
        ),
        (
            Method::POST,
            "/api/v1/agreements".into(),
            json!({"counterparty": "club-beta", "terms": terms(0)}),
        ),
        (
            Method::POST,
            "/api/v1/agreements".into(),
            json!({"counterparty": "club-beta", "terms": terms(32)}),
        ),
        (
            Method::POST,
            "/api/v1/agreements".into(),
            json!({"counterparty": "club-beta", "terms": {"max_visits_per_month": 2}}),
        ),
        (
            Method::POST,
            "/api/v1/agreements".into(),
            json!({"counterparty": "club-beta", "terms": {"valid_from": format!("{year}-13-01")}}),
        ),
        (
            Method::POST,
            "/api/v1/proposals".into(),
            json!({"kind": "crown_a_king"}),
        ),
        (
            Method::POST,
            "/api/v1/proposals".into(),
            json!({"kind": "admit_club", "payload": {"id": "Not An Id"}}),
        ),
        (
            Method::POST,
            "/api/v1/proposals/x/votes".into(),
            json!({"choice": "maybe"}),
        ),
        (Method::POST, "/api/v1/proposals/x/votes".into(), json!({})),
        (
            Method::POST,
            "/api/v1/clubs".into(),
            json!({"id": "club-x", "name": "X"}),
        ),
        (
            Method::GET,
            "/api/v1/visits?month=2026-13".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/visits?host=club-alpha&limit=100000".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/visits?host=club-alpha&limit=-3".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/clubs?min_block=minus-one".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/audit/history/nokey".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/agreements/x/shake-hands".into(),
            Value::Null,
        ),
        (Method::PATCH, "/api/v1/members/x".into(), json!({})),
    ];
    for (method, path, body) in cases {
        let token = if path.starts_with("/api/v1/clubs") {
            &admin
        } else {
            &alpha_admin
        };
        let body = (!body.is_null()).then_some(body);
        let reply = stack
            .call(Some(token), method.clone(), &path, body.clone())
            .await;
        let what = format!("{method} {path} {body:?}");
        assert!((400..500).contains(&reply.status), "{what}: {reply:?}");
        assert!(reply.message().len() > 10, "{what}: {reply:?}");
    }

    // A NUL or another control character in a path or a query is bad input (Postgres, which would be
    // asked to compare it, refuses it; that was once answered 503), and so is one in text a database
    // would be asked to look up.
    for (token, path, part) in [
        (&admin, "/api/v1/agreements?after=a%00b", "query"),
        (&admin, "/api/v1/visits?host=club-alpha%00", "query"),
        (&admin, "/api/v1/clubs?after=%1f", "query"),
        (&alpha_admin, "/api/v1/members/x%00y", "path"),
    ] {
        let reply = stack.call(Some(token), Method::GET, path, None).await;
        assert_status(&reply, 400);
        assert!(
            reply
                .message()
                .contains(&format!("the {part} holds an encoded control character")),
            "{path}: {reply:?}"
        );
    }
    let nul_user = stack
        .call(
            None,
            Method::POST,
            "/api/v1/dev/token",
            Some(json!({"user": "admin\u{0}"})),
        )
        .await;
    assert_status(&nul_user, 400);
    assert!(nul_user.message().contains("NUL"), "{nul_user:?}");

    // A block the ledger does not have: after the bounded wait, the mirror (which follows the peer)
    // says so as bad input, not as an outage.
    let future = stack
        .call(
            Some(&admin),
            Method::GET,
            "/api/v1/clubs?min_block=99999999",
            None,
        )
        .await;
    assert_status(&future, 400);
    assert!(
        future.message().contains("is not on the ledger"),
        "{future:?}"
    );

    // Nothing was written: the ledger holds the one club and nothing else.
    let clubs = stack
        .call(
            Some(&admin),
            Method::GET,
            &format!("/api/v1/clubs?min_block={height}"),
            None,
        )
        .await;
    assert_eq!(
        clubs.body["items"].as_array().unwrap().len(),
        1,
        "{clubs:?}"
    );
    let agreements = stack
        .call(
            Some(&alpha_admin),
            Method::GET,
            "/api/v1/agreements?club=club-alpha",
            None,
        )
        .await;
    assert_status(&agreements, 200);
    assert!(agreements.body["items"].as_array().unwrap().is_empty());
    let proposals = stack
        .call(Some(&alpha_admin), Method::GET, "/api/v1/proposals", None)
        .await;
    assert!(
        proposals.body["items"].as_array().unwrap().is_empty(),
        "{proposals:?}"
    );
    let members = stack
        .call(Some(&alpha_admin), Method::GET, "/api/v1/members", None)
        .await;
    assert_status(&members, 200);
    assert!(members.body["items"].as_array().unwrap().is_empty());

    // Dev sign-in refuses unknown users; the rate limiter is exercised in its own unit tests.
    let unknown = stack
        .call(
            None,
            Method::POST,
            "/api/v1/dev/token",
            Some(json!({"user": "mallory"})),
        )
        .await;
    assert_status(&unknown, 404);

    stack.stop().await;
}

#[tokio::test]
async fn each_signed_in_user_is_rate_limited_on_their_own() {
    // One request a second on average, two at once.
    let stack = Stack::start("ratelimit", 1).await;
    let alpha = stack.token("alpha-desk").await;
    let beta = stack.token("beta-desk").await;
    for _ in 0..2 {
        assert_status(
            &stack
                .call(Some(&alpha), Method::GET, "/api/v1/me", None)
                .await,
            200,
        );
    }
    let limited = stack
        .send(
            stack
                .client
                .get(format!("{}/api/v1/me", stack.base))
                .bearer_auth(&alpha),
        )
        .await;
    assert_status(&limited, 429);
    assert_eq!(limited.body["error"]["code"], "rate_limited");
    assert_eq!(
        limited.body["error"]["request_id"].as_str(),
        limited.request_id.as_deref()
    );
    let retry = stack
        .client
        .get(format!("{}/api/v1/me", stack.base))
        .bearer_auth(&alpha)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 429);
    assert_eq!(retry.headers()["retry-after"], "1");
    // Another user has a bucket of their own.
    let other = stack
        .call(Some(&beta), Method::GET, "/api/v1/me", None)
        .await;
    assert_status(&other, 200);
    assert_eq!(other.body["club"], "club-beta");
    stack.stop().await;
}
