//! The wamcp daemon: a WhatsApp link, the store, and the ways programs reach them.
//!
//! Layout:
//! - [`daemon`]: starting everything, and stopping it cooperatively (`Daemon::start` →
//!   `Running::shutdown`).
//! - [`ingest`]: the one writer thread; link events and outbox results become batched
//!   transactions; callers are answered and events published after commit.
//! - [`outbox`]: sends queued in the store, delivered while connected, retried with backoff.
//! - [`connection`]: connecting, reconnecting with backoff after transient failures.
//! - [`media`]: attachments fetched into `media/<chat>/<id>.<ext>` with safe names;
//!   [`auto_download`] saves the chosen kinds as they arrive; [`voice`] makes any audio a voice
//!   note (ffmpeg) with its real length and waveform; [`transcription`] turns voice notes into
//!   text through an OpenAI-compatible endpoint, from a durable queue.
//! - [`group_names`]: subjects fetched for groups the history did not name.
//! - [`retention`]: messages older than `retention.days` removed daily, with their files.
//! - [`webhooks`]: events POSTed to configured URLs, signed, retried from a persisted queue.
//! - [`api`]: the REST API and event stream, behind the token/Host/Origin/JSON guard;
//!   [`mcp_http`]: the MCP tools at `/mcp` (streamable HTTP), behind the same guard.
//! - [`extension`]: routes the CLI plugs in (the support desk) with the daemon's parts.
//! - [`service_manager`]: sd_notify readiness, watchdog and stopping for systemd.
//! - [`events`], [`status`], [`metrics`]: what happened, and the daemon's state, for the API and
//!   Prometheus.
//! - `send_request`, `backoff`, `token`, `progress`: small helpers of the above.

pub mod api;
pub mod auto_download;
mod backoff;
pub mod connection;
pub mod daemon;
mod due_queue;
pub mod event_store;
pub mod events;
pub mod extension;
pub mod group_names;
pub mod ingest;
pub mod mcp_http;
pub mod media;
pub mod metrics;
pub mod outbox;
pub mod plain_copies;
mod progress;
pub mod readers;
pub mod retention;
mod send_request;
pub mod service_manager;
pub mod status;
pub mod token;
pub mod transcription;
pub mod voice;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use daemon::{Daemon, Running};
use wamcp_core::{Disconnect, MessageKind};
use wamcp_link::Link;
use wamcp_link::sim::SimNetwork;
use wamcp_mcp::policy::PolicySettings;

/// How the daemon is set up.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    /// Where the REST API listens; `None` runs without it.
    pub listen: Option<SocketAddr>,
    /// A Unix socket where the API and `/mcp` are served as well, without a token.
    pub socket: Option<api::socket::SocketSettings>,
    /// Host names (with port) accepted besides the listen address and localhost.
    pub allowed_hosts: Vec<String>,
    /// Files may be sent only from under these directories.
    pub media_roots: Vec<PathBuf>,
    /// URLs that receive every event as a signed JSON POST.
    pub webhooks: Vec<String>,
    /// Attachments of these kinds are saved as they arrive.
    pub auto_download: Vec<MessageKind>,
    /// Attachments are saved sealed (`encrypt_media`); needs the store to be encrypted.
    pub encrypt_media: bool,
    /// Who the tools at `/mcp` may message, and how often.
    pub policy: PolicySettings,
    /// Messages older than this many days are removed daily; `None` keeps everything.
    pub retention_days: Option<u32>,
    /// Where voice notes are transcribed; `None` leaves them as they are.
    pub transcription: Option<transcription::TranscriptionSettings>,
}

/// The link the daemon runs on.
pub enum LinkChoice {
    WhatsApp(Arc<dyn Link>),
    Sim(Arc<SimNetwork>),
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] wamcp_store::StoreError),
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: SocketAddr, error: std::io::Error },
    #[error("{0}")]
    Setup(String),
}

/// Why the daemon stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Shutdown was asked for (SIGTERM, SIGINT, the end of a test).
    Requested,
    /// The connection ended for a reason reconnecting cannot mend (logged out, client outdated,
    /// banned, stream replaced, refused again and again): the daemon stops instead of serving a
    /// dead account, and a service manager can tell which from the exit status.
    Final(Disconnect),
}

/// Connects once, stores everything the link hands over on connecting (a history sync), and
/// disconnects. `wamcp demo --no-serve` fills a store this way.
pub async fn sync_once(data_dir: &std::path::Path, link: Arc<dyn Link>) -> Result<(), DaemonError> {
    let store = event_store::EventStore::open(data_dir)?;
    link.connect(store.sender()).await.map_err(|e| DaemonError::Setup(format!("cannot connect: {e}")))?;
    link.disconnect().await;
    store.close().await;
    Ok(())
}
