//! What a WhatsApp connection reports: new and changed messages, history batches, receipts, names,
//! identity mappings and the state of the connection itself.
//!
//! Live messages and history sync carry the same [`Update`]s, so the store has one way in for both.

use crate::{Chat, Contact, DeliveryStatus, Jid, Message, MessageId, Timestamp};

/// A change to the message history.
#[derive(Debug, Clone, PartialEq, Eq)]
// Messages are by far the most common update: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub enum Update {
    /// A message, new or already seen (storing it twice keeps one).
    Message(Message),
    /// The sender changed a message's text or caption.
    Edited { chat: Jid, id: MessageId, text: String, at: Timestamp },
    /// The sender deleted a message for everyone.
    Revoked { chat: Jid, id: MessageId, at: Timestamp },
    /// Someone reacted to a message; an empty emoji takes their reaction back.
    Reaction { chat: Jid, id: MessageId, sender: Jid, emoji: String, at: Timestamp },
    /// The account deleted a message for itself on another device: it leaves this history too.
    DeletedForMe { chat: Jid, id: MessageId },
}

impl Update {
    /// The chat the update belongs to.
    pub fn chat(&self) -> &Jid {
        match self {
            Update::Message(message) => &message.chat,
            Update::Edited { chat, .. }
            | Update::Revoked { chat, .. }
            | Update::Reaction { chat, .. }
            | Update::DeletedForMe { chat, .. } => chat,
        }
    }
}

/// One chunk of the history the phone hands a newly linked device (or of a history request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryBatch {
    pub chats: Vec<Chat>,
    pub contacts: Vec<Contact>,
    /// LID to phone JID: the same person under two addresses.
    pub lid_map: Vec<(Jid, Jid)>,
    pub updates: Vec<Update>,
    /// How far the whole sync has got, in percent, when the phone says.
    pub progress: Option<u8>,
}

/// Someone's device got, read or played our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub chat: Jid,
    pub ids: Vec<MessageId>,
    /// Whose device sent the receipt (in a group: one member).
    pub from: Jid,
    pub status: DeliveryStatus,
    pub at: Timestamp,
}

/// A change to a chat's state: made on another of the account's devices (archive, pin, mute,
/// read) or by a group's members (its subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatChange {
    /// The group's name, from its metadata or from a member renaming it.
    Subject(String),
    Archived(bool),
    Pinned(bool),
    /// Muted until then; `None` unmutes. A mute "always" is a time far ahead.
    Muted(Option<Timestamp>),
    /// The whole chat marked read (`true`: nothing unread) or unread (`false`) on another device.
    MarkedRead(bool),
}

/// Why the connection is down and what would bring it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// A network failure or a server restart: reconnecting is enough.
    Transient(String),
    /// The phone unlinked this device, or the link expired (WhatsApp unlinks idle devices after
    /// about 20 days): pair again.
    LoggedOut(String),
    /// WhatsApp refuses this client version: upgrade wamcp.
    ClientOutdated,
    /// Another client connected with the same session: only one may run.
    StreamReplaced,
    /// WhatsApp banned the account for a while.
    TemporaryBan { reason: String, until: Option<Timestamp> },
    /// WhatsApp refused the connection for a reason the client does not retry on its own (a
    /// `<failure>` such as 400, 409 bad user agent, 413/414 expired or invalid token, 418 client
    /// unknown): a new client may get through; the same refusal again and again means it will not.
    Refused { code: u16, why: String },
}

impl Disconnect {
    /// Whether reconnecting on our own can help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Disconnect::Transient(_))
    }

    /// What a person should do about it, for status output and logs.
    pub fn advice(&self) -> String {
        match self {
            Disconnect::Transient(why) => format!("connection lost ({why}); reconnecting"),
            Disconnect::LoggedOut(why) => {
                format!("this device was unlinked ({why}); pair again with `wamcp login`, then restart `wamcp serve`")
            }
            Disconnect::ClientOutdated => {
                "WhatsApp refused this client version (client outdated): upgrade wamcp to a newer release".to_string()
            }
            Disconnect::StreamReplaced => {
                "another program connected with this session (stream replaced): stop the other wamcp or WhatsApp \
                 Web session using this data directory"
                    .to_string()
            }
            Disconnect::TemporaryBan { reason, until } => match until {
                Some(until) => format!(
                    "WhatsApp banned the account temporarily ({reason}) until {}; the phone's WhatsApp says why and \
                     how to appeal; start `wamcp serve` again after that time",
                    until.to_rfc3339()
                ),
                None => format!(
                    "WhatsApp banned the account temporarily ({reason}); the phone's WhatsApp says why and until when"
                ),
            },
            Disconnect::Refused { code, why } => format!(
                "WhatsApp refused the connection ({code} {why}); if it keeps refusing, upgrade wamcp, or pair again \
                 with `wamcp login`"
            ),
        }
    }
}

