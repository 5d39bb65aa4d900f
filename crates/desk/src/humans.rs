//! What a person at the desk does to a ticket: reply (on the customer's channel, like the agent
//! would, but as a person and without the agent's limits on what may be said) and resolve. A
//! resolved ticket ends its conversation, so the customer's next message opens a new ticket and
//! the agent answers again.

use serde_json::json;
use sqlx::Row;
use wamcp_core::Timestamp;

use crate::DeskError;
use crate::db::Db;
use crate::events::{self, topics};
use crate::model::{Author, Channel, new_id};
use crate::reply::{self, Style};

/// Stores a person's reply to ticket `ticket_id`, sent on the channel the customer last wrote
/// from; returns the stored message's id (deliver it with [`crate::delivery::Channels`]).
pub async fn reply(db: &Db, ticket_id: &str, text: &str, style: &Style) -> Result<String, DeskError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DeskError::BadInput("message: the reply is empty".into()));
    }
    // Before the transaction: on SQLite the pool has the one connection the transaction takes.
    let kb_language = crate::kb::language(db).await?;
    let mut tx = db.write().await?;
    // Where the customer last wrote from is where they are listening.
    let row = sqlx::query(
        "SELECT m.channel, m.via, m.address, m.conversation_id, m.customer_id, c.name, m.channel_account, m.body \
         FROM messages m \
         JOIN customers c ON c.id = m.customer_id \
         WHERE m.ticket_id = $1 AND m.direction = 'inbound' ORDER BY m.seq DESC LIMIT 1",
    )
    .bind(ticket_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| DeskError::NotFound(format!("no ticket '{ticket_id}'")))?;
    let (channel, via, address, conversation, customer): (String, String, String, String, String) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, row.try_get(4)?);
    let name: Option<String> = row.try_get(5)?;
    let channel_account: Option<String> = row.try_get(6)?;
    // The greeting and sign-off of an email speak the customer's language, as their last message did.
    let last_words: String = row.try_get(7)?;
    let channel = Channel::parse(&channel).unwrap_or(Channel::Whatsapp);
    // A person's WhatsApp reply keeps WhatsApp's limits but needs no invitation to ask for a person.
    let style = Style { whatsapp_footer: String::new(), ..style.clone() };
    let phrases = crate::agent::offline::sentences_for(crate::language::detect(&last_words), kb_language);
    let body = reply::format(channel, text, name.as_deref(), &style, phrases);
    let now = Timestamp::now();
    let id = new_id("msg");
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, via, address, \
         author, body, created_at, delivery_status, channel_account) \
         VALUES ($1, $2, $3, $4, 'outbound', $5, $6, $7, $8, $9, $10, 'queued', $11)",
    )
    .bind(&id)
    .bind(&conversation)
    .bind(ticket_id)
    .bind(&customer)
    .bind(channel.as_str())
    .bind(&via)
    .bind(&address)
    .bind(Author::Human.as_str())
    .bind(&body)
    .bind(now.millis())
    .bind(channel_account.as_deref())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE tickets SET updated_at = $1, first_response_at = COALESCE(first_response_at, $1) WHERE id = $2",
    )
    .bind(now.millis())
    .bind(ticket_id)
    .execute(&mut *tx)
    .await?;
    if channel == Channel::Whatsapp {
        let payload = json!({"ticket_id": ticket_id, "customer_id": customer, "message_id": id, "to": address,
                             "author": "human", "at": now.to_rfc3339()});
        events::record(&mut tx, topics::WHATSAPP_OUTBOUND, &customer, payload, now).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Resolves ticket `ticket_id` and ends its conversation. Resolving twice is harmless.
pub async fn resolve(db: &Db, ticket_id: &str) -> Result<(), DeskError> {
    let now = Timestamp::now().millis();
    let mut tx = db.write().await?;
    let conversation: Option<String> = sqlx::query_scalar("SELECT conversation_id FROM tickets WHERE id = $1")
        .bind(ticket_id)
        .fetch_optional(&mut *tx)
        .await?;
    let conversation = conversation.ok_or_else(|| DeskError::NotFound(format!("no ticket '{ticket_id}'")))?;
    sqlx::query(
        "UPDATE tickets SET status = 'resolved', updated_at = $1, resolved_at = COALESCE(resolved_at, $1) WHERE id = $2",
    )
    .bind(now)
    .bind(ticket_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE conversations SET state = 'resolved' WHERE id = $1")
        .bind(&conversation)
        .execute(&mut *tx)
        .await?;
    // Messages held while a person had the ticket are theirs; the agent does not pick them up later.
    sqlx::query("UPDATE messages SET agent_state = 'done' WHERE ticket_id = $1 AND agent_state = 'held'")
        .bind(ticket_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A person's decision that ticket `ticket_id`'s customer and another are one: `into`, or the
/// customer the ticket names as possibly the same. Answers the customer that remains.
pub async fn merge_customers(db: &Db, ticket_id: &str, into: Option<&str>) -> Result<String, DeskError> {
    let mut tx = db.write().await?;
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT customer_id, possibly_customer_id FROM tickets WHERE id = $1")
            .bind(ticket_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (customer, possibly) = row.ok_or_else(|| DeskError::NotFound(format!("no ticket '{ticket_id}'")))?;
    let Some(into) = into.map(str::to_string).or(possibly) else {
        return Err(DeskError::BadInput(format!(
            "into: ticket '{ticket_id}' names no other customer; give the customer id to merge into"
        )));
    };
    if into == customer {
        return Ok(into);
    }
    let known: Option<String> =
        sqlx::query_scalar("SELECT id FROM customers WHERE id = $1").bind(&into).fetch_optional(&mut *tx).await?;
    if known.is_none() {
        return Err(DeskError::NotFound(format!("no customer '{into}'")));
    }
    crate::customers::merge_by_hand(&mut tx, &customer, &into).await?;
    tx.commit().await?;
    Ok(into)
}
