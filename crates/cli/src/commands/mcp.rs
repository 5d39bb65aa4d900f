//! `wamcp mcp`: the tools over stdio. It reads the store in the data directory itself and asks
//! the daemon (`wamcp serve`, at the configured `listen` address) for anything that sends.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use wamcp_mcp::Tools;
use wamcp_mcp::audit::AuditTrail;
use wamcp_mcp::daemon::HttpDaemon;
use wamcp_mcp::policy::{DEFAULT_SENDS_PER_MINUTE, PolicyMode, SendPolicy};
use wamcp_store::{AuditLog, Reader};

use super::daemon::DEFAULT_LISTEN;
use crate::config::Layers;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Where the daemon's REST API is [default: `listen` of the config file, else 127.0.0.1:8765]
    #[arg(long, env = "WAMCP_LISTEN", value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
}

/// Who the assistant may message: shared by every command that serves the tools.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// off (no send tools), known (existing chats and saved contacts), allowlist or confirm (preview, then
    /// confirm_send) [default: known]
    #[arg(long, env = "WAMCP_SEND_POLICY", value_name = "POLICY")]
    pub send_policy: Option<String>,
    /// With --send-policy allowlist: a JID, phone number or group name that may be messaged (repeat)
    #[arg(long = "allow", env = "WAMCP_ALLOWLIST", value_delimiter = ',', value_name = "RECIPIENT")]
    pub allowlist: Vec<String>,
    /// Most sends a minute [default: 20]
    #[arg(long, env = "WAMCP_SENDS_PER_MINUTE", value_name = "N")]
    pub sends_per_minute: Option<u32>,
}

impl PolicyArgs {
    /// The send policy from these flags over the config file.
    pub fn resolve(&self, layers: &mut Layers) -> anyhow::Result<SendPolicy> {
        let file = layers.file();
        let (mode, allowlist, rate) = (file.send_policy.clone(), file.allowlist.clone(), file.sends_per_minute);
        let mode = layers.pick("send_policy", "WAMCP_SEND_POLICY", self.send_policy.clone(), mode, || "known".into());
        let given = (!self.allowlist.is_empty()).then(|| self.allowlist.clone());
        let allowlist = layers.pick("allowlist", "WAMCP_ALLOWLIST", given, allowlist, Vec::new);
        let rate = layers.pick("sends_per_minute", "WAMCP_SENDS_PER_MINUTE", self.sends_per_minute, rate, || {
            DEFAULT_SENDS_PER_MINUTE
        });
        if rate == 0 {
            anyhow::bail!("sends_per_minute: 0 would refuse every send; use send_policy = \"off\" for that");
        }
        Ok(SendPolicy::new(PolicyMode::parse(&mode, allowlist).map_err(anyhow::Error::msg)?, rate))
    }
}

pub fn run(mut layers: Layers, args: McpArgs) -> anyhow::Result<()> {
    let dir = super::data_dir(&mut layers)?;
    let policy = args.policy.resolve(&mut layers)?;
    let in_file = layers.file().listen;
    let listen = layers.pick("listen", "WAMCP_LISTEN", args.listen, in_file, || {
        DEFAULT_LISTEN.parse().expect("the default address parses")
    });
    let path = dir.store_path();
    let reader = Reader::open(&path).with_context(|| format!("cannot open the store {}", path.display()))?;
    if !reader.has_messages()? {
        eprintln!(
            "wamcp: the store {} has no messages yet. Import a lharries/whatsapp-mcp history with \
             `wamcp import lharries PATH`, or try `wamcp demo`.",
            path.display()
        );
    }
    let daemon = Arc::new(HttpDaemon::new(listen, dir.root().join(wamcp_bridge::token::TOKEN_FILE)));
    let audit = AuditTrail::start(AuditLog::open(&path)?, format!("stdio-{}", std::process::id()));
    serve(Tools::with_daemon(reader, daemon, policy).with_audit(audit))
}

/// Serves the tools on stdio until the client disconnects.
pub fn serve(tools: Tools) -> anyhow::Result<()> {
    super::runtime()?.block_on(wamcp_mcp::serve_stdio(tools))?;
    Ok(())
}
