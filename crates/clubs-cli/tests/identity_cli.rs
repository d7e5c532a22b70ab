//! `clubs identity show` on MSP folders written by a real Fabric network's tools.

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

/// Runs `clubs` with `args`, returning exit code, stdout and stderr.
fn clubs(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_clubs"))
        .args(args)
        .env_remove("CLUBS_MSP_ID")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn identity_show_prints_the_fabric_ca_identity() {
    let Some(dir) = fixtures() else { return };
    let folder = dir
        .join("msp/clubadmin-alpha@org1-ca")
        .display()
        .to_string();
    let (code, stdout, stderr) = clubs(&["identity", "show", &folder]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("MSP id      Org1MSP"), "{stdout}");
    assert!(
        stdout.contains("attribute   club=club-alpha")
            && stdout.contains("attribute   role=club_admin")
            && stdout.contains("attribute   hf.EnrollmentID=clubadmin-alpha"),
        "{stdout}"
    );
    assert!(stdout.contains("roles       client"), "{stdout}");
    assert!(
        stdout.contains("not after   2027-12-04T12:05:00Z"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "keystore/53930c4b2000f958aa2c4c6566e9291a29aa8219539c4e54e03b03c7a28f7ac7_sk"
        ),
        "{stdout}"
    );

    let (code, stdout, stderr) = clubs(&[
        "identity", "show", "--json", "--msp-id", "ClubsMSP", &folder,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["msp_id"], "ClubsMSP");
    assert_eq!(json["attributes"]["club"], "club-alpha");
    assert_eq!(json["attributes"]["role"], "club_admin");
    assert_eq!(json["node_ou_roles"], serde_json::json!(["client"]));
    assert_eq!(json["organizational_units"], serde_json::json!(["client"]));
    assert_eq!(json["common_name"], "clubadmin-alpha");
    assert_eq!(json["not_after"], "2027-12-04T12:05:00Z");
}

#[test]
fn identity_show_without_attributes() {
    let Some(dir) = fixtures() else { return };
    let folder = dir.join("msp/Admin@org1.example.com").display().to_string();
    let (code, stdout, stderr) = clubs(&["identity", "show", &folder]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("roles       admin"), "{stdout}");
    assert!(stdout.contains("attributes  (none)"), "{stdout}");
    assert!(stdout.contains("keystore/priv_sk"), "{stdout}");
}

#[test]
fn identity_show_fails_clearly_on_a_folder_it_cannot_use() {
    let Some(dir) = fixtures() else { return };
    let channel = dir.join("msp/Org1MSP-channel").display().to_string();
    let (code, stdout, stderr) = clubs(&["identity", "show", &channel]);
    assert_ne!(code, 0);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("Org1MSP-channel: not a signing MSP"),
        "{stderr}"
    );

    let missing = dir.join("msp/no-such-folder").display().to_string();
    let (code, _, stderr) = clubs(&["identity", "show", &missing]);
    assert_ne!(code, 0);
    assert!(stderr.contains("no-such-folder: missing"), "{stderr}");
}

#[test]
fn a_reader_that_went_away_ends_the_output_quietly() {
    let Some(dir) = fixtures() else { return };
    let folder = dir
        .join("msp/clubadmin-alpha@org1-ca")
        .display()
        .to_string();
    // `clubs identity show … | head -0`: the reading end is closed before the first line is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_clubs"))
        .args(["identity", "show", &folder])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
