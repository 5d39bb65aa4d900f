//! One person, one chat: WhatsApp may address the same person by phone JID or by LID (its privacy
//! id). Once the store knows both, everything filed under the LID moves to the phone JID, and
//! whatever arrives under the LID later is filed under the phone JID straight away.

use rusqlite::{OptionalExtension, params};
use wamcp_core::{Jid, JidKind};

use crate::Result;
use crate::write::Batch;

impl Batch<'_> {
    /// The JID to file a chat or sender under: the phone JID a LID maps to, else itself.
    pub fn canonical(&self, jid: &Jid) -> Result<Jid> {
        if jid.kind() != JidKind::Lid {
            return Ok(jid.clone());
        }
        let phone: Option<String> = self
            .conn
            .prepare_cached("SELECT phone_jid FROM lid_map WHERE lid = ?1")?
            .query_row([jid.as_str()], |row| row.get(0))
            .optional()?;
        Ok(phone.and_then(|phone| Jid::parse(&phone).ok()).unwrap_or_else(|| jid.clone()))
    }

    /// Records that `lid` is `phone` and moves the LID's chat, messages, reactions, receipts and
    /// pending sends to the phone JID. Returns whether anything moved.
    pub fn merge_lid(&mut self, lid: &Jid, phone: &Jid) -> Result<bool> {
        self.map_lid(lid, phone)?;
        let (lid, phone) = (lid.as_str(), phone.as_str());
        let had_chat: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM chats WHERE jid = ?1)")?
            .query_row([lid], |r| r.get(0))?;
        let moved_senders = self
            .conn
            .prepare_cached(
                "UPDATE messages SET wire_sender = coalesce(wire_sender, sender_jid), sender_jid = ?2 WHERE sender_jid = ?1",
            )?
            .execute(params![lid, phone])?;
        if moved_senders > 0 {
            self.conn.prepare_cached("DELETE FROM chat_senders WHERE sender_jid = ?1")?.execute([lid])?;
            self.conn
                .prepare_cached(
                    "INSERT INTO chat_senders (sender_jid, chat_jid, last_seq)
                     SELECT sender_jid, chat_jid, max(seq) FROM messages WHERE sender_jid = ?1 GROUP BY chat_jid
                     ON CONFLICT DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
                )?
                .execute([phone])?;
        }
        for sql in [
            "UPDATE OR IGNORE reactions SET sender_jid = ?2 WHERE sender_jid = ?1",
            "UPDATE OR IGNORE receipts SET recipient_jid = ?2 WHERE recipient_jid = ?1",
        ] {
            self.conn.prepare_cached(sql)?.execute(params![lid, phone])?;
        }
        if !had_chat {
            return Ok(moved_senders > 0);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO chats (jid, kind, name, name_folded, unread_count, archived, pinned, muted_until)
                 SELECT ?2, kind, name, name_folded, unread_count, archived, pinned, muted_until FROM chats WHERE jid = ?1
                 ON CONFLICT (jid) DO UPDATE SET
                    name = coalesce(name, excluded.name),
                    unread_count = unread_count + excluded.unread_count",
            )?
            .execute(params![lid, phone])?;
        for sql in [
            // A message stored under both addresses stays once, under the phone JID.
            "UPDATE OR IGNORE messages SET wire_chat = coalesce(wire_chat, chat_jid), chat_jid = ?2 WHERE chat_jid = ?1",
            "UPDATE OR IGNORE reactions SET chat_jid = ?2 WHERE chat_jid = ?1",
            "UPDATE OR IGNORE receipts SET chat_jid = ?2 WHERE chat_jid = ?1",
            "UPDATE OR IGNORE outbox SET chat_jid = ?2 WHERE chat_jid = ?1",
            "UPDATE OR IGNORE chat_senders SET chat_jid = ?2 WHERE chat_jid = ?1",
        ] {
            self.conn.prepare_cached(sql)?.execute(params![lid, phone])?;
        }
        self.conn
            .prepare_cached(
                "UPDATE chats SET
                    last_seq = (SELECT max(seq) FROM messages WHERE chat_jid = ?1),
                    last_activity = max(coalesce(last_activity, 0),
                        coalesce((SELECT max(seq) FROM messages WHERE chat_jid = ?1) / 1024, 0))
                 WHERE jid = ?1",
            )?
            .execute([phone])?;
        // What could not move was already there under the phone JID.
        for sql in [
            "DELETE FROM reactions WHERE chat_jid = ?1",
            "DELETE FROM receipts WHERE chat_jid = ?1",
            "DELETE FROM chat_senders WHERE chat_jid = ?1",
            "DELETE FROM chats WHERE jid = ?1",
        ] {
            self.conn.prepare_cached(sql)?.execute([lid])?;
        }
        Ok(true)
    }
}
