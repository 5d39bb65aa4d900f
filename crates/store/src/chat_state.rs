//! What the phone shows about a chat besides its messages, kept in step with the account's other
//! devices: archived, pinned, muted, how many messages are unread, and a group's subject.
//!
//! Unread counts start from the phone's own (history sync), grow by each new message someone
//! else sends, and shrink when the account reads on any device: the phone's read receipts name
//! the messages read, and a chat marked read or unread says so for the whole chat.

use rusqlite::params;
use wamcp_core::{Chat, ChatChange, Jid};

use crate::Result;
use crate::write::Batch;

impl Batch<'_> {
    /// Applies a change made elsewhere to a chat, creating the chat if it is new.
    pub fn change_chat(&mut self, chat: &Jid, change: &ChatChange) -> Result<()> {
        if let ChatChange::Subject(subject) = change {
            return self.upsert_chat(&Chat::named(chat.clone(), Some(subject)));
        }
        self.upsert_chat(&Chat::named(chat.clone(), None))?;
        let (sql, value): (&str, Option<i64>) = match change {
            ChatChange::Subject(_) => unreachable!("handled above"),
            ChatChange::Archived(archived) => ("UPDATE chats SET archived = ?2 WHERE jid = ?1", Some(*archived as i64)),
            ChatChange::Pinned(pinned) => ("UPDATE chats SET pinned = ?2 WHERE jid = ?1", Some(*pinned as i64)),
            ChatChange::Muted(until) => ("UPDATE chats SET muted_until = ?2 WHERE jid = ?1", until.map(|t| t.millis())),
            ChatChange::MarkedRead(true) => ("UPDATE chats SET unread_count = 0 WHERE jid = ?1 AND ?2 IS NULL", None),
            // The phone shows a chat marked unread with a dot: at least one unread.
            ChatChange::MarkedRead(false) => {
                ("UPDATE chats SET unread_count = max(unread_count, 1) WHERE jid = ?1 AND ?2 IS NULL", None)
            }
        };
        self.conn.prepare_cached(sql)?.execute(params![chat.as_str(), value])?;
        Ok(())
    }

    /// Whether the chat has a name of its own (a group's subject, a broadcast list's name).
    pub fn chat_has_name(&self, chat: &Jid) -> Result<bool> {
        let named = self
            .conn
            .prepare_cached("SELECT 1 FROM chats WHERE jid = ?1 AND name IS NOT NULL")?
            .exists([chat.as_str()])?;
        Ok(named)
    }

    /// Counts a new message from someone else as unread in its chat.
    pub fn count_unread(&mut self, chat: &Jid) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE chats SET unread_count = unread_count + 1 WHERE jid = ?1")?
            .execute([chat.as_str()])?;
        Ok(())
    }

    /// The account read these messages (on any device): in each chat holding one of them, only the
    /// messages from others after the newest one read stay unread. Returns how many chats changed.
    pub fn read_up_to(&mut self, ids: &[&str]) -> Result<usize> {
        // One id at a time: the count can only go down, so the newest id read wins in any order.
        let mut statement = self.conn.prepare_cached(
            "WITH read AS (SELECT chat_jid, seq FROM messages WHERE id = ?1)
             UPDATE chats SET unread_count = min(unread_count, (
                SELECT count(*) FROM messages m
                WHERE m.chat_jid = chats.jid AND m.from_me = 0 AND m.kind <> 'system'
                  AND m.seq > (SELECT max(seq) FROM read WHERE read.chat_jid = chats.jid)
             ))
             WHERE jid IN (SELECT chat_jid FROM read) AND unread_count > 0",
        )?;
        let mut changed = 0;
        for id in ids {
            changed += statement.execute([id])?;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use wamcp_core::{ChatChange, Jid, Timestamp};

    use crate::testing::{Fixture, text};

    /// Unread count, archived, pinned, muted: as list_chats shows them.
    fn chat_state(fixture: &Fixture, jid: &str) -> (u32, bool, bool, bool) {
        let chat = fixture.reader().chat(&Jid::parse(jid).unwrap(), false).unwrap().expect("the chat exists");
        (chat.unread_count, chat.archived, chat.pinned, chat.muted)
    }

    #[test]
    fn archive_pin_mute_and_read_made_on_the_phone_show_in_the_chat() {
        let mut fixture = Fixture::empty();
        let chat = Jid::parse("447700900001@s.whatsapp.net").unwrap();
        let until = Timestamp(Timestamp::now().millis() + 3_600_000);
        let mut batch = fixture.writer.batch().unwrap();
        for change in [ChatChange::Archived(true), ChatChange::Pinned(true), ChatChange::Muted(Some(until))] {
            batch.change_chat(&chat, &change).unwrap();
        }
        batch.change_chat(&chat, &ChatChange::MarkedRead(false)).unwrap();
        batch.commit().unwrap();
        assert_eq!(chat_state(&fixture, chat.as_str()), (1, true, true, true));

        let mut batch = fixture.writer.batch().unwrap();
        for change in [ChatChange::Archived(false), ChatChange::Muted(None), ChatChange::MarkedRead(true)] {
            batch.change_chat(&chat, &change).unwrap();
        }
        batch.commit().unwrap();
        assert_eq!(chat_state(&fixture, chat.as_str()), (0, false, true, false));
    }

    #[test]
    fn reading_on_the_phone_leaves_only_the_later_messages_unread() {
        let mut fixture = Fixture::empty();
        let chat = "447700900001@s.whatsapp.net";
        let mut batch = fixture.writer.batch().unwrap();
        for (id, minute) in [("a", 1), ("b", 2), ("c", 3)] {
            batch.insert_message(&text(chat, id, Some(chat), minute, "hello")).unwrap();
            batch.count_unread(&Jid::parse(chat).unwrap()).unwrap();
        }
        batch.commit().unwrap();
        assert_eq!(chat_state(&fixture, chat).0, 3);

        let mut batch = fixture.writer.batch().unwrap();
        assert_eq!(batch.read_up_to(&["b", "not-stored"]).unwrap(), 1);
        batch.commit().unwrap();
        assert_eq!(chat_state(&fixture, chat).0, 1, "c is still unread");

        let mut batch = fixture.writer.batch().unwrap();
        batch.read_up_to(&["a"]).unwrap();
        batch.commit().unwrap();
        assert_eq!(chat_state(&fixture, chat).0, 1, "reading an older message again changes nothing");
    }
}
