//! Checks of the input the API accepts, each failing with InvalidArgument naming the field, and the
//! calendar dates (`YYYY-MM-DD`) members' validity and visits are expressed in.

use platform::input::is_date;
use tonic::Status;

/// Member statuses, as on the ledger.
pub const STATUSES: [&str; 3] = ["active", "suspended", "lapsed"];

fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message.into())
}

/// A club id as the contract accepts it: 1–64 characters of `a-z 0-9 . _ -`, starting with a letter or
/// digit.
pub fn club(field: &str, club: &str) -> Result<(), Status> {
    if club.is_empty() {
        return Err(invalid(format!("{field} is required")));
    }
    let valid = club.len() <= 64
        && club.bytes().enumerate().all(|(index, byte)| {
            byte.is_ascii_lowercase()
                || byte.is_ascii_digit()
                || (index > 0 && matches!(byte, b'.' | b'_' | b'-'))
        });
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be 1-64 characters of a-z, 0-9, '.', '_' or '-', got {club:?}"
        )))
    }
}

/// A member id: required, at most 64 characters (ids this service issues are UUIDs).
pub fn member_id(field: &str, id: &str) -> Result<(), Status> {
    if id.is_empty() {
        return Err(invalid(format!("{field} is required")));
    }
    if id.len() > 64 || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(format!(
            "{field} must be a member id (at most 64 characters, no spaces)"
        )));
    }
    Ok(())
}

/// A name: 1–200 characters without control characters; answered trimmed.
pub fn name(name: &str) -> Result<String, Status> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 || trimmed.chars().any(char::is_control)
    {
        return Err(invalid(
            "name must be 1-200 characters without control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A plausible e-mail address: one `@` between a non-empty local part and a domain with a dot inside it,
/// no spaces, at most 254 characters; answered trimmed.
pub fn email(email: &str) -> Result<String, Status> {
    let email = email.trim();
    let refuse = || {
        invalid(format!(
            "email must be an address such as name@example.org (at most 254 characters), got {email:?}"
        ))
    };
    if email.is_empty()
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(refuse());
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refuse());
    };
    let domain_ok = domain
        .split_once('.')
        .is_some_and(|(first, _)| !first.is_empty())
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok {
        return Err(refuse());
    }
    Ok(email.to_owned())
}

/// A membership number: 1–64 printable characters; answered trimmed.
pub fn membership_number(number: &str) -> Result<String, Status> {
    let number = number.trim();
    if number.is_empty() || number.chars().count() > 64 || number.chars().any(char::is_control) {
        return Err(invalid(
            "membership_number must be 1-64 printable characters",
        ));
    }
    Ok(number.to_owned())
}

/// A photo URL: empty (none), or an `http://` or `https://` URL with a host, without spaces, at most
/// 2048 characters.
pub fn photo_url(url: &str) -> Result<Option<String>, Status> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(None);
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    let valid = url.len() <= 2048
        && host.is_some_and(|host| !host.is_empty() && !host.starts_with(':'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(Some(url.to_owned()))
    } else {
        Err(invalid(
            "photo_url must be empty or an http(s) URL of at most 2048 characters",
        ))
    }
}

/// A member status; `default` when empty.
pub fn status(status: &str, default: Option<&'static str>) -> Result<String, Status> {
    match (status, default) {
        ("", Some(default)) => Ok(default.to_owned()),
        (status, _) if STATUSES.contains(&status) => Ok(status.to_owned()),
        (status, _) => Err(invalid(format!(
            "status must be active, suspended or lapsed, got {status:?}"
        ))),
    }
}

/// A residency zone: empty (none) or a coarse code of 1–16 characters `A-Z 0-9 -`.
pub fn residency_zone(zone: &str) -> Result<Option<String>, Status> {
    if zone.is_empty() {
        return Ok(None);
    }
    let valid = zone.len() <= 16
        && zone
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'-');
    if valid {
        Ok(Some(zone.to_owned()))
    } else {
        Err(invalid(format!(
            "residency_zone must be empty or 1-16 characters of A-Z, 0-9 or '-' (e.g. GB-LND), got {zone:?}"
        )))
    }
}

/// A required date `YYYY-MM-DD` that exists in the calendar (years 1970–9999, as on the ledger).
pub fn date(field: &str, text: &str) -> Result<String, Status> {
    if text.is_empty() {
        return Err(invalid(format!("{field} is required (YYYY-MM-DD)")));
    }
    if is_date(text) {
        Ok(text.to_owned())
    } else {
        Err(invalid(format!(
            "{field} must be a date YYYY-MM-DD, got {text:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_must_be_plausible() {
        assert_eq!(
            email(" ada@example.org ").unwrap(),
            "ada@example.org".to_owned()
        );
        for bad in [
            "",
            "ada",
            "ada@example",
            "@example.org",
            "ada@@example.org",
            "a@b@example.org",
            "ada@.org",
            "ada@example.",
            "ada lovelace@example.org",
        ] {
            assert_eq!(email(bad).unwrap_err().code(), tonic::Code::InvalidArgument);
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(email(&long).is_err());
    }

    #[test]
    fn urls_zones_and_statuses() {
        assert_eq!(photo_url("").unwrap(), None);
        assert!(photo_url("https://photos.example.org/a.jpg").is_ok());
        assert!(photo_url("ftp://photos.example.org/a.jpg").is_err());
        assert!(photo_url("https:///a.jpg").is_err());
        assert!(photo_url("javascript:alert(1)").is_err());
        assert!(photo_url(&format!("https://x.org/{}", "a".repeat(2048))).is_err());
        assert_eq!(residency_zone("GB-LND").unwrap().as_deref(), Some("GB-LND"));
        assert!(residency_zone("gb-lnd").is_err());
        assert!(residency_zone("ABCDEFGHIJKLMNOPQ").is_err());
        assert_eq!(status("", Some("active")).unwrap(), "active");
        assert!(status("", None).is_err());
        assert!(status("gone", Some("active")).is_err());
        assert!(membership_number(&"9".repeat(65)).is_err());
        assert!(membership_number("A-1\u{7}").is_err());
        assert!(name(&"n".repeat(201)).is_err());
        assert!(name("  ").is_err());
        assert!(club("club", "Club-Alpha").is_err());
        assert!(club("club", "club-alpha").is_ok());
    }
}
