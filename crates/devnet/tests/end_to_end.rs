//! The dev ledger end to end: the real reciprocal chaincode served by the shim, driven through devnet's
//! Gateway and Deliver by the SDK's gateway client, exactly as a client of a real peer would.

mod support;

use fabric_protos::protos::TxValidationCode;
use fabric_sdk::block::verify_chain;
use fabric_sdk::gateway::{EventsOptions, StartPosition, TransactionOptions};
use support::TestNetwork;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_evaluate_events_and_deliver() {
    let network = TestNetwork::start("e2e").await;
    let admin = network.gateway("networkadmin").await;
    let contract = admin.network("reciprocal").contract("reciprocal");

    let mut events = admin
        .network("reciprocal")
        .chaincode_events("reciprocal", &EventsOptions::default())
        .await
        .expect("chaincode events");

    let submitted = contract
        .submit(
            "CreateClub",
            TransactionOptions::with_args(&[
                r#"{"id":"club-alpha","name":"Alpha Club","msp_id":"Org1MSP"}"#,
            ]),
        )
        .await
        .expect("submit CreateClub");
    assert!(submitted.block_number >= 1, "block 0 is the genesis block");

    let club = contract
        .evaluate_transaction("GetClub", &["club-alpha"])
        .await
        .expect("evaluate GetClub");
    let club: serde_json::Value = serde_json::from_slice(&club).expect("club JSON");
    assert_eq!(club["id"], "club-alpha");
    assert_eq!(club["status"], "active");

    // History comes from the blocks that wrote the key.
    let history = contract
        .evaluate_transaction("GetHistory", &["club", "club-alpha"])
        .await
        .expect("evaluate GetHistory");
    let history: serde_json::Value = serde_json::from_slice(&history).expect("history JSON");
    assert_eq!(history.as_array().map(Vec::len), Some(1));
    assert_eq!(history[0]["tx_id"], submitted.tx_id.as_str());
    assert_eq!(history[0]["is_delete"], false);
    assert_eq!(history[0]["value"]["id"], "club-alpha");

    let event = events.next().await.expect("an event").expect("event ok");
    assert_eq!(event.transaction_id, submitted.tx_id);
    assert_eq!(event.block_number, submitted.block_number);
    assert_eq!(event.chaincode_name, "reciprocal");
    assert_eq!(event.event_name, "ClubAdmitted");

    // Deliver from block 0 returns the genesis block and the block with the transaction, chained.
    let mut blocks = admin
        .network("reciprocal")
        .block_events(&EventsOptions {
            start: StartPosition::Block(0),
            ..EventsOptions::default()
        })
        .await
        .expect("deliver");
    let mut received = Vec::new();
    while received.len() as u64 <= submitted.block_number {
        received.push(blocks.next().await.expect("a block").expect("block ok"));
    }
    verify_chain(&received).expect("devnet blocks form a valid chain");

    // A refused transaction surfaces the chaincode's message and status.
    let error = contract
        .submit_transaction("GetClub", &["no-such-club"])
        .await
        .expect_err("unknown club");
    assert!(error.to_string().contains("404"), "{error}");
    network.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_commit_of_one_transaction_is_refused() {
    let network = TestNetwork::start("dup").await;
    let admin = network.gateway("networkadmin").await;
    let contract = admin.network("reciprocal").contract("reciprocal");
    let proposal = contract
        .new_proposal(
            "CreateClub",
            &TransactionOptions::with_args(&[
                r#"{"id":"club-beta","name":"Beta","msp_id":"Org1MSP"}"#,
            ]),
        )
        .expect("proposal");
    let transaction = proposal.clone().endorse().await.expect("endorse");
    let commit = transaction.clone().submit().await.expect("submit");
    let status = commit.status().await.expect("status");
    assert_eq!(status.code, TxValidationCode::Valid as i32);
    // Endorsing the same proposal again is refused: its id is already on the ledger.
    let error = proposal.endorse().await.expect_err("duplicate");
    assert!(
        error.to_string().contains("duplicate transaction"),
        "{error}"
    );
    network.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tls_with_the_peer_certificate() {
    let mut network = TestNetwork::start("tls").await;
    network.stop_devnet().await;
    network
        .start_devnet_with(
            devnet::orderer::BatchConfig {
                max_transactions: 10,
                timeout: std::time::Duration::from_millis(10),
            },
            true,
        )
        .await;
    let layout = network.devnet.as_ref().unwrap().layout.clone();
    let port = network.devnet.as_ref().unwrap().address.port();
    let tls_ca = std::fs::read(layout.org.tls_ca_cert()).unwrap();
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(tls_ca))
        .domain_name("peer0.org1.example.com");
    let channel = tonic::transport::Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let signing = fabric_sdk::msp::MspFolder::load(&layout.user_msp("networkadmin"), "Org1MSP")
        .unwrap()
        .signing_identity()
        .unwrap();
    let gateway =
        fabric_sdk::gateway::Gateway::new(channel, signing.identity().clone(), signing.signer());
    let result = gateway
        .network("reciprocal")
        .contract("reciprocal")
        .submit_transaction(
            "CreateClub",
            &[r#"{"id":"club-tls","name":"TLS","msp_id":"Org1MSP"}"#],
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&result).unwrap()["id"],
        "club-tls"
    );
    // Plaintext clients cannot talk to a TLS peer.
    let plaintext = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plaintext {
        let gateway = fabric_sdk::gateway::Gateway::new(
            channel,
            signing.identity().clone(),
            signing.signer(),
        );
        assert!(
            gateway
                .network("reciprocal")
                .contract("reciprocal")
                .evaluate_transaction("ListClubs", &[] as &[&str])
                .await
                .is_err()
        );
    }
    network.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_transactions_with_range_reads_commit_valid() {
    let network = TestNetwork::start("ranges").await;
    let admin = network.gateway("networkadmin").await;
    for id in ["club-alpha", "club-beta", "club-gamma"] {
        let club = format!(r#"{{"id":"{id}","name":"{id}","msp_id":"Org1MSP"}}"#);
        admin
            .network("reciprocal")
            .contract("reciprocal")
            .submit_transaction("CreateClub", &[club])
            .await
            .expect("CreateClub");
    }
    let alpha = network.gateway("clubadmin-alpha").await;
    let beta = network.gateway("clubadmin-beta").await;
    let contract = |gateway: &fabric_sdk::gateway::Gateway| {
        gateway.network("reciprocal").contract("reciprocal")
    };
    // Cancelling reads the (empty) range of votes in a writing transaction.
    contract(&alpha)
        .submit_transaction(
            "CreateProposal",
            &[r#"{"proposal_id":"p-1","kind":"text","payload":{"text":"Dress code"}}"#],
        )
        .await
        .expect("CreateProposal");
    let cancelled = contract(&alpha)
        .submit("CancelProposal", TransactionOptions::with_args(&["p-1"]))
        .await;
    assert!(cancelled.is_ok(), "{cancelled:?}");
    // Closing reads the ranges of clubs and votes and writes the decision.
    contract(&alpha)
        .submit_transaction(
            "CreateProposal",
            &[r#"{"proposal_id":"p-2","kind":"text","payload":{"text":"Shared calendar"}}"#],
        )
        .await
        .expect("CreateProposal");
    contract(&alpha)
        .submit_transaction("CastVote", &["p-2", "yes"])
        .await
        .expect("vote alpha");
    contract(&beta)
        .submit_transaction("CastVote", &["p-2", "yes"])
        .await
        .expect("vote beta");
    let closed = contract(&beta)
        .submit_transaction("CloseProposal", &["p-2"])
        .await
        .expect("CloseProposal");
    let closed: serde_json::Value = serde_json::from_slice(&closed).unwrap();
    assert_eq!(closed["status"], "passed");
    network.stop().await;
}
