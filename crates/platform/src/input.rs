//! Checks of request fields the services share: required text, JSON objects, status filters, months,
//! calendar dates and UUIDs, each failing as INVALID_ARGUMENT naming the field.

use tonic::Status;

/// `value` trimmed, which must not be empty.
pub fn required<'a>(name: &str, value: &'a str) -> Result<&'a str, Status> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Status::invalid_argument(format!("{name} is required")));
    }
    Ok(value)
}

/// `value` trimmed, or none when empty.
pub fn given(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// `text` (required) parsed as a JSON object.
pub fn json_object(
    name: &str,
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, Status> {
    match serde_json::from_str(required(name, text)?) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err(Status::invalid_argument(format!(
            "{name} must be a JSON object"
        ))),
        Err(error) => Err(Status::invalid_argument(format!(
            "{name} is not valid JSON: {error}"
        ))),
    }
}

/// `status` trimmed, which must be empty or one of `allowed`.
pub fn status_filter<'a>(status: &'a str, allowed: &[&str]) -> Result<&'a str, Status> {
    let status = status.trim();
    if status.is_empty() || allowed.contains(&status) {
        Ok(status)
    } else {
        Err(Status::invalid_argument(format!(
            "status must be one of {}, got {status:?}",
            allowed.join(", ")
        )))
    }
}

fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Whether `text` is a month `YYYY-MM`.
pub fn is_month(text: &str) -> bool {
    match text.split_once('-') {
        Some((year, month)) => {
            year.len() == 4
                && month.len() == 2
                && number(year).is_some()
                && number(month).is_some_and(|month| (1..=12).contains(&month))
        }
        None => false,
    }
}

/// Whether `text` is a calendar date `YYYY-MM-DD` of the years 1970–9999 (as on the ledger).
pub fn is_date(text: &str) -> bool {
    let Some((month, day)) = text.rsplit_once('-') else {
        return false;
    };
    if !is_month(month) || day.len() != 2 {
        return false;
    }
    let (Some(year), Some(month), Some(day)) =
        (number(&month[..4]), number(&month[5..]), number(day))
    else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        _ => 28,
    };
    (1970..=9999).contains(&year) && (1..=days).contains(&day)
}

/// Whether `text` is a UUID in canonical lowercase form, as the contract takes visit ids.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|group| {
            group
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_dates_and_uuids_are_checked() {
        assert!(is_month("2026-12"));
        assert!(!is_month("2026-13"));
        assert!(!is_month("2026-1"));
        assert!(!is_month("26-12"));
        assert!(is_date("2026-02-28"));
        assert!(!is_date("2026-02-32"));
        assert!(!is_date("2026-02"));
        assert!(is_uuid("0f8e6a4c-1d2b-4c3a-9e8f-7a6b5c4d3e2f"));
        assert!(!is_uuid("0F8E6A4C-1D2B-4C3A-9E8F-7A6B5C4D3E2F"));
        assert!(!is_uuid("visit-1"));
    }

    #[test]
    fn only_real_dates_pass() {
        assert!(is_date("2024-02-29"));
        assert!(is_date("2026-12-31"));
        assert!(!is_date("2026-02-29"));
        assert!(!is_date("2026-13-01"));
        assert!(!is_date("2026-04-31"));
        assert!(!is_date("2026-4-1"));
        assert!(!is_date("1969-12-31"));
        assert!(!is_date("2026/01/01"));
    }

    #[test]
    fn required_text_objects_and_status_filters() {
        assert_eq!(required("id", "  a ").unwrap(), "a");
        assert!(
            required("id", "  ")
                .unwrap_err()
                .message()
                .contains("id is required")
        );
        assert_eq!(given(" x "), Some("x".to_owned()));
        assert_eq!(given(""), None);
        assert!(
            json_object("terms", r#"{"a":1}"#)
                .unwrap()
                .contains_key("a")
        );
        assert!(
            json_object("terms", "[1]")
                .unwrap_err()
                .message()
                .contains("JSON object")
        );
        assert!(
            json_object("terms", "{")
                .unwrap_err()
                .message()
                .contains("not valid JSON")
        );
        assert_eq!(status_filter(" open ", &["open"]).unwrap(), "open");
        assert!(status_filter("nope", &["open"]).is_err());
    }
}
