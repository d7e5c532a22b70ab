//! `clubs ca cainfo|enroll|reenroll|register|revoke|identities`: talk to a Fabric CA (1.5 REST API) —
//! enroll identities into MSP folders in fabric-ca-client's layout, register club identities with their
//! `club`/`role` attributes, revoke them, and list what the CA knows.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use fabric_ca::{
    Attribute, AttributeRequest, CaClient, CsrNames, EnrollRequest, Enrollment,
    RegistrationRequest, RevocationRequest,
};
use fabric_sdk::identity::CertificateInfo;
use fabric_sdk::msp::{MspFolder, SigningIdentity};

/// The MSP id given to folders loaded only to sign tokens (the CA does not look at it).
const TOKEN_MSP_ID: &str = "unknown";

/// Where the CA is.
#[derive(Debug, clap::Args)]
pub struct CaConnection {
    /// CA URL (http:// or https://; a base path such as /api/v1 is kept).
    #[arg(long, env = "CLUBS_CA_URL", default_value = "https://localhost:7054")]
    url: String,
    /// PEM of the CA that issued the CA server's TLS certificate (required for https).
    #[arg(long, env = "CLUBS_CA_TLS_ROOT_CERT")]
    tls_root_cert: Option<PathBuf>,
    /// Name to expect in the server's TLS certificate, when it is not the URL's host.
    #[arg(long, env = "CLUBS_CA_TLS_SERVER_NAME")]
    tls_server_name: Option<String>,
    /// CA name on a server hosting several CAs (e.g. ca-org1); the default CA otherwise.
    #[arg(long, env = "CLUBS_CA_NAME")]
    ca_name: Option<String>,
}

/// The enrolled identity a call acts as.
#[derive(Debug, clap::Args)]
pub struct Caller {
    /// MSP folder of the identity making the call (a registrar for register/identities, a revoker for
    /// revoke), as `clubs ca enroll` or fabric-ca-client wrote it.
    #[arg(long, env = "CLUBS_CA_MSP_DIR")]
    msp_dir: PathBuf,
}

/// What to put in a CSR and sign request.
#[derive(Debug, clap::Args)]
pub struct CsrOptions {
    /// Subject alternative names (DNS names or IP addresses), comma-separated or repeated.
    #[arg(long, value_delimiter = ',')]
    hosts: Vec<String>,
    /// Attributes to request in the certificate: NAME or NAME:opt (optional), comma-separated or
    /// repeated; without any, the CA adds those registered with ecert.
    #[arg(long = "attr", value_name = "NAME[:opt]", value_delimiter = ',')]
    attrs: Vec<String>,
    /// Signing profile (e.g. tls: CA certificates then go to tlscacerts/).
    #[arg(long)]
    profile: Option<String>,
    /// HSM label.
    #[arg(long)]
    label: Option<String>,
    /// CSR subject names besides the CN, e.g. "C=US,ST=North Carolina,O=Hyperledger" (the CA sets OU).
    #[arg(long, value_name = "C=..,ST=..,L=..,O=..")]
    csr_names: Option<String>,
}

