//! Chats as MCP resources: `resources/list` gives the recent chats, the template
//! `whatsapp://chat/{jid}` any chat, and reading one gives its recent transcript, fenced like
//! every rendering (clients such as Claude Code attach a resource by @-mention). A URI that names
//! nothing answers -32602 with the URI in `data` (SEP-2164).

use base64::Engine as _;
use rmcp::ErrorData;
use rmcp::model::{ReadResourceResult, Resource, ResourceContents, ResourceTemplate};
use serde_json::json;
use wamcp_core::{Jid, MessageView, render};
use wamcp_store::Reader;
use wamcp_store::read::{ChatOrder, MessageFilter};

use crate::shape;

/// The scheme and path of a chat's URI, before its JID.
pub const CHAT_PREFIX: &str = "whatsapp://chat/";
/// A downloaded attachment: `whatsapp://media/{chat_jid}/{message_id}`, as `download_media` links it.
pub const MEDIA_PREFIX: &str = "whatsapp://media/";
/// The largest attachment a resource read hands over (base64 makes it a third larger).
const MAX_MEDIA_BYTES: u64 = 10_000_000;
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
        ResourceTemplate::new("whatsapp://media/{chat_jid}/{message_id}", "media")
            .with_title("A downloaded WhatsApp attachment")
            .with_description(
                "The file of a message's image, video, audio or document, once download_media fetched it",
            ),
    ]
}

/// The link `download_media` hands back to a downloaded attachment.
pub fn media_link(chat: &Jid, id: &str, file_name: &str, mimetype: Option<&str>, size: Option<u64>) -> Resource {
    let mut link = Resource::new(format!("{MEDIA_PREFIX}{chat}/{id}"), file_name);
    if let Some(mimetype) = mimetype {
        link = link.with_mime_type(mimetype);
    }
    if let Some(size) = size {
        link = link.with_size(size);
    }
    link
}

/// The transcript a URI names.
pub fn read(reader: &Reader, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let not_found =
        |why: &str| ErrorData::invalid_params(format!("no resource at {uri}: {why}"), Some(json!({ "uri": uri })));
    if let Some(rest) = uri.strip_prefix(MEDIA_PREFIX) {
        return read_media(reader, uri, rest).map_err(|why| not_found(&why));
    }
    let jid = uri
        .strip_prefix(CHAT_PREFIX)
        .map(|jid| jid.replace("%40", "@").replace("%3A", ":"))
        .ok_or_else(|| not_found("the resources are whatsapp://chat/{jid} and whatsapp://media/{chat_jid}/{id}"))?;
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

/// A downloaded attachment's bytes; why not, when it cannot be read.
fn read_media(reader: &Reader, uri: &str, rest: &str) -> Result<ReadResourceResult, String> {
    let rest = rest.replace("%40", "@").replace("%3A", ":");
    let (chat, id) = rest.split_once('/').ok_or("give whatsapp://media/{chat_jid}/{message_id}")?;
    let chat = Jid::parse(chat).map_err(|e| e.to_string())?;
    let saved = crate::attachment::saved(reader, &chat, id, MAX_MEDIA_BYTES)?;
    let contents = ResourceContents::BlobResourceContents {
        uri: uri.to_string(),
        mime_type: saved.stored.media.mimetype,
        blob: base64::engine::general_purpose::STANDARD.encode(saved.bytes),
        meta: None,
    };
    Ok(ReadResourceResult::new(vec![contents]))
}
