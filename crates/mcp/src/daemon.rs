//! How the tools reach the daemon for anything that changes WhatsApp (sending, reacting,
//! marking read, downloading). The MCP server reads the store itself but never writes it: the
//! daemon owns the link and the outbox. This is its API over loopback HTTP; the daemon's own
//! `/mcp` hands the same typed requests to itself in process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use wamcp_api::events::EventStream;
use wamcp_api::{Answer, Method, Request, read_http_answer};
pub use wamcp_api::{Daemon, DaemonError};

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
}

#[async_trait::async_trait]
impl Daemon for HttpDaemon {
    async fn handle(&self, request: Request) -> Result<Answer, DaemonError> {
        let token = std::fs::read_to_string(&self.token_file)
            .map_err(|_| self.not_running(format!("no API token in {}", self.token_file.display())))?;
        let url = format!("http://{}{}", self.addr, request.path());
        let (agent, auth, method, body) =
            (self.agent.clone(), format!("Bearer {}", token.trim()), request.method(), request.body());
        let answered = tokio::task::spawn_blocking(move || {
            let response = match (method, body) {
                (Method::Post, body) => agent
                    .post(&url)
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(body.unwrap_or_default().as_bytes()),
                (Method::Get, _) => agent.get(&url).header("Authorization", &auth).call(),
            };
            let mut response = response?;
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_vec()?;
            Ok::<_, ureq::Error>((status, text))
        })
        .await
        .map_err(|e| DaemonError::Unreachable(e.to_string()))?;
        let (status, body) = answered.map_err(|e| self.not_running(e))?;
        read_http_answer(&request, status, &body)
    }

    async fn events(&self) -> Result<EventStream, DaemonError> {
        let token = std::fs::read_to_string(&self.token_file)
            .map_err(|_| self.not_running(format!("no API token in {}", self.token_file.display())))?;
        // The stream stays open for as long as it is listened to: no overall timeout.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        let (url, auth) = (format!("http://{}/api/events", self.addr), format!("Bearer {}", token.trim()));
        let opened = tokio::task::spawn_blocking(move || crate::daemon_events::subscribe(agent, url, auth)).await;
        opened.map_err(|e| DaemonError::Unreachable(e.to_string()))?.map_err(|e| self.not_running(e))
    }
}
