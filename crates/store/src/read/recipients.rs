//! Who a send may go to: recipients named by their exact contact or group name, and whether a
//! recipient is already known (an existing chat or a saved contact), which the send policy asks;
//! and a chat's oldest message, from which older history is requested.

use rusqlite::params;
use wamcp_core::Jid;
use wamcp_core::fold::fold;

use super::Reader;
use crate::Result;

/// A chat or contact whose name matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRecipient {
    pub jid: Jid,
    pub name: String,
}

impl Reader {
    /// Chats and contacts whose name is exactly `name` (ignoring case and accents), one entry per
    /// person or group.
    pub fn recipients_named(&self, name: &str) -> Result<Vec<NamedRecipient>> {
        let folded = fold(name.trim());
        if folded.is_empty() {
            return Ok(Vec::new());
        }
        let mut statement = self.conn.prepare_cached(
            "SELECT jid, name FROM chats WHERE name_folded = ?1 AND name IS NOT NULL
             UNION
             SELECT coalesce(phone_jid, jid), display_name FROM contacts
              WHERE display_name IS NOT NULL AND search_key LIKE '%' || ?1 || '%'",
        )?;
        let rows =
            statement.query_map(params![folded], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        let mut found: Vec<NamedRecipient> = Vec::new();
        for row in rows {
            let (jid, display) = row?;
            let Ok(jid) = Jid::parse(&jid) else { continue };
            let jid = self.canonical_person(&jid)?;
            if fold(&display) == folded && !found.iter().any(|f| f.jid == jid) {
                found.push(NamedRecipient { jid, name: display });
            }
        }
        Ok(found)
    }

    /// Whether `jid` is an existing chat or a saved contact (one with an address-book name).
    pub fn is_known_recipient(&self, jid: &Jid) -> Result<bool> {
        for identity in self.identities(jid)? {
            let known: bool = self
                .conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM chats WHERE jid = ?1)
                         OR EXISTS (SELECT 1 FROM contacts WHERE (jid = ?1 OR phone_jid = ?1 OR lid = ?1)
                                      AND full_name IS NOT NULL)",
                )?
                .query_row(params![identity.as_str()], |row| row.get(0))?;
            if known {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `jid` (or another JID of the same person) has a chat in the store.
    pub fn has_chat(&self, jid: &Jid) -> Result<bool> {
        for identity in self.identities(jid)? {
            let exists: bool = self
                .conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM chats WHERE jid = ?1)")?
                .query_row(params![identity.as_str()], |row| row.get(0))?;
            if exists {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The phone JID of a person known by LID, when the store knows it.
    fn canonical_person(&self, jid: &Jid) -> Result<Jid> {
        Ok(self
            .identities(jid)?
            .into_iter()
            .find(|j| j.kind() == wamcp_core::JidKind::Phone)
            .unwrap_or_else(|| jid.clone()))
    }
}

/// The oldest message the store has of a chat: where asking the phone for older history starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldestMessage {
    pub id: String,
    pub from_me: bool,
    pub at: wamcp_core::Timestamp,
    /// The chat as that message arrived (a LID where WhatsApp used one).
    pub wire_chat: Jid,
}

/// The chat and sender a stored message arrived with: a LID where WhatsApp used one, though the
/// store files it under the phone JID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireAddress {
    pub chat: Jid,
    pub sender: Option<Jid>,
}

impl Reader {
    pub fn oldest_message(&self, chat: &Jid) -> Result<Option<OldestMessage>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .prepare_cached("SELECT id, from_me, ts, wire_chat FROM messages WHERE chat_jid = ?1 ORDER BY seq LIMIT 1")?
            .query_row(params![chat.as_str()], |row| {
                let wire_chat: Option<String> = row.get(3)?;
                Ok(OldestMessage {
                    id: row.get(0)?,
                    from_me: row.get(1)?,
                    at: wamcp_core::Timestamp(row.get(2)?),
                    wire_chat: wire_chat.and_then(|j| Jid::parse(&j).ok()).unwrap_or_else(|| chat.clone()),
                })
            })
            .optional()?)
    }

    /// The chat and sender message `id` of `chat` arrived with; `None` when it is not stored.
    pub fn wire_address(&self, chat: &Jid, id: &str) -> Result<Option<WireAddress>> {
        use rusqlite::OptionalExtension;
        let row: Option<(Option<String>, Option<String>)> = self
            .conn
            .prepare_cached(
                "SELECT wire_chat, coalesce(wire_sender, sender_jid) FROM messages WHERE chat_jid = ?1 AND id = ?2",
            )?
            .query_row(params![chat.as_str(), id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        Ok(row.map(|(wire_chat, sender)| WireAddress {
            chat: wire_chat.and_then(|j| Jid::parse(&j).ok()).unwrap_or_else(|| chat.clone()),
            sender: sender.and_then(|j| Jid::parse(&j).ok()),
        }))
    }
}
