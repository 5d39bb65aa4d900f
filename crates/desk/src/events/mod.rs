//! The event outbox: every change worth telling other systems about is written to the `events`
//! table in the same transaction as the change, then published by [`Publisher`] — so an event
//! is never announced for a change that was rolled back, and never lost when the sink is down:
//! the outbox drains when it returns.

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
    /// Not now (the broker is down): the event stays in the outbox and is tried again.
    #[error("{0}")]
    Retry(String),
    /// Never (too large, a topic refused): the event goes to `fte.dlq` instead.
    #[error("{0}")]
    Reject(String),
}

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

impl Publisher {
    pub async fn run(self) {
        loop {
            match self.drain().await {
                Ok(_) => self.wake.notified().await,
                Err(error) => {
                    tracing::warn!("publishing desk events: {error}; retrying");
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                    }
                }
            }
        }
    }

    /// Publishes every unpublished event; stops at the first the sink refuses, so order holds.
    pub async fn drain(&self) -> Result<usize, DeskError> {
        let mut published = 0;
        loop {
            let rows = sqlx::query(
                "SELECT seq, topic, key, payload FROM events WHERE published_at IS NULL ORDER BY seq LIMIT $1",
            )
            .bind(ROUND)
            .fetch_all(self.db.pool())
            .await?;
            if rows.is_empty() {
                return Ok(published);
            }
            for row in rows {
                let payload: String = row.try_get(3)?;
                let event = DeskEvent {
                    seq: row.try_get(0)?,
                    topic: row.try_get(1)?,
                    key: row.try_get(2)?,
                    payload: serde_json::from_str(&payload).unwrap_or(Value::String(payload)),
                };
                let outcome = match self.sink.publish(&event).await {
                    Err(SinkError::Reject(reason)) => {
                        // Dead-lettered: the original and why, under the same key.
                        let dead = DeskEvent {
                            seq: event.seq,
                            topic: topics::DLQ.to_string(),
                            key: event.key.clone(),
                            payload: serde_json::json!({"topic": event.topic, "payload": event.payload, "error": reason}),
                        };
                        self.sink.publish(&dead).await.map(|()| Some(reason))
                    }
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
                        let error = error.to_string();
                        sqlx::query("UPDATE events SET attempts = attempts + 1, last_error = $1 WHERE seq = $2")
                            .bind(&error)
                            .bind(event.seq)
                            .execute(self.db.pool())
                            .await?;
                        return Err(DeskError::Unavailable(format!("event sink: {error}")));
                    }
                }
            }
        }
    }
}
