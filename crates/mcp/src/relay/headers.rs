//! The HTTP headers a message of the 2026-07-28 revision carries on its way to the daemon: that
//! revision has no session, each message names its protocol version in `_meta`, and the daemon
//! wants it again as `MCP-Protocol-Version`, with the method and the name the message is about
//! as `Mcp-Method` and `Mcp-Name` (SEP-2243), so proxies can route without reading the body. A
//! message of an earlier revision (no version in `_meta`) gets none: its session says it all.

use base64::Engine as _;
use serde_json::Value;

/// `_meta` key under which a 2026-07-28 message names its protocol version.
const VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";

/// The headers for one message, as (name, value).
pub fn for_message(message: &str) -> Vec<(&'static str, String)> {
    let Ok(json) = serde_json::from_str::<Value>(message) else { return Vec::new() };
    let params = json.get("params");
    let version = params.and_then(|p| p.get("_meta")).and_then(|m| m.get(VERSION_META)).and_then(Value::as_str);
    let (Some(version), Some(method)) = (version, json.get("method").and_then(Value::as_str)) else {
        return Vec::new();
    };
    let mut headers = vec![("MCP-Protocol-Version", version.to_string()), ("Mcp-Method", method.to_string())];
    let name_key = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
        _ => None,
    };
    if let Some(name) = name_key.and_then(|key| params?.get(key)?.as_str()) {
        headers.push(("Mcp-Name", header_safe(name)));
    }
    headers
}

/// Whether a message names its protocol version in `_meta` (the 2026-07-28 revision on).
pub fn names_a_version(message: &str) -> bool {
    !for_message(message).is_empty()
}

/// A value as a header can carry it: as it is when it is plain ASCII, else `=?base64?…?=`.
fn header_safe(value: &str) -> String {
    let plain = value.chars().all(|c| (' '..='~').contains(&c))
        && !value.starts_with([' ', '\t'])
        && !value.ends_with([' ', '\t'])
        && !value.starts_with("=?base64?");
    if plain {
        value.to_string()
    } else {
        format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stateless_call_names_its_version_method_and_tool() {
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_chats",
            "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
        assert_eq!(
            for_message(call),
            [
                ("MCP-Protocol-Version", "2026-07-28".to_string()),
                ("Mcp-Method", "tools/call".to_string()),
                ("Mcp-Name", "list_chats".to_string())
            ]
        );
        let read = r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"whatsapp://chat/é",
            "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
        assert!(for_message(read)[2].1.starts_with("=?base64?"), "not ASCII: wrapped");
    }

    #[test]
    fn a_message_of_a_session_gets_no_headers() {
        assert!(for_message(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#).is_empty());
        assert!(for_message("not json").is_empty());
    }
}
