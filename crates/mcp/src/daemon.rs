//! How the tools reach the daemon for anything that changes WhatsApp (sending, reacting,
//! marking read, downloading). The MCP server reads the store itself but never writes it: the
//! daemon owns the link and the outbox, and its REST API is the one way in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// A call the daemon could not answer, or refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DaemonError {
    /// Not running, or not reachable: the user has to start it.
    #[error("{0}")]
    Unreachable(String),
    /// The daemon answered with an error; its message says what was wrong.
    #[error("{0}")]
    Refused(String),
}

/// The daemon's REST API, by method and path.
#[async_trait::async_trait]
pub trait Daemon: Send + Sync {
    async fn get(&self, path: &str) -> Result<Value, DaemonError>;
    async fn post(&self, path: &str, body: Value) -> Result<Value, DaemonError>;
}

/// The daemon over loopback HTTP, with the token from its data directory.
pub struct HttpDaemon {
    addr: SocketAddr,
    token_file: PathBuf,
    agent: ureq::Agent,
}

/// How long a call may take: sends are answered once queued, so this is generous.
const TIMEOUT: Duration = Duration::from_secs(60);

impl HttpDaemon {
    pub fn new(addr: SocketAddr, token_file: PathBuf) -> HttpDaemon {
        let agent =
            ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).http_status_as_error(false).build().into();
        HttpDaemon { addr, token_file, agent }
    }

    fn not_running(&self, why: impl std::fmt::Display) -> DaemonError {
        DaemonError::Unreachable(format!(
            "the wamcp daemon is not reachable at http://{} ({why}); start it with `wamcp serve` \
             (or `wamcp demo` to try the simulated network), then try again",
            self.addr
        ))
    }

    async fn call(&self, method: &'static str, path: &str, body: Option<Value>) -> Result<Value, DaemonError> {
        let token = std::fs::read_to_string(&self.token_file)
            .map_err(|_| self.not_running(format!("no API token in {}", self.token_file.display())))?;
        let url = format!("http://{}{path}", self.addr);
        let (agent, auth) = (self.agent.clone(), format!("Bearer {}", token.trim()));
        let answered = tokio::task::spawn_blocking(move || {
            let response = match body {
                Some(body) => agent
                    .post(&url)
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(body.to_string().as_bytes()),
                None => agent.get(&url).header("Authorization", &auth).call(),
            };
            let mut response = response?;
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string()?;
            Ok::<_, ureq::Error>((status, text))
        })
        .await
        .map_err(|e| DaemonError::Unreachable(e.to_string()))?;
        let (status, text) = answered.map_err(|e| self.not_running(e))?;
        read_answer(&format!("{method} {path}"), status, text.as_bytes())
    }
}

/// A REST answer as the tools take it: the JSON of a 2xx, else the daemon's `message` as a
/// refusal. Shared by the socket client here and the daemon's in-process one.
pub fn read_answer(call: &str, status: u16, body: &[u8]) -> Result<Value, DaemonError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| DaemonError::Refused(format!("{call} answered {status}: {}", String::from_utf8_lossy(body))))?;
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        Err(DaemonError::Refused(value["message"].as_str().map(str::to_string).unwrap_or_else(|| value.to_string())))
    }
}

#[async_trait::async_trait]
impl Daemon for HttpDaemon {
    async fn get(&self, path: &str) -> Result<Value, DaemonError> {
        self.call("GET", path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, DaemonError> {
        self.call("POST", path, Some(body)).await
    }
}
