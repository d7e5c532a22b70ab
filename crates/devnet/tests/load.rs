//! The dev ledger under concurrency and crashes: MVCC keeps quotas exact, and a `kill -9` during load
//! loses no acknowledged transaction and leaves a chain that verifies.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fabric_protos::protos::TxValidationCode;
use fabric_sdk::block::{read_blocks, verify_chain};
use fabric_sdk::gateway::{Gateway, GatewayError, RetryPolicy, TransactionOptions};
use serde_json::json;
use support::{TestNetwork, start_chaincode, temp_dir};

const MEMBER: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

async fn submit(gateway: &Gateway, function: &str, args: &[&str]) {
    let contract = gateway.network("reciprocal").contract("reciprocal");
    contract
        .submit_transaction(function, args)
        .await
        .unwrap_or_else(|error| panic!("{function}: {error}"));
}

/// Clubs alpha and beta, an agreement allowing `quota` visits a month, and a member of alpha.
async fn seed(network: &TestNetwork, quota: u32) {
    let admin = network.gateway("networkadmin").await;
    for id in ["club-alpha", "club-beta"] {
        let club = json!({"id": id, "name": id, "msp_id": "Org1MSP"}).to_string();
        submit(&admin, "CreateClub", &[&club]).await;
    }
    let terms = json!({
        "max_visits_per_month": quota, "max_visits_per_year": 100, "max_stay_days": 3, "max_guests_per_visit": 2,
        "fee": {"per_visit_minor": 100, "per_guest_minor": 0, "currency": "EUR"},
        "settlement": "bill_home_club", "valid_from": "2020-01-01", "valid_until": "2099-12-31"
    });
    let agreement =
        json!({"agreement_id": "ab", "counterparty_club": "club-beta", "terms": terms}).to_string();
    submit(
        &network.gateway("clubadmin-alpha").await,
        "ProposeAgreement",
        &[&agreement],
    )
    .await;
    submit(
        &network.gateway("clubadmin-beta").await,
        "AcceptAgreement",
        &["ab"],
    )
    .await;
    let anchor =
        json!({"member_ref": MEMBER, "status": "active", "valid_until": "2099-12-31"}).to_string();
    submit(
        &network.gateway("clubadmin-alpha").await,
        "UpsertMemberAnchor",
        &[&anchor],
    )
    .await;
}

