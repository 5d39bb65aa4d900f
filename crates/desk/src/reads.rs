//! The desk's read side, as the API hands it out: a ticket with its messages across channels, a
//! customer with their identifiers and history, a conversation, and per-channel counts.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;
use wamcp_core::Timestamp;

use crate::DeskError;
use crate::db::Db;
use crate::model::{Channel, IdentifierKind, TicketStatus};

/// One message as the read side shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageOut {
    pub id: String,
    pub direction: String,
    pub channel: String,
    pub author: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
    pub created_at: String,
    pub delivery_status: String,
    /// Why an answer has not gone (yet): the channel's own words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_error: Option<String>,
    pub ticket_id: String,
}

const MESSAGE_COLUMNS: &str = "id, direction, channel, author, subject, body, created_at, delivery_status, ticket_id, \
     delivery_error FROM messages";

fn message(row: &AnyRow) -> Result<MessageOut, DeskError> {
    Ok(MessageOut {
        id: row.try_get(0)?,
        direction: row.try_get(1)?,
        channel: row.try_get(2)?,
        author: row.try_get(3)?,
        subject: row.try_get(4)?,
        body: row.try_get(5)?,
        created_at: Timestamp(row.try_get(6)?).to_rfc3339(),
        delivery_status: row.try_get(7)?,
        ticket_id: row.try_get(8)?,
        delivery_error: row.try_get(9)?,
    })
}

/// A ticket and its messages, or `None`.
pub async fn ticket(db: &Db, id: &str) -> Result<Option<Value>, DeskError> {
    let row = sqlx::query(
        "SELECT t.id, t.status, t.priority, t.category, t.escalation_reason, t.channel, t.customer_id, \
         t.conversation_id, t.subject, t.created_at, t.updated_at, t.resolved_at, c.name, t.possibly_customer_id \
         FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MESSAGE_COLUMNS} WHERE ticket_id = $1 ORDER BY seq")))
        .bind(id)
        .fetch_all(db.pool())
        .await?;
    let messages = rows.iter().map(message).collect::<Result<Vec<_>, _>>()?;
    let customer: String = row.try_get(6)?;
    // What the form claimed is shown as a claim, so nobody takes it for a proven address.
    let contacts: Vec<String> = sqlx::query_scalar(
        "SELECT value FROM (SELECT kind, value FROM customer_identifiers WHERE customer_id = $1 \
           AND kind IN ('phone', 'email') \
         UNION SELECT kind, value || ' (claimed)' FROM customer_claims WHERE customer_id = $1) contacts \
         ORDER BY kind DESC, value",
    )
    .bind(&customer)
    .fetch_all(db.pool())
    .await?;
    let channels: Vec<&str> =
        Channel::ALL.iter().map(|c| c.as_str()).filter(|c| messages.iter().any(|m| m.channel == *c)).collect();
    let possibly = match row.try_get::<Option<String>, _>(13)? {
        Some(other) => possibly_same(db, &other).await?,
        None => Value::Null,
    };
    Ok(Some(json!({
        "ticket_id": row.try_get::<String, _>(0)?,
        "status": row.try_get::<String, _>(1)?,
        "priority": row.try_get::<String, _>(2)?,
        "category": row.try_get::<String, _>(3)?,
        "escalation_reason": row.try_get::<Option<String>, _>(4)?,
        "channel": row.try_get::<String, _>(5)?,
        "customer_id": row.try_get::<String, _>(6)?,
        "conversation_id": row.try_get::<String, _>(7)?,
        "subject": row.try_get::<Option<String>, _>(8)?,
        "created_at": Timestamp(row.try_get(9)?).to_rfc3339(),
        "updated_at": Timestamp(row.try_get(10)?).to_rfc3339(),
        "resolved_at": row.try_get::<Option<i64>, _>(11)?.map(|t| Timestamp(t).to_rfc3339()),
        "customer_name": row.try_get::<Option<String>, _>(12)?,
        "contacts": contacts,
        "possibly_same_customer": possibly,
        "channels": channels,
        "messages": messages,
    })))
}

/// The customer a ticket names as possibly its own: id, name, and how they are known.
async fn possibly_same(db: &Db, customer: &str) -> Result<Value, DeskError> {
    let name: Option<Option<String>> =
        sqlx::query_scalar("SELECT name FROM customers WHERE id = $1").bind(customer).fetch_optional(db.pool()).await?;
    let Some(name) = name else { return Ok(Value::Null) };
    let known_by: Vec<String> = sqlx::query_scalar(
        "SELECT value FROM customer_identifiers WHERE customer_id = $1 \
         UNION SELECT value FROM customer_claims WHERE customer_id = $1 ORDER BY 1",
    )
    .bind(customer)
    .fetch_all(db.pool())
    .await?;
    Ok(json!({"customer_id": customer, "name": name, "known_by": known_by.join(", ")}))
}

