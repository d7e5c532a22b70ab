//! The driver enforces the peer's side of the protocol against a chaincode that misbehaves: a scripted
//! chaincode server sends exactly the messages each test needs over a real gRPC stream.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chaincode_driver::{
    Connection, DriverError, Invocation, LedgerView, MemoryLedger, VersionedValue,
};
use fabric_protos::protos::chaincode_message::Type;
use fabric_protos::protos::chaincode_server::{Chaincode, ChaincodeServer};
use fabric_protos::protos::{
    ChaincodeId, ChaincodeInput, ChaincodeMessage, GetState, SignedProposal,
};
use fabric_protos::queryresult::KeyModification;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::Streaming;
use tonic::transport::{Endpoint, Server};

/// What the scripted chaincode does.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Opens with COMPLETED instead of REGISTER.
    NoRegister,
    /// Answers a TRANSACTION with two GET_STATE requests at once.
    TwoRequestsAtOnce,
    /// Answers a TRANSACTION with a message type a 2.5/3.0 peer does not know in ready state.
    BatchWrite,
    /// After READY, sends a GET_STATE for a transaction the peer is not running, and reports the answer.
    StrayRequest,
}

#[derive(Debug)]
struct Scripted {
    script: Script,
    /// Messages the chaincode received after the handshake, for the test to inspect.
    seen: mpsc::UnboundedSender<ChaincodeMessage>,
}

fn message(kind: Type, payload: Vec<u8>, channel_id: &str, txid: &str) -> ChaincodeMessage {
    ChaincodeMessage::for_transaction(kind, payload, channel_id, txid)
}

fn get_state(key: &str, channel_id: &str, txid: &str) -> ChaincodeMessage {
    let request = GetState {
        key: key.to_owned(),
        collection: String::new(),
    };
    message(Type::GetState, request.encode_to_vec(), channel_id, txid)
}

