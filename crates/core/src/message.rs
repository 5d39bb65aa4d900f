//! Messages as wamcp stores them: one shape for every kind WhatsApp sends, with the media fields
//! needed to download an attachment later (WhatsApp media URLs expire; `direct_path` and the keys
//! do not).

use serde::{Deserialize, Serialize};

use crate::{Jid, Timestamp};

/// A message id as WhatsApp assigns it (unique within a chat, not across chats).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub String);

impl MessageId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a message is. Stored as the lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Image,
    Video,
    Audio,
    /// A push-to-talk voice note (audio recorded in the chat).
    Voice,
    Document,
    Sticker,
    Location,
    ContactCard,
    Poll,
    /// Group changes, security-code notices and other messages WhatsApp itself writes.
    System,
}

impl MessageKind {
    pub const ALL: [MessageKind; 11] = [
        MessageKind::Text,
        MessageKind::Image,
        MessageKind::Video,
        MessageKind::Audio,
        MessageKind::Voice,
        MessageKind::Document,
        MessageKind::Sticker,
        MessageKind::Location,
        MessageKind::ContactCard,
        MessageKind::Poll,
        MessageKind::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::Video => "video",
            MessageKind::Audio => "audio",
            MessageKind::Voice => "voice",
            MessageKind::Document => "document",
            MessageKind::Sticker => "sticker",
            MessageKind::Location => "location",
            MessageKind::ContactCard => "contact_card",
            MessageKind::Poll => "poll",
            MessageKind::System => "system",
        }
    }

    pub fn parse(name: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Whether messages of this kind have sound that can be transcribed: voice notes, audio, video.
    pub fn has_sound(self) -> bool {
        matches!(self, MessageKind::Voice | MessageKind::Audio | MessageKind::Video)
    }

    /// Whether messages of this kind carry a downloadable attachment.
    pub fn has_media(self) -> bool {
        matches!(
            self,
            MessageKind::Image
                | MessageKind::Video
                | MessageKind::Audio
                | MessageKind::Voice
                | MessageKind::Document
                | MessageKind::Sticker
        )
    }
}

/// Where a message we sent has got to. Incoming messages have no status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted by wamcp, not yet acknowledged by the server.
    Pending,
    Sent,
    Delivered,
    Read,
    /// A voice note or video the recipient played.
    Played,
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 6] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Read,
        DeliveryStatus::Played,
        DeliveryStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Played => "played",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

/// An attachment's description and the keys to fetch and decrypt it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Media {
    pub mimetype: Option<String>,
    pub file_name: Option<String>,
    pub size: Option<u64>,
    pub sha256: Option<Vec<u8>>,
    pub enc_sha256: Option<Vec<u8>>,
    pub media_key: Option<Vec<u8>>,
    pub direct_path: Option<String>,
    pub url: Option<String>,
    /// Where a downloaded copy lies, relative to the data directory.
    pub local_path: Option<String>,
    /// How long a voice note, audio or video lasts, as the sender's phone recorded it.
    pub seconds: Option<u32>,
}

/// One message in a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub chat: Jid,
    pub id: MessageId,
    /// Who wrote it; `None` for our own messages when the account's JID is not known.
    pub sender: Option<Jid>,
    pub from_me: bool,
    pub timestamp: Timestamp,
    pub kind: MessageKind,
    /// The body of a text message (or the description of a location, poll or card).
    pub text: Option<String>,
    /// The caption of an image, video or document.
    pub caption: Option<String>,
    /// The message this one replies to.
    pub quoted_id: Option<MessageId>,
    pub media: Option<Media>,
    pub status: Option<DeliveryStatus>,
}

impl Message {
    /// A plain incoming or outgoing text message.
    pub fn text(chat: Jid, id: &str, sender: Option<Jid>, from_me: bool, timestamp: Timestamp, text: &str) -> Message {
        Message {
            chat,
            id: MessageId(id.to_string()),
            sender,
            from_me,
            timestamp,
            kind: MessageKind::Text,
            text: Some(text.to_string()),
            caption: None,
            quoted_id: None,
            media: None,
            status: None,
        }
    }
}
