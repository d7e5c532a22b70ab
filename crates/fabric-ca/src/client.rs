//! [`CaClient`]: the calls, their authentication (basic for `enroll`, the token for the rest) and the
//! response envelope.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fabric_sdk::identity::CertificateInfo;
use fabric_sdk::msp::SigningIdentity;
use hyper::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    CaInfo, CaInfoNet, EnrollRequest, EnrollmentRequestNet, EnrollmentResponseNet, IdentitiesNet,
    IdentityInfo, RegistrationRequest, RegistrationResponseNet, RevocationRequest,
    RevocationResponseNet, RevocationResult, WithCaName,
};
use crate::enrollment::Enrollment;
use crate::error::{CaError, Call, ServerMessage};
use crate::http::{Endpoint, path_escape, query_escape};

/// How long a call may take, connection included, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings for a [`CaClient`].
#[derive(Debug, Clone)]
pub struct CaClientBuilder {
    url: String,
    tls_root_pem: Option<Vec<u8>>,
    tls_server_name: Option<String>,
    ca_name: Option<String>,
    timeout: Duration,
}

impl CaClientBuilder {
    /// The PEM of the CA that issued the server's TLS certificate (required for `https`).
    pub fn tls_root_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_pem = Some(pem.into());
        self
    }

    /// The name to expect in the server's TLS certificate, when it is not the URL's host.
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// The CA to address on a server that hosts several (`--caname`); the default CA otherwise.
    pub fn ca_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.ca_name = (!name.is_empty()).then_some(name);
        self
    }

    /// How long one call may take, connecting included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the settings and makes the client (nothing is sent yet).
    pub fn build(self) -> Result<CaClient, CaError> {
        let endpoint = Endpoint::new(
            &self.url,
            self.tls_root_pem.as_deref(),
            self.tls_server_name.as_deref(),
            self.timeout,
        )?;
        Ok(CaClient {
            endpoint,
            ca_name: self.ca_name,
        })
    }
}

/// A client for one Fabric CA (v1.5 REST API).
#[derive(Debug, Clone)]
pub struct CaClient {
    endpoint: Endpoint,
    ca_name: Option<String>,
}

/// How a call authenticates.
enum Auth<'a> {
    None,
    Basic { id: &'a str, secret: &'a str },
    Token(&'a SigningIdentity),
}

