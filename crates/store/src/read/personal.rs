//! Whether a chat is a personal one of the account's owner: with someone in their address book,
//! or one where they wrote by hand lately. The support desk leaves those alone, so a friend's
//! "Are you around later?" never becomes a ticket.

use rusqlite::params_from_iter;
use wamcp_core::{Jid, Timestamp};

use super::Reader;
use crate::Result;
use crate::write::SEQ_SLOTS;

/// Why a chat is the owner's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Personal {
    /// The person is in the phone's address book (WhatsApp gave a full name from it).
    InAddressBook,
    /// The account wrote in the chat since the time asked about, not through this daemon: the
    /// owner on the phone, or another linked device. These are the messages' ids, newest first,
    /// so a caller that knows some of them as its own (the desk's answers sent through another
    /// bridge of the same account) can tell whether a person wrote.
    OwnerWrote(Vec<String>),
}

impl Reader {
    /// Whether the chat with `person` is personal, and why; `None` for a stranger's chat.
    pub fn personal_chat(&self, person: &Jid, owner_wrote_since: Timestamp) -> Result<Option<Personal>> {
        let ids: Vec<String> = self.identities(person)?.iter().map(ToString::to_string).collect();
        let marks = vec!["?"; ids.len()].join(", ");
        let in_book = format!(
            "SELECT EXISTS (SELECT 1 FROM contacts WHERE (jid IN ({marks}) OR phone_jid IN ({marks}) OR lid IN ({marks})) \
             AND trim(coalesce(full_name, '')) <> '')"
        );
        let thrice: Vec<&String> = ids.iter().chain(&ids).chain(&ids).collect();
        if self.conn.prepare_cached(&in_book)?.query_row(params_from_iter(thrice), |row| row.get::<_, bool>(0))? {
            return Ok(Some(Personal::InAddressBook));
        }
        // Sent through wamcp means in the outbox (the desk's own answers, the assistant's sends).
        let by_hand = format!(
            "SELECT m.id FROM messages m WHERE m.chat_jid IN ({marks}) AND m.from_me AND m.seq >= ? \
             AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.chat_jid = m.chat_jid AND o.message_id = m.id) \
             ORDER BY m.seq DESC"
        );
        let since = owner_wrote_since.millis().saturating_mul(SEQ_SLOTS);
        let mut values: Vec<rusqlite::types::Value> = ids.into_iter().map(rusqlite::types::Value::from).collect();
        values.push(since.into());
        let mut query = self.conn.prepare_cached(&by_hand)?;
        let wrote = query.query_map(params_from_iter(values), |row| row.get::<_, String>(0))?;
        let wrote = wrote.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok((!wrote.is_empty()).then_some(Personal::OwnerWrote(wrote)))
    }
}
