//! Reading the store: one query function per read tool, returning `core` views.
//!
//! A [`Reader`] holds a connection that cannot write (`PRAGMA query_only`), so the MCP server can
//! never modify the store even by mistake. Each tool's query lives in its own file; the columns and
//! row mapping they share live here.

mod chats;
mod contacts;
pub(crate) mod identity;
mod media;
mod messages;
mod personal;
mod recipients;
mod text_match;

use std::path::Path;

use rusqlite::{Connection, Row};
use wamcp_core::{
    ChatKind, ChatView, DeliveryStatus, Jid, MediaView, MessageKind, MessageView, ReactionView, Timestamp,
};

pub use chats::ChatOrder;
pub use media::StoredMedia;
pub use messages::{MessageFilter, MessagePage};
pub use personal::Personal;
pub use recipients::{NamedRecipient, OldestMessage, WireAddress};

use crate::{Result, Writer, connection, schema};

/// A read-only view of the store.
pub struct Reader {
    pub(crate) conn: Connection,
}

impl Reader {
    /// Opens the store for reading. A store that does not exist yet is created empty (and an old
    /// one migrated) first, so a reader started before anything was imported still works.
    pub fn open(path: &Path) -> Result<Reader> {
        let conn = connection::open(path)?;
        if schema::version(&conn)? != schema::CURRENT_VERSION {
            drop(Writer::open(path)?);
        }
        conn.pragma_update(None, "query_only", true)?;
        Ok(Reader { conn })
    }

    /// Whether the store holds any message (an empty one deserves a hint to the user).
    pub fn has_messages(&self) -> Result<bool> {
        Ok(self.conn.query_row("SELECT EXISTS (SELECT 1 FROM messages)", [], |row| row.get(0))?)
    }

    /// Reactions to each message, attached in place.
    fn attach_reactions<'m>(&self, messages: impl Iterator<Item = &'m mut MessageView>) -> Result<()> {
        let mut statement = self.conn.prepare_cached(
            "SELECT r.emoji, r.sender_jid, (SELECT display_name FROM person_names WHERE jid = r.sender_jid LIMIT 1)
             FROM reactions r WHERE r.chat_jid = ?1 AND r.message_id = ?2 ORDER BY r.ts",
        )?;
        for message in messages {
            message.reactions = statement
                .query_map([&message.chat_jid, &message.id], |row| {
                    Ok(ReactionView { emoji: row.get(0)?, sender_jid: row.get(1)?, sender_name: row.get(2)? })
                })?
                .collect::<rusqlite::Result<_>>()?;
        }
        Ok(())
    }

    /// Runs a message query built on [`MESSAGE_SELECT`] and returns each view, with its reactions,
    /// and its seq (the position in its chat, for fetching the messages around it).
    fn message_rows(&self, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<(i64, MessageView)>> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let mut rows: Vec<(i64, MessageView)> =
            statement.query_map(params, message_from_row)?.collect::<rusqlite::Result<_>>()?;
        self.attach_reactions(rows.iter_mut().map(|(_, view)| view))?;
        Ok(rows)
    }

    /// Like [`Reader::message_rows`], the views only.
    fn messages(&self, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<MessageView>> {
        Ok(self.message_rows(sql, params)?.into_iter().map(|(_, view)| view).collect())
    }

    /// The message with this seq, if any.
    fn message_at(&self, seq: i64) -> Result<Option<MessageView>> {
        let sql = format!("{MESSAGE_SELECT} WHERE m.seq = ?1");
        Ok(self.messages(&sql, &[&seq])?.pop())
    }
}

/// `SELECT` list of a message view over `messages m` and its chat `c`, resolved names included.
/// A macro so that it can be `concat!`ed into whole statements at compile time.
macro_rules! message_fields {
    () => {
        "SELECT m.id, m.chat_jid,
            coalesce(c.name, (SELECT display_name FROM person_names WHERE jid = m.chat_jid LIMIT 1)),
            m.sender_jid,
            CASE WHEN m.sender_jid LIKE '%@lid' THEN (SELECT phone_jid FROM lid_map WHERE lid = m.sender_jid)
                 ELSE m.sender_jid END,
            coalesce((SELECT display_name FROM person_names WHERE jid = m.sender_jid LIMIT 1),
                     CASE WHEN m.sender_jid = m.chat_jid THEN c.name END),
            m.from_me, m.ts, m.kind, m.text, m.caption, m.quoted_id, m.edited_at, m.revoked, m.status,
            m.mimetype, m.file_name, m.file_size, m.local_path IS NOT NULL, m.seq, m.transcript, m.media_seconds"
    };
}
pub(crate) use message_fields;

