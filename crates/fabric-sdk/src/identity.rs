//! Fabric identities: the `SerializedIdentity` (MSP id + PEM certificate) that travels in every header, and
//! the facts a certificate carries — subject, issuer, organisational units (NodeOU roles), validity, public
//! key, and the attributes Fabric CA records in extension 1.2.3.4.5.6.7.8.1 (`{"attrs":{...}}`).

use std::collections::BTreeMap;

use fabric_protos::msp::SerializedIdentity;
use prost::Message;
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::Oid;
use x509_parser::prelude::FromDer;

/// The extension in which Fabric CA stores an identity's attributes.
pub const FABRIC_CA_ATTRS_OID: &str = "1.2.3.4.5.6.7.8.1";

/// Why an identity or certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The bytes are not PEM, or hold no block of the expected kind.
    #[error("not PEM: {0}")]
    NotPem(String),
    /// The PEM block is not a certificate.
    #[error("PEM block is {0:?}, not CERTIFICATE")]
    NotACertificate(String),
    /// The certificate's DER does not parse.
    #[error("malformed certificate: {0}")]
    MalformedCertificate(String),
    /// The Fabric CA attribute extension is not the expected JSON.
    #[error("malformed Fabric CA attributes (extension 1.2.3.4.5.6.7.8.1): {0}")]
    MalformedAttributes(String),
    /// The bytes are not a serialized identity.
    #[error("not a SerializedIdentity: {0}")]
    NotSerializedIdentity(String),
}

/// An identity as Fabric serializes it in headers: MSP id and the certificate as PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The MSP id, e.g. `Org1MSP`.
    pub msp_id: String,
    /// The certificate, PEM-encoded (Fabric requires PEM here, not DER).
    pub cert_pem: Vec<u8>,
}

impl Identity {
    /// The `msp.SerializedIdentity` bytes (the "creator" of proposals and transactions).
    pub fn serialize(&self) -> Vec<u8> {
        SerializedIdentity {
            mspid: self.msp_id.clone(),
            id_bytes: self.cert_pem.clone(),
        }
        .encode_to_vec()
    }

    /// Reads `msp.SerializedIdentity` bytes.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, IdentityError> {
        let identity = SerializedIdentity::decode(bytes)
            .map_err(|error| IdentityError::NotSerializedIdentity(error.to_string()))?;
        Ok(Self {
            msp_id: identity.mspid,
            cert_pem: identity.id_bytes,
        })
    }

    /// The facts of the certificate.
    pub fn certificate(&self) -> Result<CertificateInfo, IdentityError> {
        CertificateInfo::from_pem(&self.cert_pem)
    }
}

/// The DER contents of the first PEM block whose label is one of `labels`.
pub fn pem_block(pem: &[u8], labels: &[&str]) -> Result<Vec<u8>, IdentityError> {
    let mut found = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.map_err(|error| IdentityError::NotPem(error.to_string()))?;
        if labels.contains(&block.label.as_str()) {
            return Ok(block.contents);
        }
        found.push(block.label);
    }
    if found.is_empty() {
        Err(IdentityError::NotPem("no PEM block found".to_owned()))
    } else {
        Err(IdentityError::NotPem(format!(
            "expected {} but found {}",
            labels.join(" or "),
            found.join(", ")
        )))
    }
}

/// Every certificate in a PEM bundle, as DER.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, IdentityError> {
    let mut certificates = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.map_err(|error| IdentityError::NotPem(error.to_string()))?;
        if block.label != "CERTIFICATE" {
            return Err(IdentityError::NotACertificate(block.label));
        }
        certificates.push(block.contents);
    }
    if certificates.is_empty() {
        return Err(IdentityError::NotPem("no PEM block found".to_owned()));
    }
    Ok(certificates)
}

/// What a certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject distinguished name (RFC 4514 style).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// The subject's common name.
    pub common_name: Option<String>,
    /// The subject's organisational units, in order (NodeOU roles such as `client`, `peer`, `admin`).
    pub organizational_units: Vec<String>,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// Serial number, lowercase hex.
    pub serial_hex: String,
    /// Fabric CA attributes (empty when the certificate has none).
    pub attributes: BTreeMap<String, String>,
    /// The subject public key (for EC keys, the uncompressed point).
    pub public_key: Vec<u8>,
    /// Subject key identifier, lowercase hex, if present.
    pub subject_key_id: Option<String>,
    /// Whether the certificate is a CA (basic constraints).
    pub is_ca: bool,
    /// The DER encoding.
    pub der: Vec<u8>,
}

