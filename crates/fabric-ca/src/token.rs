//! The token that authenticates every call but `enroll` and `cainfo`, as Fabric CA 1.5 makes and checks it
//! (`util.GenECDSAToken` / `util.VerifyToken`):
//!
//! ```text
//! Authorization: B64(certPEM) "." B64(signature)
//! signature = ECDSA-P256( SHA-256( METHOD "." B64(requestURI) "." B64(body) "." B64(certPEM) ) ), DER, low-S
//! ```
//!
//! B64 is standard base64 with padding. `requestURI` is what the server reads off the request line — Go's
//! `URL.RequestURI()`: the path exactly as sent (including any `/api/v1` or proxy prefix of the base URL)
//! plus `?` and the query string when there is one. An empty body encodes as the empty string. The
//! 1.3 form (`B64(body) "." B64(certPEM)` only) is accepted by a server only in its compatibility mode
//! (`FABRIC_CA_SERVER_COMPATIBILITY_MODE_V1_3=true`, off by default); this client never sends it, and
//! [`verify`] accepts it only when asked to.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fabric_sdk::identity::CertificateInfo;
use fabric_sdk::signer::{SignError, Signer, VerifyError};

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not `<b64 cert>.<b64 signature>`.
    #[error("invalid token format: {0}")]
    Format(String),
    /// The certificate in the token does not parse.
    #[error("invalid certificate in token: {0}")]
    Certificate(String),
    /// The signature does not verify (or is high-S).
    #[error("token signature validation failure: {0}")]
    Signature(VerifyError),
}

/// The exact string that is hashed and signed.
pub fn message(method: &str, request_uri: &str, body: &[u8], cert_pem: &[u8]) -> String {
    format!(
        "{method}.{}.{}.{}",
        STANDARD.encode(request_uri.as_bytes()),
        STANDARD.encode(body),
        STANDARD.encode(cert_pem)
    )
}

/// The 1.3-compatibility message: `B64(body) "." B64(certPEM)`.
pub fn message_v1_3(body: &[u8], cert_pem: &[u8]) -> String {
    format!("{}.{}", STANDARD.encode(body), STANDARD.encode(cert_pem))
}

/// Makes the `Authorization` header value for a call by the identity holding `cert_pem`.
pub fn create(
    cert_pem: &[u8],
    signer: &dyn Signer,
    method: &str,
    request_uri: &str,
    body: &[u8],
) -> Result<String, SignError> {
    let signature = signer.sign(message(method, request_uri, body, cert_pem).as_bytes())?;
    Ok(format!(
        "{}.{}",
        STANDARD.encode(cert_pem),
        STANDARD.encode(signature)
    ))
}

/// Checks a token as Fabric CA does and returns the caller's certificate (PEM, as it was in the token).
///
/// This is the signature check only; the server then also checks that the certificate was issued by it,
/// has not expired and is not revoked, and that its identity exists.
pub fn verify(
    token: &str,
    method: &str,
    request_uri: &str,
    body: &[u8],
    compatibility_v1_3: bool,
) -> Result<Vec<u8>, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Format("it is empty".to_owned()));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [b64_cert, b64_signature] = parts.as_slice() else {
        return Err(TokenError::Format(
            "expecting 2 parts separated by '.'".to_owned(),
        ));
    };
    let cert_pem = STANDARD
        .decode(b64_cert)
        .map_err(|error| TokenError::Certificate(format!("not base64: {error}")))?;
    let certificate = CertificateInfo::from_pem(&cert_pem)
        .map_err(|error| TokenError::Certificate(error.to_string()))?;
    let signature = STANDARD
        .decode(b64_signature)
        .map_err(|error| TokenError::Format(format!("signature is not base64: {error}")))?;
    // The message embeds the certificate's base64 exactly as the token carries it.
    let signed = format!(
        "{method}.{}.{}.{b64_cert}",
        STANDARD.encode(request_uri.as_bytes()),
        STANDARD.encode(body)
    );
    let result = fabric_sdk::signer::verify(&certificate.public_key, signed.as_bytes(), &signature);
    match result {
        Ok(()) => Ok(cert_pem),
        Err(error) if compatibility_v1_3 => {
            let legacy = format!("{}.{b64_cert}", STANDARD.encode(body));
            fabric_sdk::signer::verify(&certificate.public_key, legacy.as_bytes(), &signature)
                .map(|()| cert_pem)
                .map_err(|_| TokenError::Signature(error))
        }
        Err(error) => Err(TokenError::Signature(error)),
    }
}
