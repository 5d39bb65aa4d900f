//! Writing to the store: the single path by which chats, contacts and messages get in.
//!
//! A [`Writer`] owns the one read-write connection; work happens in a [`Batch`] (one transaction).
//! Derived columns (a chat's newest message, who wrote in which chat, folded search keys) are kept
//! here, in the same transaction as the rows they derive from, so readers never see them disagree.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use wamcp_core::fold::{digits, fold};
use wamcp_core::{Chat, Contact, Jid, Message};

use crate::{Result, StoreError, connection, schema};

/// SQLite's default page cache, what a writer goes back to after a bulk load.
pub const DEFAULT_CACHE_MIB: u32 = 2;
/// How many rows may share one millisecond before the time key runs out of room.
pub const SEQ_SLOTS: i64 = 1024;
const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;

/// The store's writer. Only one should exist per store at a time.
pub struct Writer {
    conn: Connection,
    path: PathBuf,
}

/// What inserting a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// A message with this (chat, id) was already stored; nothing changed.
    Duplicate,
}

impl Writer {
    /// Opens the store file, creating it and applying migrations as needed.
    pub fn open(path: &Path) -> Result<Writer> {
        let mut conn = connection::open(path)?;
        schema::migrate(&mut conn, path)?;
        Ok(Writer { conn, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets the page cache size. A bulk load wants a large cache (its index writes then stay in
    /// memory until commit); a long-running daemon wants a small one.
    pub fn set_cache_mib(&mut self, mib: u32) -> Result<()> {
        self.conn.pragma_update(None, "cache_size", -(i64::from(mib) * 1024))?;
        Ok(())
    }

    /// Starts a transaction. Nothing is visible to readers, nor durable, until [`Batch::commit`].
    pub fn batch(&mut self) -> Result<Batch<'_>> {
        // IMMEDIATE: take the write lock now, not at the first write, so a batch never fails
        // half-way because another writer got in first.
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Batch {
            conn: &self.conn,
            open: true,
            known_chats: HashSet::new(),
            newest_in_chat: HashMap::new(),
            newest_by_sender: HashMap::new(),
        })
    }

    /// Whether the store holds no messages yet.
    pub fn has_no_messages(&self) -> Result<bool> {
        Ok(self.conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM messages)", [], |row| row.get(0))?)
    }

    /// Loads many messages into an empty store in one transaction, for first imports.
    ///
    /// The messages' indexes and full-text trigger are dropped first and built once at the end:
    /// sorting a million keys once is far cheaper than a million random index inserts. Foreign
    /// keys are not checked while loading (the batch creates every chat it refers to). Duplicates
    /// are not detected while loading: the caller must bring none (a source with a unique
    /// (id, chat) key). All or nothing: on any error, or a kill, the store is as it was.
    pub fn bulk_load<T>(&mut self, load: impl FnOnce(&mut Batch<'_>) -> Result<T>) -> Result<T> {
        // These take effect only outside a transaction, hence here. A rollback journal writes
        // each new page once, into the database, where the write-ahead log would write it twice
        // (log, then checkpoint); SQLite keeps WAL when another connection has the store open.
        // A second sorter thread builds the indexes while the first keeps going.
        let journal: String = self.conn.query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0))?;
        self.conn.pragma_update(None, "foreign_keys", false)?;
        self.conn.pragma_update(None, "threads", 2)?;
        let loaded = self.bulk_load_unchecked(load);
        self.conn.pragma_update(None, "threads", 0)?;
        self.conn.pragma_update(None, "foreign_keys", true)?;
        if journal != "wal" {
            self.conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0))?;
        }
        loaded
    }

    fn bulk_load_unchecked<T>(&mut self, load: impl FnOnce(&mut Batch<'_>) -> Result<T>) -> Result<T> {
        let mut batch = self.batch()?;
        let deferred: Vec<(String, String)> = batch
            .conn
            .prepare(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'messages' AND sql IS NOT NULL
                   AND (type = 'index' OR name = 'messages_fts_insert')",
            )?
            .query_map([], |row| {
                Ok((format!("DROP {} {}", row.get::<_, String>(0)?, row.get::<_, String>(1)?), row.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (drop, _) in &deferred {
            batch.conn.execute_batch(drop)?;
        }
        let loaded = load(&mut batch)?;
        for (_, create) in &deferred {
            batch.conn.execute_batch(create)?;
        }
        batch.conn.execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")?;
        batch.commit()?;
        Ok(loaded)
    }
}

/// One write transaction.
pub struct Batch<'w> {
    pub(crate) conn: &'w Connection,
    /// Whether a transaction is open (dropping an open batch rolls it back).
    open: bool,
    /// Chats known to exist in this transaction, so each is created at most once.
    known_chats: HashSet<String>,
    /// Newest message seq per chat inserted in this batch, applied to `chats` at commit.
    newest_in_chat: HashMap<String, i64>,
    /// Newest seq per sender and chat, applied to `chat_senders` at commit.
    newest_by_sender: HashMap<String, HashMap<String, i64>>,
}

impl Batch<'_> {
    /// Creates the chat, or renames a stored one (a `None` name keeps the stored name). The state
    /// fields (unread, archived, pinned, muted) are taken only when the chat is new.
    pub fn upsert_chat(&mut self, chat: &Chat) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO chats (jid, kind, name, name_folded, unread_count, archived, pinned, muted_until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (jid) DO UPDATE SET
                    name = coalesce(excluded.name, name),
                    name_folded = CASE WHEN excluded.name IS NULL THEN name_folded ELSE excluded.name_folded END",
            )?
            .execute(params![
                chat.jid.as_str(),
                chat.kind.as_str(),
                chat.name,
                chat.name.as_deref().map(fold).unwrap_or_default(),
                chat.unread_count,
                chat.archived,
                chat.pinned,
                chat.muted_until.map(|t| t.millis()),
            ])?;
        if chat.name.is_none() {
            self.refresh_chat_name_key(&chat.jid)?;
        }
        if let Some(time) = chat.last_activity {
            self.conn
                .prepare_cached(
                    "UPDATE chats SET last_activity = ?2 WHERE jid = ?1 AND (last_activity IS NULL OR last_activity < ?2)",
                )?
                .execute(params![chat.jid.as_str(), time.millis()])?;
        }
        Ok(())
    }

    /// Creates the contact or fills in what is newly known; `None` fields keep stored values.
    /// A contact with both a phone JID and a LID also records the LID mapping.
    pub fn upsert_contact(&mut self, contact: &Contact) -> Result<()> {
        let phone = contact.phone_jid.as_ref().map(Jid::as_str);
        let lid = contact.lid.as_ref().map(Jid::as_str);
        self.conn
            .prepare_cached(
                "INSERT INTO contacts (jid, phone_jid, lid, full_name, push_name, business_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (jid) DO UPDATE SET
                    phone_jid = coalesce(excluded.phone_jid, phone_jid),
                    lid = coalesce(excluded.lid, lid),
                    full_name = coalesce(excluded.full_name, full_name),
                    push_name = coalesce(excluded.push_name, push_name),
                    business_name = coalesce(excluded.business_name, business_name)",
            )?
            .execute(params![
                contact.jid.as_str(),
                phone,
                lid,
                contact.full_name,
                contact.push_name,
                contact.business_name
            ])?;
        // The search key folds every stored name and the phone digits into one column.
        let stored: [Option<String>; 4] = self
            .conn
            .prepare_cached("SELECT full_name, push_name, business_name, phone_jid FROM contacts WHERE jid = ?1")?
            .query_row([contact.jid.as_str()], |row| Ok([row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?]))?;
        let [full, push, business, phone_jid] = stored;
        let mut key: Vec<String> = [full, push, business].into_iter().flatten().map(|name| fold(&name)).collect();
        key.extend(phone_jid.map(|jid| digits(&jid)));
        self.conn
            .prepare_cached("UPDATE contacts SET search_key = ?2 WHERE jid = ?1")?
            .execute(params![contact.jid.as_str(), key.join("\u{1f}")])?;
        if let (Some(phone), Some(lid)) = (&contact.phone_jid, &contact.lid) {
            self.map_lid(lid, phone)?;
        }
        for jid in [Some(&contact.jid), contact.phone_jid.as_ref(), contact.lid.as_ref()].into_iter().flatten() {
            self.refresh_chat_name_key(jid)?;
        }
        Ok(())
    }

    /// A direct chat without a name of its own is found and sorted by its person's name: keep
    /// its folded name key equal to the contact's display name.
    fn refresh_chat_name_key(&mut self, chat: &Jid) -> Result<()> {
        let name: Option<String> = self
            .conn
            .prepare_cached("SELECT display_name FROM person_names WHERE jid = ?1 LIMIT 1")?
            .query_row([chat.as_str()], |row| row.get(0))
            .optional()?;
        if let Some(name) = name {
            self.conn
                .prepare_cached("UPDATE chats SET name_folded = ?2 WHERE jid = ?1 AND name IS NULL")?
                .execute(params![chat.as_str(), fold(&name)])?;
        }
        Ok(())
    }

    /// Records that a LID and a phone JID are the same person.
    pub fn map_lid(&mut self, lid: &Jid, phone: &Jid) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO lid_map (lid, phone_jid) VALUES (?1, ?2)
                 ON CONFLICT (lid) DO UPDATE SET phone_jid = excluded.phone_jid",
            )?
            .execute(params![lid.as_str(), phone.as_str()])?;
        self.refresh_chat_name_key(lid)
    }

    /// Stores a message unless one with the same (chat, id) is already there. Creates its chat
    /// if unknown.
    pub fn insert_message(&mut self, message: &Message) -> Result<Inserted> {
        if !self.known_chats.contains(message.chat.as_str()) {
            let new_chat = self
                .conn
                .prepare_cached("INSERT INTO chats (jid, kind) VALUES (?1, ?2) ON CONFLICT (jid) DO NOTHING")?
                .execute(params![message.chat.as_str(), wamcp_core::ChatKind::of(&message.chat).as_str()])?;
            if new_chat == 1 {
                self.refresh_chat_name_key(&message.chat)?;
            }
            self.known_chats.insert(message.chat.as_str().to_string());
        }
        let base = message.timestamp.millis().max(0) * SEQ_SLOTS;
        let mut seq = base;
        loop {
            match self.insert_row(seq, message) {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.extended_code == SQLITE_CONSTRAINT_UNIQUE => {
                    return Ok(if self.replace_stand_in(message)? { Inserted::New } else { Inserted::Duplicate });
                }
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.extended_code == SQLITE_CONSTRAINT_PRIMARYKEY => {
                    // Another message has the same millisecond: take the next free slot.
                    let taken: i64 = self
                        .conn
                        .prepare_cached("SELECT max(seq) FROM messages WHERE seq BETWEEN ?1 AND ?2")?
                        .query_row(params![base, base + SEQ_SLOTS - 1], |row| row.get(0))?;
                    if taken + 1 >= base + SEQ_SLOTS {
                        return Err(StoreError::Invalid(format!(
                            "more than {SEQ_SLOTS} messages at {}: cannot store message {}",
                            message.timestamp, message.id
                        )));
                    }
                    seq = taken.max(seq) + 1;
                }
                Err(other) => return Err(other.into()),
            }
        }
        let chat = message.chat.as_str();
        raise(&mut self.newest_in_chat, chat, seq);
        if let Some(sender) = &message.sender {
            match self.newest_by_sender.get_mut(sender.as_str()) {
                Some(chats) => raise(chats, chat, seq),
                None => {
                    self.newest_by_sender.insert(sender.as_str().to_string(), HashMap::from([(chat.to_string(), seq)]));
                }
            }
        }
        Ok(Inserted::New)
    }

    fn insert_row(&self, seq: i64, m: &Message) -> rusqlite::Result<()> {
        let media = m.media.as_ref();
        self.conn
            .prepare_cached(
                "INSERT INTO messages (seq, chat_jid, id, sender_jid, from_me, ts, kind, text, caption, quoted_id,
                    status, mimetype, file_name, file_size, file_sha256, file_enc_sha256, media_key, direct_path,
                    url, local_path, media_seconds)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
            )?
            .execute(params![
                seq,
                m.chat.as_str(),
                m.id.as_str(),
                m.sender.as_ref().map(Jid::as_str),
                m.from_me,
                m.timestamp.millis(),
                m.kind.as_str(),
                m.text,
                m.caption,
                m.quoted_id.as_ref().map(|q| q.as_str()),
                m.status.map(|s| s.as_str()),
                media.and_then(|x| x.mimetype.as_deref()),
                media.and_then(|x| x.file_name.as_deref()),
                media.and_then(|x| x.size).map(|s| s as i64),
                media.and_then(|x| x.sha256.as_deref()),
                media.and_then(|x| x.enc_sha256.as_deref()),
                media.and_then(|x| x.media_key.as_deref()),
                media.and_then(|x| x.direct_path.as_deref()),
                media.and_then(|x| x.url.as_deref()),
                media.and_then(|x| x.local_path.as_deref()),
                media.and_then(|x| x.seconds),
            ])?;
        Ok(())
    }

    /// A system row stands in for a message that could not be decrypted yet, under the message's
    /// own id: when the message itself arrives (the sender's phone sent it again), it takes the
    /// stand-in's place. Returns whether it did.
    fn replace_stand_in(&self, m: &Message) -> Result<bool> {
        if m.kind == wamcp_core::MessageKind::System {
            return Ok(false);
        }
        let stand_in: Option<i64> = self
            .conn
            .prepare_cached("SELECT seq FROM messages WHERE chat_jid = ?1 AND id = ?2 AND kind = 'system'")?
            .query_row(params![m.chat.as_str(), m.id.as_str()], |row| row.get(0))
            .optional()?;
        let Some(seq) = stand_in else { return Ok(false) };
        // In its place: the same seq keeps it where the stand-in stood in the chat.
        self.conn.prepare_cached("DELETE FROM messages WHERE seq = ?1")?.execute([seq])?;
        self.insert_row(seq, m)?;
        Ok(true)
    }

    /// Records the chat and sender a message arrived with, when they are not the ones it is filed
    /// under (a LID filed under its phone JID). `None` leaves that one as it is.
    pub fn set_wire_address(
        &mut self,
        chat: &Jid,
        message_id: &str,
        wire_chat: Option<&Jid>,
        wire_sender: Option<&Jid>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET wire_chat = coalesce(?3, wire_chat), wire_sender = coalesce(?4, wire_sender)
                 WHERE chat_jid = ?1 AND id = ?2",
            )?
            .execute(params![chat.as_str(), message_id, wire_chat.map(Jid::as_str), wire_sender.map(Jid::as_str)])?;
        Ok(())
    }

    /// Records a reaction; an empty emoji removes the sender's reaction.
    pub fn set_reaction(
        &mut self,
        chat: &Jid,
        message_id: &str,
        sender: &Jid,
        emoji: &str,
        at: wamcp_core::Timestamp,
    ) -> Result<()> {
        if emoji.is_empty() {
            self.conn
                .prepare_cached("DELETE FROM reactions WHERE chat_jid = ?1 AND message_id = ?2 AND sender_jid = ?3")?
                .execute(params![chat.as_str(), message_id, sender.as_str()])?;
        } else {
            self.conn
                .prepare_cached(
                    "INSERT INTO reactions (chat_jid, message_id, sender_jid, emoji, ts) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO UPDATE SET emoji = excluded.emoji, ts = excluded.ts WHERE excluded.ts >= ts",
                )?
                .execute(params![chat.as_str(), message_id, sender.as_str(), emoji, at.millis()])?;
        }
        Ok(())
    }

    /// Replaces a message's text (or caption) after the sender edited it.
    pub fn edit_message(
        &mut self,
        chat: &Jid,
        message_id: &str,
        new_text: &str,
        at: wamcp_core::Timestamp,
    ) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE messages SET
                    text = CASE WHEN caption IS NOT NULL AND text IS NULL THEN NULL ELSE ?3 END,
                    caption = CASE WHEN caption IS NOT NULL AND text IS NULL THEN ?3 ELSE caption END,
                    edited_at = ?4
                 WHERE chat_jid = ?1 AND id = ?2 AND revoked = 0",
            )?
            .execute(params![chat.as_str(), message_id, new_text, at.millis()])?;
        Ok(changed > 0)
    }

    /// Marks a message deleted for everyone: its text, caption and media keys are dropped.
    pub fn revoke_message(&mut self, chat: &Jid, message_id: &str) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE messages SET revoked = 1, text = NULL, caption = NULL, transcript = NULL, media_key = NULL, direct_path = NULL, url = NULL
                 WHERE chat_jid = ?1 AND id = ?2",
            )?
            .execute(params![chat.as_str(), message_id])?;
        Ok(changed > 0)
    }

    /// Removes a message the account deleted for itself on another device, with its reactions and
    /// receipts. Returns the path of its saved attachment, if any, for the caller to delete once
    /// committed; `None` as well when the message was not stored.
    pub fn delete_for_me(&mut self, chat: &Jid, message_id: &str) -> Result<Option<String>> {
        let local_path: Option<Option<String>> = self
            .conn
            .prepare_cached("DELETE FROM messages WHERE chat_jid = ?1 AND id = ?2 RETURNING local_path")?
            .query_row(params![chat.as_str(), message_id], |row| row.get(0))
            .optional()?;
        for table in ["reactions", "receipts"] {
            self.conn
                .prepare_cached(&format!("DELETE FROM {table} WHERE chat_jid = ?1 AND message_id = ?2"))?
                .execute(params![chat.as_str(), message_id])?;
        }
        Ok(local_path.flatten())
    }

    /// A contact moved to a new number: the new JID is filed under the names the old one had
    /// (names the new JID already has stay), and its LID, when known, is mapped to it.
    pub fn number_changed(&mut self, old: &Jid, new: &Jid, new_lid: Option<&Jid>) -> Result<()> {
        let [full, push, business] = self.names_of(old)?;
        let [known_full, known_push, known_business] = self.names_of(new)?;
        let mut contact = Contact::new(new.clone());
        contact.lid = new_lid.cloned();
        contact.full_name = known_full.or(full);
        contact.push_name = known_push.or(push);
        contact.business_name = known_business.or(business);
        self.upsert_contact(&contact)
    }

    /// A stored contact's full, push and business names (all `None` when unknown).
    fn names_of(&self, jid: &Jid) -> Result<[Option<String>; 3]> {
        let names = self
            .conn
            .prepare_cached("SELECT full_name, push_name, business_name FROM contacts WHERE jid = ?1")?
            .query_row([jid.as_str()], |row| Ok([row.get(0)?, row.get(1)?, row.get(2)?]))
            .optional()?;
        Ok(names.unwrap_or_default())
    }

    /// Applies the derived columns and commits. Until this returns, nothing of the batch is durable.
    pub fn commit(mut self) -> Result<()> {
        self.apply_derived()?;
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }

    /// Commits what the batch holds so far and goes on in a new transaction: long imports
    /// become durable in steps and let other writers in between.
    pub fn commit_and_continue(&mut self) -> Result<()> {
        self.apply_derived()?;
        self.conn.execute_batch("COMMIT; BEGIN IMMEDIATE")?;
        self.known_chats.clear();
        Ok(())
    }

    /// Writes the derived columns collected since the last commit.
    fn apply_derived(&mut self) -> Result<()> {
        let mut chat_update = self.conn.prepare_cached(
            "UPDATE chats SET last_seq = ?2, last_activity = max(coalesce(last_activity, 0), ?2 / 1024)
             WHERE jid = ?1 AND (last_seq IS NULL OR last_seq < ?2)",
        )?;
        for (chat, seq) in self.newest_in_chat.drain() {
            chat_update.execute(params![chat, seq])?;
        }
        let mut sender_update = self.conn.prepare_cached(
            "INSERT INTO chat_senders (sender_jid, chat_jid, last_seq) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
        )?;
        for (sender, chats) in self.newest_by_sender.drain() {
            for (chat, seq) in chats {
                sender_update.execute(params![sender, chat, seq])?;
            }
        }
        Ok(())
    }
}

/// Raises `map[key]` to `seq` (allocating the key only the first time it is seen).
fn raise(map: &mut HashMap<String, i64>, key: &str, seq: i64) {
    match map.get_mut(key) {
        Some(newest) => *newest = (*newest).max(seq),
        None => {
            map.insert(key.to_string(), seq);
        }
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing of an uncommitted batch may stay behind.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
