//! Keys and CSRs for enrolling, and what an enrollment yields: the certificate, its key and the CA chain,
//! written as an MSP folder in fabric-ca-client's layout:
//!
//! ```text
//! msp/
//!   signcerts/cert.pem
//!   keystore/<hex SHA-256 of the public key point>_sk        PKCS#8 PEM, mode 0600
//!   cacerts/<host>-<port>[-<caname>].pem                     root CA certificate(s)
//!   intermediatecerts/<host>-<port>[-<caname>].pem           when the chain has intermediates
//!   IssuerPublicKey, IssuerRevocationPublicKey               when the CA has Idemix keys
//! ```
//!
//! With the `tls` profile the CA certificates go to `tlscacerts/tls-<stem>.pem` and
//! `tlsintermediatecerts/tls-<stem>.pem` instead, as fabric-ca-client does.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fabric_sdk::identity::{CertificateInfo, Identity};
use fabric_sdk::msp::SigningIdentity;
use fabric_sdk::signer::EcdsaP256Signer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

use crate::api::{CaInfo, EnrollRequest};
use crate::error::CaError;

/// A new P-256 key and a PEM CSR for it, CN = `enrollment_id`.
pub(crate) fn key_and_csr(
    enrollment_id: &str,
    request: &EnrollRequest,
) -> Result<(rcgen::KeyPair, String), CaError> {
    let crypto = |what: &str, error: rcgen::Error| CaError::Crypto(format!("{what}: {error}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|error| crypto("generating a P-256 key", error))?;
    let mut params = rcgen::CertificateParams::new(request.hosts.clone())
        .map_err(|error| crypto("CSR hosts", error))?;
    let mut subject = rcgen::DistinguishedName::new();
    let names = &request.names;
    for (kind, value) in [
        (rcgen::DnType::CountryName, &names.country),
        (rcgen::DnType::StateOrProvinceName, &names.state),
        (rcgen::DnType::LocalityName, &names.locality),
        (rcgen::DnType::OrganizationName, &names.organization),
    ] {
        if let Some(value) = value {
            subject.push(kind, value.as_str());
        }
    }
    subject.push(rcgen::DnType::CommonName, enrollment_id);
    params.distinguished_name = subject;
    let csr = params
        .serialize_request(&key)
        .map_err(|error| crypto("making the CSR", error))?;
    let pem = csr
        .pem()
        .map_err(|error| crypto("encoding the CSR", error))?;
    Ok((key, pem))
}

/// An enrolled identity: its certificate and private key, and the CA's chain.
#[derive(Clone)]
pub struct Enrollment {
    /// The enrollment id (the certificate's CN).
    pub enrollment_id: String,
    /// The certificate, PEM.
    pub cert_pem: Vec<u8>,
    key_pkcs8_der: Vec<u8>,
    /// What the CA said about itself (chain, Idemix keys).
    pub ca_info: CaInfo,
    /// The signing profile asked for (`tls` changes where CA certificates are written).
    pub profile: Option<String>,
    /// File stem of the CA certificate files (see [`crate::CaClient::ca_file_stem`]).
    pub ca_file_stem: String,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrollment")
            .field("enrollment_id", &self.enrollment_id)
            .field("ca_name", &self.ca_info.ca_name)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// The files [`Enrollment::write_msp`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MspFiles {
    /// `signcerts/cert.pem`.
    pub cert: PathBuf,
    /// `keystore/<ski>_sk`.
    pub key: PathBuf,
    /// The root CA certificate file, when the chain has one.
    pub ca_certs: Option<PathBuf>,
    /// The intermediate CA certificate file, when the chain has intermediates.
    pub intermediate_certs: Option<PathBuf>,
}

impl Enrollment {
    pub(crate) fn new(
        enrollment_id: String,
        cert_pem: Vec<u8>,
        key_pkcs8_der: Vec<u8>,
        ca_info: CaInfo,
        profile: Option<String>,
        ca_file_stem: String,
    ) -> Self {
        Self {
            enrollment_id,
            cert_pem,
            key_pkcs8_der,
            ca_info,
            profile,
            ca_file_stem,
        }
    }

    /// The private key, PKCS#8 DER.
    pub fn key_pkcs8_der(&self) -> &[u8] {
        &self.key_pkcs8_der
    }

    /// The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn key_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.key_pkcs8_der)
    }

    /// What the certificate says (subject, OUs, Fabric CA attributes, ...).
    pub fn certificate(&self) -> Result<CertificateInfo, CaError> {
        CertificateInfo::from_pem(&self.cert_pem)
            .map_err(|error| CaError::Crypto(format!("enrollment certificate: {error}")))
    }

    /// The keystore file name fabric-ca-client uses: hex SHA-256 of the public key point, `_sk`.
    pub fn key_file_name(&self) -> Result<String, CaError> {
        let certificate = self.certificate()?;
        Ok(format!(
            "{}_sk",
            hex::encode(fabric_sdk::signer::sha256(&certificate.public_key))
        ))
    }

    /// The identity as a signer, without going through a folder.
    pub fn signing_identity(&self, msp_id: &str) -> Result<SigningIdentity, CaError> {
        let signer = EcdsaP256Signer::from_pkcs8_der(&self.key_pkcs8_der)
            .map_err(|error| CaError::Crypto(format!("enrollment key: {error}")))?;
        Ok(SigningIdentity::new(
            Identity {
                msp_id: msp_id.to_owned(),
                cert_pem: self.cert_pem.clone(),
            },
            Arc::new(signer),
        ))
    }

    /// Writes the enrollment into `dir` in fabric-ca-client's layout (see the module docs), creating
    /// folders as needed. An existing `signcerts/cert.pem` and CA files are replaced; other keys in
    /// `keystore/` are left alone.
    pub fn write_msp(&self, dir: &Path) -> Result<MspFiles, CaError> {
        let (roots, intermediates) = split_chain(&self.ca_info.ca_chain_pem)?;
        let tls = self.profile.as_deref() == Some("tls");
        let (root_dir, intermediate_dir, file_name) = if tls {
            (
                "tlscacerts",
                "tlsintermediatecerts",
                format!("tls-{}.pem", self.ca_file_stem),
            )
        } else {
            (
                "cacerts",
                "intermediatecerts",
                format!("{}.pem", self.ca_file_stem),
            )
        };
        let key = dir.join("keystore").join(self.key_file_name()?);
        write_file(&key, self.key_pem().as_bytes(), true)?;
        let cert = dir.join("signcerts").join("cert.pem");
        write_file(&cert, &self.cert_pem, false)?;
        let ca_certs = if roots.is_empty() {
            None
        } else {
            let path = dir.join(root_dir).join(&file_name);
            write_file(&path, &roots, false)?;
            Some(path)
        };
        let intermediate_certs = if intermediates.is_empty() {
            None
        } else {
            let path = dir.join(intermediate_dir).join(&file_name);
            write_file(&path, &intermediates, false)?;
            Some(path)
        };
        if !self.ca_info.issuer_public_key.is_empty() {
            write_file(
                &dir.join("IssuerPublicKey"),
                &self.ca_info.issuer_public_key,
                false,
            )?;
        }
        if !self.ca_info.issuer_revocation_public_key.is_empty() {
            write_file(
                &dir.join("IssuerRevocationPublicKey"),
                &self.ca_info.issuer_revocation_public_key,
                false,
            )?;
        }
        Ok(MspFiles {
            cert,
            key,
            ca_certs,
            intermediate_certs,
        })
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// Splits a PEM chain as fabric-ca-client does: a certificate without an authority key id, or whose
/// authority key id is its own subject key id, is a root; any other is an intermediate. Every
/// certificate must be a CA.
fn split_chain(chain_pem: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CaError> {
    let bad = |reason: String| CaError::Crypto(format!("CA chain: {reason}"));
    if chain_pem.iter().all(u8::is_ascii_whitespace) {
        return Ok((Vec::new(), Vec::new()));
    }
    let ders = fabric_sdk::identity::pem_certificates(chain_pem)
        .map_err(|error| bad(error.to_string()))?;
    let (mut roots, mut intermediates) = (Vec::new(), Vec::new());
    for der in ders {
        let (_, certificate) =
            X509Certificate::from_der(&der).map_err(|error| bad(error.to_string()))?;
        let is_ca = certificate
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|constraints| constraints.value.ca);
        if !is_ca {
            return Err(bad(format!(
                "{} is not a CA certificate",
                certificate.subject()
            )));
        }
        let mut subject_key_id = None;
        let mut authority_key_id = None;
        for extension in certificate.extensions() {
            match extension.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => subject_key_id = Some(id.0),
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    authority_key_id = aki.key_identifier.as_ref().map(|id| id.0);
                }
                _ => {}
            }
        }
        let pem = pem_encode("CERTIFICATE", &der);
        match authority_key_id {
            None => roots.extend_from_slice(pem.as_bytes()),
            Some(aki) if Some(aki) == subject_key_id => roots.extend_from_slice(pem.as_bytes()),
            Some(_) => intermediates.extend_from_slice(pem.as_bytes()),
        }
    }
    Ok((roots, intermediates))
}

/// Writes a file through a temporary sibling and a rename, so a reader never sees half of it; keys are
/// created readable by the owner only.
fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), CaError> {
    let io = |path: &Path, error: std::io::Error| CaError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|error| io(parent, error))?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = parent.join(format!(".{file_name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(&temporary)
        .map_err(|error| io(&temporary, error))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|error| io(&temporary, error))?;
    drop(file);
    fs::rename(&temporary, path).map_err(|error| io(path, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(
        name: &str,
        issuer: Option<&rcgen::Issuer<'_, rcgen::KeyPair>>,
    ) -> (rcgen::CertificateParams, rcgen::KeyPair, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.use_authority_key_identifier_extension = true;
        let pem = match issuer {
            Some(issuer) => params.signed_by(&key, issuer).unwrap().pem(),
            None => params.self_signed(&key).unwrap().pem(),
        };
        (params, key, pem)
    }

    #[test]
    fn chains_split_into_roots_and_intermediates() {
        let (root_params, root_key, root_pem) = ca("root", None);
        let root = rcgen::Issuer::new(root_params, root_key);
        let (_, _, intermediate_pem) = ca("intermediate", Some(&root));
        let chain = format!("{intermediate_pem}{root_pem}");
        let (roots, intermediates) = split_chain(chain.as_bytes()).unwrap();
        let subjects = |pem: &[u8]| -> Vec<String> {
            fabric_sdk::identity::pem_certificates(pem)
                .unwrap()
                .iter()
                .map(|der| CertificateInfo::from_der(der).unwrap().subject)
                .collect()
        };
        assert_eq!(subjects(&roots), ["CN=root"]);
        assert_eq!(subjects(&intermediates), ["CN=intermediate"]);

        let leaf = rcgen::CertificateParams::new(vec!["x".to_owned()])
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap()
            .pem();
        let error = split_chain(leaf.as_bytes()).unwrap_err();
        assert!(
            error.to_string().contains("not a CA certificate"),
            "{error}"
        );
        assert_eq!(split_chain(b"").unwrap(), (Vec::new(), Vec::new()));
    }

    #[test]
    fn csr_carries_the_enrollment_id_hosts_and_names() {
        let request = EnrollRequest {
            hosts: vec!["peer0.org1.example.com".to_owned(), "127.0.0.1".to_owned()],
            names: crate::api::CsrNames {
                country: Some("US".to_owned()),
                organization: Some("Hyperledger".to_owned()),
                ..Default::default()
            },
            ..Default::default()
        };
        let (key, pem) = key_and_csr("peer0", &request).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        let der =
            fabric_sdk::identity::pem_block(pem.as_bytes(), &["CERTIFICATE REQUEST"]).unwrap();
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        csr.verify_signature().unwrap();
        let info = &csr.certification_request_info;
        assert_eq!(info.subject.to_string(), "C=US, O=Hyperledger, CN=peer0");
        assert_eq!(
            info.subject_pki.subject_public_key.data.as_ref(),
            key.public_key_raw()
        );
        let sans: Vec<String> = csr
            .requested_extensions()
            .into_iter()
            .flatten()
            .filter_map(|extension| match extension {
                ParsedExtension::SubjectAlternativeName(san) => Some(
                    san.general_names
                        .iter()
                        .map(|name| name.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(
            sans,
            ["DNSName(peer0.org1.example.com)", "IPAddress(7f:00:00:01)"]
        );
    }
}
