//! Answers through Twilio's WhatsApp API, as WhatsApp allows them: free-form text only within 24
//! hours of the customer's last message (the customer-service window). Outside it — a person's
//! late reply to an escalated ticket, answers queued through an outage — the answer waits as
//! `window_closed` until the customer writes again, and, when `desk.twilio_reengage_content_sid`
//! names an approved template, the customer is sent that template once to ask them to.
//!
//! Twilio reports what happens later on the status callback: `delivered`, `read`, or `failed`
//! and `undelivered` with an error code. A status only moves forward (callbacks may come out of
//! order), and a late 63016 (outside the window) holds the answer like an early one.

use sqlx::Row;
use wamcp_core::Timestamp;

use crate::DeskError;
use crate::db::Db;
use crate::model::{Author, DeliveryStatus, Via, new_id};
use crate::twilio::{Content, SendError, Twilio, WINDOW_CLOSED_ERROR};

/// How long after the customer's last message free-form messages may be sent.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// What the held answer says about the window, for the inbox.
const CUSTOMER_MUST_WRITE: &str = "window closed: customer must write first (WhatsApp takes free-form messages \
     only within 24 hours of the customer's last one)";

/// Whether the customer at `address` wrote through Twilio in the last 24 hours.
pub async fn window_open(db: &Db, address: &str, now: Timestamp) -> Result<bool, DeskError> {
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(created_at) FROM messages WHERE direction = 'inbound' AND via = $1 AND address = $2",
    )
    .bind(Via::Twilio.as_str())
    .bind(address)
    .fetch_one(db.pool())
    .await?;
    Ok(last.is_some_and(|at| now.millis() - at < WINDOW_MS))
}

/// Sends the queued answer `message_id` (`body`, from our number `from` to `to`) if the window
/// is open, else holds it; returns its new delivery status.
pub async fn deliver(
    db: &Db,
    twilio: &Twilio,
    message_id: &str,
    from: &str,
    to: &str,
    body: &str,
) -> Result<DeliveryStatus, DeskError> {
    let result = if window_open(db, to, Timestamp::now()).await? {
        twilio.send(from, to, Content::Text(body)).await
    } else {
        Err(SendError::WindowClosed("more than 24 hours since the customer's last message".into()))
    };
    match result {
        Ok(sid) => set(db, message_id, DeliveryStatus::Sent, Some(&sid), None).await,
        Err(SendError::Refused(error)) => set(db, message_id, DeliveryStatus::Failed, None, Some(&error)).await,
        Err(SendError::Unavailable(error)) => {
            // Stays queued: sent on the next round, or after a restart; why is on the message.
            tracing::warn!("desk: answer {message_id} not handed to Twilio yet: {error}");
            set(db, message_id, DeliveryStatus::Queued, None, Some(&error)).await
        }
        Err(SendError::WindowClosed(why)) => hold(db, twilio, message_id, from, to, &why).await,
    }
}

/// Holds an answer until the customer writes. The first answer held for this customer since
/// they last wrote asks them to write, with the re-engagement template when one is configured.
async fn hold(
    db: &Db,
    twilio: &Twilio,
    message_id: &str,
    from: &str,
    to: &str,
    why: &str,
) -> Result<DeliveryStatus, DeskError> {
    let already_held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE direction = 'outbound' AND via = $1 AND address = $2 \
         AND delivery_status = $3 AND id <> $4",
    )
    .bind(Via::Twilio.as_str())
    .bind(to)
    .bind(DeliveryStatus::WindowClosed.as_str())
    .bind(message_id)
    .fetch_one(db.pool())
    .await?;
    let note = match &twilio.reengage_content_sid {
        _ if already_held > 0 => format!("{CUSTOMER_MUST_WRITE}; {why}"),
        Some(template) => {
            let sent = twilio.send(from, to, Content::Template(template)).await;
            record_template(db, message_id, template, &sent).await?;
            match sent {
                Ok(_) => format!("{CUSTOMER_MUST_WRITE}; the re-engagement template asked them to"),
                Err(error) => format!("{CUSTOMER_MUST_WRITE}; the re-engagement template was not sent: {error}"),
            }
        }
        None => {
            format!("{CUSTOMER_MUST_WRITE}; set desk.twilio_reengage_content_sid to ask them with an approved template")
        }
    };
    tracing::info!("desk: answer {message_id} waits for the customer to write ({why})");
    set(db, message_id, DeliveryStatus::WindowClosed, None, Some(&note)).await
}

