//! `clubs identity show`: what an MSP folder's identity is — MSP id, subject, issuer, NodeOU roles, Fabric
//! CA attributes, validity and key file — so an operator can check a folder before pointing a client at
//! it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fabric_sdk::msp::MspFolder;

/// Identity commands.
#[derive(Debug, clap::Subcommand)]
pub enum IdentityCommand {
    /// Show the identity of an MSP folder (as cryptogen or fabric-ca-client write them).
    Show {
        /// The MSP folder (the one holding signcerts/, keystore/, cacerts/).
        msp_dir: PathBuf,
        /// The MSP id (not stored in the folder; guessed from the path when omitted, else "unknown").
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

/// Guesses the MSP id from a cryptogen-style path (`.../User1@org1.example.com/msp` → `Org1MSP`), looking
/// at the innermost path components first so an unrelated parent folder does not decide.
fn guess_msp_id(dir: &Path) -> Option<String> {
    dir.components().rev().find_map(|component| {
        let text = component.as_os_str().to_string_lossy();
        text.split(['@', '.', '-', '_']).find_map(|part| {
            let number = part.strip_prefix("org")?;
            (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit()))
                .then(|| format!("Org{number}MSP"))
        })
    })
}

fn show(dir: &Path, msp_id: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let msp_id = msp_id
        .or_else(|| guess_msp_id(dir))
        .unwrap_or_else(|| "unknown".to_owned());
    let folder = MspFolder::load(dir, &msp_id)?;
    let signing = folder
        .signing_identity()
        .context("`identity show` needs a signing identity (signcerts/ and keystore/)")?;
    let certificate = signing.identity().certificate()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        });
    let roles: Vec<String> = folder
        .roles(&certificate)
        .iter()
        .map(|role| format!("{role:?}").to_lowercase())
        .collect();
    let not_after = rfc3339(certificate.not_after);
    let expired = certificate.is_expired_at(now);
    // Reported, not fatal: showing why a folder would be refused is the point of the command.
    let validation = folder.validate_certificate_at(&signing.identity().cert_pem, now);
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
            "serial": certificate.serial_hex,
            "organizational_units": certificate.organizational_units,
            "node_ou_roles": roles,
            "attributes": certificate.attributes,
            "not_before": rfc3339(certificate.not_before),
            "not_after": not_after,
            "expired": expired,
            "valid_for_msp": validation.is_ok(),
            "validation_error": validation.as_ref().err().map(ToString::to_string),
            "key_file": key_file,
        });
        out!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        out!("MSP id      {msp_id}");
        out!("subject     {}", certificate.subject);
        out!("issuer      {}", certificate.issuer);
        out!("serial      {}", certificate.serial_hex);
        out!(
            "OUs         {}",
            certificate.organizational_units.join(", ")
        );
        out!("roles       {}", roles.join(", "));
        if certificate.attributes.is_empty() {
            out!("attributes  (none)");
        } else {
            for (name, value) in &certificate.attributes {
                out!("attribute   {name}={value}");
            }
        }
        out!("not after   {not_after}");
        out!("expired     {}", if expired { "yes" } else { "no" });
        match &validation {
            Ok(_) => out!("valid       yes (issued by a CA of this MSP)"),
            Err(error) => out!("valid       NO: {error}"),
        }
        out!("key         {key_file}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Unix seconds as RFC 3339 UTC.
fn rfc3339(seconds: i64) -> String {
    prost_types::Timestamp { seconds, nanos: 0 }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msp_id_is_guessed_from_the_innermost_org_component() {
        let guess = |path: &str| guess_msp_id(Path::new(path));
        assert_eq!(
            guess("/home/org9/crypto/peerOrganizations/org1.example.com/users/User1@org1.example.com/msp")
                .as_deref(),
            Some("Org1MSP")
        );
        assert_eq!(
            guess("fixtures/msp/clubadmin-alpha@org2-ca").as_deref(),
            Some("Org2MSP")
        );
        assert_eq!(guess("/etc/hyperledger/msp"), None);
        assert_eq!(guess("/srv/organization/msp"), None);
    }
}
