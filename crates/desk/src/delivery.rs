//! Sending stored responses out on the customer's channel. A response is committed as `queued`
//! before any attempt, and sent with its own id as the idempotency key, so one that was being sent
//! when the process died is sent again on start without reaching the customer twice.
//!
//! WhatsApp goes through the bridge's outbox ([`TextOutbox`]), or through Twilio's API for
//! customers who wrote through Twilio ([`twilio_delivery`]: only within WhatsApp's 24-hour window). Email and web-form responses go by SMTP when
//! `desk.smtp_url` is set ([`Smtp`]); a failure that may pass is tried again with backoff
//! ([`MAX_MAIL_ATTEMPTS`] times in all), one that cannot is `failed` with the server's reason.
//! Without SMTP they stay `queued` (they are on the ticket and in the events).

use std::sync::Arc;

use sqlx::Row;
use wamcp_core::{Jid, QueueError, TextOutbox};

use std::time::Duration;

use crate::DeskError;
use crate::db::Db;
use crate::model::Via;
use crate::smtp::{self, Mail, SendError, Smtp};
use crate::twilio::Twilio;
use crate::twilio_delivery;

/// Attempts at an email answer before it is `failed`.
pub const MAX_MAIL_ATTEMPTS: i64 = 5;
/// The wait before the first retry; each later one waits four times longer.
pub const MAIL_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The ways out.
#[derive(Clone, Default)]
pub struct Channels {
    /// The bridge, when the desk runs inside `wamcp serve`.
    pub whatsapp: Option<Arc<dyn TextOutbox>>,
    /// Twilio, when its credentials are set.
    pub twilio: Option<Arc<Twilio>>,
    /// SMTP, for email and web-form answers, when `desk.smtp_url` is set.
    pub email: Option<Arc<Smtp>>,
    /// The wait before an email answer's first retry.
    pub mail_retry_after: Duration,
}

/// Takes a WhatsApp answer for the bridge `sender`, unless another bridge took it first: each
/// bridge's outbox knows only its own idempotency keys, so an answer handed to two of them would
/// reach the customer twice.
async fn take_for(db: &Db, message_id: &str, sender: &str) -> Result<bool, DeskError> {
    let taken = sqlx::query("UPDATE messages SET bridge = $1 WHERE id = $2 AND (bridge IS NULL OR bridge = $3)")
        .bind(sender)
        .bind(message_id)
        .bind(sender)
        .execute(db.pool())
        .await?;
    Ok(taken.rows_affected() == 1)
}

