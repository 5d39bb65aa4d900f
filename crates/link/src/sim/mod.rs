//! A simulated WhatsApp network: the whole [`Link`] without a phone or the internet.
//!
//! It plays the phone and the server for one account: hands over a history in batches on the
//! first connection, delivers incoming messages (queued while disconnected, like the server
//! does), acknowledges sends and reports delivery and read receipts, serves media and lets media
//! expire. Everything it does follows from the calls made to it; nothing is random.
//!
//! What the "server" has accepted is kept in a journal file, so a test can kill the daemon, start
//! it again and ask whether anything was sent twice.

pub mod chatter;
mod journal;
pub mod sample;
mod synthetic;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::mpsc;
use wamcp_core::{
    Chat, Content, DeliveryStatus, Disconnect, HistoryBatch, Jid, LinkEvent, Media, Message, MessageId, MessageKind,
    Outgoing, Receipt, Sent, Timestamp, Update,
};

pub use journal::SentRecord;

use crate::{GroupInfo, HistoryAnchor, Link, LinkError, LinkResult, MediaRequest};

/// How many chats go in one history batch.
const HISTORY_CHATS_PER_BATCH: usize = 8;

/// History batches, made as they are handed over.
type HistoryBatches = Box<dyn Iterator<Item = HistoryBatch> + Send>;

/// An attachment on an incoming simulated message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMedia {
    pub kind: MessageKind,
    pub file_name: Option<String>,
    pub mimetype: Option<String>,
    pub caption: Option<String>,
    /// Already gone from the media server: downloading it needs a re-upload first.
    pub expired: bool,
    /// The file itself; a real file of its kind when absent (see [`VOICE_NOTE`], [`PHOTO`],
    /// [`PDF`]).
    pub data: Option<Vec<u8>>,
}

/// An incoming message to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimIncoming {
    pub from: Jid,
    /// The chat; a direct chat with `from` when absent.
    pub chat: Option<Jid>,
    pub text: Option<String>,
    pub media: Option<SimMedia>,
    /// The sender's push name.
    pub push_name: Option<String>,
    /// The server's id for the message, when it is one the server already handed to another
    /// device of the account (every linked device gets the same id); a new one when absent.
    pub id: Option<MessageId>,
}

/// The simulated network for one account.
pub struct SimNetwork {
    account: Jid,
    /// How many messages the server has taken, for whoever waits on the network itself.
    taken: tokio::sync::watch::Sender<usize>,
    state: Mutex<State>,
    journal: journal::Journal,
    marker: Option<PathBuf>,
}

struct State {
    events: Option<mpsc::Sender<LinkEvent>>,
    connected: bool,
    /// False while the network is "unplugged": connecting fails.
    network_up: bool,
    /// What the phone hands over on the first connection, batch by batch.
    history: Option<HistoryBatches>,
    /// Incoming messages that arrived while we were offline.
    queued: Vec<LinkEvent>,
    /// Our messages each chat's people have not read yet.
    unread_by_them: HashMap<Jid, Vec<MessageId>>,
    /// Attachments the "media server" holds, by (chat, id).
    media: HashMap<(Jid, MessageId), Vec<u8>>,
    expired: HashSet<(Jid, MessageId)>,
    groups: HashMap<Jid, GroupInfo>,
    next_id: u64,
    /// Read receipts we sent, in order: what the other side's phones were told.
    read_marks: Vec<ReadMark>,
    /// How long the server's ack of a send takes to come back after it has the message.
    ack_delay: std::time::Duration,
}

/// Messages we told a chat we had read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadMark {
    pub chat: String,
    pub sender: Option<String>,
    pub ids: Vec<String>,
}

impl SimNetwork {
    /// A network for `account` that hands `history` to the first connection. With a state
    /// directory, sends and "history already delivered" survive restarts.
    pub fn new(account: Jid, history: HistoryBatch, state_dir: Option<PathBuf>) -> std::io::Result<Arc<SimNetwork>> {
        let groups = groups_of(&history);
        SimNetwork::with_batches(account, Box::new(split_history(history).into_iter()), groups, state_dir)
    }

    /// A network whose phone hands over a generated history of `messages` messages (for
    /// benchmarks: it is made batch by batch, never held whole).
    pub fn synthetic(messages: u64, state_dir: Option<PathBuf>, now: Timestamp) -> std::io::Result<Arc<SimNetwork>> {
        let account = Jid::from_phone("15550100100").expect("the sample account's number is valid");
        SimNetwork::with_batches(account, Box::new(synthetic::batches(messages, now)), HashMap::new(), state_dir)
    }

