//! Starting the daemon and stopping it cooperatively.
//!
//! [`Daemon::start`] opens the store, starts the writer and every worker (outbox, webhooks,
//! connection, auto-download, transcription, group names, retention, the watchdog, and whatever a plug starts),
//! and serves the API; it answers with a [`Running`] handle. [`Running::shutdown`] stops in this
//! order:
//! 1. one cancellation token tells everything to stop: the API takes no new requests, open event
//!    streams and MCP sessions end, and each worker finishes what it is doing and returns (the
//!    outbox the send under way, a webhook its delivery, the desk its round);
//! 2. the requests in flight are answered;
//! 3. the workers are joined, within [`FINISH_WITHIN`]; any still busy then is aborted (a send
//!    cut off there is sent again under the same id on the next start, so it arrives once);
//! 4. the link disconnects;
//! 5. the writer commits what it was given and ends; the data-dir lock is released last.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};
use wamcp_api::LinkKind;
use wamcp_core::{Clock, Disconnect, SystemClock};
use wamcp_link::Link;
use wamcp_mcp::audit::AuditTrail;
use wamcp_mcp::policy::SendPolicy;
use wamcp_store::{AuditLog, Reader, Writer};

use crate::api::socket;
use crate::auto_download::AutoDownload;
use crate::events::EventBus;
use crate::group_names::GroupNames;
use crate::ingest::{self, Ingest};
use crate::media::MediaFolder;
use crate::plain_copies::PlainCopies;
use crate::readers::{API_READERS, Readers};
use crate::status::Status;
use crate::{
    DaemonConfig, DaemonError, LinkChoice, Stopped, api, connection, extension, group_names, mcp_http, outbox,
    retention, service_manager, token, transcription, webhooks,
};

/// How long the workers have to finish what they are doing once asked to stop.
pub const FINISH_WITHIN: Duration = Duration::from_secs(10);

/// What to start: the configuration, the link, and optionally a plug and a clock.
pub struct Daemon {
    config: DaemonConfig,
    link: LinkChoice,
    extension: Option<extension::Extension>,
    clock: Arc<dyn Clock>,
}

/// A started daemon: where it listens, what it reports, and how to stop it.
pub struct Running {
    addr: Option<SocketAddr>,
    status: Arc<Status>,
    events: EventBus,
    stop: CancellationToken,
    workers: TaskTracker,
    /// The workers' handles, to abort any that outlive [`FINISH_WITHIN`].
    handles: Vec<JoinHandle<()>>,
    /// The API's servers: on TCP, and on the Unix socket when there is one.
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    end_sessions: Vec<Box<dyn FnOnce() + Send>>,
    /// The socket file the daemon made, removed once it stops (one systemd made stays).
    socket: Option<std::path::PathBuf>,
    link: Arc<dyn Link>,
    ended: oneshot::Receiver<Disconnect>,
    ingest: Ingest,
    writer_thread: std::thread::JoinHandle<()>,
    /// Removed when the daemon stops: no plain copy of a sealed attachment outlives it.
    plain_copies: Arc<PlainCopies>,
    lock: wamcp_store::data_dir::DaemonLock,
}

impl Daemon {
    pub fn new(config: DaemonConfig, link: LinkChoice) -> Daemon {
        Daemon { config, link, extension: None, clock: Arc::new(SystemClock) }
    }

    /// Routes and workers a plug (the desk) adds.
    pub fn with_extension(mut self, extension: Option<extension::Extension>) -> Daemon {
        self.extension = extension;
        self
    }

