//! Core vocabulary of wamcp: the types every other crate speaks.
//!
//! WhatsApp identities ([`Jid`]), messages and their kinds, chats and contacts, UTC timestamps, the
//! read views handed to assistants and programs, and their text rendering; and the key the process's
//! databases are encrypted with ([`at_rest`]). This crate does no I/O (but read a database file's
//! first 16 bytes, in `at_rest`) and has no async runtime, so every layer above (store, link, bridge, MCP, desk) can depend on it without
//! pulling anything else in.

pub mod at_rest;
pub mod chat;
pub mod clock;
pub mod event;
pub mod fold;
pub mod histogram;
pub mod html;
pub mod jid;
pub mod log_privacy;
pub mod message;
pub mod outgoing;
pub mod render;
pub mod text_outbox;
pub mod time;
pub mod view;

pub use chat::{Chat, ChatKind, Contact};
pub use clock::{Clock, ManualClock, SystemClock};
pub use event::{ChatChange, CommitSignal, Disconnect, HistoryBatch, LinkEvent, Receipt, Update};
pub use jid::{Jid, JidError, JidKind, normalize_phone};
pub use message::{DeliveryStatus, Media, Message, MessageId, MessageKind};
pub use outgoing::{Attachment, Content, MessageRef, Outgoing, Sent};
pub use text_outbox::{QueueError, QueueFuture, TextOutbox, secrets_match};
pub use time::{TimeError, Timestamp};
pub use view::{ChatView, ContactView, MediaView, MessageMatch, MessageView, ReactionView};
