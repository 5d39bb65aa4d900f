//! Removing what the store holds on purpose: old messages (retention) and everything about one
//! person (erasure on request).
//!
//! Both run in a [`Batch`], so they are all or nothing and keep the derived columns true: a chat's
//! newest message, who wrote in which chat, the full-text index (its delete trigger). The files of
//! removed attachments are returned, not deleted: the caller deletes them once the batch has
//! committed, so a rolled-back erase never loses a file whose row is still there.

use std::path::Path;

use rusqlite::params;
use wamcp_core::{Jid, Timestamp};

use crate::write::{Batch, SEQ_SLOTS};
use crate::{Reader, Result};

/// What an erase removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Erased {
    pub messages: u64,
    pub reactions: u64,
    pub receipts: u64,
    /// Sends in the outbox (their requests hold the text that was sent).
    pub outbox_entries: u64,
    pub chats: u64,
    pub contacts: u64,
    /// Attachment files of removed messages, relative to the data directory.
    pub media_files: Vec<String>,
}

impl Batch<'_> {
    /// Removes every message older than `before`, with its reactions, receipts and attachment
    /// files, and the outbox entries finished before it. Chats and contacts stay.
    pub fn purge_before(&mut self, before: Timestamp) -> Result<Erased> {
        // Rows are keyed by time (seq = ms * 1024 + n): "older than" is a range of the rowid.
        let cutoff = before.millis().saturating_mul(SEQ_SLOTS);
        let on_old_messages = "(chat_jid, message_id) IN (SELECT chat_jid, id FROM messages WHERE seq < ?1)";
        let mut erased = Erased {
            media_files: self
                .strings("SELECT local_path FROM messages WHERE seq < ?1 AND local_path IS NOT NULL", &[&cutoff])?,
            reactions: self.run(&format!("DELETE FROM reactions WHERE {on_old_messages}"), &[&cutoff])?,
            receipts: self.run(&format!("DELETE FROM receipts WHERE {on_old_messages}"), &[&cutoff])?,
            outbox_entries: self
                .run("DELETE FROM outbox WHERE state <> 'queued' AND updated < ?1", &[&before.millis()])?,
            ..Erased::default()
        };
        erased.messages = self.run("DELETE FROM messages WHERE seq < ?1", &[&cutoff])?;
        // A sender's newest message in a chat older than the cutoff means all of theirs there went.
        self.run("DELETE FROM chat_senders WHERE last_seq < ?1", &[&cutoff])?;
        self.run("UPDATE chats SET last_seq = NULL, last_activity = NULL WHERE last_seq < ?1", &[&cutoff])?;
        Ok(erased)
    }

    /// Removes everything about a person: their direct chats (every message both ways), their
    /// messages, reactions and receipts in groups, their contact entries, the link between their
    /// phone number and LID, and the sends addressed to them (queued ones are cancelled).
    pub fn forget_person(&mut self, person: &Jid) -> Result<Erased> {
        // Their JIDs go into a temporary table, so each statement below names them once.
        self.conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS forget_ids (jid TEXT PRIMARY KEY, direct INTEGER NOT NULL);
             DELETE FROM temp.forget_ids;",
        )?;
        for jid in crate::read::identity::identities(self.conn, person)? {
            self.conn
                .prepare_cached("INSERT INTO temp.forget_ids VALUES (?1, ?2)")?
                .execute(params![jid.as_str(), jid.is_person()])?;
        }
        let scope = PersonScope;
        let groups = self.strings(&scope.groups_written_in(), &[])?;
        let mut erased = Erased {
            media_files: self.strings(&scope.media_files(), &[])?,
            reactions: self.run(&format!("DELETE FROM reactions WHERE {}", scope.reactions()), &[])?,
            receipts: self.run(&format!("DELETE FROM receipts WHERE {}", scope.receipts()), &[])?,
            outbox_entries: self.run(&format!("DELETE FROM outbox WHERE {}", scope.outbox()), &[])?,
            ..Erased::default()
        };
        erased.messages = self.run(&format!("DELETE FROM messages WHERE {}", scope.messages()), &[])?;
        self.run(&format!("DELETE FROM chat_senders WHERE {}", scope.chat_senders()), &[])?;
        erased.chats = self.run(&format!("DELETE FROM chats WHERE {}", scope.chats()), &[])?;
        erased.contacts = self.run(&format!("DELETE FROM contacts WHERE {}", scope.contacts()), &[])?;
        self.run(&format!("DELETE FROM lid_map WHERE {}", scope.lid_map()), &[])?;
        // The groups they wrote in: their newest message may have been the chat's newest.
        for group in &groups {
            self.run(
                "UPDATE chats SET last_seq = (SELECT max(seq) FROM messages WHERE chat_jid = ?1),
                                  last_activity = (SELECT max(seq) FROM messages WHERE chat_jid = ?1) / 1024
                 WHERE jid = ?1",
                &[group],
            )?;
        }
        self.conn.execute_batch("DELETE FROM temp.forget_ids")?;
        Ok(erased)
    }

    fn strings(&self, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<String>> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let rows = statement.query_map(params, |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn run(&self, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<u64> {
        Ok(self.conn.prepare_cached(sql)?.execute(params)? as u64)
    }
}

/// What "everything about a person" covers, table by table: conditions over a table (or a
/// common table expression) named `forget_ids (jid, direct)` that lists the person's JIDs, with
/// `direct` set for those that are a chat of theirs. Erasing deletes what they select;
/// [`Reader::forget_preview`] counts it, so the preview and the erase cannot disagree.
struct PersonScope;

impl PersonScope {
    const IDS: &'static str = "(SELECT jid FROM forget_ids)";
    const CHATS: &'static str = "(SELECT jid FROM forget_ids WHERE direct)";

    fn messages(&self) -> String {
        format!("(chat_jid IN {} OR sender_jid IN {})", Self::CHATS, Self::IDS)
    }

    fn on_their_messages(&self) -> String {
        format!("(chat_jid, message_id) IN (SELECT chat_jid, id FROM messages WHERE {})", self.messages())
    }

    fn reactions(&self) -> String {
        format!("{} OR sender_jid IN {} OR chat_jid IN {}", self.on_their_messages(), Self::IDS, Self::CHATS)
    }

    fn receipts(&self) -> String {
        format!("{} OR recipient_jid IN {} OR chat_jid IN {}", self.on_their_messages(), Self::IDS, Self::CHATS)
    }

    fn outbox(&self) -> String {
        format!("chat_jid IN {}", Self::CHATS)
    }

    fn chat_senders(&self) -> String {
        format!("sender_jid IN {} OR chat_jid IN {}", Self::IDS, Self::CHATS)
    }

    fn chats(&self) -> String {
        format!("jid IN {}", Self::CHATS)
    }

    fn contacts(&self) -> String {
        format!("jid IN {ids} OR phone_jid IN {ids} OR lid IN {ids}", ids = Self::IDS)
    }

    fn lid_map(&self) -> String {
        format!("lid IN {ids} OR phone_jid IN {ids}", ids = Self::IDS)
    }

    fn media_files(&self) -> String {
        format!("SELECT local_path FROM messages WHERE {} AND local_path IS NOT NULL", self.messages())
    }

    fn groups_written_in(&self) -> String {
        format!(
            "SELECT DISTINCT chat_jid FROM messages WHERE sender_jid IN {} AND chat_jid NOT IN {}",
            Self::IDS,
            Self::CHATS
        )
    }
}

impl Reader {
    /// What [`Batch::forget_person`] would remove, counted without writing anything.
    pub fn forget_preview(&self, person: &Jid) -> Result<Erased> {
        let ids = crate::read::identity::identities(&self.conn, person)?;
        let rows: Vec<String> = (0..ids.len()).map(|n| format!("(?{}, ?{})", 2 * n + 1, 2 * n + 2)).collect();
        let cte = format!("WITH forget_ids (jid, direct) AS (VALUES {})", rows.join(", "));
        let values: Vec<(String, bool)> = ids.iter().map(|jid| (jid.to_string(), jid.is_person())).collect();
        let params: Vec<&dyn rusqlite::ToSql> = values
            .iter()
            .flat_map(|(jid, direct)| [jid as &dyn rusqlite::ToSql, direct as &dyn rusqlite::ToSql])
            .collect();
        let count = |table: &str, condition: String| -> Result<u64> {
            let sql = format!("{cte} SELECT count(*) FROM {table} WHERE {condition}");
            let n: i64 = self.conn.prepare(&sql)?.query_row(params.as_slice(), |row| row.get(0))?;
            Ok(n as u64)
        };
        let scope = PersonScope;
        let mut statement = self.conn.prepare(&format!("{cte} {}", scope.media_files()))?;
        let media_files = statement
            .query_map(params.as_slice(), |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Erased {
            messages: count("messages", scope.messages())?,
            reactions: count("reactions", scope.reactions())?,
            receipts: count("receipts", scope.receipts())?,
            outbox_entries: count("outbox", scope.outbox())?,
            chats: count("chats", scope.chats())?,
            contacts: count("contacts", scope.contacts())?,
            media_files,
        })
    }
}

impl Erased {
    /// Whether nothing at all was (or would be) removed.
    pub fn is_empty(&self) -> bool {
        self.messages == 0
            && self.reactions == 0
            && self.receipts == 0
            && self.outbox_entries == 0
            && self.chats == 0
            && self.contacts == 0
            && self.media_files.is_empty()
    }
}

/// Deletes the attachment files an erase returned (paths relative to `data_dir`, all under
/// `media/`), and the chat folders left empty. Returns how many files were deleted; a file
/// already gone counts as deleted, a path that would leave `media/` is skipped.
pub fn remove_media_files(data_dir: &Path, files: &[String]) -> std::io::Result<u64> {
    let mut removed = 0;
    for relative in files {
        let relative = Path::new(relative);
        let inside_media = relative.starts_with("media")
            && relative.components().all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside_media {
            continue;
        }
        let path = data_dir.join(relative);
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed += 1,
            Err(e) => return Err(e),
        }
        if let Some(folder) = path.parent() {
            // Fails while the folder still holds other files: that is the point.
            let _ = std::fs::remove_dir(folder);
        }
    }
    Ok(removed)
}