    /// The clock the daemon stamps and schedules with (tests set their own).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Daemon {
        self.clock = clock;
        self
    }

    /// Starts everything and serves the API (when configured); answers once it listens.
    pub async fn start(self) -> Result<Running, DaemonError> {
        let Daemon { config, link, extension, clock } = self;
        let holder = match link {
            LinkChoice::WhatsApp(_) => wamcp_store::Holder::Serve,
            LinkChoice::Sim(_) => wamcp_store::Holder::Demo,
        };
        refuse_plain_store_for_sealing(&config)?;
        let mut lock = wamcp_store::DataDir::at(&config.data_dir).lock_for(holder)?;
        let store_path = config.data_dir.join(wamcp_store::data_dir::STORE_FILE);
        let mut writer = Writer::open(&store_path)?;
        let media = media_folder(&config, &mut writer)?;
        let plain_copies = Arc::new(PlainCopies::new());
        let status = Arc::new(Status::default());
        let events = EventBus::default();
        let targets = ingest::WebhookTargets { urls: config.webhooks.clone(), ..Default::default() };
        let transcription = ingest::TranscriptionTargets {
            auto: config.transcription.as_ref().map(|t| t.auto.clone()).unwrap_or_default(),
            ..Default::default()
        };
        // Subscribed before the writer starts, so no message it commits goes by unseen.
        let arrivals = events.subscribe();
        let (group_names, unnamed_groups) = GroupNames::new();
        let (ingest, writer_thread) = Ingest::start(
            writer,
            status.clone(),
            events.clone(),
            targets.clone(),
            transcription.clone(),
            group_names,
            clock.clone(),
        );
        let (stop, workers) = (CancellationToken::new(), TaskTracker::new());
        let mut handles = Vec::new();
        let mut spawn = |task: Task| handles.push(workers.spawn(task));

        let (link, link_kind, sim): (Arc<dyn Link>, _, _) = match link {
            LinkChoice::WhatsApp(link) => (link, LinkKind::Whatsapp, None),
            LinkChoice::Sim(sim) => (sim.clone() as Arc<dyn Link>, LinkKind::Sim, Some(sim)),
        };
        if !config.webhooks.is_empty() {
            let secret = token::load_or_create_secret(&config.data_dir.join(token::WEBHOOK_SECRET_FILE))
                .map_err(DaemonError::Setup)?;
            let worker = webhooks::Webhooks {
                ingest: ingest.clone(),
                reader: Mutex::new(Reader::open(&store_path)?),
                secret,
                status: status.clone(),
                wake: targets.wake.clone(),
                clock: clock.clone(),
            };
            spawn(Box::pin(worker.run(stop.clone())));
        }
        let outbox_wake = Arc::new(Notify::new());
        let outbox = outbox::Outbox {
            link: link.clone(),
            ingest: ingest.clone(),
            status: status.clone(),
            reader: Mutex::new(Reader::open(&store_path)?),
            data_dir: config.data_dir.clone(),
            wake: outbox_wake.clone(),
            clock: clock.clone(),
        };
        spawn(Box::pin(outbox.run(stop.clone())));
        if !config.auto_download.is_empty() {
            let downloads = AutoDownload {
                kinds: config.auto_download.clone(),
                link: link.clone(),
                media: media.clone(),
                readers: Readers::open(&store_path, 1)?,
                ingest: ingest.clone(),
            };
            spawn(until(&stop, downloads.run(arrivals)));
        }
        if let Some(settings) = &config.transcription {
            let worker = transcription::Transcriber {
                settings: settings.clone(),
                link: link.clone(),
                media: media.clone(),
                readers: Readers::open(&store_path, 1)?,
                ingest: ingest.clone(),
                wake: transcription.wake.clone(),
                clock: clock.clone(),
            };
            spawn(Box::pin(worker.run(stop.clone())));
        }
        spawn(until(&stop, group_names::run(unnamed_groups, link.clone(), ingest.forward_link_events().0)));
        let (gave_up, ended) = oneshot::channel();
        let (link_events, status_for_link) = (ingest.forward_link_events().0, status.clone());
        spawn(until(&stop, {
            let link = link.clone();
            async move {
                if let Some(why) = connection::keep_connected(link, link_events, status_for_link).await {
                    let _ = gave_up.send(why);
                }
            }
        }));
        spawn(until(&stop, service_manager::watchdog(ingest.clone())));
        if media.seal.is_some() {
            spawn(until(&stop, remove_expired_copies(plain_copies.clone())));
        }
        if let Some(keep_days) = config.retention_days {
            let retention = retention::Retention {
                ingest: ingest.clone(),
                data_dir: config.data_dir.clone(),
                keep_days,
                status: status.clone(),
                clock: clock.clone(),
            };
            spawn(Box::pin(retention::run(retention, stop.clone())));
        }

        let Some(addr) = config.listen else {
            service_manager::ready("running without the REST API");
            return Ok(Running {
                addr: None,
                status,
                events,
                stop,
                workers,
                handles,
                servers: Vec::new(),
                end_sessions: Vec::new(),
                socket: None,
                link,
                ended,
                ingest,
                writer_thread,
                plain_copies,
                lock,
            });
        };
        // Bound first: with port 0 the port is chosen now, and the Host check must name it.
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|error| DaemonError::Listen { addr, error })?;
        let bound = listener.local_addr().map_err(|error| DaemonError::Listen { addr, error })?;
        let token = token::load_or_create(&config.data_dir).map_err(DaemonError::Setup)?;
        let guard = Arc::new(api::guard::Guard::new(token, bound, &config.allowed_hosts));
        let app = Arc::new(api::AppState {
            link: link.clone(),
            link_kind,
            sim,
            ingest: ingest.clone(),
            readers: Readers::open(&store_path, API_READERS)?,
            status: status.clone(),
            events: events.clone(),
            media,
            plain_copies: plain_copies.clone(),
            media_roots: config.media_roots.clone(),
            outbox_wake,
            transcription_on: config.transcription.is_some(),
            clock,
            stop: stop.clone(),
            extra_metrics: Default::default(),
            extra_status: Default::default(),
        });
        let routes = api::routes(app.clone());
        let audit = Arc::new(AuditTrail::start(AuditLog::open(&store_path)?, "http".to_string()));
        let policy = Arc::new(SendPolicy::new(config.policy.clone()));
        let mut end_sessions: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
        let mut mcp_at = |front: mcp_http::Front| {
            let (mcp, end) = mcp_http::service(store_path.clone(), app.clone(), policy.clone(), audit.clone(), front);
            end_sessions.push(Box::new(end));
            axum::Router::new().fallback_service(mcp).layer(axum::middleware::from_fn(mcp_http::json_rpc_errors))
        };
        let mut router = api::guarded(
            routes.clone().nest_service("/mcp", mcp_at(mcp_http::Front::Tcp { allowed_hosts: guard.hosts().to_vec() })),
            guard.clone(),
        );
        // On the socket the OS has checked who connects, and any Host is taken.
        let mut socket_router = match &config.socket {
            Some(settings) => {
                Some((socket::listen(settings)?, routes.nest_service("/mcp", mcp_at(mcp_http::Front::Socket))))
            }
            None => None,
        };
        if let Some(plug) = extension {
            let parts = extension::Parts {
                outbox: Arc::new(extension::ApiOutbox {
                    app: Arc::downgrade(&app),
                    sender: token::bridge_id(&config.data_dir).map_err(DaemonError::Setup)?,
                }),
                events: events.clone(),
                status: status.clone(),
                token: guard.token().to_string(),
                metrics: app.extra_metrics.clone(),
                status_section: app.extra_status.clone(),
                store_path: store_path.clone(),
                stop: stop.clone(),
                workers: workers.clone(),
            };
            let plugged = plug(parts);
            if let Some((_, socket_routes)) = &mut socket_router {
                *socket_routes = socket_routes.clone().merge(plugged.clone());
            }
            router = router.merge(api::host_checked(plugged, guard));
        }
        drop(app);
        info!("REST API on http://{bound} (token in {})", config.data_dir.join(token::TOKEN_FILE).display());
        if let Err(e) = lock.announce(bound) {
            warn!("cannot record the API's address in the daemon lock: {e}");
        }
        let server_stop = stop.clone();
        let mut servers = vec![tokio::spawn(async move {
            axum::serve(listener, router).with_graceful_shutdown(server_stop.cancelled_owned()).await
        })];
        let mut socket = None;
        if let (Some((listening, routes)), Some(settings)) = (socket_router, &config.socket) {
            let path = &settings.path;
            let from = match listening.made_by {
                socket::MadeBy::Daemon => "",
                socket::MadeBy::ServiceManager => ", from systemd",
            };
            info!("REST API and MCP on the socket {}{from} (no token: its group decides who connects)", path.display());
            if listening.made_by == socket::MadeBy::Daemon {
                socket = Some(path.clone());
            }
            let listener = listening.listener;
            let routes = routes.layer(axum::middleware::from_fn(socket::check));
            let server_stop = stop.clone();
            servers.push(tokio::spawn(async move {
                axum::serve(listener, routes.into_make_service_with_connect_info::<socket::Peer>())
                    .with_graceful_shutdown(server_stop.cancelled_owned())
                    .await
            }));
        }
        service_manager::ready(&format!("serving on http://{bound}"));
        Ok(Running {
            addr: Some(bound),
            status,
            events,
            stop,
            workers,
            handles,
            servers,
            end_sessions,
            socket,
            link,
            ended,
            ingest,
            writer_thread,
            plain_copies,
            lock,
        })
    }
}

