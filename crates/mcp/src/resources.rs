//! Chats as MCP resources: `resources/list` gives the recent chats, the template
//! `whatsapp://chat/{jid}` any chat, and reading one gives its recent transcript, fenced like
//! every rendering (clients such as Claude Code attach a resource by @-mention). A URI that names
//! nothing answers -32602 with the URI in `data` (SEP-2164).

use rmcp::ErrorData;
use rmcp::model::{ReadResourceResult, Resource, ResourceContents, ResourceTemplate};
use serde_json::json;
use wamcp_core::{Jid, MessageView, render};
use wamcp_store::Reader;
use wamcp_store::read::{ChatOrder, MessageFilter};

use crate::shape;

/// The scheme and path of a chat's URI, before its JID.
pub const CHAT_PREFIX: &str = "whatsapp://chat/";
/// The template clients fill in (the `jid` completes).
pub const CHAT_TEMPLATE: &str = "whatsapp://chat/{jid}";
/// How many recent chats `resources/list` shows, and messages a chat resource holds.
const LISTED_CHATS: u32 = 20;
const TRANSCRIPT_MESSAGES: u32 = 50;

/// The recent chats, newest activity first.
pub fn list(reader: &Reader) -> wamcp_store::Result<Vec<Resource>> {
    let chats = reader.list_chats(None, ChatOrder::LastActive, LISTED_CHATS, 0, false)?;
    Ok(chats
        .into_iter()
        .map(|chat| {
            let name = chat.name.clone().unwrap_or_else(|| chat.jid.clone());
            Resource::new(format!("{CHAT_PREFIX}{}", chat.jid), name)
                .with_description(format!("WhatsApp chat {}: its latest {TRANSCRIPT_MESSAGES} messages", chat.jid))
                .with_mime_type("text/plain")
        })
        .collect())
}

pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(CHAT_TEMPLATE, "chat")
            .with_title("A WhatsApp chat")
            .with_description(format!("A chat's latest {TRANSCRIPT_MESSAGES} messages, by its JID"))
            .with_mime_type("text/plain"),
    ]
}

/// The transcript a URI names.
pub fn read(reader: &Reader, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let not_found =
        |why: &str| ErrorData::invalid_params(format!("no resource at {uri}: {why}"), Some(json!({ "uri": uri })));
    let jid = uri
        .strip_prefix(CHAT_PREFIX)
        .map(|jid| jid.replace("%40", "@").replace("%3A", ":"))
        .ok_or_else(|| not_found("the resources are whatsapp://chat/{jid}"))?;
    let jid = Jid::parse(&jid).map_err(|e| not_found(&e.to_string()))?;
    let store = |e: wamcp_store::StoreError| ErrorData::internal_error(e.to_string(), None);
    if reader.chat(&jid, false).map_err(store)?.is_none() {
        return Err(not_found("there is no such chat"));
    }
    let filter = MessageFilter {
        chats: reader.identities(&jid).map_err(store)?,
        limit: TRANSCRIPT_MESSAGES,
        ..MessageFilter::default()
    };
    let mut messages: Vec<MessageView> =
        reader.list_messages(&filter).map_err(store)?.matches.into_iter().map(|m| m.message).collect();
    messages.reverse();
    let text = shape::within_budget(render::messages(&messages));
    Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri)]))
}
