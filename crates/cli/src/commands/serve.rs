//! `wamcp serve`: the daemon on the real WhatsApp network, with the session made by `wamcp login`.

use std::sync::Arc;

use clap::Args;
use wamcp_bridge::LinkChoice;
use wamcp_link::whatsapp::{LinkOptions, Presence, SESSION_FILE, WhatsAppLink};

use super::daemon::DaemonArgs;
use crate::config::Layers;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Whether the account shows as online while wamcp runs: unavailable (the default; the phone
    /// keeps its notifications) or available
    #[arg(long, env = "WAMCP_PRESENCE", value_name = "unavailable|available")]
    presence: Option<Presence>,
    /// Print the configuration in effect (flags over WAMCP_* over wamcp.toml) and exit
    #[arg(long)]
    print_config: bool,
}

pub fn run(mut layers: Layers, args: ServeArgs) -> anyhow::Result<()> {
    let dir = layers.data_dir()?;
    let config = args.daemon.resolve(&mut layers, &dir)?;
    let desk = args.daemon.desk.resolve(&mut layers, false)?;
    let presence_in_file = layers.file().presence;
    let presence = layers.pick("presence", "WAMCP_PRESENCE", args.presence, presence_in_file, Presence::default);
    let token_file = dir.root().join(wamcp_bridge::token::TOKEN_FILE);
    if args.print_config {
        out!("{}", layers.render(&token_file))?;
        return Ok(());
    }
    dir.ensure()?;
    let session = dir.root().join(SESSION_FILE);
    if !session.exists() {
        anyhow::bail!(
            "no WhatsApp session in {}: link this computer first with `wamcp login` (or try `wamcp demo`)",
            dir.root().display()
        );
    }
    super::daemon::prepare(&config)?;
    if desk.is_some() {
        eprintln!("wamcp serve: support desk on (tickets in {})", dir.root().join(wamcp_desk::SQLITE_FILE).display());
    }
    if let Some(settings) = &config.transcription {
        eprintln!("wamcp serve: {}", super::transcription::start_line(settings));
    }
    let options = LinkOptions { presence, ..LinkOptions::default() };
    let link = move || Ok(LinkChoice::WhatsApp(Arc::new(WhatsAppLink::new(session, options))));
    let socket = config.socket.as_ref().map(|settings| settings.path.clone());
    let listening = move |listen| {
        eprintln!("wamcp serve: REST API on http://{listen} (token in {})", token_file.display());
        if let Some(path) = &socket {
            eprintln!("wamcp serve: {}", super::daemon::socket_line(path));
        }
    };
    super::daemon::run(config, desk, link, listening)
}
