//! `wamcp serve`: the daemon on the real WhatsApp network, with the session made by `wamcp login`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use wamcp_bridge::LinkChoice;
use wamcp_link::whatsapp::{SESSION_FILE, WhatsAppLink};

use super::daemon::DaemonArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
}

pub fn run(data_dir: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<()> {
    let dir = super::data_dir(data_dir)?;
    let session = dir.root().join(SESSION_FILE);
    if !session.exists() {
        anyhow::bail!(
            "no WhatsApp session in {}: link this computer first with `wamcp login` (or try `wamcp demo`)",
            dir.root().display()
        );
    }
    let config = args.daemon.config(&dir)?;
    eprintln!(
        "wamcp serve: REST API on http://{} (token in {})",
        args.daemon.listen,
        dir.root().join("api-token").display()
    );
    super::daemon::run(config, move || Ok(LinkChoice::WhatsApp(Arc::new(WhatsAppLink::new(session, None)))))
}