/// A visit today (check-ins are recorded on the day, by the transaction's clock).
fn visit(i: usize) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let today = reciprocal_chaincode::dates::Date::from_unix_seconds(now).to_string();
    json!({
        "visit_id": format!("00000000-0000-4000-8000-{i:012}"),
        "member_ref": MEMBER, "host_club": "club-beta", "visit_date": today
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_check_ins_conflict_and_the_quota_stays_exact() {
    // A generous block timeout puts all simultaneous check-ins in one block, however slow the machine.
    let network = TestNetwork::start_with(
        "quota",
        devnet::orderer::BatchConfig {
            max_transactions: 100,
            timeout: Duration::from_millis(300),
        },
    )
    .await;
    seed(&network, 3).await;
    let desk = Arc::new(network.gateway("frontdesk-beta").await);

    // Simultaneous check-ins of one member read the same counters: the orderer puts them in one block and
    // validation keeps one, marking the others MVCC_READ_CONFLICT.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let desk = Arc::clone(&desk);
        tasks.push(tokio::spawn(async move {
            let contract = desk.network("reciprocal").contract("reciprocal");
            let transaction = contract
                .new_proposal("CheckIn", &TransactionOptions::with_args(&[visit(i)]))
                .unwrap()
                .endorse()
                .await
                .unwrap();
            transaction.submit().await.unwrap().status().await.unwrap()
        }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap().code);
    }
    let valid = codes
        .iter()
        .filter(|code| **code == TxValidationCode::Valid as i32)
        .count();
    let conflicts = codes
        .iter()
        .filter(|code| **code == TxValidationCode::MvccReadConflict as i32)
        .count();
    assert!((1..=3).contains(&valid), "{codes:?}");
    assert_eq!(
        valid + conflicts,
        8,
        "every other transaction is an MVCC conflict: {codes:?}"
    );

    // Retrying the losers re-endorses against the new counts: exactly the quota is ever admitted.
    let mut tasks = Vec::new();
    for i in 100..110 {
        let desk = Arc::clone(&desk);
        tasks.push(tokio::spawn(async move {
            let contract = desk.network("reciprocal").contract("reciprocal");
            let options = TransactionOptions {
                retry: Some(RetryPolicy {
                    max_attempts: 20,
                    initial_backoff: Duration::from_millis(5),
                }),
                ..TransactionOptions::with_args(&[visit(i)])
            };
            contract.submit("CheckIn", options).await
        }));
    }
    let mut admitted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => admitted += 1,
            Err(GatewayError::Endorse { error, .. }) => {
                assert!(
                    error.message.contains("monthly quota reached: 3 of 3"),
                    "{}",
                    error.message
                );
            }
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(valid + admitted, 3, "exactly the quota is admitted");
    network.stop().await;
}

struct DevnetProcess(Child);

impl Drop for DevnetProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_devnet(dir: &std::path::Path, port: u16, chaincode: &str) -> DevnetProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_devnet"))
        .args([
            "start",
            &dir.display().to_string(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--chaincode-address", chaincode, "--batch-timeout-ms", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    DevnetProcess(child)
}

async fn connect(dir: &std::path::Path, port: u16, user: &str) -> Gateway {
    let deadline = Instant::now() + Duration::from_secs(20);
    let channel = loop {
        match tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
        {
            Ok(channel) => break channel,
            Err(error) if Instant::now() > deadline => panic!("devnet did not come up: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let msp = dir.join(format!(
        "organizations/peerOrganizations/org1.example.com/users/{user}@org1.example.com/msp"
    ));
    let signing = fabric_sdk::msp::MspFolder::load(&msp, "Org1MSP")
        .unwrap()
        .signing_identity()
        .unwrap();
    Gateway::new(channel, signing.identity().clone(), signing.signer())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_load_loses_no_committed_transaction() {
    let dir = temp_dir("kill9");
    devnet::init(&dir, &[]).unwrap();
    let (chaincode, _stop_chaincode) = start_chaincode("reciprocal:dev").await;
    let port = free_port();
    let mut process = spawn_devnet(&dir, port, &chaincode);
    let admin = Arc::new(connect(&dir, port, "networkadmin").await);

    // Writers create clubs until the peer dies; every acknowledged (VALID) club is remembered.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let admin = Arc::clone(&admin);
        let acknowledged = Arc::clone(&acknowledged);
        writers.push(tokio::spawn(async move {
            let contract = admin.network("reciprocal").contract("reciprocal");
            for n in 0..10_000 {
                let id = format!("club-{writer}-{n}");
                let club = json!({"id": id, "name": id, "msp_id": "Org1MSP"}).to_string();
                match contract.submit_transaction("CreateClub", &[club]).await {
                    Ok(_) => acknowledged.lock().unwrap().push(id),
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    process.0.kill().unwrap(); // SIGKILL
    process.0.wait().unwrap();
    for writer in writers {
        let _ = writer.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 10,
        "the load ran: {} acknowledged",
        acknowledged.len()
    );

    // Restarted on the same directory, the ledger has every acknowledged transaction.
    let _process = spawn_devnet(&dir, port, &chaincode);
    let admin = connect(&dir, port, "networkadmin").await;
    let clubs: serde_json::Value = serde_json::from_slice(
        &admin
            .network("reciprocal")
            .contract("reciprocal")
            .evaluate_transaction("ListClubs", &[] as &[&str])
            .await
            .unwrap(),
    )
    .unwrap();
    let on_ledger: Vec<&str> = clubs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|club| club["id"].as_str())
        .collect();
    for id in &acknowledged {
        assert!(on_ledger.contains(&id.as_str()), "acknowledged {id} lost");
    }
    // New work commits after the restart, and the block file is a valid chain.
    submit(
        &admin,
        "CreateClub",
        &[&json!({"id": "club-after", "name": "After", "msp_id": "Org1MSP"}).to_string()],
    )
    .await;
    let blocks = read_blocks(&dir.join("ledger/reciprocal/blockfile_000000")).unwrap();
    let report = verify_chain(&blocks).unwrap();
    assert_eq!(report.blocks, blocks.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_written_by_devnet_verify_with_the_clubs_cli_checks() {
    let network = TestNetwork::start("verify").await;
    seed(&network, 2).await;
    let blocks = read_blocks(&network.block_file()).unwrap();
    assert!(blocks.len() >= 6, "genesis and five transactions");
    verify_chain(&blocks).unwrap();
    let config = fabric_sdk::block::decode_block(&blocks[0])
        .unwrap()
        .transactions[0]
        .config
        .clone()
        .unwrap();
    let orderer = config
        .organizations
        .iter()
        .find(|org| org.group == "Orderer")
        .unwrap();
    for block in &blocks[1..] {
        assert_eq!(
            fabric_sdk::block::verify_orderer_signatures(block, &orderer.root_certs).unwrap(),
            1
        );
        let decoded = fabric_sdk::block::decode_block(block).unwrap();
        for tx in decoded.transactions {
            assert_eq!(tx.validation, "VALID");
            assert_eq!(tx.creator_msp_id, "Org1MSP");
            let call = tx.chaincode.unwrap();
            assert_eq!(call.name, "reciprocal");
            assert_eq!(call.endorsers, ["Org1MSP"]);
        }
    }
    network.stop().await;
}
