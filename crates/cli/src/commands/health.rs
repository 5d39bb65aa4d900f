//! `wamcp health`: asks the running daemon whether it is alive (`/api/health`) or, with
//! `--ready`, connected to WhatsApp (`/api/ready`); exit status 0 or 1. It is the container
//! image's `HEALTHCHECK` and the Kubernetes probes, so it needs no token, curl or shell.

use std::time::Duration;

use clap::Args;

use super::daemon::{DaemonAddressArgs, loopback};
use crate::config::Layers;

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    daemon: DaemonAddressArgs,
    /// Ask whether the daemon is connected to WhatsApp, not only running
    #[arg(long)]
    ready: bool,
    /// Seconds to wait for the answer
    #[arg(long, default_value_t = 3, value_name = "SECONDS")]
    timeout: u64,
}

pub fn run(mut layers: Layers, args: HealthArgs) -> anyhow::Result<()> {
    let dir = layers.data_dir()?;
    let target = loopback(args.daemon.resolve(&mut layers, &dir));
    let path = if args.ready { "/api/ready" } else { "/api/health" };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(args.timeout.max(1))))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&format!("http://{target}{path}"))
        .call()
        .map_err(|e| anyhow::anyhow!("no daemon answers on {target}: {e}"))?;
    let status = response.status().as_u16();
    let body: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default()).unwrap_or_default();
    match (status, args.ready) {
        (200, false) => outln!("ok: the daemon on {target} is running")?,
        (200, true) => outln!("ready: the daemon on {target} is connected to WhatsApp")?,
        (503, true) => {
            let state = body["connection"].as_str().unwrap_or("unknown");
            anyhow::bail!("not ready: the daemon on {target} is {state}, not connected to WhatsApp")
        }
        (other, _) => anyhow::bail!("the daemon on {target} answered {path} with HTTP {other}"),
    }
    Ok(())
}
