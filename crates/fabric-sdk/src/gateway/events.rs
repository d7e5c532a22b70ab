//! Event streams: chaincode events (Gateway `ChaincodeEvents`) and blocks (Deliver), each resumable from a
//! checkpoint so a listener that restarts sees every event exactly once.
//!
//! The checkpoint protocol is the one Fabric's clients use: after handling a block, record the next block
//! number; after handling a chaincode event, record its block and transaction id, and resume from that
//! block *after* that transaction.

use std::path::{Path, PathBuf};

use fabric_protos::common::{
    Block, ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
};
use fabric_protos::gateway::{ChaincodeEventsRequest, SignedChaincodeEventsRequest};
use fabric_protos::orderer::{
    SeekInfo, SeekNextCommit, SeekPosition, SeekSpecified, seek_info, seek_position,
};
use fabric_protos::protos::deliver_client::DeliverClient;
use fabric_protos::protos::{DeliverResponse, deliver_response};
use prost::Message;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tonic::Streaming;

use super::{CallError, GatewayError, MAX_MESSAGE_SIZE, Network};
use crate::txid::{compute_tx_id, new_nonce};

/// Where a stream starts when there is no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartPosition {
    /// The next block to be committed.
    #[default]
    NextCommit,
    /// A given block number.
    Block(u64),
}

/// A position to resume from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The block to resume at.
    pub block_number: u64,
    /// For chaincode events: the last transaction handled in that block.
    pub transaction_id: Option<String>,
}

/// Options for an event stream.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// Where to start without a checkpoint.
    pub start: StartPosition,
    /// Where to resume; wins over `start`.
    pub checkpoint: Option<Checkpoint>,
    /// SHA-256 of the client TLS certificate, required by peers that use mutual TLS.
    pub tls_cert_hash: Option<Vec<u8>>,
}

/// A checkpoint kept in memory (for tests and short-lived listeners).
#[derive(Debug, Clone, Default)]
pub struct InMemoryCheckpointer {
    checkpoint: Option<Checkpoint>,
}

impl InMemoryCheckpointer {
    /// The current checkpoint.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.checkpoint.clone()
    }

    /// Records that `block_number` was handled in full.
    pub fn checkpoint_block(&mut self, block_number: u64) {
        self.checkpoint = Some(Checkpoint {
            block_number: block_number + 1,
            transaction_id: None,
        });
    }

    /// Records that a chaincode event was handled.
    pub fn checkpoint_event(&mut self, event: &ChaincodeEventItem) {
        self.checkpoint = Some(Checkpoint {
            block_number: event.block_number,
            transaction_id: Some(event.transaction_id.clone()),
        });
    }
}

/// A checkpoint persisted in a JSON file, replaced atomically (write, fsync, rename) so a crash leaves
/// either the old or the new checkpoint.
#[derive(Debug, Clone)]
pub struct FileCheckpointer {
    path: PathBuf,
    current: InMemoryCheckpointer,
}

impl FileCheckpointer {
    /// Opens the checkpoint at `path` (absent file = no checkpoint yet).
    pub fn open(path: &Path) -> Result<Self, GatewayError> {
        let error = |reason: String| GatewayError::Checkpoint {
            path: path.display().to_string(),
            reason,
        };
        let checkpoint = match std::fs::read(path) {
            Ok(bytes) => Some(
                serde_json::from_slice(&bytes)
                    .map_err(|e| error(format!("not a checkpoint: {e}")))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(error(e.to_string())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            current: InMemoryCheckpointer { checkpoint },
        })
    }

    /// The current checkpoint.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.current.checkpoint()
    }

    /// Records that `block_number` was handled in full.
    pub fn checkpoint_block(&mut self, block_number: u64) -> Result<(), GatewayError> {
        self.current.checkpoint_block(block_number);
        self.save()
    }

    /// Records that a chaincode event was handled.
    pub fn checkpoint_event(&mut self, event: &ChaincodeEventItem) -> Result<(), GatewayError> {
        self.current.checkpoint_event(event);
        self.save()
    }

    fn save(&self) -> Result<(), GatewayError> {
        let error = |reason: String| GatewayError::Checkpoint {
            path: self.path.display().to_string(),
            reason,
        };
        let bytes =
            serde_json::to_vec(&self.current.checkpoint).map_err(|e| error(e.to_string()))?;
        let temporary = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)
        };
        write().map_err(|e| error(e.to_string()))
    }
}

/// One chaincode event with where it was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeEventItem {
    /// The block holding the transaction.
    pub block_number: u64,
    /// The transaction that emitted the event.
    pub transaction_id: String,
    /// The chaincode name.
    pub chaincode_name: String,
    /// The event name.
    pub event_name: String,
    /// The event payload.
    pub payload: Vec<u8>,
}

/// A stream of chaincode events of valid transactions.
#[derive(Debug)]
pub struct ChaincodeEvents {
    responses: Streaming<fabric_protos::gateway::ChaincodeEventsResponse>,
    pending: std::collections::VecDeque<ChaincodeEventItem>,
}

impl ChaincodeEvents {
    /// The next event; `None` when the server ends the stream.
    pub async fn next(&mut self) -> Option<Result<ChaincodeEventItem, GatewayError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            match self.responses.message().await {
                Ok(Some(response)) => {
                    let block_number = response.block_number;
                    self.pending
                        .extend(response.events.into_iter().map(|event| ChaincodeEventItem {
                            block_number,
                            transaction_id: event.tx_id,
                            chaincode_name: event.chaincode_id,
                            event_name: event.event_name,
                            payload: event.payload,
                        }));
                }
                Ok(None) => return None,
                Err(status) => {
                    return Some(Err(GatewayError::Events(CallError::from_status(&status))));
                }
            }
        }
    }
}

