//! The wamcp daemon: a WhatsApp link, the store, and the ways programs reach them.
//!
//! Layout:
//! - [`ingest`]: the one writer thread; link events and outbox results become batched
//!   transactions; callers are answered and events published after commit.
//! - [`outbox`]: sends queued in the store, delivered while connected, retried with backoff.
//! - [`connection`]: connecting, reconnecting with backoff after transient failures.
//! - [`media`]: attachments fetched into `media/<chat>/<id>.<ext>` with safe names;
//!   [`auto_download`] saves the chosen kinds as they arrive; [`voice`] makes any audio a voice
//!   note (ffmpeg) with its real length and waveform.
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
pub mod event_store;
pub mod events;
pub mod extension;
pub mod group_names;
pub mod ingest;
pub mod mcp_http;
pub mod media;
pub mod metrics;
pub mod outbox;
mod progress;
pub mod retention;
mod send_request;
pub mod service_manager;
pub mod status;
pub mod token;
pub mod voice;
pub mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tracing::info;
use wamcp_core::{Disconnect, MessageKind};
use wamcp_link::Link;
use wamcp_link::sim::SimNetwork;
use wamcp_mcp::audit::AuditTrail;
use wamcp_mcp::policy::{PolicyMode, SendPolicy};
use wamcp_store::{AuditLog, Reader, Writer};

use crate::auto_download::AutoDownload;
use crate::events::EventBus;
use crate::group_names::GroupNames;
use crate::ingest::Ingest;
use crate::status::Status;

/// How the daemon is set up.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    /// Where the REST API listens; `None` runs without it.
    pub listen: Option<SocketAddr>,
    /// Host names (with port) accepted besides the listen address and localhost.
    pub allowed_hosts: Vec<String>,
    /// Files may be sent only from under these directories.
    pub media_roots: Vec<PathBuf>,
    /// URLs that receive every event as a signed JSON POST.
    pub webhooks: Vec<String>,
    /// Attachments of these kinds are saved as they arrive.
    pub auto_download: Vec<MessageKind>,
    /// Who the tools at `/mcp` may message, and how often.
    pub send_policy: PolicyMode,
    pub sends_per_minute: u32,
    /// Messages older than this many days are removed daily; `None` keeps everything.
    pub retention_days: Option<u32>,
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

