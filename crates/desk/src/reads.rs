//! The desk's read side, as the API hands it out: a ticket with its messages across channels, a
//! customer with their identifiers and history, a conversation, and per-channel counts.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};
use wamcp_core::Timestamp;

use crate::DeskError;
use crate::db::Db;
use crate::model::{Channel, IdentifierKind, Priority, TicketStatus};

/// A stored name (`escalated`, `email`) read back as its type; an unknown one is a decode error
/// naming the column.
fn named<T>(row: &AnyRow, index: usize, parse: impl Fn(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    let name: String = row.try_get(index)?;
    parse(&name).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source: format!("'{name}' is not a value this column takes").into(),
    })
}

fn time(row: &AnyRow, index: usize) -> Result<String, sqlx::Error> {
    Ok(Timestamp(row.try_get(index)?).to_rfc3339())
}

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

impl FromRow<'_, AnyRow> for MessageOut {
    fn from_row(row: &AnyRow) -> Result<MessageOut, sqlx::Error> {
        Ok(MessageOut {
            id: row.try_get(0)?,
            direction: row.try_get(1)?,
            channel: row.try_get(2)?,
            author: row.try_get(3)?,
            subject: row.try_get(4)?,
            body: row.try_get(5)?,
            created_at: time(row, 6)?,
            delivery_status: row.try_get(7)?,
            ticket_id: row.try_get(8)?,
            delivery_error: row.try_get(9)?,
        })
    }
}

/// The messages a `WHERE …` clause (on `$1`) picks, in `order`.
async fn messages(db: &Db, condition: &str, value: &str, order: &str) -> Result<Vec<MessageOut>, DeskError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} WHERE {condition} ORDER BY {order}");
    Ok(sqlx::query_as::<_, MessageOut>(sqlx::AssertSqlSafe(sql)).bind(value).fetch_all(db.pool()).await?)
}

/// A ticket with its messages across channels, and what is known of its customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketOut {
    pub ticket_id: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub category: String,
    pub escalation_reason: Option<String>,
    pub channel: Channel,
    pub customer_id: String,
    pub conversation_id: String,
    pub subject: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub customer_name: Option<String>,
    /// Phone numbers and email addresses; what a web form only claimed says so.
    pub contacts: Vec<String>,
    pub possibly_same_customer: Option<PossiblySame>,
    /// The channels its messages came and went by.
    pub channels: Vec<Channel>,
    pub messages: Vec<MessageOut>,
}

/// The customer a ticket names as possibly its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PossiblySame {
    pub customer_id: String,
    pub name: Option<String>,
    /// Their identifiers and claims, comma-separated.
    pub known_by: String,
}

/// A ticket's own row; the rest of [`TicketOut`] is read beside it.
struct TicketRow {
    out: TicketOut,
    possibly_customer_id: Option<String>,
}

impl FromRow<'_, AnyRow> for TicketRow {
    fn from_row(row: &AnyRow) -> Result<TicketRow, sqlx::Error> {
        Ok(TicketRow {
            out: TicketOut {
                ticket_id: row.try_get(0)?,
                status: named(row, 1, TicketStatus::parse)?,
                priority: named(row, 2, Priority::parse)?,
                category: row.try_get(3)?,
                escalation_reason: row.try_get(4)?,
                channel: named(row, 5, Channel::parse)?,
                customer_id: row.try_get(6)?,
                conversation_id: row.try_get(7)?,
                subject: row.try_get(8)?,
                created_at: time(row, 9)?,
                updated_at: time(row, 10)?,
                resolved_at: row.try_get::<Option<i64>, _>(11)?.map(|t| Timestamp(t).to_rfc3339()),
                customer_name: row.try_get(12)?,
                contacts: Vec::new(),
                possibly_same_customer: None,
                channels: Vec::new(),
                messages: Vec::new(),
            },
            possibly_customer_id: row.try_get(13)?,
        })
    }
}

