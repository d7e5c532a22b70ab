//! The shim over a real gRPC stream, driven by the peer side of the protocol (`chaincode-driver`), which
//! behaves as a Fabric peer does: handshake, interleaved transactions, state round trips, batches and
//! pagination, errors and panics.

use std::sync::Arc;
use std::time::Duration;

use chaincode_driver::{
    Connection, DriverError, Invocation, LedgerView, MemoryLedger, RangeReadsBuilder,
};
use chaincode_shim::server::{ServerConfig, TlsSettings, serve_with_listener};
use chaincode_shim::{Chaincode, ChaincodeStub, error, success};
use fabric_protos::kvrwset::{
    KvMetadataEntry, KvMetadataWrite, KvRead, KvWrite, KvrwSet, Version, range_query_info,
};
use fabric_protos::protos::{ChaincodeInput, SignedProposal};
use fabric_protos::rwset::{NsReadWriteSet, TxReadWriteSet, tx_read_write_set};
use fabric_sdk::gateway::{ProposalSpec, build_signed_proposal};
use fabric_sdk::identity::Identity;
use fabric_sdk::signer::EcdsaP256Signer;
use prost::Message;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

/// A test contract exercising the stub.
#[derive(Debug)]
struct TestContract;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Chaincode for TestContract {
    async fn init<S: ChaincodeStub>(&self, stub: &mut S) -> fabric_protos::protos::Response {
        if stub.args().first().map(Vec::as_slice) == Some(&b"fail"[..]) {
            error(500, "init refused")
        } else {
            success(b"initialised".to_vec())
        }
    }

