//! The store's schema as an ordered list of migrations.
//!
//! `PRAGMA user_version` records how many migrations a store has had; opening a store applies the
//! missing ones in one transaction each. Migrations are append-only: never edit one that shipped.

use rusqlite::Connection;

use crate::{Result, StoreError};

/// Every migration, in order. The store's version is the number applied.
const MIGRATIONS: &[&str] = &[V1_INITIAL, V2_BRIDGE, V3_AUDIT, V4_WIRE_ADDRESSES, V5_SECRETS, V6_TRANSCRIPTS];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

const V1_INITIAL: &str = r#"
CREATE TABLE chats (
    jid           TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL CHECK (kind = 'direct' OR kind = 'group' OR kind = 'broadcast'),
    name          TEXT,
    name_folded   TEXT NOT NULL DEFAULT '',       -- folded name (an unnamed direct chat: its person's)
    last_activity INTEGER,                        -- ms UTC of the newest message
    last_seq      INTEGER,                        -- messages.seq of the newest message
    unread_count  INTEGER NOT NULL DEFAULT 0,
    archived      INTEGER NOT NULL DEFAULT 0,
    pinned        INTEGER NOT NULL DEFAULT 0,
    muted_until   INTEGER
);
CREATE INDEX chats_by_activity ON chats (last_activity DESC);
CREATE INDEX chats_by_name ON chats (name_folded);

CREATE TABLE contacts (
    jid           TEXT PRIMARY KEY NOT NULL,
    phone_jid     TEXT,
    lid           TEXT,
    full_name     TEXT,                           -- address book
    push_name     TEXT,                           -- chosen by the person
    business_name TEXT,
    display_name  TEXT GENERATED ALWAYS AS (coalesce(full_name, business_name, push_name)) VIRTUAL,
    search_key    TEXT NOT NULL DEFAULT ''        -- folded names and phone digits
);
CREATE INDEX contacts_by_phone ON contacts (phone_jid);
CREATE INDEX contacts_by_lid ON contacts (lid);

-- WhatsApp addresses people by phone number or by LID; this says which are the same person.
CREATE TABLE lid_map (
    lid       TEXT PRIMARY KEY NOT NULL,
    phone_jid TEXT NOT NULL
);
CREATE INDEX lid_map_by_phone ON lid_map (phone_jid);

-- The name of whoever a JID names: a contact filed under it, a contact with it as LID, or the
-- contact of the phone number a LID maps to, in that order.
CREATE VIEW person_names (jid, display_name) AS
    SELECT jid, display_name FROM contacts WHERE display_name IS NOT NULL
    UNION ALL
    SELECT lid, display_name FROM contacts WHERE lid IS NOT NULL AND display_name IS NOT NULL
    UNION ALL
    SELECT m.lid, c.display_name FROM lid_map m JOIN contacts c ON c.jid = m.phone_jid WHERE c.display_name IS NOT NULL;

CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY,          -- ts * 1024 + n: rowid order is time order
    chat_jid        TEXT NOT NULL REFERENCES chats (jid) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    sender_jid      TEXT,
    from_me         INTEGER NOT NULL,
    ts              INTEGER NOT NULL,             -- ms UTC
    -- Checks are written as OR chains: SQLite evaluates "x IN (list)" in a CHECK by building a
    -- temporary index on every insert, which made bulk loads several times slower.
    kind            TEXT NOT NULL CHECK (kind = 'text' OR kind = 'image' OR kind = 'video' OR kind = 'audio'
                        OR kind = 'voice' OR kind = 'document' OR kind = 'sticker' OR kind = 'location'
                        OR kind = 'contact_card' OR kind = 'poll' OR kind = 'system'),
    text            TEXT,
    caption         TEXT,
    quoted_id       TEXT,
    edited_at       INTEGER,
    revoked         INTEGER NOT NULL DEFAULT 0,
    status          TEXT CHECK (status = 'pending' OR status = 'sent' OR status = 'delivered' OR status = 'read'
                        OR status = 'played' OR status = 'failed'),
    mimetype        TEXT,
    file_name       TEXT,
    file_size       INTEGER,
    file_sha256     BLOB,
    file_enc_sha256 BLOB,
    media_key       BLOB,
    direct_path     TEXT,
    url             TEXT,
    local_path      TEXT
);
-- (id, chat_jid): a message's identity, and lookups by id alone.
CREATE UNIQUE INDEX messages_by_id ON messages (id, chat_jid);
CREATE INDEX messages_by_chat ON messages (chat_jid, seq);
CREATE INDEX messages_by_sender ON messages (sender_jid, seq);

-- Which chats a person has written in, for get_contact_chats without scanning their messages.
CREATE TABLE chat_senders (
    sender_jid TEXT NOT NULL,
    chat_jid   TEXT NOT NULL REFERENCES chats (jid) ON DELETE CASCADE,
    last_seq   INTEGER NOT NULL,
    PRIMARY KEY (sender_jid, chat_jid)
) WITHOUT ROWID;

