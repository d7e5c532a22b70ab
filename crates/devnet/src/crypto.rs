//! `devnet init`: the crypto material of a one-org dev network, laid out as `cryptogen` lays it out
//! (`organizations/peerOrganizations/org1.example.com/...`), so Fabric tooling and our own MSP loader read it
//! unchanged. Client identities for the demo clubs carry the Fabric CA attributes `club` and `role` in
//! extension 1.2.3.4.5.6.7.8.1, exactly where a Fabric CA enrollment puts them.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    SanType,
};

/// OID of the extension in which Fabric CA records an identity's attributes.
const FABRIC_CA_ATTRS_OID: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 1];

/// Why generating the dev network's material failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Certificate or key generation failed.
    #[error("generating {what}: {source}")]
    Generate {
        /// What was being generated.
        what: String,
        /// The cause.
        source: rcgen::Error,
    },
    /// Writing a file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The target already holds a network.
    #[error("{0} already holds a dev network (remove it or choose another directory)")]
    AlreadyInitialised(PathBuf),
}

/// A demo client identity to issue, with its Fabric CA attributes.
#[derive(Debug, Clone)]
pub struct DemoUser {
    /// Enrollment id, e.g. `clubadmin-alpha`; the folder is `<name>@<org domain>`.
    pub name: String,
    /// The `club` attribute (absent for a network admin that acts for no club).
    pub club: Option<String>,
    /// The `role` attribute: `network_admin`, `club_admin` or `front_desk`.
    pub role: String,
}

/// The demo identities `devnet init` issues: a network admin, and a club admin and a front desk for each
/// club.
pub fn demo_users(clubs: &[String]) -> Vec<DemoUser> {
    let mut users = vec![DemoUser {
        name: "networkadmin".to_owned(),
        club: None,
        role: "network_admin".to_owned(),
    }];
    for club in clubs {
        let short = club.strip_prefix("club-").unwrap_or(club);
        users.push(DemoUser {
            name: format!("clubadmin-{short}"),
            club: Some(club.clone()),
            role: "club_admin".to_owned(),
        });
        users.push(DemoUser {
            name: format!("frontdesk-{short}"),
            club: Some(club.clone()),
            role: "front_desk".to_owned(),
        });
    }
    users
}

/// A certificate authority: its certificate parameters and key, able to issue certificates.
struct Authority {
    params: CertificateParams,
    key: KeyPair,
    cert_pem: String,
}

impl Authority {
    fn new(common_name: &str, organization: &str) -> Result<Self, InitError> {
        let key = new_key(common_name)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(common_name, Some(organization), None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        validity(&mut params);
        let cert = params
            .self_signed(&key)
            .map_err(|source| InitError::Generate {
                what: format!("CA certificate {common_name}"),
                source,
            })?;
        Ok(Self {
            cert_pem: cert.pem(),
            params,
            key,
        })
    }

    /// Issues a leaf certificate; returns (certificate PEM, PKCS#8 key PEM).
    fn issue(&self, leaf: LeafSpec<'_>) -> Result<(String, String), InitError> {
        let key = new_key(leaf.common_name)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(leaf.common_name, None, leaf.organizational_unit);
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if leaf.tls {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
        }
        for host in leaf.hosts {
            let san = match host.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => {
                    SanType::DnsName((*host).try_into().map_err(|source| InitError::Generate {
                        what: format!("subject alternative name {host}"),
                        source,
                    })?)
                }
            };
            params.subject_alt_names.push(san);
        }
        if let Some(attrs) = leaf.attributes {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    FABRIC_CA_ATTRS_OID,
                    attrs.into_bytes(),
                ));
        }
        validity(&mut params);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|source| InitError::Generate {
                what: format!("certificate {}", leaf.common_name),
                source,
            })?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

struct LeafSpec<'a> {
    common_name: &'a str,
    organizational_unit: Option<&'a str>,
    hosts: &'a [&'a str],
    tls: bool,
    attributes: Option<String>,
}

fn new_key(what: &str) -> Result<KeyPair, InitError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| InitError::Generate {
        what: format!("key for {what}"),
        source,
    })
}

