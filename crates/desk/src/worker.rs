//! The background loop: whenever woken (a message came in, a way out appeared), the agent
//! answers every waiting message and every queued answer is sent. Waking is a stored permit, so
//! a wake-up that comes while a round runs is not lost.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::Backend;
use crate::{Desk, DeskError, Outcome};

/// How many waiting messages one round takes.
const ROUND: i64 = 64;
/// How long a worker on PostgreSQL waits at most between rounds: other processes on the database
/// (a `wamcp desk` taking the web form, a person replying in its inbox) queue WhatsApp answers
/// that only a bridge can send, and nothing wakes the bridge for them.
const SHARED_DB_LOOK_MS: u64 = 5_000;

/// Answers and sends whenever woken, until `stop` is cancelled: the round under way finishes.
pub async fn run(desk: Arc<Desk>, stop: CancellationToken) {
    match desk.agent.release_own_claims().await {
        Ok(0) => {}
        Ok(released) => {
            tracing::info!("desk agent: took back {released} message(s) this bridge was answering when it stopped")
        }
        Err(error) => tracing::warn!("desk agent: cannot take back this bridge's earlier claims: {error}"),
    }
    while !stop.is_cancelled() {
        let wait = match run_once(&desk).await {
            // Woken by work, or when an answer waiting to be tried again is due.
            Ok(_) => match desk.channels().next_retry(&desk.db).await {
                Ok(Some(due)) => Some((due - wamcp_core::Timestamp::now().millis()).clamp(0, 60_000) as u64),
                _ => None,
            },
            Err(error) => {
                tracing::warn!("desk agent: {error}; trying again");
                Some(5_000)
            }
        };
        let wait = match desk.db.backend() {
            Backend::Postgres => Some(wait.map_or(SHARED_DB_LOOK_MS, |ms| ms.min(SHARED_DB_LOOK_MS))),
            Backend::Sqlite => wait,
        };
        let sleep = async {
            match wait {
                Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = desk.work.notified() => {}
            _ = sleep => {}
            _ = stop.cancelled() => {}
        }
    }
}

pub async fn run_once(desk: &Desk) -> Result<Vec<Outcome>, DeskError> {
    let mut outcomes = Vec::new();
    let channels = desk.channels();
    // Older answers first: ones held until now (for the customer to write, or a way out) go
    // before the answers to what the customer writes next.
    deliver_queued(desk, &channels).await?;
    loop {
        let pending = desk.agent.pending(ROUND, channels.whatsapp.is_some()).await?;
        if pending.is_empty() {
            break;
        }
        let mut progressed = false;
        for id in pending {
            if let Some(outcome) = desk.agent.handle(&id).await? {
                desk.response_times.observe(outcome.response_ms as f64 / 1000.0);
                desk.events_wake.notify_one();
                channels.deliver(&desk.db, &outcome.response_id).await?;
                outcomes.push(outcome);
                progressed = true;
            }
        }
        if !progressed {
            // Everything left is claimed by another worker.
            break;
        }
    }
    deliver_queued(desk, &channels).await?;
    Ok(outcomes)
}

async fn deliver_queued(desk: &Desk, channels: &crate::Channels) -> Result<(), DeskError> {
    for id in channels.queued(&desk.db).await? {
        channels.deliver(&desk.db, &id).await?;
    }
    Ok(())
}
