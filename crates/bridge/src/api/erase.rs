//! `POST /api/forget`: erasing a person while the daemon runs, through its one writer (so a
//! large erasure never makes the writer wait on another process's lock), then their files.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use wamcp_core::Jid;

use super::AppState;
use super::error::{ApiError, JsonBody};
use crate::ingest::Command;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetBody {
    /// A phone number or a person's JID.
    pub jid: String,
}

pub async fn forget(
    State(app): State<Arc<AppState>>,
    JsonBody(body): JsonBody<ForgetBody>,
) -> Result<Json<Value>, ApiError> {
    let person = Jid::parse_one_person(&body.jid).map_err(|e| ApiError::bad_request(format!("jid: {e}")))?;
    let (reply, erased) = oneshot::channel();
    app.ingest.send(Command::Forget { person: person.clone(), reply }).await.map_err(ApiError::unavailable)?;
    let erased = erased.await.map_err(|_| ApiError::internal("the store could not erase; nothing was removed"))?;
    let (dir, files) = (app.data_dir.clone(), erased.media_files.clone());
    let removed = tokio::task::spawn_blocking(move || wamcp_store::erase::remove_media_files(&dir, &files))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| {
            ApiError::internal(format!("the rows are gone, but an attachment file could not be deleted: {e}"))
        })?;
    Ok(Json(json!({
        "success": true,
        "jid": person.to_string(),
        "messages": erased.messages,
        "chats": erased.chats,
        "contacts": erased.contacts,
        "reactions": erased.reactions,
        "receipts": erased.receipts,
        "outbox_entries": erased.outbox_entries,
        "files": removed,
    })))
}
