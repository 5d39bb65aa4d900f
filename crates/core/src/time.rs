//! UTC timestamps: integer milliseconds inside, RFC 3339 at the edges.
//!
//! Users and other tools write times many ways; [`Timestamp::parse_user`] accepts RFC 3339, a
//! date-time without offset (taken as UTC) or a plain date, and [`Timestamp::parse_loose`] also the
//! `2006-01-02 15:04:05-07:00` form that Go's SQLite driver writes.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, as milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Why a text is not a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a date or time: use RFC 3339 (2025-03-01T14:30:00+01:00 or 2025-03-01T13:30:00Z) or a plain date (2025-03-01, UTC)"
)]
pub struct TimeError(pub String);

impl Timestamp {
    pub fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(1000))
    }

    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp_millis())
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    fn datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// RFC 3339 with an explicit `+00:00` offset, milliseconds only when present.
    pub fn to_rfc3339(self) -> String {
        let format = if self.0 % 1000 == 0 { SecondsFormat::Secs } else { SecondsFormat::Millis };
        self.datetime().to_rfc3339_opts(format, false)
    }

    /// Parses a time given by a person or an assistant: RFC 3339, or any ISO 8601 form that
    /// Python's `datetime.fromisoformat` reads (what lharries/whatsapp-mcp takes): `T` or a space
    /// between date and time, minutes or seconds left out, fractions, `Z` or an offset with or
    /// without its colon or minutes, the basic forms without separators (`20250601T1030`). A time
    /// without an offset is UTC, and a plain date is midnight UTC.
    pub fn parse_user(input: &str) -> Result<Timestamp, TimeError> {
        let trimmed = input.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
            return Ok(Timestamp(t.timestamp_millis()));
        }
        // One separator, and Z as the offset it stands for.
        let mut text = trimmed.replacen(' ', "T", 1);
        if let Some(head) = text.strip_suffix(['Z', 'z']) {
            text = format!("{head}+00:00");
        }
        // An hour alone (2025-03-01T12): chrono wants the minutes.
        if let Some((date, time)) = text.split_once('T') {
            let hour_len = time.find(['+', '-']).unwrap_or(time.len());
            if hour_len == 2 {
                let minutes = if date.contains('-') { ":00" } else { "00" };
                text = format!("{date}T{}{minutes}{}", &time[..2], &time[2..]);
            }
        }
        const TIMES: [&str; 4] = ["%H:%M:%S%.f", "%H:%M", "%H%M%S%.f", "%H%M"];
        for date in ["%Y-%m-%d", "%Y%m%d"] {
            for time in TIMES {
                if let Ok(t) = DateTime::parse_from_str(&text, &format!("{date}T{time}%#z")) {
                    return Ok(Timestamp(t.timestamp_millis()));
                }
                if let Ok(t) = NaiveDateTime::parse_from_str(&text, &format!("{date}T{time}")) {
                    return Ok(Timestamp(t.and_utc().timestamp_millis()));
                }
            }
            if let Ok(day) = NaiveDate::parse_from_str(&text, date) {
                return Ok(Timestamp(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis()));
            }
        }
        Err(TimeError(input.to_string()))
    }

    /// Like [`Timestamp::parse_user`], and also the space-separated forms with any offset that other
    /// WhatsApp tools store (`2024-11-01 09:30:00+02:00`, `2024-11-01 09:30:00.123 +0200 CEST`).
    pub fn parse_loose(input: &str) -> Result<Timestamp, TimeError> {
        let text = input.trim();
        for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f %z"] {
            if let Ok(t) = DateTime::parse_from_str(text, format) {
                return Ok(Timestamp(t.timestamp_millis()));
            }
        }
        // Go's time.Time String(): "2006-01-02 15:04:05.999 -0700 MST": drop the zone name.
        if let Some((head, _zone)) = text.rsplit_once(' ')
            && let Ok(t) = DateTime::parse_from_str(head, "%Y-%m-%d %H:%M:%S%.f %z")
        {
            return Ok(Timestamp(t.timestamp_millis()));
        }
        if let Some(head) = text.strip_suffix('Z').or_else(|| text.strip_suffix(" UTC"))
            && let Ok(t) = NaiveDateTime::parse_from_str(head, "%Y-%m-%d %H:%M:%S%.f")
        {
            return Ok(Timestamp(t.and_utc().timestamp_millis()));
        }
        Timestamp::parse_user(text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse_user(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOON_UTC: i64 = 1_740_830_400_000; // 2025-03-01T12:00:00Z

    #[test]
    fn user_times_in_every_accepted_form() {
        for written in [
            "2025-03-01T12:00:00Z",
            "2025-03-01T13:00:00+01:00",
            "2025-03-01T12:00:00",
            "2025-03-01 12:00",
            " 2025-03-01T07:00:00-05:00 ",
            // The rest of what Python's datetime.fromisoformat reads.
            "2025-03-01T12",
            "2025-03-01 13:00:00+01",
            "2025-03-01T13:00:00.000+0100",
            "2025-03-01T12:00:00.000000",
            "20250301T120000",
            "20250301T1300+0100",
            "20250301T1300+01",
            "2025-03-01 12:00:00z",
        ] {
            assert_eq!(Timestamp::parse_user(written), Ok(Timestamp(NOON_UTC)), "{written}");
        }
        assert_eq!(Timestamp::parse_user("2025-03-01"), Ok(Timestamp(NOON_UTC - 12 * 3_600_000)));
        assert_eq!(Timestamp::parse_user("20250301"), Ok(Timestamp(NOON_UTC - 12 * 3_600_000)));
        assert!(Timestamp::parse_user("2025-02-30").is_err() && Timestamp::parse_user("2025-03-01T25").is_err());
    }

    #[test]
    fn stored_times_of_other_tools_with_any_offset() {
        for written in [
            "2025-03-01 12:00:00+00:00",
            "2025-03-01 14:00:00+02:00",
            "2025-03-01 14:00:00.000+0200",
            "2025-03-01 14:00:00 +0200 CEST",
            "2025-03-01 12:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_loose(written), Ok(Timestamp(NOON_UTC)), "{written}");
        }
    }

    #[test]
    fn bad_times_say_what_is_accepted() {
        let err = Timestamp::parse_user("yesterday").unwrap_err().to_string();
        assert!(err.contains("'yesterday'") && err.contains("RFC 3339") && err.contains("2025-03-01"));
    }

    #[test]
    fn renders_rfc3339_with_offset() {
        assert_eq!(Timestamp(NOON_UTC).to_rfc3339(), "2025-03-01T12:00:00+00:00");
        assert_eq!(Timestamp(NOON_UTC + 250).to_rfc3339(), "2025-03-01T12:00:00.250+00:00");
    }
}
