//! MSP folders as `cryptogen` and `fabric-ca-client` write them:
//!
//! ```text
//! msp/
//!   signcerts/      the identity's certificate (any file name)
//!   keystore/       its PKCS#8 EC key (cryptogen: priv_sk; fabric-ca-client: <ski>_sk)
//!   cacerts/        root CA certificates
//!   intermediatecerts/, tlscacerts/, tlsintermediatecerts/, admincerts/   (optional)
//!   config.yaml     NodeOUs (optional)
//! ```
//!
//! A channel MSP (no signcerts and no keystore) loads as a verifying MSP. Every error names the file or
//! folder at fault.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::identity::{CertificateInfo, Identity, IdentityError, pem_certificates};
use crate::signer::{EcdsaP256Signer, Signer};

/// Why an MSP folder could not be loaded or an identity validated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MspError {
    /// A required file or folder is missing.
    #[error("{path}: missing ({what})", path = .path.display())]
    Missing {
        /// The path.
        path: PathBuf,
        /// What should be there.
        what: &'static str,
    },
    /// A file could not be read.
    #[error("{path}: {reason}", path = .path.display())]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// A file is not what it should be.
    #[error("{path}: {reason}", path = .path.display())]
    Malformed {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No key in the keystore matches the signing certificate.
    #[error("{keystore}: no private key matches {cert}", keystore = .keystore.display(), cert = .cert.display())]
    NoMatchingKey {
        /// The keystore folder.
        keystore: PathBuf,
        /// The signing certificate.
        cert: PathBuf,
    },
    /// The folder has no signing identity (a channel MSP).
    #[error("{dir}: not a signing MSP (no signcerts/keystore)", dir = .dir.display())]
    NotSigning {
        /// The MSP folder.
        dir: PathBuf,
    },
    /// A certificate does not belong to this MSP.
    #[error("{0}")]
    InvalidIdentity(String),
}

/// NodeOU settings from `config.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeOus {
    /// Whether NodeOUs are enabled.
    pub enabled: bool,
    /// OU marking clients.
    pub client: Option<String>,
    /// OU marking peers.
    pub peer: Option<String>,
    /// OU marking admins.
    pub admin: Option<String>,
    /// OU marking orderers.
    pub orderer: Option<String>,
}

/// A NodeOU role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeRole {
    /// `client`.
    Client,
    /// `peer`.
    Peer,
    /// `admin`.
    Admin,
    /// `orderer`.
    Orderer,
}

/// A signing identity: the identity and a signer for its key.
#[derive(Debug, Clone)]
pub struct SigningIdentity {
    identity: Identity,
    signer: Arc<dyn Signer>,
}

impl SigningIdentity {
    /// Pairs an identity with its signer.
    pub fn new(identity: Identity, signer: Arc<dyn Signer>) -> Self {
        Self { identity, signer }
    }

    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The signer.
    pub fn signer(&self) -> Arc<dyn Signer> {
        Arc::clone(&self.signer)
    }
}

/// A loaded MSP folder.
#[derive(Debug, Clone)]
pub struct MspFolder {
    /// The folder.
    pub dir: PathBuf,
    /// The MSP id (not stored in the folder; given by the caller).
    pub msp_id: String,
    /// Root CA certificates (DER).
    pub ca_certs: Vec<Vec<u8>>,
    /// Intermediate CA certificates (DER).
    pub intermediate_certs: Vec<Vec<u8>>,
    /// TLS root CA certificates (DER).
    pub tls_ca_certs: Vec<Vec<u8>>,
    /// TLS intermediate CA certificates (DER).
    pub tls_intermediate_certs: Vec<Vec<u8>>,
    /// Legacy explicit admin certificates from `admincerts/` (DER); empty in NodeOU-era folders.
    pub admin_certs: Vec<Vec<u8>>,
    /// NodeOU settings.
    pub node_ous: NodeOus,
    /// The signing certificate (PEM) and its file, when the folder has one.
    pub signcert: Option<(PathBuf, Vec<u8>)>,
    /// The private key file matching the signing certificate.
    pub key_file: Option<PathBuf>,
    signer: Option<Arc<EcdsaP256Signer>>,
}

