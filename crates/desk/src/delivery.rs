//! Sending stored responses out on the customer's channel. A response is committed as `queued`
//! before any attempt, and sent with its own id as the idempotency key, so one that was being sent
//! when the process died is sent again on start without reaching the customer twice.
//!
//! WhatsApp goes through the bridge's outbox ([`TextOutbox`]), or through Twilio's API for
//! customers who wrote through Twilio. Email and web-form responses stay `queued` for whatever
//! delivers them (they are on the ticket and in the events).

use std::sync::Arc;

use sqlx::Row;
use wamcp_core::{Jid, QueueError, TextOutbox};

use crate::DeskError;
use crate::db::Db;
use crate::twilio::Twilio;

/// The ways out.
#[derive(Clone, Default)]
pub struct Channels {
    /// The bridge, when the desk runs inside `wamcp serve`.
    pub whatsapp: Option<Arc<dyn TextOutbox>>,
    /// Twilio, when its credentials are set.
    pub twilio: Option<Arc<Twilio>>,
}

impl Channels {
    /// Sends the queued response `message_id` if its channel has a way out; returns its new
    /// delivery status.
    pub async fn deliver(&self, db: &Db, message_id: &str) -> Result<String, DeskError> {
        let row = sqlx::query(
            "SELECT channel, via, address, body, delivery_status, channel_account FROM messages WHERE id = $1",
        )
        .bind(message_id)
        .fetch_one(db.pool())
        .await?;
        let (channel, via, address, body, status): (String, String, String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, row.try_get(4)?);
        let channel_account: Option<String> = row.try_get(5)?;
        if status != "queued" || channel != "whatsapp" {
            return Ok(status);
        }
        let result = if via == "twilio" {
            let Some(twilio) = &self.twilio else { return Ok(status) };
            match channel_account {
                Some(from) => twilio.send(&from, &address, &body).await,
                None => Err(QueueError::Refused("no Twilio number to send from".into())),
            }
        } else {
            let Some(outbox) = &self.whatsapp else { return Ok(status) };
            match Jid::parse_person(&address) {
                Ok(jid) => outbox.queue_text(&jid, &body, message_id).await,
                Err(error) => Err(QueueError::Refused(format!("'{address}' is not a WhatsApp address: {error}"))),
            }
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
        let rows = sqlx::query(
            "SELECT id, via FROM messages WHERE delivery_status = 'queued' AND direction = 'outbound' \
             AND channel = 'whatsapp' ORDER BY seq",
        )
        .fetch_all(db.pool())
        .await?;
        let mut ids = Vec::new();
        for row in rows {
            let via: String = row.try_get(1)?;
            let way_out = if via == "twilio" { self.twilio.is_some() } else { self.whatsapp.is_some() };
            if way_out {
                ids.push(row.try_get(0)?);
            }
        }
        Ok(ids)
    }
}