/// The customer known by this identifier, with every identifier and their latest history.
pub async fn customer_by(db: &Db, kind: IdentifierKind, value: &str) -> Result<Option<Value>, DeskError> {
    let id: Option<String> =
        sqlx::query_scalar("SELECT customer_id FROM customer_identifiers WHERE kind = $1 AND value = $2")
            .bind(kind.as_str())
            .bind(value)
            .fetch_optional(db.pool())
            .await?;
    let Some(id) = id else { return Ok(None) };
    let row =
        sqlx::query("SELECT name, created_at FROM customers WHERE id = $1").bind(&id).fetch_one(db.pool()).await?;
    let identifiers =
        sqlx::query("SELECT kind, value FROM customer_identifiers WHERE customer_id = $1 ORDER BY kind, value")
            .bind(&id)
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| Ok(json!({"kind": r.try_get::<String, _>(0)?, "value": r.try_get::<String, _>(1)?})))
            .collect::<Result<Vec<_>, DeskError>>()?;
    let tickets = sqlx::query(
        "SELECT id, status, channel, created_at FROM tickets WHERE customer_id = $1 ORDER BY created_at DESC",
    )
    .bind(&id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(json!({
            "ticket_id": r.try_get::<String, _>(0)?,
            "status": r.try_get::<String, _>(1)?,
            "channel": r.try_get::<String, _>(2)?,
            "created_at": Timestamp(r.try_get(3)?).to_rfc3339(),
        }))
    })
    .collect::<Result<Vec<_>, DeskError>>()?;
    let history = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} WHERE customer_id = $1 ORDER BY seq DESC LIMIT 100"
    )))
    .bind(&id)
    .fetch_all(db.pool())
    .await?;
    let mut history = history.iter().map(message).collect::<Result<Vec<_>, _>>()?;
    history.reverse();
    Ok(Some(json!({
        "customer_id": id,
        "name": row.try_get::<Option<String>, _>(0)?,
        "created_at": Timestamp(row.try_get(1)?).to_rfc3339(),
        "identifiers": identifiers,
        "tickets": tickets,
        "history": history,
    })))
}

/// A conversation with its ticket and messages.
pub async fn conversation(db: &Db, id: &str) -> Result<Option<Value>, DeskError> {
    let row = sqlx::query(
        "SELECT c.customer_id, c.state, c.channel, c.started_at, c.last_message_at, t.id, t.status \
         FROM conversations c JOIN tickets t ON t.conversation_id = c.id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let messages =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MESSAGE_COLUMNS} WHERE conversation_id = $1 ORDER BY seq")))
            .bind(id)
            .fetch_all(db.pool())
            .await?;
    let messages = messages.iter().map(message).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(json!({
        "conversation_id": id,
        "customer_id": row.try_get::<String, _>(0)?,
        "state": row.try_get::<String, _>(1)?,
        "channel": row.try_get::<String, _>(2)?,
        "started_at": Timestamp(row.try_get(3)?).to_rfc3339(),
        "last_message_at": Timestamp(row.try_get(4)?).to_rfc3339(),
        "ticket_id": row.try_get::<String, _>(5)?,
        "ticket_status": row.try_get::<String, _>(6)?,
        "messages": messages,
    })))
}

/// When the newest customer message that came `via` this way was written.
pub async fn newest_received(db: &Db, via: crate::Via) -> Result<Option<i64>, DeskError> {
    Ok(sqlx::query_scalar("SELECT MAX(created_at) FROM messages WHERE direction = 'inbound' AND via = $1")
        .bind(via.as_str())
        .fetch_one(db.pool())
        .await?)
}

/// One channel's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelCounts {
    pub messages_in: i64,
    pub messages_out: i64,
    pub messages_in_last_minute: i64,
    /// Answers handed to the channel (sent or failed).
    pub deliveries: i64,
    pub delivery_failures: i64,
    pub tickets: i64,
    pub escalated: i64,
}

/// The counts of `channel`.
pub async fn channel_counts(db: &Db, channel: Channel) -> Result<ChannelCounts, DeskError> {
    let minute_ago = Timestamp::now().millis() - 60_000;
    let messages = sqlx::query(
        "SELECT \
           COALESCE(SUM(CASE WHEN direction = 'inbound' THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN direction = 'outbound' THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN direction = 'inbound' AND created_at > $2 THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN direction = 'outbound' AND delivery_status IN ('sent', 'delivered', 'read', 'failed') THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN delivery_status = 'failed' THEN 1 ELSE 0 END), 0) \
         FROM messages WHERE channel = $1",
    )
    .bind(channel.as_str())
    .bind(minute_ago)
    .fetch_one(db.pool())
    .await?;
    let tickets = sqlx::query(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN escalation_reason IS NOT NULL THEN 1 ELSE 0 END), 0) \
         FROM tickets WHERE channel = $1",
    )
    .bind(channel.as_str())
    .fetch_one(db.pool())
    .await?;
    Ok(ChannelCounts {
        messages_in: messages.try_get(0)?,
        messages_out: messages.try_get(1)?,
        messages_in_last_minute: messages.try_get(2)?,
        deliveries: messages.try_get(3)?,
        delivery_failures: messages.try_get(4)?,
        tickets: tickets.try_get(0)?,
        escalated: tickets.try_get(1)?,
    })
}

