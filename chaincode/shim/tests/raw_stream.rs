//! The shim's messages on the wire, checked one by one with a hand-driven peer stream: the handshake
//! (including a Fabric 3.1 READY payload), the channel and transaction id on every message, KEEPALIVE,
//! a duplicate transaction, protocol violations and the drain on shutdown.

use std::time::Duration;

use chaincode_shim::server::{ServerConfig, serve_with_listener};
use chaincode_shim::{Chaincode, ChaincodeStub, error, success};
use fabric_protos::protos::chaincode_client::ChaincodeClient;
use fabric_protos::protos::chaincode_message::Type;
use fabric_protos::protos::{
    ChaincodeAdditionalParams, ChaincodeId, ChaincodeInput, ChaincodeMessage, GetState,
    GetStateByRange, QueryResponse, QueryResultBytes, QueryStateClose, Response,
};
use fabric_protos::queryresult::Kv;
use fabric_sdk::gateway::{ProposalSpec, build_signed_proposal};
use fabric_sdk::identity::Identity;
use fabric_sdk::signer::EcdsaP256Signer;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tonic::Streaming;
use tonic::transport::Endpoint;

const CHANNEL: &str = "reciprocal";

/// Returns the value of the key named by the first argument; `first2` returns the first two keys of
/// the whole simple-key range.
#[derive(Debug)]
struct Echo;

impl Chaincode for Echo {
    async fn init<S: ChaincodeStub>(&self, _stub: &mut S) -> Response {
        success(Vec::new())
    }

    async fn invoke<S: ChaincodeStub>(&self, stub: &mut S) -> Response {
        let key = String::from_utf8_lossy(stub.args().first().map_or(&[][..], Vec::as_slice))
            .into_owned();
        if key == "first2" {
            return match stub.get_state_by_range_limited("", "", 2).await {
                Ok(rows) => {
                    let keys: Vec<String> = rows.into_iter().map(|row| row.key).collect();
                    success(keys.join(",").into_bytes())
                }
                Err(failure) => error(500, failure.to_string()),
            };
        }
        match stub.get_state(&key).await {
            Ok(value) => success(value.unwrap_or_default()),
            Err(failure) => error(500, failure.to_string()),
        }
    }
}

/// The peer's end of one Connect stream.
struct Peer {
    outbound: mpsc::Sender<ChaincodeMessage>,
    inbound: Streaming<ChaincodeMessage>,
    identity: Identity,
    signer: EcdsaP256Signer,
}

impl Peer {
    async fn send(&self, message: ChaincodeMessage) {
        self.outbound.send(message).await.unwrap();
    }

    /// The next message, or `None` once the shim has ended the stream.
    async fn next(&mut self) -> Option<ChaincodeMessage> {
        tokio::time::timeout(Duration::from_secs(10), self.inbound.message())
            .await
            .expect("the shim answers within 10 s")
            .ok()
            .flatten()
    }

