//! The `clubs` binary on the real Fabric fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;

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

fn clubs(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_clubs"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn block_files(dir: &Path) -> Vec<String> {
    // Deliberately not in numeric order: verify sorts by block number.
    let mut files: Vec<String> = (0..=13)
        .map(|n| dir.join(format!("blocks/{n}.block")).display().to_string())
        .collect();
    files.sort();
    files
}

#[test]
fn verify_accepts_the_fixture_chain_and_its_orderer_signatures() {
    let Some(dir) = fixtures() else { return };
    let files = block_files(&dir);
    let mut args = vec!["block", "verify", "--orderer-signatures"];
    args.extend(files.iter().map(String::as_str));
    let (code, stdout, stderr) = clubs(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("orderer signatures verified on 13 blocks"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "OK: 14 blocks, tip 13 db7b5175e3bfb0cede12cea1f136f7b6694688a748550a1e3bd59a95ec2172db"
        ),
        "{stdout}"
    );
}

#[test]
fn verify_names_the_block_with_a_flipped_byte() {
    let Some(dir) = fixtures() else { return };
    let copy = std::env::temp_dir().join(format!("clubs-flip-{}", std::process::id()));
    std::fs::create_dir_all(&copy).unwrap();
    for n in 0..=13 {
        let mut bytes = std::fs::read(dir.join(format!("blocks/{n}.block"))).unwrap();
        if n == 9 {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x04;
        }
        std::fs::write(copy.join(format!("{n}.block")), bytes).unwrap();
    }
    let files: Vec<String> = (0..=13)
        .map(|n| copy.join(format!("{n}.block")).display().to_string())
        .collect();
    let mut args = vec!["block", "verify"];
    args.extend(files.iter().map(String::as_str));
    let (code, _, stderr) = clubs(&args);
    assert_ne!(code, 0);
    assert!(stderr.contains("block 9"), "{stderr}");
    std::fs::write(copy.join("garbage.block"), b"\x0a\xff\xff").unwrap();
    let garbage = copy.join("garbage.block").display().to_string();
    let (code, _, stderr) = clubs(&["block", "verify", &garbage]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("garbage.block") && stderr.contains("not a Fabric block"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(copy);
}

#[test]
fn inspect_shows_transactions_as_text_and_json() {
    let Some(dir) = fixtures() else { return };
    let block9 = dir.join("blocks/9.block").display().to_string();
    let (code, stdout, stderr) = clubs(&["block", "inspect", &block9]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("2526998c9ced9f4641755c9c81ff01c7f333ef48a2f47217c9640ddf59266508"));
    assert!(stdout.contains("function \"CreateAsset\""), "{stdout}");
    assert!(stdout.contains("write basic/asset100"), "{stdout}");

    let (code, stdout, _) = clubs(&["block", "inspect", "--json", &block9]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let tx = &json[0]["transactions"][0];
    assert_eq!(tx["creator_msp_id"], "Org1MSP");
    assert_eq!(tx["chaincode"]["function"], "CreateAsset");
    assert_eq!(tx["chaincode"]["args"][0], "asset100");
}

#[test]
fn identity_show_prints_attributes_and_fails_on_a_broken_folder() {
    let Some(dir) = fixtures() else { return };
    let folder = dir
        .join("msp/clubadmin-alpha@org1-ca")
        .display()
        .to_string();
    let (code, stdout, stderr) = clubs(&["identity", "show", &folder]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("MSP id      Org1MSP"), "{stdout}");
    assert!(
        stdout.contains("club=club-alpha") && stdout.contains("role=club_admin"),
        "{stdout}"
    );
    let (code, stdout, _) = clubs(&["identity", "show", "--json", &folder]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["attributes"]["role"], "club_admin");
    assert_eq!(json["node_ou_roles"][0], "client");

    let channel = dir.join("msp/Org1MSP-channel").display().to_string();
    let (code, _, stderr) = clubs(&["identity", "show", &channel]);
    assert_ne!(code, 0);
    assert!(stderr.contains("not a signing MSP"), "{stderr}");
}
