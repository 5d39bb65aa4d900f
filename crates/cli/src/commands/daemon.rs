//! What `serve` and `demo` share: the daemon's settings (flags over `wamcp.toml`), its runtime
//! and its shutdown on SIGTERM / SIGINT.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use wamcp_bridge::{DaemonConfig, LinkChoice, Stopped};
use wamcp_core::{Disconnect, MessageKind};
use wamcp_store::DataDir;

use super::desk::{DeskArgs, DeskSettings};
use super::policy::PolicyArgs;
use super::transcription::TranscriptionArgs;
use crate::config::Layers;

/// The default address of the REST API.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8765";

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Address of the REST API (it needs the token in <data dir>/api-token) [default: 127.0.0.1:8765]
    #[arg(long, env = "WAMCP_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Also serve the API and MCP on this Unix socket, without a token: whoever may open it
    /// (the daemon's user and --socket-group, mode 0660) may use it [default: none]
    #[arg(long, env = "WAMCP_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// The group whose members may connect to --socket [default: the daemon's own group]
    #[arg(long = "socket-group", env = "WAMCP_SOCKET_GROUP", value_name = "GROUP")]
    pub socket_group: Option<String>,
    /// A directory files may be sent from (repeat for more) [default: <data dir>/outbox]
    #[arg(long = "media-root", env = "WAMCP_MEDIA_ROOTS", value_delimiter = ',', value_name = "DIR")]
    pub media_roots: Vec<PathBuf>,
    /// Another Host header to accept, as HOST:PORT (behind a reverse proxy)
    #[arg(long = "allow-host", env = "WAMCP_ALLOW_HOSTS", value_delimiter = ',', value_name = "HOST:PORT")]
    pub allowed_hosts: Vec<String>,
    /// A URL to POST every event to, signed with <data dir>/webhook-secret (repeat for more)
    #[arg(long = "webhook", env = "WAMCP_WEBHOOKS", value_delimiter = ',', value_name = "URL")]
    pub webhooks: Vec<String>,
    /// Save attachments of these kinds as they arrive: image, video, audio, voice, document,
    /// sticker or all [default: none]
    #[arg(long = "auto-download", env = "WAMCP_AUTO_DOWNLOAD", value_delimiter = ',', value_name = "KINDS")]
    pub auto_download: Vec<String>,
    /// Save attachments encrypted (age files for an identity kept in the encrypted store); needs a
    /// key. download_media then hands out a plain copy that is removed after 15 minutes
    #[arg(long = "encrypt-media", id = "encrypt_media", env = "WAMCP_ENCRYPT_MEDIA")]
    pub encrypt_media: bool,
    /// Remove messages and their attachment files older than this many days, at start and daily
    /// [default: keep everything]
    #[arg(long = "retention-days", id = "retention.days", env = "WAMCP_RETENTION_DAYS", value_name = "DAYS")]
    pub retention_days: Option<u32>,
    #[command(flatten)]
    pub transcription: TranscriptionArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub desk: DeskArgs,
}

