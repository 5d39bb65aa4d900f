//! Taking a customer's message in: one transaction finds or creates the customer, reuses their
//! active conversation (or starts one after 24 hours of quiet or once resolved) with its ticket,
//! stores the message and records the events. A message seen before — same channel, same channel
//! message id, kept unique by the database — changes nothing and gets the same ticket back.
//!
//! A short acknowledgement ("Thanks, that works.") after an answer or a resolution joins the
//! ticket it thanks for and changes nothing: the ticket stays as it was (waiting, or resolved),
//! no new ticket starts, and the agent does not answer it.

use serde_json::json;
use sqlx::Row;
use wamcp_core::{Jid, JidKind, MessageKind, Timestamp};

use crate::DeskError;
use crate::acknowledgement::is_acknowledgement;
use crate::customers::{self, Identity};
use crate::db::{Db, Tx};
use crate::events::{self, topics};
use crate::model::{AgentState, Author, Channel, DeliveryStatus, Priority, TicketStatus, Via, new_id};

/// A conversation quiet this long is over; the next message starts a new one (and a new ticket).
pub const CONVERSATION_TIMEOUT_MS: i64 = 24 * 60 * 60 * 1000;

/// A message from a customer, as a channel hands it over.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub channel: Channel,
    pub via: Via,
    pub from: Identity,
    /// Where an answer goes: a JID, `whatsapp:+…` for Twilio, or an email address.
    pub address: String,
    /// The business's own address the customer wrote to (the Twilio number), where the answer
    /// comes from.
    pub channel_account: Option<String>,
    /// The channel's own id for the message, for deduplication.
    pub channel_message_id: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    /// An attachment with no words to read (a photo without a caption, a voice note nobody
    /// transcribed): its body is only a placeholder such as `[voice]`, and a person answers it.
    pub wordless: bool,
    pub at: Timestamp,
}

/// A WhatsApp message as a source hands it to the desk: either way, in any chat. The desk
/// decides which are its own ([`Inbound::from_whatsapp`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Arrived {
    pub chat: Jid,
    pub id: String,
    pub from_me: bool,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub caption: Option<String>,
    /// What a voice note says, when it was transcribed.
    pub transcript: Option<String>,
    pub at: Timestamp,
}

impl From<&wamcp_core::Message> for Arrived {
    fn from(message: &wamcp_core::Message) -> Arrived {
        Arrived {
            chat: message.chat.clone(),
            id: message.id.to_string(),
            from_me: message.from_me,
            kind: message.kind,
            text: message.text.clone(),
            caption: message.caption.clone(),
            transcript: None,
            at: message.timestamp,
        }
    }
}

impl Inbound {
    /// A WhatsApp message as the desk takes it in, if it is one for the desk: a customer's (not
    /// our own) in a direct chat (not a group, broadcast or channel), and written by them (not a
    /// notice WhatsApp writes in the chat, such as a new number or a message still to be
    /// decrypted, whose text is WhatsApp's). Its channel id is `chat/id` whichever way it came, so
    /// the same message seen twice is one.
    pub fn from_whatsapp(message: &Arrived, via: Via) -> Option<Inbound> {
        let chat = &message.chat;
        if message.from_me
            || message.kind == MessageKind::System
            || !matches!(chat.kind(), JidKind::Phone | JidKind::Lid)
        {
            return None;
        }
        let words = [&message.text, &message.caption, &message.transcript]
            .into_iter()
            .find_map(|words| words.as_deref().map(str::trim).filter(|t| !t.is_empty()));
        let body = match words {
            Some(text) => text.to_string(),
            None if message.kind == MessageKind::Text => return None,
            // An attachment without words (a photo, a voice note no one transcribed) still
            // reaches a person's queue: the rules escalate it (`Reason::NoWords`).
            None => attachment_placeholder(message.kind),
        };
        Some(Inbound {
            channel: Channel::Whatsapp,
            via,
            address: chat.to_string(),
            channel_account: None,
            from: Identity::whatsapp(chat.clone(), None),
            channel_message_id: Some(format!("{chat}/{}", message.id)),
            subject: None,
            wordless: words.is_none(),
            body,
            at: message.at,
        })
    }
}