    async fn invoke<S: ChaincodeStub>(&self, stub: &mut S) -> fabric_protos::protos::Response {
        let args: Vec<String> = stub.args().iter().map(|arg| text(arg)).collect();
        let function = args.first().cloned().unwrap_or_default();
        let result: Result<Vec<u8>, String> = async {
            match function.as_str() {
                "put" => {
                    stub.put_state(&args[1], args[2].clone().into_bytes())
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(Vec::new())
                }
                "get" => Ok(stub
                    .get_state(&args[1])
                    .await
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default()),
                // Writes then reads the same key: a peer returns the committed value.
                "put_then_get" => {
                    stub.put_state(&args[1], args[2].clone().into_bytes())
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(stub
                        .get_state(&args[1])
                        .await
                        .map_err(|e| e.to_string())?
                        .unwrap_or_default())
                }
                "del" => {
                    stub.del_state(&args[1]).await.map_err(|e| e.to_string())?;
                    Ok(Vec::new())
                }
                "many_round_trips" => {
                    let mut total = 0usize;
                    for i in 0..5 {
                        let key = format!("{}-{i}", args[1]);
                        stub.put_state(&key, b"x".to_vec())
                            .await
                            .map_err(|e| e.to_string())?;
                        total += stub
                            .get_state(&args[1])
                            .await
                            .map_err(|e| e.to_string())?
                            .map_or(0, |v| v.len());
                    }
                    Ok(format!("{}:{total}", stub.tx_id()).into_bytes())
                }
                "range" => {
                    let rows = stub
                        .get_state_by_range(&args[1], &args[2])
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(rows.len().to_string().into_bytes())
                }
                "page" => {
                    let page = stub
                        .get_state_by_range_with_pagination(
                            &args[1],
                            &args[2],
                            args[3].parse().unwrap_or(1),
                            &args[4],
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                    let keys: Vec<String> = page.records.iter().map(|kv| kv.key.clone()).collect();
                    Ok(format!(
                        "{}|{}|{}",
                        keys.join(","),
                        page.fetched_records_count,
                        page.bookmark
                    )
                    .into_bytes())
                }
                "composite" => {
                    let key =
                        chaincode_shim::stub::create_composite_key("visit", &[&args[1], &args[2]])
                            .map_err(|e| e.to_string())?;
                    stub.put_state(&key, b"v".to_vec())
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(Vec::new())
                }
                "partial" => {
                    let rows = stub
                        .get_state_by_partial_composite_key("visit", &[&args[1]])
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(rows.len().to_string().into_bytes())
                }
                "history" => {
                    let history = stub
                        .get_history_for_key(&args[1])
                        .await
                        .map_err(|e| e.to_string())?;
                    let values: Vec<String> = history.iter().map(|m| text(&m.value)).collect();
                    Ok(values.join(",").into_bytes())
                }
                "event" => {
                    stub.set_event("Happened", b"payload".to_vec())
                        .map_err(|e| e.to_string())?;
                    Ok(Vec::new())
                }
                "creator" => Ok(stub.creator().msp_id.clone().into_bytes()),
                // Reads a, b and c, moves a's value to b and deletes c.
                "transfer" => {
                    let a = stub.get_state("a").await.map_err(|e| e.to_string())?;
                    let _ = stub.get_state("b").await.map_err(|e| e.to_string())?;
                    let _ = stub.get_state("c").await.map_err(|e| e.to_string())?;
                    stub.put_state("b", a.unwrap_or_default())
                        .await
                        .map_err(|e| e.to_string())?;
                    stub.put_state("a", b"0".to_vec())
                        .await
                        .map_err(|e| e.to_string())?;
                    stub.del_state("c").await.map_err(|e| e.to_string())?;
                    Ok(Vec::new())
                }
                "first" => {
                    let rows = stub
                        .get_state_by_range_limited(
                            &args[1],
                            &args[2],
                            args[3].parse().unwrap_or(0),
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                    let keys: Vec<String> = rows.into_iter().map(|kv| kv.key).collect();
                    Ok(keys.join(",").into_bytes())
                }
                "page_after_write" => {
                    stub.put_state("w", b"1".to_vec())
                        .await
                        .map_err(|e| e.to_string())?;
                    stub.get_state_by_range_with_pagination("", "", 10, "")
                        .await
                        .map_err(|e| format!("400:{e}"))?;
                    Ok(Vec::new())
                }
                "set_policy" => {
                    stub.set_state_validation_parameter(&args[1], args[2].clone().into_bytes())
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(Vec::new())
                }
                "get_policy" => {
                    let metadata = stub
                        .get_state_metadata(&args[1])
                        .await
                        .map_err(|e| e.to_string())?;
                    let policy = stub
                        .get_state_validation_parameter(&args[1])
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(
                        format!("{}|{}", metadata.len(), text(&policy.unwrap_or_default()))
                            .into_bytes(),
                    )
                }
                "bad_request" => Err("400:the request is bad".to_owned()),
                "panic" => panic!("deliberate panic"),
                "slow" => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok(b"slow done".to_vec())
                }
                other => Err(format!("400:unknown function {other}")),
            }
        }
        .await;
        match result {
            Ok(payload) => success(payload),
            Err(message) => match message.split_once(':') {
                Some(("400", text)) => error(400, text),
                _ => error(500, message),
            },
        }
    }
}

struct Harness {
    connection: Connection,
    ledger: Arc<MemoryLedger>,
    identity: Identity,
    signer: EcdsaP256Signer,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn test_identity() -> (Identity, EcdsaP256Signer) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let signer = EcdsaP256Signer::from_pkcs8_pem(key.serialize_pem().as_bytes()).unwrap();
    (
        Identity {
            msp_id: "Org1MSP".to_owned(),
            cert_pem: cert.pem().into_bytes(),
        },
        signer,
    )
}

async fn start_server(
    chaincode_id: &str,
    tls: Option<TlsSettings>,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig {
        address: listener.local_addr().unwrap(),
        chaincode_id: chaincode_id.to_owned(),
        tls,
    };
    tokio::spawn(serve_with_listener(listener, config, TestContract, async {
        let _ = stop.await;
    }));
    (address, shutdown)
}

async fn harness() -> Harness {
    let (address, shutdown) = start_server("test:1", None).await;
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let connection = Connection::connect(channel, "test:1", Duration::from_secs(10))
        .await
        .unwrap();
    Harness::over(connection, shutdown)
}

impl Harness {
    fn over(connection: Connection, shutdown: tokio::sync::oneshot::Sender<()>) -> Self {
        let (identity, signer) = test_identity();
        Harness {
            connection,
            ledger: Arc::new(MemoryLedger::new()),
            identity,
            signer,
            _shutdown: shutdown,
        }
    }

