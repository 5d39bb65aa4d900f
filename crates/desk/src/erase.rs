//! Erasing a customer on request (GDPR): everything the desk holds about whoever a WhatsApp JID
//! names, on every channel: the customer, their identifiers (an email linked to the same
//! customer goes too), conversations, tickets, messages both ways, and their events not yet
//! published or kept; and what web forms claimed about them: the claims of their number, and
//! the form's own customers that only claimed it.

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
    /// Claims of their number left on other customers (the web form's), removed.
    pub claims: u64,
}

impl Forgotten {
    /// Whether the desk held nothing about the person.
    pub fn is_empty(&self) -> bool {
        *self == Forgotten::default()
    }
}

/// Removes the customers a WhatsApp JID (and, for a phone JID, its phone number) identifies, in
/// one transaction.
pub async fn forget(db: &Db, person: &Jid) -> Result<Forgotten, DeskError> {
    erase(db, person, Finish::Commit).await
}

/// What [`forget`] would remove, counted by doing it in a transaction that is then rolled back:
/// the preview and the erase run the same statements, so they cannot disagree.
pub async fn forget_preview(db: &Db, person: &Jid) -> Result<Forgotten, DeskError> {
    erase(db, person, Finish::RollBack).await
}

/// How an erasing transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    Commit,
    RollBack,
}

async fn erase(db: &Db, person: &Jid, finish: Finish) -> Result<Forgotten, DeskError> {
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
    // The form's customers that claimed nothing but them are theirs too.
    for (kind, value) in &identifiers {
        let claimed_only: Vec<String> = sqlx::query_scalar(
            "SELECT cl.customer_id FROM customer_claims cl WHERE cl.kind = $1 AND cl.value = $2 \
             AND NOT EXISTS (SELECT 1 FROM customer_identifiers i WHERE i.customer_id = cl.customer_id) \
             AND NOT EXISTS (SELECT 1 FROM customer_claims other WHERE other.customer_id = cl.customer_id \
                             AND NOT (other.kind = $1 AND other.value = $2))",
        )
        .bind(kind.as_str())
        .bind(value)
        .fetch_all(&mut *tx)
        .await?;
        for id in claimed_only {
            if !customers.contains(&id) {
                customers.push(id);
            }
        }
    }
    let mut forgotten = Forgotten::default();
    for (kind, value) in &identifiers {
        forgotten.claims += sqlx::query("DELETE FROM customer_claims WHERE kind = $1 AND value = $2")
            .bind(kind.as_str())
            .bind(value)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    for customer in &customers {
        sqlx::query("UPDATE tickets SET possibly_customer_id = NULL WHERE possibly_customer_id = $1")
            .bind(customer)
            .execute(&mut *tx)
            .await?;
        // Children before parents: the foreign keys point from messages up to customers.
        for (sql, count) in [
            ("DELETE FROM messages WHERE customer_id = $1", &mut forgotten.messages),
            ("DELETE FROM tickets WHERE customer_id = $1", &mut forgotten.tickets),
            ("DELETE FROM conversations WHERE customer_id = $1", &mut forgotten.conversations),
            ("DELETE FROM customer_identifiers WHERE customer_id = $1", &mut forgotten.identifiers),
            ("DELETE FROM customer_claims WHERE customer_id = $1", &mut forgotten.claims),
            ("DELETE FROM events WHERE key = $1", &mut forgotten.events),
            ("DELETE FROM customers WHERE id = $1", &mut forgotten.customers),
        ] {
            *count += sqlx::query(sql).bind(customer).execute(&mut *tx).await?.rows_affected();
        }
    }
    match finish {
        Finish::Commit => tx.commit().await?,
        Finish::RollBack => tx.rollback().await?,
    }
    Ok(forgotten)
}
