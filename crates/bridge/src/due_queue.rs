//! The loop every worker of a durable queue in the store runs (webhook deliveries,
//! transcriptions): work through what is due, then wait until the next entry is due, something
//! new is queued (the wake), or the daemon stops. A round that fails ends the worker, saying why.

use std::future::Future;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use wamcp_core::Timestamp;

/// How long a worker waits when nothing is queued (a wake comes sooner when something is).
pub const IDLE: Duration = Duration::from_secs(3600);

/// The HTTP client a worker posts with: each request bounded by `timeout`, every status an
/// answer to read (a 4xx or 5xx is the receiver's word, not a transport error).
pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into()
}

/// How long until an entry due at `due` is due, from `now`.
pub fn until(due: Timestamp, now: Timestamp) -> Duration {
    Duration::from_millis(due.millis().saturating_sub(now.millis()).max(0) as u64)
}

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
