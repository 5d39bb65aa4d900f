//! What the daemon tells programs as it happens (`GET /api/events`, webhooks, and listeners in
//! process): new messages, receipts, send results, transcripts and connection changes, each published only
//! after it is committed to the store, so a program that hears of a message can read it back.

use std::pin::Pin;

use futures_core::Stream;
use serde::{Deserialize, Serialize};
use wamcp_core::{DeliveryStatus, Message, MessageKind, Timestamp};

use crate::ConnectionState;

/// One event, as JSON: `{"type": "message", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BridgeEvent {
    Message(MessageEvent),
    Receipt {
        chat_jid: String,
        ids: Vec<String>,
        status: DeliveryStatus,
        from: String,
    },
    /// A send from the outbox ended: sent, or failed with the reason.
    Send {
        chat_jid: String,
        id: String,
        status: DeliveryStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Someone reacted to a message (an empty emoji takes a reaction back).
    Reaction {
        chat_jid: String,
        /// The message reacted to.
        id: String,
        sender_jid: String,
        is_from_me: bool,
        emoji: String,
    },
    /// A voice note or audio message was transcribed (`transcript`), or its transcription was
    /// given up (`error`, and no transcript). The transcript is third-party data, like text.
    Transcript {
        chat_jid: String,
        /// The message transcribed.
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        transcript: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    Connection {
        state: ConnectionState,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

/// A new message as events carry it. Text is third-party data, like everywhere else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    pub id: String,
    pub chat_jid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_jid: Option<String>,
    pub is_from_me: bool,
    pub timestamp: Timestamp,
    pub kind: MessageKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quoted_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mimetype: Option<String>,
}

impl From<&Message> for MessageEvent {
    fn from(m: &Message) -> MessageEvent {
        MessageEvent {
            id: m.id.to_string(),
            chat_jid: m.chat.to_string(),
            sender_jid: m.sender.as_ref().map(ToString::to_string),
            is_from_me: m.from_me,
            timestamp: m.timestamp,
            kind: m.kind,
            text: m.text.clone(),
            caption: m.caption.clone(),
            quoted_id: m.quoted_id.as_ref().map(ToString::to_string),
            mimetype: m.media.as_ref().and_then(|media| media.mimetype.clone()),
        }
    }
}

/// What a listener hears: an event, or how many it missed by falling behind (the store has
/// them all).
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    Event(BridgeEvent),
    Missed(u64),
}

/// The events of a running daemon, from the moment of subscribing.
pub type EventStream = Pin<Box<dyn Stream<Item = Heard> + Send>>;

/// The next thing a listener hears, or `None` once the daemon stopped.
pub async fn next(events: &mut EventStream) -> Option<Heard> {
    std::future::poll_fn(|cx| events.as_mut().poll_next(cx)).await
}
