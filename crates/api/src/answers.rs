//! The answers, one type per kind of result. Each carries lharries' `success` and `message`
//! where lharries' endpoints do, so its clients read them unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wamcp_core::DeliveryStatus;

/// A send (or reaction, edit, deletion) in the outbox on disk: delivery follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    pub success: bool,
    pub message: String,
    /// The WhatsApp message id it is sent under.
    pub id: String,
    pub chat_jid: String,
    pub status: DeliveryStatus,
}

/// An action that was done, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub success: bool,
    pub message: String,
}

impl Done {
    pub fn new(message: impl Into<String>) -> Done {
        Done { success: true, message: message.into() }
    }
}

/// Where a downloaded attachment was saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downloaded {
    pub success: bool,
    pub message: String,
    pub filename: Option<String>,
    /// The absolute path of the file.
    pub path: String,
}

/// Where a transcription stands, and the transcript once there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcribed {
    pub success: bool,
    pub message: String,
    pub chat_jid: String,
    pub id: String,
    pub state: TranscriptState,
    /// What was said. Third-party data, like message text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transcript: Option<String>,
    /// Why it was given up, or why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// Where a transcription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptState {
    /// The transcript is stored with the message.
    Done,
    /// In the queue: the transcript follows as a `transcript` event.
    Queued,
    /// Given up; asking again queues it anew.
    Failed,
}

/// Whether each number asked about has WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumbersChecked {
    pub success: bool,
    pub results: Vec<NumberCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberCheck {
    /// The number as it was asked.
    pub phone: String,
    pub on_whatsapp: bool,
    pub jid: Option<String>,
}

/// What erasing a person removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgotten {
    pub success: bool,
    pub jid: String,
    pub messages: u64,
    pub chats: u64,
    pub contacts: u64,
    pub reactions: u64,
    pub receipts: u64,
    pub outbox_entries: u64,
    /// Attachment files deleted.
    pub files: u64,
}

/// A group as WhatsApp describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub success: bool,
    pub jid: String,
    pub subject: String,
    pub description: Option<String>,
    pub participants: Vec<GroupMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub jid: String,
    pub is_admin: bool,
}

/// Where the connection to WhatsApp stands, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting,
    Connected,
    /// Lost for a transient reason: reconnecting.
    Disconnected,
    LoggedOut,
    ClientOutdated,
    StreamReplaced,
    Banned,
    Refused,
}

impl ConnectionState {
    /// The state a reason to be down puts the connection in.
    pub fn of(why: &wamcp_core::Disconnect) -> ConnectionState {
        use wamcp_core::Disconnect;
        match why {
            Disconnect::Transient(_) => ConnectionState::Disconnected,
            Disconnect::LoggedOut(_) => ConnectionState::LoggedOut,
            Disconnect::ClientOutdated => ConnectionState::ClientOutdated,
            Disconnect::StreamReplaced => ConnectionState::StreamReplaced,
            Disconnect::TemporaryBan { .. } => ConnectionState::Banned,
            Disconnect::Refused { .. } => ConnectionState::Refused,
        }
    }

    /// The name status output and events use.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::LoggedOut => "logged_out",
            ConnectionState::ClientOutdated => "client_outdated",
            ConnectionState::StreamReplaced => "stream_replaced",
            ConnectionState::Banned => "banned",
            ConnectionState::Refused => "refused",
        }
    }
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The connection as `/api/status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionReport {
    pub state: ConnectionState,
    /// What happened and what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<String>,
}

/// History sync so far: batches and messages stored, and the phone's last percentage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySync {
    pub batches: u64,
    pub messages: u64,
    pub percent: u64,
}

/// Retention so far: purges run, and what they removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReport {
    pub runs: u64,
    pub messages_removed: u64,
    pub files_removed: u64,
}

/// What the daemon's link talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// WhatsApp's servers.
    Whatsapp,
    /// The simulated network of `wamcp demo`.
    Sim,
}

/// `GET /api/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub connection: ConnectionReport,
    pub link: LinkKind,
    pub outbox_depth: u64,
    pub messages_received: u64,
    pub messages_sent: u64,
    pub sends_failed: u64,
    pub reconnects: u64,
    pub history_sync: HistorySync,
    pub retention: RetentionReport,
    /// Sections of parts plugged into the daemon (the desk's), by name.
    #[serde(flatten)]
    pub sections: Map<String, Value>,
}