/// A stream of blocks from Deliver.
#[derive(Debug)]
pub struct BlockEvents {
    responses: Streaming<DeliverResponse>,
    // Keeps the request stream open: the peer ends the session when it closes.
    _requests: mpsc::Sender<Envelope>,
}

impl BlockEvents {
    /// The next block; `None` when the server ends the stream normally.
    pub async fn next(&mut self) -> Option<Result<Block, GatewayError>> {
        loop {
            match self.responses.message().await {
                Ok(Some(DeliverResponse {
                    r#type: Some(deliver_response::Type::Block(block)),
                })) => {
                    return Some(Ok(block));
                }
                Ok(Some(DeliverResponse {
                    r#type: Some(deliver_response::Type::Status(status)),
                })) => {
                    if status == fabric_protos::common::Status::Success as i32 {
                        return None;
                    }
                    let name = fabric_protos::common::Status::try_from(status)
                        .map_or("UNKNOWN", |status| status.as_str_name());
                    return Some(Err(GatewayError::Events(CallError {
                        code: tonic::Code::Aborted,
                        message: format!("deliver ended with status {status} ({name})"),
                        details: Vec::new(),
                    })));
                }
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => {
                    return Some(Err(GatewayError::Events(CallError::from_status(&status))));
                }
            }
        }
    }
}

fn seek_start(options: &EventsOptions) -> SeekPosition {
    let r#type = match (&options.checkpoint, options.start) {
        (Some(checkpoint), _) => seek_position::Type::Specified(SeekSpecified {
            number: checkpoint.block_number,
        }),
        (None, StartPosition::Block(number)) => {
            seek_position::Type::Specified(SeekSpecified { number })
        }
        (None, StartPosition::NextCommit) => seek_position::Type::NextCommit(SeekNextCommit {}),
    };
    SeekPosition {
        r#type: Some(r#type),
    }
}

/// A Deliver request: `seek` in a DELIVER_SEEK_INFO envelope for `channel`, signed by `creator`.
/// `tls_cert_hash` is the SHA-256 of the client's TLS certificate, needed by peers that use mutual TLS.
pub fn signed_seek_envelope(
    channel: &str,
    creator: &[u8],
    signer: &dyn crate::signer::Signer,
    seek: &SeekInfo,
    tls_cert_hash: Option<&[u8]>,
) -> Result<Envelope, crate::signer::SignError> {
    let nonce = new_nonce();
    let channel_header = ChannelHeader {
        r#type: HeaderType::DeliverSeekInfo as i32,
        version: 0,
        timestamp: Some(super::now()),
        channel_id: channel.to_owned(),
        tx_id: compute_tx_id(&nonce, creator),
        epoch: 0,
        extension: Vec::new(),
        tls_cert_hash: tls_cert_hash.map(<[u8]>::to_vec).unwrap_or_default(),
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: SignatureHeader {
                creator: creator.to_vec(),
                nonce: nonce.to_vec(),
            }
            .encode_to_vec(),
        }),
        data: seek.encode_to_vec(),
    }
    .encode_to_vec();
    let signature = signer.sign(&payload)?;
    Ok(Envelope { payload, signature })
}

impl Network {
    /// Chaincode events of `chaincode`'s valid transactions, from the checkpoint or start position.
    pub async fn chaincode_events(
        &self,
        chaincode: &str,
        options: &EventsOptions,
    ) -> Result<ChaincodeEvents, GatewayError> {
        let inner = &self.gateway.inner;
        let request = ChaincodeEventsRequest {
            channel_id: self.name.clone(),
            chaincode_id: chaincode.to_owned(),
            identity: inner.creator.clone(),
            start_position: Some(seek_start(options)),
            after_transaction_id: options
                .checkpoint
                .as_ref()
                .and_then(|checkpoint| checkpoint.transaction_id.clone())
                .unwrap_or_default(),
        }
        .encode_to_vec();
        let signature = inner.signer.sign(&request)?;
        let mut client = inner.client.clone();
        let responses = client
            .chaincode_events(SignedChaincodeEventsRequest { request, signature })
            .await
            .map_err(|status| GatewayError::Events(CallError::from_status(&status)))?
            .into_inner();
        Ok(ChaincodeEvents {
            responses,
            pending: Default::default(),
        })
    }

    /// Full blocks from Deliver, from the checkpoint or start position, until the stream is dropped.
    pub async fn block_events(&self, options: &EventsOptions) -> Result<BlockEvents, GatewayError> {
        let inner = &self.gateway.inner;
        let seek = SeekInfo {
            start: Some(seek_start(options)),
            stop: Some(SeekPosition {
                r#type: Some(seek_position::Type::Specified(SeekSpecified {
                    number: u64::MAX,
                })),
            }),
            behavior: seek_info::SeekBehavior::BlockUntilReady as i32,
            error_response: seek_info::SeekErrorResponse::Strict as i32,
            content_type: seek_info::SeekContentType::Block as i32,
        };
        let envelope = signed_seek_envelope(
            &self.name,
            &inner.creator,
            inner.signer.as_ref(),
            &seek,
            options.tls_cert_hash.as_deref(),
        )?;
        let (requests, receiver) = mpsc::channel(1);
        requests.send(envelope).await.map_err(|_| {
            GatewayError::Events(CallError {
                code: tonic::Code::Internal,
                message: "deliver request stream closed".to_owned(),
                details: Vec::new(),
            })
        })?;
        let mut client = DeliverClient::new(self.gateway.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let responses = client
            .deliver(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
            .map_err(|status| GatewayError::Events(CallError::from_status(&status)))?
            .into_inner();
        Ok(BlockEvents {
            responses,
            _requests: requests,
        })
    }
}