/// The body of a message that is only an attachment: `[voice]`, `[image]`.
pub fn attachment_placeholder(kind: MessageKind) -> String {
    format!("[{}]", kind.as_str())
}

/// What became of an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub ticket_id: String,
    pub conversation_id: String,
    pub customer_id: String,
    pub message_id: String,
    /// The message had been received before; nothing changed.
    pub duplicate: bool,
    pub new_ticket: bool,
    /// The agent should answer it (false once the ticket is with a person).
    pub for_agent: bool,
}

/// Stores an inbound message; answers once it is committed.
pub async fn receive(db: &Db, inbound: &Inbound) -> Result<Received, DeskError> {
    if inbound.body.trim().is_empty() {
        return Err(DeskError::BadInput("message: the message is empty".into()));
    }
    if let Some(seen) = find_seen(db, inbound).await? {
        return Ok(seen);
    }
    let mut tx = db.write().await?;
    let at = inbound.at;
    let customer_id = customers::resolve(&mut tx, &inbound.from, at).await?;
    let (conversation_id, ticket_id, ticket_status, new_ticket) =
        current_ticket(&mut tx, &customer_id, inbound).await?;
    if let Some(other) = customers::possibly_same(&mut tx, &inbound.from, &customer_id).await? {
        // A person decides whether they are one: the ticket names the other customer.
        sqlx::query("UPDATE tickets SET possibly_customer_id = $1 WHERE id = $2 AND possibly_customer_id IS NULL")
            .bind(&other)
            .bind(&ticket_id)
            .execute(&mut *tx)
            .await?;
    }
    let for_agent = ticket_status == TicketStatus::Open;
    // Held messages wait for the person who has the ticket; an acknowledgement waits for nobody.
    let agent_state = match ticket_status {
        TicketStatus::Open => AgentState::Pending,
        TicketStatus::Escalated => AgentState::Held,
        TicketStatus::Waiting | TicketStatus::Resolved => AgentState::Done,
    };
    let message_id = new_id("msg");
    let inserted = sqlx::query(
        "INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, via, address, \
         channel_message_id, author, subject, body, created_at, delivery_status, agent_state, channel_account, \
         wordless) \
         VALUES ($1, $2, $3, $4, 'inbound', $5, $6, $7, $8, $9, $10, $11, $12, 'received', $13, $14, $15) \
         ON CONFLICT (channel, channel_message_id) DO NOTHING",
    )
    .bind(&message_id)
    .bind(&conversation_id)
    .bind(&ticket_id)
    .bind(&customer_id)
    .bind(inbound.channel.as_str())
    .bind(inbound.via.as_str())
    .bind(&inbound.address)
    .bind(inbound.channel_message_id.as_deref())
    .bind(Author::Customer.as_str())
    .bind(inbound.subject.as_deref())
    .bind(&inbound.body)
    .bind(at.millis())
    .bind(agent_state.as_str())
    .bind(inbound.channel_account.as_deref())
    .bind(i64::from(inbound.wordless))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        // The same message arrived at the same moment by another path: keep theirs.
        tx.rollback().await?;
        return find_seen(db, inbound).await?.ok_or_else(|| DeskError::Unavailable("duplicate vanished".into()));
    }
    sqlx::query("UPDATE conversations SET last_message_at = $1 WHERE id = $2")
        .bind(at.millis())
        .bind(&conversation_id)
        .execute(&mut *tx)
        .await?;
    if inbound.via == Via::Twilio {
        // The customer wrote: WhatsApp's 24-hour window is open again for answers held for it.
        sqlx::query(
            "UPDATE messages SET delivery_status = $1, delivery_error = NULL WHERE direction = 'outbound'              AND via = $2 AND address = $3 AND delivery_status = $4",
        )
        .bind(DeliveryStatus::Queued.as_str())
        .bind(Via::Twilio.as_str())
        .bind(&inbound.address)
        .bind(DeliveryStatus::WindowClosed.as_str())
        .execute(&mut *tx)
        .await?;
    }
    let payload = json!({
        "ticket_id": ticket_id,
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "message_id": message_id,
        "channel": inbound.channel.as_str(),
        "new_ticket": new_ticket,
        "at": at.to_rfc3339(),
    });
    events::record(&mut tx, topics::TICKETS_INCOMING, &customer_id, payload.clone(), at).await?;
    if inbound.channel == Channel::Whatsapp {
        events::record(&mut tx, topics::WHATSAPP_INBOUND, &customer_id, payload, at).await?;
    }
    tx.commit().await?;
    Ok(Received { ticket_id, conversation_id, customer_id, message_id, duplicate: false, new_ticket, for_agent })
}