CREATE TABLE reactions (
    chat_jid   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sender_jid TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    ts         INTEGER NOT NULL,
    PRIMARY KEY (chat_jid, message_id, sender_jid)
) WITHOUT ROWID;

-- Per-recipient delivery receipts (groups have many recipients); messages.status is the summary.
CREATE TABLE receipts (
    chat_jid      TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    recipient_jid TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status = 'delivered' OR status = 'read' OR status = 'played'),
    ts            INTEGER NOT NULL,
    PRIMARY KEY (chat_jid, message_id, recipient_jid, status)
) WITHOUT ROWID;

-- Full-text index over text and caption, sharing the messages' rowid (seq). Two more columns hold
-- one token each naming the chat and the sender (the JID without punctuation, prefixed by j), so a
-- search within a chat or from a person is a merge of two doclists inside the index instead of a
-- scan of every match. unicode61 with remove_diacritics 2 folds case and accents: "sao paulo"
-- finds "SÃO PAULO". Its content is read through a view that derives those tokens.
CREATE VIEW messages_fts_content (seq, text, caption, chat, sender) AS
    SELECT seq, text, caption,
        'j' || replace(replace(replace(replace(chat_jid, '@', ''), '.', ''), '-', ''), '_', ''),
        'j' || replace(replace(replace(replace(sender_jid, '@', ''), '.', ''), '-', ''), '_', '')
    FROM messages;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, caption, chat, sender,
    content = 'messages_fts_content', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2',
    columnsize = 0  -- matches come newest first, never ranked: no per-row sizes to keep
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.text IS NOT NULL OR new.caption IS NOT NULL BEGIN
    INSERT INTO messages_fts (rowid, text, caption, chat, sender)
        SELECT seq, text, caption, chat, sender FROM messages_fts_content WHERE seq = new.seq;
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.text IS NOT NULL OR old.caption IS NOT NULL BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, caption, chat, sender) VALUES ('delete', old.seq, old.text, old.caption,
        'j' || replace(replace(replace(replace(old.chat_jid, '@', ''), '.', ''), '-', ''), '_', ''),
        'j' || replace(replace(replace(replace(old.sender_jid, '@', ''), '.', ''), '-', ''), '_', ''));
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, caption ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, caption, chat, sender)
        SELECT 'delete', old.seq, old.text, old.caption,
            'j' || replace(replace(replace(replace(old.chat_jid, '@', ''), '.', ''), '-', ''), '_', ''),
            'j' || replace(replace(replace(replace(old.sender_jid, '@', ''), '.', ''), '-', ''), '_', '')
        WHERE old.text IS NOT NULL OR old.caption IS NOT NULL;
    INSERT INTO messages_fts (rowid, text, caption, chat, sender)
        SELECT seq, text, caption, chat, sender FROM messages_fts_content
        WHERE seq = new.seq AND (new.text IS NOT NULL OR new.caption IS NOT NULL);
END;
"#;

const V2_BRIDGE: &str = r#"
-- Sends waiting to go out, and what became of them. A row is written (and the caller answered)
-- before the first attempt; the worker retries due rows until they are sent or fail for good.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_jid        TEXT NOT NULL,
    message_id      TEXT NOT NULL,                -- chosen before the first attempt, kept for retries
    idempotency_key TEXT UNIQUE,                  -- the caller's, so a retried request sends once
    request         TEXT NOT NULL,                -- JSON: what to send
    state           TEXT NOT NULL CHECK (state = 'queued' OR state = 'sent' OR state = 'failed'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt    INTEGER NOT NULL,             -- ms UTC
    last_error      TEXT,
    created         INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    UNIQUE (message_id, chat_jid)
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE state = 'queued';

-- Webhook deliveries not yet acknowledged by their receiver.
CREATE TABLE webhook_queue (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    url          TEXT NOT NULL,
    body         TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT,
    created      INTEGER NOT NULL
);
CREATE INDEX webhook_due ON webhook_queue (next_attempt);

-- A LID chat merged into its phone chat moves its messages: the index's chat and sender tokens
-- must move with them.
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, caption, chat_jid, sender_jid ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, caption, chat, sender)
        SELECT 'delete', old.seq, old.text, old.caption,
            'j' || replace(replace(replace(replace(old.chat_jid, '@', ''), '.', ''), '-', ''), '_', ''),
            'j' || replace(replace(replace(replace(old.sender_jid, '@', ''), '.', ''), '-', ''), '_', '')
        WHERE old.text IS NOT NULL OR old.caption IS NOT NULL;
    INSERT INTO messages_fts (rowid, text, caption, chat, sender)
        SELECT seq, text, caption, chat, sender FROM messages_fts_content
        WHERE seq = new.seq AND (new.text IS NOT NULL OR new.caption IS NOT NULL);
END;
"#;

