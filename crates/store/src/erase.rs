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

use crate::Result;
use crate::write::{Batch, SEQ_SLOTS};

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
        let ids = "(SELECT jid FROM temp.forget_ids)";
        let chats = "(SELECT jid FROM temp.forget_ids WHERE direct)";
        let theirs = format!("(chat_jid IN {chats} OR sender_jid IN {ids})");
        let on_their_messages = format!("(chat_jid, message_id) IN (SELECT chat_jid, id FROM messages WHERE {theirs})");
        let groups = self.strings(
            &format!("SELECT DISTINCT chat_jid FROM messages WHERE sender_jid IN {ids} AND chat_jid NOT IN {chats}"),
            &[],
        )?;
        let mut erased = Erased {
            media_files: self
                .strings(&format!("SELECT local_path FROM messages WHERE {theirs} AND local_path IS NOT NULL"), &[])?,
            reactions: self.run(
                &format!(
                    "DELETE FROM reactions WHERE {on_their_messages} OR sender_jid IN {ids} OR chat_jid IN {chats}"
                ),
                &[],
            )?,
            receipts: self.run(
                &format!(
                    "DELETE FROM receipts WHERE {on_their_messages} OR recipient_jid IN {ids} OR chat_jid IN {chats}"
                ),
                &[],
            )?,
            outbox_entries: self.run(&format!("DELETE FROM outbox WHERE chat_jid IN {chats}"), &[])?,
            ..Erased::default()
        };
        erased.messages = self.run(&format!("DELETE FROM messages WHERE {theirs}"), &[])?;
        self.run(&format!("DELETE FROM chat_senders WHERE sender_jid IN {ids} OR chat_jid IN {chats}"), &[])?;
        erased.chats = self.run(&format!("DELETE FROM chats WHERE jid IN {chats}"), &[])?;
        erased.contacts =
            self.run(&format!("DELETE FROM contacts WHERE jid IN {ids} OR phone_jid IN {ids} OR lid IN {ids}"), &[])?;
        self.run(&format!("DELETE FROM lid_map WHERE lid IN {ids} OR phone_jid IN {ids}"), &[])?;
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
