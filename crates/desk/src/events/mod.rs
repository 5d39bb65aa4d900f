//! The event outbox: every change worth telling other systems about is written to the `events`
//! table in the same transaction as the change, then published by [`Publisher`] — so an event
//! is never announced for a change that was rolled back, and never lost when the sink is down:
//! the outbox drains when it returns. Publishing is at least once: each event carries its
//! outbox sequence number so that consumers can drop a repeat.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use tokio::sync::{Notify, broadcast};
use wamcp_core::Timestamp;

use crate::DeskError;
use crate::db::{Db, Tx};

/// Topic names (Kafka topics when a broker is configured).
pub mod topics {
    pub const TICKETS_INCOMING: &str = "fte.tickets.incoming";
    pub const WHATSAPP_INBOUND: &str = "fte.channels.whatsapp.inbound";
    pub const WHATSAPP_OUTBOUND: &str = "fte.channels.whatsapp.outbound";
    pub const ESCALATIONS: &str = "fte.escalations";
    pub const METRICS: &str = "fte.metrics";
    /// Events a sink refused for good.
    pub const DLQ: &str = "fte.dlq";
}

/// An event as published: topic, key (the customer id, so one customer's events stay in order)
/// and a JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeskEvent {
    pub seq: i64,
    pub topic: String,
    pub key: String,
    pub payload: Value,
}

/// Adds an event to the outbox inside the caller's transaction.
pub async fn record(tx: &mut Tx, topic: &str, key: &str, payload: Value, at: Timestamp) -> Result<(), DeskError> {
    sqlx::query("INSERT INTO events (topic, key, payload, created_at) VALUES ($1, $2, $3, $4)")
        .bind(topic)
        .bind(key)
        .bind(payload.to_string())
        .bind(at.millis())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub mod kafka;

/// Why a sink did not take an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The sink cannot be reached (the cluster is down): every event waits in the outbox.
    #[error("{0}")]
    Down(String),
    /// Not this event, now (its topic is unknown, its partition has no leader): it is tried again
    /// up to [`MAX_EVENT_ATTEMPTS`] times, then dead-lettered; the others go on.
    #[error("{0}")]
    Retry(String),
    /// Never (too large, a topic refused): the event goes to `fte.dlq` instead.
    #[error("{0}")]
    Reject(String),
}

/// Attempts at one event whose own trouble may pass, before it is dead-lettered.
pub const MAX_EVENT_ATTEMPTS: i64 = 5;

/// Where published events go.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Delivers one event.
    async fn publish(&self, event: &DeskEvent) -> Result<(), SinkError>;
}

/// The default sink: listeners in this process.
#[derive(Clone)]
pub struct InProcess {
    sender: broadcast::Sender<DeskEvent>,
}

impl Default for InProcess {
    fn default() -> InProcess {
        InProcess { sender: broadcast::channel(1024).0 }
    }
}

impl InProcess {
    pub fn subscribe(&self) -> broadcast::Receiver<DeskEvent> {
        self.sender.subscribe()
    }
}

#[async_trait::async_trait]
impl Sink for InProcess {
    async fn publish(&self, event: &DeskEvent) -> Result<(), SinkError> {
        // Nobody listening is fine: in-process events are a view, the outbox is the record.
        let _ = self.sender.send(event.clone());
        Ok(())
    }
}

/// Publishes the outbox in order, whenever woken.
pub struct Publisher {
    pub db: Db,
    pub sink: Arc<dyn Sink>,
    pub wake: Arc<Notify>,
}

/// How many events one round publishes before looking again.
const ROUND: i64 = 256;
/// The wait before another round while events are left (the sink down, or an event's retries).
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