/// Everything a link reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// Pairing: show this code as a QR; it is valid for `valid_for_secs`.
    PairingQr {
        code: String,
        valid_for_secs: u64,
    },
    /// Pairing by phone number: type this code on the phone.
    PairingCode {
        code: String,
    },
    /// Pairing cannot go on: the code was refused, the phone never answered, or every QR code
    /// went unscanned (`timed_out`). `why` says what happened and what to do.
    PairingEnded {
        why: String,
        timed_out: bool,
    },
    /// Paired as `account`.
    Paired {
        account: Jid,
    },
    Connected {
        account: Option<Jid>,
    },
    Disconnected(Disconnect),
    Updates(Vec<Update>),
    History(HistoryBatch),
    Receipt(Receipt),
    /// A person's name or identity became known or changed.
    Contact(Contact),
    /// A LID and a phone JID name the same person.
    LidMapping {
        lid: Jid,
        phone: Jid,
    },
    /// A chat's state changed elsewhere.
    Chat {
        chat: Jid,
        change: ChatChange,
    },
    /// The account read these messages, on another device (the phone's read receipts) or through
    /// wamcp's own mark_read: they no longer count as unread. Their chats are found by id
    /// (WhatsApp's receipt for a direct chat names the account, not the chat).
    Read {
        ids: Vec<MessageId>,
    },
    /// A contact moved to a new phone number: the same person, under a new JID.
    NumberChanged {
        old: Jid,
        new: Jid,
        /// Their LID under the new number, when WhatsApp says.
        new_lid: Option<Jid>,
        at: Timestamp,
    },
    /// A person came online or went away.
    Presence {
        jid: Jid,
        available: bool,
        last_seen: Option<Timestamp>,
    },
    /// Events the link may acknowledge to WhatsApp only once they are stored: `committed` fires
    /// after the transaction holding them commits, and never if it fails.
    Durable {
        events: Vec<LinkEvent>,
        committed: CommitSignal,
    },
}

/// Told once, after a commit. Dropped without being fired (a failed write, a daemon going away),
/// it tells nothing, and whoever waits for it learns that the events were not stored.
#[derive(Clone)]
pub struct CommitSignal(std::sync::Arc<std::sync::Mutex<Option<OnCommit>>>);

/// What a [`CommitSignal`] does when fired.
type OnCommit = Box<dyn FnOnce() + Send>;

impl CommitSignal {
    pub fn new(on_commit: impl FnOnce() + Send + 'static) -> CommitSignal {
        CommitSignal(std::sync::Arc::new(std::sync::Mutex::new(Some(Box::new(on_commit)))))
    }

    /// Says the events were committed (the first call counts, later ones do nothing).
    pub fn fire(&self) {
        let on_commit = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(on_commit) = on_commit {
            on_commit();
        }
    }
}

impl std::fmt::Debug for CommitSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitSignal")
    }
}

/// Two signals are equal when they are the same signal.
impl PartialEq for CommitSignal {
    fn eq(&self, other: &CommitSignal) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CommitSignal {}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::CommitSignal;

    #[test]
    fn a_commit_signal_tells_once_and_a_dropped_one_tells_that_nothing_was_stored() {
        let (told, heard) = mpsc::channel();
        let signal = CommitSignal::new(move || told.send("committed").unwrap());
        let copy = signal.clone();
        assert_eq!(signal, copy);
        copy.fire();
        signal.fire();
        assert_eq!(heard.try_iter().collect::<Vec<_>>(), ["committed"]);

        let (told, heard) = mpsc::channel::<&str>();
        drop(CommitSignal::new(move || told.send("committed").unwrap()));
        assert!(heard.recv().is_err(), "the waiter learns nothing will come");
    }
}