/// A ticket and its messages, or `None`.
pub async fn ticket(db: &Db, id: &str) -> Result<Option<TicketOut>, DeskError> {
    let row = sqlx::query_as::<_, TicketRow>(
        "SELECT t.id, t.status, t.priority, t.category, t.escalation_reason, t.channel, t.customer_id, \
         t.conversation_id, t.subject, t.created_at, t.updated_at, t.resolved_at, c.name, t.possibly_customer_id \
         FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some(TicketRow { mut out, possibly_customer_id }) = row else { return Ok(None) };
    out.messages = messages(db, "ticket_id = $1", id, "seq").await?;
    // What the form claimed is shown as a claim, so nobody takes it for a proven address.
    out.contacts = sqlx::query_scalar(
        "SELECT value FROM (SELECT kind, value FROM customer_identifiers WHERE customer_id = $1 \
           AND kind IN ('phone', 'email') \
         UNION SELECT kind, value || ' (claimed)' FROM customer_claims WHERE customer_id = $1) contacts \
         ORDER BY kind DESC, value",
    )
    .bind(&out.customer_id)
    .fetch_all(db.pool())
    .await?;
    out.channels = Channel::ALL.into_iter().filter(|c| out.messages.iter().any(|m| m.channel == c.as_str())).collect();
    if let Some(other) = possibly_customer_id {
        out.possibly_same_customer = possibly_same(db, &other).await?;
    }
    Ok(Some(out))
}

/// The customer a ticket names as possibly its own: id, name, and how they are known.
async fn possibly_same(db: &Db, customer: &str) -> Result<Option<PossiblySame>, DeskError> {
    let name: Option<Option<String>> =
        sqlx::query_scalar("SELECT name FROM customers WHERE id = $1").bind(customer).fetch_optional(db.pool()).await?;
    let Some(name) = name else { return Ok(None) };
    let known_by: Vec<String> = sqlx::query_scalar(
        "SELECT value FROM customer_identifiers WHERE customer_id = $1 \
         UNION SELECT value FROM customer_claims WHERE customer_id = $1 ORDER BY 1",
    )
    .bind(customer)
    .fetch_all(db.pool())
    .await?;
    Ok(Some(PossiblySame { customer_id: customer.to_string(), name, known_by: known_by.join(", ") }))
}

/// A customer, every identifier they are known by, their tickets and their latest history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerOut {
    pub customer_id: String,
    pub name: Option<String>,
    pub created_at: String,
    pub identifiers: Vec<IdentifierOut>,
    pub tickets: Vec<TicketSummary>,
    /// The latest 100 messages, oldest first.
    pub history: Vec<MessageOut>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentifierOut {
    pub kind: IdentifierKind,
    pub value: String,
}

impl FromRow<'_, AnyRow> for IdentifierOut {
    fn from_row(row: &AnyRow) -> Result<IdentifierOut, sqlx::Error> {
        Ok(IdentifierOut { kind: named(row, 0, IdentifierKind::parse)?, value: row.try_get(1)? })
    }
}

/// A ticket as a customer's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketSummary {
    pub ticket_id: String,
    pub status: TicketStatus,
    pub channel: Channel,
    pub created_at: String,
}

impl FromRow<'_, AnyRow> for TicketSummary {
    fn from_row(row: &AnyRow) -> Result<TicketSummary, sqlx::Error> {
        Ok(TicketSummary {
            ticket_id: row.try_get(0)?,
            status: named(row, 1, TicketStatus::parse)?,
            channel: named(row, 2, Channel::parse)?,
            created_at: time(row, 3)?,
        })
    }
}

