//! The contract's one error type: each refusal carries the status a Fabric response carries (400 bad
//! input, 403 not allowed, 404 unknown, 409 conflict with the current state, 500 ledger failure) and a
//! message for the person who sent the request.

use chaincode_shim::StubError;

/// Why a transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// The input is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state or the rules.
    #[error("{0}")]
    Conflict(String),
    /// The ledger failed.
    #[error("ledger error: {0}")]
    Ledger(String),
}

impl ContractError {
    /// The response status.
    pub fn status(&self) -> i32 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Ledger(_) => 500,
        }
    }
}

impl From<StubError> for ContractError {
    fn from(error: StubError) -> Self {
        match error {
            StubError::InvalidKey(message) => Self::BadRequest(message),
            other => Self::Ledger(other.to_string()),
        }
    }
}

/// A 400.
pub fn bad_request(message: impl Into<String>) -> ContractError {
    ContractError::BadRequest(message.into())
}

/// A 403.
pub fn forbidden(message: impl Into<String>) -> ContractError {
    ContractError::Forbidden(message.into())
}

/// A 404.
pub fn not_found(message: impl Into<String>) -> ContractError {
    ContractError::NotFound(message.into())
}

/// A 409.
pub fn conflict(message: impl Into<String>) -> ContractError {
    ContractError::Conflict(message.into())
}

/// Result of a transaction function.
pub type ContractResult<T> = Result<T, ContractError>;
