//! `clubs ca …` against the in-process Fabric CA of fabric-ca's tests (which applies fabric-ca-server's
//! verification rules): the operator's whole path — enroll the bootstrap admin, register a club admin
//! with its attributes, enroll it, list, reenroll, revoke — and the errors an operator sees.

#[path = "../../fabric-ca/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use fabric_sdk::msp::MspFolder;
use support::{CA_NAME, TestCa};

/// Runs `clubs` with `args` off the async runtime; returns exit code, stdout and stderr.
async fn clubs(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_clubs"));
        command.args(&args);
        for (name, _) in std::env::vars() {
            if name.starts_with("CLUBS_") {
                command.env_remove(name);
            }
        }
        let output = command.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| (*arg).to_owned()).collect()
}

fn keys(msp: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(msp.join("keystore"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_enrolls_registers_lists_reenrolls_and_revokes() {
    let server = TestCa::start().await;
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin/msp").display().to_string();
    let member = dir.path().join("clubadmin-alpha/msp").display().to_string();
    let url = server.url.as_str();

    let (code, stdout, stderr) = clubs(args(&[
        "ca",
        "enroll",
        "--url",
        url,
        "--ca-name",
        CA_NAME,
        "--id",
        "admin",
        "--secret",
        "adminpw",
        "--out",
        &admin,
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("enrolled    admin at http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains("signcerts/cert.pem"), "{stdout}");

    let (code, stdout, stderr) = clubs(args(&[
        "ca",
        "register",
        "--url",
        url,
        "--ca-name",
        CA_NAME,
        "--msp-dir",
        &admin,
        "--id",
        "clubadmin-alpha",
        "--attr",
        "club=club-alpha:ecert",
        "--attr",
        "role=club_admin:ecert",
        "--max-enrollments",
        "-1",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let secret = stdout.trim().to_owned();
    assert!(!secret.is_empty() && !secret.contains('\n'), "{stdout}");

    let (code, stdout, stderr) = clubs(args(&[
        "ca",
        "enroll",
        "--url",
        url,
        "--ca-name",
        CA_NAME,
        "--id",
        "clubadmin-alpha",
        "--secret",
        &secret,
        "--attr",
        "club,role",
        "--out",
        &member,
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("attribute   club=club-alpha"), "{stdout}");
    assert!(stdout.contains("attribute   role=club_admin"), "{stdout}");
    let folder = MspFolder::load(Path::new(&member), "Org1MSP").unwrap();
    let certificate = folder
        .signing_identity()
        .unwrap()
        .identity()
        .certificate()
        .unwrap();
    assert_eq!(certificate.attribute("club"), Some("club-alpha"));
    // The folder is what `clubs identity show` reads.
    let (code, stdout, stderr) =
        clubs(args(&["identity", "show", &member, "--msp-id", "Org1MSP"])).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("attribute   role=club_admin"), "{stdout}");

    let (code, stdout, stderr) = clubs(args(&[
        "ca",
        "identities",
        "--url",
        url,
        "--ca-name",
        CA_NAME,
        "--msp-dir",
        &admin,
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("clubadmin-alpha  type=client affiliation= max_enrollments=-1")
            && stdout.contains("club=club-alpha:ecert"),
        "{stdout}"
    );
    let (code, stdout, _) = clubs(args(&[
        "ca",
        "identities",
        "--url",
        url,
        "--msp-dir",
        &admin,
        "clubadmin-alpha",
        "--json",
    ]))
    .await;
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed[0]["id"], "clubadmin-alpha");

    // Reenroll in place: a new certificate and key; the old key is gone.
    let old_keys = keys(Path::new(&member));
    let (code, stdout, stderr) = clubs(args(&[
        "ca",
        "reenroll",
        "--url",
        url,
        "--ca-name",
        CA_NAME,
        "--msp-dir",
        &member,
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("reenrolled  clubadmin-alpha"), "{stdout}");
    let new_keys = keys(Path::new(&member));
    assert_eq!(new_keys.len(), 1);
    assert_ne!(new_keys, old_keys);
    let renewed = MspFolder::load(Path::new(&member), "Org1MSP").unwrap();
    let renewed_cert = renewed
        .signing_identity()
        .unwrap()
        .identity()
        .certificate()
        .unwrap();
    assert_ne!(renewed_cert.serial_hex, certificate.serial_hex);

    // Revoke the identity with a CRL.
    let crl = dir.path().join("crl.pem");
    let (code, stdout, stderr) = clubs(args(&[
        "ca",
        "revoke",
        "--url",
        url,
        "--ca-name",
        CA_NAME,
        "--msp-dir",
        &admin,
        "--id",
        "clubadmin-alpha",
        "--reason",
        "superseded",
        "--crl-out",
        &crl.display().to_string(),
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.matches("revoked     serial").count(), 2, "{stdout}");
    assert!(
        std::fs::read_to_string(&crl)
            .unwrap()
            .starts_with("-----BEGIN X509 CRL-----")
    );
    // The revoked identity is refused, with the CA's own code and message.
    let (code, _, stderr) = clubs(args(&[
        "ca",
        "identities",
        "--url",
        url,
        "--msp-dir",
        &member,
        "clubadmin-alpha",
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "identity: the CA refused the request (HTTP 401): code 20: Authentication failure"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_clear() {
    let server = TestCa::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("msp").display().to_string();

    let (code, stdout, stderr) = clubs(args(&[
        "ca",
        "enroll",
        "--url",
        &server.url,
        "--id",
        "admin",
        "--secret",
        "wrong",
        "--out",
        &out,
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(
        stderr.trim(),
        "clubs: enroll: the CA refused the request (HTTP 401): code 20: Authentication failure"
    );
    assert!(!Path::new(&out).exists());

    // The default URL is https: without a TLS root the command says what to give.
    let (code, _, stderr) = clubs(args(&["ca", "cainfo"])).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("https://localhost:7054 is https: give the CA's TLS root certificate with --tls-root-cert or CLUBS_CA_TLS_ROOT_CERT"),
        "{stderr}"
    );
    // A caller folder that is not there.
    let (code, _, stderr) = clubs(args(&[
        "ca",
        "identities",
        "--url",
        &server.url,
        "--msp-dir",
        "/nonexistent/msp",
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/msp"), "{stderr}");
    // revoke needs an id or a serial and AKI.
    let (code, _, stderr) = clubs(args(&[
        "ca",
        "revoke",
        "--url",
        &server.url,
        "--msp-dir",
        &out,
        "--serial",
        "01",
    ]))
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--aki"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cainfo_over_tls() {
    let server = TestCa::start_tls().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tls-root.pem");
    std::fs::write(&root, server.tls_root_pem.as_ref().unwrap()).unwrap();
    let chain = dir.path().join("chain.pem");
    let (code, stdout, stderr) = clubs(args(&[
        "ca",
        "cainfo",
        "--url",
        &server.url,
        "--tls-root-cert",
        &root.display().to_string(),
        "--chain-out",
        &chain.display().to_string(),
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("CA name     {CA_NAME}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("chain       CN=ca.org1.example.com, O=org1.example.com"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&chain).unwrap(), server.ca_cert_pem);
}
