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