/// Fabric CA commands.
#[derive(Debug, clap::Subcommand)]
pub enum CaCommand {
    /// Show the CA's name, version and certificate chain.
    Cainfo {
        #[command(flatten)]
        connection: CaConnection,
        /// Also write the CA chain (PEM) to this file.
        #[arg(long)]
        chain_out: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Enroll an identity with its enrollment secret and write its MSP folder.
    Enroll {
        #[command(flatten)]
        connection: CaConnection,
        /// Enrollment id (the certificate's CN).
        #[arg(long)]
        id: String,
        /// Enrollment secret.
        #[arg(long, env = "CLUBS_CA_ENROLLMENT_SECRET", hide_env_values = true)]
        secret: String,
        /// MSP folder to write (signcerts/, keystore/, cacerts/, ...).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        csr: CsrOptions,
    },
    /// Renew the certificate of an enrolled identity with a new key (token auth with its current one).
    Reenroll {
        #[command(flatten)]
        connection: CaConnection,
        #[command(flatten)]
        caller: Caller,
        /// MSP folder to write; the current one by default, whose old key is then removed.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        csr: CsrOptions,
    },
    /// Register a new identity (as a registrar); prints its enrollment secret on stdout.
    Register {
        #[command(flatten)]
        connection: CaConnection,
        #[command(flatten)]
        caller: Caller,
        /// Enrollment id of the new identity.
        #[arg(long)]
        id: String,
        /// Identity type: client, peer, admin or orderer (its NodeOU role).
        #[arg(long = "type", default_value = "client")]
        kind: String,
        /// Affiliation, e.g. org1.department1 (the registrar's when empty).
        #[arg(long, default_value = "")]
        affiliation: String,
        /// Attribute NAME=VALUE, or NAME=VALUE:ecert to put it in certificates by default; repeat for
        /// more (e.g. --attr club=club-alpha:ecert --attr role=club_admin:ecert).
        #[arg(long = "attr", value_name = "NAME=VALUE[:ecert]")]
        attrs: Vec<String>,
        /// How often the secret may be used to enroll (-1: unlimited; the CA's default if absent).
        #[arg(long, allow_negative_numbers = true)]
        max_enrollments: Option<i32>,
        /// The enrollment secret (the CA generates one if absent).
        #[arg(long, env = "CLUBS_CA_NEW_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
    /// Revoke an identity and all its certificates, or one certificate by serial and AKI.
    Revoke {
        #[command(flatten)]
        connection: CaConnection,
        #[command(flatten)]
        caller: Caller,
        /// Enrollment id to revoke.
        #[arg(long, required_unless_present = "serial")]
        id: Option<String>,
        /// Serial number (hex) of the certificate to revoke.
        #[arg(long, requires = "aki")]
        serial: Option<String>,
        /// Authority key identifier (hex) of that certificate.
        #[arg(long, requires = "serial")]
        aki: Option<String>,
        /// Reason: unspecified, keycompromise, cacompromise, affiliationchanged, superseded,
        /// cessationofoperation, certificatehold, removefromcrl, privilegewithdrawn, aacompromise.
        #[arg(long)]
        reason: Option<String>,
        /// Have the CA generate a CRL and write it (PEM) to this file.
        #[arg(long)]
        crl_out: Option<PathBuf>,
    },
    /// List the identities the caller may see, or show one.
    Identities {
        #[command(flatten)]
        connection: CaConnection,
        #[command(flatten)]
        caller: Caller,
        /// Show this identity only.
        id: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn client(connection: &CaConnection) -> anyhow::Result<CaClient> {
    let mut builder = CaClient::builder(&connection.url);
    if let Some(path) = &connection.tls_root_cert {
        let pem = std::fs::read(path)
            .with_context(|| format!("TLS root certificate {}", path.display()))?;
        builder = builder.tls_root_pem(pem);
    } else if connection.url.trim_start().starts_with("https://") {
        bail!(
            "{} is https: give the CA's TLS root certificate with --tls-root-cert or CLUBS_CA_TLS_ROOT_CERT (or use an http:// URL)",
            connection.url
        );
    }
    if let Some(name) = &connection.tls_server_name {
        builder = builder.tls_server_name(name.clone());
    }
    if let Some(name) = &connection.ca_name {
        builder = builder.ca_name(name.clone());
    }
    Ok(builder.build()?)
}

fn caller(caller: &Caller) -> anyhow::Result<(MspFolder, SigningIdentity)> {
    let folder = MspFolder::load(&caller.msp_dir, TOKEN_MSP_ID)
        .with_context(|| format!("the caller's MSP folder {}", caller.msp_dir.display()))?;
    let signing = folder.signing_identity()?;
    Ok((folder, signing))
}

fn enroll_request(csr: &CsrOptions) -> anyhow::Result<EnrollRequest> {
    let mut attr_reqs = Vec::new();
    for text in &csr.attrs {
        let text = text.trim();
        let request = match text.split_once(':') {
            Some((name, "opt")) => AttributeRequest::optional(name),
            Some((_, other)) => {
                bail!("--attr {text:?}: the only flag after ':' is opt, not {other:?}")
            }
            None => AttributeRequest::required(text),
        };
        if request.name.is_empty() {
            bail!("--attr {text:?}: no attribute name");
        }
        attr_reqs.push(request);
    }
    Ok(EnrollRequest {
        hosts: csr.hosts.clone(),
        names: csr_names(csr.csr_names.as_deref())?,
        profile: csr.profile.clone(),
        label: csr.label.clone(),
        attr_reqs,
    })
}

fn csr_names(text: Option<&str>) -> anyhow::Result<CsrNames> {
    let mut names = CsrNames::default();
    for part in text
        .unwrap_or("")
        .split(',')
        .filter(|part| !part.trim().is_empty())
    {
        let Some((key, value)) = part.split_once('=') else {
            bail!("--csr-names: {part:?} is not KEY=VALUE");
        };
        let value = Some(value.trim().to_owned());
        match key.trim() {
            "C" => names.country = value,
            "ST" => names.state = value,
            "L" => names.locality = value,
            "O" => names.organization = value,
            other => bail!(
                "--csr-names: {other:?} is not one of C, ST, L, O (the CA sets OU, CN is the id)"
            ),
        }
    }
    Ok(names)
}

fn registration_attribute(text: &str) -> anyhow::Result<Attribute> {
    let Some((name, value)) = text.split_once('=') else {
        bail!("--attr {text:?}: expected NAME=VALUE or NAME=VALUE:ecert");
    };
    let (value, ecert) = match value.strip_suffix(":ecert") {
        Some(value) => (value, true),
        None => (value, false),
    };
    if name.is_empty() {
        bail!("--attr {text:?}: no attribute name");
    }
    Ok(Attribute {
        name: name.to_owned(),
        value: value.to_owned(),
        ecert,
    })
}

fn rfc3339(seconds: i64) -> String {
    prost_types::Timestamp { seconds, nanos: 0 }.to_string()
}

fn describe(certificate: &CertificateInfo) {
    out!("subject     {}", certificate.subject);
    out!("issuer      {}", certificate.issuer);
    out!("serial      {}", certificate.serial_hex);
    out!("not after   {}", rfc3339(certificate.not_after));
    for (name, value) in &certificate.attributes {
        out!("attribute   {name}={value}");
    }
}

fn written(enrollment: &Enrollment, dir: &Path) -> anyhow::Result<()> {
    let files = enrollment.write_msp(dir)?;
    let shown = |path: &Path| path.strip_prefix(dir).unwrap_or(path).display().to_string();
    let mut list = vec![shown(&files.cert), shown(&files.key)];
    list.extend(files.ca_certs.as_deref().map(shown));
    list.extend(files.intermediate_certs.as_deref().map(shown));
    out!("msp         {} ({})", dir.display(), list.join(", "));
    Ok(())
}

/// Runs a CA command.
pub fn run(command: CaCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            CaCommand::Cainfo {
                connection,
                chain_out,
                json,
            } => {
                let ca = client(&connection)?;
                let info = ca.cainfo().await?;
                let chain = fabric_sdk::identity::pem_certificates(&info.ca_chain_pem)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|der| CertificateInfo::from_der(der).ok())
                    .collect::<Vec<_>>();
                if json {
                    let value = serde_json::json!({
                        "ca_name": info.ca_name,
                        "version": info.version,
                        "ca_chain_pem": String::from_utf8_lossy(&info.ca_chain_pem),
                        "chain": chain.iter().map(|certificate| serde_json::json!({
                            "subject": certificate.subject,
                            "not_after": rfc3339(certificate.not_after),
                        })).collect::<Vec<_>>(),
                        "idemix_issuer_public_key": !info.issuer_public_key.is_empty(),
                    });
                    out!("{}", serde_json::to_string_pretty(&value)?);
                } else {
                    let name = if info.ca_name.is_empty() {
                        "(the server's default CA, unnamed)"
                    } else {
                        &info.ca_name
                    };
                    out!("CA name     {name}");
                    out!("version     {}", info.version);
                    for certificate in &chain {
                        out!(
                            "chain       {} (until {})",
                            certificate.subject,
                            rfc3339(certificate.not_after)
                        );
                    }
                }
                if let Some(path) = chain_out {
                    std::fs::write(&path, &info.ca_chain_pem)
                        .with_context(|| format!("{}", path.display()))?;
                }
                Ok(ExitCode::SUCCESS)
            }
            CaCommand::Enroll {
                connection,
                id,
                secret,
                out,
                csr,
            } => {
                let ca = client(&connection)?;
                let request = enroll_request(&csr)?;
                let enrollment = ca.enroll(&id, &secret, &request).await?;
                out!("enrolled    {id} at {}", ca.url());
                describe(&enrollment.certificate()?);
                written(&enrollment, &out)?;
                Ok(ExitCode::SUCCESS)
            }
            CaCommand::Reenroll {
                connection,
                caller: who,
                out,
                csr,
            } => {
                let ca = client(&connection)?;
                let (folder, current) = caller(&who)?;
                let request = enroll_request(&csr)?;
                let enrollment = ca.reenroll(&current, &request).await?;
                out!("reenrolled  {} at {}", enrollment.enrollment_id, ca.url());
                describe(&enrollment.certificate()?);
                let same_folder = out.is_none();
                let out = out.unwrap_or_else(|| who.msp_dir.clone());
                written(&enrollment, &out)?;
                // The old key signs for a certificate that is no longer in signcerts/: drop it.
                if same_folder
                    && let Some(old_key) = &folder.key_file
                    && old_key
                        .file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                        != Some(enrollment.key_file_name()?)
                {
                    std::fs::remove_file(old_key)
                        .with_context(|| format!("removing the old key {}", old_key.display()))?;
                }
                Ok(ExitCode::SUCCESS)
            }
            CaCommand::Register {
                connection,
                caller: who,
                id,
                kind,
                affiliation,
                attrs,
                max_enrollments,
                secret,
            } => {
                let ca = client(&connection)?;
                let (_, registrar) = caller(&who)?;
                let attributes = attrs
                    .iter()
                    .map(|text| registration_attribute(text))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let request = RegistrationRequest {
                    id: id.clone(),
                    kind,
                    secret,
                    max_enrollments,
                    affiliation,
                    attributes,
                };
                let secret = ca.register(&registrar, &request).await?;
                eprintln!("registered {id}; its enrollment secret:");
                out!("{secret}");
                Ok(ExitCode::SUCCESS)
            }
            CaCommand::Revoke {
                connection,
                caller: who,
                id,
                serial,
                aki,
                reason,
                crl_out,
            } => {
                let ca = client(&connection)?;
                let (_, revoker) = caller(&who)?;
                let request = RevocationRequest {
                    id,
                    serial,
                    aki,
                    reason,
                    gencrl: crl_out.is_some(),
                };
                let result = ca.revoke(&revoker, &request).await?;
                if result.revoked.is_empty() {
                    out!("no certificate was revoked (none was valid)");
                }
                for revoked in &result.revoked {
                    out!("revoked     serial {} aki {}", revoked.serial, revoked.aki);
                }
                if let Some(path) = crl_out {
                    match &result.crl_pem {
                        Some(crl) => {
                            std::fs::write(&path, crl)
                                .with_context(|| format!("{}", path.display()))?;
                            out!("crl         {}", path.display());
                        }
                        None => eprintln!("clubs: the CA returned no CRL (nothing was revoked)"),
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            CaCommand::Identities {
                connection,
                caller: who,
                id,
                json,
            } => {
                let ca = client(&connection)?;
                let (_, identity) = caller(&who)?;
                let identities = match &id {
                    Some(id) => vec![ca.identity(&identity, id).await?],
                    None => ca.identities(&identity).await?,
                };
                if json {
                    out!("{}", serde_json::to_string_pretty(&identities)?);
                    return Ok(ExitCode::SUCCESS);
                }
                for identity in &identities {
                    let attributes = identity
                        .attributes
                        .iter()
                        .map(|attribute| {
                            let ecert = if attribute.ecert { ":ecert" } else { "" };
                            format!("{}={}{ecert}", attribute.name, attribute.value)
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    out!(
                        "{}  type={} affiliation={} max_enrollments={}  {attributes}",
                        identity.id,
                        identity.kind,
                        identity.affiliation,
                        identity.max_enrollments
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_flags_parse_like_fabric_ca_client() {
        let csr = CsrOptions {
            hosts: vec![],
            attrs: vec!["club".to_owned(), "role:opt".to_owned()],
            profile: None,
            label: None,
            csr_names: Some("C=US, O=Hyperledger".to_owned()),
        };
        let request = enroll_request(&csr).unwrap();
        assert_eq!(
            request.attr_reqs,
            [
                AttributeRequest::required("club"),
                AttributeRequest::optional("role")
            ]
        );
        assert_eq!(request.names.country.as_deref(), Some("US"));
        assert_eq!(request.names.organization.as_deref(), Some("Hyperledger"));
        assert_eq!(
            registration_attribute("club=club-alpha:ecert").unwrap(),
            Attribute::ecert("club", "club-alpha")
        );
        assert!(!registration_attribute("note=a=b").unwrap().ecert);
        assert_eq!(registration_attribute("note=a=b").unwrap().value, "a=b");
        assert!(registration_attribute("novalue").is_err());
        assert!(csr_names(Some("OU=x")).is_err());
        let bad = CsrOptions {
            attrs: vec!["role:maybe".to_owned()],
            ..csr
        };
        assert!(enroll_request(&bad).is_err());
    }

    #[test]
    fn dates_print_as_rfc3339() {
        assert_eq!(rfc3339(1_827_921_900), "2027-12-04T12:05:00Z");
    }
}
