//! The reciprocal service in process against a dev ledger with the real chaincode, the blockchain
//! service and its mirror, and a small member service of the test's own that resolves fixed members.

use std::collections::HashMap;
use std::net::SocketAddr;

use platform::caller::Caller;
use platform::ledger::{Ledger, today};
use reciprocal_api::v1::members_server::{Members, MembersServer};
use reciprocal_api::v1::reciprocal_client::ReciprocalClient;
use reciprocal_api::v1::{
    AgreementActionRequest, CheckInRequest, CheckInResult, CreateMemberRequest, GetMemberRequest,
    GetRequest, ListAgreementsRequest, ListMembersRequest, ListVisitsRequest, Member, MemberList,
    MemberWrite, ProposeAgreementRequest, ResolvedMember, UpdateMemberRequest, Verification,
    VerifyMemberRequest, VisitActionRequest, WriteResult,
};
use reciprocal_service::mirror::{VisitFilter, visit_list_sql};
use reciprocal_service::{Config, run};
use serde_json::{Value, json};
use testkit::{
    Service, club_admin, free_addr, front_desk, http_get, network_admin, wait_listening,
};
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

const MEMBER_ONE: &str = "m-alpha-1";
const MEMBER_TWO: &str = "m-alpha-2";
const REF_ONE: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const REF_TWO: &str = "0000000000000000000000000000000000000000000000000000000000000002";

/// Resolves two members of club-alpha; refuses calls without a caller, as the real service does.
#[derive(Debug)]
struct FixedMembers(HashMap<&'static str, &'static str>);

#[tonic::async_trait]
impl Members for FixedMembers {
    async fn create_member(
        &self,
        _: Request<CreateMemberRequest>,
    ) -> Result<Response<MemberWrite>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn get_member(&self, _: Request<GetMemberRequest>) -> Result<Response<Member>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn list_members(
        &self,
        _: Request<ListMembersRequest>,
    ) -> Result<Response<MemberList>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn update_member(
        &self,
        _: Request<UpdateMemberRequest>,
    ) -> Result<Response<MemberWrite>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn erase_personal_data(
        &self,
        _: Request<GetMemberRequest>,
    ) -> Result<Response<MemberWrite>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn verify_member(
        &self,
        _: Request<VerifyMemberRequest>,
    ) -> Result<Response<Verification>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn resolve_member(
        &self,
        request: Request<GetMemberRequest>,
    ) -> Result<Response<ResolvedMember>, Status> {
        Caller::of(&request)?;
        let id = request.into_inner().id;
        let member_ref = self
            .0
            .get(id.as_str())
            .ok_or_else(|| Status::not_found(format!("member {id} does not exist")))?;
        Ok(Response::new(ResolvedMember {
            member_id: id.clone(),
            member_ref: (*member_ref).to_owned(),
            home_club: "club-alpha".to_owned(),
            status: "active".to_owned(),
            name: format!("Visitor {id}"),
            photo_url: String::new(),
        }))
    }
}

async fn serve_members() -> SocketAddr {
    let addr = free_addr();
    let members = FixedMembers(HashMap::from([
        (MEMBER_ONE, REF_ONE),
        (MEMBER_TWO, REF_TWO),
    ]));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(MembersServer::new(members))
            .serve(addr),
    );
    wait_listening(addr).await;
    addr
}

fn terms() -> Value {
    json!({
        "max_visits_per_month": 2, "max_visits_per_year": 12, "max_stay_days": 3,
        "max_guests_per_visit": 2,
        "fee": {"per_visit_minor": 2500, "per_guest_minor": 1000, "currency": "EUR"},
        "settlement": "bill_home_club", "valid_from": "2020-01-01", "valid_until": "2099-12-31"
    })
}

fn refused<T: std::fmt::Debug>(result: Result<Response<T>, Status>, code: Code, text: &str) {
    let status = result.expect_err("the call must be refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(text),
        "{:?} does not mention {text:?}",
        status.message()
    );
}

fn json_of(written: &WriteResult) -> Value {
    serde_json::from_str(&written.json).expect("the write answers JSON")
}

