//! The peer side of Fabric's chaincode protocol: dial a chaincode server (`protos.Chaincode/Connect`), check
//! its registration, and execute transactions on the one stream — concurrently, answering each
//! transaction's state requests from a [`LedgerView`] and recording its read-write set as a Fabric peer's
//! simulator does. The dev ledger endorses with it; the shim's tests and benchmarks drive the chaincode
//! with it.
//!
//! The chaincode namespace of a read-write set is byte-identical to a peer's, including how range queries are recorded (the key the
//! peer reads ahead of each batch, Merkle summaries beyond 50 reads); [`range_query_unchanged`] is the
//! matching phantom-read check for a committer.

mod memory;
mod range_reads;
mod requests;
mod simulator;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fabric_protos::protos::chaincode_client::ChaincodeClient;
use fabric_protos::protos::chaincode_message::Type;
use fabric_protos::protos::{
    ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeMessage, Response, SignedProposal,
};
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;
use tokio::sync::mpsc;
use tonic::transport::Channel;

pub use memory::MemoryLedger;
pub use range_reads::{MAX_DEGREE, RangeReadsBuilder, range_query_unchanged};
pub use simulator::{
    BATCH_SIZE, Batch, LedgerView, SimulationError, Simulator, TOTAL_QUERY_LIMIT, VersionedValue,
};

/// Largest message exchanged with the chaincode (Fabric allows 100 MiB).
pub const MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;
/// How long the chaincode has to send REGISTER once the stream is open.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection or an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The chaincode server could not be reached.
    #[error("could not connect to the chaincode: {0}")]
    Connect(String),
    /// The chaincode registered with another package id (a peer refuses such a registration).
    #[error("chaincode registered as {got:?}, expected {expected:?}")]
    WrongChaincodeId {
        /// The id expected.
        expected: String,
        /// The id the chaincode sent.
        got: String,
    },
    /// The chaincode broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The stream to the chaincode is gone.
    #[error("the chaincode stream is closed")]
    Closed,
    /// The transaction did not complete in time.
    #[error("timeout expired while executing transaction {0}")]
    Timeout(String),
    /// The chaincode answered the transaction with ERROR.
    #[error("transaction returned with failure: {0}")]
    Failed(String),
    /// The same transaction is already executing on this connection.
    #[error("transaction {0} is already executing")]
    Duplicate(String),
    /// The chaincode sent a request before the previous one of the same transaction was answered (a
    /// peer drops the second request and the transaction hangs until it times out).
    #[error(
        "transaction {tx_id}: the chaincode sent {request} while another request of the transaction was pending"
    )]
    ConcurrentRequest {
        /// The transaction.
        tx_id: String,
        /// The type of the overlapping request.
        request: String,
    },
}

/// What the chaincode did in one simulated transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationResult {
    /// The chaincode's response.
    pub response: Response,
    /// The event it set.
    pub event: Option<ChaincodeEvent>,
    /// The read-write set recorded: the chaincode's namespace, or no namespace when the transaction
    /// neither read nor wrote.
    pub rwset: TxReadWriteSet,
}

/// A transaction to execute.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Channel.
    pub channel_id: String,
    /// Transaction id.
    pub tx_id: String,
    /// The client's signed proposal (the chaincode reads creator, timestamp and transient data from it).
    pub signed_proposal: SignedProposal,
    /// Function and arguments.
    pub input: ChaincodeInput,
    /// Send INIT instead of TRANSACTION.
    pub is_init: bool,
}

/// A message routed to a running transaction.
#[derive(Debug)]
enum Inbound {
    /// The next message of the transaction.
    Message(ChaincodeMessage),
    /// A request that arrived while the previous one was still unanswered.
    Overlapping(ChaincodeMessage),
}

/// Where the reader delivers a transaction's messages.
#[derive(Debug, Clone)]
struct Route {
    sender: mpsc::Sender<Inbound>,
    /// Set when a request is delivered, cleared just before it is answered.
    awaiting_answer: Arc<AtomicBool>,
}

type Routes = Arc<Mutex<HashMap<(String, String), Route>>>;

/// An established stream to a chaincode server. Clones share the stream; it closes when the last clone
/// is dropped or the chaincode ends it.
#[derive(Debug, Clone)]
pub struct Connection {
    outbound: mpsc::Sender<ChaincodeMessage>,
    routes: Routes,
    closed: Arc<AtomicBool>,
    execute_timeout: Duration,
}