/// A worker, as the tracker runs it.
type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// `task`, ended at its next wait once `stop` is cancelled: for workers with nothing to finish.
fn until(stop: &CancellationToken, task: impl std::future::Future<Output = ()> + Send + 'static) -> Task {
    let stop = stop.clone();
    Box::pin(async move {
        let _ = stop.run_until_cancelled_owned(task).await;
    })
}

impl Running {
    /// Where the API listens (the port chosen, when it was asked to listen on port 0).
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    pub fn status(&self) -> &Arc<Status> {
        &self.status
    }

    /// What the daemon publishes as it commits: subscribe before acting to hear the result.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Resolves when the connection ends for a reason reconnecting cannot mend.
    pub async fn ended(&mut self) -> Disconnect {
        match (&mut self.ended).await {
            Ok(why) => why,
            Err(_) => std::future::pending().await,
        }
    }

    /// Runs until `shutdown` completes or the connection ends for good, then stops.
    pub async fn run_until(mut self, shutdown: impl std::future::Future<Output = ()>) -> Stopped {
        let why = tokio::select! {
            _ = shutdown => Stopped::Requested,
            why = self.ended() => Stopped::Final(why),
        };
        self.shutdown(why).await
    }

    /// Stops everything, in the order the module describes, and answers `why`.
    pub async fn shutdown(self, why: Stopped) -> Stopped {
        info!("shutting down ({why:?})");
        service_manager::stopping(&match &why {
            Stopped::Requested => "shutting down".to_string(),
            Stopped::Final(why) => why.advice(),
        });
        self.stop.cancel();
        self.end_sessions.into_iter().for_each(|end| end());
        for server in self.servers {
            match tokio::time::timeout(FINISH_WITHIN, server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => warn!("the API server failed: {e}"),
                Ok(Err(e)) => warn!("the API server ended abnormally: {e}"),
                Err(_) => warn!("requests were still open after {} s; they are cut off", FINISH_WITHIN.as_secs()),
            }
        }
        if let Some(path) = &self.socket {
            api::socket::remove(path);
        }
        self.workers.close();
        if tokio::time::timeout(FINISH_WITHIN, self.workers.wait()).await.is_err() {
            warn!(
                "{} task(s) still busy {} s after being asked to stop; they are aborted",
                self.workers.len(),
                FINISH_WITHIN.as_secs()
            );
            self.handles.iter().for_each(JoinHandle::abort);
            self.workers.wait().await;
        }
        self.link.disconnect().await;
        // The writer ends once every handle to it is gone, after committing what it was given.
        drop(self.ingest);
        let writer = self.writer_thread;
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        self.plain_copies.remove_all();
        drop(self.lock);
        why
    }
}

