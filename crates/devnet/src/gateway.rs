//! The `gateway.Gateway` service: Endorse, Submit, CommitStatus, Evaluate and ChaincodeEvents with the
//! behaviour and error codes of a Fabric peer's gateway.

use std::pin::Pin;
use std::sync::Arc;

use fabric_protos::gateway::gateway_server::Gateway;
use fabric_protos::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, CommitStatusRequest, CommitStatusResponse,
    EndorseRequest, EndorseResponse, ErrorDetail, EvaluateRequest, EvaluateResponse,
    SignedChaincodeEventsRequest, SignedCommitStatusRequest, SubmitRequest, SubmitResponse,
};
use fabric_protos::orderer::seek_position;
use fabric_protos::protos::TxValidationCode;
use prost::Message;
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};

use crate::channel_msp::Role;
use crate::endorser::{self, check_proposal};
use crate::peer::Peer;

/// The Gateway service over a [`Peer`].
#[derive(Debug, Clone)]
pub struct GatewayService {
    peer: Arc<Peer>,
}

impl GatewayService {
    /// Serves `peer`.
    pub fn new(peer: Arc<Peer>) -> Self {
        Self { peer }
    }
}

/// A gRPC status carrying `gateway.ErrorDetail`s in `grpc-status-details-bin`, as Fabric's gateway reports
/// per-peer failures.
fn status_with_details(code: Code, message: String, details: Vec<ErrorDetail>) -> Status {
    let rich = fabric_protos::google::rpc::Status {
        code: code as i32,
        message: message.clone(),
        details: details
            .into_iter()
            .map(|detail| prost_types::Any {
                type_url: "type.googleapis.com/gateway.ErrorDetail".to_owned(),
                value: detail.encode_to_vec(),
            })
            .collect(),
    };
    Status::with_details(code, message, rich.encode_to_vec().into())
}

impl GatewayService {
    fn detail(&self, message: String) -> ErrorDetail {
        ErrorDetail {
            address: self.peer.address.clone(),
            msp_id: self.peer.msps.application_msp_id().to_owned(),
            message,
        }
    }

    /// Every transaction-level request names its transaction and channel.
    fn require_ids(transaction_id: &str, channel_id: &str) -> Result<(), Status> {
        Self::require("transaction ID", !transaction_id.is_empty())?;
        Self::require("channel ID", !channel_id.is_empty())
    }

    fn require(field: &str, present: bool) -> Result<(), Status> {
        if present {
            Ok(())
        } else {
            Err(Status::invalid_argument(format!("{field} not specified")))
        }
    }

