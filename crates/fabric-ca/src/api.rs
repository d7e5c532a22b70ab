//! Requests and results of the calls, and their JSON on the wire (Fabric CA 1.5's field names: snake case
//! in requests, Go's exported names such as `CAName` and `RevokedCerts` in several results).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize};

fn is_false(value: &bool) -> bool {
    !*value
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// An attribute to put in the enrollment certificate (`attr_reqs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeRequest {
    /// The attribute's name, e.g. `club`.
    pub name: String,
    /// When false, enrolling fails if the identity does not have the attribute.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
}

impl AttributeRequest {
    /// A required attribute.
    pub fn required(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            optional: false,
        }
    }

    /// An optional attribute.
    pub fn optional(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            optional: true,
        }
    }
}

/// The subject names of the CSR besides the common name (which is always the enrollment id). The CA
/// replaces any OU with the identity's type and affiliation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrNames {
    /// C.
    pub country: Option<String>,
    /// ST.
    pub state: Option<String>,
    /// L.
    pub locality: Option<String>,
    /// O.
    pub organization: Option<String>,
}

/// What to ask for when enrolling or reenrolling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrollRequest {
    /// Subject alternative names (DNS names or IP addresses), put in the CSR and the sign request.
    pub hosts: Vec<String>,
    /// Subject names besides the CN.
    pub names: CsrNames,
    /// Signing profile, e.g. `tls` (a TLS certificate; its CA certificates go to `tlscacerts/`).
    pub profile: Option<String>,
    /// HSM label.
    pub label: Option<String>,
    /// Attributes to put in the certificate; empty means the CA's default (those registered with
    /// `ecert`).
    pub attr_reqs: Vec<AttributeRequest>,
}

/// The enroll/reenroll body (cfssl's sign request plus Fabric's extras).
#[derive(Debug, Serialize)]
pub(crate) struct EnrollmentRequestNet<'a> {
    pub(crate) hosts: &'a [String],
    pub(crate) certificate_request: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) profile: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) caname: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) attr_reqs: &'a [AttributeRequest],
}

/// An identity's attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// Name, e.g. `role`.
    pub name: String,
    /// Value, e.g. `club_admin`.
    pub value: String,
    /// Whether the CA puts it in enrollment certificates by default.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ecert: bool,
}

impl Attribute {
    /// An attribute that goes into enrollment certificates by default.
    pub fn ecert(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            ecert: true,
        }
    }
}

/// A new identity to register.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistrationRequest {
    /// The enrollment id.
    #[serde(rename = "id")]
    pub id: String,
    /// `client`, `peer`, `admin`, `orderer` (the NodeOU role the certificate's OU will carry); the CA's
    /// default (`client`) when empty.
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The enrollment secret; the CA generates one when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// How often the secret may be used (the CA's default when absent; -1 = unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_enrollments: Option<i32>,
    /// Affiliation, e.g. `org1.department1` (empty = the registrar's).
    pub affiliation: String,
    /// Attributes.
    #[serde(rename = "attrs", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

/// A request body with the client's CA name added (`caname`), as every body carries it.
#[derive(Debug, Serialize)]
pub(crate) struct WithCaName<'a, T> {
    #[serde(flatten)]
    pub(crate) request: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) caname: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegistrationResponseNet {
    pub(crate) secret: String,
}

/// What to revoke: every certificate of an identity (and the identity), or one certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RevocationRequest {
    /// The enrollment id whose certificates to revoke.
    #[serde(rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Serial number of one certificate (hex; case, colons and leading zeros do not matter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Authority key identifier of that certificate (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aki: Option<String>,
    /// Reason, e.g. `keycompromise`, `superseded` (unspecified when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Also generate and return a CRL.
    #[serde(skip_serializing_if = "is_false")]
    pub gencrl: bool,
}

