//! The mirror against the dev ledger, the real chaincode and a real Postgres: every block once, only valid
//! transactions in the projections, redelivery harmless, gaps refused, and an interrupted listener resumes
//! at its checkpoint with nothing missing or duplicated.

mod support;

use std::time::Duration;

use blockchain_service::mirror::{Applied, Mirror, MirrorError};
use fabric_sdk::gateway::{EventsOptions, Gateway, StartPosition, TransactionOptions};
use serde_json::json;
use sqlx::postgres::PgPool;
use support::{database, drop_database, ledger};

async fn create_clubs(gateway: &Gateway, prefix: &str, count: usize) {
    let contract = gateway.network("reciprocal").contract("reciprocal");
    for i in 0..count {
        let club =
            json!({"id": format!("{prefix}-{i}"), "name": "Club", "msp_id": "Org1MSP"}).to_string();
        contract
            .submit("CreateClub", TransactionOptions::with_args(&[club]))
            .await
            .unwrap();
    }
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn mirror_until(mirror: &Mirror, gateway: &Gateway, height: u64) {
    let network = gateway.network("reciprocal");
    let reached = async {
        while mirror.next_block().await.unwrap() < height {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), mirror.follow(&network, reached))
        .await
        .expect("mirror caught up")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_block_is_mirrored_once_with_its_projections() {
    let pool = database("once").await;
    let (running, gateway, dir) = ledger("once").await;
    create_clubs(&gateway, "club", 3).await;
    // A refused transaction never reaches a block; a duplicate club is refused at endorsement.
    let contract = gateway.network("reciprocal").contract("reciprocal");
    let again = json!({"id": "club-0", "name": "Club", "msp_id": "Org1MSP"}).to_string();
    assert!(
        contract
            .submit_transaction("CreateClub", &[again])
            .await
            .is_err()
    );

    let mirror = Mirror::new(pool.clone(), "reciprocal");
    mirror_until(&mirror, &gateway, 4).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM blocks").await, 4);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM blocks WHERE is_config").await,
        1
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM transactions WHERE validation = 'VALID'"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM records WHERE kind = 'club' AND NOT deleted"
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM events WHERE name = 'ClubAdmitted'"
        )
        .await,
        3
    );
    let name: String = sqlx::query_scalar(
        "SELECT value->>'status' FROM records WHERE kind = 'club' AND record_key = 'club-1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(name, "active");
    let function: String =
        sqlx::query_scalar("SELECT function FROM transactions WHERE block_number = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(function, "CreateClub");

    // Redelivery changes nothing; a block past the checkpoint is a gap.
    let mut blocks = gateway
        .network("reciprocal")
        .block_events(&EventsOptions {
            start: StartPosition::Block(1),
            ..EventsOptions::default()
        })
        .await
        .unwrap();
    let block1 = blocks.next().await.unwrap().unwrap();
    assert_eq!(
        mirror.apply(&block1).await.unwrap(),
        Applied::AlreadyMirrored
    );
    create_clubs(&gateway, "late", 2).await;
    let _ = blocks.next().await.unwrap().unwrap();
    let _ = blocks.next().await.unwrap().unwrap();
    let _ = blocks.next().await.unwrap().unwrap();
    let block5 = blocks.next().await.unwrap().unwrap();
    assert!(matches!(
        mirror.apply(&block5).await,
        Err(MirrorError::Gap {
            expected: 4,
            got: 5
        })
    ));
    assert_eq!(count(&pool, "SELECT count(*) FROM blocks").await, 4);
    running.stop().await;
    let _ = std::fs::remove_dir_all(dir);
    drop_database(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_listener_resumes_with_nothing_missing_or_duplicated() {
    let pool = database("resume").await;
    let (running, gateway, dir) = ledger("resume").await;
    create_clubs(&gateway, "club", 12).await;
    let height = 13;
    // Interrupt the listener several times while it catches up.
    for attempt in 0..5 {
        let mirror = Mirror::new(pool.clone(), "reciprocal");
        let network = gateway.network("reciprocal");
        let interrupted = tokio::time::timeout(
            Duration::from_millis(5 + attempt * 3),
            mirror.follow(&network, std::future::pending()),
        )
        .await;
        assert!(
            interrupted.is_err(),
            "the listener only stops when interrupted"
        );
    }
    let mirror = Mirror::new(pool.clone(), "reciprocal");
    mirror_until(&mirror, &gateway, height).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM blocks").await, 13);
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT number) FROM blocks").await,
        13
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM transactions").await, 13);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM records WHERE kind = 'club'").await,
        12
    );
    assert_eq!(count(&pool, "SELECT max(number) FROM blocks").await, 12);
    running.stop().await;
    let _ = std::fs::remove_dir_all(dir);
    drop_database(pool).await;
}
