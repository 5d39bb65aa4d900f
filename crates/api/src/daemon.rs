//! The seam between whoever asks (the MCP tools, the CLI) and the daemon that acts: a
//! [`Daemon`] handles a [`Request`], over HTTP or in the same process, and [`Daemon::call`]
//! gives the caller the typed answer of the request it made.

use crate::endpoint::{Answer, Endpoint, Request};
use crate::events::EventStream;

/// A call the daemon could not answer, or refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaemonError {
    /// Not running, or not reachable: the user has to start it.
    #[error("{0}")]
    Unreachable(String),
    /// The daemon answered with an error; its message says what was wrong.
    #[error("{0}")]
    Refused(String),
}

/// Something that takes the daemon's requests: its HTTP API, or the daemon itself in process.
#[async_trait::async_trait]
pub trait Daemon: Send + Sync {
    async fn handle(&self, request: Request) -> Result<Answer, DaemonError>;

    /// The daemon's events from now on, for as long as the stream is held (or the daemon runs).
    async fn events(&self) -> Result<EventStream, DaemonError>;
}

impl dyn Daemon {
    /// Makes a request and answers with its own answer type.
    pub async fn call<E: Endpoint>(&self, request: E) -> Result<E::Answer, DaemonError> {
        let answer = self.handle(request.into()).await?;
        E::answer_of(answer).ok_or_else(|| {
            DaemonError::Refused(format!("the daemon answered {} with the answer to another request", E::PATH))
        })
    }
}

/// An HTTP answer as a caller takes it: the request's answer for a 2xx, else the daemon's
/// `message` as a refusal.
pub fn read_http_answer(request: &Request, status: u16, body: &[u8]) -> Result<Answer, DaemonError> {
    let call = format!("{} answered {status}", request.path());
    if (200..300).contains(&status) {
        return request
            .read_answer(body)
            .map_err(|e| DaemonError::Refused(format!("{call} with an answer wamcp cannot read ({e})")));
    }
    let refusal: Option<String> = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string));
    Err(DaemonError::Refused(refusal.unwrap_or_else(|| format!("{call}: {}", String::from_utf8_lossy(body)))))
}
