//! Endpoints for the rest of what a WhatsApp client does: edit and delete own messages, show
//! typing, look up a group, ask the phone for older history, check numbers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use wamcp_core::{Jid, MessageId};
use wamcp_link::HistoryAnchor;

use super::AppState;
use super::error::{ApiError, JsonBody};
use super::send::parse_recipient;
use crate::send_request::Body;

/// Most older messages one history request asks for.
const MAX_HISTORY_REQUEST: u32 = 500;
/// Most numbers one check takes.
const MAX_NUMBERS: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    pub chat_jid: String,
    pub message_id: String,
    /// The new text.
    pub message: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Changes the text of one of our own messages.
pub async fn edit(
    State(app): State<Arc<AppState>>,
    JsonBody(body): JsonBody<EditBody>,
) -> Result<Json<Value>, ApiError> {
    let chat = parse_recipient(&body.chat_jid)?;
    let target = app.message_ref(&chat, &body.message_id)?;
    if !target.from_me {
        return Err(ApiError::bad_request("message_id: only your own messages can be edited"));
    }
    let text = body.message.trim_end().to_string();
    if text.is_empty() {
        return Err(ApiError::bad_request("message: empty; to remove a message, delete it"));
    }
    Ok(Json(app.enqueue_change(&chat, Body::Edit { target, text }, body.idempotency_key).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    pub chat_jid: String,
    pub message_id: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Deletes one of our own messages for everyone.
pub async fn delete(
    State(app): State<Arc<AppState>>,
    JsonBody(body): JsonBody<DeleteBody>,
) -> Result<Json<Value>, ApiError> {
    let chat = parse_recipient(&body.chat_jid)?;
    let target = app.message_ref(&chat, &body.message_id)?;
    if !target.from_me {
        app.check_group_admin(&chat).await?;
    }
    Ok(Json(app.enqueue_change(&chat, Body::Revoke { target }, body.idempotency_key).await?))
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypingBody {
    pub chat_jid: String,
    /// true shows "typing…", false clears it.
    #[serde(default = "default_true")]
    pub typing: bool,
}

pub async fn typing(
    State(app): State<Arc<AppState>>,
    JsonBody(body): JsonBody<TypingBody>,
) -> Result<Json<Value>, ApiError> {
    let chat = parse_recipient(&body.chat_jid)?;
    app.link.set_typing(&chat, body.typing).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    let shown = if body.typing { "shown" } else { "cleared" };
    Ok(Json(json!({"success": true, "message": format!("typing {shown} in {chat}")})))
}

/// A group's subject, description and members (with who is admin), from WhatsApp.
pub async fn group(State(app): State<Arc<AppState>>, Path(jid): Path<String>) -> Result<Json<Value>, ApiError> {
    let group = Jid::parse(&jid).ok().filter(|j| j.kind() == wamcp_core::JidKind::Group).ok_or_else(|| {
        ApiError::bad_request(format!("'{jid}' is not a group JID; group JIDs end in @g.us (list_groups shows them)"))
    })?;
    let info = app.link.group_info(&group).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    let participants: Vec<Value> =
        info.participants.iter().map(|p| json!({"jid": p.to_string(), "is_admin": info.admins.contains(p)})).collect();
    Ok(Json(json!({
        "success": true,
        "jid": info.jid.to_string(),
        "subject": info.subject,
        "description": info.description,
        "participants": participants,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryBody {
    pub chat_jid: String,
    /// How many older messages to ask for (1 to 500).
    pub count: u32,
}

/// Asks the phone for messages older than the oldest stored; they arrive as a history batch.
pub async fn history(
    State(app): State<Arc<AppState>>,
    JsonBody(body): JsonBody<HistoryBody>,
) -> Result<Json<Value>, ApiError> {
    let chat = parse_recipient(&body.chat_jid)?;
    if body.count == 0 || body.count > MAX_HISTORY_REQUEST {
        return Err(ApiError::bad_request(format!(
            "count: {} is out of range; ask for 1 to {MAX_HISTORY_REQUEST} messages",
            body.count
        )));
    }
    let oldest = app
        .reader()?
        .oldest_message(&chat)?
        .ok_or_else(|| ApiError::not_found(format!("{chat} has no messages yet: there is nothing to go back from")))?;
    let anchor = HistoryAnchor {
        chat: oldest.wire_chat.clone(),
        oldest_id: MessageId(oldest.id),
        oldest_from_me: oldest.from_me,
        oldest_at: oldest.at,
    };
    app.link.request_history(&anchor, body.count).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Json(json!({
        "success": true,
        "message": format!("asked the phone for {} messages of {chat} before {}; they arrive in the background", body.count, oldest.at),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumbersBody {
    /// Phone numbers with country code, in any notation.
    pub phones: Vec<String>,
}

/// Which numbers have WhatsApp.
pub async fn is_on_whatsapp(
    State(app): State<Arc<AppState>>,
    JsonBody(body): JsonBody<NumbersBody>,
) -> Result<Json<Value>, ApiError> {
    if body.phones.is_empty() || body.phones.len() > MAX_NUMBERS {
        return Err(ApiError::bad_request(format!("phones: give 1 to {MAX_NUMBERS} phone numbers")));
    }
    let mut digits = Vec::with_capacity(body.phones.len());
    for phone in &body.phones {
        let jid =
            Jid::parse_person(phone).ok().filter(|j| j.kind() == wamcp_core::JidKind::Phone).ok_or_else(|| {
                ApiError::bad_request(format!("phones: '{phone}' is not a phone number with country code"))
            })?;
        digits.push(jid.user().to_string());
    }
    let found = app.link.is_on_whatsapp(&digits).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    let results: Vec<Value> = body
        .phones
        .iter()
        .zip(found)
        .map(|(asked, (_, jid))| json!({"phone": asked, "on_whatsapp": jid.is_some(), "jid": jid.map(|j| j.to_string())}))
        .collect();
    Ok(Json(json!({"success": true, "results": results})))
}
