//! Where a typed request meets the handler for it: [`AppState::handle`] takes any request of
//! `wamcp_api` and answers it. The REST routes call it through [`serve`], and `/mcp` through
//! [`InProcess`], with no JSON in between.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use wamcp_api::events::{EventStream, Heard};
use wamcp_api::http::{ApiError, JsonBody};
use wamcp_api::{Answer, Daemon, DaemonError, DaemonStatus, Endpoint, GetGroup, GetStatus, GroupInfo, Request};

use super::AppState;

impl AppState {
    /// Answers one request of the daemon's API.
    pub async fn handle(&self, request: Request) -> Result<Answer, ApiError> {
        Ok(match request {
            Request::SendMessage(request) => Answer::SendMessage(self.send_message(request).await?),
            Request::React(request) => Answer::React(self.react(request).await?),
            Request::Edit(request) => Answer::Edit(self.edit(request).await?),
            Request::Delete(request) => Answer::Delete(self.delete(request).await?),
            Request::MarkRead(request) => Answer::MarkRead(self.mark_read(request).await?),
            Request::Typing(request) => Answer::Typing(self.typing(request).await?),
            Request::RequestHistory(request) => Answer::RequestHistory(self.history(request).await?),
            Request::Download(request) => Answer::Download(self.download(request).await?),
            Request::IsOnWhatsApp(request) => Answer::IsOnWhatsApp(self.is_on_whatsapp(request).await?),
            Request::Forget(request) => Answer::Forget(self.forget(request).await?),
            Request::Transcribe(request) => Answer::Transcribe(self.transcribe(request).await?),
            Request::GetStatus(GetStatus {}) => Answer::GetStatus(self.status_report().await?),
            Request::GetGroup(request) => Answer::GetGroup(self.group(request).await?),
        })
    }

    /// Answers a request with its own answer type.
    async fn answer<E: Endpoint>(&self, request: E) -> Result<E::Answer, ApiError> {
        let answer = self.handle(request.into()).await?;
        E::answer_of(answer)
            .ok_or_else(|| ApiError::internal(format!("{} was answered with another's answer", E::PATH)))
    }
}

/// A POST endpoint: its JSON body in, its answer out.
pub(super) async fn serve<E: Endpoint>(
    State(app): State<Arc<AppState>>,
    JsonBody(request): JsonBody<E>,
) -> Result<Json<E::Answer>, ApiError> {
    app.answer(request).await.map(Json)
}

pub(super) async fn status(State(app): State<Arc<AppState>>) -> Result<Json<DaemonStatus>, ApiError> {
    app.answer(GetStatus {}).await.map(Json)
}

pub(super) async fn group(
    State(app): State<Arc<AppState>>,
    Path(jid): Path<String>,
) -> Result<Json<GroupInfo>, ApiError> {
    app.answer(GetGroup { jid }).await.map(Json)
}

/// The daemon, called from inside it: what the tools at `/mcp` act through (the caller has
/// passed the guard at `/mcp` already).
pub struct InProcess(pub Arc<AppState>);

#[async_trait::async_trait]
impl Daemon for InProcess {
    async fn handle(&self, request: Request) -> Result<Answer, DaemonError> {
        self.0.handle(request).await.map_err(DaemonError::from)
    }

    async fn events(&self) -> Result<EventStream, DaemonError> {
        use futures::StreamExt;
        use tokio_stream::wrappers::BroadcastStream;
        use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
        let heard = BroadcastStream::new(self.0.events.subscribe()).map(|item| match item {
            Ok(event) => Heard::Event(event),
            Err(BroadcastStreamRecvError::Lagged(missed)) => Heard::Missed(missed),
        });
        Ok(Box::pin(heard.take_until(self.0.stop.clone().cancelled_owned())))
    }
}