fn subject(common_name: &str, organization: Option<&str>, unit: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::StateOrProvinceName, "California");
    dn.push(DnType::LocalityName, "San Francisco");
    if let Some(organization) = organization {
        dn.push(DnType::OrganizationName, organization);
    }
    if let Some(unit) = unit {
        dn.push(DnType::OrganizationalUnitName, unit);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn validity(params: &mut CertificateParams) {
    // Fixed, generous validity: a dev network must not expire under a developer.
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
}

/// The JSON Fabric CA writes into extension 1.2.3.4.5.6.7.8.1 for an enrolled client.
fn fabric_ca_attributes(user: &DemoUser) -> String {
    let mut attrs = serde_json::Map::new();
    if let Some(club) = &user.club {
        attrs.insert("club".into(), club.clone().into());
    }
    attrs.insert("hf.Affiliation".into(), "".into());
    attrs.insert("hf.EnrollmentID".into(), user.name.clone().into());
    attrs.insert("hf.Type".into(), "client".into());
    attrs.insert("role".into(), user.role.clone().into());
    serde_json::json!({ "attrs": attrs }).to_string()
}

/// Paths of what `devnet init` wrote, relative to nothing: all absolute under the network directory.
#[derive(Debug, Clone)]
pub struct OrgLayout {
    /// `organizations/peerOrganizations/<domain>`.
    pub root: PathBuf,
    /// The org's channel MSP folder (`.../msp`).
    pub msp_dir: PathBuf,
    /// The domain, e.g. `org1.example.com`.
    pub domain: String,
}

impl OrgLayout {
    /// The layout of a peer organisation under `network_dir`.
    pub fn peer_org(network_dir: &Path, domain: &str) -> Self {
        let root = network_dir
            .join("organizations/peerOrganizations")
            .join(domain);
        Self {
            msp_dir: root.join("msp"),
            root,
            domain: domain.to_owned(),
        }
    }

    /// The layout of an orderer organisation under `network_dir`.
    pub fn orderer_org(network_dir: &Path, domain: &str) -> Self {
        let root = network_dir
            .join("organizations/ordererOrganizations")
            .join(domain);
        Self {
            msp_dir: root.join("msp"),
            root,
            domain: domain.to_owned(),
        }
    }

    /// The MSP folder of a peer of this org.
    pub fn peer_msp(&self, peer: &str) -> PathBuf {
        self.root
            .join("peers")
            .join(format!("{peer}.{}", self.domain))
            .join("msp")
    }

    /// The TLS folder of a peer of this org (`ca.crt`, `server.crt`, `server.key`).
    pub fn peer_tls(&self, peer: &str) -> PathBuf {
        self.root
            .join("peers")
            .join(format!("{peer}.{}", self.domain))
            .join("tls")
    }

    /// The MSP folder of an orderer of this org.
    pub fn orderer_msp(&self, orderer: &str) -> PathBuf {
        self.root
            .join("orderers")
            .join(format!("{orderer}.{}", self.domain))
            .join("msp")
    }

    /// The MSP folder of a user (`Admin`, `User1`, `clubadmin-alpha`, …) of this org.
    pub fn user_msp(&self, user: &str) -> PathBuf {
        self.root
            .join("users")
            .join(format!("{user}@{}", self.domain))
            .join("msp")
    }

    /// The org's TLS CA certificate.
    pub fn tls_ca_cert(&self) -> PathBuf {
        self.root
            .join("tlsca")
            .join(format!("tlsca.{}-cert.pem", self.domain))
    }
}

const NODE_OUS: &str = "NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/CACERT
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/CACERT
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/CACERT
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/CACERT
    OrganizationalUnitIdentifier: orderer
";

struct OrgWriter<'a> {
    layout: &'a OrgLayout,
    ca: Authority,
    tls_ca: Authority,
}

impl<'a> OrgWriter<'a> {
    fn new(layout: &'a OrgLayout) -> Result<Self, InitError> {
        let domain = &layout.domain;
        let ca = Authority::new(&format!("ca.{domain}"), domain)?;
        let tls_ca = Authority::new(&format!("tlsca.{domain}"), domain)?;
        Ok(Self { layout, ca, tls_ca })
    }

    fn ca_cert_name(&self) -> String {
        format!("ca.{}-cert.pem", self.layout.domain)
    }

    fn tls_ca_cert_name(&self) -> String {
        format!("tlsca.{}-cert.pem", self.layout.domain)
    }

    fn write_org(&self) -> Result<(), InitError> {
        let root = &self.layout.root;
        write(
            &root.join("ca").join(self.ca_cert_name()),
            &self.ca.cert_pem,
        )?;
        write(&root.join("ca/priv_sk"), &self.ca.key.serialize_pem())?;
        write(
            &root.join("tlsca").join(self.tls_ca_cert_name()),
            &self.tls_ca.cert_pem,
        )?;
        write(
            &root.join("tlsca/priv_sk"),
            &self.tls_ca.key.serialize_pem(),
        )?;
        self.write_msp_common(&self.layout.msp_dir)
    }