const V3_AUDIT: &str = r#"
-- Every MCP tool call: which tool, its arguments (message text reduced to a hash), how it ended.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        INTEGER NOT NULL,                   -- ms UTC
    session   TEXT NOT NULL,                      -- which MCP connection
    tool      TEXT NOT NULL,
    arguments TEXT NOT NULL,                      -- JSON
    outcome   TEXT NOT NULL CHECK (outcome = 'ok' OR outcome = 'error'),
    detail    TEXT                                -- the error, or the id of what was sent
);
CREATE INDEX audit_by_tool ON audit (tool, seq);
"#;

const V4_WIRE_ADDRESSES: &str = r#"
-- The chat and sender a message arrived with, when they differ from chat_jid and sender_jid (a
-- LID filed under its phone JID): reactions, quotes, read receipts, media retries and history
-- requests name a message the way WhatsApp addressed it.
ALTER TABLE messages ADD COLUMN wire_chat TEXT;
ALTER TABLE messages ADD COLUMN wire_sender TEXT;
"#;

const V5_SECRETS: &str = r#"
-- Keys wamcp makes for itself, kept as safe as the store: the identity that seals attachments
-- under encrypt_media.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"#;

const V6_TRANSCRIPTS: &str = r#"
-- What a voice note or audio message says, from the transcription endpoint: stored with the
-- message and searched like its text.
ALTER TABLE messages ADD COLUMN transcript TEXT;
-- How long a voice note, audio or video lasts, as the sender's phone recorded it.
ALTER TABLE messages ADD COLUMN media_seconds INTEGER;

-- Transcriptions to make, and those given up (with why). A row is written in the same transaction
-- as the message it names (automatic ones) or before the caller is answered (asked for): a kill -9
-- or an endpoint that is down loses none.
CREATE TABLE transcription_queue (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_jid     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state = 'queued' OR state = 'failed'),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,                -- ms UTC
    last_error   TEXT,
    created      INTEGER NOT NULL,
    UNIQUE (message_id, chat_jid)
);
CREATE INDEX transcription_due ON transcription_queue (next_attempt) WHERE state = 'queued';

-- The index's text column holds the text and the transcript (a message has one or the other, so
-- one column serves both and the index need not be rebuilt: rows without a transcript index what
-- they did). Every trigger writes and deletes the same expression.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP VIEW messages_fts_content;
CREATE VIEW messages_fts_content (seq, text, caption, chat, sender) AS
    SELECT seq, coalesce(text || ' ' || transcript, text, transcript), caption,
        'j' || replace(replace(replace(replace(chat_jid, '@', ''), '.', ''), '-', ''), '_', ''),
        'j' || replace(replace(replace(replace(sender_jid, '@', ''), '.', ''), '-', ''), '_', '')
    FROM messages;
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.text IS NOT NULL OR new.caption IS NOT NULL OR new.transcript IS NOT NULL BEGIN
    INSERT INTO messages_fts (rowid, text, caption, chat, sender)
        SELECT seq, text, caption, chat, sender FROM messages_fts_content WHERE seq = new.seq;
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.text IS NOT NULL OR old.caption IS NOT NULL OR old.transcript IS NOT NULL BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, caption, chat, sender) VALUES ('delete', old.seq,
        coalesce(old.text || ' ' || old.transcript, old.text, old.transcript), old.caption,
        'j' || replace(replace(replace(replace(old.chat_jid, '@', ''), '.', ''), '-', ''), '_', ''),
        'j' || replace(replace(replace(replace(old.sender_jid, '@', ''), '.', ''), '-', ''), '_', ''));
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, caption, transcript, chat_jid, sender_jid ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, caption, chat, sender)
        SELECT 'delete', old.seq, coalesce(old.text || ' ' || old.transcript, old.text, old.transcript), old.caption,
            'j' || replace(replace(replace(replace(old.chat_jid, '@', ''), '.', ''), '-', ''), '_', ''),
            'j' || replace(replace(replace(replace(old.sender_jid, '@', ''), '.', ''), '-', ''), '_', '')
        WHERE old.text IS NOT NULL OR old.caption IS NOT NULL OR old.transcript IS NOT NULL;
    INSERT INTO messages_fts (rowid, text, caption, chat, sender)
        SELECT seq, text, caption, chat, sender FROM messages_fts_content
        WHERE seq = new.seq AND (new.text IS NOT NULL OR new.caption IS NOT NULL OR new.transcript IS NOT NULL);
END;
"#;

/// The version a store is at.
pub fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Applies the migrations a store lacks. Refuses a store written by a newer wamcp.
pub fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<()> {
    loop {
        // IMMEDIATE takes the write lock before reading the version, so two processes opening a
        // new store at once do not both apply the same migration.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found = version(&tx)?;
        if found > CURRENT_VERSION {
            return Err(StoreError::TooNew { path: path.to_path_buf(), found, supported: CURRENT_VERSION });
        }
        let Some(sql) = MIGRATIONS.get(found as usize) else { return Ok(()) };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}
