//! Identities against MSP folders written by a real Fabric network's tools (`shared/fixtures/fabric/msp`):
//! every folder loads and signs low-S, certificates chain to the org CA with the right NodeOU role, Fabric
//! CA attributes are read, and broken folders name the file at fault.

use std::path::{Path, PathBuf};

use fabric_sdk::identity::CertificateInfo;
use fabric_sdk::msp::{MspError, MspFolder, NodeRole};
use fabric_sdk::signer::{is_low_s, verify};

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

#[test]
fn every_msp_folder_loads_and_signs_low_s() {
    let Some(dir) = fixtures() else { return };
    let cases = [
        ("User1@org1.example.com", Some(NodeRole::Client)),
        ("Admin@org1.example.com", Some(NodeRole::Admin)),
        ("peer0.org1.example.com", Some(NodeRole::Peer)),
        ("clubadmin-alpha@org1-ca", Some(NodeRole::Client)),
    ];
    let channel_msp = MspFolder::load(&dir.join("msp/Org1MSP-channel"), "Org1MSP").unwrap();
    assert!(channel_msp.signing_identity().is_err());
    for (name, role) in cases {
        let folder = MspFolder::load(&dir.join("msp").join(name), "Org1MSP").unwrap();
        let signing = folder.signing_identity().unwrap();
        let certificate = signing.identity().certificate().unwrap();
        for i in 0..50u32 {
            let message = format!("{name} {i}");
            let signature = signing.signer().sign(message.as_bytes()).unwrap();
            assert!(is_low_s(&signature).unwrap());
            verify(&certificate.public_key, message.as_bytes(), &signature).unwrap();
        }
        // Every identity, including the one Fabric CA enrolled, is issued by Org1's CA.
        assert_eq!(
            folder
                .validate_certificate(&signing.identity().cert_pem)
                .unwrap(),
            role,
            "{name}"
        );
        assert_eq!(
            channel_msp
                .validate_certificate(&signing.identity().cert_pem)
                .unwrap(),
            role
        );
        let orderer_tls = std::fs::read(dir.join("tls/tlsca.example.com-cert.pem")).unwrap();
        assert!(matches!(
            channel_msp.validate_certificate(&orderer_tls),
            Err(MspError::InvalidIdentity(_))
        ));
    }
}

#[test]
fn fabric_ca_attributes_are_read_from_the_certificate() {
    let Some(dir) = fixtures() else { return };
    let pem = std::fs::read(dir.join("msp/clubadmin-alpha@org1-ca/signcerts/cert.pem")).unwrap();
    let info = CertificateInfo::from_pem(&pem).unwrap();
    assert_eq!(info.attribute("club"), Some("club-alpha"));
    assert_eq!(info.attribute("role"), Some("club_admin"));
    assert_eq!(info.attribute("hf.EnrollmentID"), Some("clubadmin-alpha"));
    assert_eq!(info.common_name.as_deref(), Some("clubadmin-alpha"));
    assert!(info.organizational_units.contains(&"client".to_owned()));
    let user = CertificateInfo::from_pem(
        &std::fs::read(
            dir.join("msp/User1@org1.example.com/signcerts/User1@org1.example.com-cert.pem"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(user.attributes.is_empty());
    assert_eq!(user.organizational_units, ["client"]);
}

#[test]
fn broken_msp_folders_name_the_file_at_fault() {
    let Some(dir) = fixtures() else { return };
    let root = std::env::temp_dir().join(format!("broken-msp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let copy = |name: &str| {
        let target = root.join(name);
        let source = dir.join("msp/User1@org1.example.com");
        for sub in ["cacerts", "signcerts", "keystore", "tlscacerts"] {
            std::fs::create_dir_all(target.join(sub)).unwrap();
            for entry in std::fs::read_dir(source.join(sub)).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), target.join(sub).join(entry.file_name())).unwrap();
            }
        }
        std::fs::copy(source.join("config.yaml"), target.join("config.yaml")).unwrap();
        target
    };

    let no_key = copy("no-key");
    std::fs::remove_file(no_key.join("keystore/priv_sk")).unwrap();
    let error = MspFolder::load(&no_key, "Org1MSP").unwrap_err();
    assert!(matches!(error, MspError::Missing { .. }), "{error}");
    assert!(error.to_string().contains("no-key/keystore"), "{error}");

    let garbage_key = copy("garbage-key");
    std::fs::write(
        garbage_key.join("keystore/priv_sk"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let error = MspFolder::load(&garbage_key, "Org1MSP")
        .unwrap_err()
        .to_string();
    assert!(error.contains("garbage-key/keystore/priv_sk"), "{error}");

    let other_key = copy("other-key");
    std::fs::copy(
        dir.join("msp/Admin@org1.example.com/keystore/priv_sk"),
        other_key.join("keystore/priv_sk"),
    )
    .unwrap();
    let error = MspFolder::load(&other_key, "Org1MSP").unwrap_err();
    assert!(matches!(error, MspError::NoMatchingKey { .. }), "{error}");

    let not_cert = copy("not-cert");
    std::fs::copy(
        not_cert.join("keystore/priv_sk"),
        not_cert.join("signcerts/User1@org1.example.com-cert.pem"),
    )
    .unwrap();
    let error = MspFolder::load(&not_cert, "Org1MSP")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("signcerts/User1@org1.example.com-cert.pem")
            && error.contains("not CERTIFICATE"),
        "{error}"
    );

    let error = MspFolder::load(&root.join("absent"), "Org1MSP").unwrap_err();
    assert!(matches!(error, MspError::Missing { .. }));
    let _ = std::fs::remove_dir_all(&root);
}
