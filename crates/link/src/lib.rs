//! The connection to WhatsApp, behind one trait.
//!
//! [`Link`] is everything the daemon needs from a WhatsApp connection: start it, hear what happens
//! (as [`LinkEvent`]s on a channel), send, mark read, fetch media, ask about groups and numbers.
//! Two implementations: [`whatsapp`] on the whatsapp-rust library (the only code in wamcp that
//! knows its types) and [`sim`], a deterministic simulated network for tests and `wamcp demo`.

pub mod sim;
pub mod whatsapp;

use async_trait::async_trait;
use tokio::sync::mpsc;
use wamcp_core::{Jid, LinkEvent, Media, MessageId, Outgoing, Sent, Timestamp};

/// Why a link call failed, sorted by what the caller should do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not connected now: wait for the connection and try again.
    #[error("not connected to WhatsApp")]
    NotConnected,
    /// A failure that may pass (timeout, server busy): try again later.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// WhatsApp refused the request, or it cannot be made: trying again will not help.
    #[error("{0}")]
    Refused(String),
    /// The media server no longer has the file (403, 404 or 410): ask the sender's phone to upload
    /// it again, then retry.
    #[error("the media has expired on WhatsApp's servers")]
    MediaExpired,
}

impl LinkError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, LinkError::NotConnected | LinkError::Temporary(_))
    }
}

pub type LinkResult<T> = Result<T, LinkError>;

/// A stored message's attachment, as needed to fetch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRequest {
    pub chat: Jid,
    pub id: MessageId,
    pub from_me: bool,
    pub sender: Option<Jid>,
    pub kind: wamcp_core::MessageKind,
    pub media: Media,
}

/// A group's name and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub jid: Jid,
    pub subject: String,
    pub description: Option<String>,
    pub participants: Vec<Jid>,
    pub admins: Vec<Jid>,
}

/// The oldest message the store has of a chat: history is asked for from there back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryAnchor {
    pub chat: Jid,
    pub oldest_id: MessageId,
    pub oldest_from_me: bool,
    pub oldest_at: Timestamp,
}

/// A WhatsApp connection.
#[async_trait]
pub trait Link: Send + Sync {
    /// Starts connecting; every event from now on goes to `events`. Returns once started, not
    /// once connected (a [`LinkEvent::Connected`] says that). The link reconnects on its own after
    /// transient failures until [`Link::disconnect`].
    async fn connect(&self, events: mpsc::Sender<LinkEvent>) -> LinkResult<()>;
    /// Closes the connection and stops reconnecting.
    async fn disconnect(&self);
    /// Sends a message under its own id. Sending the same id again does not make a second copy.
    async fn send(&self, message: &Outgoing) -> LinkResult<Sent>;
    /// Tells the sender's phone that we read these messages.
    async fn mark_read(&self, chat: &Jid, sender: Option<&Jid>, ids: &[MessageId]) -> LinkResult<()>;
    /// Shows or clears "typing…" in a chat.
    async fn set_typing(&self, chat: &Jid, typing: bool) -> LinkResult<()>;
    /// Fetches and decrypts an attachment.
    async fn download(&self, request: &MediaRequest) -> LinkResult<Vec<u8>>;
    /// Asks the sender's phone to upload expired media again; returns the refreshed fields.
    async fn request_reupload(&self, request: &MediaRequest) -> LinkResult<Media>;
    async fn group_info(&self, group: &Jid) -> LinkResult<GroupInfo>;
    /// Asks the phone for up to `count` messages older than the anchor; they arrive as
    /// [`LinkEvent::History`].
    async fn request_history(&self, anchor: &HistoryAnchor, count: u32) -> LinkResult<()>;
    /// Which of these phone numbers (digits with country code) have WhatsApp, and their JIDs.
    async fn is_on_whatsapp(&self, phones: &[String]) -> LinkResult<Vec<(String, Option<Jid>)>>;
}
