//! Staying connected: connect at start, and after a transient disconnect try again with
//! exponential backoff and jitter. A logout, an outdated client, a replaced stream or a ban is
//! not retried: a person has to act, and the status says what to do.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::warn;
use wamcp_core::LinkEvent;
use wamcp_link::Link;

use crate::backoff::Backoff;
use crate::status::{Counters, Status};

const RECONNECT: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(120));

pub async fn keep_connected(link: Arc<dyn Link>, events: mpsc::Sender<LinkEvent>, status: Arc<Status>) {
    let mut connected = status.watch_connected();
    let mut attempt = 0;
    loop {
        if !status.is_connected()
            && let Err(error) = link.connect(events.clone()).await
        {
            warn!("cannot connect: {error}");
            Counters::add(&status.counters.reconnects, 1);
            tokio::select! {
                _ = tokio::time::sleep(RECONNECT.delay(attempt)) => {}
                _ = connected.wait_for(|up| *up) => {}
            }
            attempt += 1;
            continue;
        }
        // Up (or coming up): wait for it to be up, then for it to go down.
        if connected.wait_for(|up| *up).await.is_err() {
            return;
        }
        attempt = 0;
        if connected.wait_for(|up| !*up).await.is_err() {
            return;
        }
        if status.connection().state != "disconnected" {
            // Logged out, outdated, replaced or banned: retrying cannot help.
            return;
        }
        Counters::add(&status.counters.reconnects, 1);
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT.delay(attempt)) => {}
            // The link came back by itself.
            _ = connected.wait_for(|up| *up) => {}
        }
        attempt += 1;
    }
}
