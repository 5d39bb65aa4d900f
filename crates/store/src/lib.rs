//! The wamcp message store: one SQLite file holding chats, contacts, messages, reactions and
//! receipts, with a full-text index over message text, captions and transcripts.
//!
//! Layout:
//! - [`data_dir`]: where the store lives (XDG data dir, `--data-dir`, `WAMCP_DATA_DIR`), created 0700.
//! - [`schema`]: versioned migrations applied when the store is opened.
//! - [`write`]: the only way rows get in ([`Writer`] and its [`Batch`]); the bridge's ingest and
//!   outbox and the importers use it. One writer, many readers (WAL).
//! - [`outbox`]: sends written down before they are acknowledged, with their retry schedule;
//!   [`webhook_queue`]: webhook deliveries, written with the change they announce;
//!   [`transcription_queue`]: voice notes to transcribe, and the transcripts' place in the index.
//! - `chat_state`: archived, pinned, muted, unread and a group's subject, as changed on the
//!   account's other devices.
//! - `delivery`, `identity_merge`: receipts raising our messages' status; a LID's chat merged into
//!   its phone chat (one person, one chat).
//! - [`read`]: [`Reader`], one query function per read tool, returning `core` views.
//! - [`erase`]: retention (messages older than N days) and erasing one person (GDPR).
//! - [`media_seal`]: attachments sealed (age) for an identity kept in the store (`encrypt_media`).
//! - [`rekey`]: converting the databases to another key (encrypt, decrypt, rekey), all or none.
//! - [`snapshot`]: consistent copies of SQLite files in use (backups) and integrity checks.
//! - [`import`]: bringing another tool's history across (lharries/whatsapp-mcp).
//! - [`audit`]: the log of MCP tool calls, the one thing the MCP server writes ([`AuditLog`]), in
//!   `audit.db` beside the store.
//!
//! Message rows are keyed by `seq = timestamp_ms * 1024 + n`, so rowid order is time order. The
//! full-text index shares that rowid: "the newest matches" is a walk of the index in rowid order,
//! with no sort of all matches, which keeps searches fast on millions of messages.

pub mod audit;
pub mod data_dir;
mod delivery;
pub mod erase;
mod identity_merge;
pub mod import;
pub mod media_seal;
pub mod outbox;
pub mod read;
pub mod rekey;
pub mod schema;
pub mod snapshot;
pub mod transcription_queue;
pub mod webhook_queue;
pub mod write;

mod chat_state;
mod connection;
#[cfg(feature = "testing")]
pub mod testing;

pub use audit::{AuditEntry, AuditLog};
pub use data_dir::{DataDir, Holder};
pub use erase::Erased;
pub use outbox::{Enqueued, OutboxEntry, OutboxState};
pub use read::{MessageFilter, NamedRecipient, OldestMessage, Personal, Reader, StoredMedia, WireAddress};
pub use transcription_queue::{Queued, Transcription, TranscriptionJob};
pub use webhook_queue::WebhookDelivery;
pub use write::{Batch, Inserted, Writer};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file is encrypted and there is no key, or the other way round, or the key is wrong.
    #[error(transparent)]
    AtRest(#[from] wamcp_core::at_rest::AtRestError),
    /// A file operation failed; the message names the path and the system's reason once.
    #[error("{path}: {error}")]
    Io { path: std::path::PathBuf, error: std::io::Error },
    #[error(
        "the store at {path} has schema version {found}, newer than this wamcp understands ({supported}); upgrade wamcp"
    )]
    TooNew { path: std::path::PathBuf, found: i64, supported: i64 },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Ambiguous(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// For `map_err`: a failed file operation on `path`.
    pub fn io(path: impl Into<std::path::PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |error| StoreError::Io { path, error }
    }
}
