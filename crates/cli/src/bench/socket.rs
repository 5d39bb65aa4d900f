//! `wamcp bench`, through the daemon's socket: the same read calls through `wamcp mcp --daemon
//! unix:PATH` (the relay to the daemon's `/mcp`) and through `wamcp mcp` reading the store itself,
//! on the same store, taken in turn, so the difference is what the socket path adds per call.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::bail;

use super::{Call, Client, Sample, call, direct, ms, percentiles, start_server, typical_calls};
use crate::commands::doctor::service::status;

/// The most the socket path may add to a call's p50.
const TARGET_ADDED: Duration = Duration::from_millis(1);

pub async fn compare(data_dir: &Path, work: &Path, calls_per_shape: usize) -> anyhow::Result<()> {
    let socket = work.join("wamcp.sock");
    let mut daemon = start_daemon(data_dir, &socket)?;
    let measured = measure(data_dir, &socket, calls_per_shape, &mut daemon).await;
    // SIGTERM, so the daemon shuts down as it would in service.
    let _ = Command::new("kill").arg(daemon.id().to_string()).status();
    let _ = daemon.wait();
    measured
}

async fn measure(data_dir: &Path, socket: &Path, calls_per_shape: usize, daemon: &mut Child) -> anyhow::Result<()> {
    wait_until_ready(socket, daemon)?;
    let relay_args = ["mcp".into(), "--daemon".into(), format!("unix:{}", socket.display()).into()];
    let started = Instant::now();
    let (relay, _) = start_server(&relay_args).await?;
    let relay_startup = started.elapsed();
    let (reading, _) = start_server(&direct(data_dir)).await?;
    outln!("through the daemon's socket (wamcp mcp --daemon unix:PATH), beside the store read directly:")?;
    outln!("relay start {} (spawn -> initialize answered, through the daemon)", ms(relay_startup))?;
    outln!("{:<58} {:>9} {:>9} {:>9}", "tool call", "direct", "socket", "added")?;
    let mut added = Vec::new();
    for Call { label, tool, arguments, .. } in typical_calls(&Sample::take(&reading).await?) {
        let (mut straight, mut through) = (Vec::new(), Vec::new());
        for _ in 0..calls_per_shape {
            straight.push(timed(&reading, tool, &arguments, &label).await?);
            through.push(timed(&relay, tool, &arguments, &label).await?);
        }
        let (direct_p50, socket_p50) = (percentiles(&mut straight).0, percentiles(&mut through).0);
        let difference = socket_p50.as_secs_f64() - direct_p50.as_secs_f64();
        added.push(difference);
        outln!("{label:<58} {:>9} {:>9} {:>+7.2} ms", ms(direct_p50), ms(socket_p50), difference * 1000.0)?;
    }
    added.sort_by(f64::total_cmp);
    let (median, most) = (added[added.len() / 2], added[added.len() - 1]);
    outln!(
        "the socket adds p50 {:+.2} ms per call (median over the calls; at most {:+.2} ms; target <= {} ms)",
        median * 1000.0,
        most * 1000.0,
        TARGET_ADDED.as_millis()
    )?;
    relay.cancel().await?;
    reading.cancel().await?;
    Ok(())
}

async fn timed(client: &Client, tool: &str, arguments: &serde_json::Value, label: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let result = call(client, tool, arguments.clone()).await?;
    let took = started.elapsed();
    anyhow::ensure!(result.is_error != Some(true), "{label} failed: {:?}", result.content);
    Ok(took)
}

/// `wamcp demo` on the benchmark's store, serving on `socket` too.
fn start_daemon(data_dir: &Path, socket: &Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    Ok(Command::new(exe)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["demo", "--chatter", "0", "--listen", "127.0.0.1:0", "--socket"])
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

/// Waits until the daemon answers on the socket with its sample history stored, so that its
/// writes are not in the figures.
fn wait_until_ready(socket: &Path, daemon: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(exit) = daemon.try_wait()? {
            bail!("the daemon exited ({exit})");
        }
        if status(socket).is_ok_and(|report| report.history_sync.percent == 100) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the daemon did not store its history within two minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
