//! Who a message is from: the customer behind a phone number, an email address or a WhatsApp JID.
//! Each identifier belongs to one customer; a message naming identifiers of two customers (a web
//! form with the email of one and the phone of another) shows they are one person, and they are
//! merged into the older, so their histories meet.

use sqlx::Row;
use wamcp_core::{Jid, Timestamp, normalize_phone};

use crate::DeskError;
use crate::db::Tx;
use crate::model::{IdentifierKind, new_id};

/// What a message says about its writer. Values are normalised by the constructors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub name: Option<String>,
    /// E.164 with `+`.
    pub phone: Option<String>,
    /// Lower case.
    pub email: Option<String>,
    pub whatsapp: Option<Jid>,
}

impl Identity {
    /// A WhatsApp sender; a phone JID also gives the phone number.
    pub fn whatsapp(jid: Jid, name: Option<String>) -> Identity {
        let phone = jid.phone().map(|digits| format!("+{digits}"));
        Identity { name, phone, email: None, whatsapp: Some(jid) }
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
/// the identity recorded. Runs inside the caller's transaction.
pub async fn resolve(tx: &mut Tx, identity: &Identity, at: Timestamp) -> Result<String, DeskError> {
    let identifiers = identity.identifiers();
    if identifiers.is_empty() {
        return Err(DeskError::BadInput("a message needs a phone number, an email address or a WhatsApp id".into()));
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
        None => {
            let id = new_id("cus");
            sqlx::query("INSERT INTO customers (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(&id)
                .bind(identity.name.as_deref())
                .bind(at.millis())
                .execute(&mut **tx)
                .await?;
            id
        }
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

fn tx_backend_is_postgres(tx: &mut Tx) -> bool {
    tx.backend_name() == "PostgreSQL"
}

/// Moves everything of customer `from` to customer `into` and removes `from`.
async fn merge(tx: &mut Tx, from: &str, into: &str) -> Result<(), DeskError> {
    for statement in [
        "UPDATE customer_identifiers SET customer_id = $1 WHERE customer_id = $2",
        "UPDATE conversations SET customer_id = $1 WHERE customer_id = $2",
        "UPDATE tickets SET customer_id = $1 WHERE customer_id = $2",
        "UPDATE messages SET customer_id = $1 WHERE customer_id = $2",
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
