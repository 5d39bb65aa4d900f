//! Import of a lharries/whatsapp-mcp `store/messages.db`.
//!
//! Their schema: `chats(jid, name, last_message_time)` and `messages(id, chat_jid, sender, content,
//! timestamp, is_from_me, media_type, filename, url, media_key, file_sha256, file_enc_sha256,
//! file_length)`; older versions lack the media columns. Their data has quirks this handles:
//! timestamps are text with any offset (or numbers), `sender` is a bare user part or a whole JID
//! or NULL, names and times may be NULL, `status@broadcast` rows, and media rows whose `content`
//! is the caption. Re-running an import adds nothing: messages are keyed by (chat, id).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use wamcp_core::{Chat, ChatKind, Contact, Jid, Media, Message, MessageId, MessageKind, Timestamp};

use crate::{Batch, Inserted, Result, StoreError, Writer};

/// Messages per transaction when importing into a store in use: progress is durable in steps and
/// a running daemon is never held up long.
const BATCH_ROWS: u64 = 20_000;
/// Progress is reported every this many rows.
const PROGRESS_EVERY: u64 = 10_000;
/// Page cache while importing: index pages stay in memory between commits.
const BULK_CACHE_MIB: u32 = 256;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub chats: u64,
    pub contacts: u64,
    /// Message rows read from the source.
    pub messages_read: u64,
    /// Messages newly stored.
    pub messages_imported: u64,
    /// Messages that were already in the store (from an earlier import).
    pub messages_present: u64,
    /// Rows left out, by reason.
    pub skipped: BTreeMap<String, u64>,
}

/// A lharries database, checked and opened read-only.
pub struct Source {
    path: PathBuf,
    db: Connection,
}

impl Source {
    /// Opens `path` read-only and checks that it has lharries' tables. Nothing is written.
    pub fn open(path: &Path) -> Result<Source> {
        Ok(Source { path: path.to_path_buf(), db: open_source(path)? })
    }

    /// Imports into the store, calling `progress(done, total)` as message rows are read.
    pub fn import_into(&self, writer: &mut Writer, progress: &mut dyn FnMut(u64, u64)) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        writer.set_cache_mib(BULK_CACHE_MIB)?;
        let imported = import_chats(writer, &self.db, &mut report)
            .and_then(|()| import_messages(writer, self, &mut report, progress));
        writer.set_cache_mib(crate::write::DEFAULT_CACHE_MIB)?;
        imported.map(|()| report)
    }
}

/// Reading a lharries database while their bridge keeps writing it (the desk's poller): new
/// rows get higher rowids than every row before them, so "rows after rowid N" is exactly what
/// was added since N was seen.
impl Source {
    /// The highest rowid now.
    pub fn last_rowid(&self) -> Result<i64> {
        Ok(self.db.query_row("SELECT COALESCE(MAX(rowid), 0) FROM messages", [], |row| row.get(0))?)
    }

    /// The messages among the next `limit` rows added after rowid `after`, in rowid order, and
    /// the last rowid read (rows that are not readable messages are read past, not returned).
    pub fn added_since(&self, after: i64, limit: usize) -> Result<(Vec<Message>, i64)> {
        let columns = message_columns(&self.db)?;
        let mut statement = self
            .db
            .prepare(&format!("SELECT {columns}, rowid FROM messages WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"))?;
        let mut rows = statement.query(rusqlite::params![after, limit as i64])?;
        let (mut added, mut through) = (Vec::new(), after);
        while let Some(row) = rows.next()? {
            through = row.get(13)?;
            if let Ok(message) = message_of(row) {
                added.push(message);
            }
        }
        Ok((added, through))
    }
}

fn open_source(source: &Path) -> Result<Connection> {
    if !source.is_file() {
        return Err(StoreError::Invalid(format!(
            "{}: no such file; expected the path of a lharries/whatsapp-mcp messages.db (whatsapp-bridge/store/messages.db)",
            source.display()
        )));
    }
    let db = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    // Their bridge may be writing: wait for its lock rather than fail.
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    for (table, needed) in [("chats", &["jid"][..]), ("messages", &["id", "chat_jid", "content", "timestamp"][..])] {
        let columns = columns_of(&db, table).map_err(|_| not_lharries(source, table))?;
        if columns.is_empty() || needed.iter().any(|c| !columns.iter().any(|have| have == c)) {
            return Err(not_lharries(source, table));
        }
    }
    Ok(db)
}

fn not_lharries(source: &Path, table: &str) -> StoreError {
    StoreError::Invalid(format!(
        "{} is not a lharries/whatsapp-mcp messages.db: table '{table}' is missing or lacks its columns \
         (expected chats(jid, name, last_message_time) and messages(id, chat_jid, sender, content, timestamp, ...))",
        source.display()
    ))
}

