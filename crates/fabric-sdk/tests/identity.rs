//! Identities against MSP folders written by a real Fabric network's tools (`shared/fixtures/fabric/msp`):
//! every folder loads and signs low-S, certificates chain to the org CA with the right NodeOU role, Fabric
//! CA attributes are read, and broken folders name the file at fault.

use std::path::{Path, PathBuf};

use fabric_sdk::identity::CertificateInfo;
use fabric_sdk::msp::{MspError, MspFolder, NodeRole};
use fabric_sdk::signer::{
    P256_ORDER, VerifyError, encode_der_signature, is_low_s, parse_der_signature, verify,
};

/// A moment inside the validity of every fixture certificate (2027-01-15), so the checks do not depend
/// on the day the tests run.
const AT: i64 = 1_800_000_000;

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("FABRIC_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/fabric")
        });
    if dir.join("blocks/0.block").exists() {
        Some(dir)
    } else {
        eprintln!("skipping: Fabric fixtures not found at {}", dir.display());
        None
    }
}

/// Copies the cryptogen folder of User1 into `root/name` as fresh, writable files (the fixtures are
/// read-only), so a test can break one part of it.
fn writable_copy(dir: &Path, root: &Path, name: &str) -> PathBuf {
    let target = root.join(name);
    let source = dir.join("msp/User1@org1.example.com");
    for sub in ["cacerts", "signcerts", "keystore", "tlscacerts"] {
        std::fs::create_dir_all(target.join(sub)).unwrap();
        for entry in std::fs::read_dir(source.join(sub)).unwrap() {
            let entry = entry.unwrap();
            let bytes = std::fs::read(entry.path()).unwrap();
            std::fs::write(target.join(sub).join(entry.file_name()), bytes).unwrap();
        }
    }
    let config = std::fs::read(source.join("config.yaml")).unwrap();
    std::fs::write(target.join("config.yaml"), config).unwrap();
    target
}

/// A fresh scratch folder for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("fabric-sdk-identity-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn user1(dir: &Path) -> MspFolder {
    MspFolder::load(&dir.join("msp/User1@org1.example.com"), "Org1MSP").unwrap()
}

#[test]
fn every_msp_folder_loads_and_signs_low_s() {
    let Some(dir) = fixtures() else { return };
    let cases = [
        ("User1@org1.example.com", NodeRole::Client, "priv_sk"),
        ("Admin@org1.example.com", NodeRole::Admin, "priv_sk"),
        ("peer0.org1.example.com", NodeRole::Peer, "priv_sk"),
        (
            "clubadmin-alpha@org1-ca",
            NodeRole::Client,
            "53930c4b2000f958aa2c4c6566e9291a29aa8219539c4e54e03b03c7a28f7ac7_sk",
        ),
    ];
    let channel_msp = MspFolder::load(&dir.join("msp/Org1MSP-channel"), "Org1MSP").unwrap();
    assert!(matches!(
        channel_msp.signing_identity(),
        Err(MspError::NotSigning { .. })
    ));
    assert!(channel_msp.node_ous.enabled);
    assert_eq!(channel_msp.node_ous.admin.as_deref(), Some("admin"));
    let orderer_tls = std::fs::read(dir.join("tls/tlsca.example.com-cert.pem")).unwrap();
    for (name, role, key_name) in cases {
        let folder = MspFolder::load(&dir.join("msp").join(name), "Org1MSP").unwrap();
        assert_eq!(
            folder.key_file.as_deref().and_then(Path::file_name),
            Some(key_name.as_ref()),
            "{name}"
        );
        let signing = folder.signing_identity().unwrap();
        assert_eq!(signing.identity().msp_id, "Org1MSP");
        let certificate = signing.identity().certificate().unwrap();
        assert_eq!(folder.roles(&certificate), [role], "{name}");
        for i in 0..50u32 {
            let message = format!("{name} {i}");
            let signature = signing.signer().sign(message.as_bytes()).unwrap();
            assert!(is_low_s(&signature).unwrap());
            verify(&certificate.public_key, message.as_bytes(), &signature).unwrap();
        }
        // Every identity, including the one Fabric CA enrolled, is issued by Org1's CA, both as its own
        // folder and as the channel MSP sees it.
        let cert_pem = &signing.identity().cert_pem;
        assert_eq!(
            folder.validate_certificate_at(cert_pem, AT).unwrap(),
            Some(role),
            "{name}"
        );
        assert_eq!(
            channel_msp.validate_certificate_at(cert_pem, AT).unwrap(),
            Some(role),
            "{name}"
        );
    }
    // The orderer org's TLS CA is not Org1's CA.
    let error = channel_msp
        .validate_certificate_at(&orderer_tls, AT)
        .unwrap_err();
    assert!(
        matches!(&error, MspError::InvalidIdentity(reason) if reason.contains("not issued by a CA of Org1MSP")),
        "{error}"
    );
}

