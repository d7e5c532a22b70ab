//! `clubs tx` against the dev ledger and the real chaincode, as an operator would use it.

use std::process::Command;

use devnet::embedded::start_embedded;
use reciprocal_chaincode::ReciprocalContract;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_and_evaluate_through_the_gateway() {
    let dir = std::env::temp_dir().join(format!("clubs-tx-{}", std::process::id()));
    let running = start_embedded(&dir, &["club-alpha"], ReciprocalContract, None)
        .await
        .unwrap();
    let peer = running.address.to_string();
    let admin = running
        .layout
        .user_msp("networkadmin")
        .display()
        .to_string();
    let desk = running
        .layout
        .user_msp("frontdesk-alpha")
        .display()
        .to_string();
    let clubs = |msp: &str, args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_clubs"));
        command
            .arg("tx")
            .args(&args[..1])
            .args(["--peer", &peer, "--msp-dir", msp])
            .args(&args[1..]);
        tokio::task::spawn_blocking(move || command.output().unwrap())
    };

    let output = clubs(
        &admin,
        &[
            "submit",
            "CreateClub",
            r#"{"id":"club-alpha","name":"Alpha","msp_id":"Org1MSP"}"#,
        ],
    )
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("committed: tx ") && stderr.contains(" in block 1"),
        "{stderr}"
    );
    let club: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(club["status"], "active");

    let output = clubs(&desk, &["evaluate", "GetClub", "club-alpha"])
        .await
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()["name"],
        "Alpha"
    );

    // A refusal is reported with the chaincode's status and message, and a non-zero exit.
    let output = clubs(
        &desk,
        &[
            "submit",
            "CreateClub",
            r#"{"id":"club-beta","name":"Beta","msp_id":"Org1MSP"}"#,
        ],
    )
    .await
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("chaincode response 403, CreateClub: only a network_admin may do this"),
        "{stderr}"
    );

    let output = clubs("/nonexistent/msp", &["evaluate", "ListClubs"])
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/msp: missing"));
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
