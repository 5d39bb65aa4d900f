//! Who a message is from: the customer behind a phone number, an email address or a WhatsApp JID.
//!
//! Only a channel that proves who wrote (WhatsApp, Twilio's signature, the mail system behind the
//! email webhook) gives identifiers. Each identifier belongs to one customer; a proven message
//! naming identifiers of two customers shows they are one person, and they are merged into the
//! older, so their histories meet.
//!
//! The public web form proves nothing: what it says (email, phone, name) is kept as claims of a
//! customer of its own, never added to a known customer, never merging, never renaming. When a
//! claim and a proven identifier meet, the ticket names the other customer as possibly the same,
//! and a person decides ([`merge_by_hand`]).

use sqlx::Row;
use wamcp_core::{Jid, Timestamp, normalize_phone};

use crate::DeskError;
use crate::db::Tx;
use crate::model::{IdentifierKind, new_id};

/// How a channel knows who wrote a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Proof {
    /// Said by the writer, unchecked (the public web form): kept as claims only.
    #[default]
    Claimed,
    /// Shown by the channel itself: WhatsApp, a Twilio signature, the mail system.
    Proven,
}

/// What a message says about its writer. Values are normalised by the constructors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub name: Option<String>,
    /// E.164 with `+`.
    pub phone: Option<String>,
    /// Lower case.
    pub email: Option<String>,
    pub whatsapp: Option<Jid>,
    /// Whether the channel proved these, or the writer only claims them.
    pub proof: Proof,
}

impl Identity {
    /// A WhatsApp sender; a phone JID also gives the phone number.
    pub fn whatsapp(jid: Jid, name: Option<String>) -> Identity {
        let phone = jid.phone().map(|digits| format!("+{digits}"));
        Identity { name, phone, email: None, whatsapp: Some(jid), proof: Proof::Proven }
    }

    /// Marks the identity as proven by its channel (the caller vouches for that).
    pub fn proven(mut self) -> Identity {
        self.proof = Proof::Proven;
        self
    }

    /// Sets the phone number from any common notation.
    pub fn with_phone(mut self, phone: &str) -> Result<Identity, DeskError> {
        let digits = normalize_phone(phone).map_err(|_| {
            DeskError::BadInput(format!(
                "phone: '{phone}' is not a phone number; give it with country code, e.g. +923001234567"
            ))
        })?;
        if !(7..=15).contains(&digits.len()) {
            return Err(DeskError::BadInput(format!(
                "phone: '{phone}' has {} digits; a number with country code has 7 to 15",
                digits.len()
            )));
        }
        self.phone = Some(format!("+{digits}"));
        Ok(self)
    }

    /// Sets the email address (checked for the shape `name@domain`).
    pub fn with_email(mut self, email: &str) -> Result<Identity, DeskError> {
        let email = email.trim().to_lowercase();
        let valid = email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        }) && !email.chars().any(char::is_whitespace);
        if !valid {
            return Err(DeskError::BadInput(format!("email: '{email}' is not an email address (name@example.com)")));
        }
        self.email = Some(email);
        Ok(self)
    }

    pub fn with_name(mut self, name: Option<&str>) -> Identity {
        self.name = name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
        self
    }

    /// The whatsapp JID, or the one a phone number would have.
    pub fn whatsapp_jid(&self) -> Option<Jid> {
        self.whatsapp.clone().or_else(|| self.phone.as_deref().and_then(|p| Jid::from_phone(p).ok()))
    }

    fn identifiers(&self) -> Vec<(IdentifierKind, String)> {
        let mut out = Vec::new();
        if let Some(phone) = &self.phone {
            out.push((IdentifierKind::Phone, phone.clone()));
        }
        if let Some(email) = &self.email {
            out.push((IdentifierKind::Email, email.clone()));
        }
        if let Some(jid) = &self.whatsapp {
            out.push((IdentifierKind::Whatsapp, jid.to_string()));
        }
        out
    }
}

