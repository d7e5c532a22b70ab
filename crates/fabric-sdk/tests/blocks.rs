//! Block decoding, hashing and verification against the blocks of a real Fabric 3.1 channel
//! (`shared/fixtures/fabric/blocks`), with `configtxlator`'s decoding of the same blocks
//! (`decoded/N.json`) as the oracle; plus tampered, truncated and random inputs, and ledger block files.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use fabric_protos::common::{Block, BlockData, Envelope, Metadata, Payload};
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::protos::{ChaincodeActionPayload, Transaction};
use fabric_sdk::block::{
    Arg, BlockError, ChainError, DecodedBlock, RecordProblem, SignatureError, block_header_hash,
    decode_block, decode_config_block, encode_ledger_block, read_block_file, read_blocks,
    validation_code_name, verify_chain, verify_orderer_signatures,
};
use prost::Message;
use serde_json::Value;

const TIP_HASH: &str = "db7b5175e3bfb0cede12cea1f136f7b6694688a748550a1e3bd59a95ec2172db";
const BLOCK_12_HASH: &str = "78c96fa49da10cae9fe4163ca87b914679df4556a555c7c78dd46dd69c7dd0a7";

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

fn block_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("blocks/{n}.block"))
}

fn chain(dir: &Path) -> Vec<Block> {
    (0..=13)
        .map(|n| read_block_file(&block_path(dir, n)).unwrap())
        .collect()
}

fn oracle(dir: &Path, n: u64) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(format!("decoded/{n}.json"))).unwrap()).unwrap()
}

fn b64(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap_or_default())
        .unwrap()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// configtxlator writes 64-bit integers as strings and leaves out zero values.
fn number(value: &Value) -> u64 {
    match value {
        Value::String(text) => text.parse().unwrap(),
        Value::Number(n) => n.as_u64().unwrap(),
        _ => 0,
    }
}

fn arg_bytes(arg: &Arg) -> Vec<u8> {
    match arg {
        Arg::Text(text) => text.as_bytes().to_vec(),
        Arg::Binary { hex } => hex::decode(hex).unwrap(),
    }
}

