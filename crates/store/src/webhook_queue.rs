//! Webhook deliveries waiting for their receiver: written in the same transaction as the change
//! they announce, so a crash between the two cannot lose one.

use rusqlite::params;
use wamcp_core::Timestamp;

use crate::write::Batch;
use crate::{Reader, Result};

/// One delivery to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub seq: i64,
    pub url: String,
    pub body: String,
    pub attempts: u32,
    pub next_attempt: Timestamp,
}

impl Batch<'_> {
    pub fn queue_webhook(&mut self, url: &str, body: &str, now: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO webhook_queue (url, body, next_attempt, created) VALUES (?1, ?2, ?3, ?3)")?
            .execute(params![url, body, now.millis()])?;
        Ok(())
    }

    /// The receiver took it, or it was given up: it leaves the queue.
    pub fn webhook_done(&mut self, seq: i64) -> Result<()> {
        self.conn.prepare_cached("DELETE FROM webhook_queue WHERE seq = ?1")?.execute([seq])?;
        Ok(())
    }

    pub fn webhook_retry_at(&mut self, seq: i64, error: &str, next_attempt: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE webhook_queue SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3 WHERE seq = ?1",
            )?
            .execute(params![seq, error, next_attempt.millis()])?;
        Ok(())
    }
}

impl Reader {
    /// Deliveries in the order they were queued, the soonest due first.
    pub fn webhooks_queued(&self, limit: u32) -> Result<Vec<WebhookDelivery>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT seq, url, body, attempts, next_attempt FROM webhook_queue ORDER BY next_attempt, seq LIMIT ?1",
            )?
            .query_map([limit], |row| {
                Ok(WebhookDelivery {
                    seq: row.get(0)?,
                    url: row.get(1)?,
                    body: row.get(2)?,
                    attempts: row.get(3)?,
                    next_attempt: Timestamp(row.get(4)?),
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }
}
