//! The gRPC API (`reciprocal.v1.Blockchain`): submit and evaluate contract functions as the caller's club
//! and role, wait for the mirror, and the audit trail.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fabric_sdk::gateway::{GatewayError, RetryPolicy, TransactionOptions, code_name};
use reciprocal_api::v1::blockchain_server::Blockchain;
use reciprocal_api::v1::{
    BlockLink, EvaluateRequest, EvaluateResponse, KeyHistoryEntry, KeyHistoryRequest,
    KeyHistoryResponse, SubmitRequest, SubmitResponse, TransactionProofRequest,
    TransactionProofResponse, WaitForMirrorRequest, WaitForMirrorResponse,
};
use tonic::{Code, Request, Response, Status};

use crate::audit::{Audit, AuditError};
use crate::metrics::Metrics;
use crate::mirror::Mirror;
use crate::wallet::{Actor, Gateways, ROLES};

/// Longest a `WaitForMirror` may wait.
pub const MAX_MIRROR_WAIT: Duration = Duration::from_secs(30);

/// The service behind the gRPC API.
#[derive(Debug, Clone)]
pub struct BlockchainApi {
    gateways: Gateways,
    channel: String,
    chaincode: String,
    retry: RetryPolicy,
    mirror: Mirror,
    audit: Audit,
    metrics: Metrics,
    following: Option<Arc<AtomicBool>>,
}

impl BlockchainApi {
    /// Submits and evaluates on `channel`'s `chaincode` through `gateways`.
    pub fn new(
        gateways: Gateways,
        chaincode: &str,
        mirror: Mirror,
        audit: Audit,
        metrics: Metrics,
    ) -> Self {
        Self {
            gateways,
            channel: mirror.channel().to_owned(),
            chaincode: chaincode.to_owned(),
            retry: RetryPolicy::default(),
            mirror,
            audit,
            metrics,
            following: None,
        }
    }

    /// Tells `WaitForMirror`'s callers whether the block listener is connected, from `following`.
    pub fn with_following(mut self, following: Arc<AtomicBool>) -> Self {
        self.following = Some(following);
        self
    }

    fn contract(
        &self,
        actor: Option<&reciprocal_api::v1::Actor>,
    ) -> Result<fabric_sdk::gateway::Contract, Status> {
        let actor = actor.ok_or_else(|| Status::invalid_argument("actor is required"))?;
        if !ROLES.contains(&actor.role.as_str()) {
            return Err(Status::invalid_argument(format!(
                "actor.role must be one of {}, got {:?}",
                ROLES.join(", "),
                actor.role
            )));
        }
        let actor = Actor {
            club: actor.club.clone(),
            role: actor.role.clone(),
        };
        let gateway = self
            .gateways
            .get(&actor)
            .map_err(|error| Status::permission_denied(error.to_string()))?;
        Ok(gateway.network(&self.channel).contract(&self.chaincode))
    }
}

fn options(
    args: Vec<String>,
    transient: std::collections::HashMap<String, Vec<u8>>,
) -> TransactionOptions {
    TransactionOptions {
        args: args.into_iter().map(String::into_bytes).collect(),
        transient: transient.into_iter().collect(),
        ..TransactionOptions::default()
    }
}

fn check_function(function: &str) -> Result<(), Status> {
    if function.is_empty() || !function.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Status::invalid_argument(format!(
            "function must be a contract function name, got {function:?}"
        )));
    }
    Ok(())
}

/// The chaincode's own refusal (`chaincode response 403, …`) in a gateway error, as (status, message).
pub fn chaincode_refusal(error: &GatewayError) -> Option<(i32, String)> {
    let call = error.call_error()?;
    std::iter::once(call.message.as_str())
        .chain(call.details.iter().map(|detail| detail.message.as_str()))
        .find_map(|message| {
            let rest =
                &message[message.find("chaincode response ")? + "chaincode response ".len()..];
            let (status, text) = rest.split_once(", ")?;
            Some((status.parse().ok()?, text.to_owned()))
        })
}

/// Maps a gateway failure to the gRPC status the caller gets: the chaincode's refusals keep their meaning
/// (400 → INVALID_ARGUMENT, 403 → PERMISSION_DENIED, 404 → NOT_FOUND, 409 → FAILED_PRECONDITION), an
/// invalid commit is ABORTED with the transaction id and validation code, a timeout DEADLINE_EXCEEDED and
/// an unreachable peer UNAVAILABLE.
pub fn status_of(error: &GatewayError) -> Status {
    if let Some((code, message)) = chaincode_refusal(error) {
        let code = match code {
            400 => Code::InvalidArgument,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            409 => Code::FailedPrecondition,
            _ => Code::Internal,
        };
        return Status::new(code, message);
    }
    match error {
        GatewayError::Commit {
            tx_id,
            code,
            block_number,
        } => {
            let mut status = Status::aborted(format!(
                "transaction {tx_id} committed in block {block_number} as {}",
                code_name(*code)
            ));
            if let Ok(value) = tx_id.parse() {
                status.metadata_mut().insert("x-tx-id", value);
            }
            if let Ok(value) = code.to_string().parse() {
                status.metadata_mut().insert("x-validation-code", value);
            }
            status
        }
        GatewayError::Timeout { .. } => Status::deadline_exceeded(error.to_string()),
        other => match other.call_error().map(|call| call.code) {
            Some(Code::Unavailable) => Status::unavailable(other.to_string()),
            _ => Status::internal(other.to_string()),
        },
    }
}

