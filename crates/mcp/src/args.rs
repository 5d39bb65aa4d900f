//! Tool parameters: names and defaults as lharries/whatsapp-mcp, limits, and validation.
//!
//! Arguments are read with the path of any bad field, so an error says which parameter was wrong
//! and what it accepts, instead of a bare "invalid type".

use serde::Deserialize;
use serde::de::DeserializeOwned;
use wamcp_core::{Jid, Timestamp};

/// Most messages one `list_messages` page returns; larger limits are lowered to this.
pub const MAX_MESSAGES: i64 = 200;
/// Most chats one page returns.
pub const MAX_CHATS: i64 = 100;
/// Most context messages on each side of a message.
pub const MAX_CONTEXT: i64 = 20;
/// The last page number accepted. Far beyond any store (a million pages of 200 is 200 million
/// messages), and small enough that its row offset never overflows a database integer.
pub const MAX_PAGE: i64 = 1_000_000;

/// Reads a tool's arguments into its parameter struct, naming the parameter that did not fit.
pub fn parse<T: DeserializeOwned>(arguments: rmcp::model::JsonObject) -> Result<T, String> {
    serde_path_to_error::deserialize(serde_json::Value::Object(arguments)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("invalid arguments: {}", e.inner())
        } else {
            format!("invalid value for parameter '{path}': {}", e.inner())
        }
    })
}

/// Removes the arguments a tool does not take (by its input schema) and names them. Like
/// lharries/whatsapp-mcp, which ignores them, the call goes on; unlike it, the caller is told.
pub fn drop_unknown(arguments: &mut Option<rmcp::model::JsonObject>, schema: &rmcp::model::JsonObject) -> Vec<String> {
    let (Some(arguments), Some(serde_json::Value::Object(known))) = (arguments.as_mut(), schema.get("properties"))
    else {
        return Vec::new();
    };
    let unknown: Vec<String> = arguments.keys().filter(|name| !known.contains_key(*name)).cloned().collect();
    for name in &unknown {
        arguments.remove(name);
    }
    unknown
}