impl CaClient {
    /// Starts the settings for the CA at `url` (e.g. `https://localhost:7054`; a base path such as
    /// `/api/v1` is kept and signed as part of every request URI).
    pub fn builder(url: impl Into<String>) -> CaClientBuilder {
        CaClientBuilder {
            url: url.into(),
            tls_root_pem: None,
            tls_server_name: None,
            ca_name: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The CA name the client addresses, if any.
    pub fn ca_name(&self) -> Option<&str> {
        self.ca_name.as_deref()
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.endpoint.url
    }

    /// The stem fabric-ca-client gives the CA certificate files of an MSP folder:
    /// `host-port[-caname]` with `.` and `:` turned into `-` (e.g. `localhost-7054-ca-org1`).
    pub fn ca_file_stem(&self) -> String {
        let mut stem = self.endpoint.authority.clone();
        if let Some(name) = &self.ca_name {
            stem.push('-');
            stem.push_str(name);
        }
        stem.replace([':', '.'], "-")
    }

    /// `cainfo`: the CA's name, chain, Idemix issuer keys and version.
    pub async fn cainfo(&self) -> Result<CaInfo, CaError> {
        let body = serde_json::json!({ "caname": self.ca_name });
        let body = match &self.ca_name {
            Some(_) => to_json(&body)?,
            None => b"{}".to_vec(),
        };
        let info: CaInfoNet = self
            .call(Call::CaInfo, Method::POST, "cainfo", None, body, Auth::None)
            .await?;
        info.decode().map_err(|reason| CaError::BadResponse {
            call: Call::CaInfo,
            status: 200,
            reason,
            body: String::new(),
        })
    }

    /// `enroll`: makes a new P-256 key and a CSR whose CN is `enrollment_id`, and has the CA sign it,
    /// authenticating with the enrollment secret.
    pub async fn enroll(
        &self,
        enrollment_id: &str,
        secret: &str,
        request: &EnrollRequest,
    ) -> Result<Enrollment, CaError> {
        self.enroll_as(
            Call::Enroll,
            enrollment_id,
            request,
            Auth::Basic {
                id: enrollment_id,
                secret,
            },
        )
        .await
    }

    /// `reenroll`: a new key and certificate for the identity `current` (its certificate's CN is the
    /// enrollment id), authenticated by a token from its current certificate.
    pub async fn reenroll(
        &self,
        current: &SigningIdentity,
        request: &EnrollRequest,
    ) -> Result<Enrollment, CaError> {
        let certificate = current
            .identity()
            .certificate()
            .map_err(|error| CaError::Crypto(format!("current certificate: {error}")))?;
        let enrollment_id = certificate.common_name.ok_or_else(|| {
            CaError::Crypto("current certificate has no common name (enrollment id)".to_owned())
        })?;
        self.enroll_as(
            Call::Reenroll,
            &enrollment_id,
            request,
            Auth::Token(current),
        )
        .await
    }

    async fn enroll_as(
        &self,
        call: Call,
        enrollment_id: &str,
        request: &EnrollRequest,
        auth: Auth<'_>,
    ) -> Result<Enrollment, CaError> {
        let (key, csr_pem) = crate::enrollment::key_and_csr(enrollment_id, request)?;
        let body = to_json(&EnrollmentRequestNet {
            hosts: &request.hosts,
            certificate_request: csr_pem,
            profile: request.profile.as_deref(),
            label: request.label.as_deref(),
            caname: self.ca_name.as_deref(),
            attr_reqs: &request.attr_reqs,
        })?;
        let answer: EnrollmentResponseNet = self
            .call(call, Method::POST, call.endpoint(), None, body, auth)
            .await?;
        let bad = |reason: String| CaError::BadResponse {
            call,
            status: 201,
            reason,
            body: String::new(),
        };
        let cert_pem = STANDARD
            .decode(&answer.cert)
            .map_err(|error| bad(format!("Cert is not base64: {error}")))?;
        let certificate =
            CertificateInfo::from_pem(&cert_pem).map_err(|error| bad(format!("Cert: {error}")))?;
        if certificate.public_key != key.public_key_raw() {
            return Err(bad(
                "the certificate is not for the key of the request".to_owned()
            ));
        }
        let ca_info = answer.server_info.decode().map_err(bad)?;
        Ok(Enrollment::new(
            enrollment_id.to_owned(),
            cert_pem,
            key.serialize_der(),
            ca_info,
            request.profile.clone(),
            self.ca_file_stem(),
        ))
    }

    /// `register`: a new identity, registered by `registrar`; returns its enrollment secret (the one
    /// given, or the one the CA generated).
    pub async fn register(
        &self,
        registrar: &SigningIdentity,
        request: &RegistrationRequest,
    ) -> Result<String, CaError> {
        let body = to_json(&WithCaName {
            request,
            caname: self.ca_name.as_deref(),
        })?;
        let answer: RegistrationResponseNet = self
            .call(
                Call::Register,
                Method::POST,
                "register",
                None,
                body,
                Auth::Token(registrar),
            )
            .await?;
        Ok(answer.secret)
    }

    /// `revoke`: an identity's certificates (and the identity), or one certificate by serial and AKI.
    pub async fn revoke(
        &self,
        caller: &SigningIdentity,
        request: &RevocationRequest,
    ) -> Result<RevocationResult, CaError> {
        let body = to_json(&WithCaName {
            request,
            caname: self.ca_name.as_deref(),
        })?;
        let answer: RevocationResponseNet = self
            .call(
                Call::Revoke,
                Method::POST,
                "revoke",
                None,
                body,
                Auth::Token(caller),
            )
            .await?;
        let crl_pem = if answer.crl.is_empty() {
            None
        } else {
            Some(
                STANDARD
                    .decode(&answer.crl)
                    .map_err(|error| CaError::BadResponse {
                        call: Call::Revoke,
                        status: 200,
                        reason: format!("CRL is not base64: {error}"),
                        body: String::new(),
                    })?,
            )
        };
        Ok(RevocationResult {
            revoked: answer.revoked_certs,
            crl_pem,
        })
    }

    /// `GET identities`: the identities `caller` (a registrar) may see.
    pub async fn identities(&self, caller: &SigningIdentity) -> Result<Vec<IdentityInfo>, CaError> {
        let query = self.ca_query();
        let answer: IdentitiesNet = self
            .call(
                Call::Identities,
                Method::GET,
                "identities",
                query.as_deref(),
                Vec::new(),
                Auth::Token(caller),
            )
            .await?;
        Ok(answer.identities)
    }

    /// `GET identities/{id}`: one identity.
    pub async fn identity(
        &self,
        caller: &SigningIdentity,
        id: &str,
    ) -> Result<IdentityInfo, CaError> {
        let query = self.ca_query();
        let endpoint = format!("identities/{}", path_escape(id));
        self.call(
            Call::Identity,
            Method::GET,
            &endpoint,
            query.as_deref(),
            Vec::new(),
            Auth::Token(caller),
        )
        .await
    }

    fn ca_query(&self) -> Option<String> {
        self.ca_name
            .as_deref()
            .map(|name| format!("ca={}", query_escape(name)))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        call: Call,
        method: Method,
        endpoint: &str,
        query: Option<&str>,
        body: Vec<u8>,
        auth: Auth<'_>,
    ) -> Result<T, CaError> {
        let request_uri = self.endpoint.request_uri(endpoint, query);
        let authorization = match auth {
            Auth::None => None,
            Auth::Basic { id, secret } => Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{id}:{secret}"))
            )),
            Auth::Token(identity) => Some(
                crate::token::create(
                    &identity.identity().cert_pem,
                    identity.signer().as_ref(),
                    method.as_str(),
                    &request_uri,
                    &body,
                )
                .map_err(|error| CaError::Crypto(format!("{call}: signing the token: {error}")))?,
            ),
        };
        let (status, answer) = self
            .endpoint
            .send(call, method, &request_uri, body, authorization)
            .await?;
        parse_envelope(call, status, &answer)
    }
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, CaError> {
    serde_json::to_vec(value).map_err(|error| CaError::Crypto(format!("encoding JSON: {error}")))
}

/// The start of a body, as text, for error messages.
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]).into_owned();
    if body.len() > MAX {
        format!("{text}…")
    } else {
        text
    }
}