/// Runs the daemon until `shutdown` completes or the connection ends for good, then stops taking
/// requests, lets the writer commit what it has, and says why it stopped.
pub async fn run(
    config: DaemonConfig,
    link: LinkChoice,
    extension: Option<extension::Extension>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Stopped, DaemonError> {
    let holder = match link {
        LinkChoice::WhatsApp(_) => wamcp_store::Holder::Serve,
        LinkChoice::Sim(_) => wamcp_store::Holder::Demo,
    };
    let mut lock = wamcp_store::DataDir::at(&config.data_dir).lock_for(holder)?;
    let store_path = config.data_dir.join(wamcp_store::data_dir::STORE_FILE);
    let writer = Writer::open(&store_path)?;
    let status = Arc::new(Status::default());
    let events = EventBus::default();
    let targets = ingest::WebhookTargets { urls: config.webhooks.clone(), ..Default::default() };
    // Subscribed before the writer starts, so no message it commits goes by unseen.
    let arrivals = events.subscribe();
    let (group_names, unnamed_groups) = GroupNames::new();
    let (ingest, writer_thread) = Ingest::start(writer, status.clone(), events.clone(), targets.clone(), group_names);
    let webhook_task = if config.webhooks.is_empty() {
        None
    } else {
        let secret = token::load_or_create_secret(&config.data_dir.join(token::WEBHOOK_SECRET_FILE))
            .map_err(DaemonError::Setup)?;
        let worker = webhooks::Webhooks {
            ingest: ingest.clone(),
            reader: Mutex::new(Reader::open(&store_path)?),
            secret,
            status: status.clone(),
            wake: targets.wake.clone(),
        };
        Some(tokio::spawn(worker.run()))
    };
    let (link, link_kind, sim): (Arc<dyn Link>, _, _) = match link {
        LinkChoice::WhatsApp(link) => (link, "whatsapp", None),
        LinkChoice::Sim(sim) => (sim.clone() as Arc<dyn Link>, "sim", Some(sim)),
    };
    let outbox_wake = Arc::new(Notify::new());
    let outbox = outbox::Outbox {
        link: link.clone(),
        ingest: ingest.clone(),
        status: status.clone(),
        reader: Mutex::new(Reader::open(&store_path)?),
        data_dir: config.data_dir.clone(),
        wake: outbox_wake.clone(),
    };
    let outbox_task = tokio::spawn(outbox.run());
    let download_task = if config.auto_download.is_empty() {
        None
    } else {
        {
            let downloads = AutoDownload {
                kinds: config.auto_download.clone(),
                link: link.clone(),
                data_dir: config.data_dir.clone(),
                reader: Mutex::new(Reader::open(&store_path)?),
                ingest: ingest.clone(),
            };
            Some(tokio::spawn(downloads.run(arrivals)))
        }
    };
    let group_names_task = tokio::spawn(group_names::run(unnamed_groups, link.clone(), ingest.forward_link_events().0));
    let (gave_up, connection_ended) = tokio::sync::oneshot::channel();
    let connection_task = tokio::spawn({
        let (link, events, status) = (link.clone(), ingest.forward_link_events().0, status.clone());
        async move {
            if let Some(why) = connection::keep_connected(link, events, status).await {
                let _ = gave_up.send(why);
            }
        }
    });
    let watchdog_task = tokio::spawn(service_manager::watchdog(ingest.clone()));
    let stop = async move {
        let ended = async {
            match connection_ended.await {
                Ok(why) => why,
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown => Stopped::Requested,
            why = ended => Stopped::Final(why),
        }
    };
    let retention_task = config
        .retention_days
        .map(|days| tokio::spawn(retention::run(ingest.clone(), config.data_dir.clone(), days, status.clone())));

    let server = match config.listen {
        Some(addr) => {
            let token = token::load_or_create(&config.data_dir).map_err(DaemonError::Setup)?;
            let guard = Arc::new(api::guard::Guard::new(token, addr, &config.allowed_hosts));
            let app = Arc::new(api::AppState {
                link: link.clone(),
                link_kind,
                sim,
                ingest: ingest.clone(),
                reader: Mutex::new(Reader::open(&store_path)?),
                status: status.clone(),
                events: events.clone(),
                data_dir: config.data_dir.clone(),
                media_roots: config.media_roots.clone(),
                outbox_wake,
                extra_metrics: Default::default(),
                extra_status: Default::default(),
            });
            let routes = api::routes(app.clone());
            let audit = AuditTrail::start(AuditLog::open(&store_path)?, "http".to_string());
            let policy = Arc::new(SendPolicy::new(config.send_policy.clone(), config.sends_per_minute));
            let (mcp, end_sessions) =
                mcp_http::service(store_path.clone(), app.clone(), policy, Arc::new(audit), guard.hosts().to_vec());
            let mcp =
                axum::Router::new().fallback_service(mcp).layer(axum::middleware::from_fn(mcp_http::json_rpc_errors));
            let mut router = api::guarded(routes.nest_service("/mcp", mcp), guard.clone());
            if let Some(plug) = extension {
                let parts = extension::Parts {
                    outbox: Arc::new(extension::ApiOutbox(Arc::downgrade(&app))),
                    events: events.clone(),
                    status: status.clone(),
                    token: guard.token().to_string(),
                    metrics: app.extra_metrics.clone(),
                    status_section: app.extra_status.clone(),
                    store_path: store_path.clone(),
                };
                router = router.merge(api::host_checked(plug(parts), guard));
            }
            let listener =
                tokio::net::TcpListener::bind(addr).await.map_err(|error| DaemonError::Listen { addr, error })?;
            let bound = listener.local_addr().map_err(|error| DaemonError::Listen { addr, error })?;
            info!("REST API on http://{bound} (token in {})", config.data_dir.join(token::TOKEN_FILE).display());
            if let Err(e) = lock.announce(bound) {
                tracing::warn!("cannot record the API's address in the daemon lock: {e}");
            }
            service_manager::ready(&format!("serving on http://{bound}"));
            Some((listener, router, end_sessions))
        }
        None => None,
    };
    if server.is_none() {
        service_manager::ready("running without the REST API");
    }
    drop(ingest);
    let stopped = match server {
        Some((listener, router, end_sessions)) => {
            let (why, stopped) = tokio::sync::oneshot::channel();
            let shutdown = async move {
                let _ = why.send(stop.await);
                end_sessions();
            };
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(|e| DaemonError::Setup(format!("the API server failed: {e}")))?;
            stopped.await.unwrap_or(Stopped::Requested)
        }
        None => stop.await,
    };
    info!("shutting down ({stopped:?})");
    service_manager::stopping(&match &stopped {
        Stopped::Requested => "shutting down".to_string(),
        Stopped::Final(why) => why.advice(),
    });
    link.disconnect().await;
    connection_task.abort();
    outbox_task.abort();
    group_names_task.abort();
    for task in [webhook_task, retention_task, download_task, Some(watchdog_task)].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    let _ = connection_task.await;
    let _ = outbox_task.await;
    let _ = group_names_task.await;
    // The writer ends once every handle to it is gone, after committing what it was given.
    let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    Ok(stopped)
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