/// Where attachments go: sealed under `encrypt_media` (the identity made on first use), plain
/// otherwise; sealed ones from before are opened with the store's identity either way.
fn media_folder(config: &DaemonConfig, writer: &mut Writer) -> Result<MediaFolder, DaemonError> {
    let seal =
        if config.encrypt_media { Some(writer.media_seal()?) } else { Reader::open(writer.path())?.media_seal()? };
    Ok(MediaFolder { data_dir: config.data_dir.clone(), seal: seal.map(Arc::new), sealing: config.encrypt_media })
}

/// `encrypt_media` keeps the identity that seals attachments in the store: in a plain store it
/// would lie beside the files it locks. Refused before anything is written.
fn refuse_plain_store_for_sealing(config: &DaemonConfig) -> Result<(), DaemonError> {
    if config.encrypt_media && !matches!(wamcp_core::at_rest::keying(), wamcp_core::at_rest::Keying::Keyed { .. }) {
        return Err(DaemonError::Setup(
            "encrypt_media needs the databases encrypted too (the identity that seals attachments is kept in the \
             store): give a key (--key-file or WAMCP_KEY_FILE), or leave encrypt_media off"
                .into(),
        ));
    }
    Ok(())
}

/// Removes plain copies of sealed attachments as their time runs out.
async fn remove_expired_copies(copies: Arc<PlainCopies>) {
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every_minute.tick().await;
        let copies = copies.clone();
        let _ = tokio::task::spawn_blocking(move || copies.remove_expired(std::time::SystemTime::now())).await;
    }
}
