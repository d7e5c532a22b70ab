//! An in-process stand-in for `fabric-ca-server` 1.5 that applies the server's own verification rules to
//! whatever the client sends, so the tests prove the client is accepted for the right reasons:
//!
//! - every endpoint at `/<path>` and `/api/v1/<path>`, answering in the CA's envelope with its HTTP
//!   statuses and codes (401 + code 20 "Authentication failure", 403 + code 71 "Authorization failure",
//!   403 + code 77 for a CSR CN that is not the enrollment id, 409 + 74 for a duplicate identity, ...);
//! - `enroll`: basic auth against the registered secret and max enrollments; the PEM CSR is parsed and
//!   its signature checked (x509-parser); the certificate is issued by a test CA made with rcgen, with
//!   OU = the identity's type and the attributes asked for (or those registered with `ecert`) in
//!   extension 1.2.3.4.5.6.7.8.1 as `{"attrs":{...}}`, like fabric-ca;
//! - token calls: the token is checked as `util.VerifyToken` does — `B64(cert).B64(sig)`, the signature
//!   over `METHOD.B64(RequestURI).B64(body).B64(cert)` with the request URI as received (path + query),
//!   low-S required — written here independently of the client's code; then, as `verifyX509Token`
//!   does, the certificate must be one this CA issued and recorded, unexpired and unrevoked, and its
//!   identity (the CN) registered and not revoked.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

pub const CA_NAME: &str = "ca-org1";

/// A registered identity.
#[derive(Debug, Clone)]
pub struct Registered {
    pub secret: String,
    pub kind: String,
    pub affiliation: String,
    pub attrs: Vec<(String, String, bool)>,
    pub max_enrollments: i64,
    pub enrollments: i64,
    pub revoked: bool,
}

/// A certificate the CA issued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: String,
    pub serial: String,
    pub aki: String,
    pub revoked: bool,
}

#[derive(Debug, Default)]
pub struct Registry {
    pub identities: HashMap<String, Registered>,
    pub issued: Vec<Issued>,
    /// Every request as `METHOD request-uri`, in order.
    pub log: Vec<String>,
}

struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    cert_pem: String,
    cert_der: Vec<u8>,
    ski: String,
    registry: Mutex<Registry>,
}

/// A running test CA.
pub struct TestCa {
    pub url: String,
    pub ca_cert_pem: String,
    /// The PEM of the CA that issued the server's TLS certificate (TLS servers only).
    pub tls_root_pem: Option<String>,
    ca: Arc<Ca>,
}

impl TestCa {
    /// Starts a plain-HTTP CA with the bootstrap identity `admin:adminpw`.
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// Starts a CA that speaks TLS only.
    pub async fn start_tls() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(tls: bool) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "org1.example.com");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ca.org1.example.com");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        let ski = hex::encode(params.key_identifier(&key));
        let ca = Arc::new(Ca {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: rcgen::Issuer::new(params, key),
            ski,
            registry: Mutex::new(Registry::default()),
        });
        ca.registry.lock().unwrap().identities.insert(
            "admin".to_owned(),
            Registered {
                secret: "adminpw".to_owned(),
                kind: "client".to_owned(),
                affiliation: String::new(),
                attrs: vec![
                    ("hf.Registrar.Roles".to_owned(), "*".to_owned(), false),
                    ("hf.Revoker".to_owned(), "true".to_owned(), false),
                    ("hf.EnrollmentID".to_owned(), "admin".to_owned(), true),
                    ("hf.Type".to_owned(), "client".to_owned(), true),
                ],
                max_enrollments: -1,
                enrollments: 0,
                revoked: false,
            },
        );
        let app = Router::new().fallback(handle).with_state(Arc::clone(&ca));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (url, tls_root_pem) = if tls {
            let (acceptor, root) = tls_acceptor();
            tokio::spawn(serve_tls(listener, acceptor, app));
            (format!("https://localhost:{}", address.port()), Some(root))
        } else {
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            (format!("http://127.0.0.1:{}", address.port()), None)
        };
        TestCa {
            url,
            ca_cert_pem: ca.cert_pem.clone(),
            tls_root_pem,
            ca,
        }
    }

    /// Looks at the registry.
    pub fn registry<T>(&self, look: impl FnOnce(&mut Registry) -> T) -> T {
        look(&mut self.ca.registry.lock().unwrap())
    }

    /// The CA's subject key id (= the AKI of what it issues), hex.
    pub fn ski(&self) -> String {
        self.ca.ski.clone()
    }
}

fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    let root_key = rcgen::KeyPair::generate().unwrap();
    let mut root_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    root_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tlsca.org1.example.com");
    root_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let root_cert = root_params.self_signed(&root_key).unwrap();
    let root = rcgen::Issuer::new(root_params, root_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let server_cert = server_params.signed_by(&server_key, &root).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![server_cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
    )
    .unwrap();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        root_cert.pem(),
    )
}

async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A fabric-ca failure: HTTP status, the remote code and message.
struct Failure(StatusCode, i64, String);

fn authentication_failure() -> Failure {
    Failure(
        StatusCode::UNAUTHORIZED,
        20,
        "Authentication failure".to_owned(),
    )
}

fn authorization_failure() -> Failure {
    Failure(
        StatusCode::FORBIDDEN,
        71,
        "Authorization failure".to_owned(),
    )
}

fn envelope(status: StatusCode, result: Result<Value, Failure>) -> Response {
    let (status, body) = match result {
        Ok(result) => (
            status,
            json!({"result": result, "errors": [], "messages": [], "success": true}),
        ),
        Err(Failure(status, code, message)) => (
            status,
            json!({"result": "", "errors": [{"code": code, "message": message}], "messages": [], "success": false}),
        ),
    };
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(ca): State<Arc<Ca>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_uri = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    ca.registry
        .lock()
        .unwrap()
        .log
        .push(format!("{method} {request_uri}"));
    let path = uri.path();
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let query_ca = uri.query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("ca=").map(str::to_owned))
    });
    match (method.as_str(), path) {
        ("GET" | "POST", "/cainfo") => envelope(StatusCode::OK, Ok(ca.info("1.5.21"))),
        ("POST", "/enroll") => {
            let result = basic_auth(&ca, &authorization).and_then(|id| enroll(&ca, &id, &body));
            envelope(StatusCode::CREATED, result)
        }
        ("POST", "/reenroll") => {
            let result = token_auth(&ca, "POST", &request_uri, &body, &authorization)
                .and_then(|id| enroll(&ca, &id, &body));
            envelope(StatusCode::CREATED, result)
        }
        ("POST", "/register") => {
            let result = token_auth(&ca, "POST", &request_uri, &body, &authorization)
                .and_then(|caller| register(&ca, &caller, &body));
            envelope(StatusCode::CREATED, result)
        }
        ("POST", "/revoke") => {
            let result = token_auth(&ca, "POST", &request_uri, &body, &authorization)
                .and_then(|caller| revoke(&ca, &caller, &body));
            envelope(StatusCode::OK, result)
        }
        ("GET", "/identities") => {
            let result = token_auth(&ca, "GET", &request_uri, &body, &authorization)
                .and_then(|caller| identities(&ca, &caller, query_ca));
            envelope(StatusCode::OK, result)
        }
        ("GET", path) if path.starts_with("/identities/") => {
            let id = percent_decode(&path["/identities/".len()..]);
            let result = token_auth(&ca, "GET", &request_uri, &body, &authorization)
                .and_then(|caller| identity(&ca, &caller, &id));
            envelope(StatusCode::OK, result)
        }
        _ => envelope(
            StatusCode::NOT_FOUND,
            Err(Failure(
                StatusCode::NOT_FOUND,
                0,
                "404 page not found".to_owned(),
            )),
        ),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

impl Ca {
    fn info(&self, version: &str) -> Value {
        json!({
            "CAName": CA_NAME,
            "CAChain": STANDARD.encode(&self.cert_pem),
            "IssuerPublicKey": STANDARD.encode(b"idemix issuer public key"),
            "IssuerRevocationPublicKey": "",
            "Version": version,
        })
    }
}

fn basic_auth(ca: &Ca, authorization: &str) -> Result<String, Failure> {
    if authorization.is_empty() {
        return Err(Failure(
            StatusCode::UNAUTHORIZED,
            2,
            "No authorization header".to_owned(),
        ));
    }
    let decoded = authorization
        .strip_prefix("Basic ")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(authentication_failure)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(authentication_failure)?;
    let mut registry = ca.registry.lock().unwrap();
    let identity = registry
        .identities
        .get_mut(id)
        .ok_or_else(authentication_failure)?;
    if identity.secret != secret || identity.revoked {
        return Err(authentication_failure());
    }
    if identity.max_enrollments > 0 && identity.enrollments >= identity.max_enrollments {
        return Err(authentication_failure());
    }
    identity.enrollments += 1;
    Ok(id.to_owned())
}

/// `util.VerifyToken` and then `verifyX509Token`'s checks; returns the caller's enrollment id.
fn token_auth(
    ca: &Ca,
    method: &str,
    request_uri: &str,
    body: &[u8],
    token: &str,
) -> Result<String, Failure> {
    if token.is_empty() {
        return Err(Failure(
            StatusCode::UNAUTHORIZED,
            2,
            "No authorization header".to_owned(),
        ));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [b64_cert, b64_signature] = parts[..] else {
        return Err(authentication_failure());
    };
    let cert_pem = STANDARD
        .decode(b64_cert)
        .map_err(|_| authentication_failure())?;
    let signature = STANDARD
        .decode(b64_signature)
        .map_err(|_| authentication_failure())?;
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(&cert_pem).map_err(|_| authentication_failure())?;
    let (_, certificate) =
        X509Certificate::from_der(&pem.contents).map_err(|_| authentication_failure())?;
    let message = format!(
        "{method}.{}.{}.{b64_cert}",
        STANDARD.encode(request_uri),
        STANDARD.encode(body)
    );
    let public_key = certificate.public_key().subject_public_key.data.as_ref();
    // BCCSP refuses a high-S signature before checking it.
    if !fabric_sdk::signer::is_low_s(&signature).map_err(|_| authentication_failure())? {
        return Err(authentication_failure());
    }
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public_key)
        .verify(message.as_bytes(), &signature)
        .map_err(|_| authentication_failure())?;
    // Issued by this CA, and recorded by it, unexpired, unrevoked.
    let (_, ca_cert) = X509Certificate::from_der(&ca.cert_der).unwrap();
    certificate
        .verify_signature(Some(ca_cert.public_key()))
        .map_err(|_| authentication_failure())?;
    if !certificate.validity().is_valid() {
        return Err(authentication_failure());
    }
    let serial = certificate
        .raw_serial_as_string()
        .replace(':', "")
        .trim_start_matches('0')
        .to_owned();
    let id = certificate
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("")
        .to_owned();
    let registry = ca.registry.lock().unwrap();
    let issued = registry
        .issued
        .iter()
        .find(|issued| issued.serial == serial && issued.aki == ca.ski.trim_start_matches('0'))
        .ok_or_else(authentication_failure)?;
    if issued.revoked {
        return Err(authentication_failure());
    }
    match registry.identities.get(&id) {
        Some(identity) if !identity.revoked => Ok(id),
        Some(_) => Err(authorization_failure()),
        None => Err(authentication_failure()),
    }
}

fn attribute(registered: &Registered, name: &str) -> Option<String> {
    registered
        .attrs
        .iter()
        .find(|(attr, _, _)| attr == name)
        .map(|(_, value, _)| value.clone())
}

fn enroll(ca: &Ca, id: &str, body: &[u8]) -> Result<Value, Failure> {
    let request: Value = serde_json::from_slice(body).map_err(|error| {
        Failure(
            StatusCode::BAD_REQUEST,
            5,
            format!("Invalid request body: {error}"),
        )
    })?;
    let bad_csr = |message: &str| Failure(StatusCode::BAD_REQUEST, 31, message.to_owned());
    let csr_pem = request["certificate_request"]
        .as_str()
        .ok_or_else(|| bad_csr("CSR Decode failed"))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(csr_pem.as_bytes())
        .map_err(|_| bad_csr("CSR Decode failed"))?;
    if pem.label != "CERTIFICATE REQUEST" && pem.label != "NEW CERTIFICATE REQUEST" {
        return Err(bad_csr("not a certificate or csr"));
    }
    let (_, csr) =
        X509CertificationRequest::from_der(&pem.contents).map_err(|_| bad_csr("malformed CSR"))?;
    csr.verify_signature()
        .map_err(|_| bad_csr("CSR signature does not verify"))?;
    let info = &csr.certification_request_info;
    let common_name = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("");
    if common_name != id {
        return Err(Failure(
            StatusCode::FORBIDDEN,
            77,
            "The CSR subject common name must equal the enrollment ID".to_owned(),
        ));
    }
    let registered = ca
        .registry
        .lock()
        .unwrap()
        .identities
        .get(id)
        .cloned()
        .ok_or_else(authentication_failure)?;

    // Attributes: those asked for (missing required ones fail), else those registered with ecert.
    let mut attrs = BTreeMap::new();
    match request["attr_reqs"].as_array() {
        Some(requests) if !requests.is_empty() => {
            let mut missing = Vec::new();
            for attr_request in requests {
                let name = attr_request["name"].as_str().unwrap_or("");
                match attribute(&registered, name) {
                    Some(value) => {
                        attrs.insert(name.to_owned(), value);
                    }
                    None if attr_request["optional"].as_bool() == Some(true) => {}
                    None => missing.push(name.to_owned()),
                }
            }
            if !missing.is_empty() {
                return Err(Failure(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    0,
                    format!(
                        "Failed to find requested attributes: The following required attributes are missing: {missing:?}"
                    ),
                ));
            }
        }
        _ => {
            for (name, value, ecert) in &registered.attrs {
                if *ecert {
                    attrs.insert(name.clone(), value.clone());
                }
            }
        }
    }

    // The certificate: the CSR's names with OU replaced by type and affiliation, as setRequestOUs does.
    let mut subject = rcgen::DistinguishedName::new();
    for attribute in info.subject.iter_attributes() {
        let Ok(value) = attribute.as_str() else {
            continue;
        };
        let oid: Vec<u64> = attribute.attr_type().iter().unwrap().collect();
        let kind = rcgen::DnType::from_oid(&oid);
        if matches!(
            kind,
            rcgen::DnType::OrganizationalUnitName | rcgen::DnType::CommonName
        ) {
            continue;
        }
        subject.push(kind, value);
    }
    // fabric-ca adds one more OU per affiliation level; rcgen keeps one value per attribute type, so
    // this stand-in carries the type only (the NodeOU role, which is what clients read).
    subject.push(
        rcgen::DnType::OrganizationalUnitName,
        registered.kind.as_str(),
    );
    subject.push(rcgen::DnType::CommonName, id);
    let hosts: Vec<String> = match request["hosts"].as_array() {
        Some(hosts) if !hosts.is_empty() => hosts
            .iter()
            .filter_map(|host| host.as_str().map(str::to_owned))
            .collect(),
        _ => csr
            .requested_extensions()
            .into_iter()
            .flatten()
            .filter_map(|extension| match extension {
                ParsedExtension::SubjectAlternativeName(san) => Some(san.general_names.clone()),
                _ => None,
            })
            .flatten()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_owned()),
                _ => None,
            })
            .collect(),
    };
    let mut params = rcgen::CertificateParams::new(hosts).unwrap();
    params.distinguished_name = subject;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(60)).into();
    params.not_after = (now + std::time::Duration::from_secs(365 * 86400)).into();
    let serial: [u8; 16] = rand_bytes();
    let mut serial_bytes = serial.to_vec();
    serial_bytes[0] &= 0x7f;
    serial_bytes[0] |= 0x10;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial_bytes));
    if !attrs.is_empty() {
        let value = serde_json::to_vec(&json!({ "attrs": attrs })).unwrap();
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 2, 3, 4, 5, 6, 7, 8, 1],
                value,
            ));
    }
    let public_key = rcgen::SubjectPublicKeyInfo::from_der(info.subject_pki.raw).unwrap();
    let cert = params.signed_by(&public_key, &ca.issuer).unwrap();
    ca.registry.lock().unwrap().issued.push(Issued {
        id: id.to_owned(),
        serial: hex::encode(&serial_bytes)
            .trim_start_matches('0')
            .to_owned(),
        // Stored as the server compares them: lowercase hex without leading zeros.
        aki: ca.ski.trim_start_matches('0').to_owned(),
        revoked: false,
    });
    let mut server_info = ca.info("");
    server_info["Version"] = json!("");
    Ok(json!({
        "Cert": STANDARD.encode(cert.pem()),
        "ServerInfo": server_info,
    }))
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).unwrap();
    bytes
}