fn is_mail(channel: &str) -> bool {
    channel == "email" || channel == "web_form"
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
        if status != "queued" {
            return Ok(status);
        }
        if is_mail(&channel) {
            return match &self.email {
                Some(smtp) => self.deliver_mail(db, smtp, message_id, &address, &body).await,
                None => Ok(status),
            };
        }
        if channel != "whatsapp" {
            return Ok(status);
        }
        if via == Via::Twilio.as_str() {
            let Some(twilio) = &self.twilio else { return Ok(status) };
            if let Some(from) = channel_account {
                let status = twilio_delivery::deliver(db, twilio, message_id, &from, &address, &body).await?;
                return Ok(status.as_str().to_string());
            }
        }
        let result = if via == Via::Twilio.as_str() {
            Err(QueueError::Refused("no Twilio number to send from".into()))
        } else {
            let Some(outbox) = &self.whatsapp else { return Ok(status) };
            if !take_for(db, message_id, outbox.sender()).await? {
                return Ok(status);
            }
            match Jid::parse_person(&address) {
                Ok(jid) => outbox.queue_text(&jid, &body, message_id).await,
                Err(error) => Err(QueueError::Refused(format!("'{address}' is not a WhatsApp address: {error}"))),
            }
        };
        let (status, channel_id, error) = match result {
            Ok(id) => ("sent", Some(id), None::<String>),
            Err(QueueError::Refused(error)) => ("failed", None, Some(error)),
            Err(QueueError::Unavailable(error)) => {
                // Stays queued: sent on the next round, or after a restart; why is on the message.
                tracing::warn!("desk: answer {message_id} not handed over yet: {error}");
                sqlx::query("UPDATE messages SET delivery_error = $1 WHERE id = $2")
                    .bind(&error)
                    .bind(message_id)
                    .execute(db.pool())
                    .await?;
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

    /// Responses still queued on a channel that has a way out (after a restart, say), and due.
    pub async fn queued(&self, db: &Db) -> Result<Vec<String>, DeskError> {
        let rows = sqlx::query(
            "SELECT id, via, channel, bridge FROM messages WHERE delivery_status = 'queued' AND direction = 'outbound' \
             AND (next_attempt_at IS NULL OR next_attempt_at <= $1) ORDER BY seq",
        )
        .bind(wamcp_core::Timestamp::now().millis())
        .fetch_all(db.pool())
        .await?;
        let mut ids = Vec::new();
        for row in rows {
            let (via, channel): (String, String) = (row.try_get(1)?, row.try_get(2)?);
            let bridge: Option<String> = row.try_get(3)?;
            let way_out = match channel.as_str() {
                "whatsapp" if via == "twilio" => self.twilio.is_some(),
                // One another bridge took is that bridge's to send.
                "whatsapp" => self.whatsapp.as_ref().is_some_and(|o| bridge.as_deref().is_none_or(|b| b == o.sender())),
                _ => self.email.is_some(),
            };
            if way_out {
                ids.push(row.try_get(0)?);
            }
        }
        Ok(ids)
    }

    /// When the next retry is due (milliseconds), if one waits.
    pub async fn next_retry(&self, db: &Db) -> Result<Option<i64>, DeskError> {
        Ok(sqlx::query_scalar(
            "SELECT min(next_attempt_at) FROM messages WHERE delivery_status = 'queued' AND direction = 'outbound'",
        )
        .fetch_one(db.pool())
        .await?)
    }

    /// Sends an email answer, threaded under the customer's mail.
    async fn deliver_mail(
        &self,
        db: &Db,
        smtp: &Smtp,
        message_id: &str,
        address: &str,
        body: &str,
    ) -> Result<String, DeskError> {
        let row = sqlx::query("SELECT conversation_id, seq, delivery_attempts FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_one(db.pool())
            .await?;
        let (conversation, seq, attempts): (String, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        // The thread so far: the customer's mails (their own Message-IDs) and our earlier answers.
        let thread = sqlx::query(
            "SELECT direction, channel_message_id, subject FROM messages WHERE conversation_id = $1 AND seq < $2 \
             AND channel IN ('email', 'web_form') ORDER BY seq",
        )
        .bind(&conversation)
        .bind(seq)
        .fetch_all(db.pool())
        .await?;
        let mut references = Vec::new();
        let mut in_reply_to = None;
        let mut subject = None;
        for row in &thread {
            let (direction, id, said): (String, Option<String>, Option<String>) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if let Some(id) = id.filter(|id| id.starts_with('<') && id.ends_with('>')) {
                if direction == "inbound" {
                    in_reply_to = Some(id.clone());
                }
                references.push(id);
            }
            if direction == "inbound" && said.is_some() {
                subject = said;
            }
        }
        let ours = format!("{message_id}@{}", smtp.id_domain());
        let mail = Mail {
            to: address.to_string(),
            subject: smtp::reply_subject(subject.as_deref()),
            body: body.to_string(),
            message_id: ours.clone(),
            in_reply_to,
            references,
        };
        let attempts = attempts + 1;
        let (status, error, next) = match smtp.send(&mail).await {
            Ok(()) => ("sent", None, None),
            Err(SendError::Permanent(why)) => ("failed", Some(why), None),
            Err(SendError::Transient(why)) if attempts >= MAX_MAIL_ATTEMPTS => {
                ("failed", Some(format!("gave up after {attempts} attempts: {why}")), None)
            }
            Err(SendError::Transient(why)) => {
                tracing::warn!("desk: email answer {message_id} not sent yet (attempt {attempts}): {why}");
                let wait = self.mail_retry_after.as_millis() as i64 * 4_i64.pow(attempts as u32 - 1);
                ("queued", Some(why), Some(wamcp_core::Timestamp::now().millis() + wait))
            }
        };
        sqlx::query(
            "UPDATE messages SET delivery_status = $1, delivery_error = $2, delivery_attempts = $3, \
             next_attempt_at = $4, channel_message_id = CASE WHEN $1 = 'sent' THEN $5 ELSE channel_message_id END \
             WHERE id = $6",
        )
        .bind(status)
        .bind(error)
        .bind(attempts)
        .bind(next)
        .bind(format!("<{ours}>"))
        .bind(message_id)
        .execute(db.pool())
        .await?;
        Ok(status.to_string())
    }
}