impl CertificateInfo {
    /// Reads the first certificate of a PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, IdentityError> {
        let block = x509_parser::pem::Pem::iter_from_buffer(pem)
            .next()
            .ok_or_else(|| IdentityError::NotPem("no PEM block found".to_owned()))?
            .map_err(|error| IdentityError::NotPem(error.to_string()))?;
        if block.label != "CERTIFICATE" {
            return Err(IdentityError::NotACertificate(block.label));
        }
        Self::from_der(&block.contents)
    }

    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, IdentityError> {
        let (_, certificate) = X509Certificate::from_der(der)
            .map_err(|error| IdentityError::MalformedCertificate(error.to_string()))?;
        let subject = certificate.subject();
        let organizational_units = subject
            .iter_organizational_unit()
            .filter_map(|unit| unit.as_str().ok().map(str::to_owned))
            .collect();
        let common_name = subject
            .iter_common_name()
            .next()
            .and_then(|name| name.as_str().ok().map(str::to_owned));
        let attributes_oid = Oid::from(&[1, 2, 3, 4, 5, 6, 7, 8, 1])
            .map_err(|_| IdentityError::MalformedAttributes("bad OID".to_owned()))?;
        let attributes = match certificate
            .extensions()
            .iter()
            .find(|extension| extension.oid == attributes_oid)
        {
            Some(extension) => parse_attributes(extension.value)?,
            None => BTreeMap::new(),
        };
        let subject_key_id = certificate
            .extensions()
            .iter()
            .find_map(|extension| match extension.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                    Some(hex::encode(id.0))
                }
                _ => None,
            });
        let is_ca = certificate
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|constraints| constraints.value.ca);
        let validity = certificate.validity();
        Ok(Self {
            subject: subject.to_string(),
            issuer: certificate.issuer().to_string(),
            common_name,
            organizational_units,
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            serial_hex: certificate.raw_serial_as_string().replace(':', ""),
            attributes,
            public_key: certificate.public_key().subject_public_key.data.to_vec(),
            subject_key_id,
            is_ca,
            der: der.to_vec(),
        })
    }

    /// Whether the certificate has expired at `unix_seconds` (or is not yet valid).
    pub fn is_expired_at(&self, unix_seconds: i64) -> bool {
        unix_seconds > self.not_after || unix_seconds < self.not_before
    }

    /// The value of a Fabric CA attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

fn parse_attributes(value: &[u8]) -> Result<BTreeMap<String, String>, IdentityError> {
    #[derive(serde::Deserialize)]
    struct Attributes {
        attrs: BTreeMap<String, serde_json::Value>,
    }
    let parsed: Attributes = serde_json::from_slice(value)
        .map_err(|error| IdentityError::MalformedAttributes(error.to_string()))?;
    Ok(parsed
        .attrs
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (name, value)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_identity_round_trip() {
        let identity = Identity {
            msp_id: "Org1MSP".to_owned(),
            cert_pem: b"CERT".to_vec(),
        };
        assert_eq!(
            Identity::deserialize(&identity.serialize()).unwrap(),
            identity
        );
        assert!(Identity::deserialize(&[0xff, 0xff]).is_err());
    }

    #[test]
    fn attributes_json_is_read() {
        let attrs =
            parse_attributes(br#"{"attrs":{"club":"club-alpha","role":"club_admin","n":3}}"#)
                .unwrap();
        assert_eq!(attrs["club"], "club-alpha");
        assert_eq!(attrs["role"], "club_admin");
        assert_eq!(attrs["n"], "3");
        assert!(parse_attributes(b"not json").is_err());
    }

    #[test]
    fn non_certificates_are_refused() {
        let key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            CertificateInfo::from_pem(key),
            Err(IdentityError::NotACertificate("PRIVATE KEY".to_owned()))
        );
        assert!(matches!(
            CertificateInfo::from_pem(b"hello"),
            Err(IdentityError::NotPem(_))
        ));
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            CertificateInfo::from_pem(garbage),
            Err(IdentityError::MalformedCertificate(_))
        ));
    }
}
