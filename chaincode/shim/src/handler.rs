//! One peer stream: the REGISTER → REGISTERED → READY handshake, then concurrent transactions routed by
//! (channel id, transaction id), all outbound messages through a single writer, and a 500 response for a
//! transaction that fails or panics — without ending the stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use fabric_protos::protos::chaincode_message::Type;
use fabric_protos::protos::{
    ChaincodeAdditionalParams, ChaincodeId, ChaincodeInput, ChaincodeMessage, Response,
};
use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;

use crate::chaincode::{Chaincode, ERROR};
use crate::proposal::decode_signed_proposal;
use crate::stream_stub::StreamStub;

type Routes = Arc<Mutex<HashMap<(String, String), mpsc::Sender<ChaincodeMessage>>>>;

fn message(kind: Type, payload: Vec<u8>, channel_id: &str, txid: &str) -> ChaincodeMessage {
    ChaincodeMessage::for_transaction(kind, payload, channel_id, txid)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Created,
    Established,
    Ready,
}

/// Serves one `Connect` stream until the peer closes it, a protocol violation, or shutdown (after the
/// transactions in flight have completed).
pub(crate) async fn handle_stream<C, S>(
    chaincode: Arc<C>,
    chaincode_id: String,
    mut inbound: S,
    outbound: mpsc::Sender<ChaincodeMessage>,
    mut shutdown: watch::Receiver<bool>,
) where
    C: Chaincode,
    S: tokio_stream::Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin,
{
    let register = ChaincodeId {
        path: String::new(),
        name: chaincode_id.clone(),
        version: String::new(),
    };
    if outbound
        .send(message(Type::Register, register.encode_to_vec(), "", ""))
        .await
        .is_err()
    {
        return;
    }
    let routes: Routes = Arc::default();
    let mut in_flight = tokio::task::JoinSet::new();
    let mut state = State::Created;
    let mut draining = *shutdown.borrow();

    loop {
        if draining && in_flight.is_empty() {
            break;
        }
        let next = tokio::select! {
            next = inbound.next() => next,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => continue,
            changed = shutdown.changed(), if !draining => {
                draining = changed.is_err() || *shutdown.borrow();
                continue;
            }
        };
        let Some(Ok(received)) = next else {
            break; // the peer closed the stream or it failed
        };
        let kind = Type::try_from(received.r#type).unwrap_or(Type::Undefined);
        match (state, kind) {
            (State::Created, Type::Registered) => state = State::Established,
            (State::Established, Type::Ready) => {
                // Fabric 3.1+ announces optional features; this shim uses none of them, so a 2.5/3.0 peer
                // and a 3.1 peer see the same messages.
                let params = ChaincodeAdditionalParams::decode(received.payload.as_slice())
                    .unwrap_or_default();
                tracing::debug!(
                    write_batch = params.use_write_batch,
                    get_multiple = params.use_get_multiple_keys,
                    "Peer ready"
                );
                state = State::Ready;
                tracing::info!(chaincode_id = %chaincode_id, "Registered with peer");
            }
            (State::Ready, Type::Transaction | Type::Init) => {
                // Read the flag itself: the change notification may not have been seen yet.
                draining = draining || *shutdown.borrow();
                if draining {
                    let text = "chaincode is shutting down".as_bytes().to_vec();
                    let _ = outbound
                        .send(message(
                            Type::Error,
                            text,
                            &received.channel_id,
                            &received.txid,
                        ))
                        .await;
                    continue;
                }
                start_transaction(
                    &chaincode,
                    &routes,
                    &outbound,
                    &mut in_flight,
                    received,
                    kind,
                )
                .await;
            }
            (State::Ready, Type::Response | Type::Error) => {
                let key = (received.channel_id.clone(), received.txid.clone());
                let route = routes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&key)
                    .cloned();
                // A transaction has at most one request outstanding, so its queue has room for the one
                // answer; never wait here, or one misbehaving answer would stall every transaction.
                match route.map(|route| route.try_send(received)) {
                    Some(Ok(())) => {}
                    Some(Err(_)) => {
                        tracing::warn!(txid = %key.1, channel = %key.0, "Unexpected answer for a transaction with no pending request")
                    }
                    None => {
                        tracing::warn!(txid = %key.1, channel = %key.0, "Answer for an unknown transaction")
                    }
                }
            }
            (_, Type::Keepalive) => {
                let _ = outbound.send(received).await;
            }
            (_, other) => {
                let text = format!(
                    "[{}] chaincode in state {state:?} cannot handle message {}",
                    received.txid,
                    other.as_str_name()
                );
                tracing::error!(message = %text, "Protocol violation; closing the stream");
                let _ = outbound
                    .send(message(
                        Type::Error,
                        text.into_bytes(),
                        &received.channel_id,
                        &received.txid,
                    ))
                    .await;
                break;
            }
        }
    }
    in_flight.abort_all();
}

