//! The `protos.Deliver` service: blocks (full or filtered) from a seek position, as a Fabric peer serves
//! them — request checks in the peer's order, `BLOCK_UNTIL_READY` waits for new blocks, a specified start
//! past the height answers NOT_FOUND at once, and each request ends with a status.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use fabric_protos::common::{
    self, ChannelHeader, Envelope, Payload, SignatureHeader, Status as BlockStatus,
};
use fabric_protos::orderer::{SeekInfo, seek_info, seek_position};
use fabric_protos::protos::deliver_server::Deliver;
use fabric_protos::protos::{
    DeliverResponse, FilteredBlock, FilteredChaincodeAction, FilteredTransaction,
    FilteredTransactionActions, deliver_response, filtered_transaction,
};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::endorser::TIME_WINDOW_SECONDS;
use crate::gateway::READERS;
use crate::peer::Peer;

/// The Deliver service over a [`Peer`].
#[derive(Debug, Clone)]
pub struct DeliverService {
    peer: Arc<Peer>,
}

impl DeliverService {
    /// Serves `peer`.
    pub fn new(peer: Arc<Peer>) -> Self {
        Self { peer }
    }
}

type DeliverStream = Pin<Box<dyn Stream<Item = Result<DeliverResponse, Status>> + Send>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Full,
    Filtered,
}

fn status(status: BlockStatus) -> DeliverResponse {
    DeliverResponse {
        r#type: Some(deliver_response::Type::Status(status as i32)),
    }
}

impl DeliverService {
    fn open(&self, requests: Streaming<Envelope>, content: Content) -> DeliverStream {
        let (sender, receiver) = mpsc::channel(16);
        let peer = Arc::clone(&self.peer);
        tokio::spawn(async move {
            let mut requests = requests;
            while let Some(Ok(envelope)) = requests.next().await {
                let outcome = serve_request(&peer, &envelope, content, &sender).await;
                let Ok(final_status) = outcome else {
                    return; // the client went away
                };
                if sender.send(Ok(status(final_status))).await.is_err()
                    || final_status != BlockStatus::Success
                {
                    return;
                }
            }
        });
        Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
    }
}

#[tonic::async_trait]
impl Deliver for DeliverService {
    type DeliverStream = DeliverStream;
    type DeliverFilteredStream = DeliverStream;
    type DeliverWithPrivateDataStream = DeliverStream;

    async fn deliver(
        &self,
        request: Request<Streaming<Envelope>>,
    ) -> Result<Response<DeliverStream>, Status> {
        Ok(Response::new(
            self.open(request.into_inner(), Content::Full),
        ))
    }

    async fn deliver_filtered(
        &self,
        request: Request<Streaming<Envelope>>,
    ) -> Result<Response<DeliverStream>, Status> {
        Ok(Response::new(
            self.open(request.into_inner(), Content::Filtered),
        ))
    }

    async fn deliver_with_private_data(
        &self,
        _request: Request<Streaming<Envelope>>,
    ) -> Result<Response<DeliverStream>, Status> {
        Err(Status::unimplemented(
            "the dev ledger has no private data collections; use Deliver",
        ))
    }
}

