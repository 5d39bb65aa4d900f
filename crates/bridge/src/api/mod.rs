//! The local REST API (axum): lharries' endpoints and wamcp's, behind one guard (token, Host,
//! Origin, JSON only; see [`guard`]).
//!
//! Each endpoint of `wamcp_api` is served by one generic handler that reads the typed request
//! and hands it to [`AppState::handle`], the same function the daemon's own `/mcp` calls in
//! process ([`dispatch::InProcess`]). The handlers behind it take and answer the API's types and
//! know nothing of HTTP.

mod actions;
mod dispatch;
mod erase;
mod error;
pub mod guard;
mod query;
mod send;
mod sim;
pub mod socket;
mod stream;
mod transcribe;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::routing::{get, post};
use tokio::sync::Notify;
use wamcp_link::Link;
use wamcp_link::sim::SimNetwork;

pub use dispatch::InProcess;
pub use error::store_error;
pub use wamcp_api::http::ApiError;
use wamcp_api::{
    Delete, Download, Edit, Endpoint, Forget, IsOnWhatsApp, MarkRead, React, RequestHistory, SendMessage, Transcribe,
    Typing,
};

use crate::events::EventBus;
use crate::ingest::Ingest;
use crate::status::Status;

/// Renders more Prometheus lines for `/metrics`.
pub type ExtraMetrics = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync>;

/// Set once by a plug, read by every `/metrics` request.
pub type MetricsSlot = Arc<OnceLock<ExtraMetrics>>;

/// A plug's section of `/api/status`: its name and what it reports now.
pub type StatusSection = (&'static str, Arc<dyn Fn() -> serde_json::Value + Send + Sync>);

/// Set once by a plug, read by every `/api/status` request.
pub type StatusSlot = Arc<OnceLock<StatusSection>>;

/// What the handlers share.
pub struct AppState {
    pub link: Arc<dyn Link>,
    pub link_kind: wamcp_api::LinkKind,
    pub sim: Option<Arc<SimNetwork>>,
    pub ingest: Ingest,
    /// Readers of the store, shared by the requests.
    pub readers: crate::readers::Readers,
    pub status: Arc<Status>,
    pub events: EventBus,
    /// Where attachments are saved (in the data directory), and whether sealed.
    pub media: crate::media::MediaFolder,
    /// Plain copies of sealed attachments, for `download`'s answer.
    pub plain_copies: Arc<crate::plain_copies::PlainCopies>,
    /// Files may be sent only from under these directories.
    pub media_roots: Vec<PathBuf>,
    pub outbox_wake: Arc<Notify>,
    /// Whether transcription is on (an endpoint is set): the queue's worker runs.
    pub transcription_on: bool,
    pub clock: Arc<dyn wamcp_core::Clock>,
    /// Cancelled when the daemon stops: open event streams end with it.
    pub stop: tokio_util::sync::CancellationToken,
    /// More lines for `/metrics`, from a plug (the desk).
    pub extra_metrics: MetricsSlot,
    /// A section of `/api/status`, from a plug (the desk).
    pub extra_status: StatusSlot,
}

impl AppState {
    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.media.data_dir
    }

    async fn reader(&self) -> Result<crate::readers::Pooled<'_>, ApiError> {
        self.readers.get().await.map_err(store_error)
    }
}

/// Every endpoint, unguarded: [`guarded`] puts the guard in front before serving them.
pub fn routes(app: Arc<AppState>) -> Router {
    let mut routes = Router::new()
        .route("/api/health", get(query::health))
        .route("/api/ready", get(query::ready))
        .route("/metrics", get(query::metrics))
        .route(wamcp_api::GetStatus::PATH, get(dispatch::status))
        .route(wamcp_api::GetGroup::PATH, get(dispatch::group))
        .route("/api/messages/{chat}/{id}", get(query::message))
        .route("/api/events", get(stream::events))
        .route(SendMessage::PATH, post(dispatch::serve::<SendMessage>))
        .route(React::PATH, post(dispatch::serve::<React>))
        .route(MarkRead::PATH, post(dispatch::serve::<MarkRead>))
        .route(Download::PATH, post(dispatch::serve::<Download>))
        .route(Edit::PATH, post(dispatch::serve::<Edit>))
        .route(Delete::PATH, post(dispatch::serve::<Delete>))
        .route(Typing::PATH, post(dispatch::serve::<Typing>))
        .route(RequestHistory::PATH, post(dispatch::serve::<RequestHistory>))
        .route(IsOnWhatsApp::PATH, post(dispatch::serve::<IsOnWhatsApp>))
        .route(Forget::PATH, post(dispatch::serve::<Forget>))
        .route(Transcribe::PATH, post(dispatch::serve::<Transcribe>));
    if app.sim.is_some() {
        routes = routes
            .route("/api/sim/incoming", post(sim::incoming))
            .route("/api/sim/sent", get(sim::sent))
            .route("/api/sim/disconnect", post(sim::disconnect))
            .route("/api/sim/reconnect", post(sim::reconnect))
            .route("/api/sim/logout", post(sim::log_out));
    }
    routes.with_state(app)
}

/// `routes` (and anything nested into them) behind the guard.
pub fn guarded(routes: Router, guard: Arc<guard::Guard>) -> Router {
    routes.layer(axum::middleware::from_fn_with_state(guard, guard::guard))
}

/// Routes that authenticate callers themselves, behind the Host and Origin checks only.
pub fn host_checked(routes: Router, guard: Arc<guard::Guard>) -> Router {
    routes.layer(axum::middleware::from_fn_with_state(guard, guard::host_guard))
}