impl DaemonArgs {
    /// The daemon's configuration from these flags over the config file, checked.
    pub fn resolve(&self, layers: &mut Layers, dir: &DataDir) -> anyhow::Result<DaemonConfig> {
        let file = layers.file();
        let (listen, media_roots, allowed_hosts, webhooks, auto_download) = (
            file.listen,
            file.media_roots.clone(),
            file.allowed_hosts.clone(),
            file.webhooks.clone(),
            file.auto_download.clone(),
        );
        let listen = layers.pick("listen", "WAMCP_LISTEN", self.listen, listen, || {
            DEFAULT_LISTEN.parse().expect("the default address parses")
        });
        let (socket_in_file, group_in_file) = (layers.file().socket.clone(), layers.file().socket_group.clone());
        let socket =
            layers.pick("socket", "WAMCP_SOCKET", self.socket.clone().map(Some), socket_in_file.map(Some), || None);
        let group = layers.pick(
            "socket_group",
            "WAMCP_SOCKET_GROUP",
            self.socket_group.clone().map(Some),
            group_in_file.map(Some),
            || None,
        );
        let socket = match (socket, group) {
            (Some(path), group) => Some(wamcp_bridge::api::socket::SocketSettings { path, group }),
            (None, Some(_)) => {
                anyhow::bail!("socket_group: set, but socket is not: give the socket's path (--socket PATH)")
            }
            (None, None) => None,
        };
        let outbox = dir.root().join("outbox");
        let media_roots =
            layers.pick("media_roots", "WAMCP_MEDIA_ROOTS", given(&self.media_roots), media_roots, || vec![outbox]);
        let allowed_hosts =
            layers.pick("allowed_hosts", "WAMCP_ALLOW_HOSTS", given(&self.allowed_hosts), allowed_hosts, Vec::new);
        let webhooks = layers.pick("webhooks", "WAMCP_WEBHOOKS", given(&self.webhooks), webhooks, Vec::new);
        let auto_download =
            layers.pick("auto_download", "WAMCP_AUTO_DOWNLOAD", given(&self.auto_download), auto_download, Vec::new);
        let encrypt_media = encrypt_media(layers, self.encrypt_media);
        let policy = self.policy.resolve(layers)?;
        let transcription = self.transcription.resolve(layers)?;
        let retention_in_file = layers.file().retention.as_ref().map(|r| r.days);
        let retention_days = layers.pick(
            "retention.days",
            "WAMCP_RETENTION_DAYS",
            self.retention_days.map(Some),
            retention_in_file,
            || None,
        );
        if retention_days == Some(0) {
            anyhow::bail!(
                "retention.days: 0 would remove every message; give 1 or more days, or leave it out to keep everything"
            );
        }
        if let Some(bad) = webhooks.iter().find(|url| !(url.starts_with("http://") || url.starts_with("https://"))) {
            anyhow::bail!("webhooks: '{bad}' is not an http:// or https:// URL");
        }
        Ok(DaemonConfig {
            webhooks,
            data_dir: dir.root().to_path_buf(),
            listen: Some(listen),
            socket,
            allowed_hosts,
            media_roots,
            auto_download: media_kinds(&auto_download)?,
            encrypt_media,
            policy,
            retention_days,
            transcription,
        })
    }
}

/// Whether attachments are saved encrypted: `--encrypt-media` over `encrypt_media` in the file.
/// `wamcp encrypt` reads it too, to seal the attachments saved before.
pub fn encrypt_media(layers: &mut Layers, flag: bool) -> bool {
    let in_file = layers.file().encrypt_media;
    layers.pick("encrypt_media", "WAMCP_ENCRYPT_MEDIA", flag.then_some(true), in_file, || false)
}

/// Where a running daemon is reached: for the commands that call it (`mcp`, `doctor`, `forget`).
#[derive(Debug, Args)]
pub struct DaemonAddressArgs {
    /// Where the daemon's REST API is [default: `listen` of the config file, else 127.0.0.1:8765]
    #[arg(long, env = "WAMCP_LISTEN", value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
}

impl DaemonAddressArgs {
    /// `--listen` / `WAMCP_LISTEN` if given; else where the daemon running on `dir` said it
    /// listens; else `listen` of the config file; else the default.
    pub fn resolve(&self, layers: &mut Layers, dir: &DataDir) -> SocketAddr {
        let running = dir.running_daemon_address();
        let in_file = running.or(layers.file().listen);
        layers.pick("listen", "WAMCP_LISTEN", self.listen, in_file, || {
            DEFAULT_LISTEN.parse().expect("the default address parses")
        })
    }
}

/// Where a daemon listening on `listen` is reached from this machine: one listening on every
/// interface is reached on loopback.
pub fn loopback(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        ip if ip == Ipv4Addr::UNSPECIFIED => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port()),
        ip if ip == Ipv6Addr::UNSPECIFIED => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port()),
        _ => listen,
    }
}

/// What `serve` and `demo` say about the socket they also listen on.
pub fn socket_line(path: &std::path::Path) -> String {
    format!(
        "REST API and MCP on the socket {} (no token); an assistant starts `wamcp mcp --daemon unix:{}`",
        path.display(),
        path.display()
    )
}