/// What a result says about arguments it ignored: their names (cut short, one line) and the
/// parameters the tool takes.
pub fn ignored_note(unknown: &[String], schema: &rmcp::model::JsonObject) -> String {
    let shown: Vec<String> = unknown
        .iter()
        .take(5)
        .map(|name| format!("'{}'", name.chars().take(40).filter(|c| !c.is_control()).collect::<String>()))
        .collect();
    let takes: Vec<&str> = match schema.get("properties") {
        Some(serde_json::Value::Object(known)) => known.keys().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    format!("[Ignored unknown parameter(s) {}; this tool takes: {}.]", shown.join(", "), takes.join(", "))
}

pub(crate) fn default_limit() -> i64 {
    20
}
fn default_true() -> bool {
    true
}
fn default_one() -> i64 {
    1
}
fn default_five() -> i64 {
    5
}
fn default_sort() -> String {
    "last_active".to_string()
}

/// How a read tool hands its result to the model as text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The compact readable rendering.
    #[default]
    Text,
    /// The structured result as JSON text.
    Json,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchContactsArgs {
    /// Text to find in contact names (address book, push or business name) or phone numbers;
    /// accents and case are ignored, phone numbers match with or without +, spaces or dashes.
    pub query: String,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMessagesArgs {
    /// Only messages after this time: RFC 3339 (2025-03-01T14:30:00+01:00) or a date (2025-03-01, UTC).
    #[schemars(with = "String")]
    pub after: Option<String>,
    /// Only messages before this time: RFC 3339 or a date (UTC).
    #[schemars(with = "String")]
    pub before: Option<String>,
    /// Only messages from this person: a phone number with country code (+, spaces and dashes allowed) or a JID.
    #[schemars(with = "String")]
    pub sender_phone_number: Option<String>,
    /// Only messages in this chat (a JID such as 15551234567@s.whatsapp.net or 120363…@g.us).
    #[schemars(with = "String")]
    pub chat_jid: Option<String>,
    /// Only messages whose text or caption has these words, in this order (whole words, accents and case ignored; end with * to match the start of the last word, e.g. meet*).
    #[schemars(with = "String")]
    pub query: Option<String>,
    /// Messages per page, 1 to 200.
    #[serde(default = "default_limit")]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub limit: i64,
    /// Page number, 0 to 1000000.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1_000_000))]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub page: i64,
    /// Whether to include messages before and after each match.
    #[serde(default = "default_true")]
    #[serde(deserialize_with = "crate::lenient::boolean")]
    pub include_context: bool,
    /// Messages of context before each match, 0 to 20.
    #[serde(default = "default_one")]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub context_before: i64,
    /// Messages of context after each match, 0 to 20.
    #[serde(default = "default_one")]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub context_after: i64,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChatsArgs {
    /// Only chats whose name or JID contains this text (accents and case ignored).
    #[schemars(with = "String")]
    pub query: Option<String>,
    /// Chats per page, 1 to 100.
    #[serde(default = "default_limit")]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub limit: i64,
    /// Page number, 0 to 1000000.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1_000_000))]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub page: i64,
    /// Whether to include each chat's newest message.
    #[serde(default = "default_true")]
    #[serde(deserialize_with = "crate::lenient::boolean")]
    pub include_last_message: bool,
    /// Order: "last_active" (newest activity first) or "name".
    #[serde(default = "default_sort")]
    pub sort_by: String,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetChatArgs {
    /// The chat's JID (15551234567@s.whatsapp.net, 120363…@g.us); a phone number also works.
    pub chat_jid: String,
    /// Whether to include the chat's newest message.
    #[serde(default = "default_true")]
    #[serde(deserialize_with = "crate::lenient::boolean")]
    pub include_last_message: bool,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectChatArgs {
    /// The person's phone number with country code (+, spaces and dashes allowed).
    pub sender_phone_number: String,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactChatsArgs {
    /// The person's JID (phone or LID) or phone number; a group's JID gives that group.
    pub jid: String,
    /// Chats per page, 1 to 100.
    #[serde(default = "default_limit")]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub limit: i64,
    /// Page number, 0 to 1000000.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1_000_000))]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub page: i64,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LastInteractionArgs {
    /// The person's JID (phone or LID) or phone number; a group's JID gives that group.
    pub jid: String,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageContextArgs {
    /// The message id (shown after # in every message line).
    pub message_id: String,
    /// Messages before it, 0 to 20.
    #[serde(default = "default_five")]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub before: i64,
    /// Messages after it, 0 to 20.
    #[serde(default = "default_five")]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub after: i64,
    /// The chat of the message; needed only when the same id is in several chats.
    #[schemars(with = "String")]
    pub chat_jid: Option<String>,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: Format,
}

/// A page size: 1 to `max`. Larger is lowered to `max`, and so is a negative one, which
/// lharries/whatsapp-mcp hands to SQL as "no limit".
pub fn limit(name: &str, value: i64, max: i64) -> Result<u32, String> {
    if value == 0 {
        return Err(format!("invalid value for parameter '{name}': 0; use a number from 1 to {max}"));
    }
    Ok(if value < 0 { max } else { value.min(max) } as u32)
}

/// A page number, 0 to [`MAX_PAGE`] (a negative one is page 0, as SQL reads a negative offset).
/// Returns the row offset for the page size.
pub fn offset(value: i64, limit: u32) -> Result<u64, String> {
    if value > MAX_PAGE {
        return Err(format!("invalid value for parameter 'page': {value}; pages are numbered from 0 to {MAX_PAGE}"));
    }
    Ok(value.max(0) as u64 * u64::from(limit))
}

/// A context size: 0 to [`MAX_CONTEXT`]. Larger is lowered, and so is a negative one (to SQL,
/// "no limit").
pub fn context(value: i64) -> u32 {
    if value < 0 { MAX_CONTEXT as u32 } else { value.min(MAX_CONTEXT) as u32 }
}

/// An optional time bound.
pub fn time(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, String> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| Timestamp::parse_user(v).map_err(|e| format!("invalid value for parameter '{name}': {e}")))
        .transpose()
}

/// A chat JID; a phone number is taken as that person's chat.
pub fn chat_jid(name: &str, value: &str) -> Result<Jid, String> {
    Jid::parse_person(value).map_err(|e| match e {
        wamcp_core::JidError::Phone(_) => format!(
            "invalid value for parameter '{name}': '{value}' is neither a chat JID (user@server, e.g. \
             15551234567@s.whatsapp.net or 120363025246125888@g.us) nor a phone number with country code"
        ),
        other => format!("invalid value for parameter '{name}': {other}"),
    })
}

/// A person: phone number in any common notation, or a phone / LID JID.
pub fn person(name: &str, value: &str) -> Result<Jid, String> {
    let jid = Jid::parse_person(value).map_err(|e| format!("invalid value for parameter '{name}': {e}"))?;
    if !jid.is_person() {
        return Err(format!(
            "invalid value for parameter '{name}': '{value}' is a group or broadcast JID; give a person's phone number or JID"
        ));
    }
    Ok(jid)
}

/// A person or a chat, where either makes sense (as in lharries/whatsapp-mcp, whose
/// `get_last_interaction` and `get_contact_chats` match a JID as sender or as chat).
pub fn person_or_chat(name: &str, value: &str) -> Result<Jid, String> {
    Jid::parse_person(value).map_err(|e| format!("invalid value for parameter '{name}': {e}"))
}

/// `get_media`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetMediaArgs {
    /// The id of the message with the attachment (downloaded already, by download_media).
    pub message_id: String,
    /// The JID of its chat.
    pub chat_jid: String,
}

/// `read_document`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadDocumentArgs {
    /// The id of the message with the document (downloaded already, by download_media).
    pub message_id: String,
    /// The JID of its chat.
    pub chat_jid: String,
    /// Which pages: "3", "2-5" or "4-" (from page 4 on), counting from 1. Default: from the
    /// first, as many as fit.
    #[serde(default, deserialize_with = "crate::lenient::text")]
    pub pages: Option<String>,
}
