//! The client against an in-process CA that applies fabric-ca-server's verification rules
//! (`support/mod.rs`): enrollment into an MSP folder that `MspFolder::load` reads back, registration,
//! reenrollment, revocation, identities, the CA's refusals, tampered tokens, TLS, and broken answers.

mod support;

use std::path::Path;

use fabric_ca::{
    Attribute, AttributeRequest, CaClient, CaError, Call, EnrollRequest, RegistrationRequest,
    RevocationRequest,
};
use fabric_sdk::identity::CertificateInfo;
use fabric_sdk::msp::{MspFolder, SigningIdentity};
use support::{CA_NAME, TestCa};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use x509_parser::prelude::FromDer as _;

fn client(ca: &TestCa) -> CaClient {
    CaClient::builder(&ca.url).ca_name(CA_NAME).build().unwrap()
}

async fn admin(ca: &CaClient) -> SigningIdentity {
    ca.enroll("admin", "adminpw", &EnrollRequest::default())
        .await
        .unwrap()
        .signing_identity("Org1MSP")
        .unwrap()
}

fn club_admin(id: &str) -> RegistrationRequest {
    RegistrationRequest {
        id: id.to_owned(),
        kind: "client".to_owned(),
        secret: Some("clubpw".to_owned()),
        attributes: vec![
            Attribute::ecert("club", "club-alpha"),
            Attribute::ecert("role", "club_admin"),
        ],
        ..Default::default()
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.strip_prefix(dir).unwrap().display().to_string();
        if path.is_dir() {
            for inner in files(&path) {
                found.push(format!("{name}/{inner}"));
            }
        } else {
            found.push(name);
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn enroll_writes_an_msp_folder_that_loads_and_carries_the_attributes() {
    let server = TestCa::start().await;
    let ca = client(&server);
    let registrar = admin(&ca).await;
    ca.register(&registrar, &club_admin("clubadmin-alpha"))
        .await
        .unwrap();

    let request = EnrollRequest {
        hosts: vec!["client.org1.example.com".to_owned()],
        attr_reqs: vec![
            AttributeRequest::required("club"),
            AttributeRequest::required("role"),
            AttributeRequest::optional("not-registered"),
        ],
        ..Default::default()
    };
    let enrollment = ca
        .enroll("clubadmin-alpha", "clubpw", &request)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let msp = dir.path().join("msp");
    let written = enrollment.write_msp(&msp).unwrap();

    // fabric-ca-client's layout: cacerts named after host, port and CA name; key named after its SKI.
    let port = server.url.rsplit(':').next().unwrap();
    let key_name = enrollment.key_file_name().unwrap();
    assert_eq!(key_name.len(), 64 + 3);
    assert_eq!(
        files(&msp),
        [
            "IssuerPublicKey".to_owned(),
            format!("cacerts/127-0-0-1-{port}-ca-org1.pem"),
            format!("keystore/{key_name}"),
            "signcerts/cert.pem".to_owned(),
        ]
    );
    assert_eq!(written.key, msp.join("keystore").join(&key_name));
    assert_eq!(written.intermediate_certs, None);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&written.key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        std::fs::read_to_string(written.ca_certs.unwrap()).unwrap(),
        server.ca_cert_pem
    );

    // It loads back, signs, and its certificate chains to the CA and carries club and role.
    let folder = MspFolder::load(&msp, "Org1MSP").unwrap();
    let signing = folder.signing_identity().unwrap();
    let signature = signing.signer().sign(b"check-in").unwrap();
    let certificate: CertificateInfo = signing.identity().certificate().unwrap();
    fabric_sdk::signer::verify(&certificate.public_key, b"check-in", &signature).unwrap();
    folder
        .validate_certificate(&signing.identity().cert_pem)
        .unwrap();
    assert_eq!(certificate.common_name.as_deref(), Some("clubadmin-alpha"));
    assert_eq!(certificate.organizational_units, ["client"]);
    assert_eq!(certificate.attribute("club"), Some("club-alpha"));
    assert_eq!(certificate.attribute("role"), Some("club_admin"));
    // Only what was asked for: the ecert default (hf.EnrollmentID, ...) is not added.
    assert_eq!(
        certificate.attributes.len(),
        2,
        "{:?}",
        certificate.attributes
    );
    assert_eq!(
        hex::encode(fabric_sdk::signer::sha256(&certificate.public_key)) + "_sk",
        key_name
    );
}

#[tokio::test]
async fn without_attribute_requests_the_ecert_attributes_are_issued() {
    let server = TestCa::start().await;
    let ca = client(&server);
    let registrar = admin(&ca).await;
    let mut request = club_admin("frontdesk-alpha");
    request.attributes.push(Attribute {
        name: "private".to_owned(),
        value: "no".to_owned(),
        ecert: false,
    });
    ca.register(&registrar, &request).await.unwrap();
    let enrollment = ca
        .enroll("frontdesk-alpha", "clubpw", &EnrollRequest::default())
        .await
        .unwrap();
    let certificate = enrollment.certificate().unwrap();
    assert_eq!(certificate.attribute("club"), Some("club-alpha"));
    assert_eq!(
        certificate.attribute("hf.EnrollmentID"),
        Some("frontdesk-alpha")
    );
    assert_eq!(certificate.attribute("private"), None);

    // A required attribute the identity lacks fails with the CA's message.
    let error = ca
        .enroll(
            "frontdesk-alpha",
            "clubpw",
            &EnrollRequest {
                attr_reqs: vec![AttributeRequest::required("missing")],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), Some(500));
    assert!(
        error
            .ca_message()
            .is_some_and(|message| message.contains("required attributes are missing")),
        "{error}"
    );
}

#[tokio::test]
async fn register_returns_the_secret_and_identities_lists_it() {
    let server = TestCa::start().await;
    let ca = client(&server);
    let registrar = admin(&ca).await;

    assert_eq!(
        ca.register(&registrar, &club_admin("clubadmin-beta"))
            .await
            .unwrap(),
        "clubpw"
    );
    let generated = ca
        .register(
            &registrar,
            &RegistrationRequest {
                id: "peer0".to_owned(),
                kind: "peer".to_owned(),
                affiliation: "org1.department1".to_owned(),
                max_enrollments: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!generated.is_empty());
    // The generated secret enrolls once (max_enrollments = 1), then no more.
    let peer = ca
        .enroll("peer0", &generated, &EnrollRequest::default())
        .await
        .unwrap();
    assert_eq!(peer.certificate().unwrap().organizational_units, ["peer"]);
    assert_eq!(
        ca.enroll("peer0", &generated, &EnrollRequest::default())
            .await
            .unwrap_err()
            .ca_code(),
        Some(20)
    );

    let listed = ca.identities(&registrar).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|identity| identity.id.as_str()).collect();
    assert_eq!(ids, ["admin", "clubadmin-beta", "peer0"]);
    let beta = ca.identity(&registrar, "clubadmin-beta").await.unwrap();
    assert!(server.registry(|registry| {
        registry
            .log
            .contains(&format!("GET /identities/clubadmin-beta?ca={CA_NAME}"))
    }));
    assert_eq!(beta.kind, "client");
    assert!(
        beta.attributes
            .contains(&Attribute::ecert("role", "club_admin"))
    );
    let peer_info = &listed[2];
    assert_eq!(peer_info.affiliation, "org1.department1");
    assert_eq!(peer_info.max_enrollments, 1);

    // Registering the same id again: the CA's 409 and code 74, named as a register failure.
    let error = ca
        .register(&registrar, &club_admin("clubadmin-beta"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CaError::Refused { call: Call::Register, status: 409, errors } if errors[0].code == 74),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("Identity 'clubadmin-beta' is already registered")
    );

    // A client without registrar rights is refused by the CA's authorization rule.
    ca.register(&registrar, &club_admin("plain")).await.unwrap();
    let plain = ca
        .enroll("plain", "clubpw", &EnrollRequest::default())
        .await
        .unwrap()
        .signing_identity("Org1MSP")
        .unwrap();
    let error = ca.register(&plain, &club_admin("other")).await.unwrap_err();
    assert_eq!(
        (error.http_status(), error.ca_code()),
        (Some(403), Some(71))
    );
    assert_eq!(ca.identities(&plain).await.unwrap_err().ca_code(), Some(71));
    // An unknown identity: the CA's 404.
    assert_eq!(
        ca.identity(&registrar, "nobody")
            .await
            .unwrap_err()
            .http_status(),
        Some(404)
    );
}

#[tokio::test]
async fn a_wrong_secret_gives_the_cas_code_and_message() {
    let server = TestCa::start().await;
    let ca = client(&server);
    for (id, secret) in [("admin", "wrong"), ("nobody", "adminpw")] {
        let error = ca
            .enroll(id, secret, &EnrollRequest::default())
            .await
            .unwrap_err();
        match &error {
            CaError::Refused {
                call,
                status,
                errors,
            } => {
                assert_eq!(*call, Call::Enroll);
                assert_eq!(*status, 401);
                assert_eq!(errors[0].code, 20);
                assert_eq!(errors[0].message, "Authentication failure");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            error.to_string(),
            "enroll: the CA refused the request (HTTP 401): code 20: Authentication failure"
        );
    }
}

#[tokio::test]
async fn reenroll_gets_a_new_key_and_certificate_for_the_same_identity() {
    let server = TestCa::start().await;
    let ca = client(&server);
    let registrar = admin(&ca).await;
    ca.register(&registrar, &club_admin("clubadmin-alpha"))
        .await
        .unwrap();
    let first = ca
        .enroll("clubadmin-alpha", "clubpw", &EnrollRequest::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    first.write_msp(dir.path()).unwrap();
    let current = MspFolder::load(dir.path(), "Org1MSP")
        .unwrap()
        .signing_identity()
        .unwrap();

    let second = ca
        .reenroll(
            &current,
            &EnrollRequest {
                attr_reqs: vec![AttributeRequest::required("role")],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (old, new) = (first.certificate().unwrap(), second.certificate().unwrap());
    assert_eq!(new.common_name.as_deref(), Some("clubadmin-alpha"));
    assert_ne!(old.public_key, new.public_key);
    assert_ne!(old.serial_hex, new.serial_hex);
    assert_eq!(new.attribute("role"), Some("club_admin"));
    assert_eq!(new.attribute("club"), None);
    // The new certificate authenticates: it reenrolls in turn.
    let renewed = second.signing_identity("Org1MSP").unwrap();
    let third = ca
        .reenroll(&renewed, &EnrollRequest::default())
        .await
        .unwrap();
    assert_ne!(third.certificate().unwrap().serial_hex, new.serial_hex);
    // A client may not read even its own identity: that is for registrars.
    assert_eq!(
        ca.identity(&renewed, "clubadmin-alpha")
            .await
            .unwrap_err()
            .ca_code(),
        Some(71)
    );
}

#[tokio::test]
async fn revoke_by_serial_and_by_id() {
    let server = TestCa::start().await;
    let ca = client(&server);
    let registrar = admin(&ca).await;
    ca.register(&registrar, &club_admin("member-1"))
        .await
        .unwrap();
    let member = ca
        .enroll("member-1", "clubpw", &EnrollRequest::default())
        .await
        .unwrap();
    let certificate = member.certificate().unwrap();

    // One certificate, by serial and AKI (given in upper case with colons, as openssl prints them).
    let serial_colons = certificate
        .serial_hex
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let result = ca
        .revoke(
            &registrar,
            &RevocationRequest {
                serial: Some(serial_colons),
                aki: Some(server.ski().to_uppercase()),
                reason: Some("keycompromise".to_owned()),
                gencrl: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(result.revoked.len(), 1);
    assert_eq!(
        result.revoked[0].serial,
        certificate.serial_hex.trim_start_matches('0')
    );
    assert_eq!(result.revoked[0].aki, server.ski().trim_start_matches('0'));
    let crl_pem = result.crl_pem.unwrap();
    let (_, crl_block) = x509_parser::pem::parse_x509_pem(&crl_pem).unwrap();
    assert_eq!(crl_block.label, "X509 CRL");
    let (_, crl) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(&crl_block.contents)
            .unwrap();
    assert_eq!(
        crl.iter_revoked_certificates()
            .map(|revoked| revoked.raw_serial_as_string().replace(':', ""))
            .collect::<Vec<_>>(),
        [certificate.serial_hex.as_str()]
    );
    // The revoked certificate no longer authenticates.
    let revoked_identity = member.signing_identity("Org1MSP").unwrap();
    assert_eq!(
        ca.identity(&revoked_identity, "member-1")
            .await
            .unwrap_err()
            .ca_code(),
        Some(20)
    );

    // The whole identity, by id: its secret no longer enrolls.
    let result = ca
        .revoke(
            &registrar,
            &RevocationRequest {
                id: Some("member-1".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(result.revoked.is_empty(), "already revoked: {result:?}");
    assert_eq!(result.crl_pem, None);
    assert_eq!(
        ca.enroll("member-1", "clubpw", &EnrollRequest::default())
            .await
            .unwrap_err()
            .ca_code(),
        Some(20)
    );
    // Neither id nor serial: the CA's 400 and code 15.
    let error = ca
        .revoke(&registrar, &RevocationRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (error.call(), error.http_status(), error.ca_code()),
        (Some(Call::Revoke), Some(400), Some(15))
    );
}

/// Sends one raw HTTP/1.1 request and returns the status line's code and the body.
async fn raw(url: &str, method: &str, uri: &str, authorization: &str, body: &str) -> (u16, String) {
    let address = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "{method} {uri} HTTP/1.1\r\nHost: {address}\r\nAuthorization: {authorization}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test]
async fn tampered_tokens_are_refused_by_the_servers_rules() {
    let server = TestCa::start().await;
    let ca = client(&server);
    let registrar = admin(&ca).await;
    let cert = &registrar.identity().cert_pem;
    let signer = registrar.signer();
    let body = r#"{"id":"raw-1","type":"client","affiliation":""}"#;
    let token = |method: &str, uri: &str, body: &str| {
        fabric_ca::token::create(cert, signer.as_ref(), method, uri, body.as_bytes()).unwrap()
    };
    let refused = |(status, answer): (u16, String)| {
        status == 401 && answer.contains(r#""code":20"#) && answer.contains(r#""success":false"#)
    };

    // The genuine token is accepted, at /register and at /api/v1/register (each signing its own URI).
    let (status, answer) = raw(
        &server.url,
        "POST",
        "/register",
        &token("POST", "/register", body),
        body,
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let body2 = r#"{"id":"raw-2"}"#;
    let (status, answer) = raw(
        &server.url,
        "POST",
        "/api/v1/register",
        &token("POST", "/api/v1/register", body2),
        body2,
    )
    .await;
    assert_eq!(status, 201, "{answer}");

    let body3 = r#"{"id":"raw-3"}"#;
    let genuine = token("POST", "/register", body3);
    let (b64_cert, b64_signature) = genuine.split_once('.').unwrap();
    // Signed for another URI (the prefix matters), another body, another method.
    for forged in [
        token("POST", "/api/v1/register", body3),
        token("POST", "/register", r#"{"id":"raw-other"}"#),
        token("PUT", "/register", body3),
        token("POST", "/register?ca=ca-org1", body3),
    ] {
        assert!(
            refused(raw(&server.url, "POST", "/register", &forged, body3).await),
            "{forged}"
        );
    }
    // A signature flipped to its high-S twin, a certificate swapped for another, garbage.
    let signature = base64_decode(b64_signature);
    let (r, s) = fabric_sdk::signer::parse_der_signature(&signature).unwrap();
    let high = fabric_sdk::signer::encode_der_signature(&r, &negate(&s));
    let other = ca
        .enroll("admin", "adminpw", &EnrollRequest::default())
        .await
        .unwrap();
    for forged in [
        format!("{b64_cert}.{}", base64_encode(&high)),
        format!("{}.{b64_signature}", base64_encode(&other.cert_pem)),
        b64_cert.to_owned(),
        "not-a-token".to_owned(),
    ] {
        assert!(
            refused(raw(&server.url, "POST", "/register", &forged, body3).await),
            "{forged}"
        );
    }
    // No header at all: 401 and code 2, as the CA answers.
    let (status, answer) = raw(&server.url, "POST", "/register", "", body3).await;
    assert_eq!(status, 401);
    assert!(answer.contains(r#""code":2"#), "{answer}");
    // And the genuine one still works.
    let (status, _) = raw(&server.url, "POST", "/register", &genuine, body3).await;
    assert_eq!(status, 201);
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// n − s for P-256.
fn negate(s: &[u8; 32]) -> [u8; 32] {
    let n = fabric_sdk::signer::P256_ORDER;
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = i16::from(n[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        out[i] = digit as u8;
    }
    out
}

#[tokio::test]
async fn a_base_url_with_api_v1_is_signed_with_its_prefix() {
    let server = TestCa::start().await;
    let ca = CaClient::builder(format!("{}/api/v1/", server.url))
        .ca_name(CA_NAME)
        .build()
        .unwrap();
    let registrar = admin(&ca).await;
    ca.register(&registrar, &club_admin("prefixed"))
        .await
        .unwrap();
    assert_eq!(ca.identities(&registrar).await.unwrap().len(), 2);
    let log = server.registry(|registry| registry.log.clone());
    assert_eq!(
        log,
        [
            "POST /api/v1/enroll".to_owned(),
            "POST /api/v1/register".to_owned(),
            format!("GET /api/v1/identities?ca={CA_NAME}"),
        ]
    );
}

#[tokio::test]
async fn cainfo_over_tls_with_the_given_root() {
    let server = TestCa::start_tls().await;
    let root = server.tls_root_pem.clone().unwrap();
    let ca = CaClient::builder(&server.url)
        .tls_root_pem(root.clone())
        .build()
        .unwrap();
    let info = ca.cainfo().await.unwrap();
    assert_eq!(info.ca_name, CA_NAME);
    assert_eq!(info.version, "1.5.21");
    assert_eq!(info.ca_chain_pem, server.ca_cert_pem.as_bytes());
    assert_eq!(info.issuer_public_key, b"idemix issuer public key");
    // Enrolling and a token call over TLS.
    let registrar = admin(&ca).await;
    assert_eq!(ca.identities(&registrar).await.unwrap()[0].id, "admin");

    // Another root: the TLS handshake fails, reported as a transport error of that call.
    let stranger = TestCa::start_tls().await;
    let wrong = CaClient::builder(&server.url)
        .tls_root_pem(stranger.tls_root_pem.clone().unwrap())
        .build()
        .unwrap();
    let error = wrong.cainfo().await.unwrap_err();
    assert!(
        matches!(&error, CaError::Transport { call: Call::CaInfo, reason, .. } if reason.starts_with("TLS")),
        "{error}"
    );
    // A server name the certificate does not carry.
    let misnamed = CaClient::builder(&server.url)
        .tls_root_pem(root)
        .tls_server_name("ca.org2.example.com")
        .build()
        .unwrap();
    assert!(matches!(
        misnamed.cainfo().await,
        Err(CaError::Transport { .. })
    ));
    // Plain HTTP to a TLS port: a clear error, no panic.
    let plain = CaClient::builder(server.url.replace("https://", "http://"))
        .build()
        .unwrap();
    assert!(plain.cainfo().await.is_err());
}

#[tokio::test]
async fn broken_answers_are_clear_errors() {
    let address = support::fixed_answer(500, "Internal Server Error").await;
    let ca = CaClient::builder(format!("http://{address}"))
        .build()
        .unwrap();
    let error = ca
        .enroll("admin", "adminpw", &EnrollRequest::default())
        .await
        .unwrap_err();
    match &error {
        CaError::BadResponse {
            call,
            status,
            reason,
            body,
        } => {
            assert_eq!((*call, *status), (Call::Enroll, 500));
            assert!(reason.contains("not a Fabric CA response"), "{reason}");
            assert_eq!(body, "Internal Server Error");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error
            .to_string()
            .starts_with("enroll: unexpected answer from the CA (HTTP 500)")
    );

    let address = support::fixed_answer(200, "<html>not a CA</html>").await;
    let ca = CaClient::builder(format!("http://{address}"))
        .build()
        .unwrap();
    assert!(matches!(
        ca.cainfo().await,
        Err(CaError::BadResponse {
            call: Call::CaInfo,
            status: 200,
            ..
        })
    ));

    // Nobody listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let ca = CaClient::builder(format!("http://{closed}"))
        .build()
        .unwrap();
    let error = ca.cainfo().await.unwrap_err();
    assert!(
        matches!(&error, CaError::Transport { call: Call::CaInfo, reason, .. } if reason.starts_with("connect")),
        "{error}"
    );
}
