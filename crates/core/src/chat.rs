//! Chats and contacts as the store keeps them.

use serde::{Deserialize, Serialize};

use crate::{Jid, JidKind, Timestamp};

/// Whether a chat is with one person, a group, or a broadcast list / the status feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    Direct,
    Group,
    Broadcast,
}

impl ChatKind {
    /// The kind of chat a JID opens: a person's JID a direct chat, and so on.
    pub fn of(jid: &Jid) -> ChatKind {
        match jid.kind() {
            JidKind::Phone | JidKind::Lid => ChatKind::Direct,
            JidKind::Group => ChatKind::Group,
            JidKind::Broadcast | JidKind::Newsletter => ChatKind::Broadcast,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Direct => "direct",
            ChatKind::Group => "group",
            ChatKind::Broadcast => "broadcast",
        }
    }

    pub fn parse(name: &str) -> Option<ChatKind> {
        [ChatKind::Direct, ChatKind::Group, ChatKind::Broadcast].into_iter().find(|k| k.as_str() == name)
    }
}

/// A conversation: its identity, name and the state the phone shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub jid: Jid,
    pub name: Option<String>,
    pub kind: ChatKind,
    pub last_activity: Option<Timestamp>,
    pub unread_count: u32,
    pub archived: bool,
    pub pinned: bool,
    pub muted_until: Option<Timestamp>,
}

impl Chat {
    /// A chat with only its JID and name known.
    pub fn named(jid: Jid, name: Option<&str>) -> Chat {
        Chat {
            kind: ChatKind::of(&jid),
            jid,
            name: name.map(str::to_string),
            last_activity: None,
            unread_count: 0,
            archived: false,
            pinned: false,
            muted_until: None,
        }
    }
}

/// A person: their JIDs and the names WhatsApp knows them by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The JID the contact is filed under (the phone JID when known, else the LID).
    pub jid: Jid,
    pub phone_jid: Option<Jid>,
    pub lid: Option<Jid>,
    /// The name saved in the account's address book.
    pub full_name: Option<String>,
    /// The name the person chose for themselves.
    pub push_name: Option<String>,
    pub business_name: Option<String>,
}

impl Contact {
    /// A contact known only by its JID.
    pub fn new(jid: Jid) -> Contact {
        let (phone_jid, lid) = match jid.kind() {
            JidKind::Phone => (Some(jid.clone()), None),
            JidKind::Lid => (None, Some(jid.clone())),
            _ => (None, None),
        };
        Contact { jid, phone_jid, lid, full_name: None, push_name: None, business_name: None }
    }
}