/// Reads Fabric CA's envelope `{"result":…,"errors":[{code,message}],"messages":[…],"success":bool}`.
pub(crate) fn parse_envelope<T: DeserializeOwned>(
    call: Call,
    status: u16,
    body: &[u8],
) -> Result<T, CaError> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(default)]
        result: serde_json::Value,
        #[serde(default)]
        errors: Option<Vec<ServerMessage>>,
        success: bool,
    }
    let bad = |reason: String| CaError::BadResponse {
        call,
        status,
        reason,
        body: snippet(body),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad("empty answer".to_owned()));
    }
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|error| bad(format!("not a Fabric CA response: {error}")))?;
    let errors = envelope.errors.unwrap_or_default();
    if !envelope.success || !errors.is_empty() || !(200..300).contains(&status) {
        return Err(CaError::Refused {
            call,
            status,
            errors,
        });
    }
    serde_json::from_value(envelope.result)
        .map_err(|error| bad(format!("unexpected result: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Secret {
        secret: String,
    }

    #[test]
    fn envelopes_map_to_results_and_typed_errors() {
        let ok: Secret = parse_envelope(
            Call::Register,
            201,
            br#"{"result":{"secret":"s3"},"errors":[],"messages":[],"success":true}"#,
        )
        .unwrap();
        assert_eq!(ok.secret, "s3");

        let refused = parse_envelope::<Secret>(
            Call::Enroll,
            401,
            br#"{"result":"","errors":[{"code":20,"message":"Authentication failure"}],"messages":[],"success":false}"#,
        )
        .unwrap_err();
        assert_eq!(refused.call(), Some(Call::Enroll));
        assert_eq!(refused.http_status(), Some(401));
        assert_eq!(refused.ca_code(), Some(20));
        assert_eq!(refused.ca_message(), Some("Authentication failure"));
        assert_eq!(
            refused.to_string(),
            "enroll: the CA refused the request (HTTP 401): code 20: Authentication failure"
        );

        // An error status with a success envelope is still a refusal.
        let odd = parse_envelope::<Secret>(
            Call::Register,
            500,
            br#"{"result":"","errors":null,"success":true}"#,
        )
        .unwrap_err();
        assert!(matches!(odd, CaError::Refused { status: 500, .. }), "{odd}");
    }

    #[test]
    fn non_envelopes_are_bad_responses_with_the_body() {
        for (status, body, reason) in [
            (
                500,
                &b"Internal Server Error"[..],
                "not a Fabric CA response",
            ),
            (200, b"", "empty answer"),
            (200, b"{\"result\":{}}", "not a Fabric CA response"),
            (
                201,
                br#"{"result":{"nope":1},"errors":[],"messages":[],"success":true}"#,
                "unexpected result",
            ),
        ] {
            let error = parse_envelope::<Secret>(Call::Register, status, body).unwrap_err();
            match &error {
                CaError::BadResponse {
                    call: Call::Register,
                    status: got,
                    reason: why,
                    body: shown,
                } => {
                    assert_eq!(*got, status);
                    assert!(why.contains(reason), "{why}");
                    assert_eq!(shown.as_bytes(), body);
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
