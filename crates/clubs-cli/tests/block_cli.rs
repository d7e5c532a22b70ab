//! `clubs block inspect` and `clubs block verify` as an operator runs them, on the blocks of a real Fabric
//! channel (`shared/fixtures/fabric/blocks`) and on tampered copies of them.

use std::path::{Path, PathBuf};
use std::process::Command;

use fabric_protos::common::{Block, Metadata};
use fabric_protos::prost::Message;

const TIP: &str = "tip 13 db7b5175e3bfb0cede12cea1f136f7b6694688a748550a1e3bd59a95ec2172db";

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("FABRIC_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/fabric")
        });
    if dir.join("blocks/0.block").exists() {
        Some(dir.join("blocks"))
    } else {
        eprintln!("skipping: Fabric fixtures not found at {}", dir.display());
        None
    }
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn clubs(args: &[&str], files: &[PathBuf]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_clubs"))
        .args(args)
        .args(files)
        .output()
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The fixture files in name order (0, 1, 10, 11, 12, 13, 2, …), which is not block order.
fn fixture_files(blocks: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (0..=13)
        .map(|n| blocks.join(format!("{n}.block")))
        .collect();
    files.sort();
    files
}

/// A copy of the fixture blocks in a fresh temp dir, with `edit` applied to block `target`.
fn tampered_copy(
    blocks: &Path,
    name: &str,
    target: u64,
    edit: impl FnOnce(&mut Block),
) -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::temp_dir().join(format!("clubs-block-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut edit = Some(edit);
    let files = (0..=13)
        .map(|n| {
            let mut bytes = std::fs::read(blocks.join(format!("{n}.block"))).unwrap();
            if n == target {
                let mut block = Block::decode(bytes.as_slice()).unwrap();
                (edit.take().unwrap())(&mut block);
                bytes = block.encode_to_vec();
            }
            let path = dir.join(format!("{n}.block"));
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    (dir, files)
}

#[test]
fn inspect_shows_the_transaction_of_block_9() {
    let Some(blocks) = fixtures() else { return };
    let out = clubs(&["block", "inspect"], &[blocks.join("9.block")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for expected in [
        "block 9",
        "header hash   c683e8c1a991bd8e51bfd6101fffa08f35191a99976daa1feb958a2c15806095",
        "tx 0 2526998c9ced9f4641755c9c81ff01c7f333ef48a2f47217c9640ddf59266508",
        "type ENDORSER_TRANSACTION  channel reciprocal",
        "validation NOT_VALIDATED",
        "creator Org1MSP",
        "CN=clubadmin-alpha",
        "chaincode basic 1.0  function \"CreateAsset\"  args [\"asset100\", \"purple\", \"7\", \"club-alpha\", \"900\"]",
        "write basic/asset100  ",
        "signed by     OrdererMSP",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected:?} in\n{}",
            out.stdout
        );
    }
}

#[test]
fn inspect_shows_deletes_events_and_the_channel_configuration() {
    let Some(blocks) = fixtures() else { return };
    let out = clubs(
        &["block", "inspect"],
        &[
            blocks.join("0.block"),
            blocks.join("11.block"),
            blocks.join("12.block"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for expected in [
        "write basic/asset2  DELETE",
        "event AssetTransferred (",
        "config sequence 0  consensus etcdraft  consenters 127.0.0.1:7050",
        "org Orderer OrdererMSP",
        "org Application Org1MSP",
        "Channel V3_0",
        "tx 1 8f06fe02ebd8d8618c5d73875bd0df4379cdb70f24d7b786450da4ff21a81878",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected:?} in\n{}",
            out.stdout
        );
    }
}

#[test]
fn inspect_json_is_one_array_of_decoded_blocks() {
    let Some(blocks) = fixtures() else { return };
    let out = clubs(
        &["block", "inspect", "--json"],
        &[blocks.join("9.block"), blocks.join("12.block")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let array = json.as_array().unwrap();
    assert_eq!(array.len(), 2);
    assert_eq!(array[0]["number"], 9);
    let tx = &array[0]["transactions"][0];
    assert_eq!(
        tx["tx_id"],
        "2526998c9ced9f4641755c9c81ff01c7f333ef48a2f47217c9640ddf59266508"
    );
    assert_eq!(tx["chaincode"]["function"], "CreateAsset");
    assert_eq!(tx["chaincode"]["args"][0], "asset100");
    assert_eq!(tx["validation"], "NOT_VALIDATED");
    let block12 = array[1]["transactions"].as_array().unwrap();
    assert_eq!(block12.len(), 2);
    assert_eq!(block12[1]["chaincode"]["args"][1], "Bob");
}

#[test]
fn verify_accepts_the_fixtures_in_any_file_order() {
    let Some(blocks) = fixtures() else { return };
    let mut files = fixture_files(&blocks);
    files.reverse();
    let out = clubs(&["block", "verify"], &files);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|line| line.starts_with("block"))
        .collect();
    assert_eq!(lines.len(), 14);
    // Sorted by block number, not by file name.
    assert!(
        lines[2].starts_with("block      2  1a636f06"),
        "{}",
        lines[2]
    );
    assert!(lines[13].contains("13.block"));
    assert!(
        out.stdout.contains(&format!("OK: 14 blocks, {TIP}")),
        "{}",
        out.stdout
    );
}

#[test]
fn verify_with_orderer_signatures_checks_every_block_but_the_genesis() {
    let Some(blocks) = fixtures() else { return };
    let out = clubs(
        &["block", "verify", "--orderer-signatures"],
        &fixture_files(&blocks),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("orderer signatures verified on 13 blocks")
    );
    assert!(out.stdout.contains(TIP));

    // Without the config block there is nothing to verify against.
    let without_genesis: Vec<PathBuf> = (1..=13)
        .map(|n| blocks.join(format!("{n}.block")))
        .collect();
    let out = clubs(
        &["block", "verify", "--orderer-signatures"],
        &without_genesis,
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("config block (block 0)"),
        "{}",
        out.stderr
    );
}

#[test]
fn verify_names_the_block_whose_data_was_changed() {
    let Some(blocks) = fixtures() else { return };
    let (dir, files) = tampered_copy(&blocks, "data", 9, |block| {
        let envelope = &mut block.data.as_mut().unwrap().data[0];
        let middle = envelope.len() / 2;
        envelope[middle] ^= 0x04;
    });
    let out = clubs(&["block", "verify"], &files);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("FAILED: block 9: data hash") && out.stderr.contains("9.block"),
        "{}",
        out.stderr
    );
    // The blocks before the broken one were checked and listed; none after it.
    assert!(out.stdout.contains("block      8"), "{}", out.stdout);
    assert!(!out.stdout.contains("block      9"), "{}", out.stdout);
    assert!(!out.stdout.contains("OK:"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn verify_names_the_block_whose_previous_hash_was_changed() {
    let Some(blocks) = fixtures() else { return };
    let (dir, files) = tampered_copy(&blocks, "link", 6, |block| {
        block.header.as_mut().unwrap().previous_hash[0] ^= 0x01;
    });
    let out = clubs(&["block", "verify"], &files);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("FAILED: block 6: previous hash"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("not the header hash of block 5"));
    let _ = std::fs::remove_dir_all(dir);

    let with_gap: Vec<PathBuf> = (0..=13)
        .filter(|n| *n != 5)
        .map(|n| blocks.join(format!("{n}.block")))
        .collect();
    let out = clubs(&["block", "verify"], &with_gap);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("block 6 follows block 4"),
        "{}",
        out.stderr
    );
}

#[test]
fn verify_with_orderer_signatures_rejects_a_forged_signature() {
    let Some(blocks) = fixtures() else { return };
    let signatures = |n: u64| {
        let block = Block::decode(
            std::fs::read(blocks.join(format!("{n}.block")))
                .unwrap()
                .as_slice(),
        )
        .unwrap();
        Metadata::decode(block.metadata.unwrap().metadata[0].as_slice()).unwrap()
    };
    let borrowed = signatures(6).signatures[0].signature.clone();
    let (dir, files) = tampered_copy(&blocks, "signature", 5, |block| {
        let mut metadata = signatures(5);
        // A genuine orderer signature, but over block 6.
        metadata.signatures[0].signature = borrowed;
        block.metadata.as_mut().unwrap().metadata[0] = metadata.encode_to_vec();
    });
    // The hash chain does not cover metadata, so only the signature check notices.
    let out = clubs(&["block", "verify"], &files);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = clubs(&["block", "verify", "--orderer-signatures"], &files);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("block 5: the signature of")
            && out.stderr.contains("CN=orderer.example.com")
            && out.stderr.contains("5.block"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn verify_reads_a_ledger_block_file() {
    let Some(blocks) = fixtures() else { return };
    let dir = std::env::temp_dir().join(format!("clubs-block-cli-ledger-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut file = Vec::new();
    for n in 0..=13 {
        let block = Block::decode(
            std::fs::read(blocks.join(format!("{n}.block")))
                .unwrap()
                .as_slice(),
        )
        .unwrap();
        let record = fabric_sdk::block::encode_ledger_block(&block);
        fabric_protos::prost::encoding::encode_varint(record.len() as u64, &mut file);
        file.extend(record);
    }
    let path = dir.join("blockfile_000000");
    std::fs::write(&path, &file).unwrap();
    let out = clubs(
        &["block", "verify", "--orderer-signatures"],
        std::slice::from_ref(&path),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&format!("OK: 14 blocks, {TIP}")));

    std::fs::write(&path, &file[..file.len() - 3]).unwrap();
    let out = clubs(&["block", "verify"], &[path]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("blockfile_000000") && out.stderr.contains("runs past the end"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unreadable_and_garbage_files_are_clear_errors() {
    let Some(blocks) = fixtures() else { return };
    let dir = std::env::temp_dir().join(format!("clubs-block-cli-garbage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.block");
    std::fs::write(&garbage, b"\x0a\xff\xff not a block").unwrap();
    for command in ["verify", "inspect"] {
        let out = clubs(
            &["block", command],
            &[blocks.join("0.block"), garbage.clone()],
        );
        assert_ne!(out.code, 0, "{command}");
        assert!(
            out.stderr.contains("garbage.block: not a Fabric block"),
            "{command}: {}",
            out.stderr
        );
        assert!(!out.stdout.contains("OK:"));
    }
    let missing = dir.join("missing.block");
    let out = clubs(&["block", "verify"], &[missing]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("missing.block"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(dir);
}