fn register(ca: &Ca, caller: &str, body: &[u8]) -> Result<Value, Failure> {
    let request: Value = serde_json::from_slice(body).map_err(|error| {
        Failure(
            StatusCode::BAD_REQUEST,
            5,
            format!("Invalid request body: {error}"),
        )
    })?;
    let mut registry = ca.registry.lock().unwrap();
    let registrar = registry
        .identities
        .get(caller)
        .cloned()
        .ok_or_else(authentication_failure)?;
    let roles = attribute(&registrar, "hf.Registrar.Roles").unwrap_or_default();
    let kind = request["type"].as_str().unwrap_or("client").to_owned();
    let kind = if kind.is_empty() {
        "client".to_owned()
    } else {
        kind
    };
    if roles.is_empty() || (roles != "*" && !roles.split(',').any(|role| role == kind)) {
        return Err(authorization_failure());
    }
    let id = request["id"].as_str().unwrap_or("").to_owned();
    if registry.identities.contains_key(&id) {
        return Err(Failure(
            StatusCode::CONFLICT,
            74,
            format!("Identity '{id}' is already registered"),
        ));
    }
    let secret = match request["secret"].as_str() {
        Some(secret) if !secret.is_empty() => secret.to_owned(),
        _ => hex::encode(rand_bytes::<6>()),
    };
    let affiliation = request["affiliation"].as_str().unwrap_or("").to_owned();
    let mut attrs = vec![
        ("hf.EnrollmentID".to_owned(), id.clone(), true),
        ("hf.Type".to_owned(), kind.clone(), true),
        ("hf.Affiliation".to_owned(), affiliation.clone(), true),
    ];
    for attr in request["attrs"].as_array().into_iter().flatten() {
        attrs.push((
            attr["name"].as_str().unwrap_or("").to_owned(),
            attr["value"].as_str().unwrap_or("").to_owned(),
            attr["ecert"].as_bool().unwrap_or(false),
        ));
    }
    registry.identities.insert(
        id,
        Registered {
            secret: secret.clone(),
            kind,
            affiliation,
            attrs,
            max_enrollments: request["max_enrollments"].as_i64().unwrap_or(-1),
            enrollments: 0,
            revoked: false,
        },
    );
    Ok(json!({ "secret": secret }))
}

