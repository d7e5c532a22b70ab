//! One error type for every call: which call failed, and whether the CA refused it (with its own codes and
//! messages), answered something that is not Fabric CA's envelope, or could not be reached at all.

use std::fmt;
use std::path::PathBuf;

/// The call that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `cainfo`.
    CaInfo,
    /// `enroll`.
    Enroll,
    /// `reenroll`.
    Reenroll,
    /// `register`.
    Register,
    /// `revoke`.
    Revoke,
    /// `GET identities`.
    Identities,
    /// `GET identities/{id}`.
    Identity,
}

impl Call {
    /// The endpoint path, without any `/api/v1` prefix.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::CaInfo => "cainfo",
            Self::Enroll => "enroll",
            Self::Reenroll => "reenroll",
            Self::Register => "register",
            Self::Revoke => "revoke",
            Self::Identities | Self::Identity => "identities",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CaInfo => "cainfo",
            Self::Enroll => "enroll",
            Self::Reenroll => "reenroll",
            Self::Register => "register",
            Self::Revoke => "revoke",
            Self::Identities => "identities",
            Self::Identity => "identity",
        })
    }
}

/// One entry of the envelope's `errors` (or `messages`) array.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ServerMessage {
    /// Fabric CA's code (e.g. 20 = authentication failure, 71 = authorization failure).
    pub code: i64,
    /// Its message.
    pub message: String,
}

fn join_messages(errors: &[ServerMessage]) -> String {
    if errors.is_empty() {
        return "no error given".to_owned();
    }
    errors
        .iter()
        .map(|error| format!("code {}: {}", error.code, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a Fabric CA call, or the local work around it, failed.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The CA answered with `success: false` or an HTTP error status, in its own envelope.
    #[error(
        "{call}: the CA refused the request (HTTP {status}): {}",
        join_messages(errors)
    )]
    Refused {
        /// The call.
        call: Call,
        /// The HTTP status.
        status: u16,
        /// The envelope's `errors`.
        errors: Vec<ServerMessage>,
    },
    /// The answer is not a Fabric CA envelope, or its `result` is not what the call expects.
    #[error("{call}: unexpected answer from the CA (HTTP {status}): {reason}; body: {body}")]
    BadResponse {
        /// The call.
        call: Call,
        /// The HTTP status.
        status: u16,
        /// What is wrong.
        reason: String,
        /// The start of the body, for the operator.
        body: String,
    },
    /// The CA could not be reached, TLS failed, or the exchange broke or timed out.
    #[error("{call}: cannot talk to the CA at {url}: {reason}")]
    Transport {
        /// The call.
        call: Call,
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The client's settings are unusable (URL, TLS root certificate).
    #[error("CA client settings: {0}")]
    Config(String),
    /// A key, CSR, certificate or signature could not be made or read.
    #[error("{0}")]
    Crypto(String),
    /// An MSP folder could not be written.
    #[error("{path}: {reason}", path = .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl CaError {
    /// The call that failed, for errors that come from a call.
    pub fn call(&self) -> Option<Call> {
        match self {
            Self::Refused { call, .. }
            | Self::BadResponse { call, .. }
            | Self::Transport { call, .. } => Some(*call),
            Self::Config(_) | Self::Crypto(_) | Self::Io { .. } => None,
        }
    }

    /// The HTTP status, when the CA answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } | Self::BadResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The CA's first error code, when it refused.
    pub fn ca_code(&self) -> Option<i64> {
        match self {
            Self::Refused { errors, .. } => errors.first().map(|error| error.code),
            _ => None,
        }
    }

    /// The CA's first error message, when it refused.
    pub fn ca_message(&self) -> Option<&str> {
        match self {
            Self::Refused { errors, .. } => errors.first().map(|error| error.message.as_str()),
            _ => None,
        }
    }
}
