//! `wamcp mcp`: the tools over stdio. It reads the store in the data directory itself and asks
//! the daemon (`wamcp serve`, at the configured `listen` address) for anything that sends.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use wamcp_mcp::Tools;
use wamcp_mcp::audit::AuditTrail;
use wamcp_mcp::daemon::HttpDaemon;
use wamcp_mcp::policy::SendPolicy;
use wamcp_store::{AuditLog, Reader};

use super::daemon::DaemonAddressArgs;
use super::policy::PolicyArgs;
use crate::config::Layers;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    daemon: DaemonAddressArgs,
}

pub fn run(mut layers: Layers, args: McpArgs) -> anyhow::Result<()> {
    let dir = super::data_dir(&mut layers)?;
    let (mode, rate) = args.policy.resolve(&mut layers)?;
    let policy = SendPolicy::new(mode, rate);
    let listen = args.daemon.resolve(&mut layers, &dir);
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
    serve(Tools::with_daemon(reader, daemon, Arc::new(policy)).with_audit(Arc::new(audit)))
}

/// Serves the tools on stdio until the client disconnects.
pub fn serve(tools: Tools) -> anyhow::Result<()> {
    super::runtime()?.block_on(wamcp_mcp::serve_stdio(tools))?;
    Ok(())
}