    fn invocation(&self, args: &[&str]) -> Invocation {
        let spec = ProposalSpec {
            channel: "reciprocal".to_owned(),
            chaincode: "test".to_owned(),
            function: args[0].to_owned(),
            args: args[1..]
                .iter()
                .map(|arg| arg.as_bytes().to_vec())
                .collect(),
            transient: Default::default(),
        };
        let bundle =
            build_signed_proposal(&spec, &self.identity.serialize(), &self.signer).unwrap();
        Invocation {
            channel_id: "reciprocal".to_owned(),
            tx_id: bundle.tx_id,
            signed_proposal: bundle.signed,
            input: ChaincodeInput {
                args: args.iter().map(|arg| arg.as_bytes().to_vec()).collect(),
                decorations: Default::default(),
                is_init: false,
            },
            is_init: false,
        }
    }

    async fn run(&self, args: &[&str]) -> chaincode_driver::SimulationResult {
        self.connection
            .execute(
                self.invocation(args),
                "test",
                self.ledger.as_ref() as &dyn LedgerView,
            )
            .await
            .unwrap()
    }

    fn seed(&self, key: &str, value: &str, block: u64) {
        self.ledger.put(
            "test",
            key,
            value.as_bytes(),
            Version {
                block_num: block,
                tx_num: 0,
            },
            "seed",
        );
    }
}

fn kv(result: &chaincode_driver::SimulationResult) -> KvrwSet {
    KvrwSet::decode(result.rwset.ns_rwset[0].rwset.as_slice()).unwrap()
}

#[tokio::test]
async fn state_round_trips_record_the_read_write_set() {
    let harness = harness().await;
    harness.seed("a", "committed", 3);
    let result = harness.run(&["put_then_get", "a", "new"]).await;
    assert_eq!(result.response.status, 200);
    // No read-your-own-writes: the read returns the committed value.
    assert_eq!(result.response.payload, b"committed");
    let set = kv(&result);
    assert_eq!(set.reads.len(), 1);
    assert_eq!(set.reads[0].key, "a");
    assert_eq!(
        set.reads[0].version,
        Some(Version {
            block_num: 3,
            tx_num: 0
        })
    );
    assert_eq!(set.writes.len(), 1);
    assert_eq!(
        (
            set.writes[0].key.as_str(),
            set.writes[0].value.as_slice(),
            set.writes[0].is_delete
        ),
        ("a", &b"new"[..], false)
    );

    let missing = harness.run(&["get", "nothing"]).await;
    assert_eq!(kv(&missing).reads[0].version, None);

    let deleted = harness.run(&["del", "a"]).await;
    assert!(kv(&deleted).writes[0].is_delete);
    // An empty value is a delete, as on a peer.
    let empty = harness.run(&["put", "a", ""]).await;
    assert!(kv(&empty).writes[0].is_delete);
}

#[tokio::test]
async fn concurrent_transactions_interleave_on_one_stream() {
    let harness = Arc::new(harness().await);
    harness.seed("shared", "xyz", 1);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let harness = Arc::clone(&harness);
        tasks.push(tokio::spawn(async move {
            let invocation = harness.invocation(&["many_round_trips", "shared"]);
            let tx_id = invocation.tx_id.clone();
            let result = harness
                .connection
                .execute(
                    invocation,
                    "test",
                    harness.ledger.as_ref() as &dyn LedgerView,
                )
                .await
                .unwrap();
            (i, tx_id, result)
        }));
    }
    for task in tasks {
        let (_, tx_id, result) = task.await.unwrap();
        // Each transaction saw its own id and the committed value on each of its five reads.
        assert_eq!(result.response.payload, format!("{tx_id}:15").into_bytes());
        assert_eq!(kv(&result).writes.len(), 5);
    }
}

