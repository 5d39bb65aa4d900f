//! The JSON Schemas of the tools' parameters and results, kept to what every client's validator
//! knows.
//!
//! schemars marks Rust integer widths with formats such as `uint32` and `int64`. JSON Schema
//! defines no such formats, and validators warn about each one (the MCP Inspector printed 44
//! warnings for one `tools/list`). The range they stand for is kept as `minimum`/`maximum`,
//! which every validator understands.

use std::sync::Arc;

use rmcp::handler::server::common::{schema_for_input, schema_for_output};
use rmcp::model::JsonObject;
use serde_json::Value;

/// The formats JSON Schema 2020-12 defines; any other is dropped.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// The input schema of a parameter struct (validated as MCP requires: root type object).
pub fn input<T: schemars::JsonSchema + 'static>() -> Arc<JsonObject> {
    let schema =
        schema_for_input::<T>().unwrap_or_else(|e| panic!("input schema of {}: {e}", std::any::type_name::<T>()));
    standard(&schema)
}

/// The output schema of a result struct.
pub fn output<T: schemars::JsonSchema + 'static>() -> Arc<JsonObject> {
    standard(&schema_for_output::<T>())
}

fn standard(schema: &JsonObject) -> Arc<JsonObject> {
    let mut value = Value::Object(schema.clone());
    drop_unknown_formats(&mut value);
    let Value::Object(object) = value else { unreachable!("an object stays an object") };
    Arc::new(object)
}

/// Removes every `format` that JSON Schema does not define, at any depth.
fn drop_unknown_formats(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let unknown = object.get("format").and_then(Value::as_str).is_some_and(|f| !STANDARD_FORMATS.contains(&f));
            if unknown {
                object.remove("format");
            }
            object.values_mut().for_each(drop_unknown_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_unknown_formats),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(schemars::JsonSchema, serde::Serialize)]
    #[allow(dead_code)]
    struct Sample {
        count: u32,
        size: Option<u64>,
        offset: i64,
        when: String,
        nested: Vec<Inner>,
    }

    #[derive(schemars::JsonSchema, serde::Serialize)]
    #[allow(dead_code)]
    struct Inner {
        width: u16,
    }

    fn formats(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(format)) = object.get("format") {
                    found.push(format.clone());
                }
                object.values().for_each(|v| formats(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| formats(v, found)),
            _ => {}
        }
    }

    #[test]
    fn integer_widths_leave_no_format_but_keep_their_range() {
        let raw = schema_for_output::<Sample>();
        let mut before = Vec::new();
        formats(&Value::Object((*raw).clone()), &mut before);
        assert!(before.iter().any(|f| f == "uint32"), "schemars marks widths: {before:?}");
        let schema = Value::Object((*output::<Sample>()).clone());
        let mut after = Vec::new();
        formats(&schema, &mut after);
        assert!(after.is_empty(), "{after:?}");
        assert_eq!(schema["properties"]["count"]["minimum"], 0, "{schema}");
    }
}