/// A list flag counts as given when it has values.
fn given<T: Clone>(values: &[T]) -> Option<Vec<T>> {
    (!values.is_empty()).then(|| values.to_vec())
}

/// The attachment kinds named in `--auto-download` / `auto_download`.
pub fn media_kinds(names: &[String]) -> anyhow::Result<Vec<MessageKind>> {
    let mut kinds = Vec::new();
    for name in names {
        match name.trim() {
            "all" => kinds.extend(MessageKind::ALL.into_iter().filter(|k| k.has_media())),
            "none" | "" => {}
            other => match MessageKind::parse(other).filter(|k| k.has_media()) {
                Some(kind) => kinds.push(kind),
                None => anyhow::bail!(
                    "auto_download: '{other}' is not a kind of attachment; \
                     use image, video, audio, voice, document, sticker, all or none"
                ),
            },
        }
    }
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    Ok(kinds)
}

/// Creates the media roots inside the data directory (the default `outgoing/`); one elsewhere
/// must exist already, or sends from it would be refused for a reason hard to see.
pub fn prepare(config: &DaemonConfig) -> anyhow::Result<()> {
    for root in &config.media_roots {
        if root.starts_with(&config.data_dir) {
            std::fs::create_dir_all(root)?;
        } else if !root.is_dir() {
            anyhow::bail!("media_roots: {} is not a directory", root.display());
        }
    }
    Ok(())
}

/// Runs the daemon (with the desk, when it has settings) on a multi-threaded runtime until
/// SIGTERM or SIGINT, or until the connection ends for good (the error [`ConnectionEnded`]).
/// `listening` is told where the API listens once it does (the port chosen, for port 0).
pub fn run(
    config: DaemonConfig,
    desk: Option<DeskSettings>,
    link: impl FnOnce() -> anyhow::Result<LinkChoice>,
    listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let extension = match desk {
            Some(settings) => {
                let transcribed = config.transcription.as_ref().map(|t| t.auto.clone()).unwrap_or_default();
                Some(super::desk::extension(
                    super::desk::open(&settings, &config.data_dir).await?,
                    settings.answer,
                    transcribed,
                ))
            }
            None => None,
        };
        let link = link()?;
        let running = wamcp_bridge::Daemon::new(config, link).with_extension(extension).start().await?;
        if let Some(addr) = running.addr() {
            listening(addr);
        }
        match running.run_until(shutdown_signal()).await {
            Stopped::Requested => Ok(()),
            Stopped::Final(why) => Err(ConnectionEnded(why).into()),
        }
    })
}

/// The daemon stopped because the connection ended for good. The process exits with
/// [`ConnectionEnded::exit_code`], so a service manager can tell it from a crash and from the
/// other reasons: restarting cannot help, a person has to act.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct ConnectionEnded(pub Disconnect);

impl ConnectionEnded {
    /// The exit statuses, as the README's command table documents them.
    pub const LOGGED_OUT: u8 = 10;
    pub const CLIENT_OUTDATED: u8 = 11;
    pub const BANNED: u8 = 12;
    pub const STREAM_REPLACED: u8 = 13;
    pub const REFUSED: u8 = 14;

    pub fn exit_code(&self) -> u8 {
        match self.0 {
            Disconnect::LoggedOut(_) => Self::LOGGED_OUT,
            Disconnect::ClientOutdated => Self::CLIENT_OUTDATED,
            Disconnect::TemporaryBan { .. } => Self::BANNED,
            Disconnect::StreamReplaced => Self::STREAM_REPLACED,
            // A transient drop never ends the daemon; were it to, a restart is what it needs.
            Disconnect::Refused { .. } | Disconnect::Transient(_) => Self::REFUSED,
        }
    }

    fn message(&self) -> String {
        match &self.0 {
            Disconnect::LoggedOut(why) => format!(
                "WhatsApp logged this device out ({why}: unlinked from the phone, or idle too long): link it again \
                 with `wamcp login`, then start the daemon again"
            ),
            other => format!("the connection to WhatsApp ended: {}", other.advice()),
        }
    }
}

pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM can be watched");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
