//! The governance service in process against a dev ledger with the real chaincode, the blockchain
//! service and its mirror.

use governance_service::{Config, run};
use platform::ledger::Ledger;
use reciprocal_api::v1::governance_client::GovernanceClient;
use reciprocal_api::v1::{
    CastVoteRequest, CreateClubRequest, CreateProposalRequest, GetRequest, ListClubsRequest,
    ListProposalsRequest, RecordList, WriteResult,
};
use serde_json::{Value, json};
use testkit::{Service, club_admin, free_addr, front_desk, http_get, network_admin};
use tonic::transport::Channel;
use tonic::{Code, Response, Status};

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

fn club(id: &str) -> CreateClubRequest {
    CreateClubRequest {
        club_json: json!({"id": id, "name": format!("Club {id}"), "msp_id": "Org1MSP"}).to_string(),
    }
}

fn ids(list: &RecordList) -> Vec<String> {
    list.records
        .iter()
        .map(|record| {
            let value: Value = serde_json::from_str(&record.json).unwrap();
            value["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn vote(proposal_id: &str, choice: &str) -> CastVoteRequest {
    CastVoteRequest {
        proposal_id: proposal_id.to_owned(),
        choice: choice.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clubs_proposals_and_votes_through_the_service() {
    let ledger =
        testkit::Ledger::start("governance_svc", &["club-alpha", "club-beta", "club-gamma"])
            .await
            .expect("the dev ledger starts");
    let (grpc, http) = (free_addr(), free_addr());
    let config = Config {
        http_addr: http,
        grpc_addr: grpc,
        ledger: ledger.config(),
        log_format: "text".to_owned(),
    };
    let service = Service::start(|shutdown| run(config, shutdown), &[grpc, http]).await;
    let mut client: GovernanceClient<Channel> =
        GovernanceClient::new(platform::ledger::channel(&format!("http://{grpc}")).unwrap());
    let ready = http_get(http, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    // Bootstrap: the network admin creates the first clubs, nobody else.
    let admin = network_admin();
    refused(
        client
            .create_club(admin.request(CreateClubRequest {
                club_json: "[]".to_owned(),
            }))
            .await,
        Code::InvalidArgument,
        "club_json must be a JSON object",
    );
    refused(
        client
            .create_club(club_admin("club-alpha").request(club("club-alpha")))
            .await,
        Code::PermissionDenied,
        "network admin",
    );
    for id in ["club-alpha", "club-beta", "club-gamma"] {
        let created = client
            .create_club(admin.request(club(id)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(json_of(&created)["status"], "active");
    }
    let mirror = platform::db::connect(&ledger.mirror_url, 2).await.unwrap();
    let direct = Ledger::new(
        platform::ledger::channel(&ledger.blockchain_url).unwrap(),
        mirror.clone(),
    );
    direct
        .submit(&admin, "CloseBootstrap", Vec::new())
        .await
        .unwrap();
    refused(
        client.create_club(admin.request(club("club-delta"))).await,
        Code::FailedPrecondition,
        "the bootstrap is closed",
    );

    // Admission of a fourth club: the service chooses the proposal id.
    let alpha = club_admin("club-alpha");
    let beta = club_admin("club-beta");
    let admit = json!({
        "kind": "admit_club",
        "payload": {"id": "club-delta", "name": "Club Delta", "msp_id": "Org1MSP"},
    });
    refused(
        client
            .create_proposal(front_desk("club-alpha").request(CreateProposalRequest {
                proposal_json: admit.to_string(),
            }))
            .await,
        Code::PermissionDenied,
        "needs the role club_admin",
    );
    let created = client
        .create_proposal(alpha.request(CreateProposalRequest {
            proposal_json: admit.to_string(),
        }))
        .await
        .unwrap()
        .into_inner();
    let proposal = json_of(&created);
    let id = proposal["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(
        (&proposal["status"], &proposal["target_club"]),
        (&json!("open"), &json!("club-delta"))
    );
    let pending = client
        .get_club(alpha.request(GetRequest {
            id: "club-delta".to_owned(),
            min_block: created.block_number,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serde_json::from_str::<Value>(&pending.json).unwrap()["status"],
        "pending"
    );

    // Votes: club admins only, a valid choice, once.
    refused(
        client
            .cast_vote(front_desk("club-beta").request(vote(&id, "yes")))
            .await,
        Code::PermissionDenied,
        "voting needs the role club_admin; you are front_desk",
    );
    refused(
        client.cast_vote(beta.request(vote(&id, "maybe"))).await,
        Code::InvalidArgument,
        "choice must be yes, no or abstain",
    );
    refused(
        client
            .cast_vote(beta.request(vote("no-such-proposal", "yes")))
            .await,
        Code::NotFound,
        "proposal no-such-proposal does not exist",
    );
    client
        .cast_vote(alpha.request(vote(&id, "yes")))
        .await
        .unwrap();
    let second = client
        .cast_vote(beta.request(vote(&id, "yes")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        json_of(&second),
        json!({"proposal_id": id, "club": "club-beta", "choice": "yes", "cast_at": json_of(&second)["cast_at"]})
    );
    refused(
        client.cast_vote(beta.request(vote(&id, "no"))).await,
        Code::FailedPrecondition,
        "club-beta has already voted",
    );
    let detail = client
        .get_proposal(front_desk("club-gamma").request(GetRequest {
            id: id.clone(),
            min_block: second.block_number,
        }))
        .await
        .unwrap()
        .into_inner();
    let voters: Vec<Value> = detail
        .votes
        .iter()
        .map(|record| serde_json::from_str::<Value>(&record.json).unwrap()["club"].clone())
        .collect();
    assert_eq!(voters, [json!("club-alpha"), json!("club-beta")]);
    assert_eq!(
        serde_json::from_str::<Value>(&detail.proposal.unwrap().json).unwrap()["status"],
        "open"
    );

    // Two of three eligible clubs said yes: any staff may close, and the club is admitted.
    let closed = client
        .close_proposal(front_desk("club-gamma").request(GetRequest {
            id: id.clone(),
            min_block: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    let decided = json_of(&closed);
    assert_eq!(decided["status"], "executed");
    assert_eq!(decided["tally"]["yes"], 2);
    let active = client
        .list_clubs(alpha.request(ListClubsRequest {
            status: "active".to_owned(),
            min_block: closed.block_number,
            ..ListClubsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        ids(&active),
        ["club-alpha", "club-beta", "club-delta", "club-gamma"]
    );
    assert!(active.mirror_height > closed.block_number);
    let first_page = client
        .list_clubs(alpha.request(ListClubsRequest {
            limit: 3,
            min_block: closed.block_number,
            ..ListClubsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.next_after, "club-delta");
    let executed = client
        .list_proposals(alpha.request(ListProposalsRequest {
            status: "executed".to_owned(),
            min_block: closed.block_number,
            ..ListProposalsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&executed), [id.as_str()]);
    refused(
        client
            .list_proposals(alpha.request(ListProposalsRequest {
                status: "closed".to_owned(),
                ..ListProposalsRequest::default()
            }))
            .await,
        Code::InvalidArgument,
        "status must be one of open",
    );
    refused(
        client
            .get_proposal(alpha.request(GetRequest {
                id: "no-such-proposal".to_owned(),
                min_block: 0,
            }))
            .await,
        Code::NotFound,
        "proposal no-such-proposal does not exist",
    );

    // Only the proposer's admin cancels, before any vote.
    let text = client
        .create_proposal(beta.request(CreateProposalRequest {
            proposal_json: json!({"proposal_id": "text-1", "kind": "text", "payload": {"text": "Summer hours"}})
                .to_string(),
        }))
        .await
        .unwrap()
        .into_inner();
    let cancel = |min_block| GetRequest {
        id: "text-1".to_owned(),
        min_block,
    };
    client
        .get_proposal(beta.request(cancel(text.block_number)))
        .await
        .unwrap();
    refused(
        client.cancel_proposal(alpha.request(cancel(0))).await,
        Code::PermissionDenied,
        "cancelling this proposal is for club-beta's staff",
    );
    let cancelled = client
        .cancel_proposal(beta.request(cancel(0)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(json_of(&cancelled)["status"], "cancelled");

    service.stop().await.unwrap();
    mirror.close().await;
    ledger.stop().await;
}