/// Keeps the template message on the held answer's ticket, where the inbox shows it.
async fn record_template(
    db: &Db,
    held: &str,
    template: &str,
    sent: &Result<String, SendError>,
) -> Result<(), DeskError> {
    let (status, sid, error) = match sent {
        Ok(sid) => (DeliveryStatus::Sent, Some(sid.as_str()), None),
        Err(error) => (DeliveryStatus::Failed, None, Some(error.to_string())),
    };
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, via, address, \
         author, body, created_at, delivery_status, delivery_error, channel_message_id, channel_account) \
         SELECT $1, conversation_id, ticket_id, customer_id, 'outbound', channel, via, address, $2, $3, $4, $5, $6, $7, \
         channel_account FROM messages WHERE id = $8",
    )
    .bind(new_id("msg"))
    .bind(Author::Agent.as_str())
    .bind(format!("[WhatsApp template {template}: asks the customer to write again]"))
    .bind(Timestamp::now().millis())
    .bind(status.as_str())
    .bind(error)
    .bind(sid)
    .bind(held)
    .execute(db.pool())
    .await?;
    Ok(())
}

async fn set(
    db: &Db,
    message_id: &str,
    status: DeliveryStatus,
    sid: Option<&str>,
    error: Option<&str>,
) -> Result<DeliveryStatus, DeskError> {
    sqlx::query(
        "UPDATE messages SET delivery_status = $1, channel_message_id = COALESCE($2, channel_message_id), \
         delivery_error = $3 WHERE id = $4",
    )
    .bind(status.as_str())
    .bind(sid)
    .bind(error)
    .bind(message_id)
    .execute(db.pool())
    .await?;
    Ok(status)
}

/// A status callback: what Twilio says became of the message `sid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub sid: String,
    /// Twilio's `MessageStatus`: queued, sending, sent, delivered, read, undelivered, failed…
    pub status: String,
    /// Twilio's `ErrorCode`, with a failure.
    pub error_code: Option<u64>,
}

/// What a status callback changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// The message's status moved to this.
    Moved(DeliveryStatus),
    /// Nothing: an older status than the one known, or a message that is not ours.
    Unchanged,
}

/// Records a status callback. Statuses only move forward; a failure for being outside the
/// window holds the answer until the customer writes.
pub async fn record_status(db: &Db, twilio: &Twilio, report: &StatusReport) -> Result<StatusChange, DeskError> {
    let row = sqlx::query(
        "SELECT id, delivery_status, channel_account, address FROM messages \
         WHERE channel = 'whatsapp' AND via = $1 AND direction = 'outbound' AND channel_message_id = $2",
    )
    .bind(Via::Twilio.as_str())
    .bind(&report.sid)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(StatusChange::Unchanged) };
    let (id, current): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    let (from, to): (Option<String>, String) = (row.try_get(2)?, row.try_get(3)?);
    let current = DeliveryStatus::parse(&current).unwrap_or(DeliveryStatus::Sent);
    let next = match report.status.as_str() {
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" | "undelivered" => DeliveryStatus::Failed,
        // queued, accepted, sending, sent: what we knew when Twilio took it.
        _ => DeliveryStatus::Sent,
    };
    if next <= current || current == DeliveryStatus::Failed {
        return Ok(StatusChange::Unchanged);
    }
    if next == DeliveryStatus::Failed && report.error_code == Some(WINDOW_CLOSED_ERROR) {
        let why = format!("Twilio error {WINDOW_CLOSED_ERROR}: outside the allowed window");
        let held = hold(db, twilio, &id, from.as_deref().unwrap_or_default(), &to, &why).await?;
        return Ok(StatusChange::Moved(held));
    }
    let error = match (next, report.error_code) {
        (DeliveryStatus::Failed, Some(code)) => Some(format!("Twilio error {code} ({})", report.status)),
        (DeliveryStatus::Failed, None) => Some(format!("Twilio: {}", report.status)),
        _ => None,
    };
    set(db, &id, next, None, error.as_deref()).await?;
    Ok(StatusChange::Moved(next))
}