fn columns_of(db: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = db.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
    statement.query_map([], |row| row.get(0))?.collect()
}

/// `name` if the source table has that column, else `NULL` (older schemas).
fn column_or_null(columns: &[String], name: &str) -> String {
    if columns.iter().any(|c| c == name) { name.to_string() } else { format!("NULL AS {name}") }
}

fn skip(report: &mut ImportReport, reason: &str) {
    *report.skipped.entry(reason.to_string()).or_default() += 1;
}

fn import_chats(writer: &mut Writer, db: &Connection, report: &mut ImportReport) -> Result<()> {
    let columns = columns_of(db, "chats")?;
    let sql = format!(
        "SELECT jid, {}, {} FROM chats",
        column_or_null(&columns, "name"),
        column_or_null(&columns, "last_message_time")
    );
    let mut statement = db.prepare(&sql)?;
    let mut rows = statement.query([])?;
    let mut batch = writer.batch()?;
    while let Some(row) = rows.next()? {
        let Some(jid) = text(row.get_ref(0)?).and_then(|j| Jid::parse(&j).ok()) else {
            skip(report, "chat with an invalid JID");
            continue;
        };
        let name = text(row.get_ref(1)?).filter(|n| !n.trim().is_empty());
        let mut chat = Chat::named(jid.clone(), name.as_deref());
        chat.last_activity = time(row.get_ref(2)?);
        batch.upsert_chat(&chat)?;
        report.chats += 1;
        // A direct chat's name is the person's name, unless it is only their number.
        if let (ChatKind::Direct, Some(name)) = (chat.kind, name)
            && Some(name.as_str()) != jid.phone()
        {
            let mut contact = Contact::new(jid);
            contact.full_name = Some(name);
            batch.upsert_contact(&contact)?;
            report.contacts += 1;
        }
    }
    batch.commit()
}

/// A source row as a message, or why it cannot be one.
type Converted = std::result::Result<Message, &'static str>;
/// Rows travel from the reading thread to the writing one in chunks of this many.
const CHUNK_ROWS: usize = 1024;

/// Reads and converts the source's messages on a second thread while this one stores them: the
/// two halves take about as long as each other, and the machine has a core for each.
fn import_messages(
    writer: &mut Writer,
    source: &Source,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let total: i64 = source.db.query_row("SELECT count(*) FROM messages", [], |row| row.get(0))?;
    let total = total as u64;
    progress(0, total);
    let bulk = writer.has_no_messages()? && has_unique_message_key(&source.db)?;
    std::thread::scope(|scope| {
        let (sender, chunks) = sync_channel(4);
        let path = source.path.as_path();
        let reading = scope.spawn(move || read_messages(path, sender));
        let mut store_all = |batch: &mut Batch<'_>, chunks: &Receiver<Vec<Converted>>, commit_every: u64| {
            store_messages(batch, chunks, report, &mut |done| progress(done, total), commit_every)
        };
        let stored = if bulk {
            // A first import: one transaction, indexes built once at the end.
            writer.bulk_load(|batch| store_all(batch, &chunks, u64::MAX))
        } else {
            writer.batch().and_then(|mut batch| {
                store_all(&mut batch, &chunks, BATCH_ROWS)?;
                batch.commit()
            })
        };
        // If storing failed, dropping the receiver stops the reader at its next chunk.
        drop(chunks);
        let read = reading.join().unwrap_or_else(|_| Err(StoreError::Invalid("the import reader failed".into())));
        stored.and(read)
    })?;
    progress(report.messages_read, total);
    Ok(())
}

/// Sends the source's messages, converted, in time order.
/// The columns [`message_of`] reads, in its order; ones an older schema lacks are `NULL`.
fn message_columns(db: &Connection) -> Result<String> {
    let columns = columns_of(db, "messages")?;
    let optional = [
        "sender",
        "is_from_me",
        "media_type",
        "filename",
        "url",
        "media_key",
        "file_sha256",
        "file_enc_sha256",
        "file_length",
    ]
    .map(|name| column_or_null(&columns, name))
    .join(", ");
    Ok(format!("id, chat_jid, content, timestamp, {optional}"))
}

fn read_messages(path: &Path, chunks: SyncSender<Vec<Converted>>) -> Result<()> {
    let db = open_source(path)?;
    let columns = message_columns(&db)?;
    // In time order, messages land at the end of the time-keyed table (sequential writes)
    // instead of all over it; text times with mixed offsets sorting slightly off changes nothing.
    let mut statement = db.prepare(&format!("SELECT {columns} FROM messages ORDER BY timestamp"))?;
    let mut rows = statement.query([])?;
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    while let Some(row) = rows.next()? {
        chunk.push(message_of(row));
        if chunk.len() == CHUNK_ROWS
            && chunks.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS))).is_err()
        {
            return Ok(()); // the writer stopped; its error is the one to report
        }
    }
    let _ = chunks.send(chunk);
    Ok(())
}

