//! The peer side of Fabric's chaincode protocol: dial a chaincode server (`protos.Chaincode/Connect`), check
//! its registration, and execute transactions on the one stream — concurrently, answering each
//! transaction's state requests from a [`LedgerView`] and recording its read-write set as a Fabric peer's
//! simulator does. The dev ledger endorses with it; the shim's tests and benchmarks drive the chaincode
//! with it.

mod memory;
mod simulator;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fabric_protos::protos::chaincode_client::ChaincodeClient;
use fabric_protos::protos::chaincode_message::Type;
use fabric_protos::protos::{
    ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeMessage, DelState, GetHistoryForKey,
    GetState, GetStateByRange, GetStateMetadata, PutState, PutStateMetadata, QueryMetadata,
    QueryResponse, QueryResponseMetadata, QueryResultBytes, QueryStateClose, QueryStateNext,
    Response, SignedProposal, StateMetadata, StateMetadataResult,
};
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;
use tokio::sync::mpsc;
use tonic::transport::Channel;

pub use memory::MemoryLedger;
pub use simulator::{BATCH_SIZE, LedgerView, Simulator, TOTAL_QUERY_LIMIT, VersionedValue};

/// Largest message exchanged with the chaincode (Fabric allows 100 MiB).
pub const MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;

/// Why a connection or an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The chaincode server could not be reached.
    #[error("could not connect to the chaincode: {0}")]
    Connect(String),
    /// The chaincode registered with another package id (a peer silently refuses it).
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
}

/// What the chaincode did in one simulated transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationResult {
    /// The chaincode's response.
    pub response: Response,
    /// The event it set.
    pub event: Option<ChaincodeEvent>,
    /// The read-write set recorded (one namespace: the chaincode's).
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

type Routes = Arc<Mutex<HashMap<(String, String), mpsc::Sender<ChaincodeMessage>>>>;

/// An established stream to a chaincode server.
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

impl Connection {
    /// Opens `Connect` on `channel`, expects REGISTER with `chaincode_id`, answers REGISTERED and READY.
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
        let register = tokio::time::timeout(Duration::from_secs(10), inbound.message())
            .await
            .map_err(|_| DriverError::Protocol("no REGISTER within 10 s".to_owned()))?
            .map_err(|status| DriverError::Connect(status.message().to_owned()))?
            .ok_or(DriverError::Closed)?;
        if register.r#type != Type::Register as i32 {
            return Err(DriverError::Protocol(format!(
                "expected REGISTER, got message type {}",
                register.r#type
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
        let reader_routes = Arc::clone(&routes);
        let reader_closed = Arc::clone(&closed);
        let keepalive = outbound.clone();
        tokio::spawn(async move {
            loop {
                let received = match inbound.message().await {
                    Ok(Some(received)) => received,
                    Ok(None) | Err(_) => break,
                };
                if received.r#type == Type::Keepalive as i32 {
                    continue;
                }
                let key = (received.channel_id.clone(), received.txid.clone());
                let route = reader_routes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&key)
                    .cloned();
                match route {
                    Some(route) => {
                        let _ = route.send(received).await;
                    }
                    None => {
                        // A peer drops messages for transactions it does not know.
                        tracing::warn!(txid = %key.1, kind = received.r#type, "Chaincode message for no transaction");
                    }
                }
            }
            reader_closed.store(true, Ordering::SeqCst);
            reader_routes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            drop(keepalive);
        });
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
        let (route, mut answers) = mpsc::channel(4);
        {
            let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            if routes.contains_key(&key) {
                return Err(DriverError::Duplicate(invocation.tx_id));
            }
            routes.insert(key.clone(), route);
        }
        let result = tokio::time::timeout(
            self.execute_timeout,
            self.run(&invocation, namespace, ledger, &mut answers),
        )
        .await
        .unwrap_or_else(|_| Err(DriverError::Timeout(invocation.tx_id.clone())));
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        result
    }

    async fn run(
        &self,
        invocation: &Invocation,
        namespace: &str,
        ledger: &dyn LedgerView,
        answers: &mut mpsc::Receiver<ChaincodeMessage>,
    ) -> Result<SimulationResult, DriverError> {
        let channel = invocation.channel_id.as_str();
        let txid = invocation.tx_id.as_str();
        let mut start = message(
            if invocation.is_init {
                Type::Init
            } else {
                Type::Transaction
            },
            invocation.input.encode_to_vec(),
            channel,
            txid,
        );
        start.proposal = Some(invocation.signed_proposal.clone());
        self.outbound
            .send(start)
            .await
            .map_err(|_| DriverError::Closed)?;
        let mut simulator = Simulator::new(namespace, txid, ledger);
        loop {
            let request = answers.recv().await.ok_or(DriverError::Closed)?;
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
                    let answer = match serve_request(&mut simulator, kind, &request.payload) {
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
                    self.outbound
                        .send(answer)
                        .await
                        .map_err(|_| DriverError::Closed)?;
                }
            }
        }
    }
}

