//! Errors of the gateway client, typed by the step that failed and carrying what a caller needs to act on
//! them: the transaction id, the gRPC status and the per-peer details the gateway attached.

use fabric_protos::gateway::ErrorDetail;
use fabric_protos::protos::TxValidationCode;
use prost::Message;

/// One peer's or orderer's part in a failure, from the status details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerError {
    /// The node's address.
    pub address: String,
    /// Its MSP id.
    pub msp_id: String,
    /// What it said.
    pub message: String,
}

impl From<ErrorDetail> for PeerError {
    fn from(detail: ErrorDetail) -> Self {
        Self {
            address: detail.address,
            msp_id: detail.msp_id,
            message: detail.message,
        }
    }
}

/// A gRPC failure of one call, with the gateway's details decoded.
#[derive(Debug, Clone)]
pub struct CallError {
    /// The gRPC status code.
    pub code: tonic::Code,
    /// The status message.
    pub message: String,
    /// Per-peer details (`gateway.ErrorDetail`s in `grpc-status-details-bin`).
    pub details: Vec<PeerError>,
}

impl CallError {
    /// Decodes a tonic status, including its `gateway.ErrorDetail`s.
    pub fn from_status(status: &tonic::Status) -> Self {
        let details = fabric_protos::google::rpc::Status::decode(status.details())
            .map(|rich| {
                rich.details
                    .into_iter()
                    .filter(|any| any.type_url.ends_with("/gateway.ErrorDetail"))
                    .filter_map(|any| ErrorDetail::decode(any.value.as_slice()).ok())
                    .map(PeerError::from)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            code: status.code(),
            message: status.message().to_owned(),
            details,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)?;
        for detail in &self.details {
            write!(
                f,
                "; {} ({}): {}",
                detail.address, detail.msp_id, detail.message
            )?;
        }
        Ok(())
    }
}

/// Why a gateway operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Signing a request failed.
    #[error("signing failed: {0}")]
    Sign(#[from] crate::signer::SignError),
    /// Evaluate failed.
    #[error("evaluate of transaction {tx_id} failed: {error}")]
    Evaluate {
        /// The transaction id of the proposal.
        tx_id: String,
        /// The call's failure.
        error: CallError,
    },
    /// Endorse failed.
    #[error("endorse of transaction {tx_id} failed: {error}")]
    Endorse {
        /// The transaction id.
        tx_id: String,
        /// The call's failure.
        error: CallError,
    },
    /// Submit failed.
    #[error("submit of transaction {tx_id} failed: {error}")]
    Submit {
        /// The transaction id.
        tx_id: String,
        /// The call's failure.
        error: CallError,
    },
    /// CommitStatus failed.
    #[error("commit status of transaction {tx_id} failed: {error}")]
    CommitStatus {
        /// The transaction id.
        tx_id: String,
        /// The call's failure.
        error: CallError,
    },
    /// The transaction was committed but is not valid.
    #[error("transaction {tx_id} committed in block {block_number} with status {}", code_name(*.code))]
    Commit {
        /// The transaction id.
        tx_id: String,
        /// Its validation code.
        code: i32,
        /// The block it is in.
        block_number: u64,
    },
    /// A call did not finish within its timeout.
    #[error("{step} of transaction {tx_id} timed out after {timeout:?}")]
    Timeout {
        /// The step.
        step: &'static str,
        /// The transaction id.
        tx_id: String,
        /// The timeout that elapsed.
        timeout: std::time::Duration,
    },
    /// The gateway answered with something that does not decode.
    #[error("transaction {tx_id}: malformed response from the gateway: {reason}")]
    Malformed {
        /// The transaction id.
        tx_id: String,
        /// What is wrong.
        reason: String,
    },
    /// An event stream failed.
    #[error("event stream failed: {0}")]
    Events(CallError),
    /// Reading or writing a checkpoint failed.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

impl GatewayError {
    /// The transaction id the error concerns, if any.
    pub fn tx_id(&self) -> Option<&str> {
        match self {
            Self::Evaluate { tx_id, .. }
            | Self::Endorse { tx_id, .. }
            | Self::Submit { tx_id, .. }
            | Self::CommitStatus { tx_id, .. }
            | Self::Commit { tx_id, .. }
            | Self::Timeout { tx_id, .. }
            | Self::Malformed { tx_id, .. } => Some(tx_id),
            Self::Sign(_) | Self::Events(_) | Self::Checkpoint { .. } => None,
        }
    }

    /// The gRPC failure, when the error is one.
    pub fn call_error(&self) -> Option<&CallError> {
        match self {
            Self::Evaluate { error, .. }
            | Self::Endorse { error, .. }
            | Self::Submit { error, .. }
            | Self::CommitStatus { error, .. }
            | Self::Events(error) => Some(error),
            _ => None,
        }
    }

    /// The validation code when the transaction was committed invalid.
    pub fn validation_code(&self) -> Option<i32> {
        match self {
            Self::Commit { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The name of a `TxValidationCode`, e.g. `MVCC_READ_CONFLICT`.
pub fn code_name(code: i32) -> &'static str {
    TxValidationCode::try_from(code).map_or("UNKNOWN_VALIDATION_CODE", |code| code.as_str_name())
}
