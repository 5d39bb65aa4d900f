//! Driving the simulated network (present only when the daemon runs on it): make someone write,
//! see what was sent, pull the plug and put it back, unlink the device.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use wamcp_core::{MessageId, MessageKind};
use wamcp_link::sim::{SimIncoming, SimMedia};

use super::AppState;
use super::send::parse_recipient;
use wamcp_api::http::{ApiError, JsonBody};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomingBody {
    pub from: String,
    #[serde(default)]
    pub chat: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub media: Option<IncomingMedia>,
    #[serde(default)]
    pub push_name: Option<String>,
    /// The message's id, to hand this device a message another device of the account already
    /// has (as the server does for every linked device); a new id when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// A reaction instead of a message: `from` reacts to message `to` of the chat.
    #[serde(default)]
    pub reaction: Option<IncomingReaction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomingReaction {
    /// The id of the message reacted to.
    pub to: String,
    /// The emoji; empty takes a reaction back.
    pub emoji: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomingMedia {
    /// image, video, audio, voice, document or sticker.
    pub kind: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub mimetype: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    /// Already expired on the media server.
    #[serde(default)]
    pub expired: bool,
    /// The file, base64: a real file of the kind is served when absent.
    #[serde(default)]
    pub data_base64: Option<String>,
}

fn network(app: &AppState) -> Result<&Arc<wamcp_link::sim::SimNetwork>, ApiError> {
    app.sim.as_ref().ok_or_else(|| ApiError::not_found("not running on the simulated network"))
}

pub async fn incoming(
    State(app): State<Arc<AppState>>,
    JsonBody(body): JsonBody<IncomingBody>,
) -> Result<Json<Value>, ApiError> {
    let sim = network(&app)?;
    let from = parse_recipient(&body.from)?;
    let chat = body.chat.as_deref().map(parse_recipient).transpose()?;
    if let Some(reaction) = body.reaction {
        if body.text.is_some() || body.media.is_some() {
            return Err(ApiError::bad_request("a reaction carries no text or media; send them apart"));
        }
        let chat_jid = chat.unwrap_or_else(|| from.clone());
        let id = wamcp_core::MessageId(reaction.to);
        sim.react(from, chat_jid.clone(), id.clone(), reaction.emoji, app.clock.now()).await;
        return Ok(Json(json!({"success": true, "id": id.to_string(), "chat_jid": chat_jid.to_string()})));
    }
    let media = match body.media {
        Some(media) => {
            let kind = MessageKind::parse(&media.kind).filter(|k| k.has_media()).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "media.kind: '{}' is not one of image, video, audio, voice, document, sticker",
                    media.kind
                ))
            })?;
            let data = match media.data_base64 {
                Some(encoded) => {
                    Some(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded.trim()).map_err(
                        |e| {
                            ApiError::bad_request(format!(
                                "media.data_base64: not base64 ({e}); give the file's bytes in standard base64"
                            ))
                        },
                    )?)
                }
                None => None,
            };
            Some(SimMedia {
                data,
                kind,
                file_name: media.file_name,
                mimetype: media.mimetype,
                caption: media.caption,
                expired: media.expired,
            })
        }
        None => None,
    };
    if body.text.is_none() && media.is_none() {
        return Err(ApiError::bad_request("give text, media or both"));
    }
    let id = match body.id {
        Some(id) if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) => {
            return Err(ApiError::bad_request(format!("id: '{id}' is not a message id (1 to 64 letters and digits)")));
        }
        id => id.map(MessageId),
    };
    let chat_jid = chat.clone().unwrap_or_else(|| from.clone());
    let id = sim
        .incoming(SimIncoming { from, chat, text: body.text, media, push_name: body.push_name, id }, app.clock.now())
        .await;
    Ok(Json(json!({"success": true, "id": id.to_string(), "chat_jid": chat_jid.to_string()})))
}

/// What left for the network: messages sent (with reactions, edits and deletions) and read
/// receipts.
pub async fn sent(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let network = network(&app)?;
    Ok(Json(json!({"sent": network.sent(), "read": network.read_marks()})))
}

pub async fn disconnect(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    network(&app)?.drop_connection().await;
    Ok(Json(json!({"success": true, "message": "the simulated network is down"})))
}

pub async fn log_out(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    network(&app)?.log_out().await;
    Ok(Json(json!({"success": true, "message": "the phone unlinked this device"})))
}

pub async fn reconnect(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    network(&app)?.restore_connection().await;
    Ok(Json(json!({"success": true, "message": "the simulated network is back"})))
}