fn decode<M: Message + Default>(payload: &[u8], what: &str) -> Result<M, String> {
    M::decode(payload).map_err(|error| format!("malformed {what}: {error}"))
}

fn query_response(results: Vec<Vec<u8>>, has_more: bool, id: String, metadata: Vec<u8>) -> Vec<u8> {
    QueryResponse {
        results: results
            .into_iter()
            .map(|result_bytes| QueryResultBytes { result_bytes })
            .collect(),
        has_more,
        id,
        metadata,
    }
    .encode_to_vec()
}

fn no_collections(collection: &str) -> Result<(), String> {
    if collection.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "collection {collection} is not defined: this ledger has no private data collections"
        ))
    }
}

/// Answers one state request of a transaction, as the peer's handler does.
fn serve_request(
    simulator: &mut Simulator<'_>,
    kind: Type,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    match kind {
        Type::GetState => {
            let request: GetState = decode(payload, "GetState")?;
            no_collections(&request.collection)?;
            Ok(simulator.get_state(&request.key))
        }
        Type::PutState => {
            let request: PutState = decode(payload, "PutState")?;
            no_collections(&request.collection)?;
            simulator.put_state(&request.key, request.value)?;
            Ok(Vec::new())
        }
        Type::DelState => {
            let request: DelState = decode(payload, "DelState")?;
            no_collections(&request.collection)?;
            simulator.del_state(&request.key)?;
            Ok(Vec::new())
        }
        Type::GetStateMetadata => {
            let request: GetStateMetadata = decode(payload, "GetStateMetadata")?;
            no_collections(&request.collection)?;
            let entries = simulator
                .get_metadata(&request.key)
                .into_iter()
                .map(|(metakey, value)| StateMetadata { metakey, value })
                .collect();
            Ok(StateMetadataResult { entries }.encode_to_vec())
        }
        Type::PutStateMetadata => {
            let request: PutStateMetadata = decode(payload, "PutStateMetadata")?;
            no_collections(&request.collection)?;
            let metadata = request
                .metadata
                .ok_or("PutStateMetadata without metadata")?;
            simulator.put_metadata(&request.key, &metadata.metakey, metadata.value)?;
            Ok(Vec::new())
        }
        Type::GetStateByRange => {
            let request: GetStateByRange = decode(payload, "GetStateByRange")?;
            no_collections(&request.collection)?;
            if request.metadata.is_empty() {
                let id = simulator.open_range(&request.start_key, &request.end_key);
                let (results, has_more) = simulator.next_batch(&id)?;
                Ok(query_response(results, has_more, id, Vec::new()))
            } else {
                let metadata: QueryMetadata = decode(&request.metadata, "QueryMetadata")?;
                let (results, bookmark) = simulator.page(
                    &request.start_key,
                    &request.end_key,
                    metadata.page_size,
                    &metadata.bookmark,
                )?;
                let count = i32::try_from(results.len()).unwrap_or(i32::MAX);
                let response_metadata = QueryResponseMetadata {
                    fetched_records_count: count,
                    bookmark,
                }
                .encode_to_vec();
                Ok(query_response(
                    results,
                    false,
                    String::new(),
                    response_metadata,
                ))
            }
        }
        Type::GetHistoryForKey => {
            let request: GetHistoryForKey = decode(payload, "GetHistoryForKey")?;
            let id = simulator.open_history(&request.key)?;
            let (results, has_more) = simulator.next_batch(&id)?;
            Ok(query_response(results, has_more, id, Vec::new()))
        }
        Type::QueryStateNext => {
            let request: QueryStateNext = decode(payload, "QueryStateNext")?;
            let (results, has_more) = simulator.next_batch(&request.id)?;
            Ok(query_response(results, has_more, request.id, Vec::new()))
        }
        Type::QueryStateClose => {
            let request: QueryStateClose = decode(payload, "QueryStateClose")?;
            simulator.close(&request.id);
            Ok(query_response(Vec::new(), false, request.id, Vec::new()))
        }
        Type::GetQueryResult => Err("ExecuteQuery not supported for leveldb".to_owned()),
        Type::GetPrivateDataHash | Type::PurgePrivateData => {
            Err("this ledger has no private data collections".to_owned())
        }
        Type::InvokeChaincode => {
            Err("chaincode-to-chaincode calls are not supported by this ledger".to_owned())
        }
        other => Err(format!("unexpected message type {}", other.as_str_name())),
    }
}