#[test]
fn thousand_signatures_with_a_fixture_key_are_all_low_s() {
    let Some(dir) = fixtures() else { return };
    let signing = user1(&dir).signing_identity().unwrap();
    let public_key = signing.identity().certificate().unwrap().public_key;
    let signer = signing.signer();
    // About half of raw ECDSA signatures are high-S, so 1000 in a row are low-S only if every one
    // was normalised.
    for i in 0..1000u32 {
        let message = i.to_be_bytes();
        let signature = signer.sign(&message).unwrap();
        assert!(is_low_s(&signature).unwrap(), "signature {i}");
        verify(&public_key, &message, &signature).unwrap();
    }
}

#[test]
fn high_s_twin_of_a_fixture_signature_is_refused() {
    let Some(dir) = fixtures() else { return };
    let signing = user1(&dir).signing_identity().unwrap();
    let public_key = signing.identity().certificate().unwrap().public_key;
    let message = b"reciprocal visit";
    let signature = signing.signer().sign(message).unwrap();
    let (r, s) = parse_der_signature(&signature).unwrap();
    let mut high_s = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let digit = i16::from(P256_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(digit < 0);
        high_s[i] = digit.rem_euclid(256) as u8;
    }
    let twin = encode_der_signature(&r, &high_s);
    assert!(!is_low_s(&twin).unwrap());
    assert_eq!(verify(&public_key, message, &twin), Err(VerifyError::HighS));
    assert_eq!(
        fabric_sdk::signer::normalize_low_s(&twin).unwrap(),
        signature
    );
    assert_eq!(
        verify(&public_key, b"another message", &signature),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn fabric_ca_attributes_are_read_from_the_certificate() {
    let Some(dir) = fixtures() else { return };
    let pem = std::fs::read(dir.join("msp/clubadmin-alpha@org1-ca/signcerts/cert.pem")).unwrap();
    let info = CertificateInfo::from_pem(&pem).unwrap();
    assert_eq!(info.attribute("club"), Some("club-alpha"));
    assert_eq!(info.attribute("role"), Some("club_admin"));
    assert_eq!(info.attribute("hf.EnrollmentID"), Some("clubadmin-alpha"));
    assert_eq!(info.attributes.len(), 3);
    assert_eq!(info.common_name.as_deref(), Some("clubadmin-alpha"));
    assert_eq!(info.organizational_units, ["client"]);
    assert!(
        info.subject.contains("CN=clubadmin-alpha"),
        "{}",
        info.subject
    );
    assert!(
        info.issuer.contains("CN=ca.org1.example.com"),
        "{}",
        info.issuer
    );
    assert_eq!(info.public_key.len(), 65);
    assert_eq!(info.public_key[0], 0x04);
    assert!(!info.serial_hex.is_empty() && info.serial_hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!info.is_ca);
    let user = CertificateInfo::from_pem(
        &std::fs::read(
            dir.join("msp/User1@org1.example.com/signcerts/User1@org1.example.com-cert.pem"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(user.attributes.is_empty());
    assert_eq!(user.organizational_units, ["client"]);
    assert_eq!(user.common_name.as_deref(), Some("User1@org1.example.com"));
}

#[test]
fn validity_window_is_enforced() {
    let Some(dir) = fixtures() else { return };
    let folder = MspFolder::load(&dir.join("msp/clubadmin-alpha@org1-ca"), "Org1MSP").unwrap();
    let pem = folder
        .signing_identity()
        .unwrap()
        .identity()
        .cert_pem
        .clone();
    let info = CertificateInfo::from_pem(&pem).unwrap();
    assert!(info.not_before < AT && AT < info.not_after);
    assert!(!info.is_expired_at(info.not_after));
    assert!(info.is_expired_at(info.not_after + 1));
    assert!(info.is_expired_at(info.not_before - 1));
    let error = folder
        .validate_certificate_at(&pem, info.not_after + 1)
        .unwrap_err();
    assert!(error.to_string().contains("expired"), "{error}");
}

#[test]
fn broken_msp_folders_name_the_file_at_fault() {
    let Some(dir) = fixtures() else { return };
    let scratch = Scratch::new("broken");
    let root = &scratch.0;

    let no_key = writable_copy(&dir, root, "no-key");
    std::fs::remove_file(no_key.join("keystore/priv_sk")).unwrap();
    let error = MspFolder::load(&no_key, "Org1MSP").unwrap_err();
    assert!(matches!(error, MspError::Missing { .. }), "{error}");
    assert!(error.to_string().contains("no-key/keystore"), "{error}");

    let garbage_key = writable_copy(&dir, root, "garbage-key");
    std::fs::write(
        garbage_key.join("keystore/priv_sk"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let error = MspFolder::load(&garbage_key, "Org1MSP").unwrap_err();
    assert!(matches!(error, MspError::Malformed { .. }), "{error}");
    assert!(
        error.to_string().contains("garbage-key/keystore/priv_sk"),
        "{error}"
    );

    let other_key = writable_copy(&dir, root, "other-key");
    std::fs::write(
        other_key.join("keystore/priv_sk"),
        std::fs::read(dir.join("msp/Admin@org1.example.com/keystore/priv_sk")).unwrap(),
    )
    .unwrap();
    let error = MspFolder::load(&other_key, "Org1MSP").unwrap_err();
    assert!(matches!(error, MspError::NoMatchingKey { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("other-key/keystore: no private key matches")
            && message.contains("signcerts/User1@org1.example.com-cert.pem"),
        "{message}"
    );

    let not_cert = writable_copy(&dir, root, "not-cert");
    std::fs::write(
        not_cert.join("signcerts/User1@org1.example.com-cert.pem"),
        std::fs::read(not_cert.join("keystore/priv_sk")).unwrap(),
    )
    .unwrap();
    let error = MspFolder::load(&not_cert, "Org1MSP")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("not-cert/signcerts/User1@org1.example.com-cert.pem")
            && error.contains("not CERTIFICATE"),
        "{error}"
    );

    let no_ca = writable_copy(&dir, root, "no-ca");
    std::fs::remove_dir_all(no_ca.join("cacerts")).unwrap();
    let error = MspFolder::load(&no_ca, "Org1MSP").unwrap_err().to_string();
    assert!(error.contains("no-ca/cacerts: missing"), "{error}");

    let bad_config = writable_copy(&dir, root, "bad-config");
    std::fs::write(bad_config.join("config.yaml"), "NodeOUs: [unclosed").unwrap();
    let error = MspFolder::load(&bad_config, "Org1MSP")
        .unwrap_err()
        .to_string();
    assert!(error.contains("bad-config/config.yaml"), "{error}");

    let absent = root.join("absent");
    let error = MspFolder::load(&absent, "Org1MSP").unwrap_err();
    assert!(matches!(error, MspError::Missing { .. }), "{error}");
    assert!(error.to_string().contains("absent: missing"), "{error}");
}

#[test]
fn keystore_with_several_keys_uses_the_one_matching_the_certificate() {
    let Some(dir) = fixtures() else { return };
    let scratch = Scratch::new("several-keys");
    let folder = writable_copy(&dir, &scratch.0, "several");
    // fabric-ca-client names keys after their SKI; a stale key sorts first here.
    std::fs::rename(
        folder.join("keystore/priv_sk"),
        folder.join("keystore/bbbb_sk"),
    )
    .unwrap();
    std::fs::write(
        folder.join("keystore/aaaa_sk"),
        std::fs::read(dir.join("msp/Admin@org1.example.com/keystore/priv_sk")).unwrap(),
    )
    .unwrap();
    let loaded = MspFolder::load(&folder, "Org1MSP").unwrap();
    assert_eq!(
        loaded.key_file.as_deref().and_then(Path::file_name),
        Some("bbbb_sk".as_ref())
    );
    let signing = loaded.signing_identity().unwrap();
    let public_key = signing.identity().certificate().unwrap().public_key;
    let signature = signing.signer().sign(b"m").unwrap();
    verify(&public_key, b"m", &signature).unwrap();
}

#[test]
fn legacy_admincerts_and_a_folder_without_config_yaml() {
    let Some(dir) = fixtures() else { return };
    let scratch = Scratch::new("admincerts");
    let folder = writable_copy(&dir, &scratch.0, "legacy");
    std::fs::remove_file(folder.join("config.yaml")).unwrap();
    let cert = std::fs::read(folder.join("signcerts/User1@org1.example.com-cert.pem")).unwrap();
    std::fs::create_dir_all(folder.join("admincerts")).unwrap();
    std::fs::write(folder.join("admincerts/User1-cert.pem"), &cert).unwrap();

    let loaded = MspFolder::load(&folder, "Org1MSP").unwrap();
    assert!(!loaded.node_ous.enabled);
    assert_eq!(loaded.admin_certs.len(), 1);
    let info = CertificateInfo::from_pem(&cert).unwrap();
    assert_eq!(loaded.roles(&info), [NodeRole::Admin]);
    // Without NodeOUs Fabric validates the chain only and assigns no role.
    assert_eq!(loaded.validate_certificate_at(&cert, AT).unwrap(), None);

    // With NodeOUs back, an admincerts entry adds the admin role without being a second OU role.
    std::fs::write(
        folder.join("config.yaml"),
        std::fs::read(dir.join("msp/User1@org1.example.com/config.yaml")).unwrap(),
    )
    .unwrap();
    let loaded = MspFolder::load(&folder, "Org1MSP").unwrap();
    assert_eq!(loaded.roles(&info), [NodeRole::Client, NodeRole::Admin]);
    assert_eq!(
        loaded.validate_certificate_at(&cert, AT).unwrap(),
        Some(NodeRole::Client)
    );
}
