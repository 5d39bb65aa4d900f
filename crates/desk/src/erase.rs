//! Erasing a customer on request (GDPR): everything the desk holds about whoever a WhatsApp JID
//! names, on every channel: the customer, their identifiers (an email linked to the same
//! customer goes too), conversations, tickets, messages both ways, and their events not yet
//! published or kept.

use sqlx::Row;
use wamcp_core::Jid;

use crate::DeskError;
use crate::db::Db;
use crate::model::IdentifierKind;

/// What an erasure removed from the desk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Forgotten {
    pub customers: u64,
    pub identifiers: u64,
    pub conversations: u64,
    pub tickets: u64,
    pub messages: u64,
    pub events: u64,
}

/// Removes the customers a WhatsApp JID (and, for a phone JID, its phone number) identifies, in
/// one transaction.
pub async fn forget(db: &Db, person: &Jid) -> Result<Forgotten, DeskError> {
    let mut identifiers = vec![(IdentifierKind::Whatsapp, person.to_string())];
    if let Some(digits) = person.phone() {
        identifiers.push((IdentifierKind::Phone, format!("+{digits}")));
    }
    let mut tx = db.write().await?;
    let mut customers = Vec::new();
    for (kind, value) in &identifiers {
        let rows = sqlx::query("SELECT customer_id FROM customer_identifiers WHERE kind = $1 AND value = $2")
            .bind(kind.as_str())
            .bind(value)
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            let id: String = row.try_get(0)?;
            if !customers.contains(&id) {
                customers.push(id);
            }
        }
    }
    let mut forgotten = Forgotten::default();
    for customer in &customers {
        // Children before parents: the foreign keys point from messages up to customers.
        for (sql, count) in [
            ("DELETE FROM messages WHERE customer_id = $1", &mut forgotten.messages),
            ("DELETE FROM tickets WHERE customer_id = $1", &mut forgotten.tickets),
            ("DELETE FROM conversations WHERE customer_id = $1", &mut forgotten.conversations),
            ("DELETE FROM customer_identifiers WHERE customer_id = $1", &mut forgotten.identifiers),
            ("DELETE FROM events WHERE key = $1", &mut forgotten.events),
            ("DELETE FROM customers WHERE id = $1", &mut forgotten.customers),
        ] {
            *count += sqlx::query(sql).bind(customer).execute(&mut *tx).await?.rows_affected();
        }
    }
    tx.commit().await?;
    Ok(forgotten)
}
