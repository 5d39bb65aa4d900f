//! Numbers and yes/no arguments read the way lharries/whatsapp-mcp's server reads them (pydantic's
//! lax mode): `20`, `20.0` and `"20"` are twenty; `true`, `"true"`, `"yes"`, `"1"` and `1` are
//! true. Models often send numbers as strings; a server that refused them would fail calls that
//! the server it replaces answers.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A whole number: an integer, a float with no fraction, or a string holding either.
pub fn int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let value = Value::deserialize(deserializer)?;
    whole_number(&value)
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number (e.g. 20), got {value}")))
}

/// A whole number that is not negative (counts).
pub fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let value = Value::deserialize(deserializer)?;
    whole_number(&value)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number from 0 (e.g. 50), got {value}")))
}

/// Yes or no: a boolean, 0 or 1, or one of true/false, yes/no, on/off, 1/0 as a string.
pub fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let yes_or_no = match &value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_i64() == Some(1) => Some(true),
        Value::Number(n) if n.as_i64() == Some(0) => Some(false),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "t" | "y" => Some(true),
            "false" | "no" | "off" | "0" | "f" | "n" => Some(false),
            _ => None,
        },
        _ => None,
    };
    yes_or_no.ok_or_else(|| serde::de::Error::custom(format!("expected true or false, got {value}")))
}

/// Text that may come as a number (a page, `2`, for `"2"`); absent or null is none.
pub fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text)),
        Value::Number(number) => Ok(Some(number.to_string())),
        other => Err(serde::de::Error::custom(format!("expected text such as \"2-5\", got {other}"))),
    }
}

fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64))
        }
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Args {
        #[serde(deserialize_with = "super::int")]
        limit: i64,
        #[serde(deserialize_with = "super::boolean")]
        include_context: bool,
    }

    fn read(json: serde_json::Value) -> Result<(i64, bool), String> {
        serde_json::from_value::<Args>(json).map(|a| (a.limit, a.include_context)).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_and_yes_or_no_are_read_as_pydantic_reads_them() {
        use serde_json::json;
        assert_eq!(read(json!({"limit": 20, "include_context": true})), Ok((20, true)));
        assert_eq!(read(json!({"limit": "20", "include_context": "false"})), Ok((20, false)));
        assert_eq!(read(json!({"limit": 20.0, "include_context": "yes"})), Ok((20, true)));
        assert_eq!(read(json!({"limit": " -1 ", "include_context": 0})), Ok((-1, false)));
    }

    #[test]
    fn anything_else_says_what_is_expected() {
        use serde_json::json;
        let error = read(json!({"limit": "twenty", "include_context": true})).unwrap_err();
        assert!(error.contains("expected a whole number (e.g. 20), got \"twenty\""), "{error}");
        assert!(read(json!({"limit": 2.5, "include_context": true})).is_err());
        let error = read(json!({"limit": 1, "include_context": "maybe"})).unwrap_err();
        assert!(error.contains("expected true or false"), "{error}");
    }
}
