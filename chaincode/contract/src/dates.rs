//! Calendar dates without a clock: parsing `YYYY-MM-DD`, converting the transaction timestamp to a UTC
//! date, and day arithmetic — all deterministic, so every endorser computes the same result.

use std::fmt;

/// A proleptic Gregorian date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Days since 1970-01-01.
    days: i64,
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl Date {
    /// Parses `YYYY-MM-DD` (years 1970–9999), rejecting impossible dates such as 2026-02-30.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = text.get(range)?;
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let year = i64::from(digits(0..4)?);
        let month = digits(5..7)?;
        let day = digits(8..10)?;
        if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month)
        {
            return None;
        }
        Some(Self {
            days: days_from_civil(year, month, day),
        })
    }

    /// The UTC date of a Unix timestamp.
    pub fn from_unix_seconds(seconds: i64) -> Self {
        Self {
            days: seconds.div_euclid(86_400),
        }
    }

    /// This date plus `days`.
    pub fn plus_days(self, days: i64) -> Self {
        Self {
            days: self.days + days,
        }
    }

    /// Days from `other` to `self`.
    pub fn days_since(self, other: Self) -> i64 {
        self.days - other.days
    }

    /// `YYYY-MM`.
    pub fn month_key(self) -> String {
        let (year, month, _) = civil_from_days(self.days);
        format!("{year:04}-{month:02}")
    }

    /// `YYYY`.
    pub fn year_key(self) -> String {
        let (year, _, _) = civil_from_days(self.days);
        format!("{year:04}")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.days);
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

/// Whether `text` is `YYYY-MM`.
pub fn is_month(text: &str) -> bool {
    Date::parse(&format!("{text}-01")).is_some() && text.len() == 7
}

/// RFC 3339 UTC text of a timestamp (seconds precision).
pub fn rfc3339(timestamp: &prost_types::Timestamp) -> String {
    let date = Date::from_unix_seconds(timestamp.seconds);
    let seconds = timestamp.seconds.rem_euclid(86_400);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        (seconds % 3600) / 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_impossible_dates() {
        for text in ["1970-01-01", "2024-02-29", "2026-12-31", "2100-03-01"] {
            assert_eq!(Date::parse(text).unwrap().to_string(), text);
        }
        for text in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "20261201",
            "2026-12-32",
            "x026-12-01",
        ] {
            assert!(Date::parse(text).is_none(), "{text}");
        }
        let date = Date::parse("2026-12-31").unwrap();
        assert_eq!(date.plus_days(1).to_string(), "2027-01-01");
        assert_eq!(date.month_key(), "2026-12");
        assert_eq!(date.year_key(), "2026");
        assert_eq!(
            Date::from_unix_seconds(1_796_400_000).to_string(),
            "2026-12-04"
        );
        assert!(is_month("2026-12") && !is_month("2026-13") && !is_month("2026-1"));
        assert_eq!(
            rfc3339(&prost_types::Timestamp {
                seconds: 1_796_400_061,
                nanos: 0
            }),
            "2026-12-04T16:01:01Z"
        );
    }
}