/// A fresh directory under the system temp dir, removed by the caller.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fabric-sdk-blocks-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn compare_transactions(decoded: &DecodedBlock, expected: &Value) {
    let n = decoded.number;
    let envelopes = expected["data"]["data"].as_array().unwrap();
    assert_eq!(decoded.transactions.len(), envelopes.len(), "block {n}");
    for (tx, envelope) in decoded.transactions.iter().zip(envelopes) {
        let at = format!("block {n} tx {}", tx.index);
        let header = &envelope["payload"]["header"];
        let channel_header = &header["channel_header"];
        assert_eq!(tx.tx_id, text(&channel_header["tx_id"]), "{at}");
        assert_eq!(tx.channel_id, text(&channel_header["channel_id"]), "{at}");
        assert_eq!(
            tx.timestamp.as_deref(),
            channel_header["timestamp"].as_str()
        );
        let header_type = match tx.header_type.as_str() {
            "CONFIG" => 1,
            "ENDORSER_TRANSACTION" => 3,
            other => panic!("{at}: unexpected header type {other}"),
        };
        assert_eq!(number(&channel_header["type"]), header_type, "{at}");
        assert_eq!(
            tx.creator_msp_id,
            text(&header["signature_header"]["creator"]["mspid"]),
            "{at}"
        );
        // Fetched from the orderer: no peer has validated these blocks yet.
        assert_eq!(tx.validation_code, None, "{at}");
        assert_eq!(tx.validation, "NOT_VALIDATED", "{at}");
        if header_type == 1 {
            assert!(tx.chaincode.is_none() && tx.config.is_some(), "{at}");
            continue;
        }
        assert!(tx.config.is_none() && tx.extra_actions.is_empty(), "{at}");
        let call = tx.chaincode.as_ref().unwrap();
        let action = &envelope["payload"]["data"]["actions"][0]["payload"];
        let spec = &action["chaincode_proposal_payload"]["input"]["chaincode_spec"];
        assert_eq!(call.name, text(&spec["chaincode_id"]["name"]), "{at}");
        let expected_args: Vec<Vec<u8>> = spec["input"]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(b64)
            .collect();
        let mut args = vec![arg_bytes(call.function.as_ref().unwrap())];
        args.extend(call.args.iter().map(arg_bytes));
        assert_eq!(args, expected_args, "{at}");

        let endorsed = &action["action"];
        let extension = &endorsed["proposal_response_payload"]["extension"];
        assert_eq!(
            call.version,
            text(&extension["chaincode_id"]["version"]),
            "{at}"
        );
        assert_eq!(
            i64::from(call.response_status),
            extension["response"]["status"].as_i64().unwrap(),
            "{at}"
        );
        assert_eq!(
            call.response_message,
            text(&extension["response"]["message"]),
            "{at}"
        );
        assert_eq!(
            call.response_payload_size,
            b64(&extension["response"]["payload"]).len(),
            "{at}"
        );
        let events = &extension["events"];
        match &call.event {
            Some(event) => {
                assert_eq!(event.name, text(&events["event_name"]), "{at}");
                assert_eq!(event.chaincode_id, text(&events["chaincode_id"]), "{at}");
                assert_eq!(event.payload_size, b64(&events["payload"]).len(), "{at}");
            }
            None => assert_eq!(text(&events["event_name"]), "", "{at}"),
        }

        let expected_ns = extension["results"]["ns_rwset"].as_array().unwrap();
        assert_eq!(call.namespaces.len(), expected_ns.len(), "{at}");
        for (ns, expected) in call.namespaces.iter().zip(expected_ns) {
            let at = format!("{at} namespace {}", ns.namespace);
            assert_eq!(ns.namespace, text(&expected["namespace"]), "{at}");
            let rwset = &expected["rwset"];
            let reads: Vec<(String, Option<(u64, u64)>)> = rwset["reads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|read| {
                    let version = &read["version"];
                    (
                        text(&read["key"]).to_owned(),
                        (!version.is_null())
                            .then(|| (number(&version["block_num"]), number(&version["tx_num"]))),
                    )
                })
                .collect();
            let ours: Vec<(String, Option<(u64, u64)>)> = ns
                .reads
                .iter()
                .map(|read| (read.key.clone(), read.version.map(|v| (v.block, v.tx))))
                .collect();
            assert_eq!(ours, reads, "{at}");
            let writes: Vec<(String, bool, Vec<u8>)> = rwset["writes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|write| {
                    (
                        text(&write["key"]).to_owned(),
                        write["is_delete"].as_bool().unwrap_or(false),
                        b64(&write["value"]),
                    )
                })
                .collect();
            let ours: Vec<(String, bool, Vec<u8>)> = ns
                .writes
                .iter()
                .map(|write| {
                    assert_eq!(
                        write.value_size,
                        write.value.as_ref().map_or(0, |v| arg_bytes(v).len())
                    );
                    (
                        write.key.clone(),
                        write.is_delete,
                        write.value.as_ref().map(arg_bytes).unwrap_or_default(),
                    )
                })
                .collect();
            assert_eq!(ours, writes, "{at}");
            assert_eq!(
                ns.range_queries.len(),
                rwset["range_queries_info"].as_array().unwrap().len(),
                "{at}"
            );
            assert_eq!(
                ns.metadata_writes.len(),
                rwset["metadata_writes"].as_array().unwrap().len(),
                "{at}"
            );
            let collections: Vec<&str> = expected["collection_hashed_rwset"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| text(&c["collection_name"]))
                .collect();
            assert_eq!(ns.collections, collections, "{at}");
        }

        let endorsements = endorsed["endorsements"].as_array().unwrap();
        assert_eq!(call.endorsements.len(), endorsements.len(), "{at}");
        for (ours, expected) in call.endorsements.iter().zip(endorsements) {
            let endorser =
                SerializedIdentity::decode(b64(&expected["endorser"]).as_slice()).unwrap();
            assert_eq!(ours.msp_id, endorser.mspid, "{at}");
            assert_eq!(
                ours.signature,
                hex::encode(b64(&expected["signature"])),
                "{at}"
            );
            assert!(
                ours.subject
                    .as_deref()
                    .unwrap_or_default()
                    .contains("CN=peer0"),
                "{at}"
            );
        }
        assert_eq!(
            call.endorsers,
            call.endorsements
                .iter()
                .map(|e| e.msp_id.clone())
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn every_transaction_decodes_as_configtxlator_decodes_it() {
    let Some(dir) = fixtures() else { return };
    for (n, block) in chain(&dir).iter().enumerate() {
        let decoded = decode_block(block).unwrap();
        let expected = oracle(&dir, n as u64);
        assert_eq!(decoded.number, number(&expected["header"]["number"]));
        assert_eq!(
            decoded.previous_hash,
            hex::encode(b64(&expected["header"]["previous_hash"]))
        );
        assert_eq!(
            decoded.data_hash,
            hex::encode(b64(&expected["header"]["data_hash"]))
        );
        assert!(decoded.data_hash_valid, "block {n}");
        assert_eq!(decoded.last_config, Some(0), "block {n}");
        assert_eq!(decoded.commit_hash, None, "block {n}");
        compare_transactions(&decoded, &expected);
    }
}

#[test]
fn the_readme_transactions_are_where_it_says() {
    let Some(dir) = fixtures() else { return };
    let blocks = chain(&dir);
    let calls: Vec<(u64, usize, String, String, Vec<String>)> = blocks
        .iter()
        .map(|block| decode_block(block).unwrap())
        .flat_map(|block| {
            let number = block.number;
            block.transactions.into_iter().filter_map(move |tx| {
                let call = tx.chaincode?;
                Some((
                    number,
                    tx.index,
                    call.name,
                    call.function.map(|f| f.to_string()).unwrap_or_default(),
                    call.args.iter().map(ToString::to_string).collect(),
                ))
            })
        })
        .collect();
    let find = |number: u64, index: usize| {
        calls
            .iter()
            .find(|call| call.0 == number && call.1 == index)
            .unwrap()
    };
    assert_eq!(find(4, 0).2, "basic");
    assert_eq!(find(4, 0).3, "\"InitLedger\"");
    assert_eq!(find(9, 0).3, "\"CreateAsset\"");
    assert_eq!(
        find(9, 0).4,
        [
            "\"asset100\"",
            "\"purple\"",
            "\"7\"",
            "\"club-alpha\"",
            "\"900\""
        ]
    );
    assert_eq!(find(12, 1).4, ["\"asset3\"", "\"Bob\""]);
    assert_eq!(find(13, 0).2, "basicnode");
    // Lifecycle arguments are protobuf, not text.
    assert!(find(1, 0).4[0].starts_with("0x"));

    let block9 = decode_block(&blocks[9]).unwrap();
    let tx = &block9.transactions[0];
    assert_eq!(
        tx.tx_id,
        "2526998c9ced9f4641755c9c81ff01c7f333ef48a2f47217c9640ddf59266508"
    );
    assert!(
        tx.creator_subject
            .as_deref()
            .unwrap_or_default()
            .contains("CN=clubadmin-alpha")
    );
    let block11 = decode_block(&blocks[11]).unwrap();
    let write = &block11.transactions[0]
        .chaincode
        .as_ref()
        .unwrap()
        .namespaces[1]
        .writes[0];
    assert_eq!(
        (write.key.as_str(), write.is_delete, write.value_size),
        ("asset2", true, 0)
    );
    let block12 = decode_block(&blocks[12]).unwrap();
    let events: Vec<&str> = block12
        .transactions
        .iter()
        .map(|tx| {
            tx.chaincode
                .as_ref()
                .unwrap()
                .event
                .as_ref()
                .unwrap()
                .name
                .as_str()
        })
        .collect();
    assert_eq!(events, ["AssetTransferred", "AssetTransferred"]);
    for block in &blocks[1..] {
        let decoded = decode_block(block).unwrap();
        let signers: Vec<&str> = decoded.signers.iter().map(|s| s.msp_id.as_str()).collect();
        assert_eq!(signers, ["OrdererMSP"], "block {}", decoded.number);
        assert!(
            decoded.signers[0]
                .subject
                .as_deref()
                .unwrap_or_default()
                .contains("CN=orderer.example.com")
        );
    }
    assert!(decode_block(&blocks[0]).unwrap().signers.is_empty());
}

#[test]
fn the_genesis_configuration_matches_configtxlator() {
    let Some(dir) = fixtures() else { return };
    let decoded = decode_block(&read_block_file(&block_path(&dir, 0)).unwrap()).unwrap();
    let tx = &decoded.transactions[0];
    assert_eq!(tx.header_type, "CONFIG");
    assert_eq!(tx.creator_msp_id, "");
    let config = tx.config.as_ref().unwrap();
    let expected = &oracle(&dir, 0)["data"]["data"][0]["payload"]["data"]["config"];
    assert_eq!(config.sequence, number(&expected["sequence"]));
    let channel = &expected["channel_group"];
    let mut expected_orgs = Vec::new();
    for group in ["Application", "Orderer"] {
        let orgs = channel["groups"][group]["groups"].as_object().unwrap();
        let mut names: Vec<&String> = orgs.keys().collect();
        names.sort();
        for name in names {
            let org = &orgs[name.as_str()];
            let msp = &org["values"]["MSP"]["value"]["config"];
            let certs = |field: &str| -> Vec<Vec<u8>> {
                msp[field]
                    .as_array()
                    .map(|certs| certs.iter().map(b64).collect())
                    .unwrap_or_default()
            };
            let addresses: Vec<String> = match group {
                "Orderer" => org["values"]["Endpoints"]["value"]["addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| text(a).to_owned())
                    .collect(),
                _ => org["values"]["AnchorPeers"]["value"]["anchor_peers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| format!("{}:{}", text(&p["host"]), number(&p["port"])))
                    .collect(),
            };
            expected_orgs.push((
                group.to_owned(),
                name.clone(),
                text(&msp["name"]).to_owned(),
                certs("root_certs"),
                certs("tls_root_certs"),
                addresses,
            ));
        }
    }
    let ours: Vec<_> = config
        .organizations
        .iter()
        .map(|org| {
            (
                org.group.clone(),
                org.name.clone(),
                org.msp_id.clone(),
                org.root_certs.clone(),
                org.tls_root_certs.clone(),
                if org.group == "Orderer" {
                    org.endpoints.clone()
                } else {
                    org.anchor_peers.clone()
                },
            )
        })
        .collect();
    assert_eq!(ours, expected_orgs);
    let msp_ids: Vec<&str> = config
        .organizations
        .iter()
        .map(|o| o.msp_id.as_str())
        .collect();
    assert_eq!(msp_ids, ["Org1MSP", "Org2MSP", "OrdererMSP"]);

    let capability_names = |group: &Value| -> Vec<String> {
        let mut names: Vec<String> = group["values"]["Capabilities"]["value"]["capabilities"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    };
    assert_eq!(config.capabilities["Channel"], capability_names(channel));
    for group in ["Application", "Orderer"] {
        assert_eq!(
            config.capabilities[group],
            capability_names(&channel["groups"][group])
        );
    }
    assert_eq!(config.capabilities["Channel"], ["V3_0"]);

    let consensus = &channel["groups"]["Orderer"]["values"]["ConsensusType"]["value"];
    assert_eq!(config.consensus_type.as_deref(), consensus["type"].as_str());
    let consenters: Vec<(String, u64)> = consensus["metadata"]["consenters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (text(&c["host"]).to_owned(), number(&c["port"])))
        .collect();
    let ours: Vec<(String, u64)> = config
        .consenters
        .iter()
        .map(|c| (c.host.clone(), u64::from(c.port)))
        .collect();
    assert_eq!(ours, consenters);
    assert!(!consenters.is_empty());

    // Tracking the configuration alone decodes only config blocks.
    let blocks = chain(&dir);
    assert_eq!(
        decode_config_block(&blocks[0]).unwrap().as_ref(),
        Some(config)
    );
    assert_eq!(decode_config_block(&blocks[9]).unwrap(), None);
}

#[test]
fn validation_codes_come_from_the_transactions_filter() {
    let Some(dir) = fixtures() else { return };
    let mut block = read_block_file(&block_path(&dir, 12)).unwrap();
    let codes = |block: &Block| -> Vec<(Option<u8>, String)> {
        decode_block(block)
            .unwrap()
            .transactions
            .into_iter()
            .map(|tx| (tx.validation_code, tx.validation))
            .collect()
    };
    // What a peer writes once it has validated the block.
    block.metadata.as_mut().unwrap().metadata[2] = vec![0, 11];
    assert_eq!(
        codes(&block),
        [
            (Some(0), "VALID".to_owned()),
            (Some(11), "MVCC_READ_CONFLICT".to_owned())
        ]
    );
    // A filter shorter than the data leaves the rest unvalidated.
    block.metadata.as_mut().unwrap().metadata[2] = vec![10];
    assert_eq!(
        codes(&block),
        [
            (Some(10), "ENDORSEMENT_POLICY_FAILURE".to_owned()),
            (None, "NOT_VALIDATED".to_owned())
        ]
    );
    block.metadata.as_mut().unwrap().metadata.truncate(1);
    assert_eq!(codes(&block)[0].1, "NOT_VALIDATED");
    block.metadata = None;
    assert_eq!(codes(&block)[1].1, "NOT_VALIDATED");
}

#[test]
fn every_validation_code_has_its_fabric_name() {
    let names = [
        (0, "VALID"),
        (1, "NIL_ENVELOPE"),
        (2, "BAD_PAYLOAD"),
        (3, "BAD_COMMON_HEADER"),
        (4, "BAD_CREATOR_SIGNATURE"),
        (5, "INVALID_ENDORSER_TRANSACTION"),
        (6, "INVALID_CONFIG_TRANSACTION"),
        (7, "UNSUPPORTED_TX_PAYLOAD"),
        (8, "BAD_PROPOSAL_TXID"),
        (9, "DUPLICATE_TXID"),
        (10, "ENDORSEMENT_POLICY_FAILURE"),
        (11, "MVCC_READ_CONFLICT"),
        (12, "PHANTOM_READ_CONFLICT"),
        (13, "UNKNOWN_TX_TYPE"),
        (14, "TARGET_CHAIN_NOT_FOUND"),
        (15, "MARSHAL_TX_ERROR"),
        (16, "NIL_TXACTION"),
        (17, "EXPIRED_CHAINCODE"),
        (18, "CHAINCODE_VERSION_CONFLICT"),
        (19, "BAD_HEADER_EXTENSION"),
        (20, "BAD_CHANNEL_HEADER"),
        (21, "BAD_RESPONSE_PAYLOAD"),
        (22, "BAD_RWSET"),
        (23, "ILLEGAL_WRITESET"),
        (24, "INVALID_WRITESET"),
        (25, "INVALID_CHAINCODE"),
        (254, "NOT_VALIDATED"),
        (255, "INVALID_OTHER_REASON"),
    ];
    for (code, name) in names {
        assert_eq!(validation_code_name(code), name);
    }
    assert_eq!(validation_code_name(26), "UNKNOWN(26)");
    assert_eq!(validation_code_name(253), "UNKNOWN(253)");
}

#[test]
fn the_chain_verifies_to_the_tip_the_peer_reported() {
    let Some(dir) = fixtures() else { return };
    let blocks = chain(&dir);
    let report = verify_chain(&blocks).unwrap();
    assert_eq!((report.blocks, report.first, report.tip), (14, 0, 13));
    assert_eq!(hex::encode(report.tip_hash), TIP_HASH);
    assert_eq!(
        hex::encode(block_header_hash(blocks[12].header.as_ref().unwrap())),
        BLOCK_12_HASH
    );
    // A sub-range verifies on its own: its first previous hash is taken on trust.
    let report = verify_chain(&blocks[5..9]).unwrap();
    assert_eq!((report.first, report.tip), (5, 8));
    let decoded: Vec<DecodedBlock> = blocks.iter().map(|b| decode_block(b).unwrap()).collect();
    for pair in decoded.windows(2) {
        assert_eq!(pair[1].previous_hash, pair[0].header_hash);
    }
    assert_eq!(decoded[13].header_hash, TIP_HASH);
}

#[test]
fn tampering_with_any_block_breaks_the_chain_at_that_block() {
    let Some(dir) = fixtures() else { return };
    let blocks = chain(&dir);
    for n in 0..blocks.len() {
        let number = n as u64;
        let mut flipped = blocks.clone();
        let envelope = &mut flipped[n].data.as_mut().unwrap().data[0];
        let middle = envelope.len() / 2;
        envelope[middle] ^= 0x01;
        let error = verify_chain(&flipped).unwrap_err();
        assert!(
            matches!(error, ChainError::DataHash { block, .. } if block == number),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("block {n}: data hash"))
        );
        // The flip may also break decoding; if it does not, the decoded block says its hash is off.
        assert!(decode_block(&flipped[n]).map_or(true, |block| !block.data_hash_valid));

        if n == 0 {
            continue;
        }
        let mut relinked = blocks.clone();
        relinked[n].header.as_mut().unwrap().previous_hash[31] ^= 0x80;
        let error = verify_chain(&relinked).unwrap_err();
        assert!(
            matches!(error, ChainError::PreviousHash { block, previous, .. }
                if block == number && previous == number - 1),
            "{error}"
        );
        assert_eq!(error.block(), Some(number));
    }

    // Forged data with a data hash to match changes the header hash, which breaks the next link.
    let mut rewritten = blocks.clone();
    let forged = BlockData {
        data: vec![b"forged".to_vec()],
    };
    rewritten[6].header.as_mut().unwrap().data_hash =
        fabric_sdk::block::block_data_hash(&forged).to_vec();
    rewritten[6].data = Some(forged);
    assert!(matches!(
        verify_chain(&rewritten).unwrap_err(),
        ChainError::PreviousHash {
            block: 7,
            previous: 6,
            ..
        }
    ));

    let mut gapped = blocks.clone();
    gapped.remove(3);
    assert_eq!(
        verify_chain(&gapped).unwrap_err(),
        ChainError::Gap {
            block: 4,
            previous: 2
        }
    );
    let mut reordered = blocks.clone();
    reordered.swap(4, 5);
    assert!(matches!(
        verify_chain(&reordered).unwrap_err(),
        ChainError::Gap {
            block: 5,
            previous: 3
        }
    ));
    let mut headless = blocks;
    headless[2].header = None;
    assert_eq!(
        verify_chain(&headless).unwrap_err(),
        ChainError::MissingHeader { position: 2 }
    );
    assert_eq!(verify_chain(&[]).unwrap_err(), ChainError::Empty);
}

/// The P-256 group order, for building the high-S twin of a signature.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn der_integer(value: &[u8; 32]) -> Vec<u8> {
    let start = value.iter().position(|b| *b != 0).unwrap_or(31);
    let mut digits = value[start..].to_vec();
    if digits[0] & 0x80 != 0 {
        digits.insert(0, 0);
    }
    let mut out = vec![0x02, digits.len() as u8];
    out.extend(digits);
    out
}

/// (r, n − s): mathematically valid, but Fabric refuses it.
fn high_s_twin(der: &[u8]) -> Vec<u8> {
    let (r, s) = fabric_sdk::signer::parse_der_signature(der).unwrap();
    let mut twin = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = i16::from(P256_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        twin[i] = digit as u8;
    }
    let mut body = der_integer(&r);
    body.extend(der_integer(&twin));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn with_signatures(block: &Block, edit: impl FnOnce(&mut Metadata)) -> Block {
    let mut block = block.clone();
    let slot = &mut block.metadata.as_mut().unwrap().metadata[0];
    let mut metadata = Metadata::decode(slot.as_slice()).unwrap();
    edit(&mut metadata);
    *slot = metadata.encode_to_vec();
    block
}

#[test]
fn orderer_signatures_verify_against_the_orderer_ca_and_nothing_else() {
    let Some(dir) = fixtures() else { return };
    let blocks = chain(&dir);
    let config = decode_block(&blocks[0]).unwrap().transactions[0]
        .config
        .clone()
        .unwrap();
    let org = |msp: &str| {
        config
            .organizations
            .iter()
            .find(|org| org.msp_id == msp)
            .unwrap()
            .clone()
    };
    let orderer = org("OrdererMSP");
    for block in &blocks[1..] {
        assert_eq!(verify_orderer_signatures(block, &orderer.root_certs), Ok(1));
    }
    assert_eq!(
        verify_orderer_signatures(&blocks[0], &orderer.root_certs),
        Err(SignatureError::Unsigned(0))
    );

    let block = &blocks[4];
    // Another organisation's CA, or the orderer's TLS CA, did not issue the signer.
    for roots in [org("Org1MSP").root_certs, orderer.tls_root_certs.clone()] {
        assert!(matches!(
            verify_orderer_signatures(block, &roots),
            Err(SignatureError::UntrustedSigner { block: 4, ref msp_id, .. }) if msp_id == "OrdererMSP"
        ));
    }
    // Several roots: any one that issued the signer will do.
    let mut both = org("Org2MSP").root_certs;
    both.extend(orderer.root_certs.clone());
    assert_eq!(verify_orderer_signatures(block, &both), Ok(1));

    // The signature covers the header, the metadata value and the signature header.
    let mut renumbered = block.clone();
    renumbered.header.as_mut().unwrap().number = 5;
    let mut rehashed = block.clone();
    rehashed.header.as_mut().unwrap().previous_hash[0] ^= 1;
    let revalued = with_signatures(block, |m| m.value.push(0));
    let resigned = with_signatures(block, |m| {
        m.signatures[0].signature =
            Metadata::decode(blocks[5].metadata.as_ref().unwrap().metadata[0].as_slice())
                .unwrap()
                .signatures[0]
                .signature
                .clone();
    });
    let high_s = with_signatures(block, |m| {
        m.signatures[0].signature = high_s_twin(&m.signatures[0].signature);
    });
    for (what, tampered) in [
        ("number", renumbered),
        ("previous hash", rehashed),
        ("metadata value", revalued),
        ("signature of another block", resigned),
        ("high-S twin", high_s),
    ] {
        let error = verify_orderer_signatures(&tampered, &orderer.root_certs).unwrap_err();
        assert!(
            matches!(error, SignatureError::BadSignature { .. }),
            "{what}: {error}"
        );
        assert!(
            error.to_string().contains("CN=orderer.example.com"),
            "{error}"
        );
    }

    let unsigned = with_signatures(block, |m| m.signatures.clear());
    assert_eq!(
        verify_orderer_signatures(&unsigned, &orderer.root_certs),
        Err(SignatureError::Unsigned(4))
    );
    let garbled = with_signatures(block, |m| m.signatures[0].signature_header = vec![0xff]);
    assert!(matches!(
        verify_orderer_signatures(&garbled, &orderer.root_certs),
        Err(SignatureError::Malformed { block: 4, .. })
    ));
    assert_eq!(
        verify_orderer_signatures(block, &[]),
        Err(SignatureError::NoRoots)
    );
    assert!(matches!(
        verify_orderer_signatures(block, &[b"not a certificate".to_vec()]),
        Err(SignatureError::RootCertificate { index: 0, .. })
    ));
}

/// Rebuilds block `block`'s first envelope after `edit` changed its transaction.
fn with_transaction(block: &Block, edit: impl FnOnce(&mut Transaction)) -> Block {
    let mut block = block.clone();
    let data = &mut block.data.as_mut().unwrap().data[0];
    let mut envelope = Envelope::decode(data.as_slice()).unwrap();
    let mut payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let mut transaction = Transaction::decode(payload.data.as_slice()).unwrap();
    edit(&mut transaction);
    payload.data = transaction.encode_to_vec();
    envelope.payload = payload.encode_to_vec();
    *data = envelope.encode_to_vec();
    block
}

#[test]
fn decode_errors_name_the_block_the_transaction_and_the_message() {
    let Some(dir) = fixtures() else { return };
    let block = read_block_file(&block_path(&dir, 4)).unwrap();
    let broken = with_transaction(&block, |tx| tx.actions[0].payload = vec![0xff, 0xff]);
    let error = decode_block(&broken).unwrap_err();
    assert!(
        matches!(&error, BlockError::Decode { block: 4, tx: Some(0), message, .. } if message == "ChaincodeActionPayload"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("block 4 tx 0: ChaincodeActionPayload: "),
        "{error}"
    );

    let no_actions = with_transaction(&block, |tx| tx.actions.clear());
    assert!(matches!(
        decode_block(&no_actions).unwrap_err(),
        BlockError::Missing {
            block: 4,
            tx: Some(0),
            missing: "Transaction has no actions"
        }
    ));

    // Deep inside: the read-write set of namespace `basic`.
    let bad_rwset = with_transaction(&block, |tx| {
        let mut payload = ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).unwrap();
        let mut endorsed = payload.action.take().unwrap();
        let mut response = fabric_protos::protos::ProposalResponsePayload::decode(
            endorsed.proposal_response_payload.as_slice(),
        )
        .unwrap();
        let mut action =
            fabric_protos::protos::ChaincodeAction::decode(response.extension.as_slice()).unwrap();
        let mut rwset =
            fabric_protos::rwset::TxReadWriteSet::decode(action.results.as_slice()).unwrap();
        let basic = rwset
            .ns_rwset
            .iter_mut()
            .find(|ns| ns.namespace == "basic")
            .unwrap();
        basic.rwset = vec![0x1a, 0x05, 0x0a];
        action.results = rwset.encode_to_vec();
        response.extension = action.encode_to_vec();
        endorsed.proposal_response_payload = response.encode_to_vec();
        payload.action = Some(endorsed);
        tx.actions[0].payload = payload.encode_to_vec();
    });
    let error = decode_block(&bad_rwset).unwrap_err().to_string();
    assert!(
        error.starts_with("block 4 tx 0: KVRWSet of namespace basic: "),
        "{error}"
    );

    // More than one action: Fabric would invalidate it, the decoder shows all of them.
    let doubled = with_transaction(&block, |tx| tx.actions.push(tx.actions[0].clone()));
    let decoded = decode_block(&doubled).unwrap();
    assert_eq!(decoded.transactions[0].extra_actions.len(), 1);
    assert!(!decoded.data_hash_valid);
}

#[test]
fn every_truncation_and_random_bytes_give_errors_not_panics() {
    let Some(dir) = fixtures() else { return };
    for n in [0, 9, 12] {
        let bytes = std::fs::read(block_path(&dir, n)).unwrap();
        let mut errors = 0;
        for cut in 0..bytes.len() {
            match Block::decode(&bytes[..cut]) {
                Ok(block) => {
                    let _ = decode_block(&block);
                }
                Err(_) => errors += 1,
            }
        }
        assert!(errors > bytes.len() / 2, "block {n}: most cuts must fail");

        // Truncate each envelope inside an otherwise intact block: every failure names the block and tx.
        let block = read_block_file(&block_path(&dir, n)).unwrap();
        let envelope = block.data.as_ref().unwrap().data[0].clone();
        for cut in 0..envelope.len() {
            let mut truncated = block.clone();
            truncated.data.as_mut().unwrap().data[0] = envelope[..cut].to_vec();
            if let Err(error) = decode_block(&truncated) {
                assert!(
                    error.to_string().starts_with(&format!("block {n} tx 0: ")),
                    "{error}"
                );
            }
        }
    }

    let mut state = 0x9e37_79b9_u32;
    let mut random = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect()
    };
    let orderer_roots: Vec<Vec<u8>> = decode_block(&read_block_file(&block_path(&dir, 0)).unwrap())
        .unwrap()
        .transactions[0]
        .config
        .as_ref()
        .unwrap()
        .organizations
        .iter()
        .filter(|org| org.group == "Orderer")
        .flat_map(|org| org.root_certs.clone())
        .collect();
    for round in 0..3000 {
        let bytes = random(1 + round % 200);
        if let Ok(block) = Block::decode(bytes.as_slice()) {
            let _ = decode_block(&block);
            let _ = verify_chain(std::slice::from_ref(&block));
        }
        // Random envelopes inside a well-formed block.
        let block = Block {
            header: Some(Default::default()),
            data: Some(BlockData {
                data: vec![bytes.clone()],
            }),
            metadata: Some(fabric_protos::common::BlockMetadata {
                metadata: vec![
                    bytes.clone(),
                    bytes.clone(),
                    bytes.clone(),
                    bytes.clone(),
                    bytes,
                ],
            }),
        };
        let _ = decode_block(&block);
        let _ = verify_orderer_signatures(&block, &orderer_roots);
    }
}

#[test]
fn block_files_that_are_not_blocks_are_named_in_the_error() {
    let Some(dir) = fixtures() else { return };
    let temp = temp_dir("not-blocks");
    let missing = temp.join("missing.block");
    let error = read_block_file(&missing).unwrap_err();
    assert!(matches!(error, BlockError::Io { .. }));
    assert!(error.to_string().contains("missing.block"), "{error}");

    let empty = temp.join("empty.block");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        read_blocks(&empty).unwrap_err(),
        BlockError::Empty { .. }
    ));

    let garbage = temp.join("garbage.block");
    std::fs::write(&garbage, b"\xff\xff\xff garbage").unwrap();
    let error = read_blocks(&garbage).unwrap_err();
    assert!(matches!(error, BlockError::NotABlock { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("garbage.block") && message.contains("not a Fabric block"),
        "{message}"
    );

    // Valid protobuf, but not a block.
    let headless = temp.join("headless.block");
    std::fs::write(
        &headless,
        Block {
            header: None,
            data: Some(BlockData {
                data: vec![b"x".to_vec()],
            }),
            metadata: None,
        }
        .encode_to_vec(),
    )
    .unwrap();
    assert!(matches!(
        read_block_file(&headless).unwrap_err(),
        BlockError::NoHeader { .. }
    ));

    // A truncated fetched block.
    let bytes = std::fs::read(block_path(&dir, 9)).unwrap();
    let cut = temp.join("cut.block");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    assert!(read_blocks(&cut).is_err());
    let _ = std::fs::remove_dir_all(temp);
}

fn framed(records: &[Vec<u8>]) -> Vec<u8> {
    let mut file = Vec::new();
    for record in records {
        prost::encoding::encode_varint(record.len() as u64, &mut file);
        file.extend_from_slice(record);
    }
    file
}

#[test]
fn ledger_block_files_read_in_fabrics_layout_and_the_protobuf_one() {
    let Some(dir) = fixtures() else { return };
    let blocks = chain(&dir);
    let temp = temp_dir("ledger");

    let fabric_layout: Vec<Vec<u8>> = blocks.iter().map(encode_ledger_block).collect();
    let protobuf_layout: Vec<Vec<u8>> = blocks.iter().map(Message::encode_to_vec).collect();
    for (name, records) in [("fabric", &fabric_layout), ("protobuf", &protobuf_layout)] {
        let path = temp.join(name).join("blockfile_000000");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, framed(records)).unwrap();
        let read = read_blocks(&path).unwrap();
        assert_eq!(read, blocks, "{name}");
        assert_eq!(hex::encode(verify_chain(&read).unwrap().tip_hash), TIP_HASH);

        // A block file copied under another name still reads.
        let renamed = temp.join(format!("{name}.ledger"));
        std::fs::copy(&path, &renamed).unwrap();
        assert_eq!(read_blocks(&renamed).unwrap().len(), 14);
    }

    // A torn final write names the record's offset.
    let whole = framed(&fabric_layout);
    let last_offset = framed(&fabric_layout[..13]).len();
    let torn = temp.join("torn/blockfile_000001");
    std::fs::create_dir_all(torn.parent().unwrap()).unwrap();
    std::fs::write(&torn, &whole[..whole.len() - 10]).unwrap();
    let error = read_blocks(&torn).unwrap_err();
    assert!(
        matches!(&error, BlockError::Record { offset, problem: RecordProblem::Torn { .. }, .. } if *offset == last_offset),
        "{error}"
    );
    assert!(error.to_string().contains("blockfile_000001"), "{error}");

    // A damaged record in the middle.
    let mut damaged_records = fabric_layout.clone();
    damaged_records[3] = vec![0x07; 50];
    let damaged = temp.join("damaged/blockfile_000000");
    std::fs::create_dir_all(damaged.parent().unwrap()).unwrap();
    std::fs::write(&damaged, framed(&damaged_records)).unwrap();
    let error = read_blocks(&damaged).unwrap_err();
    assert!(
        matches!(&error, BlockError::Record { offset, problem: RecordProblem::Undecodable { .. }, .. }
            if *offset == framed(&fabric_layout[..3]).len()),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(temp);
}

#[test]
fn json_shows_bytes_as_hex_and_text_as_text() {
    let Some(dir) = fixtures() else { return };
    let block = decode_block(&read_block_file(&block_path(&dir, 9)).unwrap()).unwrap();
    let json = serde_json::to_value(&block).unwrap();
    let tx = &json["transactions"][0];
    assert_eq!(tx["chaincode"]["function"], "CreateAsset");
    assert_eq!(tx["chaincode"]["args"][3], "club-alpha");
    let write = &tx["chaincode"]["namespaces"][1]["writes"][0];
    assert_eq!(write["key"], "asset100");
    let value: Value = serde_json::from_str(write["value"].as_str().unwrap()).unwrap();
    assert_eq!(value["ID"], "asset100");
    assert_eq!(
        tx["chaincode"]["namespaces"][0]["reads"][0]["version"],
        serde_json::json!({"block": 3, "tx": 0})
    );
    let signature = tx["chaincode"]["endorsements"][0]["signature"]
        .as_str()
        .unwrap();
    assert!(hex::decode(signature).is_ok() && signature.starts_with("30"));
    assert_eq!(json["header_hash"].as_str().unwrap().len(), 64);

    let lifecycle = decode_block(&read_block_file(&block_path(&dir, 1)).unwrap()).unwrap();
    let json = serde_json::to_value(&lifecycle).unwrap();
    let arg = &json["transactions"][0]["chaincode"]["args"][0];
    assert!(
        arg["hex"].as_str().unwrap().starts_with("0801120562617369"),
        "{arg}"
    );
}

#[test]
fn transaction_effects_name_the_same_transactions_as_the_decoder_on_real_blocks() {
    let Some(dir) = fixtures() else { return };
    let mut invocations = 0;
    for block in chain(&dir) {
        let effects = fabric_sdk::block::transaction_effects(&block).unwrap();
        let decoded = decode_block(&block).unwrap();
        assert_eq!(effects.len(), decoded.transactions.len());
        for (tx, summary) in effects.iter().zip(&decoded.transactions) {
            assert_eq!(tx.channel_header.tx_id, summary.tx_id);
            assert_eq!(tx.creator_msp_id, summary.creator_msp_id);
            assert_eq!(tx.validation_code, summary.validation_code);
            let call = summary.chaincode.as_ref();
            assert_eq!(
                tx.chaincode_name.as_deref(),
                call.map(|call| call.name.as_str())
            );
            assert_eq!(
                tx.function.as_deref().map(Arg::from_bytes),
                call.and_then(|call| call.function.clone())
            );
            invocations += usize::from(call.is_some());
        }
    }
    // The fixture channel's lifecycle and contract transactions, not only its config blocks.
    assert!(invocations >= 5, "{invocations}");
}