#[tokio::test]
async fn ranges_beyond_one_batch_and_pagination() {
    let harness = harness().await;
    for i in 0..250 {
        harness.seed(&format!("k{i:03}"), "v", 2);
    }
    let result = harness.run(&["range", "k000", "k999"]).await;
    assert_eq!(result.response.payload, b"250");
    let set = kv(&result);
    let info = &set.range_queries_info[0];
    assert!(info.itr_exhausted);
    // More than 50 reads: the peer records a Merkle summary of them instead of the reads.
    let mut expected = RangeReadsBuilder::default();
    for i in 0..250 {
        expected.add(
            format!("k{i:03}"),
            Version {
                block_num: 2,
                tx_num: 0,
            },
        );
    }
    assert_eq!(info.reads_info, expected.finish());
    assert!(matches!(
        info.reads_info,
        Some(range_query_info::ReadsInfo::ReadsMerkleHashes(_))
    ));

    let first = harness.run(&["page", "k000", "k999", "100", ""]).await;
    let first = text(&first.response.payload);
    let parts: Vec<&str> = first.split('|').collect();
    assert_eq!(parts[0].split(',').count(), 100);
    assert_eq!(parts[1], "100");
    assert_eq!(parts[2], "k100");
    let last = harness.run(&["page", "k000", "k999", "100", "k200"]).await;
    let last = text(&last.response.payload);
    let parts: Vec<&str> = last.split('|').collect();
    assert_eq!(parts[0].split(',').count(), 50);
    assert_eq!(parts[2], "", "exhausted range has no bookmark");
}

#[tokio::test]
async fn composite_keys_history_events_and_identity() {
    let harness = harness().await;
    let composite = harness.run(&["composite", "club-a", "2026-12"]).await;
    let key = kv(&composite).writes[0].key.clone();
    assert_eq!(key, "\u{0}visit\u{0}club-a\u{0}2026-12\u{0}");
    harness.ledger.commit(
        &composite.rwset,
        Version {
            block_num: 5,
            tx_num: 0,
        },
        "t1",
    );
    let other = harness.run(&["composite", "club-b", "2026-12"]).await;
    harness.ledger.commit(
        &other.rwset,
        Version {
            block_num: 6,
            tx_num: 0,
        },
        "t2",
    );
    assert_eq!(
        harness.run(&["partial", "club-a"]).await.response.payload,
        b"1"
    );
    // A plain range from "" skips composite keys (they start with U+0000).
    assert_eq!(harness.run(&["range", "", ""]).await.response.payload, b"0");

    harness.seed("h", "one", 1);
    harness.seed("h", "two", 2);
    assert_eq!(
        harness.run(&["history", "h"]).await.response.payload,
        b"two,one"
    );

    let event = harness.run(&["event"]).await;
    let event = event.event.unwrap();
    assert_eq!(
        (event.event_name.as_str(), event.payload.as_slice()),
        ("Happened", &b"payload"[..])
    );
    assert_eq!(harness.run(&["creator"]).await.response.payload, b"Org1MSP");
}

#[tokio::test]
async fn errors_and_panics_fail_only_their_transaction() {
    let harness = harness().await;
    let bad = harness.run(&["bad_request"]).await;
    assert_eq!(
        (bad.response.status, bad.response.message.as_str()),
        (400, "the request is bad")
    );
    let panicked = harness.run(&["panic"]).await;
    assert_eq!(panicked.response.status, 500);
    assert!(panicked.response.message.contains("panicked"));
    // The stream survives: the next transaction works.
    harness.seed("after", "fine", 1);
    assert_eq!(
        harness.run(&["get", "after"]).await.response.payload,
        b"fine"
    );
}

#[tokio::test]
async fn same_transaction_twice_is_byte_identical() {
    let harness = harness().await;
    harness.seed("a", "1", 1);
    let invocation = harness.invocation(&["put_then_get", "a", "2"]);
    let ledger = harness.ledger.as_ref() as &dyn LedgerView;
    let first = harness
        .connection
        .execute(invocation.clone(), "test", ledger)
        .await
        .unwrap();
    let second = harness
        .connection
        .execute(invocation, "test", ledger)
        .await
        .unwrap();
    assert_eq!(
        first.response.encode_to_vec(),
        second.response.encode_to_vec()
    );
    assert_eq!(first.rwset.encode_to_vec(), second.rwset.encode_to_vec());
}

