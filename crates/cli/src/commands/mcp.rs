//! `wamcp mcp`: the tools over stdio. It reads the store in the data directory itself and asks
//! the daemon (`wamcp serve`, at the configured `listen` address) for anything that sends; or,
//! with `--daemon unix:PATH`, it is the daemon's own `/mcp` reached through its socket (a
//! service the user cannot read the store of).

use std::path::PathBuf;
use std::str::FromStr;
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
    /// Be the MCP server of the daemon listening on this socket, as unix:PATH: its tools, send
    /// policy and audit, with no access to the store needed [default: read the store here]
    #[arg(long = "daemon", env = "WAMCP_DAEMON", value_name = "unix:PATH")]
    through: Option<DaemonSocket>,
}

/// The daemon's socket, as `--daemon` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSocket(pub PathBuf);

impl FromStr for DaemonSocket {
    type Err = String;

    fn from_str(text: &str) -> Result<DaemonSocket, String> {
        match text.strip_prefix("unix:") {
            Some(path) if !path.is_empty() => Ok(DaemonSocket(PathBuf::from(path))),
            _ => Err(format!(
                "'{text}' is not a daemon's socket; give it as unix:PATH, for example unix:/run/wamcp/wamcp.sock"
            )),
        }
    }
}

impl std::fmt::Display for DaemonSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unix:{}", self.0.display())
    }
}

pub fn run(mut layers: Layers, args: McpArgs) -> anyhow::Result<()> {
    if let Some(socket) = args.through {
        if args.policy.is_given() {
            anyhow::bail!(
                "--send-policy, --allow and --sends-per-minute (or WAMCP_SEND_POLICY, WAMCP_ALLOWLIST, \
                 WAMCP_SENDS_PER_MINUTE) do not apply with --daemon: the daemon's own send policy holds; \
                 set it where the daemon runs"
            );
        }
        return relay(socket);
    }
    let dir = super::data_dir(&mut layers)?;
    let policy = SendPolicy::new(args.policy.resolve(&mut layers)?);
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

/// Relays stdio to the daemon's `/mcp` on its socket until the client disconnects.
fn relay(socket: DaemonSocket) -> anyhow::Result<()> {
    let relaying = wamcp_mcp::relay::Relay::run(socket.0, tokio::io::stdin(), tokio::io::stdout());
    super::runtime()?.block_on(relaying)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_socket_is_named_as_unix_path() {
        assert_eq!("unix:/run/wamcp/wamcp.sock".parse(), Ok(DaemonSocket("/run/wamcp/wamcp.sock".into())));
        for wrong in ["/run/wamcp/wamcp.sock", "unix:", "http://127.0.0.1:8765"] {
            let error = wrong.parse::<DaemonSocket>().unwrap_err();
            assert!(error.contains("unix:PATH"), "{error}");
        }
    }
}