    fn with_batches(
        account: Jid,
        history: HistoryBatches,
        groups: HashMap<Jid, GroupInfo>,
        state_dir: Option<PathBuf>,
    ) -> std::io::Result<Arc<SimNetwork>> {
        let journal = journal::Journal::open(state_dir.as_ref().map(|dir| dir.join("sent.jsonl")))?;
        let marker = state_dir.as_ref().map(|dir| dir.join("history-delivered"));
        let history = match &marker {
            Some(marker) if marker.exists() => None,
            _ => Some(history),
        };
        let next_id = journal.len() as u64;
        Ok(Arc::new(SimNetwork {
            taken: tokio::sync::watch::channel(journal.len()).0,
            account,
            journal,
            marker,
            state: Mutex::new(State {
                events: None,
                connected: false,
                network_up: true,
                history,
                queued: Vec::new(),
                unread_by_them: HashMap::new(),
                media: HashMap::new(),
                expired: HashSet::new(),
                groups,
                next_id,
                read_marks: Vec::new(),
                ack_delay: std::time::Duration::ZERO,
            }),
        }))
    }

    /// The sample account of `wamcp demo`, as of `now`.
    pub fn sample(state_dir: Option<PathBuf>, now: Timestamp) -> std::io::Result<Arc<SimNetwork>> {
        let account = Jid::from_phone("15550100100").expect("the sample account's number is valid");
        SimNetwork::new(account, sample::history(now), state_dir)
    }

    pub fn account(&self) -> &Jid {
        &self.account
    }

    pub fn is_connected(&self) -> bool {
        self.lock().connected
    }

    /// Someone reacts to a message (the account itself, from its phone, when `from` is the
    /// account). Delivered like a message: queued while disconnected.
    pub async fn react(&self, from: Jid, chat: Jid, id: MessageId, emoji: String, now: Timestamp) {
        let update = LinkEvent::Updates(vec![Update::Reaction { chat, id, sender: from, emoji, at: now }]);
        let deliver = {
            let mut state = self.lock();
            let deliver = if state.connected { state.events.clone() } else { None };
            if deliver.is_none() {
                state.queued.push(update.clone());
            }
            deliver
        };
        if let Some(sender) = deliver {
            let _ = sender.send(update).await;
        }
    }

    /// A message arrives from someone, or from the account's own phone when `from` is the
    /// account (then it is the account's own message). While disconnected it waits at the
    /// "server" and is delivered on reconnect. Returns its id.
    pub async fn incoming(&self, incoming: SimIncoming, now: Timestamp) -> MessageId {
        let (id, events, deliver) = {
            let mut state = self.lock();
            state.next_id += 1;
            let id = incoming.id.clone().unwrap_or_else(|| MessageId(format!("3EB0514D{:012X}", state.next_id)));
            let chat = incoming.chat.clone().unwrap_or_else(|| incoming.from.clone());
            let from_me = incoming.from == self.account;
            let mut message = Message::text(chat.clone(), id.as_str(), Some(incoming.from.clone()), from_me, now, "");
            message.text = incoming.text.clone();
            if let Some(media) = &incoming.media {
                message.kind = media.kind;
                message.caption = media.caption.clone();
                let mut described = Media {
                    mimetype: media.mimetype.clone().or_else(|| Some(default_mimetype(media.kind).to_string())),
                    file_name: media.file_name.clone(),
                    direct_path: Some(format!("/v/sim/{}.enc", id)),
                    media_key: Some(id.as_str().as_bytes().to_vec()),
                    ..Media::default()
                };
                let data = media.data.clone().unwrap_or_else(|| media_bytes(media.kind, &described, &chat, &id));
                described.size = Some(data.len() as u64);
                // The length of the real files served, as the sender's phone would give it.
                described.seconds = match (media.kind, &media.data) {
                    (MessageKind::Voice | MessageKind::Audio, None) => Some(VOICE_NOTE_SECONDS),
                    (MessageKind::Video, None) => Some(CLIP_SECONDS),
                    _ => None,
                };
                message.media = Some(described);
                state.media.insert((chat.clone(), id.clone()), data);
                if media.expired {
                    state.expired.insert((chat.clone(), id.clone()));
                }
            }
            let mut events = Vec::new();
            // Writing back means they have read what we sent them.
            if let Some(ids) = state.unread_by_them.remove(&chat).filter(|ids| !ids.is_empty()) {
                events.push(LinkEvent::Receipt(Receipt {
                    chat: chat.clone(),
                    ids,
                    from: incoming.from.clone(),
                    status: DeliveryStatus::Read,
                    at: now,
                }));
            }
            if let Some(name) = &incoming.push_name {
                let mut contact = wamcp_core::Contact::new(incoming.from.clone());
                contact.push_name = Some(name.clone());
                events.push(LinkEvent::Contact(contact));
            }
            events.push(LinkEvent::Updates(vec![Update::Message(message)]));
            let deliver = if state.connected { state.events.clone() } else { None };
            if deliver.is_none() {
                state.queued.append(&mut events);
            }
            (id, events, deliver)
        };
        if let Some(sender) = deliver {
            for event in events {
                let _ = sender.send(event).await;
            }
        }
        id
    }

