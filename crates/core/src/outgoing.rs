//! What wamcp asks a link to send: a message with a chosen id, so a send retried after a crash
//! reuses the id and WhatsApp keeps one copy.

use crate::{Jid, Media, MessageId, MessageKind, Timestamp};

/// A message on its way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub chat: Jid,
    /// Chosen before the first attempt and kept for every retry.
    pub id: MessageId,
    pub content: Content,
    /// The message this one answers.
    pub reply_to: Option<MessageRef>,
    /// People named with @ in the text.
    pub mentions: Vec<Jid>,
}

/// A message already in the chat, as a reply, reaction, edit or deletion names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub id: MessageId,
    pub from_me: bool,
    /// Who wrote it (needed in groups), as the message named them (a LID where WhatsApp used one).
    pub sender: Option<Jid>,
    /// The chat as the message arrived, when WhatsApp addressed it otherwise than the chat it is
    /// filed under (a LID chat filed under the phone JID).
    pub wire_chat: Option<Jid>,
    /// What it is, and its attachment: a reply carries the quoted message itself, so the phone
    /// shows a quoted photo as a photo.
    pub kind: MessageKind,
    pub media: Option<Media>,
    /// Its text, shown above a reply.
    pub text: Option<String>,
}

/// What is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    Media(Attachment),
    /// An empty emoji takes our reaction back.
    Reaction {
        target: MessageRef,
        emoji: String,
    },
    Edit {
        target: MessageRef,
        text: String,
    },
    Revoke {
        target: MessageRef,
    },
}

/// A file to send, already read and (for voice notes) converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Image, Video, Audio, Voice, Document or Sticker.
    pub kind: MessageKind,
    pub data: Vec<u8>,
    pub mimetype: String,
    pub file_name: Option<String>,
    pub caption: Option<String>,
    /// Voice notes and audio: length in seconds.
    pub seconds: Option<u32>,
    /// Voice notes: 64 loudness values, 0..=100.
    pub waveform: Option<Vec<u8>>,
}

/// What the server said when it took a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub id: MessageId,
    pub at: Timestamp,
}
