//! `wamcp demo`: the daemon on a simulated WhatsApp network with a sample account: works offline,
//! with no phone. Someone writes now and then, so the live path shows.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use wamcp_bridge::LinkChoice;
use wamcp_core::Timestamp;
use wamcp_link::sim::{SimNetwork, chatter};
use wamcp_store::DataDir;

use super::daemon::DaemonArgs;
use crate::config::Layers;

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Store the sample history and exit, without running the daemon
    #[arg(long)]
    no_serve: bool,
    /// Seconds between simulated incoming messages (0: none)
    #[arg(long, default_value_t = 45, value_name = "SECONDS")]
    chatter: u64,
    /// Hand over a generated history of this many messages instead of the sample (benchmarks)
    #[arg(long, hide = true, value_name = "MESSAGES")]
    synthetic_history: Option<u64>,
    /// Taken and ignored: the demo runs apart from the settings file. Declared here, hidden, so
    /// the global `--config` is not offered in `demo --help`.
    #[arg(long = "config", id = "config", hide = true, value_name = "FILE")]
    _ignored_config: Option<PathBuf>,
}

pub fn run(mut layers: Layers, args: DemoArgs) -> anyhow::Result<()> {
    // The demo never touches the real store: by default it lives beside it, in wamcp-demo; a
    // directory named with --data-dir is used itself, unless a real account is linked there.
    let explicit = layers.data_dir_named();
    let dir = layers.data_dir_defaulting_to(demo_dir)?;
    if dir.root().join(wamcp_link::whatsapp::SESSION_FILE).is_file() {
        anyhow::bail!(
            "{} holds a linked WhatsApp account: the demo never runs on a real account's data; \
             leave --data-dir out (it then uses {}) or give it an empty directory",
            dir.root().display(),
            demo_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "wamcp-demo".into())
        );
    }
    // Refused before anything is printed: a busy directory is the whole answer.
    if dir.daemon_running() {
        return Err(dir.busy().into());
    }
    let config = args.daemon.resolve(&mut layers, &dir)?;
    if args.no_serve && config.encrypt_media {
        anyhow::bail!(
            "--encrypt-media seals the attachments the daemon saves, and --no-serve starts no daemon (the sample \
             history has no attachment files): leave one of them out"
        );
    }
    dir.ensure()?;
    let synthetic = args.synthetic_history;
    let network = || match synthetic {
        Some(messages) => SimNetwork::synthetic(messages, Some(dir.root().join("sim")), Timestamp::now()),
        None => SimNetwork::sample(Some(dir.root().join("sim")), Timestamp::now()),
    };
    if args.no_serve {
        // A fresh network each time: the whole history again, stored once.
        let network = SimNetwork::sample(None, Timestamp::now())?;
        super::runtime()?.block_on(wamcp_bridge::sync_once(dir.root(), network))?;
        eprintln!("wamcp demo: a sample WhatsApp account in {}", dir.store_path().display());
        print_client_setup(explicit.then(|| dir.root()), layers.key_file().as_deref());
        return Ok(());
    }
    let mut desk = args.daemon.desk.resolve(&mut layers, false)?;
    super::daemon::prepare(&config)?;
    if let Some(settings) = &mut desk {
        settings.knowledge_base = Some(sample_knowledge_base(dir.root())?);
        eprintln!("support desk: on, answering from the sample knowledge base in {}", dir.root().join("kb").display());
    }
    let token = dir.root().join(wamcp_bridge::token::TOKEN_FILE);
    eprintln!("wamcp demo: a simulated WhatsApp account in {}", dir.root().display());
    if let Some(settings) = &config.transcription {
        eprintln!("{}", super::transcription::start_line(settings));
    }
    print_client_setup(explicit.then(|| dir.root()), layers.key_file().as_deref());
    let with_desk = desk.is_some();
    let socket = config.socket.as_ref().map(|settings| settings.path.clone());
    let listening = move |listen| {
        eprintln!("REST API: http://{listen} (token in {})", token.display());
        if let Some(path) = &socket {
            eprintln!("{}", super::daemon::socket_line(path));
        }
        if with_desk {
            eprintln!("Support desk inbox: http://{listen}/desk (sign in with the token in {})", token.display());
        }
        eprintln!("Stop it with Ctrl-C.");
    };
    let chatter_every = args.chatter;
    let link = move || {
        let network: Arc<SimNetwork> = network()?;
        if chatter_every > 0 {
            chatter::start(network.clone(), Duration::from_secs(chatter_every));
        }
        Ok(LinkChoice::Sim(network))
    };
    super::daemon::run(config, desk, link, listening)
}

/// The sample articles (examples/kb), written to `<demo dir>/kb` for the desk to import on start.
fn sample_knowledge_base(root: &std::path::Path) -> anyhow::Result<PathBuf> {
    const ARTICLES: [(&str, &str); 4] = [
        ("shipping.md", include_str!("../../../../examples/kb/shipping.md")),
        ("returns.md", include_str!("../../../../examples/kb/returns.md")),
        ("password.md", include_str!("../../../../examples/kb/password.md")),
        ("opening-hours.md", include_str!("../../../../examples/kb/opening-hours.md")),
    ];
    let kb = root.join("kb");
    std::fs::create_dir_all(&kb)?;
    for (name, text) in ARTICLES {
        std::fs::write(kb.join(name), text)?;
    }
    Ok(kb)
}

/// `wamcp-demo` beside the default data directory.
fn demo_dir() -> anyhow::Result<PathBuf> {
    Ok(DataDir::resolve(None)?.root().with_file_name("wamcp-demo"))
}

/// How to point the MCP Inspector, Claude Code or Claude Desktop at the demo's store.
fn print_client_setup(data_dir: Option<&std::path::Path>, key_file: Option<&std::path::Path>) {
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "wamcp".into());
    let mut args: Vec<String> = Vec::new();
    match data_dir {
        Some(dir) => args.extend(["--data-dir".to_string(), dir.display().to_string()]),
        None => {
            if let Ok(demo) = demo_dir() {
                args.extend(["--data-dir".to_string(), demo.display().to_string()]);
            }
        }
    }
    args.extend(crate::config::key::client_args(key_file));
    args.push("mcp".to_string());
    let shell = args.join(" ");
    let json_args = serde_json::to_string(&args).unwrap_or_default();
    let exe_json = serde_json::to_string(&exe).unwrap_or_default();
    eprintln!("Point an MCP client at it:");
    eprintln!("  MCP Inspector:  npx @modelcontextprotocol/inspector --cli {exe} {shell} --method tools/list");
    eprintln!("  Claude Code:    claude mcp add whatsapp-demo -- {exe} {shell}");
    eprintln!(
        "  Claude Desktop: add to claude_desktop_config.json: {{\"mcpServers\": {{\"whatsapp-demo\": {{\"command\": {exe_json}, \"args\": {json_args}}}}}}}"
    );
}