/// Stores what the reader sends, committing every `commit_every` rows.
fn store_messages(
    batch: &mut Batch<'_>,
    chunks: &Receiver<Vec<Converted>>,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(u64),
    commit_every: u64,
) -> Result<()> {
    for chunk in chunks {
        for converted in chunk {
            report.messages_read += 1;
            match converted {
                Ok(message) => match batch.insert_message(&message)? {
                    Inserted::New => report.messages_imported += 1,
                    Inserted::Duplicate => report.messages_present += 1,
                },
                Err(reason) => skip(report, reason),
            }
            if report.messages_read.is_multiple_of(PROGRESS_EVERY) {
                progress(report.messages_read);
            }
            if report.messages_read.is_multiple_of(commit_every) {
                batch.commit_and_continue()?;
            }
        }
    }
    Ok(())
}

/// Whether the source's messages are unique by (id, chat_jid), as lharries' primary key makes them.
fn has_unique_message_key(db: &Connection) -> Result<bool> {
    let unique_indexes: Vec<String> = db
        .prepare("SELECT name FROM pragma_index_list('messages') WHERE \"unique\" = 1")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for index in unique_indexes {
        let mut columns: Vec<String> = db
            .prepare("SELECT name FROM pragma_index_info(?1)")?
            .query_map([&index], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        columns.sort();
        if columns == ["chat_jid", "id"] {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One source row as a message, or why it cannot be one.
fn message_of(row: &rusqlite::Row<'_>) -> Result<Message, &'static str> {
    let get = |i: usize| row.get_ref(i).map_err(|_| "unreadable row");
    let id = text(get(0)?).filter(|id| !id.is_empty()).ok_or("message without id")?;
    let chat = text(get(1)?).and_then(|j| Jid::parse(&j).ok()).ok_or("message with an invalid chat JID")?;
    let timestamp = time(get(3)?).ok_or("message without a readable timestamp")?;
    let from_me = matches!(get(5)?, ValueRef::Integer(n) if n != 0) || text(get(5)?).is_some_and(|t| t == "true");
    let sender = match text(get(4)?).filter(|s| !s.is_empty()) {
        Some(sender) => Jid::parse_person(&sender).ok(),
        // Their bridge leaves the sender empty in some rows: in a direct chat it is the other person.
        None if !from_me && ChatKind::of(&chat) == ChatKind::Direct => Some(chat.clone()),
        None => None,
    };
    let content = text(get(2)?).filter(|c| !c.is_empty());
    let media_type = text(get(6)?).filter(|t| !t.is_empty());
    let (kind, text_body, caption, media) = match media_type {
        None => (MessageKind::Text, content, None, None),
        Some(media_type) => {
            let kind = match MessageKind::parse(&media_type.to_ascii_lowercase()) {
                Some(kind) if kind.has_media() => kind,
                _ => MessageKind::Document,
            };
            let url = text(get(8)?);
            let media = Media {
                file_name: text(get(7)?),
                direct_path: url.as_deref().and_then(direct_path_of),
                url,
                media_key: blob(get(9)?),
                sha256: blob(get(10)?),
                enc_sha256: blob(get(11)?),
                size: match get(12)? {
                    ValueRef::Integer(n) if n >= 0 => Some(n as u64),
                    _ => None,
                },
                ..Media::default()
            };
            (kind, None, content, Some(media))
        }
    };
    Ok(Message {
        chat,
        id: MessageId(id),
        sender,
        from_me,
        timestamp,
        kind,
        text: text_body,
        caption,
        quoted_id: None,
        media,
        status: None,
    })
}

fn text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Text(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        _ => None,
    }
}

fn blob(value: ValueRef<'_>) -> Option<Vec<u8>> {
    match value {
        ValueRef::Blob(bytes) if !bytes.is_empty() => Some(bytes.to_vec()),
        _ => None,
    }
}

/// A stored time: text in any common form, or Unix seconds / milliseconds.
fn time(value: ValueRef<'_>) -> Option<Timestamp> {
    match value {
        ValueRef::Text(bytes) => Timestamp::parse_loose(&String::from_utf8_lossy(bytes)).ok(),
        ValueRef::Integer(n) if n > 100_000_000_000 => Some(Timestamp(n)),
        ValueRef::Integer(n) => Some(Timestamp::from_secs(n)),
        ValueRef::Real(f) => Some(Timestamp((f * 1000.0) as i64)),
        _ => None,
    }
}

/// The direct path of a WhatsApp media URL (`https://mmg.whatsapp.net/v/t62…?ccb=…` ->
/// `/v/t62…?ccb=…`): unlike the URL, it stays valid for re-download requests.
fn direct_path_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let slash = rest.find('/')?;
    Some(rest[slash..].to_string())
}