fn read(path: &Path) -> Result<Vec<u8>, MspError> {
    fs::read(path).map_err(|error| MspError::Unreadable {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })
}

/// The regular files of a folder, sorted by name; an absent folder is empty.
fn files(dir: &Path) -> Result<Vec<PathBuf>, MspError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(MspError::Unreadable {
                path: dir.to_path_buf(),
                reason: error.to_string(),
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| MspError::Unreadable {
            path: dir.to_path_buf(),
            reason: error.to_string(),
        })?;
        let path = entry.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn certificates_in(dir: &Path) -> Result<Vec<Vec<u8>>, MspError> {
    let mut certificates = Vec::new();
    for path in files(dir)? {
        let pem = read(&path)?;
        let ders = pem_certificates(&pem).map_err(|error| MspError::Malformed {
            path: path.clone(),
            reason: error.to_string(),
        })?;
        for der in &ders {
            CertificateInfo::from_der(der).map_err(|error| MspError::Malformed {
                path: path.clone(),
                reason: error.to_string(),
            })?;
        }
        certificates.extend(ders);
    }
    Ok(certificates)
}

fn to_pem(der: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem.into_bytes()
}

fn parse_node_ous(path: &Path) -> Result<NodeOus, MspError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Config {
        #[serde(rename = "NodeOUs")]
        node_ous: Option<NodeOusYaml>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct NodeOusYaml {
        enable: Option<bool>,
        #[serde(rename = "ClientOUIdentifier")]
        client: Option<OuIdentifier>,
        #[serde(rename = "PeerOUIdentifier")]
        peer: Option<OuIdentifier>,
        #[serde(rename = "AdminOUIdentifier")]
        admin: Option<OuIdentifier>,
        #[serde(rename = "OrdererOUIdentifier")]
        orderer: Option<OuIdentifier>,
    }
    #[derive(serde::Deserialize)]
    struct OuIdentifier {
        #[serde(rename = "OrganizationalUnitIdentifier")]
        ou: String,
    }
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(NodeOus::default()),
        Err(error) => {
            return Err(MspError::Unreadable {
                path: path.to_path_buf(),
                reason: error.to_string(),
            });
        }
    };
    let config: Config = serde_norway::from_slice(&text).map_err(|error| MspError::Malformed {
        path: path.to_path_buf(),
        reason: format!("not an MSP config.yaml: {error}"),
    })?;
    let Some(node_ous) = config.node_ous else {
        return Ok(NodeOus::default());
    };
    Ok(NodeOus {
        enabled: node_ous.enable.unwrap_or(false),
        client: node_ous.client.map(|id| id.ou),
        peer: node_ous.peer.map(|id| id.ou),
        admin: node_ous.admin.map(|id| id.ou),
        orderer: node_ous.orderer.map(|id| id.ou),
    })
}