/// The earlier copy of this message, if it has a channel id that was seen.
async fn find_seen(db: &Db, inbound: &Inbound) -> Result<Option<Received>, DeskError> {
    let Some(channel_id) = &inbound.channel_message_id else { return Ok(None) };
    let row = sqlx::query(
        "SELECT id, ticket_id, conversation_id, customer_id FROM messages WHERE channel = $1 AND channel_message_id = $2",
    )
    .bind(inbound.channel.as_str())
    .bind(channel_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Received {
        message_id: row.try_get(0)?,
        ticket_id: row.try_get(1)?,
        conversation_id: row.try_get(2)?,
        customer_id: row.try_get(3)?,
        duplicate: true,
        new_ticket: false,
        for_agent: false,
    }))
}

/// The customer's active conversation and its ticket, or new ones: (conversation, ticket, the
/// ticket's status, whether it is new). A ticket waiting on the customer opens again, unless the
/// message only acknowledges; an acknowledgement soon after a resolution joins the resolved
/// ticket.
async fn current_ticket(
    tx: &mut Tx,
    customer_id: &str,
    inbound: &Inbound,
) -> Result<(String, String, TicketStatus, bool), DeskError> {
    let at = inbound.at.millis();
    let current = sqlx::query(
        "SELECT c.id, t.id, t.status FROM conversations c JOIN tickets t ON t.conversation_id = c.id \
         WHERE c.customer_id = $1 AND c.state = 'active' AND t.status <> 'resolved' AND c.last_message_at > $2 \
         ORDER BY c.last_message_at DESC LIMIT 1",
    )
    .bind(customer_id)
    .bind(at - CONVERSATION_TIMEOUT_MS)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = current {
        let (conversation, ticket, status): (String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let status = TicketStatus::parse(&status);
        let status = if status == Some(TicketStatus::Escalated) {
            TicketStatus::Escalated
        } else if status == Some(TicketStatus::Waiting) && is_acknowledgement(&inbound.body) {
            TicketStatus::Waiting
        } else {
            sqlx::query("UPDATE tickets SET status = 'open', updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(&ticket)
                .execute(&mut **tx)
                .await?;
            TicketStatus::Open
        };
        return Ok((conversation, ticket, status, false));
    }
    if is_acknowledgement(&inbound.body) {
        let resolved = sqlx::query(
            "SELECT t.conversation_id, t.id FROM tickets t WHERE t.customer_id = $1 AND t.status = 'resolved' \
             AND t.resolved_at > $2 ORDER BY t.resolved_at DESC LIMIT 1",
        )
        .bind(customer_id)
        .bind(at - CONVERSATION_TIMEOUT_MS)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = resolved {
            return Ok((row.try_get(0)?, row.try_get(1)?, TicketStatus::Resolved, false));
        }
    }
    // Whatever was active is over now.
    sqlx::query("UPDATE conversations SET state = 'ended' WHERE customer_id = $1 AND state = 'active'")
        .bind(customer_id)
        .execute(&mut **tx)
        .await?;
    let conversation = new_id("cnv");
    sqlx::query(
        "INSERT INTO conversations (id, customer_id, channel, state, started_at, last_message_at) \
         VALUES ($1, $2, $3, 'active', $4, $4)",
    )
    .bind(&conversation)
    .bind(customer_id)
    .bind(inbound.channel.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    let ticket = new_id("tkt");
    sqlx::query(
        "INSERT INTO tickets (id, conversation_id, customer_id, channel, subject, status, priority, category, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, 'general', $7, $7)",
    )
    .bind(&ticket)
    .bind(&conversation)
    .bind(customer_id)
    .bind(inbound.channel.as_str())
    .bind(inbound.subject.as_deref())
    .bind(Priority::Normal.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok((conversation, ticket, TicketStatus::Open, true))
}