/// A message view from `messages m` joined to its chat `c`. Append WHERE / ORDER BY.
pub(crate) const MESSAGE_SELECT: &str =
    concat!(message_fields!(), " FROM messages m JOIN chats c ON c.jid = m.chat_jid");

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, MessageView)> {
    let sender_phone_jid: Option<String> = row.get(4)?;
    let from_me: bool = row.get(6)?;
    let kind_name: String = row.get(8)?;
    let kind = MessageKind::parse(&kind_name).unwrap_or(MessageKind::System);
    let mimetype: Option<String> = row.get(15)?;
    let media = (kind.has_media() || mimetype.is_some()).then(|| -> rusqlite::Result<MediaView> {
        Ok(MediaView {
            mimetype: mimetype.clone(),
            file_name: row.get(16)?,
            size: row.get::<_, Option<i64>>(17)?.map(|s| s as u64),
            downloaded: row.get(18)?,
            seconds: row.get(21)?,
        })
    });
    let view = MessageView {
        id: row.get(0)?,
        chat_jid: row.get(1)?,
        chat_name: row.get(2)?,
        sender_jid: row.get(3)?,
        sender_phone: sender_phone_jid.as_deref().and_then(phone_of),
        sender_name: if from_me { Some("Me".to_string()) } else { row.get(5)? },
        is_from_me: from_me,
        timestamp: Timestamp(row.get(7)?),
        kind,
        text: row.get(9)?,
        caption: row.get(10)?,
        quoted_id: row.get(11)?,
        edited_at: row.get::<_, Option<i64>>(12)?.map(Timestamp),
        revoked: row.get(13)?,
        status: row.get::<_, Option<String>>(14)?.as_deref().and_then(DeliveryStatus::parse),
        media: media.transpose()?,
        transcript: row.get(20)?,
        reactions: Vec::new(),
    };
    Ok((row.get(19)?, view))
}

/// The phone digits of a stored phone JID.
fn phone_of(jid: &str) -> Option<String> {
    Jid::parse(jid).ok().and_then(|j| j.phone().map(str::to_string))
}

/// Columns of a chat view, from `chats c`.
pub(crate) const CHAT_SELECT: &str = "SELECT c.jid,
    coalesce(c.name, (SELECT display_name FROM person_names WHERE jid = c.jid LIMIT 1)),
    c.kind, c.last_activity, c.unread_count, c.archived, c.pinned, c.muted_until, c.last_seq
    FROM chats c";

/// A chat view and the seq of its newest message.
fn chat_from_row(row: &Row<'_>) -> rusqlite::Result<(ChatView, Option<i64>)> {
    let kind_name: String = row.get(2)?;
    let kind = ChatKind::parse(&kind_name).unwrap_or(ChatKind::Direct);
    let muted_until: Option<i64> = row.get(7)?;
    let view = ChatView {
        jid: row.get(0)?,
        name: row.get(1)?,
        kind,
        is_group: kind == ChatKind::Group,
        last_message_time: row.get::<_, Option<i64>>(3)?.map(Timestamp),
        unread_count: row.get(4)?,
        archived: row.get(5)?,
        pinned: row.get(6)?,
        muted: muted_until.is_some_and(|until| until < 0 || until > Timestamp::now().millis()),
        last_message: None,
    };
    Ok((view, row.get(8)?))
}

/// ` LIMIT n OFFSET m`, written into the SQL rather than bound: SQLite plans with the LIMIT
/// value, so a bound LIMIT makes it re-prepare the statement on every run (measured: most of the
/// cost of a tool call). The few distinct page sizes stay in the statement cache.
fn page(limit: u32, offset: u64) -> String {
    format!(" LIMIT {limit} OFFSET {offset}")
}

/// `?, ?, ?` for an IN list of `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