/// A revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedCert {
    /// Serial number, hex.
    #[serde(rename = "Serial")]
    pub serial: String,
    /// Authority key identifier, hex.
    #[serde(rename = "AKI")]
    pub aki: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevocationResponseNet {
    #[serde(rename = "RevokedCerts", default, deserialize_with = "null_as_default")]
    pub(crate) revoked_certs: Vec<RevokedCert>,
    #[serde(rename = "CRL", default, deserialize_with = "null_as_default")]
    pub(crate) crl: String,
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationResult {
    /// The certificates revoked.
    pub revoked: Vec<RevokedCert>,
    /// The CRL (PEM), when one was asked for and certificates were revoked.
    pub crl_pem: Option<Vec<u8>>,
}

/// An identity as the CA lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityInfo {
    /// Enrollment id.
    pub id: String,
    /// Type (`client`, `peer`, ...).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Affiliation.
    #[serde(default)]
    pub affiliation: String,
    /// Attributes.
    #[serde(rename = "attrs", default, deserialize_with = "null_as_default")]
    pub attributes: Vec<Attribute>,
    /// Maximum enrollments (-1 = unlimited).
    #[serde(default)]
    pub max_enrollments: i64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IdentitiesNet {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) identities: Vec<IdentityInfo>,
}

/// What `cainfo` (and every enrollment) says about the CA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaInfo {
    /// The CA's name.
    pub ca_name: String,
    /// The CA's certificate chain (PEM; the root CA's own certificate for a root CA).
    pub ca_chain_pem: Vec<u8>,
    /// The Idemix issuer public key (bytes, empty if none).
    pub issuer_public_key: Vec<u8>,
    /// The Idemix issuer revocation public key (PEM, empty if none).
    pub issuer_revocation_public_key: Vec<u8>,
    /// The server's version (empty in enrollment answers).
    pub version: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CaInfoNet {
    #[serde(rename = "CAName", default)]
    ca_name: String,
    #[serde(rename = "CAChain", default)]
    ca_chain: String,
    #[serde(rename = "IssuerPublicKey", default)]
    issuer_public_key: String,
    #[serde(rename = "IssuerRevocationPublicKey", default)]
    issuer_revocation_public_key: String,
    #[serde(rename = "Version", default)]
    version: String,
}

impl CaInfoNet {
    pub(crate) fn decode(self) -> Result<CaInfo, String> {
        let decode = |what: &str, text: &str| {
            STANDARD
                .decode(text)
                .map_err(|error| format!("{what} is not base64: {error}"))
        };
        Ok(CaInfo {
            ca_name: self.ca_name,
            ca_chain_pem: decode("CAChain", &self.ca_chain)?,
            issuer_public_key: decode("IssuerPublicKey", &self.issuer_public_key)?,
            issuer_revocation_public_key: decode(
                "IssuerRevocationPublicKey",
                &self.issuer_revocation_public_key,
            )?,
            version: self.version,
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct EnrollmentResponseNet {
    #[serde(rename = "Cert")]
    pub(crate) cert: String,
    #[serde(rename = "ServerInfo")]
    pub(crate) server_info: CaInfoNet,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_json_uses_fabric_ca_names() {
        let request = RegistrationRequest {
            id: "clubadmin-alpha".to_owned(),
            kind: "client".to_owned(),
            secret: None,
            max_enrollments: Some(-1),
            affiliation: "org1.department1".to_owned(),
            attributes: vec![
                Attribute::ecert("club", "club-alpha"),
                Attribute {
                    name: "note".to_owned(),
                    value: "x".to_owned(),
                    ecert: false,
                },
            ],
        };
        let body = WithCaName {
            request: &request,
            caname: Some("ca-org1"),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"id":"clubadmin-alpha","type":"client","max_enrollments":-1,"affiliation":"org1.department1","attrs":[{"name":"club","value":"club-alpha","ecert":true},{"name":"note","value":"x"}],"caname":"ca-org1"}"#
        );
    }

    #[test]
    fn results_with_nulls_decode() {
        let revocation: RevocationResponseNet =
            serde_json::from_str(r#"{"RevokedCerts":null,"CRL":""}"#).unwrap();
        assert!(revocation.revoked_certs.is_empty());
        let identity: IdentityInfo = serde_json::from_str(
            r#"{"id":"a","type":"client","affiliation":"","attrs":null,"max_enrollments":-1}"#,
        )
        .unwrap();
        assert!(identity.attributes.is_empty());
        assert_eq!(identity.max_enrollments, -1);
    }
}
