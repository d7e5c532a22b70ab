//! The service's API, events and audit against the dev ledger with the real chaincode, a real Postgres
//! and a real NATS JetStream.

mod support;

use std::time::Duration;

use blockchain_service::api::BlockchainApi;
use blockchain_service::audit::Audit;
use blockchain_service::events::{EventPublisher, EventsConfig};
use blockchain_service::metrics::Metrics;
use blockchain_service::mirror::Mirror;
use blockchain_service::wallet::{Wallet, WalletSource};
use fabric_sdk::gateway::Timeouts;
use futures_util::StreamExt;
use reciprocal_api::v1::blockchain_server::Blockchain;
use reciprocal_api::v1::{
    Actor, EvaluateRequest, KeyHistoryRequest, SubmitRequest, TransactionProofRequest,
    WaitForMirrorRequest,
};
use serde_json::json;
use sqlx::postgres::PgPool;
use support::{database, drop_database, ledger_with_clubs};
use tonic::{Code, Request};

fn actor(club: &str, role: &str) -> Option<Actor> {
    Some(Actor {
        club: club.to_owned(),
        role: role.to_owned(),
    })
}

fn submit(actor: Option<Actor>, function: &str, args: &[String]) -> Request<SubmitRequest> {
    Request::new(SubmitRequest {
        actor,
        function: function.to_owned(),
        args: args.to_vec(),
        transient: Default::default(),
    })
}

const MEMBER: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

struct Fixture {
    api: BlockchainApi,
    audit: Audit,
    pool: PgPool,
    running: devnet::RunningDevnet,
    dir: std::path::PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
}