/// Serves one seek request; `Err` means the client is gone.
async fn serve_request(
    peer: &Peer,
    envelope: &Envelope,
    content: Content,
    sender: &mpsc::Sender<Result<DeliverResponse, Status>>,
) -> Result<BlockStatus, ()> {
    let seek = match check_request(peer, envelope) {
        Ok(seek) => seek,
        Err(status) => return Ok(status),
    };
    let height = peer.ledger.height();
    let position =
        |position: Option<&fabric_protos::orderer::SeekPosition>| -> Result<u64, BlockStatus> {
            match position.and_then(|position| position.r#type.as_ref()) {
                Some(seek_position::Type::Oldest(_)) => Ok(0),
                Some(seek_position::Type::Newest(_)) => Ok(height.saturating_sub(1)),
                Some(seek_position::Type::Specified(specified)) => Ok(specified.number),
                Some(seek_position::Type::NextCommit(_)) => Ok(height),
                None => Err(BlockStatus::BadRequest),
            }
        };
    let (start, stop) = match (position(seek.start.as_ref()), position(seek.stop.as_ref())) {
        (Ok(start), Ok(stop)) => (start, stop),
        _ => return Ok(BlockStatus::BadRequest),
    };
    if start > height {
        return Ok(BlockStatus::NotFound);
    }
    if stop < start {
        return Ok(BlockStatus::BadRequest);
    }
    let fail_if_not_ready = seek.behavior == seek_info::SeekBehavior::FailIfNotReady as i32;
    let mut heights = peer.ledger.subscribe();
    let mut next = start;
    loop {
        while next < peer.ledger.height() && next <= stop {
            let response = match peer.ledger.block(next) {
                Ok(Some(block)) => match content {
                    Content::Full => deliver_response::Type::Block(block),
                    Content::Filtered => {
                        deliver_response::Type::FilteredBlock(filtered(&peer.channel_id, &block))
                    }
                },
                _ => return Ok(BlockStatus::InternalServerError),
            };
            sender
                .send(Ok(DeliverResponse {
                    r#type: Some(response),
                }))
                .await
                .map_err(|_| ())?;
            next += 1;
        }
        if next > stop {
            return Ok(BlockStatus::Success);
        }
        if fail_if_not_ready {
            return Ok(BlockStatus::NotFound);
        }
        tokio::select! {
            changed = heights.changed() => if changed.is_err() { return Ok(BlockStatus::ServiceUnavailable) },
            () = sender.closed() => return Err(()),
            () = peer.stopping() => return Ok(BlockStatus::ServiceUnavailable),
        }
    }
}

/// The peer's checks, in its order: well formed, fresh, for this channel, signed by a reader.
fn check_request(peer: &Peer, envelope: &Envelope) -> Result<SeekInfo, BlockStatus> {
    let payload =
        Payload::decode(envelope.payload.as_slice()).map_err(|_| BlockStatus::BadRequest)?;
    let header = payload.header.as_ref().ok_or(BlockStatus::BadRequest)?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|_| BlockStatus::BadRequest)?;
    let signature_header = SignatureHeader::decode(header.signature_header.as_slice())
        .map_err(|_| BlockStatus::BadRequest)?;
    let timestamp = channel_header
        .timestamp
        .as_ref()
        .ok_or(BlockStatus::BadRequest)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    if (timestamp.seconds - now).abs() > TIME_WINDOW_SECONDS {
        return Err(BlockStatus::BadRequest);
    }
    if channel_header.channel_id != peer.channel_id {
        return Err(BlockStatus::NotFound);
    }
    peer.msps
        .validate(&signature_header.creator, READERS)
        .ok()
        .filter(|identity| identity.verify(&envelope.payload, &envelope.signature))
        .ok_or(BlockStatus::Forbidden)?;
    let seek = SeekInfo::decode(payload.data.as_slice()).map_err(|_| BlockStatus::BadRequest)?;
    if seek.start.is_none() || seek.stop.is_none() {
        return Err(BlockStatus::BadRequest);
    }
    Ok(seek)
}

/// A block as DeliverFiltered shows it: tx ids, types, validation codes and chaincode events without
/// their payloads.
pub fn filtered(channel_id: &str, block: &common::Block) -> FilteredBlock {
    let number = block.header.as_ref().map_or(0, |header| header.number);
    let filtered_transactions = fabric_sdk::block::transaction_effects(block)
        .unwrap_or_default()
        .into_iter()
        .map(|tx| {
            let actions = tx.event.map(|mut event| {
                event.payload.clear();
                FilteredTransactionActions {
                    chaincode_actions: vec![FilteredChaincodeAction {
                        chaincode_event: Some(event),
                    }],
                }
            });
            FilteredTransaction {
                txid: tx.channel_header.tx_id,
                r#type: tx.channel_header.r#type,
                tx_validation_code: tx.validation_code.map_or(254, i32::from),
                data: actions.map(filtered_transaction::Data::TransactionActions),
            }
        })
        .collect();
    FilteredBlock {
        channel_id: channel_id.to_owned(),
        number,
        filtered_transactions,
    }
}