impl MspFolder {
    /// Loads the MSP folder at `dir` for MSP `msp_id`.
    pub fn load(dir: &Path, msp_id: &str) -> Result<Self, MspError> {
        if !dir.is_dir() {
            return Err(MspError::Missing {
                path: dir.to_path_buf(),
                what: "MSP folder",
            });
        }
        let ca_certs = certificates_in(&dir.join("cacerts"))?;
        if ca_certs.is_empty() {
            return Err(MspError::Missing {
                path: dir.join("cacerts"),
                what: "at least one CA certificate",
            });
        }
        let intermediate_certs = certificates_in(&dir.join("intermediatecerts"))?;
        let tls_ca_certs = certificates_in(&dir.join("tlscacerts"))?;
        let tls_intermediate_certs = certificates_in(&dir.join("tlsintermediatecerts"))?;
        let admin_certs = certificates_in(&dir.join("admincerts"))?;
        let node_ous = parse_node_ous(&dir.join("config.yaml"))?;

        let signcert_files = files(&dir.join("signcerts"))?;
        let key_files = files(&dir.join("keystore"))?;
        let (signcert, key_file, signer) = match (signcert_files.first(), key_files.is_empty()) {
            (None, true) => (None, None, None),
            (None, false) => {
                return Err(MspError::Missing {
                    path: dir.join("signcerts"),
                    what: "the signing certificate for the key in keystore",
                });
            }
            (Some(cert_path), _) => {
                let pem = read(cert_path)?;
                let info =
                    CertificateInfo::from_pem(&pem).map_err(|error| MspError::Malformed {
                        path: cert_path.clone(),
                        reason: error.to_string(),
                    })?;
                if key_files.is_empty() {
                    return Err(MspError::Missing {
                        path: dir.join("keystore"),
                        what: "a private key for the signing certificate",
                    });
                }
                let (key_file, signer) = matching_key(&key_files, &info, dir, cert_path)?;
                (
                    Some((cert_path.clone(), pem)),
                    Some(key_file),
                    Some(Arc::new(signer)),
                )
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            msp_id: msp_id.to_owned(),
            ca_certs,
            intermediate_certs,
            tls_ca_certs,
            tls_intermediate_certs,
            admin_certs,
            node_ous,
            signcert,
            key_file,
            signer,
        })
    }

    /// The signing identity of the folder.
    pub fn signing_identity(&self) -> Result<SigningIdentity, MspError> {
        match (&self.signcert, &self.signer) {
            (Some((_, pem)), Some(signer)) => Ok(SigningIdentity::new(
                Identity {
                    msp_id: self.msp_id.clone(),
                    cert_pem: pem.clone(),
                },
                Arc::clone(signer) as Arc<dyn Signer>,
            )),
            _ => Err(MspError::NotSigning {
                dir: self.dir.clone(),
            }),
        }
    }

    /// Root CA certificates as PEM.
    pub fn ca_certs_pem(&self) -> Vec<Vec<u8>> {
        self.ca_certs.iter().map(|der| to_pem(der)).collect()
    }

    /// TLS root CA certificates as PEM.
    pub fn tls_ca_certs_pem(&self) -> Vec<Vec<u8>> {
        self.tls_ca_certs.iter().map(|der| to_pem(der)).collect()
    }

    /// The roles a certificate has in this MSP: those its OUs give it under config.yaml's NodeOUs, plus
    /// `Admin` when it is listed in the legacy `admincerts/` (Fabric still honours those next to NodeOUs).
    pub fn roles(&self, certificate: &CertificateInfo) -> Vec<NodeRole> {
        let mut roles = self.ou_roles(certificate);
        if !roles.contains(&NodeRole::Admin) && self.admin_certs.contains(&certificate.der) {
            roles.push(NodeRole::Admin);
        }
        roles
    }

    /// The roles given by the certificate's OUs alone, in client, peer, admin, orderer order.
    fn ou_roles(&self, certificate: &CertificateInfo) -> Vec<NodeRole> {
        let ous = &self.node_ous;
        let mut roles = Vec::new();
        for (role, ou) in [
            (NodeRole::Client, &ous.client),
            (NodeRole::Peer, &ous.peer),
            (NodeRole::Admin, &ous.admin),
            (NodeRole::Orderer, &ous.orderer),
        ] {
            if let Some(ou) = ou
                && certificate
                    .organizational_units
                    .iter()
                    .any(|unit| unit == ou)
            {
                roles.push(role);
            }
        }
        roles
    }