fn message(kind: Type, payload: Vec<u8>, channel_id: &str, txid: &str) -> ChaincodeMessage {
    ChaincodeMessage::for_transaction(kind, payload, channel_id, txid)
}

fn kind_name(kind: i32) -> String {
    Type::try_from(kind).map_or_else(
        |_| format!("type {kind}"),
        |kind| kind.as_str_name().to_owned(),
    )
}

impl Connection {
    /// Opens `Connect` on `channel`, expects REGISTER with `chaincode_id`, answers REGISTERED and READY
    /// (with no payload, as a 2.5/3.0 peer: the chaincode must not use the 3.1 batch messages).
    /// `execute_timeout` bounds each transaction (Fabric's `chaincode.executetimeout`, default 30 s).
    pub async fn connect(
        channel: Channel,
        chaincode_id: &str,
        execute_timeout: Duration,
    ) -> Result<Self, DriverError> {
        let (outbound, receiver) = mpsc::channel::<ChaincodeMessage>(1024);
        let mut client = ChaincodeClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let mut inbound = client
            .connect(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
            .map_err(|status| DriverError::Connect(status.message().to_owned()))?
            .into_inner();
        let register = tokio::time::timeout(REGISTER_TIMEOUT, inbound.message())
            .await
            .map_err(|_| {
                DriverError::Protocol(format!(
                    "no REGISTER within {} s",
                    REGISTER_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|status| DriverError::Connect(status.message().to_owned()))?
            .ok_or(DriverError::Closed)?;
        if register.r#type != Type::Register as i32 {
            return Err(DriverError::Protocol(format!(
                "expected REGISTER, got {}",
                kind_name(register.r#type)
            )));
        }
        let id = ChaincodeId::decode(register.payload.as_slice())
            .map_err(|error| DriverError::Protocol(format!("malformed REGISTER: {error}")))?;
        if id.name != chaincode_id {
            return Err(DriverError::WrongChaincodeId {
                expected: chaincode_id.to_owned(),
                got: id.name,
            });
        }
        for kind in [Type::Registered, Type::Ready] {
            outbound
                .send(message(kind, Vec::new(), "", ""))
                .await
                .map_err(|_| DriverError::Closed)?;
        }
        let routes: Routes = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        tokio::spawn(read_stream(
            inbound,
            Arc::clone(&routes),
            Arc::clone(&closed),
            // Weak, so dropping the last Connection closes the stream.
            outbound.downgrade(),
        ));
        Ok(Self {
            outbound,
            routes,
            closed,
            execute_timeout,
        })
    }

    /// Whether the stream has ended (the connection must then be re-established).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.outbound.is_closed()
    }

    /// Executes one transaction of chaincode `namespace`, answering its requests from `ledger`.
    pub async fn execute(
        &self,
        invocation: Invocation,
        namespace: &str,
        ledger: &dyn LedgerView,
    ) -> Result<SimulationResult, DriverError> {
        if self.is_closed() {
            return Err(DriverError::Closed);
        }
        let key = (invocation.channel_id.clone(), invocation.tx_id.clone());
        let (sender, mut answers) = mpsc::channel(4);
        let awaiting_answer = Arc::new(AtomicBool::new(false));
        {
            let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            if routes.contains_key(&key) {
                return Err(DriverError::Duplicate(invocation.tx_id));
            }
            routes.insert(
                key.clone(),
                Route {
                    sender,
                    awaiting_answer: Arc::clone(&awaiting_answer),
                },
            );
        }
        let result = tokio::time::timeout(
            self.execute_timeout,
            self.run(
                &invocation,
                namespace,
                ledger,
                &mut answers,
                &awaiting_answer,
            ),
        )
        .await
        .unwrap_or_else(|_| Err(DriverError::Timeout(invocation.tx_id.clone())));
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        result
    }

    async fn send(&self, message: ChaincodeMessage) -> Result<(), DriverError> {
        self.outbound
            .send(message)
            .await
            .map_err(|_| DriverError::Closed)
    }

    async fn run(
        &self,
        invocation: &Invocation,
        namespace: &str,
        ledger: &dyn LedgerView,
        answers: &mut mpsc::Receiver<Inbound>,
        awaiting_answer: &AtomicBool,
    ) -> Result<SimulationResult, DriverError> {
        let channel = invocation.channel_id.as_str();
        let txid = invocation.tx_id.as_str();
        let kind = if invocation.is_init {
            Type::Init
        } else {
            Type::Transaction
        };
        let mut start = message(kind, invocation.input.encode_to_vec(), channel, txid);
        start.proposal = Some(invocation.signed_proposal.clone());
        self.send(start).await?;
        let mut simulator = Simulator::new(namespace, txid, ledger);
        loop {
            let request = match answers.recv().await.ok_or(DriverError::Closed)? {
                Inbound::Message(request) => request,
                Inbound::Overlapping(request) => {
                    let name = kind_name(request.r#type);
                    // Answer it so the chaincode does not wait forever, then fail the simulation.
                    let text = format!(
                        "{name} failed: transaction ID: {txid}: another request is pending for this transaction"
                    );
                    self.send(message(Type::Error, text.into_bytes(), channel, txid))
                        .await?;
                    return Err(DriverError::ConcurrentRequest {
                        tx_id: txid.to_owned(),
                        request: name,
                    });
                }
            };
            let kind = Type::try_from(request.r#type).unwrap_or(Type::Undefined);
            match kind {
                Type::Completed => {
                    let response =
                        Response::decode(request.payload.as_slice()).map_err(|error| {
                            DriverError::Protocol(format!("malformed COMPLETED: {error}"))
                        })?;
                    return Ok(SimulationResult {
                        response,
                        event: request.chaincode_event,
                        rwset: simulator.into_rwset(),
                    });
                }
                Type::Error => {
                    return Err(DriverError::Failed(
                        String::from_utf8_lossy(&request.payload).into_owned(),
                    ));
                }
                _ => {
                    let answer = match requests::serve(&mut simulator, kind, &request.payload) {
                        Ok(payload) => message(Type::Response, payload, channel, txid),
                        Err(text) => message(
                            Type::Error,
                            format!(
                                "{} failed: transaction ID: {txid}: {text}",
                                kind.as_str_name()
                            )
                            .into_bytes(),
                            channel,
                            txid,
                        ),
                    };
                    // Cleared before the answer leaves, so the chaincode's next request is never taken
                    // for an overlapping one.
                    awaiting_answer.store(false, Ordering::SeqCst);
                    self.send(answer).await?;
                }
            }
        }
    }
}

/// Reads the chaincode's messages and routes them to their transactions, as the peer's handler does in
/// its ready state: COMPLETED and ERROR end a transaction, requests are served, KEEPALIVE is ignored, and
/// any other message ends the stream.
async fn read_stream(
    mut inbound: tonic::Streaming<ChaincodeMessage>,
    routes: Routes,
    closed: Arc<AtomicBool>,
    replies: mpsc::WeakSender<ChaincodeMessage>,
) {
    loop {
        let received = match inbound.message().await {
            Ok(Some(received)) => received,
            Ok(None) => break,
            Err(status) => {
                tracing::debug!(status = %status, "Chaincode stream failed");
                break;
            }
        };
        let kind = Type::try_from(received.r#type).unwrap_or(Type::Undefined);
        let request = requests::is_request(kind);
        if kind == Type::Keepalive {
            continue;
        }
        if !request && !matches!(kind, Type::Completed | Type::Error) {
            tracing::error!(
                txid = %received.txid,
                kind = %kind_name(received.r#type),
                "Chaincode sent a message the peer cannot handle in ready state; closing the stream"
            );
            break;
        }
        let key = (received.channel_id.clone(), received.txid.clone());
        let route = routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        match route {
            Some(route) => {
                let item = if request && route.awaiting_answer.swap(true, Ordering::SeqCst) {
                    Inbound::Overlapping(received)
                } else {
                    Inbound::Message(received)
                };
                if route.sender.try_send(item).is_err() {
                    tracing::warn!(txid = %key.1, "Transaction is not reading its messages; message dropped");
                }
            }
            None if request => {
                // The peer answers a request of a finished or unknown transaction with ERROR.
                let text = format!(
                    "{} failed: transaction ID: {}: no ledger context",
                    kind.as_str_name(),
                    key.1
                );
                if let Some(replies) = replies.upgrade() {
                    let _ = replies
                        .send(message(Type::Error, text.into_bytes(), &key.0, &key.1))
                        .await;
                }
            }
            None => {
                tracing::debug!(txid = %key.1, kind = %kind.as_str_name(), "Result for no running transaction ignored");
            }
        }
    }
    closed.store(true, Ordering::SeqCst);
    // Dropping the routes ends every running transaction with `Closed`.
    routes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}