async fn start_transaction<C: Chaincode>(
    chaincode: &Arc<C>,
    routes: &Routes,
    outbound: &mpsc::Sender<ChaincodeMessage>,
    in_flight: &mut tokio::task::JoinSet<()>,
    received: ChaincodeMessage,
    kind: Type,
) {
    let channel_id = received.channel_id.clone();
    let txid = received.txid.clone();
    let key = (channel_id.clone(), txid.clone());
    let (route, responses) = mpsc::channel(1);
    let duplicate = {
        let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
        if routes.contains_key(&key) {
            true
        } else {
            routes.insert(key.clone(), route);
            false
        }
    };
    if duplicate {
        let text = format!(
            "[{txid}] another transaction with this id is in progress on channel {channel_id}"
        );
        let _ = outbound
            .send(message(Type::Error, text.into_bytes(), &channel_id, &txid))
            .await;
        return;
    }

    let chaincode = Arc::clone(chaincode);
    let routes = Arc::clone(routes);
    let outbound = outbound.clone();
    in_flight.spawn(async move {
        let completion = run_transaction(chaincode, &outbound, received, responses, kind).await;
        routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        let _ = outbound.send(completion).await;
    });
}

/// Runs one transaction and returns the COMPLETED (or ERROR) message for it.
async fn run_transaction<C: Chaincode>(
    chaincode: Arc<C>,
    outbound: &mpsc::Sender<ChaincodeMessage>,
    received: ChaincodeMessage,
    responses: mpsc::Receiver<ChaincodeMessage>,
    kind: Type,
) -> ChaincodeMessage {
    let channel_id = received.channel_id.clone();
    let txid = received.txid.clone();
    let failure = |text: String| message(Type::Error, text.into_bytes(), &channel_id, &txid);

    let input = match ChaincodeInput::decode(received.payload.as_slice()) {
        Ok(input) => input,
        Err(error) => return failure(format!("[{txid}] malformed ChaincodeInput: {error}")),
    };
    let Some(signed_proposal) = received.proposal.as_ref() else {
        return failure(format!("[{txid}] transaction without a signed proposal"));
    };
    let context = match decode_signed_proposal(signed_proposal) {
        Ok(context) => context,
        Err(error) => return failure(format!("[{txid}] {error}")),
    };
    let mut stub = StreamStub::new(
        channel_id.clone(),
        txid.clone(),
        input.args,
        context,
        outbound.clone(),
        responses,
    );
    // The contract runs in its own task so a panic is caught by its JoinHandle and fails only this
    // transaction.
    let task = tokio::spawn(async move {
        let response = if kind == Type::Init {
            chaincode.init(&mut stub).await
        } else {
            chaincode.invoke(&mut stub).await
        };
        (response, stub.take_event())
    });
    let (response, event) = match task.await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(txid = %txid, error = %error, "Transaction panicked");
            (
                Response {
                    status: ERROR,
                    message: format!("transaction {txid} failed: the chaincode panicked"),
                    payload: Vec::new(),
                },
                None,
            )
        }
    };
    // Like Fabric's shims, a failed Init is reported as ERROR with the message as text.
    let mut completed = if kind == Type::Init && response.status >= ERROR {
        message(
            Type::Error,
            response.message.into_bytes(),
            &channel_id,
            &txid,
        )
    } else {
        message(
            Type::Completed,
            response.encode_to_vec(),
            &channel_id,
            &txid,
        )
    };
    completed.chaincode_event = event;
    completed
}