fn outcome(result: &Result<impl Sized, Status>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(status) => format!("{:?}", status.code()),
    }
}

fn audit_status(error: AuditError) -> Status {
    match error {
        AuditError::NotFound(what) => Status::not_found(what),
        AuditError::BadRequest(what) => Status::invalid_argument(what),
        other => Status::internal(other.to_string()),
    }
}

#[tonic::async_trait]
impl Blockchain for BlockchainApi {
    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let request = request.into_inner();
        check_function(&request.function)?;
        let started = Instant::now();
        let result = async {
            let contract = self.contract(request.actor.as_ref())?;
            let mut options = options(request.args, request.transient);
            options.retry = Some(self.retry);
            contract
                .submit(&request.function, options)
                .await
                .map_err(|error| {
                    tracing::info!(function = %request.function, %error, "Submit refused");
                    status_of(&error)
                })
        }
        .await;
        self.metrics
            .count("submit", &request.function, &outcome(&result));
        let submitted = result?;
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(Response::new(SubmitResponse {
            tx_id: submitted.tx_id,
            block_number: submitted.block_number,
            validation_code: 0,
            validation: "VALID".to_owned(),
            result: submitted.result,
            attempts: submitted.attempts,
        }))
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let request = request.into_inner();
        check_function(&request.function)?;
        let result = async {
            let contract = self.contract(request.actor.as_ref())?;
            contract
                .evaluate(&request.function, options(request.args, request.transient))
                .await
                .map_err(|error| status_of(&error))
        }
        .await;
        self.metrics
            .count("evaluate", &request.function, &outcome(&result));
        Ok(Response::new(EvaluateResponse { result: result? }))
    }

    async fn wait_for_mirror(
        &self,
        request: Request<WaitForMirrorRequest>,
    ) -> Result<Response<WaitForMirrorResponse>, Status> {
        let request = request.into_inner();
        let timeout = Duration::from_millis(u64::from(request.timeout_ms)).min(MAX_MIRROR_WAIT);
        let height = wait_for_height(&self.mirror, request.min_block, timeout).await;
        Ok(Response::new(WaitForMirrorResponse {
            height,
            reached: height > request.min_block,
            following: self
                .following
                .as_ref()
                .is_some_and(|following| following.load(Ordering::Relaxed)),
        }))
    }

    async fn key_history(
        &self,
        request: Request<KeyHistoryRequest>,
    ) -> Result<Response<KeyHistoryResponse>, Status> {
        let request = request.into_inner();
        let history = self
            .audit
            .history(&request.record_type, &request.id)
            .await
            .map_err(audit_status)?;
        Ok(Response::new(KeyHistoryResponse {
            key: history.key,
            entries: history
                .entries
                .into_iter()
                .map(|entry| KeyHistoryEntry {
                    tx_id: entry.tx_id,
                    block_number: entry.block_number,
                    position: entry.position,
                    timestamp: entry.timestamp.unwrap_or_default(),
                    is_delete: entry.is_delete,
                    value: entry
                        .value
                        .map(|value| value.to_string().into_bytes())
                        .unwrap_or_default(),
                    validation: entry.validation,
                })
                .collect(),
        }))
    }

    async fn transaction_proof(
        &self,
        request: Request<TransactionProofRequest>,
    ) -> Result<Response<TransactionProofResponse>, Status> {
        let proof = self
            .audit
            .proof(&request.into_inner().tx_id)
            .await
            .map_err(audit_status)?;
        Ok(Response::new(TransactionProofResponse {
            tx_id: proof.tx_id,
            block_number: proof.block_number,
            position: proof.position,
            validation_code: proof.validation_code.unwrap_or(-1),
            validation: proof.validation,
            chain: proof
                .chain
                .into_iter()
                .map(|link| BlockLink {
                    number: link.number,
                    header_hash: link.header_hash.0,
                    previous_hash: link.previous_hash.0,
                    data_hash: link.data_hash.0,
                })
                .collect(),
        }))
    }
}

/// Waits up to `timeout` for the mirror to hold block `min_block`; returns the height it has. Heights this
/// process writes wake the wait at once; the database is read as well, every 50 ms, so a mirror written by
/// another instance is seen too.
pub async fn wait_for_height(mirror: &Mirror, min_block: u64, timeout: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut written = mirror.subscribe();
    loop {
        let height = mirror.next_block().await.unwrap_or(*written.borrow());
        if height > min_block || tokio::time::Instant::now() >= deadline {
            return height;
        }
        let tick = (tokio::time::Instant::now() + Duration::from_millis(50)).min(deadline);
        tokio::select! {
            _ = written.changed() => {}
            () = tokio::time::sleep_until(tick) => {}
        }
    }
}
