//! Telling systemd how the daemon is doing (sd_notify, for `Type=notify` units): ready once the
//! API listens, a watchdog ping while the store writer is alive, stopping at shutdown. Outside
//! systemd (no `NOTIFY_SOCKET`) every call does nothing.

use sd_notify::NotifyState;
use tracing::warn;

use crate::ingest::Ingest;

/// The daemon serves: systemd may start what depends on it.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The daemon is shutting down.
pub fn stopping(status: &str) {
    notify(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// Pings the watchdog at half its period while the writer thread runs. A writer that died leaves
/// the daemon unable to store anything: the pings stop, and systemd restarts it.
pub async fn watchdog(ingest: Ingest) {
    let Some(period) = sd_notify::watchdog_enabled() else { return };
    let mut tick = tokio::time::interval(period / 2);
    loop {
        tick.tick().await;
        if !ingest.is_alive() {
            warn!("the store writer has stopped: no more watchdog pings");
            return;
        }
        notify(&[NotifyState::Watchdog]);
    }
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!("cannot notify systemd: {e}");
    }
}
