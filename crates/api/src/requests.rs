//! The requests, one type per endpoint, as their JSON bodies read. Unknown fields are refused,
//! so a misspelt option is an error rather than silently ignored.

use serde::{Deserialize, Serialize};

/// `POST /api/send`: a text, or a file with an optional caption (lharries' body, plus replies,
/// mentions, voice notes and an idempotency key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// A phone number (any notation, with country code) or a JID.
    pub recipient: String,
    /// The text, or the caption when `media_path` is given.
    #[serde(default)]
    pub message: String,
    /// A file to send, under one of the allowed media directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_path: Option<String>,
    /// The id of a message in the same chat to reply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// People to @mention (phone numbers or JIDs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// Sending the same key again returns the first send instead of sending twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Send the audio file in `media_path` as a voice note (any format ffmpeg reads; `.ogg` and
    /// `.opus` files are voice notes anyway).
    #[serde(default, skip_serializing_if = "is_false")]
    pub voice: bool,
}

/// `POST /api/react`: an emoji on a message; an empty emoji takes our reaction back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct React {
    pub chat_jid: String,
    pub message_id: String,
    pub emoji: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `POST /api/edit`: new text for one of our own messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub chat_jid: String,
    pub message_id: String,
    /// The new text.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `POST /api/delete`: delete a message for everyone (our own, or anyone's as a group admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delete {
    pub chat_jid: String,
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `POST /api/read`: read receipts for messages of one chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    pub chat_jid: String,
    pub message_ids: Vec<String>,
    /// Who wrote them (needed in groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
}

/// `POST /api/typing`: show or clear "typing…".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Typing {
    pub chat_jid: String,
    /// true shows "typing…", false clears it.
    #[serde(default = "default_true")]
    pub typing: bool,
}

/// `POST /api/history`: ask the phone for messages older than the oldest stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestHistory {
    pub chat_jid: String,
    /// How many older messages to ask for (1 to 500).
    pub count: u32,
}

/// `POST /api/download`: fetch a message's attachment and store it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Download {
    pub message_id: String,
    pub chat_jid: String,
}

/// `POST /api/transcribe`: what a voice note, audio or video message says. Answered with the
/// transcript once it is made (within a minute), else as queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transcribe {
    pub message_id: String,
    pub chat_jid: String,
}

/// `POST /api/is-on-whatsapp`: which numbers have WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsOnWhatsApp {
    /// Phone numbers with country code, in any notation.
    pub phones: Vec<String>,
}

/// `POST /api/forget`: erase everything about a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forget {
    /// A phone number or a person's JID.
    pub jid: String,
}

/// `GET /api/status`: the daemon's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetStatus {}

/// `GET /api/groups/{jid}`: a group's subject, description and members, from WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetGroup {
    pub jid: String,
}

fn default_true() -> bool {
    true
}

fn is_false(value: &bool) -> bool {
    !value
}