    async fn expect(&mut self, kind: Type) -> ChaincodeMessage {
        let received = self.next().await.expect("stream open");
        assert_eq!(
            Type::try_from(received.r#type).unwrap(),
            kind,
            "payload {:?}",
            String::from_utf8_lossy(&received.payload)
        );
        received
    }

    /// REGISTER → REGISTERED → READY (with `ready_payload`).
    async fn handshake(&mut self, ready_payload: Vec<u8>) {
        self.expect(Type::Register).await;
        self.send(ChaincodeMessage::for_transaction(
            Type::Registered,
            Vec::new(),
            "",
            "",
        ))
        .await;
        self.send(ChaincodeMessage::for_transaction(
            Type::Ready,
            ready_payload,
            "",
            "",
        ))
        .await;
    }

    /// A TRANSACTION reading `key`, with a real signed proposal; returns it and its transaction id.
    fn transaction(&self, key: &str) -> (ChaincodeMessage, String) {
        let spec = ProposalSpec {
            channel: CHANNEL.to_owned(),
            chaincode: "echo".to_owned(),
            function: key.to_owned(),
            args: Vec::new(),
            transient: Default::default(),
        };
        let bundle =
            build_signed_proposal(&spec, &self.identity.serialize(), &self.signer).unwrap();
        let input = ChaincodeInput {
            args: vec![key.as_bytes().to_vec()],
            ..Default::default()
        };
        let mut message = ChaincodeMessage::for_transaction(
            Type::Transaction,
            input.encode_to_vec(),
            CHANNEL,
            &bundle.tx_id,
        );
        message.proposal = Some(bundle.signed);
        (message, bundle.tx_id)
    }
}

type Server = tokio::task::JoinHandle<Result<(), chaincode_shim::server::ServerError>>;

async fn start() -> (Peer, oneshot::Sender<()>, Server, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = ServerConfig {
        address,
        chaincode_id: "echo:1".to_owned(),
        tls: None,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_listener(listener, config, Echo, async {
        let _ = stopped.await;
    }));
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let (outbound, receiver) = mpsc::channel(16);
    let inbound = ChaincodeClient::new(channel)
        .connect(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .unwrap()
        .into_inner();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let peer = Peer {
        outbound,
        inbound,
        identity: Identity {
            msp_id: "Org1MSP".to_owned(),
            cert_pem: cert.pem().into_bytes(),
        },
        signer: EcdsaP256Signer::from_pkcs8_pem(key.serialize_pem().as_bytes()).unwrap(),
    };
    (peer, stop, server, address)
}

/// Waits until the server no longer accepts connections, i.e. it has seen the shutdown signal.
async fn wait_until_refusing(address: std::net::SocketAddr) {
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(address).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server still accepts connections after the shutdown signal");
}

fn response(bytes: &[u8]) -> Response {
    Response::decode(bytes).unwrap()
}

#[tokio::test]
async fn every_message_carries_the_channel_and_transaction_id() {
    let (mut peer, _stop, _server, _) = start().await;
    let register = peer.expect(Type::Register).await;
    assert_eq!(
        ChaincodeId::decode(register.payload.as_slice())
            .unwrap()
            .name,
        "echo:1"
    );
    assert_eq!(
        (register.txid.as_str(), register.channel_id.as_str()),
        ("", "")
    );
    peer.send(ChaincodeMessage::for_transaction(
        Type::Registered,
        Vec::new(),
        "",
        "",
    ))
    .await;
    // A Fabric 3.1 peer offers batched reads and writes; the shim must keep to the 2.5 messages anyway.
    let params = ChaincodeAdditionalParams {
        use_write_batch: true,
        max_size_write_batch: 1000,
        use_get_multiple_keys: true,
        max_size_get_multiple_keys: 1000,
    };
    peer.send(ChaincodeMessage::for_transaction(
        Type::Ready,
        params.encode_to_vec(),
        "",
        "",
    ))
    .await;
    peer.send(ChaincodeMessage::for_transaction(
        Type::Keepalive,
        Vec::new(),
        "",
        "",
    ))
    .await;
    peer.expect(Type::Keepalive).await;

    let (transaction, txid) = peer.transaction("greeting");
    peer.send(transaction).await;
    let request = peer.expect(Type::GetState).await;
    assert_eq!(
        (request.channel_id.as_str(), request.txid.as_str()),
        (CHANNEL, txid.as_str())
    );
    assert_eq!(
        GetState::decode(request.payload.as_slice()).unwrap(),
        GetState {
            key: "greeting".to_owned(),
            collection: String::new()
        }
    );
    peer.send(ChaincodeMessage::for_transaction(
        Type::Response,
        b"hello".to_vec(),
        CHANNEL,
        &txid,
    ))
    .await;
    let completed = peer.expect(Type::Completed).await;
    assert_eq!(
        (completed.channel_id.as_str(), completed.txid.as_str()),
        (CHANNEL, txid.as_str())
    );
    let answer = response(&completed.payload);
    assert_eq!(
        (answer.status, answer.payload.as_slice()),
        (200, &b"hello"[..])
    );
}

#[tokio::test]
async fn a_duplicate_transaction_in_flight_is_refused() {
    let (mut peer, _stop, _server, _) = start().await;
    peer.handshake(Vec::new()).await;
    let (transaction, txid) = peer.transaction("k");
    peer.send(transaction.clone()).await;
    peer.expect(Type::GetState).await;
    // The first execution is waiting for its GET_STATE answer: the same (channel, txid) again is refused.
    peer.send(transaction).await;
    let refused = peer.expect(Type::Error).await;
    assert_eq!(refused.txid, txid);
    assert!(String::from_utf8_lossy(&refused.payload).contains("in progress"));
    peer.send(ChaincodeMessage::for_transaction(
        Type::Response,
        b"v".to_vec(),
        CHANNEL,
        &txid,
    ))
    .await;
    let completed = peer.expect(Type::Completed).await;
    assert_eq!(response(&completed.payload).payload, b"v");
}

#[tokio::test]
async fn a_message_out_of_place_ends_the_stream_with_an_error() {
    // READY before REGISTERED.
    let (mut peer, _stop, _server, _) = start().await;
    peer.expect(Type::Register).await;
    peer.send(ChaincodeMessage::for_transaction(
        Type::Ready,
        Vec::new(),
        "",
        "",
    ))
    .await;
    let error = peer.expect(Type::Error).await;
    assert!(String::from_utf8_lossy(&error.payload).contains("READY"));
    assert!(peer.next().await.is_none(), "the stream ends");

    // A second REGISTERED once ready.
    let (mut peer, _stop, _server, _) = start().await;
    peer.handshake(Vec::new()).await;
    peer.send(ChaincodeMessage::for_transaction(
        Type::Registered,
        Vec::new(),
        "",
        "",
    ))
    .await;
    let error = peer.expect(Type::Error).await;
    assert!(String::from_utf8_lossy(&error.payload).contains("REGISTERED"));
    assert!(peer.next().await.is_none(), "the stream ends");
}

#[tokio::test]
async fn shutdown_lets_the_transaction_in_flight_finish() {
    let (mut peer, stop, server, address) = start().await;
    peer.handshake(Vec::new()).await;
    let (transaction, txid) = peer.transaction("k");
    peer.send(transaction).await;
    peer.expect(Type::GetState).await;
    stop.send(()).unwrap();
    wait_until_refusing(address).await;
    // Draining: a new transaction is refused, the one in flight still completes.
    let (late, late_txid) = peer.transaction("other");
    peer.send(late).await;
    let refused = peer.expect(Type::Error).await;
    assert_eq!(refused.txid, late_txid);
    assert!(String::from_utf8_lossy(&refused.payload).contains("shutting down"));
    peer.send(ChaincodeMessage::for_transaction(
        Type::Response,
        b"late".to_vec(),
        CHANNEL,
        &txid,
    ))
    .await;
    let completed = peer.expect(Type::Completed).await;
    assert_eq!(response(&completed.payload).payload, b"late");
    assert!(peer.next().await.is_none(), "the drained stream ends");
    drop(peer);
    let served = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops once drained")
        .unwrap();
    assert!(served.is_ok());
}

#[tokio::test]
async fn a_scan_stopped_early_closes_the_peer_iterator() {
    let (mut peer, _stop, _server, _) = start().await;
    peer.handshake(Vec::new()).await;
    let (transaction, txid) = peer.transaction("first2");
    peer.send(transaction).await;
    let request = peer.expect(Type::GetStateByRange).await;
    let range = GetStateByRange::decode(request.payload.as_slice()).unwrap();
    // An empty start key is sent as U+0001 so composite keys stay out of simple-key ranges.
    assert_eq!(
        (range.start_key.as_str(), range.end_key.as_str()),
        ("\u{1}", "")
    );
    assert!(range.metadata.is_empty(), "not paginated");
    let batch = QueryResponse {
        results: ["a", "b", "c"]
            .iter()
            .map(|key| QueryResultBytes {
                result_bytes: Kv {
                    namespace: "echo".to_owned(),
                    key: (*key).to_owned(),
                    value: b"v".to_vec(),
                }
                .encode_to_vec(),
            })
            .collect(),
        has_more: true,
        id: "iterator-1".to_owned(),
        metadata: Vec::new(),
    };
    peer.send(ChaincodeMessage::for_transaction(
        Type::Response,
        batch.encode_to_vec(),
        CHANNEL,
        &txid,
    ))
    .await;
    let close = peer.expect(Type::QueryStateClose).await;
    assert_eq!(
        QueryStateClose::decode(close.payload.as_slice())
            .unwrap()
            .id,
        "iterator-1"
    );
    let closed = QueryResponse {
        id: "iterator-1".to_owned(),
        ..Default::default()
    };
    peer.send(ChaincodeMessage::for_transaction(
        Type::Response,
        closed.encode_to_vec(),
        CHANNEL,
        &txid,
    ))
    .await;
    let completed = peer.expect(Type::Completed).await;
    assert_eq!(response(&completed.payload).payload, b"a,b");
}
