//! What the CLI can plug into the daemon (the support desk, today) without this crate knowing
//! it: the plug gets the daemon's parts — its outbox for sending text, its event bus, its status
//! and its token — and gives back routes, served beside the API. Those routes pass the Host and
//! Origin checks like every route, but choose their own authentication (a public web form, a
//! signed webhook, the token).

use std::path::PathBuf;
use std::sync::{Arc, Weak};

use axum::Router;
use wamcp_core::{Jid, QueueError, QueueFuture, TextOutbox};

use crate::api::{AppState, MetricsSlot, StatusSlot};
use crate::events::EventBus;
use crate::status::Status;

/// The daemon's parts a plug may use.
pub struct Parts {
    pub outbox: Arc<dyn TextOutbox>,
    pub events: EventBus,
    pub status: Arc<Status>,
    /// The API token (`<data dir>/api-token`).
    pub token: String,
    /// The message store.
    pub store_path: PathBuf,
    /// Where the plug may put more lines for `/metrics`.
    pub metrics: MetricsSlot,
    /// Where the plug may put a section of `/api/status`.
    pub status_section: StatusSlot,
    /// Cancelled when the daemon stops: the plug's workers finish what they are doing and return.
    pub stop: tokio_util::sync::CancellationToken,
    /// Where the plug spawns its workers, so the daemon joins them when it stops.
    pub workers: tokio_util::task::TaskTracker,
}

/// A plug: called once, when the API starts.
pub type Extension = Box<dyn FnOnce(Parts) -> Router + Send>;

/// The outbox as the REST API fills it: the same checks, the same pending message in the store.
/// It holds the API's state weakly: once the API has stopped, the daemon's writer must be free to
/// finish, whoever still holds this handle.
pub(crate) struct ApiOutbox {
    pub app: Weak<AppState>,
    /// This bridge's id ([`crate::token::bridge_id`]).
    pub sender: String,
}

impl TextOutbox for ApiOutbox {
    fn queue_text<'a>(&'a self, to: &'a Jid, text: &'a str, idempotency_key: &'a str) -> QueueFuture<'a> {
        Box::pin(async move {
            let app = self.app.upgrade().ok_or_else(|| QueueError::Unavailable("the daemon is stopping".into()))?;
            let request = wamcp_api::SendMessage {
                recipient: to.to_string(),
                message: text.to_string(),
                idempotency_key: Some(idempotency_key.to_string()),
                ..Default::default()
            };
            app.send_message(request).await.map(|queued| queued.id).map_err(|e| {
                if e.status.is_client_error() {
                    QueueError::Refused(e.message)
                } else {
                    QueueError::Unavailable(e.message)
                }
            })
        })
    }

    fn sender(&self) -> &str {
        &self.sender
    }
}