    /// Validates a PEM certificate against this MSP as Fabric does: issued (directly or through an
    /// intermediate) by one of its CAs, currently valid, and — with NodeOUs enabled — carrying exactly one
    /// NodeOU role, which is returned (`None` when the MSP does not use NodeOUs).
    pub fn validate_certificate(&self, cert_pem: &[u8]) -> Result<Option<NodeRole>, MspError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
            });
        self.validate_certificate_at(cert_pem, now)
    }

    /// [`validate_certificate`](Self::validate_certificate) as of `unix_seconds` rather than now, so an
    /// emulator or a test can judge a certificate at the time a transaction claims.
    pub fn validate_certificate_at(
        &self,
        cert_pem: &[u8],
        unix_seconds: i64,
    ) -> Result<Option<NodeRole>, MspError> {
        let invalid = |reason: String| MspError::InvalidIdentity(reason);
        let info = CertificateInfo::from_pem(cert_pem).map_err(|e| invalid(e.to_string()))?;
        if info.is_expired_at(unix_seconds) {
            return Err(invalid(format!(
                "certificate of {} is expired or not yet valid",
                info.subject
            )));
        }
        if !self.chains_to_ca(&info.der) {
            return Err(invalid(format!(
                "certificate of {} is not issued by a CA of {}",
                info.subject, self.msp_id
            )));
        }
        if !self.node_ous.enabled {
            return Ok(None);
        }
        // Fabric counts OU roles only: an admincerts entry does not make a second role.
        match self.ou_roles(&info).as_slice() {
            [role] => Ok(Some(*role)),
            [] => Err(invalid(format!(
                "certificate of {} carries none of the NodeOU roles of {}",
                info.subject, self.msp_id
            ))),
            _ => Err(invalid(format!(
                "certificate of {} carries more than one NodeOU role",
                info.subject
            ))),
        }
    }

    /// Whether `der` is signed by a root CA, or by an intermediate that a root signed.
    fn chains_to_ca(&self, der: &[u8]) -> bool {
        let Ok((_, certificate)) = X509Certificate::from_der(der) else {
            return false;
        };
        let signed_by = |issuers: &[Vec<u8>], certificate: &X509Certificate<'_>| {
            issuers.iter().any(|issuer_der| {
                X509Certificate::from_der(issuer_der).is_ok_and(|(_, issuer)| {
                    issuer.subject() == certificate.issuer()
                        && certificate
                            .verify_signature(Some(issuer.public_key()))
                            .is_ok()
                })
            })
        };
        if signed_by(&self.ca_certs, &certificate) {
            return true;
        }
        self.intermediate_certs.iter().any(|intermediate_der| {
            X509Certificate::from_der(intermediate_der).is_ok_and(|(_, intermediate)| {
                signed_by(std::slice::from_ref(intermediate_der), &certificate)
                    && signed_by(&self.ca_certs, &intermediate)
            })
        })
    }
}

/// Finds the key among `key_files` whose public key is the certificate's.
fn matching_key(
    key_files: &[PathBuf],
    certificate: &CertificateInfo,
    dir: &Path,
    cert_path: &Path,
) -> Result<(PathBuf, EcdsaP256Signer), MspError> {
    let mut last_error = None;
    for path in key_files {
        let pem = read(path)?;
        match EcdsaP256Signer::from_pkcs8_pem(&pem) {
            Ok(signer) if signer.public_key() == certificate.public_key.as_slice() => {
                return Ok((path.clone(), signer));
            }
            Ok(_) => {}
            Err(error) => last_error = Some((path.clone(), error.to_string())),
        }
    }
    match (key_files, last_error) {
        ([_], Some((path, reason))) => Err(MspError::Malformed { path, reason }),
        _ => Err(MspError::NoMatchingKey {
            keystore: dir.join("keystore"),
            cert: cert_path.to_path_buf(),
        }),
    }
}

impl From<IdentityError> for MspError {
    fn from(error: IdentityError) -> Self {
        Self::InvalidIdentity(error.to_string())
    }
}
