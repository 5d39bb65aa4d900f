//! A send as the outbox keeps it: JSON in the outbox row, complete enough to make the message
//! again after a restart (attachments are copied into the data directory before the send is
//! acknowledged, so deleting the original afterwards loses nothing).

use std::path::Path;

use serde::{Deserialize, Serialize};
use wamcp_core::{Attachment, Content, Jid, Media, Message, MessageId, MessageKind, MessageRef, Outgoing, Sent};

/// A message already in the chat, as the outbox keeps a reference to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRef {
    pub id: String,
    pub from_me: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The chat as the message arrived, when not the one it is filed under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_chat: Option<String>,
    /// What it is (a text when not said) and its attachment, for a reply to quote it whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<wamcp_core::Media>,
}

/// What is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Text {
        text: String,
    },
    Media {
        media_kind: MessageKind,
        /// The copy in the data directory, relative to it.
        file: String,
        mimetype: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        waveform: Option<Vec<u8>>,
    },
    Reaction {
        target: StoredRef,
        emoji: String,
    },
    Edit {
        target: StoredRef,
        text: String,
    },
    Revoke {
        target: StoredRef,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    pub chat: String,
    pub id: String,
    pub body: Body,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<StoredRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
}

impl StoredRef {
    fn to_ref(&self) -> Result<MessageRef, String> {
        Ok(MessageRef {
            id: MessageId(self.id.clone()),
            from_me: self.from_me,
            sender: self.sender.as_deref().map(parse_jid).transpose()?,
            text: self.text.clone(),
            wire_chat: self.wire_chat.as_deref().map(parse_jid).transpose()?,
            kind: self.kind.unwrap_or(MessageKind::Text),
            media: self.media.clone(),
        })
    }
}

fn parse_jid(jid: &str) -> Result<Jid, String> {
    Jid::parse(jid).map_err(|e| e.to_string())
}

impl SendRequest {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a send request always serializes")
    }

    pub fn from_json(json: &str) -> Result<SendRequest, String> {
        serde_json::from_str(json).map_err(|e| format!("unreadable outbox entry: {e}"))
    }

    /// The message for the link, reading the attachment from the data directory.
    pub fn outgoing(&self, data_dir: &Path) -> Result<Outgoing, String> {
        let content = match &self.body {
            Body::Text { text } => Content::Text(text.clone()),
            Body::Media { media_kind, file, mimetype, file_name, caption, seconds, waveform } => {
                let path = data_dir.join(file);
                let data = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Content::Media(Attachment {
                    kind: *media_kind,
                    data,
                    mimetype: mimetype.clone(),
                    file_name: file_name.clone(),
                    caption: caption.clone(),
                    seconds: *seconds,
                    waveform: waveform.clone(),
                })
            }
            Body::Reaction { target, emoji } => Content::Reaction { target: target.to_ref()?, emoji: emoji.clone() },
            Body::Edit { target, text } => Content::Edit { target: target.to_ref()?, text: text.clone() },
            Body::Revoke { target } => Content::Revoke { target: target.to_ref()? },
        };
        Ok(Outgoing {
            chat: parse_jid(&self.chat)?,
            id: MessageId(self.id.clone()),
            content,
            reply_to: self.reply_to.as_ref().map(StoredRef::to_ref).transpose()?,
            mentions: self.mentions.iter().map(|jid| parse_jid(jid)).collect::<Result<_, _>>()?,
        })
    }

    /// The message to store once the server took it: text and media only (reactions, edits and
    /// deletions change messages already stored).
    pub fn sent_message(&self, sent: &Sent, account: Option<Jid>) -> Option<Message> {
        let chat = Jid::parse(&self.chat).ok()?;
        let mut message = Message::text(chat, sent.id.as_str(), account, true, sent.at, "");
        message.status = Some(wamcp_core::DeliveryStatus::Sent);
        message.quoted_id = self.reply_to.as_ref().map(|quoted| MessageId(quoted.id.clone()));
        match &self.body {
            Body::Text { text } => message.text = Some(text.clone()),
            Body::Media { media_kind, file, mimetype, file_name, caption, seconds, .. } => {
                message.text = None;
                message.kind = *media_kind;
                message.caption = caption.clone();
                message.media = Some(Media {
                    mimetype: Some(mimetype.clone()),
                    file_name: file_name.clone(),
                    local_path: Some(file.clone()),
                    seconds: *seconds,
                    ..Media::default()
                });
            }
            _ => return None,
        }
        Some(message)
    }
}
