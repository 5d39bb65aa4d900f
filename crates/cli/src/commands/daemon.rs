//! What `serve` and `demo` share: the daemon's flags, its runtime and its shutdown on
//! SIGTERM / SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use wamcp_bridge::{DaemonConfig, LinkChoice};
use wamcp_store::DataDir;

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Address of the REST API (it needs the token in <data dir>/api-token)
    #[arg(long, env = "WAMCP_LISTEN", default_value = "127.0.0.1:8765", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// A directory files may be sent from (repeat for more) [default: <data dir>/outgoing]
    #[arg(long = "media-root", env = "WAMCP_MEDIA_ROOTS", value_delimiter = ',', value_name = "DIR")]
    pub media_roots: Vec<PathBuf>,
    /// Another Host header to accept, as HOST:PORT (behind a reverse proxy)
    #[arg(long = "allow-host", env = "WAMCP_ALLOW_HOSTS", value_delimiter = ',', value_name = "HOST:PORT")]
    pub allowed_hosts: Vec<String>,
    /// A URL to POST every event to, signed with <data dir>/webhook-secret (repeat for more)
    #[arg(long = "webhook", env = "WAMCP_WEBHOOKS", value_delimiter = ',', value_name = "URL")]
    pub webhooks: Vec<String>,
}

impl DaemonArgs {
    pub fn config(&self, dir: &DataDir) -> anyhow::Result<DaemonConfig> {
        let mut media_roots = self.media_roots.clone();
        if media_roots.is_empty() {
            let outgoing = dir.root().join("outgoing");
            std::fs::create_dir_all(&outgoing)?;
            media_roots.push(outgoing);
        }
        if let Some(bad) = self.webhooks.iter().find(|url| !(url.starts_with("http://") || url.starts_with("https://")))
        {
            anyhow::bail!("--webhook: '{bad}' is not an http:// or https:// URL");
        }
        Ok(DaemonConfig {
            webhooks: self.webhooks.clone(),
            data_dir: dir.root().to_path_buf(),
            listen: Some(self.listen),
            allowed_hosts: self.allowed_hosts.clone(),
            media_roots,
        })
    }
}

/// Runs the daemon on a multi-threaded runtime until SIGTERM or SIGINT.
pub fn run(config: DaemonConfig, link: impl FnOnce() -> anyhow::Result<LinkChoice>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let link = link()?;
        wamcp_bridge::run(config, link, shutdown_signal()).await?;
        Ok(())
    })
}

async fn shutdown_signal() {
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
