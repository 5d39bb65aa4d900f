//! Sending stored responses out on the customer's channel. A response is committed as `queued`
//! before any attempt, and sent with its own id as the idempotency key, so one that was being sent
//! when the process died is sent again on start without reaching the customer twice.
//!
//! WhatsApp goes through the bridge's outbox ([`TextOutbox`]). Email and web-form responses stay
//! `queued` for whatever delivers them (they are on the ticket and in the events).

use std::sync::Arc;

use sqlx::Row;
use wamcp_core::{Jid, QueueError, TextOutbox};

use crate::DeskError;
use crate::db::Db;

/// The ways out.
#[derive(Clone, Default)]
pub struct Channels {
    /// The bridge, when the desk runs inside `wamcp serve`.
    pub whatsapp: Option<Arc<dyn TextOutbox>>,
}

impl Channels {
    /// Sends the queued response `message_id` if its channel has a way out; returns its new
    /// delivery status.
    pub async fn deliver(&self, db: &Db, message_id: &str) -> Result<String, DeskError> {
        let row = sqlx::query("SELECT channel, address, body, delivery_status FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_one(db.pool())
            .await?;
        let (channel, address, body, status): (String, String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        if status != "queued" || channel != "whatsapp" {
            return Ok(status);
        }
        let Some(outbox) = &self.whatsapp else { return Ok(status) };
        let result = match Jid::parse_person(&address) {
            Ok(jid) => outbox.queue_text(&jid, &body, message_id).await,
            Err(error) => Err(QueueError::Refused(format!("'{address}' is not a WhatsApp address: {error}"))),
        };
        let (status, channel_id, error) = match result {
            Ok(id) => ("sent", Some(id), None),
            Err(QueueError::Refused(error)) => ("failed", None, Some(error)),
            Err(QueueError::Unavailable(error)) => {
                // Stays queued: sent on the next round, or after a restart.
                tracing::warn!("desk: answer {message_id} not handed over yet: {error}");
                return Ok(status);
            }
        };
        sqlx::query(
            "UPDATE messages SET delivery_status = $1, channel_message_id = COALESCE($2, channel_message_id), \
             delivery_error = $3 WHERE id = $4",
        )
        .bind(status)
        .bind(channel_id)
        .bind(error)
        .bind(message_id)
        .execute(db.pool())
        .await?;
        Ok(status.to_string())
    }

    /// Responses still queued on a channel that has a way out (after a restart, say).
    pub async fn queued(&self, db: &Db) -> Result<Vec<String>, DeskError> {
        if self.whatsapp.is_none() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(
            "SELECT id FROM messages WHERE delivery_status = 'queued' AND direction = 'outbound' \
             AND channel = 'whatsapp' ORDER BY created_at",
        )
        .fetch_all(db.pool())
        .await?)
    }
}