    fn write_msp_common(&self, msp: &Path) -> Result<(), InitError> {
        write(
            &msp.join("cacerts").join(self.ca_cert_name()),
            &self.ca.cert_pem,
        )?;
        write(
            &msp.join("tlscacerts").join(self.tls_ca_cert_name()),
            &self.tls_ca.cert_pem,
        )?;
        write(
            &msp.join("config.yaml"),
            &NODE_OUS.replace("CACERT", &self.ca_cert_name()),
        )
    }

    /// Writes a signing MSP folder for `common_name` with NodeOU `unit`.
    fn write_signing_msp(
        &self,
        msp: &Path,
        common_name: &str,
        unit: &str,
        attributes: Option<String>,
    ) -> Result<(), InitError> {
        let (cert, key) = self.ca.issue(LeafSpec {
            common_name,
            organizational_unit: Some(unit),
            hosts: &[],
            tls: false,
            attributes,
        })?;
        self.write_msp_common(msp)?;
        write(
            &msp.join("signcerts")
                .join(format!("{common_name}-cert.pem")),
            &cert,
        )?;
        write(&msp.join("keystore/priv_sk"), &key)
    }

    /// Writes `tls/{ca.crt, <prefix>.crt, <prefix>.key}` for a node or user.
    fn write_tls(
        &self,
        dir: &Path,
        common_name: &str,
        hosts: &[&str],
        prefix: &str,
    ) -> Result<(), InitError> {
        let (cert, key) = self.tls_ca.issue(LeafSpec {
            common_name,
            organizational_unit: None,
            hosts,
            tls: true,
            attributes: None,
        })?;
        write(&dir.join("ca.crt"), &self.tls_ca.cert_pem)?;
        write(&dir.join(format!("{prefix}.crt")), &cert)?;
        write(&dir.join(format!("{prefix}.key")), &key)
    }
}

/// Writes the crypto material of the dev network under `network_dir/organizations`: Org1 (a CA, a TLS CA,
/// `peer0`, `Admin`, `User1` and the demo users) and the orderer org (a CA and `orderer`).
pub fn write_network(
    network_dir: &Path,
    org_domain: &str,
    orderer_domain: &str,
    users: &[DemoUser],
) -> Result<(), InitError> {
    let organizations = network_dir.join("organizations");
    if organizations.exists() {
        return Err(InitError::AlreadyInitialised(network_dir.to_path_buf()));
    }

    let org = OrgLayout::peer_org(network_dir, org_domain);
    let org_writer = OrgWriter::new(&org)?;
    org_writer.write_org()?;
    let peer_cn = format!("peer0.{org_domain}");
    org_writer.write_signing_msp(&org.peer_msp("peer0"), &peer_cn, "peer", None)?;
    org_writer.write_tls(
        &org.peer_tls("peer0"),
        &peer_cn,
        &[&peer_cn, "localhost", "127.0.0.1"],
        "server",
    )?;
    for (user, unit) in [("Admin", "admin"), ("User1", "client")] {
        let cn = format!("{user}@{org_domain}");
        org_writer.write_signing_msp(&org.user_msp(user), &cn, unit, None)?;
    }
    for user in users {
        let cn = format!("{}@{org_domain}", user.name);
        org_writer.write_signing_msp(
            &org.user_msp(&user.name),
            &cn,
            "client",
            Some(fabric_ca_attributes(user)),
        )?;
        let tls_dir = org.user_msp(&user.name).with_file_name("tls");
        org_writer.write_tls(&tls_dir, &cn, &[], "client")?;
    }

    let orderer = OrgLayout::orderer_org(network_dir, orderer_domain);
    let orderer_writer = OrgWriter::new(&orderer)?;
    orderer_writer.write_org()?;
    orderer_writer.write_signing_msp(
        &orderer.orderer_msp("orderer"),
        &format!("orderer.{orderer_domain}"),
        "orderer",
        None,
    )?;
    Ok(())
}

fn write(path: &Path, contents: &str) -> Result<(), InitError> {
    let result = path
        .parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| fs::write(path, contents));
    result.map_err(|source| InitError::Write {
        path: path.to_path_buf(),
        source,
    })
}