fn revoke(ca: &Ca, caller: &str, body: &[u8]) -> Result<Value, Failure> {
    let request: Value = serde_json::from_slice(body).map_err(|error| {
        Failure(
            StatusCode::BAD_REQUEST,
            5,
            format!("Invalid request body: {error}"),
        )
    })?;
    let normalise = |text: &str| {
        text.to_lowercase()
            .replace(':', "")
            .trim_start_matches('0')
            .to_owned()
    };
    let serial = normalise(request["serial"].as_str().unwrap_or(""));
    let aki = normalise(request["aki"].as_str().unwrap_or(""));
    let id = request["id"].as_str().unwrap_or("").to_owned();
    let mut registry = ca.registry.lock().unwrap();
    let revoker = registry
        .identities
        .get(caller)
        .and_then(|registered| attribute(registered, "hf.Revoker"))
        == Some("true".to_owned());
    let mut revoked = Vec::new();
    if !serial.is_empty() && !aki.is_empty() {
        let Some(issued) = registry
            .issued
            .iter_mut()
            .find(|issued| issued.serial == serial && issued.aki == aki)
        else {
            return Err(Failure(
                StatusCode::NOT_FOUND,
                8,
                format!("Certificate with serial {serial} and AKI {aki} was not found"),
            ));
        };
        if issued.id != caller && !revoker {
            return Err(authorization_failure());
        }
        if issued.revoked {
            return Err(Failure(
                StatusCode::NOT_FOUND,
                66,
                format!("Certificate with serial {serial} and AKI {aki} was already revoked"),
            ));
        }
        issued.revoked = true;
        revoked.push(json!({"Serial": issued.serial, "AKI": issued.aki}));
    } else if !id.is_empty() {
        if id != caller && !revoker {
            return Err(authorization_failure());
        }
        let Some(identity) = registry.identities.get_mut(&id) else {
            return Err(Failure(
                StatusCode::NOT_FOUND,
                10,
                format!("Identity {id} was not found"),
            ));
        };
        identity.revoked = true;
        for issued in registry
            .issued
            .iter_mut()
            .filter(|issued| issued.id == id && !issued.revoked)
        {
            issued.revoked = true;
            revoked.push(json!({"Serial": issued.serial, "AKI": issued.aki}));
        }
    } else {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            15,
            "Either Name or Serial and AKI are required for a revoke request".to_owned(),
        ));
    }
    let crl = if request["gencrl"].as_bool() == Some(true) && !revoked.is_empty() {
        let revoked_certs = registry
            .issued
            .iter()
            .filter(|issued| issued.revoked)
            .map(|issued| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(
                    &hex::decode(pad_even(&issued.serial)).unwrap(),
                ),
                revocation_time: std::time::SystemTime::now().into(),
                reason_code: None,
                invalidity_date: None,
            })
            .collect();
        let now = std::time::SystemTime::now();
        let crl = rcgen::CertificateRevocationListParams {
            this_update: now.into(),
            next_update: (now + std::time::Duration::from_secs(86400)).into(),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&ca.issuer)
        .unwrap();
        STANDARD.encode(crl.pem().unwrap())
    } else {
        String::new()
    };
    Ok(json!({ "RevokedCerts": revoked, "CRL": crl }))
}