    /// From now on the server's ack of each send comes `delay` after the server has the message,
    /// as on a slow network: a send is then "on the wire" for that long.
    pub fn slow_acks(&self, delay: std::time::Duration) {
        self.lock().ack_delay = delay;
    }

    /// Counts the messages the server has taken (before their acks are back): wait on it to act
    /// while a send is on the wire.
    pub fn watch_taken(&self) -> tokio::sync::watch::Receiver<usize> {
        self.taken.subscribe()
    }

    /// The connection drops, as when the network goes away.
    pub async fn drop_connection(&self) {
        let sender = {
            let mut state = self.lock();
            state.network_up = false;
            if !state.connected {
                return;
            }
            state.connected = false;
            state.events.clone()
        };
        if let Some(sender) = sender {
            let _ = sender.send(LinkEvent::Disconnected(Disconnect::Transient("simulated network loss".into()))).await;
        }
    }

    /// The phone unlinks this device (or WhatsApp expires the link): the session is logged out.
    pub async fn log_out(&self) {
        let sender = {
            let mut state = self.lock();
            state.connected = false;
            state.events.clone()
        };
        if let Some(sender) = sender {
            let _ = sender
                .send(LinkEvent::Disconnected(Disconnect::LoggedOut("the phone unlinked this device".into())))
                .await;
        }
    }

    /// The connection comes back: queued incoming messages are delivered.
    pub async fn restore_connection(&self) {
        let (sender, queued) = {
            let mut state = self.lock();
            state.network_up = true;
            if state.connected || state.events.is_none() {
                return;
            }
            state.connected = true;
            (state.events.clone(), std::mem::take(&mut state.queued))
        };
        if let Some(sender) = sender {
            let _ = sender.send(LinkEvent::Connected { account: Some(self.account.clone()) }).await;
            for event in queued {
                let _ = sender.send(event).await;
            }
        }
    }

    /// Every message the network accepted, first delivery only, in order.
    pub fn sent(&self) -> Vec<SentRecord> {
        self.journal.records()
    }