impl Publisher {
    /// Publishes whenever woken, until `stop` is cancelled: the round under way finishes.
    pub async fn run(self, stop: tokio_util::sync::CancellationToken) {
        while !stop.is_cancelled() {
            let left = match self.drain().await {
                Ok(_) => self.waiting().await.unwrap_or(true),
                Err(error) => {
                    tracing::warn!("publishing desk events: {error}; retrying");
                    true
                }
            };
            let retry =
                async { if left { tokio::time::sleep(RETRY_AFTER).await } else { std::future::pending().await } };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = retry => {}
                _ = stop.cancelled() => {}
            }
        }
    }

    /// Whether unpublished events are left.
    async fn waiting(&self) -> Result<bool, DeskError> {
        let left: Option<i64> = sqlx::query_scalar("SELECT seq FROM events WHERE published_at IS NULL LIMIT 1")
            .fetch_optional(self.db.pool())
            .await?;
        Ok(left.is_some())
    }

    /// Publishes every unpublished event it can, in order; returns how many it published. An
    /// event that fails for its own reasons holds back only the events after it with the same
    /// topic and key (their order is kept) and is dead-lettered after [`MAX_EVENT_ATTEMPTS`]; a
    /// sink that is down stops the round with an error.
    pub async fn drain(&self) -> Result<usize, DeskError> {
        let mut published = 0;
        let mut after = 0;
        let mut held_back: HashSet<(String, String)> = HashSet::new();
        loop {
            let rows = sqlx::query(
                "SELECT seq, topic, key, payload, attempts FROM events WHERE published_at IS NULL AND seq > $1 \
                 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(ROUND)
            .fetch_all(self.db.pool())
            .await?;
            if rows.is_empty() {
                return Ok(published);
            }
            for row in rows {
                let payload: String = row.try_get(3)?;
                let attempts: i64 = row.try_get(4)?;
                let event = DeskEvent {
                    seq: row.try_get(0)?,
                    topic: row.try_get(1)?,
                    key: row.try_get(2)?,
                    payload: serde_json::from_str(&payload).unwrap_or(Value::String(payload)),
                };
                after = event.seq;
                let stream = (event.topic.clone(), event.key.clone());
                if held_back.contains(&stream) {
                    continue;
                }
                let outcome = match self.sink.publish(&event).await {
                    Err(SinkError::Retry(reason)) if attempts + 1 >= MAX_EVENT_ATTEMPTS => {
                        let reason = format!("gave up after {} attempts: {reason}", attempts + 1);
                        self.dead_letter(&event, reason).await
                    }
                    Err(SinkError::Reject(reason)) => self.dead_letter(&event, reason).await,
                    other => other.map(|()| None),
                };
                match outcome {
                    Ok(dead_lettered) => {
                        sqlx::query(
                            "UPDATE events SET published_at = $1, attempts = attempts + 1, last_error = $2 WHERE seq = $3",
                        )
                        .bind(Timestamp::now().millis())
                        .bind(dead_lettered.map(|reason| format!("sent to {}: {reason}", topics::DLQ)))
                        .bind(event.seq)
                        .execute(self.db.pool())
                        .await?;
                        published += 1;
                    }
                    Err(error) => {
                        sqlx::query("UPDATE events SET attempts = attempts + 1, last_error = $1 WHERE seq = $2")
                            .bind(error.to_string())
                            .bind(event.seq)
                            .execute(self.db.pool())
                            .await?;
                        match error {
                            SinkError::Retry(reason) => {
                                tracing::info!("desk event {} to {} waits: {reason}", event.seq, event.topic);
                                held_back.insert(stream);
                            }
                            other => return Err(DeskError::Unavailable(format!("event sink: {other}"))),
                        }
                    }
                }
            }
        }
    }

    /// Sends `event` to the dead-letter topic with why; `Some(reason)` once it is there.
    async fn dead_letter(&self, event: &DeskEvent, reason: String) -> Result<Option<String>, SinkError> {
        // Dead-lettered: the original and why, under the same key and sequence number.
        let dead = DeskEvent {
            seq: event.seq,
            topic: topics::DLQ.to_string(),
            key: event.key.clone(),
            payload: serde_json::json!({"topic": event.topic, "payload": event.payload, "error": reason}),
        };
        match self.sink.publish(&dead).await {
            Ok(()) => Ok(Some(reason)),
            // The dead-letter topic's own trouble is the sink's: everything waits.
            Err(error) => Err(SinkError::Down(error.to_string())),
        }
    }
}