fn pad_even(hex_text: &str) -> String {
    if hex_text.len() % 2 == 1 {
        format!("0{hex_text}")
    } else {
        hex_text.to_owned()
    }
}

fn identity_json(id: &str, registered: &Registered) -> Value {
    json!({
        "id": id,
        "type": registered.kind,
        "affiliation": registered.affiliation,
        "attrs": registered.attrs.iter().map(|(name, value, ecert)| json!({"name": name, "value": value, "ecert": ecert})).collect::<Vec<_>>(),
        "max_enrollments": registered.max_enrollments,
    })
}

fn identities(ca: &Ca, caller: &str, query_ca: Option<String>) -> Result<Value, Failure> {
    let registry = ca.registry.lock().unwrap();
    let is_registrar = registry
        .identities
        .get(caller)
        .and_then(|registered| attribute(registered, "hf.Registrar.Roles"))
        .is_some_and(|roles| !roles.is_empty());
    if !is_registrar {
        return Err(authorization_failure());
    }
    let mut ids: Vec<&String> = registry.identities.keys().collect();
    ids.sort();
    let identities: Vec<Value> = ids
        .into_iter()
        .map(|id| identity_json(id, &registry.identities[id]))
        .collect();
    Ok(
        json!({ "identities": identities, "caname": query_ca.unwrap_or_else(|| CA_NAME.to_owned()) }),
    )
}

fn identity(ca: &Ca, caller: &str, id: &str) -> Result<Value, Failure> {
    let registry = ca.registry.lock().unwrap();
    // Only a registrar may read an identity, even its own (fabric-ca's getID).
    if registry
        .identities
        .get(caller)
        .and_then(|registered| attribute(registered, "hf.Registrar.Roles"))
        .is_none_or(|roles| roles.is_empty())
    {
        return Err(authorization_failure());
    }
    match registry.identities.get(id) {
        Some(registered) => {
            let mut value = identity_json(id, registered);
            value["caname"] = json!(CA_NAME);
            Ok(value)
        }
        None => Err(Failure(
            StatusCode::NOT_FOUND,
            63,
            format!("Failed to get User: {id}"),
        )),
    }
}

/// A server that answers every request with `status`, `content_type` and `body`, for failure tests.
pub async fn fixed_answer(status: u16, body: &'static str) -> SocketAddr {
    let app = Router::new().fallback(move || async move {
        (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "text/plain")],
            body,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}
