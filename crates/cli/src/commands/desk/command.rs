//! `wamcp desk`: the desk on its own, beside a lharries Go bridge (or for email, web-form and
//! Twilio customers only), serving its API; and `wamcp desk kb import DIR`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use wamcp_bridge::api::guard::Guard;
use wamcp_desk::Via;
use wamcp_desk::feed::Feed;
use wamcp_desk::http::DeskApp;

use super::DeskArgs;
use super::lharries::{LharriesOutbox, LharriesSource, PollState, Poller};
use crate::config::Layers;

/// The desk's own address by default (the daemon's is 8765).
const DEFAULT_LISTEN: &str = "127.0.0.1:8766";

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DeskCommand {
    #[command(subcommand)]
    command: Option<DeskSubcommand>,
    #[command(flatten)]
    standalone: StandaloneArgs,
}

#[derive(Debug, Subcommand)]
enum DeskSubcommand {
    /// The knowledge base the agent answers from
    #[command(subcommand)]
    Kb(KbCommand),
}

#[derive(Debug, Subcommand)]
enum KbCommand {
    /// Load every *.md file of DIR as an article (the first '# ' heading is its title); an
    /// article with the same file name is replaced
    Import {
        dir: PathBuf,
        #[command(flatten)]
        desk: DeskArgs,
    },
}

#[derive(Debug, Args)]
struct StandaloneArgs {
    /// A lharries/whatsapp-mcp messages.db to take WhatsApp messages from (read-only); messages
    /// already in it when the desk first starts are left alone
    #[arg(long, value_name = "PATH")]
    lharries_db: Option<PathBuf>,
    /// The lharries bridge's REST API, where answers are sent
    #[arg(long, default_value = "http://localhost:8080/api", value_name = "URL")]
    lharries_api: String,
    /// Seconds between reads of the lharries database
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    poll_interval: u64,
    /// Address of the desk's API (token in <data dir>/api-token)
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Another Host header to accept, as HOST:PORT (behind a reverse proxy)
    #[arg(long = "allow-host", env = "WAMCP_ALLOW_HOSTS", value_delimiter = ',', value_name = "HOST:PORT")]
    allowed_hosts: Vec<String>,
    #[command(flatten)]
    desk: DeskArgs,
}

pub fn run(layers: Layers, command: DeskCommand) -> anyhow::Result<()> {
    match command.command {
        Some(DeskSubcommand::Kb(KbCommand::Import { dir, desk })) => import_kb(layers, dir, desk),
        None => run_standalone(layers, command.standalone),
    }
}

fn import_kb(mut layers: Layers, dir: PathBuf, desk: DeskArgs) -> anyhow::Result<()> {
    // A folder that cannot be read is refused before the data directory or the desk is made.
    let folder = wamcp_desk::kb::read_folder(&dir)?;
    let data_dir = layers.data_dir()?;
    data_dir.ensure()?;
    let settings = desk.resolve(&mut layers, true)?.expect("the desk is on for its own commands");
    super::super::runtime()?.block_on(async {
        let desk = super::open(&settings, data_dir.root()).await?;
        let imported = wamcp_desk::kb::store(&desk.db, folder).await?;
        let total = wamcp_desk::kb::count(&desk.db).await?;
        outln!(
            "{} added, {} updated from {}; the knowledge base has {total} article(s)",
            imported.added,
            imported.updated,
            dir.display()
        )?;
        Ok(())
    })
}

fn run_standalone(mut layers: Layers, args: StandaloneArgs) -> anyhow::Result<()> {
    let data_dir = layers.data_dir()?;
    data_dir.ensure()?;
    let settings = args.desk.resolve(&mut layers, true)?.expect("the desk is on for its own commands");
    if args.poll_interval == 0 {
        anyhow::bail!("--poll-interval: give at least 1 second");
    }
    let token = wamcp_bridge::token::load_or_create(data_dir.root()).map_err(anyhow::Error::msg)?;
    let guard = Arc::new(Guard::new(token.clone(), args.listen, &args.allowed_hosts));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let desk = super::open(&settings, data_dir.root()).await?;
        let (stop, workers) = (tokio_util::sync::CancellationToken::new(), tokio_util::task::TaskTracker::new());
        if let Some(path) = &args.lharries_db {
            // Checked now, so a wrong path is an error at start, not a warning every 30 s.
            wamcp_store::import::lharries::Source::open(path)?;
            let interval = Duration::from_secs(args.poll_interval);
            let state = Arc::new(PollState::default());
            let source = LharriesSource { path: path.clone(), interval, state: state.clone() };
            desk.connect_whatsapp(Arc::new(LharriesOutbox { api_url: args.lharries_api.clone() }), Arc::new(source));
            let poller = Poller::new(path.clone(), interval, state);
            workers.spawn(Feed::new(desk.clone(), Via::Lharries).run(poller, stop.clone()));
        }
        desk.start(&workers, &stop);
        let routes = wamcp_desk::http::routes(Arc::new(DeskApp { desk, token }));
        let router = wamcp_bridge::api::host_checked(routes, guard);
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        eprintln!(
            "wamcp desk: API on http://{} (token in {})",
            listener.local_addr()?,
            data_dir.root().join(wamcp_bridge::token::TOKEN_FILE).display()
        );
        axum::serve(listener, router).with_graceful_shutdown(super::super::daemon::shutdown_signal()).await?;
        // The agent finishes the answer it is on, the publisher the event it is on, the feed the
        // round it is taking in.
        stop.cancel();
        workers.close();
        workers.wait().await;
        Ok(())
    })
}
