//! Endpoints that only look: liveness, status, one message, and media download (which fetches
//! and stores a file but changes no message).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use wamcp_api::http::ApiError;
use wamcp_api::{ConnectionState, DaemonStatus, Download, Downloaded, HistorySync, RetentionReport};
use wamcp_core::Jid;

use super::send::parse_recipient;
use super::{AppState, store_error};
use crate::media::SaveError;
use crate::status::Counters;

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: 200 while connected to WhatsApp, 503 otherwise, with the connection state either
/// way (a load balancer or Kubernetes sends work only to a bridge that can deliver it).
pub async fn ready(State(app): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    let connection = app.status.connection();
    let connected = connection.state == ConnectionState::Connected;
    let code = if connected { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(json!({"ready": connected, "connection": connection.state})))
}

impl AppState {
    /// What `/api/status` and `get_status` report.
    pub(super) async fn status_report(&self) -> Result<DaemonStatus, ApiError> {
        let counters = &self.status.counters;
        let mut report = DaemonStatus {
            connection: self.status.connection(),
            link: self.link_kind,
            outbox_depth: self.reader().await?.outbox_depth().map_err(store_error)?,
            messages_received: Counters::get(&counters.messages_received),
            messages_sent: Counters::get(&counters.messages_sent),
            sends_failed: Counters::get(&counters.sends_failed),
            reconnects: Counters::get(&counters.reconnects),
            history_sync: HistorySync {
                batches: Counters::get(&counters.history_batches),
                messages: Counters::get(&counters.history_messages),
                percent: Counters::get(&counters.history_percent),
            },
            retention: RetentionReport {
                runs: Counters::get(&counters.retention_runs),
                messages_removed: Counters::get(&counters.retention_messages),
                files_removed: Counters::get(&counters.retention_files),
            },
            sections: serde_json::Map::new(),
        };
        if let Some((name, section)) = self.extra_status.get() {
            report.sections.insert(name.to_string(), section());
        }
        Ok(report)
    }

    /// lharries' download: fetches the attachment and answers where it was saved; a sealed one
    /// (`encrypt_media`) is answered with a plain copy that is removed after a while.
    pub(super) async fn download(&self, request: Download) -> Result<Downloaded, ApiError> {
        let chat: Jid = parse_recipient(&request.chat_jid)?;
        let local_path = crate::media::save(
            self.link.as_ref(),
            &self.media,
            &self.readers,
            &self.ingest,
            &chat,
            &request.message_id,
        )
        .await
        .map_err(|e| match e {
            SaveError::Store(e) => store_error(e),
            SaveError::Link(_) => ApiError::bad_gateway(e.to_string()),
            SaveError::Writer(e) => ApiError::internal(e),
        })?;
        let path = self.readable(local_path).await?;
        Ok(Downloaded {
            success: true,
            message: "Media downloaded".into(),
            filename: path.file_name().map(|n| n.to_string_lossy().into_owned()),
            path: path.display().to_string(),
        })
    }
}

impl AppState {
    /// The attachment saved at `local_path`, as a file its reader can open: the saved one, or a
    /// plain copy when it is sealed.
    async fn readable(&self, local_path: String) -> Result<std::path::PathBuf, ApiError> {
        let saved = self.media.data_dir.join(&local_path);
        let Some(seal) = self.media.seal.clone() else { return Ok(saved) };
        let (copies, data_dir) = (self.plain_copies.clone(), self.media.data_dir.clone());
        tokio::task::spawn_blocking(move || {
            if !wamcp_store::media_seal::is_sealed(&saved)? {
                return Ok(saved);
            }
            copies.copy(&seal, &data_dir, &local_path)
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(format!("cannot open the saved attachment: {e}")))
    }
}

/// A message by chat and id, with the outbox's view of it when we sent it.
pub async fn message(
    State(app): State<Arc<AppState>>,
    Path((chat, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let chat = parse_recipient(&chat)?;
    let reader = app.reader().await?;
    let outbox = reader.outbox_entry(&chat, &id).map_err(store_error)?;
    let stored = match reader.message_context(&id, Some(&chat), 0, 0) {
        Ok(found) => Some(found.message),
        Err(wamcp_store::StoreError::NotFound(_)) if outbox.is_some() => None,
        Err(other) => return Err(store_error(other)),
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

/// Prometheus metrics (token required, like everything but health).
pub async fn metrics(
    State(app): State<Arc<AppState>>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    let depth = app.reader().await?.outbox_depth().map_err(store_error)?;
    let store_bytes =
        std::fs::metadata(app.data_dir().join(wamcp_store::data_dir::STORE_FILE)).map(|m| m.len()).unwrap_or(0);
    let mut body = crate::metrics::render(&app.status, depth, store_bytes);
    if let Some(extra) = app.extra_metrics.get() {
        body += &extra().await;
    }
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}