    /// The read receipts we sent.
    pub fn read_marks(&self) -> Vec<ReadMark> {
        self.lock().read_marks.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Link for SimNetwork {
    async fn connect(&self, events: mpsc::Sender<LinkEvent>) -> LinkResult<()> {
        let (history, queued) = {
            let mut state = self.lock();
            state.events = Some(events.clone());
            if !state.network_up {
                return Err(LinkError::Temporary("the simulated network is down".into()));
            }
            state.connected = true;
            (state.history.take(), std::mem::take(&mut state.queued))
        };
        let _ = events.send(LinkEvent::Connected { account: Some(self.account.clone()) }).await;
        if let Some(history) = history {
            for batch in history {
                let _ = events.send(LinkEvent::History(batch)).await;
            }
            if let Some(marker) = &self.marker {
                std::fs::write(marker, b"").map_err(|e| LinkError::Temporary(e.to_string()))?;
            }
        }
        for event in queued {
            let _ = events.send(event).await;
        }
        Ok(())
    }

    async fn disconnect(&self) {
        let mut state = self.lock();
        state.connected = false;
        state.events = None;
    }

    async fn send(&self, message: &Outgoing) -> LinkResult<Sent> {
        let sender = {
            let state = self.lock();
            if !state.connected {
                return Err(LinkError::NotConnected);
            }
            state.events.clone()
        };
        if let Content::Media(attachment) = &message.content
            && attachment.data.is_empty()
        {
            return Err(LinkError::Refused("the attachment is empty".into()));
        }
        let now = Timestamp::now();
        let (record, first) =
            self.journal.accept(message, now).map_err(|e| LinkError::Temporary(format!("sim journal: {e}")))?;
        if first {
            self.taken.send_modify(|taken| *taken += 1);
        }
        let ack_delay = self.lock().ack_delay;
        if !ack_delay.is_zero() {
            tokio::time::sleep(ack_delay).await;
        }
        if first {
            let mut state = self.lock();
            if let Content::Media(attachment) = &message.content {
                state.media.insert((message.chat.clone(), message.id.clone()), attachment.data.clone());
            }
            if matches!(message.content, Content::Text(_) | Content::Media(_)) {
                state.unread_by_them.entry(message.chat.clone()).or_default().push(message.id.clone());
            }
        }
        if first
            && matches!(message.content, Content::Text(_) | Content::Media(_))
            && let Some(sender) = sender
        {
            let _ = sender
                .send(LinkEvent::Receipt(Receipt {
                    chat: message.chat.clone(),
                    ids: vec![message.id.clone()],
                    from: message.chat.clone(),
                    status: DeliveryStatus::Delivered,
                    at: now,
                }))
                .await;
        }
        Ok(Sent { id: message.id.clone(), at: record.timestamp() })
    }

    async fn mark_read(&self, chat: &Jid, sender: Option<&Jid>, ids: &[MessageId]) -> LinkResult<()> {
        self.require_connection()?;
        self.lock().read_marks.push(ReadMark {
            chat: chat.to_string(),
            sender: sender.map(Jid::to_string),
            ids: ids.iter().map(ToString::to_string).collect(),
        });
        Ok(())
    }

    async fn set_typing(&self, _chat: &Jid, _typing: bool) -> LinkResult<()> {
        self.require_connection()
    }

    async fn download(&self, request: &MediaRequest) -> LinkResult<Vec<u8>> {
        self.require_connection()?;
        let key = (request.chat.clone(), request.id.clone());
        let state = self.lock();
        if state.expired.contains(&key) {
            return Err(LinkError::MediaExpired);
        }
        match state.media.get(&key) {
            Some(data) => Ok(data.clone()),
            // Media of the sample history: made up from its name, the same every time.
            None => Ok(media_bytes(request.kind, &request.media, &request.chat, &request.id)),
        }
    }

    async fn request_reupload(&self, request: &MediaRequest) -> LinkResult<Media> {
        self.require_connection()?;
        let mut state = self.lock();
        state.expired.remove(&(request.chat.clone(), request.id.clone()));
        let mut media = request.media.clone();
        media.direct_path = Some(format!("/v/sim/{}.reuploaded.enc", request.id));
        Ok(media)
    }

    async fn group_info(&self, group: &Jid) -> LinkResult<GroupInfo> {
        self.require_connection()?;
        self.lock().groups.get(group).cloned().ok_or_else(|| LinkError::Refused(format!("no group {group}")))
    }

    async fn request_history(&self, anchor: &HistoryAnchor, count: u32) -> LinkResult<()> {
        // The simulated phone has older messages than it handed over on the first connection:
        // one a day before the oldest the store has, from the other side of the chat.
        self.require_connection()?;
        let (events, sender) = {
            let state = self.lock();
            let sender = match state.groups.get(&anchor.chat) {
                Some(group) => group.participants.first().cloned(),
                None => Some(anchor.chat.clone()),
            };
            (state.events.clone(), sender)
        };
        let updates = (1..=i64::from(count.min(500)))
            .map(|n| {
                let at = Timestamp(anchor.oldest_at.millis() - n * 86_400_000);
                let id = format!("SIMOLD{}{n:04}", anchor.oldest_id.as_str().chars().take(8).collect::<String>());
                let text = format!("(older message {n} of {count})");
                Update::Message(Message::text(anchor.chat.clone(), &id, sender.clone(), false, at, &text))
            })
            .collect();
        if let Some(events) = events {
            let batch = HistoryBatch { updates, progress: None, ..HistoryBatch::default() };
            let _ = events.send(LinkEvent::History(batch)).await;
        }
        Ok(())
    }

    async fn is_on_whatsapp(&self, phones: &[String]) -> LinkResult<Vec<(String, Option<Jid>)>> {
        self.require_connection()?;
        // On the simulated network every well-formed number has WhatsApp.
        Ok(phones.iter().map(|phone| (phone.clone(), Jid::from_phone(phone).ok())).collect())
    }
}

impl SimNetwork {
    fn require_connection(&self) -> LinkResult<()> {
        if self.lock().connected { Ok(()) } else { Err(LinkError::NotConnected) }
    }
}

/// A history cut into batches of a few chats each, names and identities in the first.
fn split_history(history: HistoryBatch) -> Vec<HistoryBatch> {
    let chats: Vec<Vec<Chat>> = history.chats.chunks(HISTORY_CHATS_PER_BATCH).map(<[Chat]>::to_vec).collect();
    let total = chats.len().max(1);
    let mut batches = Vec::with_capacity(total);
    for (index, chats) in chats.into_iter().enumerate() {
        let in_batch: HashSet<&Jid> = chats.iter().map(|chat| &chat.jid).collect();
        let updates = history.updates.iter().filter(|update| in_batch.contains(update.chat())).cloned().collect();
        let first = index == 0;
        batches.push(HistoryBatch {
            contacts: if first { history.contacts.clone() } else { Vec::new() },
            lid_map: if first { history.lid_map.clone() } else { Vec::new() },
            chats,
            updates,
            progress: Some((((index + 1) * 100) / total) as u8),
        });
    }
    batches
}

/// Groups and their members, as the history shows them.
fn groups_of(history: &HistoryBatch) -> HashMap<Jid, GroupInfo> {
    let mut groups: HashMap<Jid, GroupInfo> = HashMap::new();
    for chat in history.chats.iter().filter(|chat| chat.kind == wamcp_core::ChatKind::Group) {
        groups.insert(
            chat.jid.clone(),
            GroupInfo {
                jid: chat.jid.clone(),
                subject: chat.name.clone().unwrap_or_default(),
                description: Some(format!("The {} group", chat.name.as_deref().unwrap_or("unnamed"))),
                participants: Vec::new(),
                admins: Vec::new(),
            },
        );
    }
    for update in &history.updates {
        if let Update::Message(message) = update
            && let (Some(group), Some(sender)) = (groups.get_mut(&message.chat), &message.sender)
            && !group.participants.contains(sender)
        {
            group.participants.push(sender.clone());
        }
    }
    // The first to have written plays the one who made the group, its admin.
    for group in groups.values_mut() {
        group.admins = group.participants.iter().take(1).cloned().collect();
    }
    groups
}

/// The bytes of a simulated attachment: derived from its identity, the same on every download.
/// What the simulated media server holds for an attachment: a real Ogg/Opus voice note, a real
/// JPEG photo, a real MP4 clip and a real two-page PDF, so what reads them (transcription, image content, documents)
/// is tested on real files; other kinds get text naming the message.
fn media_bytes(kind: MessageKind, media: &Media, chat: &Jid, id: &MessageId) -> Vec<u8> {
    let file_name = media.file_name.as_deref().unwrap_or("");
    let pdf = file_name.to_ascii_lowercase().ends_with(".pdf")
        || media.mimetype.as_deref().is_some_and(|m| m.starts_with("application/pdf"));
    match kind {
        MessageKind::Voice | MessageKind::Audio => VOICE_NOTE.to_vec(),
        MessageKind::Image => PHOTO.to_vec(),
        MessageKind::Video => CLIP.to_vec(),
        MessageKind::Document if pdf => PDF.to_vec(),
        _ => format!("simulated media {chat} {id} {file_name}\n").repeat(16).into_bytes(),
    }
}

/// Three seconds of a tone, Ogg/Opus, as WhatsApp records voice notes.
pub const VOICE_NOTE: &[u8] = include_bytes!("media/voice.ogg");
const VOICE_NOTE_SECONDS: u32 = 3;
/// A 2000×1500 JPEG.
pub const PHOTO: &[u8] = include_bytes!("media/photo.jpg");
/// One second of a test pattern, 320×240 H.264 in MP4.
pub const CLIP: &[u8] = include_bytes!("media/clip.mp4");
const CLIP_SECONDS: u32 = 1;
/// Two pages: "Invoice 2231 for the Atlas project", then "Total due: 480 euros by Friday".
pub const PDF: &[u8] = include_bytes!("media/invoice.pdf");

fn default_mimetype(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Image => "image/jpeg",
        MessageKind::Video => "video/mp4",
        MessageKind::Voice => "audio/ogg; codecs=opus",
        MessageKind::Audio => "audio/mpeg",
        MessageKind::Sticker => "image/webp",
        _ => "application/octet-stream",
    }
}
