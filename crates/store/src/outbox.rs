//! The outbox table: sends written down before they are acknowledged, so a crash or a lost
//! connection delays them but never loses them. What a request contains is the bridge's business
//! (a JSON text here); the store keeps it, its state and its retry schedule.

use rusqlite::{OptionalExtension, Row, params};
use wamcp_core::{Jid, Timestamp};

use crate::write::Batch;
use crate::{Reader, Result};

/// Where a send has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting for its (next) attempt.
    Queued,
    Sent,
    /// Given up: `last_error` says why.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
        }
    }

    /// The delivery status a send in this state has, the one word the REST API, the MCP tools
    /// and the stored message all use: a send still in the queue is `pending`.
    pub fn delivery(self) -> wamcp_core::DeliveryStatus {
        match self {
            OutboxState::Queued => wamcp_core::DeliveryStatus::Pending,
            OutboxState::Sent => wamcp_core::DeliveryStatus::Sent,
            OutboxState::Failed => wamcp_core::DeliveryStatus::Failed,
        }
    }

    fn parse(name: &str) -> OutboxState {
        match name {
            "sent" => OutboxState::Sent,
            "failed" => OutboxState::Failed,
            _ => OutboxState::Queued,
        }
    }
}

/// One row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub seq: i64,
    pub chat: String,
    pub message_id: String,
    pub idempotency_key: Option<String>,
    pub request: String,
    pub state: OutboxState,
    pub attempts: u32,
    pub next_attempt: Timestamp,
    pub last_error: Option<String>,
    pub created: Timestamp,
}

/// What enqueueing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    New(OutboxEntry),
    /// A send with this idempotency key exists: nothing new was queued.
    Existing(OutboxEntry),
}

const COLUMNS: &str =
    "seq, chat_jid, message_id, idempotency_key, request, state, attempts, next_attempt, last_error, created";

fn entry(row: &Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        seq: row.get(0)?,
        chat: row.get(1)?,
        message_id: row.get(2)?,
        idempotency_key: row.get(3)?,
        request: row.get(4)?,
        state: OutboxState::parse(&row.get::<_, String>(5)?),
        attempts: row.get(6)?,
        next_attempt: Timestamp(row.get(7)?),
        last_error: row.get(8)?,
        created: Timestamp(row.get(9)?),
    })
}

impl Batch<'_> {
    /// Queues a send, due now. With an idempotency key seen before, returns that send instead.
    pub fn enqueue(
        &mut self,
        chat: &Jid,
        message_id: &str,
        idempotency_key: Option<&str>,
        request: &str,
        now: Timestamp,
    ) -> Result<Enqueued> {
        if let Some(key) = idempotency_key
            && let Some(existing) = self.outbox_by_key(key)?
        {
            return Ok(Enqueued::Existing(existing));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (chat_jid, message_id, idempotency_key, request, state, next_attempt, created, updated)
                 VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5, ?5)",
            )?
            .execute(params![chat.as_str(), message_id, idempotency_key, request, now.millis()])?;
        let seq = self.conn.last_insert_rowid();
        Ok(Enqueued::New(self.outbox_entry(seq)?.expect("the row was just inserted")))
    }

    /// The send with this idempotency key.
    pub fn outbox_by_key(&self, key: &str) -> Result<Option<OutboxEntry>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE idempotency_key = ?1"))?
            .query_row([key], entry)
            .optional()?)
    }

    pub fn outbox_entry(&self, seq: i64) -> Result<Option<OutboxEntry>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE seq = ?1"))?
            .query_row([seq], entry)
            .optional()?)
    }

    /// Counts an attempt that failed and will be retried at `next_attempt`.
    pub fn outbox_retry_at(&mut self, seq: i64, error: &str, next_attempt: Timestamp, now: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3, updated = ?4
                 WHERE seq = ?1 AND state = 'queued'",
            )?
            .execute(params![seq, error, next_attempt.millis(), now.millis()])?;
        Ok(())
    }

    /// Ends a send: sent, or failed for good with the reason.
    pub fn outbox_finish(&mut self, seq: i64, state: OutboxState, error: Option<&str>, now: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET state = ?2, attempts = attempts + 1, last_error = coalesce(?3, last_error), updated = ?4
                 WHERE seq = ?1",
            )?
            .execute(params![seq, state.as_str(), error, now.millis()])?;
        Ok(())
    }
}

impl Reader {
    /// Queued sends, the soonest due first, in the order they were made.
    pub fn outbox_queued(&self, limit: u32) -> Result<Vec<OutboxEntry>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE state = 'queued' ORDER BY next_attempt, seq LIMIT ?1"
            ))?
            .query_map([limit], entry)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// How many sends wait to go out.
    pub fn outbox_depth(&self) -> Result<u64> {
        let depth: i64 =
            self.conn.query_row("SELECT count(*) FROM outbox WHERE state = 'queued'", [], |row| row.get(0))?;
        Ok(depth as u64)
    }

    /// A send by its chat and message id.
    pub fn outbox_entry(&self, chat: &Jid, message_id: &str) -> Result<Option<OutboxEntry>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE chat_jid = ?1 AND message_id = ?2"))?
            .query_row(params![chat.as_str(), message_id], entry)
            .optional()?)
    }
}