/// Per channel: messages in and out (all time and in the last minute), tickets, escalations and
/// failed deliveries; plus the escalation rate over all tickets.
pub async fn channel_metrics(db: &Db) -> Result<Value, DeskError> {
    let mut channels = serde_json::Map::new();
    let (mut tickets, mut escalated) = (0i64, 0i64);
    for channel in Channel::ALL {
        let counts = channel_counts(db, channel).await?;
        tickets += counts.tickets;
        escalated += counts.escalated;
        channels.insert(
            channel.as_str().to_string(),
            json!({
                "messages_in": counts.messages_in,
                "messages_out": counts.messages_out,
                "messages_in_last_minute": counts.messages_in_last_minute,
                "delivery_failures": counts.delivery_failures,
                "tickets": counts.tickets,
                "escalated": counts.escalated,
            }),
        );
    }
    Ok(json!({"channels": channels, "tickets": tickets, "escalation_rate": escalation_rate(tickets, escalated)}))
}

/// Escalated tickets as a share of all.
pub fn escalation_rate(tickets: i64, escalated: i64) -> f64 {
    if tickets == 0 { 0.0 } else { escalated as f64 / tickets as f64 }
}

/// A ticket as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxRow {
    pub ticket_id: String,
    pub status: String,
    pub priority: String,
    pub escalation_reason: Option<String>,
    pub channel: String,
    pub updated_at: String,
    /// `updated_at` in milliseconds, for "2 h ago".
    pub updated_ms: i64,
    /// The customer's name, else an identifier.
    pub customer: String,
    /// How to reach them: a phone number, else an email address, else a WhatsApp JID.
    pub contact: Option<String>,
    /// The customer's latest message.
    pub last_message: String,
    /// An answer waits for the customer to write first (WhatsApp's 24-hour window).
    pub window_closed: bool,
}

/// Which tickets the inbox lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxFilter {
    /// Everything that needs a person or an answer: escalated, open, waiting on the customer.
    Active,
    /// Tickets of one status (resolved ones too).
    Status(TicketStatus),
}

/// Tickets that need attention: escalated first, then open, then waiting on the customer; the
/// most urgent and most recent first within each.
pub async fn inbox(db: &Db, filter: InboxFilter, limit: i64) -> Result<Vec<InboxRow>, DeskError> {
    let statuses = match filter {
        InboxFilter::Active => "('escalated', 'open', 'waiting')".to_string(),
        InboxFilter::Status(status) => format!("('{}')", status.as_str()),
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT t.id, t.status, t.priority, t.escalation_reason, t.channel, t.updated_at, \
           COALESCE(c.name, (SELECT value FROM customer_identifiers i WHERE i.customer_id = c.id \
                             ORDER BY i.kind LIMIT 1), c.id), \
           COALESCE((SELECT m.body FROM messages m WHERE m.ticket_id = t.id AND m.direction = 'inbound' \
                     ORDER BY m.seq DESC LIMIT 1), ''), \
           (SELECT value FROM customer_identifiers i WHERE i.customer_id = c.id \
              ORDER BY CASE i.kind WHEN 'phone' THEN 0 WHEN 'email' THEN 1 ELSE 2 END, i.value LIMIT 1), \
           CASE WHEN EXISTS (SELECT 1 FROM messages w WHERE w.ticket_id = t.id \
                             AND w.delivery_status = 'window_closed') THEN 1 ELSE 0 END \
         FROM tickets t JOIN customers c ON c.id = t.customer_id \
         WHERE t.status IN {statuses} \
         ORDER BY CASE t.status WHEN 'escalated' THEN 0 WHEN 'open' THEN 1 ELSE 2 END, \
           CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, \
           t.updated_at DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let updated_ms: i64 = row.try_get(5)?;
            Ok(InboxRow {
                ticket_id: row.try_get(0)?,
                status: row.try_get(1)?,
                priority: row.try_get(2)?,
                escalation_reason: row.try_get(3)?,
                channel: row.try_get(4)?,
                updated_at: Timestamp(updated_ms).to_rfc3339(),
                updated_ms,
                customer: row.try_get(6)?,
                last_message: row.try_get(7)?,
                contact: row.try_get(8)?,
                window_closed: row.try_get::<i64, _>(9)? == 1,
            })
        })
        .collect()
}

/// How many tickets have each status, every status named (zero included).
pub async fn ticket_counts(db: &Db) -> Result<Vec<(TicketStatus, i64)>, DeskError> {
    let rows = sqlx::query("SELECT status, count(*) FROM tickets GROUP BY status").fetch_all(db.pool()).await?;
    let mut counts: Vec<(TicketStatus, i64)> = TicketStatus::ALL.into_iter().map(|status| (status, 0)).collect();
    for row in rows {
        let status: String = row.try_get(0)?;
        if let Some(entry) = counts.iter_mut().find(|(s, _)| s.as_str() == status) {
            entry.1 = row.try_get(1)?;
        }
    }
    Ok(counts)
}