#[tokio::test]
async fn a_wrong_package_id_is_refused() {
    let (address, _shutdown) = start_server("test:1", None).await;
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let error = Connection::connect(channel, "test:2", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        DriverError::WrongChaincodeId {
            expected: "test:2".to_owned(),
            got: "test:1".to_owned()
        }
    );
}

#[tokio::test]
async fn a_proposal_that_does_not_decode_fails_the_transaction() {
    let harness = harness().await;
    let mut invocation = harness.invocation(&["get", "a"]);
    invocation.signed_proposal = SignedProposal {
        proposal_bytes: vec![0xff, 0xff, 0xff],
        signature: Vec::new(),
    };
    let error = harness
        .connection
        .execute(
            invocation,
            "test",
            harness.ledger.as_ref() as &dyn LedgerView,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, DriverError::Failed(ref text) if text.contains("malformed signed proposal")),
        "{error}"
    );
    // And the stream is still usable.
    harness.seed("a", "ok", 1);
    assert_eq!(harness.run(&["get", "a"]).await.response.payload, b"ok");
}

#[tokio::test]
async fn tls_and_mutual_tls_negotiate_h2() {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let issue = |name: &str| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = issue("localhost");
    let (client_cert, client_key) = issue("peer0");
    let tls = TlsSettings {
        cert_pem: server_cert.into_bytes(),
        key_pem: server_key.into_bytes(),
        client_ca_pem: Some(ca_cert.pem().into_bytes()),
    };
    let (address, shutdown) = start_server("tls:1", Some(tls)).await;
    let port = address.rsplit(':').next().unwrap();
    let client_tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca_cert.pem()))
        .domain_name("localhost");
    // Without a client certificate, mutual TLS refuses the peer.
    let refused = async {
        let channel: Channel = Endpoint::from_shared(format!("https://localhost:{port}"))?
            .tls_config(client_tls.clone())?
            .connect()
            .await?;
        Connection::connect(channel, "tls:1", Duration::from_secs(5))
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
    }
    .await;
    assert!(refused.is_err());
    let channel = Endpoint::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(client_tls.identity(tonic::transport::Identity::from_pem(
            client_cert,
            client_key,
        )))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let connection = Connection::connect(channel, "tls:1", Duration::from_secs(5))
        .await
        .unwrap();
    let harness = Harness::over(connection, shutdown);
    harness.seed("a", "over mutual TLS", 1);
    assert_eq!(
        harness.run(&["get", "a"]).await.response.payload,
        b"over mutual TLS"
    );
}

#[tokio::test]
async fn a_self_signed_server_certificate_serves_over_tls() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let tls = TlsSettings {
        cert_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
        client_ca_pem: None,
    };
    let (address, shutdown) = start_server("tls:1", Some(tls)).await;
    let port = address.rsplit(':').next().unwrap();
    // tonic's client refuses a TLS server that does not negotiate ALPN h2, as the peer's gRPC client does.
    let client_tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(cert.pem()))
        .domain_name("localhost");
    let channel = Endpoint::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(client_tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let connection = Connection::connect(channel, "tls:1", Duration::from_secs(5))
        .await
        .unwrap();
    let harness = Harness::over(connection, shutdown);
    harness.seed("a", "over TLS", 1);
    assert_eq!(
        harness.run(&["get", "a"]).await.response.payload,
        b"over TLS"
    );
}