fn check_in(visit_id: &str, member_id: &str) -> CheckInRequest {
    CheckInRequest {
        visit_id: visit_id.to_owned(),
        member_id: member_id.to_owned(),
        host_club: "club-beta".to_owned(),
        ..CheckInRequest::default()
    }
}

fn visit_ids(list: &reciprocal_api::v1::RecordList) -> Vec<String> {
    list.records
        .iter()
        .map(|record| {
            let value: Value = serde_json::from_str(&record.json).unwrap();
            value["visit_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agreements_and_visits_through_the_service() {
    let ledger =
        testkit::Ledger::start("reciprocal_svc", &["club-alpha", "club-beta", "club-gamma"])
            .await
            .expect("the dev ledger starts");
    let pool = platform::db::connect(&ledger.mirror_url, 4).await.unwrap();
    let direct = Ledger::new(
        platform::ledger::channel(&ledger.blockchain_url).unwrap(),
        pool.clone(),
    );
    for club in ["club-alpha", "club-beta", "club-gamma"] {
        let input = json!({"id": club, "name": format!("Club {club}"), "msp_id": "Org1MSP"});
        direct
            .submit(&network_admin(), "CreateClub", vec![input.to_string()])
            .await
            .unwrap();
    }
    for member_ref in [REF_ONE, REF_TWO] {
        let anchor =
            json!({"member_ref": member_ref, "status": "active", "valid_until": "2099-12-31"});
        direct
            .submit(
                &club_admin("club-alpha"),
                "UpsertMemberAnchor",
                vec![anchor.to_string()],
            )
            .await
            .unwrap();
    }

    let members = serve_members().await;
    let (grpc, http) = (free_addr(), free_addr());
    let config = Config {
        http_addr: http,
        grpc_addr: grpc,
        ledger: ledger.config(),
        member_grpc_url: format!("http://{members}"),
        log_format: "text".to_owned(),
    };
    let service = Service::start(|shutdown| run(config, shutdown), &[grpc, http]).await;
    let mut client: ReciprocalClient<Channel> =
        ReciprocalClient::new(platform::ledger::channel(&format!("http://{grpc}")).unwrap());

    // Readiness covers the mirror, the blockchain service and the member service.
    let ready = http_get(http, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.contains("\"member\":true"), "{ready}");

    // Proposal and acceptance.
    let alpha = club_admin("club-alpha");
    let propose = |terms_json: String| ProposeAgreementRequest {
        agreement_id: "ab-1".to_owned(),
        club: "club-alpha".to_owned(),
        counterparty: "club-beta".to_owned(),
        terms_json,
    };
    refused(
        client
            .propose_agreement(alpha.request(propose("[1]".into())))
            .await,
        Code::InvalidArgument,
        "terms_json must be a JSON object",
    );
    refused(
        client
            .propose_agreement(front_desk("club-alpha").request(propose(terms().to_string())))
            .await,
        Code::PermissionDenied,
        "club_admin",
    );
    let proposed = client
        .propose_agreement(alpha.request(propose(terms().to_string())))
        .await
        .unwrap()
        .into_inner();
    let agreement = json_of(&proposed);
    assert_eq!(
        (&agreement["id"], &agreement["club_b"], &agreement["status"]),
        (&json!("ab-1"), &json!("club-beta"), &json!("proposed"))
    );
    let read = client
        .get_agreement(alpha.request(GetRequest {
            id: "ab-1".to_owned(),
            min_block: proposed.block_number,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.block_number, proposed.block_number);
    assert_eq!(read.tx_id, proposed.tx_id);

    let action = |action: &str| AgreementActionRequest {
        agreement_id: "ab-1".to_owned(),
        action: action.to_owned(),
        ..AgreementActionRequest::default()
    };
    // The service refuses a club that is no party before the ledger does.
    refused(
        client
            .agreement_action(club_admin("club-gamma").request(action("accept")))
            .await,
        Code::PermissionDenied,
        "club-gamma is not a party of agreement ab-1 (between club-alpha and club-beta)",
    );
    refused(
        client
            .agreement_action(front_desk("club-beta").request(action("accept")))
            .await,
        Code::PermissionDenied,
        "needs the role club_admin",
    );
    refused(
        client
            .agreement_action(club_admin("club-beta").request(action("sign")))
            .await,
        Code::InvalidArgument,
        "accept, reject, withdraw, amend",
    );
    // The proposer cannot accept its own proposal: the contract's rule reaches the caller.
    refused(
        client
            .agreement_action(alpha.request(action("accept")))
            .await,
        Code::PermissionDenied,
        "only club-beta can accept",
    );
    let accepted = client
        .agreement_action(club_admin("club-beta").request(action("accept")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(json_of(&accepted)["status"], "active");
    let listed = |club: &str, status: &str| ListAgreementsRequest {
        club: club.to_owned(),
        status: status.to_owned(),
        min_block: accepted.block_number,
        ..ListAgreementsRequest::default()
    };
    let of_beta = client
        .list_agreements(alpha.request(listed("club-beta", "active")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_beta.records.len(), 1);
    assert!(of_beta.mirror_height > accepted.block_number);
    for (club, status) in [("club-gamma", ""), ("club-beta", "proposed")] {
        let none = client
            .list_agreements(alpha.request(listed(club, status)))
            .await
            .unwrap()
            .into_inner();
        assert!(none.records.is_empty(), "{club} {status}: {none:?}");
    }

    // Check-ins up to the monthly quota of 2; the third is refused with the contract's reason.
    let desk = front_desk("club-beta");
    let v1 = "11111111-1111-4111-8111-111111111111";
    let v2 = "22222222-2222-4222-8222-222222222222";
    let v3 = "33333333-3333-4333-8333-333333333333";
    let v4 = "44444444-4444-4444-8444-444444444444";
    let vr = "99999999-9999-4999-8999-999999999999";
    refused(
        client
            .check_in(front_desk("club-gamma").request(check_in(v1, MEMBER_ONE)))
            .await,
        Code::PermissionDenied,
        "you act for club-gamma",
    );
    refused(
        client
            .check_in(desk.request(check_in(v1, "m-unknown")))
            .await,
        Code::NotFound,
        "member m-unknown does not exist",
    );
    let first: CheckInResult = client
        .check_in(desk.request(check_in(v1, MEMBER_ONE)))
        .await
        .unwrap()
        .into_inner();
    let first_visit = json_of(first.visit.as_ref().unwrap());
    assert_eq!(first_visit["status"], "checked_in");
    assert_eq!(first_visit["member_ref"], REF_ONE);
    assert_eq!(first_visit["home_club"], "club-alpha");
    assert_eq!(first_visit["visit_date"], today());
    assert_eq!(first_visit["fee_minor"], 2500);
    assert_eq!(first.member.unwrap().name, "Visitor m-alpha-1");
    client
        .check_in(desk.request(check_in(v2, MEMBER_ONE)))
        .await
        .unwrap();
    refused(
        client
            .check_in(desk.request(check_in(v3, MEMBER_ONE)))
            .await,
        Code::FailedPrecondition,
        "check-in refused: monthly quota reached: 2 of 2 visits to club-beta",
    );
    // A retried check-in answers the first result and counts once.
    let again = client
        .check_in(desk.request(check_in(v1, MEMBER_ONE)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(json_of(again.visit.as_ref().unwrap()), first_visit);
    // The host's veto is recorded with its reason.
    let veto = client
        .check_in(desk.request(CheckInRequest {
            refusal_reason: "dress code".to_owned(),
            ..check_in(vr, MEMBER_TWO)
        }))
        .await
        .unwrap()
        .into_inner();
    let veto_visit = json_of(veto.visit.as_ref().unwrap());
    assert_eq!(
        (&veto_visit["status"], &veto_visit["reason"]),
        (&json!("refused"), &json!("dress code"))
    );
    let last_block = veto.visit.unwrap().block_number;

    // The host's visits of the month: exactly the recorded ones, in pages.
    let month = today()[..7].to_owned();
    let by_host = |after: &str, limit: u32, min_block: u64| ListVisitsRequest {
        host_club: "club-beta".to_owned(),
        month: month.clone(),
        limit,
        after: after.to_owned(),
        min_block,
        ..ListVisitsRequest::default()
    };
    let all = client
        .list_visits(desk.request(by_host("", 0, last_block)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(visit_ids(&all), [v1, v2, vr]);
    assert_eq!(all.next_after, "");
    let page_one = client
        .list_visits(desk.request(by_host("", 2, last_block)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(visit_ids(&page_one), [v1, v2]);
    assert_eq!(page_one.next_after, v2);
    let page_two = client
        .list_visits(desk.request(by_host(v2, 2, last_block)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(visit_ids(&page_two), [vr]);
    assert_eq!(page_two.next_after, "");
    let of_member_two = client
        .list_visits(club_admin("club-alpha").request(ListVisitsRequest {
            home_club: "club-alpha".to_owned(),
            member_id: MEMBER_TWO.to_owned(),
            ..ListVisitsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(visit_ids(&of_member_two), [vr]);
    refused(
        client
            .list_visits(front_desk("club-gamma").request(by_host("", 0, 0)))
            .await,
        Code::PermissionDenied,
        "set host_club or home_club to club-gamma",
    );
    refused(
        client
            .list_visits(desk.request(ListVisitsRequest {
                month: "2026-13".to_owned(),
                ..by_host("", 0, 0)
            }))
            .await,
        Code::InvalidArgument,
        "month must be YYYY-MM",
    );
    // The host-and-month listing is one query the host-month index answers in keyset order.
    let (sql, values) = visit_list_sql(&VisitFilter {
        host_club: Some("club-beta".to_owned()),
        month: Some(month.clone()),
        ..VisitFilter::default()
    });
    let mut connection = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *connection)
        .await
        .unwrap();
    let mut explain =
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
            .bind("reciprocal")
            .bind("")
            .bind(51i64);
    for value in values {
        explain = explain.bind(value);
    }
    let plan = explain
        .fetch_all(&mut *connection)
        .await
        .unwrap()
        .join("\n");
    assert!(plan.contains("records_visits_by_host_month"), "{plan}");
    assert!(
        !plan.contains("Sort"),
        "keyset order comes from the index: {plan}"
    );
    drop(connection);

    // Visits: who may see and act on them.
    let get = |id: &str| GetRequest {
        id: id.to_owned(),
        min_block: last_block,
    };
    let seen = client
        .get_visit(club_admin("club-alpha").request(get(v1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serde_json::from_str::<Value>(&seen.json).unwrap(),
        first_visit
    );
    refused(
        client
            .get_visit(club_admin("club-gamma").request(get(v1)))
            .await,
        Code::PermissionDenied,
        "neither hosted by nor a visit of a member of club-gamma",
    );
    refused(
        client.get_visit(desk.request(get(v3))).await,
        Code::NotFound,
        "does not exist",
    );
    let visit_action = |id: &str, action: &str, reason: &str| VisitActionRequest {
        visit_id: id.to_owned(),
        action: action.to_owned(),
        reason: reason.to_owned(),
        fee_minor: None,
    };
    refused(
        client
            .visit_action(desk.request(visit_action(v1, "dispute", "never came")))
            .await,
        Code::PermissionDenied,
        "club_admin",
    );
    refused(
        client
            .visit_action(club_admin("club-gamma").request(visit_action(v1, "cancel", "mistake")))
            .await,
        Code::PermissionDenied,
        "you act for club-gamma",
    );
    refused(
        client
            .visit_action(desk.request(visit_action(v1, "cancel", "")))
            .await,
        Code::InvalidArgument,
        "reason is required",
    );

    // Cancelling frees a quota slot.
    let cancelled = client
        .visit_action(desk.request(visit_action(v1, "cancel", "recorded by mistake")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(json_of(&cancelled)["status"], "cancelled");
    let fourth = client
        .check_in(desk.request(check_in(v4, MEMBER_ONE)))
        .await
        .unwrap()
        .into_inner();
    let fourth = fourth.visit.unwrap();
    assert_eq!(json_of(&fourth)["status"], "checked_in");
    let counted = client
        .list_visits(desk.request(ListVisitsRequest {
            status: "checked_in".to_owned(),
            ..by_host("", 0, fourth.block_number)
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(visit_ids(&counted), [v2, v4]);

    service.stop().await.unwrap();
    pool.close().await;
    ledger.stop().await;
}