async fn play(
    script: Script,
    mut inbound: Streaming<ChaincodeMessage>,
    outbound: mpsc::Sender<ChaincodeMessage>,
    seen: mpsc::UnboundedSender<ChaincodeMessage>,
) {
    let register = ChaincodeId {
        name: "cc:1".to_owned(),
        ..Default::default()
    };
    let first = match script {
        Script::NoRegister => message(Type::Completed, Vec::new(), "", ""),
        _ => message(Type::Register, register.encode_to_vec(), "", ""),
    };
    if outbound.send(first).await.is_err() {
        return;
    }
    while let Some(Ok(received)) = inbound.next().await {
        let kind = Type::try_from(received.r#type).unwrap_or(Type::Undefined);
        let (channel, txid) = (received.channel_id.clone(), received.txid.clone());
        let _ = seen.send(received);
        match (script, kind) {
            (Script::StrayRequest, Type::Ready) => {
                let _ = outbound.send(get_state("k", "ch", "ghost")).await;
            }
            (Script::TwoRequestsAtOnce, Type::Transaction) => {
                let _ = outbound.send(get_state("a", &channel, &txid)).await;
                let _ = outbound.send(get_state("b", &channel, &txid)).await;
            }
            (Script::BatchWrite, Type::Transaction) => {
                let _ = outbound
                    .send(ChaincodeMessage {
                        r#type: 24,
                        ..message(Type::Undefined, Vec::new(), &channel, &txid)
                    })
                    .await;
            }
            _ => {}
        }
    }
}

#[tonic::async_trait]
impl Chaincode for Scripted {
    type ConnectStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Send>>;

    async fn connect(
        &self,
        request: tonic::Request<Streaming<ChaincodeMessage>>,
    ) -> Result<tonic::Response<Self::ConnectStream>, tonic::Status> {
        let (outbound, receiver) = mpsc::channel(16);
        tokio::spawn(play(
            self.script,
            request.into_inner(),
            outbound,
            self.seen.clone(),
        ));
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver).map(Ok);
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}

async fn start(script: Script) -> (Endpoint, mpsc::UnboundedReceiver<ChaincodeMessage>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (seen, observed) = mpsc::unbounded_channel();
    let service = ChaincodeServer::new(Scripted { script, seen });
    tokio::spawn(
        Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let endpoint = Endpoint::from_shared(format!("http://{address}")).unwrap();
    (endpoint, observed)
}

async fn connect(endpoint: &Endpoint) -> Result<Connection, DriverError> {
    let channel = endpoint.connect().await.unwrap();
    Connection::connect(channel, "cc:1", Duration::from_secs(10)).await
}

fn invocation(tx_id: &str) -> Invocation {
    Invocation {
        channel_id: "ch".to_owned(),
        tx_id: tx_id.to_owned(),
        signed_proposal: SignedProposal::default(),
        input: ChaincodeInput::default(),
        is_init: false,
    }
}

/// A ledger slow enough to answer that a second request surely arrives while the first is served.
struct SlowLedger(MemoryLedger);

impl LedgerView for SlowLedger {
    fn get_state(&self, namespace: &str, key: &str) -> Option<VersionedValue> {
        std::thread::sleep(Duration::from_millis(300));
        self.0.get_state(namespace, key)
    }
    fn get_metadata(&self, namespace: &str, key: &str) -> BTreeMap<String, Vec<u8>> {
        self.0.get_metadata(namespace, key)
    }
    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Vec<(String, VersionedValue)> {
        self.0.range(namespace, start, end, limit)
    }
    fn history(&self, namespace: &str, key: &str) -> Result<Vec<KeyModification>, String> {
        self.0.history(namespace, key)
    }
}

#[tokio::test]
async fn a_chaincode_that_does_not_register_first_is_refused() {
    let (endpoint, _) = start(Script::NoRegister).await;
    let error = connect(&endpoint).await.unwrap_err();
    assert!(
        matches!(&error, DriverError::Protocol(text) if text.contains("expected REGISTER, got COMPLETED")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_request_while_one_is_pending_fails_the_simulation() {
    let (endpoint, mut observed) = start(Script::TwoRequestsAtOnce).await;
    let connection = connect(&endpoint).await.unwrap();
    let ledger = Arc::new(SlowLedger(MemoryLedger::new()));
    let error = connection
        .execute(invocation("tx1"), "cc", ledger.as_ref())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        DriverError::ConcurrentRequest {
            tx_id: "tx1".to_owned(),
            request: "GET_STATE".to_owned()
        }
    );
    // The chaincode got an answer to each request: RESPONSE for the first, ERROR for the overlapping one.
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let received = observed.recv().await.unwrap();
        if received.txid == "tx1" && received.r#type != Type::Transaction as i32 {
            answers.push(received);
        }
    }
    assert_eq!(answers[0].r#type, Type::Response as i32);
    assert_eq!(answers[1].r#type, Type::Error as i32);
    assert!(String::from_utf8_lossy(&answers[1].payload).contains("another request is pending"));
    assert!(!connection.is_closed());
}

#[tokio::test]
async fn an_unknown_message_type_ends_the_stream() {
    let (endpoint, _) = start(Script::BatchWrite).await;
    let connection = connect(&endpoint).await.unwrap();
    let ledger = MemoryLedger::new();
    let error = connection
        .execute(invocation("tx1"), "cc", &ledger)
        .await
        .unwrap_err();
    assert_eq!(error, DriverError::Closed);
    assert!(connection.is_closed());
    assert_eq!(
        connection
            .execute(invocation("tx2"), "cc", &ledger)
            .await
            .unwrap_err(),
        DriverError::Closed
    );
}

#[tokio::test]
async fn a_request_for_no_running_transaction_gets_an_error() {
    let (endpoint, mut observed) = start(Script::StrayRequest).await;
    let _connection = connect(&endpoint).await.unwrap();
    let answer = loop {
        let received = observed.recv().await.unwrap();
        if received.txid == "ghost" {
            break received;
        }
    };
    assert_eq!(answer.r#type, Type::Error as i32);
    assert_eq!(answer.channel_id, "ch");
    assert_eq!(
        String::from_utf8_lossy(&answer.payload),
        "GET_STATE failed: transaction ID: ghost: no ledger context"
    );
}