#[tokio::test]
async fn the_read_write_set_of_a_known_transaction_is_exact() {
    let harness = harness().await;
    harness.ledger.put(
        "test",
        "a",
        b"10",
        Version {
            block_num: 2,
            tx_num: 1,
        },
        "seed",
    );
    harness.seed("b", "5", 3);
    let result = harness.run(&["transfer"]).await;
    assert_eq!(result.response.status, 200);
    let read = |key: &str, version: Option<(u64, u64)>| KvRead {
        key: key.to_owned(),
        version: version.map(|(block_num, tx_num)| Version { block_num, tx_num }),
    };
    let write = |key: &str, value: &[u8]| KvWrite {
        key: key.to_owned(),
        is_delete: value.is_empty(),
        value: value.to_vec(),
    };
    let expected = TxReadWriteSet {
        data_model: tx_read_write_set::DataModel::Kv as i32,
        ns_rwset: vec![NsReadWriteSet {
            namespace: "test".to_owned(),
            rwset: KvrwSet {
                reads: vec![
                    read("a", Some((2, 1))),
                    read("b", Some((3, 0))),
                    read("c", None),
                ],
                range_queries_info: Vec::new(),
                writes: vec![write("a", b"0"), write("b", b"10"), write("c", b"")],
                metadata_writes: Vec::new(),
            }
            .encode_to_vec(),
            collection_hashed_rwset: Vec::new(),
        }],
    };
    assert_eq!(result.rwset, expected);
    assert_eq!(result.rwset.encode_to_vec(), expected.encode_to_vec());
}

#[tokio::test]
async fn key_level_endorsement_policies_go_through_state_metadata() {
    let harness = harness().await;
    harness.seed("asset", "v", 4);
    let set = harness.run(&["set_policy", "asset", "POLICY"]).await;
    assert_eq!(set.response.status, 200);
    assert_eq!(
        kv(&set).metadata_writes,
        vec![KvMetadataWrite {
            key: "asset".to_owned(),
            entries: vec![KvMetadataEntry {
                name: "VALIDATION_PARAMETER".to_owned(),
                value: b"POLICY".to_vec(),
            }],
        }]
    );
    let committed = Version {
        block_num: 5,
        tx_num: 0,
    };
    harness.ledger.commit(&set.rwset, committed, "t5");
    let get = harness.run(&["get_policy", "asset"]).await;
    assert_eq!(text(&get.response.payload), "1|POLICY");
    // Reading metadata reads the key: recorded with the version the metadata write gave it.
    assert_eq!(kv(&get).reads[0].version, Some(committed));
    let none = harness.run(&["get_policy", "plain"]).await;
    assert_eq!(text(&none.response.payload), "0|");
}

#[tokio::test]
async fn a_paginated_query_after_a_write_is_refused_by_the_peer() {
    let harness = harness().await;
    let result = harness.run(&["page_after_write"]).await;
    assert_eq!(result.response.status, 400);
    assert!(
        result.response.message.contains("read-only"),
        "{}",
        result.response.message
    );
}

#[tokio::test]
async fn a_range_read_in_part_releases_the_peer_iterator() {
    let harness = harness().await;
    for i in 0..250 {
        harness.seed(&format!("k{i:03}"), "v", 2);
    }
    let result = harness.run(&["first", "k000", "k999", "3"]).await;
    assert_eq!(result.response.status, 200);
    assert_eq!(text(&result.response.payload), "k000,k001,k002");
    let set = kv(&result);
    let [info] = set.range_queries_info.as_slice() else {
        panic!("one range query");
    };
    // The shim stopped after the first batch; the peer had read one key beyond it.
    assert!(!info.itr_exhausted);
    assert_eq!(info.end_key, "k100");

    // Simple-key range bounds must not start with U+0000 (the composite-key prefix).
    let refused = harness.run(&["range", "\u{0}visit", ""]).await;
    assert_eq!(refused.response.status, 500);
    assert!(
        refused.response.message.contains("composite keys"),
        "{}",
        refused.response.message
    );
}

#[tokio::test]
async fn init_runs_and_a_failed_init_is_an_error() {
    let harness = harness().await;
    let mut init = harness.invocation(&["ok"]);
    init.is_init = true;
    let ledger = harness.ledger.as_ref() as &dyn LedgerView;
    let done = harness
        .connection
        .execute(init, "test", ledger)
        .await
        .unwrap();
    assert_eq!(done.response.payload, b"initialised");
    let mut failing = harness.invocation(&["fail"]);
    failing.is_init = true;
    let error = harness
        .connection
        .execute(failing, "test", ledger)
        .await
        .unwrap_err();
    assert_eq!(error, DriverError::Failed("init refused".to_owned()));
}