    /// Checks and simulates a proposal, mapping failures to the gateway's codes.
    async fn simulate(
        &self,
        channel_id: &str,
        proposal: Option<&fabric_protos::protos::SignedProposal>,
        check_duplicate: bool,
    ) -> Result<(endorser::CheckedProposal, endorser::Simulation), Status> {
        let signed =
            proposal.ok_or_else(|| Status::invalid_argument("a signed proposal is required"))?;
        if channel_id != self.peer.channel_id {
            return Err(Status::not_found(format!(
                "channel '{channel_id}' not found"
            )));
        }
        let checked =
            check_proposal(signed, &self.peer.channel_id, &self.peer.msps).map_err(|error| {
                let message = error.to_string();
                status_with_details(
                    Code::FailedPrecondition,
                    message.clone(),
                    vec![self.detail(message)],
                )
            })?;
        if check_duplicate
            && self
                .peer
                .ledger
                .state()
                .transaction(&checked.channel_header.tx_id)
                .is_some()
        {
            let message = format!(
                "duplicate transaction found [{}]",
                checked.channel_header.tx_id
            );
            return Err(status_with_details(
                Code::FailedPrecondition,
                message.clone(),
                vec![self.detail(message)],
            ));
        }
        if checked.chaincode != self.peer.chaincode {
            let message = format!(
                "make sure the chaincode {} has been successfully defined on channel {channel_id} and try again: chaincode {} not found",
                checked.chaincode, checked.chaincode
            );
            return Err(status_with_details(
                Code::Aborted,
                message.clone(),
                vec![self.detail(message)],
            ));
        }
        let simulation = self.peer.simulate(&checked).await.map_err(|error| {
            let message =
                format!("error in simulation: transaction returned with failure: {error}");
            status_with_details(Code::Aborted, message.clone(), vec![self.detail(message)])
        })?;
        let status = simulation.response.status;
        if !(200..400).contains(&status) {
            let message = format!(
                "chaincode response {status}, {}",
                simulation.response.message
            );
            return Err(status_with_details(
                Code::Unknown,
                message.clone(),
                vec![self.detail(message)],
            ));
        }
        Ok((checked, simulation))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<ChaincodeEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Gateway for GatewayService {
    async fn endorse(
        &self,
        request: Request<EndorseRequest>,
    ) -> Result<Response<EndorseResponse>, Status> {
        let request = request.into_inner();
        Self::require_ids(&request.transaction_id, &request.channel_id)?;
        let (checked, simulation) = self
            .simulate(
                &request.channel_id,
                request.proposed_transaction.as_ref(),
                true,
            )
            .await?;
        let (payload, endorsement) = endorser::endorse(
            &checked,
            &simulation,
            &self.peer.chaincode_version,
            &self.peer.peer_identity,
            self.peer.peer_signer.as_ref(),
        )
        .map_err(|error| {
            Status::internal(format!("peer could not sign its endorsement: {error}"))
        })?;
        let envelope = endorser::prepared_transaction(&checked, payload, vec![endorsement]);
        Ok(Response::new(EndorseResponse {
            prepared_transaction: Some(envelope),
        }))
    }

    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let request = request.into_inner();
        Self::require_ids(&request.transaction_id, &request.channel_id)?;
        let envelope = request
            .prepared_transaction
            .ok_or_else(|| Status::invalid_argument("a prepared transaction is required"))?;
        if envelope.signature.is_empty() {
            return Err(Status::invalid_argument(
                "prepared transaction must be signed",
            ));
        }
        if request.channel_id != self.peer.channel_id {
            return Err(Status::not_found(format!(
                "channel '{}' not found",
                request.channel_id
            )));
        }
        // The orderer's Broadcast check: the envelope must be signed by a writer of the channel.
        self.peer
            .check_envelope_signature(&envelope)
            .map_err(|reason| {
                let message = format!(
                    "received unsuccessful response from orderer: status=FORBIDDEN, info={reason}"
                );
                status_with_details(Code::Aborted, message.clone(), vec![self.detail(message)])
            })?;
        self.peer
            .submit
            .send(envelope.encode_to_vec())
            .await
            .map_err(|_| Status::unavailable("the orderer is shutting down"))?;
        Ok(Response::new(SubmitResponse {}))
    }

    async fn commit_status(
        &self,
        request: Request<SignedCommitStatusRequest>,
    ) -> Result<Response<CommitStatusResponse>, Status> {
        let signed = request.into_inner();
        let request = CommitStatusRequest::decode(signed.request.as_slice()).map_err(|error| {
            Status::invalid_argument(format!("invalid commit status request: {error}"))
        })?;
        Self::require_ids(&request.transaction_id, &request.channel_id)?;
        Self::require("identity", !request.identity.is_empty())?;
        if request.channel_id != self.peer.channel_id {
            return Err(Status::not_found(format!(
                "channel '{}' not found",
                request.channel_id
            )));
        }
        self.peer
            .check_reader(&request.identity, &signed.request, &signed.signature)
            .map_err(Status::permission_denied)?;
        let mut heights = self.peer.ledger.subscribe();
        loop {
            if let Some(record) = self
                .peer
                .ledger
                .state()
                .transaction(&request.transaction_id)
            {
                return Ok(Response::new(CommitStatusResponse {
                    result: record.validation_code,
                    block_number: record.height.block,
                }));
            }
            tokio::select! {
                changed = heights.changed() => {
                    changed.map_err(|_| Status::unavailable("the ledger is shutting down"))?;
                }
                () = self.peer.stopping() => return Err(Status::unavailable("the peer is shutting down")),
            }
        }
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let request = request.into_inner();
        Self::require_ids(&request.transaction_id, &request.channel_id)?;
        let (_, simulation) = self
            .simulate(
                &request.channel_id,
                request.proposed_transaction.as_ref(),
                false,
            )
            .await?;
        Ok(Response::new(EvaluateResponse {
            result: Some(simulation.response),
        }))
    }

    type ChaincodeEventsStream = EventStream;

    async fn chaincode_events(
        &self,
        request: Request<SignedChaincodeEventsRequest>,
    ) -> Result<Response<Self::ChaincodeEventsStream>, Status> {
        let signed = request.into_inner();
        let request =
            ChaincodeEventsRequest::decode(signed.request.as_slice()).map_err(|error| {
                Status::invalid_argument(format!("invalid chaincode events request: {error}"))
            })?;
        Self::require("channel ID", !request.channel_id.is_empty())?;
        Self::require("chaincode ID", !request.chaincode_id.is_empty())?;
        Self::require("identity", !request.identity.is_empty())?;
        if request.channel_id != self.peer.channel_id {
            return Err(Status::not_found(format!(
                "channel '{}' not found",
                request.channel_id
            )));
        }
        self.peer
            .check_reader(&request.identity, &signed.request, &signed.signature)
            .map_err(Status::permission_denied)?;
        let start = match request.start_position.and_then(|position| position.r#type) {
            None | Some(seek_position::Type::NextCommit(_)) => self.peer.ledger.height(),
            Some(seek_position::Type::Specified(specified)) => specified.number,
            Some(other) => {
                return Err(Status::invalid_argument(format!(
                    "invalid start position type: {other:?}"
                )));
            }
        };
        // Resuming after a transaction starts at that transaction's block and skips up to and including it.
        let (start, skip_through) = match self
            .peer
            .ledger
            .state()
            .transaction(&request.after_transaction_id)
        {
            Some(record) if !request.after_transaction_id.is_empty() => {
                (record.height.block, Some(record.height.tx))
            }
            _ => (start, None),
        };
        let peer = Arc::clone(&self.peer);
        let chaincode = request.chaincode_id;
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut heights = peer.ledger.subscribe();
            let mut next = start;
            loop {
                while next < peer.ledger.height() {
                    let block = match peer.ledger.block(next) {
                        Ok(Some(block)) => block,
                        Ok(None) => return,
                        Err(error) => {
                            let _ = sender.send(Err(Status::internal(error.to_string()))).await;
                            return;
                        }
                    };
                    let events: Vec<_> = crate::peer::valid_events(&block, &chaincode)
                        .into_iter()
                        .filter(|(index, _)| {
                            next != start || skip_through.is_none_or(|skip| *index > skip)
                        })
                        .map(|(_, event)| event)
                        .collect();
                    if !events.is_empty()
                        && sender
                            .send(Ok(ChaincodeEventsResponse {
                                events,
                                block_number: next,
                            }))
                            .await
                            .is_err()
                    {
                        return; // the client went away
                    }
                    next += 1;
                }
                tokio::select! {
                    changed = heights.changed() => if changed.is_err() { return },
                    () = sender.closed() => return,
                    () = peer.stopping() => return,
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The validation code name for logs and errors.
pub fn code_name(code: i32) -> &'static str {
    TxValidationCode::try_from(code).map_or("UNKNOWN", |code| code.as_str_name())
}

/// Roles allowed to read the channel (Readers).
pub const READERS: &[Role] = &[Role::Client, Role::Admin, Role::Peer];
