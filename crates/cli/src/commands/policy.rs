//! The send policy settings, shared by `mcp` (stdio) and the daemon (`serve`, `demo`: `/mcp`).

use clap::Args;
use std::time::Duration;

use wamcp_mcp::policy::{ConfirmVia, DEFAULT_SENDS_PER_MINUTE, PolicyMode, PolicySettings};

use crate::config::Layers;

/// Who the assistant may message: shared by every command that serves the tools.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// off (no send tools), known (existing chats and saved contacts; someone new once the user agrees),
    /// allowlist or confirm (the user agrees to each send) [default: known]
    #[arg(long, env = "WAMCP_SEND_POLICY", value_name = "POLICY")]
    pub send_policy: Option<String>,
    /// With --send-policy allowlist: a JID, phone number or group name that may be messaged (repeat)
    #[arg(long = "allow", env = "WAMCP_ALLOWLIST", value_delimiter = ',', value_name = "RECIPIENT")]
    pub allowlist: Vec<String>,
    /// Most sends a minute [default: 20]
    #[arg(long, env = "WAMCP_SENDS_PER_MINUTE", value_name = "N")]
    pub sends_per_minute: Option<u32>,
    /// Seconds the user has to answer the question about a send (under confirm, or to someone new
    /// under known) [default: 300]
    #[arg(long, env = "WAMCP_CONFIRM_TIMEOUT", value_name = "SECONDS")]
    pub confirm_timeout: Option<u64>,
    /// Where the user is asked before a send they must agree to: client (the assistant's app, or
    /// a token where it cannot ask) or whatsapp (the account's own chat: reply yes) [default: client]
    #[arg(long, env = "WAMCP_CONFIRM_VIA", value_name = "WHERE")]
    pub confirm_via: Option<String>,
}

impl PolicyArgs {
    /// Whether any of these was given (as a flag or in the environment).
    pub fn is_given(&self) -> bool {
        self.send_policy.is_some()
            || !self.allowlist.is_empty()
            || self.sends_per_minute.is_some()
            || self.confirm_timeout.is_some()
            || self.confirm_via.is_some()
    }

    /// The send policy and rate limit from these flags over the config file.
    pub fn resolve(&self, layers: &mut Layers) -> anyhow::Result<PolicySettings> {
        let file = layers.file();
        let (mode, allowlist, rate) = (file.send_policy.clone(), file.allowlist.clone(), file.sends_per_minute);
        let (timeout, via) = (file.confirm_timeout, file.confirm_via.clone());
        let mode = layers.pick("send_policy", "WAMCP_SEND_POLICY", self.send_policy.clone(), mode, || "known".into());
        let given = (!self.allowlist.is_empty()).then(|| self.allowlist.clone());
        let allowlist = layers.pick("allowlist", "WAMCP_ALLOWLIST", given, allowlist, Vec::new);
        let rate = layers.pick("sends_per_minute", "WAMCP_SENDS_PER_MINUTE", self.sends_per_minute, rate, || {
            DEFAULT_SENDS_PER_MINUTE
        });
        if rate == 0 {
            anyhow::bail!("sends_per_minute: 0 would refuse every send; use send_policy = \"off\" for that");
        }
        let default_timeout = wamcp_mcp::consent::DEFAULT_TIMEOUT.as_secs();
        let timeout =
            layers.pick("confirm_timeout", "WAMCP_CONFIRM_TIMEOUT", self.confirm_timeout, timeout, || default_timeout);
        if timeout == 0 {
            anyhow::bail!("confirm_timeout: 0 seconds would give the user no time to answer; give 1 or more");
        }
        let via = layers.pick("confirm_via", "WAMCP_CONFIRM_VIA", self.confirm_via.clone(), via, || "client".into());
        Ok(PolicySettings {
            mode: PolicyMode::parse(&mode, allowlist).map_err(anyhow::Error::msg)?,
            sends_per_minute: rate,
            confirm_timeout: Duration::from_secs(timeout),
            confirm_via: ConfirmVia::parse(&via).map_err(anyhow::Error::msg)?,
        })
    }
}