/// The customer this identity belongs to, created or merged as needed, with every identifier of
/// the identity recorded; for a claimed identity, the form's own customer with its claims. Runs
/// inside the caller's transaction.
pub async fn resolve(tx: &mut Tx, identity: &Identity, at: Timestamp) -> Result<String, DeskError> {
    let identifiers = identity.identifiers();
    if identifiers.is_empty() {
        return Err(DeskError::BadInput("a message needs a phone number, an email address or a WhatsApp id".into()));
    }
    if identity.proof == Proof::Claimed {
        return resolve_claimed(tx, identity, &identifiers, at).await;
    }
    if tx_backend_is_postgres(tx) {
        // Two workers taking in the first messages of one new customer at once must not make two
        // customers: each identifier is locked (in a fixed order) until the transaction ends.
        let mut keys: Vec<String> = identifiers.iter().map(|(k, v)| format!("{}:{v}", k.as_str())).collect();
        keys.sort();
        for key in keys {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS locked")
                .bind(key)
                .execute(&mut **tx)
                .await?;
        }
    }
    let mut owners: Vec<(i64, String)> = Vec::new();
    for (kind, value) in &identifiers {
        let row = sqlx::query(
            "SELECT c.id, c.created_at FROM customer_identifiers i JOIN customers c ON c.id = i.customer_id \
             WHERE i.kind = $1 AND i.value = $2",
        )
        .bind(kind.as_str())
        .bind(value.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = row {
            let owner = (row.try_get::<i64, _>(1)?, row.try_get::<String, _>(0)?);
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
    }
    owners.sort();
    let customer = match owners.split_first() {
        Some(((_, keep), others)) => {
            for (_, other) in others {
                merge(tx, other, keep).await?;
            }
            keep.clone()
        }
        None => create(tx, identity.name.as_deref(), at).await?,
    };
    for (kind, value) in &identifiers {
        sqlx::query(
            "INSERT INTO customer_identifiers (kind, value, customer_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, value) DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(value.as_str())
        .bind(&customer)
        .bind(at.millis())
        .execute(&mut **tx)
        .await?;
    }
    if let Some(name) = &identity.name {
        sqlx::query("UPDATE customers SET name = $1 WHERE id = $2 AND name IS NULL")
            .bind(name)
            .bind(&customer)
            .execute(&mut **tx)
            .await?;
    }
    Ok(customer)
}

/// A claimed identity's customer: the one the form made before for the same claimed email (one
/// holding claims only), else a new one; the claims are recorded on it, nothing else changes.
async fn resolve_claimed(
    tx: &mut Tx,
    identity: &Identity,
    claims: &[(IdentifierKind, String)],
    at: Timestamp,
) -> Result<String, DeskError> {
    let earlier: Option<String> = match &identity.email {
        Some(email) => {
            sqlx::query_scalar(
                "SELECT cl.customer_id FROM customer_claims cl WHERE cl.kind = 'email' AND cl.value = $1 \
                 AND NOT EXISTS (SELECT 1 FROM customer_identifiers i WHERE i.customer_id = cl.customer_id) \
                 ORDER BY cl.created_at LIMIT 1",
            )
            .bind(email)
            .fetch_optional(&mut **tx)
            .await?
        }
        None => None,
    };
    let customer = match earlier {
        Some(customer) => customer,
        None => create(tx, identity.name.as_deref(), at).await?,
    };
    for (kind, value) in claims {
        sqlx::query(
            "INSERT INTO customer_claims (customer_id, kind, value, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (customer_id, kind, value) DO NOTHING",
        )
        .bind(&customer)
        .bind(kind.as_str())
        .bind(value.as_str())
        .bind(at.millis())
        .execute(&mut **tx)
        .await?;
    }
    Ok(customer)
}

/// Another customer this one may be: for a claimed identity, one that proved a claimed
/// identifier; for a proven one, one that claimed a proven identifier.
pub async fn possibly_same(tx: &mut Tx, identity: &Identity, customer: &str) -> Result<Option<String>, DeskError> {
    let table = match identity.proof {
        Proof::Claimed => "customer_identifiers",
        Proof::Proven => "customer_claims",
    };
    for (kind, value) in identity.identifiers() {
        let other: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT customer_id FROM {table} WHERE kind = $1 AND value = $2 AND customer_id <> $3 \
             ORDER BY created_at LIMIT 1"
        )))
        .bind(kind.as_str())
        .bind(value)
        .bind(customer)
        .fetch_optional(&mut **tx)
        .await?;
        if other.is_some() {
            return Ok(other);
        }
    }
    Ok(None)
}

/// A person's merge: customer `from` joins `into` (identifiers, claims, conversations, tickets,
/// messages), and the tickets that named one as possibly the other no longer do.
pub async fn merge_by_hand(tx: &mut Tx, from: &str, into: &str) -> Result<(), DeskError> {
    merge(tx, from, into).await?;
    sqlx::query("UPDATE tickets SET possibly_customer_id = NULL WHERE customer_id = $1 AND possibly_customer_id = $1")
        .bind(into)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A new customer, known so far by `name` only.
async fn create(tx: &mut Tx, name: Option<&str>, at: Timestamp) -> Result<String, DeskError> {
    let id = new_id("cus");
    sqlx::query("INSERT INTO customers (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(name)
        .bind(at.millis())
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

fn tx_backend_is_postgres(tx: &mut Tx) -> bool {
    tx.backend_name() == "PostgreSQL"
}

/// Moves everything of customer `from` to customer `into` and removes `from`.
async fn merge(tx: &mut Tx, from: &str, into: &str) -> Result<(), DeskError> {
    for statement in [
        "UPDATE customer_identifiers SET customer_id = $1 WHERE customer_id = $2",
        "INSERT INTO customer_claims (customer_id, kind, value, created_at) \
         SELECT $1, kind, value, created_at FROM customer_claims WHERE customer_id = $2 \
         ON CONFLICT (customer_id, kind, value) DO NOTHING",
        "DELETE FROM customer_claims WHERE customer_id = $2",
        "UPDATE conversations SET customer_id = $1 WHERE customer_id = $2",
        "UPDATE tickets SET customer_id = $1 WHERE customer_id = $2",
        "UPDATE tickets SET possibly_customer_id = $1 WHERE possibly_customer_id = $2",
        "UPDATE messages SET customer_id = $1 WHERE customer_id = $2",
        // Events not yet published are keyed by customer: they follow, so erasing finds them.
        "UPDATE events SET key = $1 WHERE key = $2",
    ] {
        sqlx::query(statement).bind(into).bind(from).execute(&mut **tx).await?;
    }
    sqlx::query(
        "UPDATE customers SET name = (SELECT name FROM customers WHERE id = $1) WHERE id = $2 AND name IS NULL",
    )
    .bind(from)
    .bind(into)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM customers WHERE id = $1").bind(from).execute(&mut **tx).await?;
    Ok(())
}
