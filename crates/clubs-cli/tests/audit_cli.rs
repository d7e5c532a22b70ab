//! `clubs audit` against a dev ledger with the real chaincode and a mirror written by the blockchain
//! service's listener into a real Postgres database.

use std::process::{Command, Output};
use std::time::Duration;

use blockchain_service::mirror::Mirror;
use devnet::embedded::{gateway_as, start_embedded};
use reciprocal_chaincode::ReciprocalContract;
use sqlx::PgPool;

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

async fn fresh_database(name: &str) -> PgPool {
    let admin = PgPool::connect(&format!("{SERVER}/postgres"))
        .await
        .expect("Postgres is running on 127.0.0.1:5432");
    // The name is ours (a constant and the process id), not input.
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&admin)
            .await
            .unwrap();
    }
    admin.close().await;
    PgPool::connect(&format!("{SERVER}/{name}")).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_proof_and_verify_of_the_mirror() {
    let dir = std::env::temp_dir().join(format!("clubs-audit-{}", std::process::id()));
    let running = start_embedded(&dir, &["club-alpha"], ReciprocalContract, None)
        .await
        .unwrap();
    let admin_msp = running.layout.user_msp("networkadmin");
    let admin = gateway_as(&running, "networkadmin").await.unwrap();
    let contract = admin.network("reciprocal").contract("reciprocal");
    let created = contract
        .submit(
            "CreateClub",
            fabric_sdk::gateway::TransactionOptions::with_args(&[
                r#"{"id":"club-alpha","name":"Alpha","msp_id":"Org1MSP"}"#,
            ]),
        )
        .await
        .unwrap();
    let suspended = contract
        .submit(
            "SuspendClub",
            fabric_sdk::gateway::TransactionOptions::with_args(&["club-alpha", "dues unpaid"]),
        )
        .await
        .unwrap();
    let versions = 2;

    // The mirror, as the blockchain service writes it.
    let database = format!("clubs_audit_{}", std::process::id());
    let pool = fresh_database(&database).await;
    let url = format!("{SERVER}/{database}");
    let peer = running.address.to_string();
    let msp = admin_msp.clone();
    let clubs = move |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_clubs"))
            .arg("audit")
            .args(args)
            .env("CLUBS_DATABASE_URL", &url)
            .env("CLUBS_PEER_ENDPOINT", &peer)
            .env("CLUBS_MSP_DIR", &msp)
            .output()
            .unwrap()
    };
    let output = clubs(&["verify"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("holds no mirror"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    Mirror::migrate(&pool).await.unwrap();
    let mirror = Mirror::new(pool.clone(), "reciprocal");
    let mut height = mirror.subscribe();
    let network = admin.network("reciprocal");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = {
        let mirror = mirror.clone();
        tokio::spawn(async move {
            mirror
                .follow(&network, async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    let tip = suspended.block_number;
    tokio::time::timeout(
        Duration::from_secs(20),
        height.wait_for(|height| *height > tip),
    )
    .await
    .expect("the mirror catches up")
    .unwrap();

    let output = tokio::task::spawn_blocking({
        let clubs = clubs.clone();
        move || clubs(&["verify"])
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["mirror_height"], tip + 1);
    assert_eq!(report["ledger_blocks_compared"], tip + 1);
    assert_eq!(report["problems"], serde_json::json!([]));
    assert!(String::from_utf8_lossy(&output.stderr).contains("the mirror matches"));

    let output = clubs(&["history", "club/club-alpha"]);
    assert!(output.status.success());
    let history: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), versions);
    assert_eq!(entries[0]["tx_id"], created.tx_id.as_str());
    assert_eq!(entries[0]["value"]["name"], "Alpha");
    assert_eq!(entries[1]["tx_id"], suspended.tx_id.as_str());
    assert_eq!(entries[1]["value"]["status"], "suspended");

    let output = tokio::task::spawn_blocking({
        let clubs = clubs.clone();
        move || clubs(&["history", "--source", "ledger", "club/club-alpha"])
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(&created.tx_id));

    let output = clubs(&["tx", &created.tx_id]);
    assert!(output.status.success());
    let proof: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(proof["block_number"], created.block_number);
    assert_eq!(proof["validation"], "VALID");
    assert_eq!(proof["chain_verified"], true);
    assert_eq!(
        proof["chain"].as_array().unwrap().len(),
        usize::try_from(tip - created.block_number + 1).unwrap()
    );

    // Clear errors, and nothing printed on stdout.
    for (args, message) in [
        (&["history", "club-alpha"][..], "a record key is TYPE/ID"),
        (
            &["history", "planet/earth"][..],
            "record type must be one of",
        ),
        (
            &["history", "club/club-omega"][..],
            "no committed version of club",
        ),
        (&["tx", "not-a-tx-id!"][..], "a transaction id is up to 128"),
        (&["tx", "00ff"][..], "transaction 00ff is not in the mirror"),
    ] {
        let output = clubs(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }

    // A tampered mirror: verify names the row and exits non-zero.
    sqlx::query(
        "UPDATE writes SET value = convert_to(replace(convert_from(value, 'UTF8'), 'Alpha', 'Omega'), 'UTF8')
         WHERE block_number = $1",
    )
    .bind(i64::try_from(created.block_number).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let output = tokio::task::spawn_blocking(move || clubs(&["verify", "--mirror-only"]))
        .await
        .unwrap();
    assert!(!output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|problem| {
                problem["block"] == created.block_number
                    && problem["problem"]
                        .as_str()
                        .is_some_and(|text| text.contains("differs from the block's"))
            }),
        "{report:#}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("problems"));

    let _ = stop.send(());
    follower.await.unwrap().unwrap();
    pool.close().await;
    let admin_pool = PgPool::connect(&format!("{SERVER}/postgres"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database}"
    )))
    .execute(&admin_pool)
    .await
    .unwrap();
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