/// The customer known by this identifier, with every identifier and their latest history.
pub async fn customer_by(db: &Db, kind: IdentifierKind, value: &str) -> Result<Option<CustomerOut>, DeskError> {
    let id: Option<String> =
        sqlx::query_scalar("SELECT customer_id FROM customer_identifiers WHERE kind = $1 AND value = $2")
            .bind(kind.as_str())
            .bind(value)
            .fetch_optional(db.pool())
            .await?;
    let Some(id) = id else { return Ok(None) };
    let row =
        sqlx::query("SELECT name, created_at FROM customers WHERE id = $1").bind(&id).fetch_one(db.pool()).await?;
    let identifiers = sqlx::query_as::<_, IdentifierOut>(
        "SELECT kind, value FROM customer_identifiers WHERE customer_id = $1 ORDER BY kind, value",
    )
    .bind(&id)
    .fetch_all(db.pool())
    .await?;
    let tickets = sqlx::query_as::<_, TicketSummary>(
        "SELECT id, status, channel, created_at FROM tickets WHERE customer_id = $1 ORDER BY created_at DESC",
    )
    .bind(&id)
    .fetch_all(db.pool())
    .await?;
    let mut history = messages(db, "customer_id = $1", &id, "seq DESC LIMIT 100").await?;
    history.reverse();
    Ok(Some(CustomerOut {
        name: row.try_get(0)?,
        created_at: time(&row, 1)?,
        customer_id: id,
        identifiers,
        tickets,
        history,
    }))
}

/// A conversation with its ticket and messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationOut {
    pub conversation_id: String,
    pub customer_id: String,
    /// `active`, or `ended` once a newer conversation began.
    pub state: String,
    pub channel: Channel,
    pub started_at: String,
    pub last_message_at: String,
    pub ticket_id: String,
    pub ticket_status: TicketStatus,
    pub messages: Vec<MessageOut>,
}

impl FromRow<'_, AnyRow> for ConversationOut {
    fn from_row(row: &AnyRow) -> Result<ConversationOut, sqlx::Error> {
        Ok(ConversationOut {
            conversation_id: row.try_get(0)?,
            customer_id: row.try_get(1)?,
            state: row.try_get(2)?,
            channel: named(row, 3, Channel::parse)?,
            started_at: time(row, 4)?,
            last_message_at: time(row, 5)?,
            ticket_id: row.try_get(6)?,
            ticket_status: named(row, 7, TicketStatus::parse)?,
            messages: Vec::new(),
        })
    }
}

/// A conversation with its ticket and messages.
pub async fn conversation(db: &Db, id: &str) -> Result<Option<ConversationOut>, DeskError> {
    let conversation = sqlx::query_as::<_, ConversationOut>(
        "SELECT c.id, c.customer_id, c.state, c.channel, c.started_at, c.last_message_at, t.id, t.status \
         FROM conversations c JOIN tickets t ON t.conversation_id = c.id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some(mut conversation) = conversation else { return Ok(None) };
    conversation.messages = messages(db, "conversation_id = $1", id, "seq").await?;
    Ok(Some(conversation))
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
    pub status: TicketStatus,
    pub priority: Priority,
    pub escalation_reason: Option<String>,
    pub channel: Channel,
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
    let rows = sqlx::query_as::<_, InboxRow>(sqlx::AssertSqlSafe(format!(
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
    Ok(rows)
}

impl FromRow<'_, AnyRow> for InboxRow {
    fn from_row(row: &AnyRow) -> Result<InboxRow, sqlx::Error> {
        let updated_ms: i64 = row.try_get(5)?;
        Ok(InboxRow {
            ticket_id: row.try_get(0)?,
            status: named(row, 1, TicketStatus::parse)?,
            priority: named(row, 2, Priority::parse)?,
            escalation_reason: row.try_get(3)?,
            channel: named(row, 4, Channel::parse)?,
            updated_at: Timestamp(updated_ms).to_rfc3339(),
            updated_ms,
            customer: row.try_get(6)?,
            last_message: row.try_get(7)?,
            contact: row.try_get(8)?,
            window_closed: row.try_get::<i64, _>(9)? == 1,
        })
    }
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
