//! The loop every worker of a durable queue in the store runs (webhook deliveries,
//! transcriptions): work through what is due, then wait until the next entry is due, something
//! new is queued (the wake), or the daemon stops. A round that fails ends the worker, saying why.

use std::future::Future;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Runs `round` until `stop`: each round answers how long until the next entry is due.
pub async fn run<F, R>(name: &str, wake: &Notify, stop: &CancellationToken, mut round: F)
where
    F: FnMut() -> R,
    R: Future<Output = Result<Duration, String>>,
{
    while !stop.is_cancelled() {
        let wait = match round().await {
            Ok(wait) => wait,
            Err(error) => {
                warn!("{name} stopped: {error}");
                return;
            }
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => {}
        }
    }
}
