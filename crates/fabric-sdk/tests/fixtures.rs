//! The SDK against material produced by a real Fabric 3.1 network (`shared/fixtures/fabric`): every block
//! decodes as Fabric's own `configtxlator` decodes it, the chain verifies up to the tip hash the peer
//! reported, orderer signatures verify, and every MSP folder loads and signs.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use fabric_protos::common::Block;
use fabric_sdk::block::{
    Arg, ChainError, decode_block, read_block_file, verify_chain, verify_orderer_signatures,
};
use fabric_sdk::identity::CertificateInfo;
use fabric_sdk::msp::{MspError, MspFolder, NodeRole};
use fabric_sdk::signer::{is_low_s, verify};
use prost::Message;

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

fn blocks(dir: &Path) -> Vec<Block> {
    (0..=13)
        .map(|n| read_block_file(&dir.join(format!("blocks/{n}.block"))).unwrap())
        .collect()
}

fn oracle(dir: &Path, n: u64) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(format!("decoded/{n}.json"))).unwrap()).unwrap()
}

fn b64(value: &serde_json::Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap_or_default())
        .unwrap()
}

#[test]
fn every_block_decodes_like_configtxlator() {
    let Some(dir) = fixtures() else { return };
    for block in blocks(&dir) {
        let decoded = decode_block(&block).unwrap();
        let expected = oracle(&dir, decoded.number);
        assert_eq!(
            expected["header"]["number"].as_str().unwrap(),
            decoded.number.to_string()
        );
        assert!(decoded.data_hash_valid, "block {}", decoded.number);
        let envelopes = expected["data"]["data"].as_array().unwrap();
        assert_eq!(envelopes.len(), decoded.transactions.len());
        for (tx, envelope) in decoded.transactions.iter().zip(envelopes) {
            let header = &envelope["payload"]["header"];
            let channel_header = &header["channel_header"];
            assert_eq!(tx.tx_id, channel_header["tx_id"].as_str().unwrap());
            assert_eq!(tx.channel_id, "reciprocal");
            assert_eq!(
                i64::from(channel_header["type"].as_i64().unwrap() as i32),
                match tx.header_type.as_str() {
                    "CONFIG" => 1,
                    "ENDORSER_TRANSACTION" => 3,
                    other => panic!("unexpected type {other}"),
                }
            );
            // Blocks fetched from the orderer are not yet validated by a peer.
            assert_eq!(tx.validation, "NOT_VALIDATED");
            let Some(invocation) = &tx.chaincode else {
                assert!(tx.config.is_some());
                continue;
            };
            let creator = &header["signature_header"]["creator"];
            assert_eq!(tx.creator_msp_id, creator["mspid"].as_str().unwrap());
            let action = &envelope["payload"]["data"]["actions"][0]["payload"];
            let spec = &action["chaincode_proposal_payload"]["input"]["chaincode_spec"];
            assert_eq!(
                invocation.name,
                spec["chaincode_id"]["name"].as_str().unwrap()
            );
            let args: Vec<Vec<u8>> = spec["input"]["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(b64)
                .collect();
            let as_bytes = |arg: &Arg| match arg {
                Arg::Text(text) => text.as_bytes().to_vec(),
                Arg::Binary { hex } => hex::decode(hex).unwrap(),
            };
            let mut ours = vec![as_bytes(invocation.function.as_ref().unwrap())];
            ours.extend(invocation.args.iter().map(as_bytes));
            assert_eq!(ours, args, "block {} args", decoded.number);
            let extension = &action["action"]["proposal_response_payload"]["extension"];
            for (ns, expected_ns) in invocation
                .namespaces
                .iter()
                .zip(extension["results"]["ns_rwset"].as_array().unwrap())
            {
                assert_eq!(ns.namespace, expected_ns["namespace"].as_str().unwrap());
                let writes = expected_ns["rwset"]["writes"].as_array().unwrap();
                assert_eq!(ns.writes.len(), writes.len());
                for (write, expected_write) in ns.writes.iter().zip(writes) {
                    assert_eq!(
                        write.key,
                        expected_write["key"]
                            .as_str()
                            .unwrap()
                            .replace('\u{0}', "\\0")
                    );
                    assert_eq!(
                        write.is_delete,
                        expected_write["is_delete"].as_bool().unwrap_or(false)
                    );
                    assert_eq!(write.value_size, b64(&expected_write["value"]).len());
                }
                let reads = expected_ns["rwset"]["reads"].as_array().unwrap();
                assert_eq!(ns.reads.len(), reads.len());
            }
            let event_name = extension["events"]["event_name"]
                .as_str()
                .unwrap_or_default();
            assert_eq!(
                invocation
                    .event
                    .as_ref()
                    .map(|e| e.name.as_str())
                    .unwrap_or_default(),
                event_name
            );
            assert_eq!(
                invocation.response_status as i64,
                extension["response"]["status"].as_i64().unwrap()
            );
        }
    }
}

#[test]
fn known_transactions_are_where_the_readme_says() {
    let Some(dir) = fixtures() else { return };
    let all = blocks(&dir);
    let block9 = decode_block(&all[9]).unwrap();
    let tx = &block9.transactions[0];
    assert_eq!(
        tx.tx_id,
        "2526998c9ced9f4641755c9c81ff01c7f333ef48a2f47217c9640ddf59266508"
    );
    assert!(
        tx.creator_subject
            .as_deref()
            .unwrap_or_default()
            .contains("clubadmin-alpha")
    );
    let invocation = tx.chaincode.as_ref().unwrap();
    assert_eq!(
        invocation.function.as_ref().unwrap().to_string(),
        "\"CreateAsset\""
    );
    let block11 = decode_block(&all[11]).unwrap();
    let writes = &block11.transactions[0]
        .chaincode
        .as_ref()
        .unwrap()
        .namespaces[1]
        .writes;
    assert!(
        writes
            .iter()
            .any(|write| write.key == "asset2" && write.is_delete)
    );
    let block12 = decode_block(&all[12]).unwrap();
    assert_eq!(block12.transactions.len(), 2);
    let block0 = decode_block(&all[0]).unwrap();
    let config = block0.transactions[0].config.as_ref().unwrap();
    let msps: Vec<&str> = config
        .organizations
        .iter()
        .map(|org| org.msp_id.as_str())
        .collect();
    assert_eq!(msps, ["Org1MSP", "Org2MSP", "OrdererMSP"]);
    assert_eq!(config.capabilities["Channel"], ["V3_0"]);
}

#[test]
fn chain_verifies_to_the_tip_the_peer_reported() {
    let Some(dir) = fixtures() else { return };
    let report = verify_chain(&blocks(&dir)).unwrap();
    assert_eq!((report.first, report.tip, report.blocks), (0, 13, 14));
    assert_eq!(
        hex::encode(report.tip_hash),
        "db7b5175e3bfb0cede12cea1f136f7b6694688a748550a1e3bd59a95ec2172db"
    );
    let block13 = decode_block(&blocks(&dir)[13]).unwrap();
    assert_eq!(
        block13.previous_hash,
        "78c96fa49da10cae9fe4163ca87b914679df4556a555c7c78dd46dd69c7dd0a7"
    );
}

#[test]
fn tampering_breaks_the_chain_at_the_tampered_block() {
    let Some(dir) = fixtures() else { return };
    let mut tampered = blocks(&dir);
    tampered[7].data.as_mut().unwrap().data[0][100] ^= 0x01;
    let error = verify_chain(&tampered).unwrap_err();
    assert!(
        matches!(error, ChainError::DataHash { block: 7, .. }),
        "{error}"
    );

    let mut relinked = blocks(&dir);
    relinked[5].header.as_mut().unwrap().previous_hash[0] ^= 0x80;
    assert!(matches!(
        verify_chain(&relinked).unwrap_err(),
        ChainError::PreviousHash {
            block: 5,
            previous: 4,
            ..
        }
    ));

    let mut gapped = blocks(&dir);
    gapped.remove(3);
    assert!(matches!(
        verify_chain(&gapped).unwrap_err(),
        ChainError::Gap {
            block: 4,
            previous: 2
        }
    ));
    assert_eq!(verify_chain(&[]), Err(ChainError::Empty));
}

#[test]
fn orderer_signatures_verify_against_the_channel_configuration() {
    let Some(dir) = fixtures() else { return };
    let all = blocks(&dir);
    let config = decode_block(&all[0]).unwrap().transactions[0]
        .config
        .clone()
        .unwrap();
    let orderer = config
        .organizations
        .iter()
        .find(|org| org.group == "Orderer")
        .unwrap();
    for block in &all[1..] {
        assert_eq!(
            verify_orderer_signatures(block, &orderer.root_certs).unwrap(),
            1
        );
    }
    // Org1's CA did not issue the orderer's certificate.
    let org1 = config
        .organizations
        .iter()
        .find(|org| org.msp_id == "Org1MSP")
        .unwrap();
    assert!(verify_orderer_signatures(&all[4], &org1.root_certs).is_err());
    // A changed header invalidates the signature.
    let mut changed = all[4].clone();
    changed.header.as_mut().unwrap().number = 99;
    assert!(verify_orderer_signatures(&changed, &orderer.root_certs).is_err());
}

#[test]
fn garbage_and_truncated_blocks_are_errors_not_panics() {
    let Some(dir) = fixtures() else { return };
    let bytes = std::fs::read(dir.join("blocks/9.block")).unwrap();
    for cut in 0..bytes.len() {
        if let Ok(block) = Block::decode(&bytes[..cut]) {
            let _ = decode_block(&block);
        }
    }
    let mut state = 0x2545_f491_u32;
    for _ in 0..2000 {
        let garbage: Vec<u8> = (0..64)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        if let Ok(block) = Block::decode(garbage.as_slice()) {
            let _ = decode_block(&block);
        }
    }
    let temp = std::env::temp_dir().join(format!("garbage-{}.block", std::process::id()));
    std::fs::write(&temp, b"\xff\xff\xff garbage").unwrap();
    let error = read_block_file(&temp).unwrap_err().to_string();
    assert!(error.contains("not a Fabric block"), "{error}");
    let _ = std::fs::remove_file(temp);
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
