//! Endpoints that only look: liveness, status, one message, and media download (which fetches
//! and stores a file but changes no message).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use wamcp_core::Jid;

use super::AppState;
use super::error::{ApiError, JsonBody};
use super::send::parse_recipient;
use crate::media::SaveError;
use crate::status::Counters;

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn status(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let connection = app.status.connection();
    let counters = &app.status.counters;
    let mut answer = json!({
        "connection": connection,
        "link": app.link_kind,
        "outbox_depth": app.reader()?.outbox_depth()?,
        "messages_received": Counters::get(&counters.messages_received),
        "messages_sent": Counters::get(&counters.messages_sent),
        "sends_failed": Counters::get(&counters.sends_failed),
        "reconnects": Counters::get(&counters.reconnects),
        "history_sync": {
            "batches": Counters::get(&counters.history_batches),
            "messages": Counters::get(&counters.history_messages),
            "percent": Counters::get(&counters.history_percent),
        },
        "retention": {
            "runs": Counters::get(&counters.retention_runs),
            "messages_removed": Counters::get(&counters.retention_messages),
            "files_removed": Counters::get(&counters.retention_files),
        },
    });
    if let Some((name, section)) = app.extra_status.get() {
        answer[*name] = section();
    }
    Ok(Json(answer))
}

/// A message by chat and id, with the outbox's view of it when we sent it.
pub async fn message(
    State(app): State<Arc<AppState>>,
    Path((chat, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let chat = parse_recipient(&chat)?;
    let reader = app.reader()?;
    let outbox = reader.outbox_entry(&chat, &id)?;
    let stored = match reader.message_context(&id, Some(&chat), 0, 0) {
        Ok(found) => Some(found.message),
        Err(wamcp_store::StoreError::NotFound(_)) if outbox.is_some() => None,
        Err(other) => return Err(other.into()),
    };
    let mut answer = match &stored {
        Some(message) => serde_json::to_value(message).map_err(|e| ApiError::internal(e.to_string()))?,
        None => json!({"id": id, "chat_jid": chat.to_string(), "is_from_me": true}),
    };
    if let Some(entry) = outbox {
        answer["outbox"] = json!({
            "state": entry.state.as_str(),
            "attempts": entry.attempts,
            "error": entry.last_error,
            "queued_at": entry.created.to_rfc3339(),
        });
        if stored.is_none() {
            answer["status"] = json!(entry.state.delivery().as_str());
        }
    }
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadBody {
    pub message_id: String,
    pub chat_jid: String,
}

/// lharries' download: fetches the attachment and answers where it was saved.
pub async fn download(
    State(app): State<Arc<AppState>>,
    JsonBody(body): JsonBody<DownloadBody>,
) -> Result<Json<Value>, ApiError> {
    let chat: Jid = parse_recipient(&body.chat_jid)?;
    let local_path =
        crate::media::save(app.link.as_ref(), &app.data_dir, &app.reader, &app.ingest, &chat, &body.message_id)
            .await
            .map_err(|e| match e {
            SaveError::Store(e) => ApiError::from(e),
            SaveError::Link(_) => ApiError::new(axum::http::StatusCode::BAD_GATEWAY, e.to_string()),
            SaveError::Writer(e) => ApiError::internal(e),
        })?;
    Ok(Json(saved(&app, &local_path)))
}

fn saved(app: &AppState, local_path: &str) -> Value {
    let path = app.data_dir.join(local_path);
    json!({
        "success": true,
        "message": "Media downloaded",
        "filename": path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "path": path.display().to_string(),
    })
}

/// Prometheus metrics (token required, like everything but health).
pub async fn metrics(
    State(app): State<Arc<AppState>>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    let depth = app.reader()?.outbox_depth()?;
    let store_bytes =
        std::fs::metadata(app.data_dir.join(wamcp_store::data_dir::STORE_FILE)).map(|m| m.len()).unwrap_or(0);
    let mut body = crate::metrics::render(&app.status, depth, store_bytes);
    if let Some(extra) = app.extra_metrics.get() {
        body += &extra().await;
    }
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}