async fn fixture(name: &str) -> Fixture {
    let pool = database(name).await;
    let (running, _, dir) = ledger_with_clubs(name, &["club-alpha", "club-beta"]).await;
    let wallet = Wallet::load(&[WalletSource {
        msp_id: "Org1MSP".to_owned(),
        dir: running
            .layout
            .user_msp("networkadmin")
            .parent()
            .and_then(|user| user.parent())
            .unwrap()
            .to_owned(),
    }])
    .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.address))
        .unwrap()
        .connect_lazy();
    let gateways = wallet.gateways(&channel, Timeouts::default());
    let reader = gateways.any().unwrap().clone();
    let metrics = Metrics::new();
    let mirror = Mirror::new(pool.clone(), "reciprocal").with_metrics(metrics.clone());
    let audit = Audit::new(
        pool.clone(),
        "reciprocal",
        "reciprocal",
        Some(reader.clone()),
    );
    let api = BlockchainApi::new(
        gateways,
        "reciprocal",
        mirror.clone(),
        audit.clone(),
        metrics,
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = mirror.clone();
    tokio::spawn(async move {
        let network = reader.network("reciprocal");
        let mut stopped = stopped;
        let _ = follower
            .follow(&network, async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await;
    });
    Fixture {
        api,
        audit,
        pool,
        running,
        dir,
        stop,
    }
}

impl Fixture {
    async fn finish(self) {
        let _ = self.stop.send(true);
        self.running.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
        drop_database(self.pool).await;
    }

    async fn wait_for_mirror(&self, block: u64) {
        let reached = self
            .api
            .wait_for_mirror(Request::new(WaitForMirrorRequest {
                min_block: block,
                timeout_ms: 10_000,
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(reached.reached, "mirror reached block {block}: {reached:?}");
    }

    /// Two clubs, an agreement between them and a member of alpha; returns the last block.
    async fn seed(&self) -> u64 {
        for id in ["club-alpha", "club-beta"] {
            let club = json!({"id": id, "name": id, "msp_id": "Org1MSP"}).to_string();
            self.api
                .submit(submit(actor("", "network_admin"), "CreateClub", &[club]))
                .await
                .unwrap();
        }
        let anchor = json!({"member_ref": MEMBER, "status": "active", "valid_until": "2099-12-31"});
        self.api
            .submit(submit(
                actor("club-alpha", "club_admin"),
                "UpsertMemberAnchor",
                &[anchor.to_string()],
            ))
            .await
            .unwrap()
            .into_inner()
            .block_number
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_act_as_the_callers_club_and_role_and_refusals_keep_their_meaning() {
    let f = fixture("api").await;
    let club = json!({"id": "club-alpha", "name": "Alpha", "msp_id": "Org1MSP"}).to_string();
    let created = f
        .api
        .submit(submit(
            actor("", "network_admin"),
            "CreateClub",
            std::slice::from_ref(&club),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.validation, "VALID");
    assert_eq!(created.validation_code, 0);
    assert_eq!(created.tx_id.len(), 64);
    assert!(created.block_number >= 1);
    let result: serde_json::Value = serde_json::from_slice(&created.result).unwrap();
    assert_eq!(result["id"], "club-alpha");

    // A club the wallet holds no identity for.
    let refused = f
        .api
        .submit(submit(
            actor("club-zeta", "club_admin"),
            "CreateClub",
            std::slice::from_ref(&club),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused
            .message()
            .contains("no identity for club_admin of club-zeta"),
        "{refused:?}"
    );

    // The chaincode's own refusals: 403, 409, 400, 404.
    let forbidden = f
        .api
        .submit(submit(
            actor("club-alpha", "club_admin"),
            "CreateClub",
            std::slice::from_ref(&club),
        ))
        .await
        .unwrap_err();
    assert_eq!(forbidden.code(), Code::PermissionDenied);
    assert!(
        forbidden.message().contains("network_admin"),
        "{forbidden:?}"
    );
    let again = f
        .api
        .submit(submit(actor("", "network_admin"), "CreateClub", &[club]))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    let bad = f
        .api
        .submit(submit(
            actor("", "network_admin"),
            "CreateClub",
            &["{".to_owned()],
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    let missing = f
        .api
        .evaluate(Request::new(EvaluateRequest {
            actor: actor("club-beta", "front_desk"),
            function: "GetClub".to_owned(),
            args: vec!["club-nowhere".to_owned()],
            transient: Default::default(),
        }))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");

    // Malformed requests never reach the peer.
    for (request, what) in [
        (submit(None, "CreateClub", &[]), "actor is required"),
        (
            submit(actor("club-alpha", "owner"), "CreateClub", &[]),
            "actor.role must be one of",
        ),
        (
            submit(actor("", "network_admin"), "Create Club", &[]),
            "function must be",
        ),
    ] {
        let error = f.api.submit(request).await.unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        assert!(error.message().contains(what), "{error:?}");
    }

    // The write is in the mirror once the caller waits for its block.
    f.wait_for_mirror(created.block_number).await;
    let status: String = sqlx::query_scalar("SELECT status FROM clubs WHERE id = 'club-alpha'")
        .fetch_one(&f.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");
    let history = f
        .api
        .key_history(Request::new(KeyHistoryRequest {
            record_type: "club".to_owned(),
            id: "club-alpha".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.entries.len(), 1);
    assert_eq!(history.entries[0].tx_id, created.tx_id);
    let proof = f
        .api
        .transaction_proof(Request::new(TransactionProofRequest {
            tx_id: created.tx_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proof.block_number, created.block_number);
    assert_eq!(proof.validation, "VALID");
    assert_eq!(proof.chain[0].number, created.block_number);
    let unknown = f
        .api
        .transaction_proof(Request::new(TransactionProofRequest {
            tx_id: "ab".repeat(32),
        }))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_passes_on_a_true_mirror_and_names_a_tampered_row_and_a_missing_block() {
    let f = fixture("verify").await;
    let last = f.seed().await;
    f.wait_for_mirror(last).await;

    let report = f.audit.verify(true).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(report.mirror_height, last + 1);
    assert_eq!(report.blocks_checked, last + 1);
    assert_eq!(report.ledger_blocks_compared, last + 1);
    assert_eq!(report.orderer_signatures_verified, last);
    assert_eq!(report.records_compared, 3);

    // A member anchor's status changed in the mirror's write row.
    sqlx::query(
        "UPDATE writes SET value = convert_to(replace(convert_from(value, 'UTF8'), 'active', 'lapsed'), 'UTF8')
         WHERE position(convert_to('member', 'UTF8') in key) > 0",
    )
    .execute(&f.pool)
    .await
    .unwrap();
    let report = f.audit.verify(false).await.unwrap();
    assert!(
        report.problems.iter().any(|p| p.block == Some(last)
            && p.problem.contains("key \\0member\\0")
            && p.problem.contains("differs from the block's")),
        "{:#?}",
        report.problems
    );

    // The projection changed too: it now disagrees with the ledger through the chaincode.
    sqlx::query("UPDATE records SET value = jsonb_set(value, '{status}', '\"lapsed\"') WHERE kind = 'member'")
        .execute(&f.pool)
        .await
        .unwrap();
    let report = f.audit.verify(true).await.unwrap();
    assert!(
        report.problems.iter().any(
            |p| p.problem.contains("member") && p.problem.contains("differs from the ledger's")
        ),
        "{:#?}",
        report.problems
    );

    // A block removed from the mirror.
    for table in ["events", "writes", "transactions", "blocks"] {
        let column = if table == "blocks" {
            "number"
        } else {
            "block_number"
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE {column} = 1"
        )))
        .execute(&f.pool)
        .await
        .unwrap();
    }
    let report = f.audit.verify(false).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.block == Some(1) && p.problem == "block 1 is missing from the mirror"),
        "{:#?}",
        report.problems
    );
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_committed_event_reaches_jetstream_once_even_when_published_again() {
    let f = fixture("events").await;
    let last = f.seed().await;
    f.wait_for_mirror(last).await;

    let client = async_nats::connect("nats://127.0.0.1:4222")
        .await
        .expect("NATS is running on 127.0.0.1:4222");
    let tag = format!("test{}x{}", std::process::id(), last);
    let config = EventsConfig {
        stream: format!("EVENTS_{tag}"),
        subject_prefix: format!("{tag}.events"),
        ..EventsConfig::default()
    };
    let publisher = EventPublisher::new(
        f.pool.clone(),
        "reciprocal",
        client.clone(),
        config.clone(),
        Metrics::new(),
    )
    .await
    .unwrap();
    assert_eq!(publisher.publish_pending().await.unwrap(), 3);
    assert_eq!(publisher.publish_pending().await.unwrap(), 0);
    // A crash after publishing but before the cursor was saved: everything is published again, and
    // JetStream drops the duplicates by message id.
    sqlx::query("DELETE FROM event_publication")
        .execute(&f.pool)
        .await
        .unwrap();
    assert_eq!(publisher.publish_pending().await.unwrap(), 3);
    // And after a restart the publisher resumes after the last event the stream holds.
    sqlx::query("DELETE FROM event_publication")
        .execute(&f.pool)
        .await
        .unwrap();
    publisher.resume_from_stream().await.unwrap();
    assert_eq!(publisher.publish_pending().await.unwrap(), 0);

    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream.get_stream(&config.stream).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("test".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer
        .fetch()
        .max_messages(10)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        seen.push((
            message.subject.to_string(),
            body["tx_id"].as_str().unwrap().to_owned(),
        ));
        message.ack().await.unwrap();
    }
    let subjects: Vec<&str> = seen.iter().map(|(subject, _)| subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("{tag}.events.ClubAdmitted"),
            format!("{tag}.events.ClubAdmitted"),
            format!("{tag}.events.MemberAnchored"),
        ]
    );
    let mut tx_ids: Vec<&str> = seen.iter().map(|(_, tx)| tx.as_str()).collect();
    tx_ids.dedup();
    assert_eq!(tx_ids.len(), 3);
    jetstream.delete_stream(&config.stream).await.unwrap();
    f.finish().await;
}
