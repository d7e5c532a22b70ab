//! `clubs identity show`: what an MSP folder's identity is — MSP id, subject, issuer, NodeOU roles, Fabric
//! CA attributes and validity.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fabric_sdk::msp::MspFolder;

/// Identity commands.
#[derive(Debug, clap::Subcommand)]
pub enum IdentityCommand {
    /// Show the identity of an MSP folder (as cryptogen or fabric-ca-client write them).
    Show {
        /// The MSP folder (the one holding signcerts/, keystore/, cacerts/).
        msp_dir: PathBuf,
        /// The MSP id (not stored in the folder; guessed from the path when omitted).
        #[arg(long, env = "CLUBS_MSP_ID")]
        msp_id: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an identity command.
pub fn run(command: IdentityCommand) -> anyhow::Result<ExitCode> {
    match command {
        IdentityCommand::Show {
            msp_dir,
            msp_id,
            json,
        } => show(&msp_dir, msp_id, json),
    }
}

/// Guesses the MSP id from a cryptogen path (`.../org1.example.com/...` → `Org1MSP`).
fn guess_msp_id(dir: &Path) -> String {
    let text = dir.to_string_lossy();
    for part in text.split(['/', '@', '.', '-']) {
        if let Some(number) = part.strip_prefix("org")
            && !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
        {
            return format!("Org{number}MSP");
        }
    }
    "unknown".to_owned()
}

fn show(dir: &Path, msp_id: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let msp_id = msp_id.unwrap_or_else(|| guess_msp_id(dir));
    let folder = MspFolder::load(dir, &msp_id)?;
    let signing = folder.signing_identity()?;
    let certificate = signing.identity().certificate()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    let roles: Vec<String> = folder
        .roles(&certificate)
        .iter()
        .map(|role| format!("{role:?}").to_lowercase())
        .collect();
    let not_after = rfc3339(certificate.not_after);
    let expired = certificate.is_expired_at(now);
    let chains = folder
        .validate_certificate(&signing.identity().cert_pem)
        .is_ok();
    let key_file = folder
        .key_file
        .as_ref()
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    if json {
        let value = serde_json::json!({
            "msp_id": msp_id,
            "subject": certificate.subject,
            "issuer": certificate.issuer,
            "common_name": certificate.common_name,
            "organizational_units": certificate.organizational_units,
            "node_ou_roles": roles,
            "attributes": certificate.attributes,
            "not_after": not_after,
            "expired": expired,
            "valid_for_msp": chains,
            "key_file": key_file,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("MSP id      {msp_id}");
        println!("subject     {}", certificate.subject);
        println!("issuer      {}", certificate.issuer);
        println!(
            "OUs         {}",
            certificate.organizational_units.join(", ")
        );
        println!("roles       {}", roles.join(", "));
        if certificate.attributes.is_empty() {
            println!("attributes  (none)");
        } else {
            for (name, value) in &certificate.attributes {
                println!("attribute   {name}={value}");
            }
        }
        println!(
            "not after   {not_after}{}",
            if expired { "  (EXPIRED)" } else { "" }
        );
        println!(
            "issued by   {}",
            if chains {
                "a CA of this MSP"
            } else {
                "NOT a CA of this MSP"
            }
        );
        println!("key         {key_file}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Unix seconds as RFC 3339 UTC.
fn rfc3339(seconds: i64) -> String {
    prost_types::Timestamp { seconds, nanos: 0 }.to_string()
}
