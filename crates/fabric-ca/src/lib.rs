//! A client for Hyperledger Fabric CA's REST API (v1.5): `cainfo`, `enroll`, `reenroll`, `register`,
//! `revoke` and `identities`, over http or https (rustls with the ring provider), with the token
//! authentication the CA verifies ([`token`]) and enrolled identities written as MSP folders in
//! fabric-ca-client's layout, which [`fabric_sdk::msp::MspFolder::load`] reads back.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fabric_ca::CaError> {
//! use fabric_ca::{AttributeRequest, CaClient, EnrollRequest};
//! let root = std::fs::read("tls-ca.pem").unwrap_or_default();
//! let ca = CaClient::builder("https://localhost:7054").tls_root_pem(root).build()?;
//! let request = EnrollRequest {
//!     attr_reqs: vec![AttributeRequest::required("club"), AttributeRequest::optional("role")],
//!     ..Default::default()
//! };
//! let enrollment = ca.enroll("clubadmin-alpha", "secret", &request).await?;
//! enrollment.write_msp(std::path::Path::new("msp"))?;
//! # Ok(()) }
//! ```

mod api;
mod client;
mod enrollment;
mod error;
mod http;
pub mod token;

pub use api::{
    Attribute, AttributeRequest, CaInfo, CsrNames, EnrollRequest, IdentityInfo,
    RegistrationRequest, RevocationRequest, RevocationResult, RevokedCert,
};
pub use client::{CaClient, CaClientBuilder, DEFAULT_TIMEOUT};
pub use enrollment::{Enrollment, MspFiles};
pub use error::{CaError, Call, ServerMessage};
pub use http::DEFAULT_PORT;
