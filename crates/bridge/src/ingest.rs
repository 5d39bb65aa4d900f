//! The one writer: a thread that owns the store's read-write connection and applies, in batched
//! transactions, everything that changes it — what the link reports, sends being queued and their
//! results, transcriptions. A caller is answered, and events are published, only after the commit.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};
use wamcp_core::{Clock, HistoryBatch, Jid, LinkEvent, Message, MessageId, MessageKind, Timestamp, Update};
use wamcp_store::{Batch, Enqueued, Erased, Inserted, OutboxState, Writer};

use crate::events::{BridgeEvent, EventBus, MessageEvent};
use crate::group_names::GroupNames;
use crate::progress::HistoryProgress;
use crate::status::{ConnectionState, Counters, Status};

/// How many commands at most go into one transaction.
const MAX_BATCH: usize = 512;
/// Page cache while a history sync is being stored.
const HISTORY_CACHE_MIB: u32 = 64;

/// Something to write.
// Commands are moved once, through a channel: their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Link(LinkEvent),
    /// Queue a send; answered with the outbox entry once committed.
    Enqueue {
        chat: Jid,
        message_id: String,
        idempotency_key: Option<String>,
        request: String,
        /// The message as it will look once sent, stored now as pending so readers see it at once.
        pending: Option<Message>,
        reply: oneshot::Sender<Result<Enqueued, String>>,
    },
    /// The server took an outbox entry: store the message (if any) and close the entry.
    Sent {
        seq: i64,
        message: Option<Message>,
        then: Option<Update>,
        done: oneshot::Sender<()>,
    },
    /// An attempt failed and will be retried at `next_attempt`.
    Retry {
        seq: i64,
        error: String,
        next_attempt: Timestamp,
        done: oneshot::Sender<()>,
    },
    /// An outbox entry failed for good.
    Failed {
        seq: i64,
        chat: Jid,
        message_id: String,
        error: String,
        done: oneshot::Sender<()>,
    },
    /// A webhook receiver took a delivery (or it was given up).
    WebhookDone {
        seq: i64,
        done: oneshot::Sender<()>,
    },
    WebhookRetry {
        seq: i64,
        error: String,
        next_attempt: Timestamp,
        done: oneshot::Sender<()>,
    },
    /// Retention: remove the messages older than `before`; answered with what went (and the
    /// files to delete) once committed.
    Purge {
        before: Timestamp,
        reply: oneshot::Sender<Erased>,
    },
    /// Erase everything about a person; answered with what went (and the files to delete).
    Forget {
        person: Jid,
        reply: oneshot::Sender<Erased>,
    },
    /// A transcription was asked for, made, retried or given up.
    Transcription {
        change: TranscriptionChange,
        done: oneshot::Sender<()>,
    },
    /// An attachment was saved, or its download path refreshed.
    MediaLocation {
        chat: Jid,
        id: String,
        local_path: Option<String>,
        direct_path: Option<String>,
        done: oneshot::Sender<()>,
    },
}

/// What happens to an entry of the transcription queue.
#[derive(Debug)]
pub enum TranscriptionChange {
    /// Transcribe this message (again, if it was given up).
    Queue {
        chat: Jid,
        id: String,
    },
    /// The endpoint answered: store the transcript with the message and announce it.
    Done {
        seq: i64,
        chat: String,
        id: String,
        transcript: String,
    },
    Retry {
        seq: i64,
        error: String,
        next_attempt: Timestamp,
    },
    /// Given up: kept with the reason, and announced.
    Failed {
        seq: i64,
        chat: String,
        id: String,
        error: String,
    },
    /// The message is gone: so is its entry.
    Drop {
        seq: i64,
    },
}

/// A handle for sending commands to the writer thread.
#[derive(Clone)]
pub struct Ingest {
    sender: mpsc::Sender<Command>,
}

impl Ingest {
    /// Starts the writer thread on `writer`. It ends when every handle is dropped.
    pub fn start(
        writer: Writer,
        status: Arc<Status>,
        events: EventBus,
        webhooks: WebhookTargets,
        transcription: TranscriptionTargets,
        group_names: GroupNames,
        clock: Arc<dyn Clock>,
    ) -> (Ingest, std::thread::JoinHandle<()>) {
        // Small queues: a history batch holds thousands of messages, and a full queue makes the link
        // wait (backpressure) instead of piling the whole history up in memory.
        let (sender, receiver) = mpsc::channel(64);
        let thread = std::thread::Builder::new()
            .name("wamcp-ingest".into())
            .spawn(move || {
                WriterLoop {
                    writer,
                    large_cache: false,
                    webhooks,
                    transcription,
                    group_names,
                    clock,
                    status,
                    events,
                    progress: HistoryProgress::new(),
                }
                .run(receiver)
            })
            .expect("the ingest thread starts");
        (Ingest { sender }, thread)
    }

    /// Whether the writer thread still takes commands.
    pub fn is_alive(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Sends a command; fails only when the writer has stopped.
    pub async fn send(&self, command: Command) -> Result<(), String> {
        self.sender.send(command).await.map_err(|_| "the store writer has stopped".to_string())
    }

    /// Sends a command carrying a `done` channel and waits until it is committed.
    pub async fn apply(&self, make: impl FnOnce(oneshot::Sender<()>) -> Command) -> Result<(), String> {
        let (done, committed) = oneshot::channel();
        self.send(make(done)).await?;
        committed.await.map_err(|_| "the store writer could not commit".to_string())
    }

    /// A channel the link can report into: each event becomes a command. The task forwarding
    /// them ends when every sender of the channel is gone.
    pub fn forward_link_events(&self) -> (mpsc::Sender<LinkEvent>, tokio::task::JoinHandle<()>) {
        let (events, mut receiver) = mpsc::channel::<LinkEvent>(8);
        let commands = self.sender.clone();
        let forwarder = tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                if commands.send(Command::Link(event)).await.is_err() {
                    break;
                }
            }
        });
        (events, forwarder)
    }
}

/// What to do once a transaction has committed.
#[derive(Default)]
struct AfterCommit {
    /// Outbox entries made, by the index of their command.
    enqueued: HashMap<usize, Enqueued>,
    /// What purges and erasures removed, by the index of their command.
    erased: HashMap<usize, Erased>,
    events: Vec<BridgeEvent>,
    /// History batches stored: new messages and the phone's percentage.
    history: Vec<(u64, Option<u8>)>,
    /// Whether the transaction committed: only then are durable events' signals fired.
    committed: bool,
    /// Groups a live message arrived in that have no subject stored.
    unnamed_groups: Vec<Jid>,
    /// Attachment files of messages deleted for me, relative to the data directory.
    deleted_files: Vec<String>,
    /// New live messages from others that have sound (voice, audio, video), for automatic
    /// transcription.
    arrived: Vec<(Jid, MessageId, MessageKind)>,
    /// Whether the transcription queue gained an entry.
    transcription_queued: bool,
    /// Whether the link said anything (for "last event" in status), and when it committed.
    link_spoke: bool,
    at: Option<Timestamp>,
    /// New messages received, sent, and sends given up: counted once, after the commit.
    received: u64,
    sent: u64,
    sends_failed: u64,
    /// The connection's changes, in order.
    connection: Vec<ConnectionChange>,
}

/// A change of the connection a transaction carried, made to the status once it committed.
enum ConnectionChange {
    Connected(Option<Jid>),
    Down(wamcp_core::Disconnect),
    /// The session has no phone: the daemon does not pair, so this is a logout.
    NotLinked,
}

impl AfterCommit {
    /// The account's JID, as this transaction leaves it (a connection in it may name it first).
    fn account(&self, status: &Status) -> Option<Jid> {
        let named = self.connection.iter().rev().find_map(|change| match change {
            ConnectionChange::Connected(account) => account.clone(),
            _ => None,
        });
        named.or_else(|| status.account())
    }
}

/// Where the writer queues webhook deliveries, and whom it wakes to send them.
#[derive(Clone, Default)]
pub struct WebhookTargets {
    pub urls: Vec<String>,
    pub wake: Arc<tokio::sync::Notify>,
}

/// Which new messages the writer queues for transcription, and whom it wakes to make them.
#[derive(Clone, Default)]
pub struct TranscriptionTargets {
    pub auto: Vec<MessageKind>,
    pub wake: Arc<tokio::sync::Notify>,
}

struct WriterLoop {
    writer: Writer,
    /// What every change committed is stamped with.
    clock: Arc<dyn Clock>,
    /// Whether the page cache is the large one of a history sync.
    large_cache: bool,
    webhooks: WebhookTargets,
    transcription: TranscriptionTargets,
    group_names: GroupNames,
    status: Arc<Status>,
    events: EventBus,
    progress: HistoryProgress,
}

impl WriterLoop {
    fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        while let Some(first) = receiver.blocking_recv() {
            let mut commands = vec![first];
            while commands.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(next) => commands.push(next),
                    Err(_) => break,
                }
            }
            self.write(commands);
        }
        info!("store writer stopped");
    }

    /// Applies commands in one transaction; if that fails, one by one, so one bad event does not
    /// take the others down with it.
    fn write(&mut self, commands: Vec<Command>) {
        self.size_cache_for(&commands);
        let mut after = AfterCommit::default();
        let now = self.clock.now();
        let all_at_once = (|| -> wamcp_store::Result<()> {
            let mut batch = self.writer.batch()?;
            for (index, command) in commands.iter().enumerate() {
                apply(&mut batch, index, command, now, &self.status, &mut after)?;
            }
            // Transcriptions are queued with the messages they are of: both or neither.
            for (chat, id, kind) in &after.arrived {
                if self.transcription.auto.contains(kind) {
                    batch.queue_transcription(chat, id.as_str(), now)?;
                    after.transcription_queued = true;
                }
            }
            // Deliveries are queued with the changes they announce: both or neither.
            for event in &after.events {
                let body = serde_json::to_string(event).expect("events serialize");
                for url in &self.webhooks.urls {
                    batch.queue_webhook(url, &body, now)?;
                }
            }
            batch.commit()
        })();
        match all_at_once {
            Ok(()) => {
                after.committed = true;
                after.at = Some(now);
                self.finish(commands, after)
            }
            Err(e) if commands.len() == 1 => {
                error!("could not store an update: {e}");
                self.finish(commands, AfterCommit::default());
            }
            Err(e) => {
                warn!("a batch of {} updates failed ({e}); storing them one by one", commands.len());
                for command in commands {
                    self.write(vec![command]);
                }
            }
        }
    }

    /// Counters and the connection, from what a committed transaction stored: once, so a batch
    /// that failed and was stored again one by one is not counted twice.
    fn update_status(&self, after: &AfterCommit) {
        let (status, counters) = (&self.status, &self.status.counters);
        if let (true, Some(at)) = (after.link_spoke, after.at) {
            status.touch(at);
        }
        Counters::add(&counters.messages_received, after.received);
        Counters::add(&counters.messages_sent, after.sent);
        Counters::add(&counters.sends_failed, after.sends_failed);
        for change in &after.connection {
            match change {
                ConnectionChange::Connected(account) => {
                    status.set_connected(account.clone());
                    info!("connected to WhatsApp");
                }
                ConnectionChange::Down(why) => {
                    status.set_disconnected(why);
                    warn!("{}", why.advice());
                }
                ConnectionChange::NotLinked => {
                    let why = not_linked();
                    if status.connection().state != ConnectionState::LoggedOut {
                        warn!("{}", why.advice());
                    }
                    status.set_disconnected(&why);
                }
            }
        }
    }

    /// A history sync writes into every index at once: a large page cache keeps those pages in
    /// memory until commit. Live traffic is small: the cache goes back to SQLite's default.
    fn size_cache_for(&mut self, commands: &[Command]) {
        let syncing =
            commands.iter().any(|c| matches!(c, Command::Link(LinkEvent::History(h)) if h.progress != Some(100)));
        if syncing != self.large_cache {
            let mib = if syncing { HISTORY_CACHE_MIB } else { wamcp_store::write::DEFAULT_CACHE_MIB };
            if let Err(e) = self.writer.set_cache_mib(mib) {
                warn!("cannot resize the page cache: {e}");
            }
            self.large_cache = syncing;
        }
    }

    /// Answers callers and publishes events of a committed transaction (or, with an empty
    /// `after`, tells the callers of a failed one by dropping their channels).
    fn finish(&mut self, commands: Vec<Command>, mut after: AfterCommit) {
        for (index, command) in commands.into_iter().enumerate() {
            match command {
                Command::Link(LinkEvent::Durable { committed, .. }) => {
                    if after.committed {
                        committed.fire();
                    }
                }
                Command::Link(_) => {}
                Command::Enqueue { reply, .. } => {
                    if let Some(entry) = after.enqueued.remove(&index) {
                        let _ = reply.send(Ok(entry));
                    }
                }
                Command::Purge { reply, .. } | Command::Forget { reply, .. } => {
                    if let Some(erased) = after.erased.remove(&index) {
                        let _ = reply.send(erased);
                    }
                }
                Command::Sent { done, .. }
                | Command::WebhookDone { done, .. }
                | Command::WebhookRetry { done, .. }
                | Command::Retry { done, .. }
                | Command::Failed { done, .. }
                | Command::Transcription { done, .. }
                | Command::MediaLocation { done, .. } => {
                    let _ = done.send(());
                }
            }
        }
        self.update_status(&after);
        let counters = &self.status.counters;
        for (messages, percent) in after.history {
            self.progress.batch(messages, percent);
            Counters::add(&counters.history_batches, 1);
            Counters::add(&counters.history_messages, messages);
            if let Some(percent) = percent {
                counters.history_percent.store(u64::from(percent), std::sync::atomic::Ordering::Relaxed);
            }
        }
        for group in after.unnamed_groups {
            self.group_names.ask(group);
        }
        if !after.deleted_files.is_empty()
            && let Some(data_dir) = self.writer.path().parent()
            && let Err(e) = wamcp_store::erase::remove_media_files(data_dir, &after.deleted_files)
        {
            warn!("could not remove the attachment of a message deleted for me: {e}");
        }
        if !after.events.is_empty() && !self.webhooks.urls.is_empty() {
            self.webhooks.wake.notify_one();
        }
        if after.transcription_queued {
            self.transcription.wake.notify_one();
        }
        for event in after.events {
            self.events.publish(event);
        }
    }
}

/// Writes one command into the batch, collecting what to do after commit.
fn apply(
    batch: &mut Batch<'_>,
    index: usize,
    command: &Command,
    now: Timestamp,
    status: &Status,
    after: &mut AfterCommit,
) -> wamcp_store::Result<()> {
    match command {
        Command::Link(event) => apply_link_event(batch, event, status, after),
        Command::Enqueue { chat, message_id, idempotency_key, request, pending, .. } => {
            let entry = batch.enqueue(chat, message_id, idempotency_key.as_deref(), request, now)?;
            if let (Enqueued::New(_), Some(message)) = (&entry, pending) {
                batch.insert_sent(message)?;
            }
            after.enqueued.insert(index, entry);
            Ok(())
        }
        Command::Sent { seq, message, then, .. } => {
            if let Some(message) = message {
                batch.insert_sent(message)?;
                after.events.push(BridgeEvent::Message(MessageEvent::from(message)));
            }
            if let Some(update) = then {
                apply_update(batch, update, None, after)?;
            }
            batch.outbox_finish(*seq, OutboxState::Sent, None, now)?;
            after.sent += 1;
            Ok(())
        }
        Command::Retry { seq, error, next_attempt, .. } => batch.outbox_retry_at(*seq, error, *next_attempt, now),
        Command::Failed { seq, chat, message_id, error, .. } => {
            batch.outbox_finish(*seq, OutboxState::Failed, Some(error), now)?;
            batch.raise_status(chat, message_id, wamcp_core::DeliveryStatus::Failed)?;
            after.sends_failed += 1;
            after.events.push(BridgeEvent::Send {
                chat_jid: chat.to_string(),
                id: message_id.clone(),
                status: wamcp_core::DeliveryStatus::Failed,
                error: Some(error.clone()),
            });
            Ok(())
        }
        Command::WebhookDone { seq, .. } => batch.webhook_done(*seq),
        Command::WebhookRetry { seq, error, next_attempt, .. } => batch.webhook_retry_at(*seq, error, *next_attempt),
        Command::Transcription { change, .. } => apply_transcription(batch, change, now, after),
        Command::MediaLocation { chat, id, local_path, direct_path, .. } => {
            batch.set_media_location(chat, id, local_path.as_deref(), direct_path.as_deref())
        }
        Command::Purge { before, .. } => {
            after.erased.insert(index, batch.purge_before(*before)?);
            Ok(())
        }
        Command::Forget { person, .. } => {
            after.erased.insert(index, batch.forget_person(person)?);
            Ok(())
        }
    }
}

fn apply_transcription(
    batch: &mut Batch<'_>,
    change: &TranscriptionChange,
    now: Timestamp,
    after: &mut AfterCommit,
) -> wamcp_store::Result<()> {
    match change {
        TranscriptionChange::Queue { chat, id } => {
            batch.queue_transcription(chat, id, now)?;
            after.transcription_queued = true;
        }
        TranscriptionChange::Done { seq, chat, id, transcript } => {
            if batch.store_transcript(*seq, chat, id, transcript)? {
                after.events.push(BridgeEvent::Transcript {
                    chat_jid: chat.clone(),
                    id: id.clone(),
                    transcript: Some(transcript.clone()),
                    error: None,
                });
            }
        }
        TranscriptionChange::Retry { seq, error, next_attempt } => {
            batch.transcription_retry_at(*seq, error, *next_attempt)?
        }
        TranscriptionChange::Failed { seq, chat, id, error } => {
            batch.transcription_failed(*seq, error)?;
            after.events.push(BridgeEvent::Transcript {
                chat_jid: chat.clone(),
                id: id.clone(),
                transcript: None,
                error: Some(error.clone()),
            });
        }
        TranscriptionChange::Drop { seq } => batch.drop_transcription(*seq)?,
    }
    Ok(())
}

fn apply_link_event(
    batch: &mut Batch<'_>,
    event: &LinkEvent,
    status: &Status,
    after: &mut AfterCommit,
) -> wamcp_store::Result<()> {
    after.link_spoke = true;
    match event {
        LinkEvent::Updates(updates) => {
            for update in updates {
                let account = after.account(status);
                if let Some(message) = apply_update(batch, update, account.as_ref(), after)? {
                    after.received += 1;
                    if !message.from_me && message.kind != MessageKind::System {
                        batch.count_unread(&message.chat)?;
                    }
                    if message.chat.kind() == wamcp_core::JidKind::Group && !batch.chat_has_name(&message.chat)? {
                        after.unnamed_groups.push(message.chat.clone());
                    }
                    if let Some(text) = message.text.as_deref().or(message.caption.as_deref()) {
                        debug!(chat = %message.chat, id = %message.id, "received: {}", wamcp_core::log_privacy::text(text));
                    }
                    if !message.from_me && message.kind.has_sound() {
                        after.arrived.push((message.chat.clone(), message.id.clone(), message.kind));
                    }
                    after.events.push(BridgeEvent::Message(MessageEvent::from(&message)));
                }
            }
        }
        LinkEvent::History(history) => {
            let account = after.account(status);
            let stored = apply_history(batch, history, account.as_ref(), after)?;
            after.history.push((stored, history.progress));
        }
        LinkEvent::Receipt(receipt) => {
            let chat = batch.canonical(&receipt.chat)?;
            let ids: Vec<&str> = receipt.ids.iter().map(|id| id.as_str()).collect();
            batch.apply_receipt(&chat, &ids, &receipt.from, receipt.status, receipt.at)?;
            after.events.push(BridgeEvent::Receipt {
                chat_jid: chat.to_string(),
                ids: ids.iter().map(|id| id.to_string()).collect(),
                status: receipt.status,
                from: receipt.from.to_string(),
            });
        }
        LinkEvent::Contact(contact) => {
            batch.upsert_contact(contact)?;
            if let (Some(lid), Some(phone)) = (&contact.lid, &contact.phone_jid) {
                batch.merge_lid(lid, phone)?;
            }
        }
        LinkEvent::LidMapping { lid, phone } => {
            batch.merge_lid(lid, phone)?;
        }
        LinkEvent::Chat { chat, change } => {
            let chat = batch.canonical(chat)?;
            batch.change_chat(&chat, change)?;
        }
        LinkEvent::Read { ids } => {
            let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
            batch.read_up_to(&ids)?;
        }
        LinkEvent::NumberChanged { old, new, new_lid, .. } => {
            batch.number_changed(old, new, new_lid.as_ref())?;
        }
        LinkEvent::Connected { account } => {
            after.connection.push(ConnectionChange::Connected(account.clone()));
            after.events.push(BridgeEvent::Connection { state: ConnectionState::Connected, detail: None });
        }
        LinkEvent::Disconnected(why) => {
            after.connection.push(ConnectionChange::Down(why.clone()));
            after.events.push(BridgeEvent::Connection { state: ConnectionState::of(why), detail: Some(why.advice()) });
        }
        LinkEvent::PairingQr { .. } | LinkEvent::PairingCode { .. } | LinkEvent::PairingEnded { .. } => {
            after.connection.push(ConnectionChange::NotLinked);
        }
        LinkEvent::Durable { events, .. } => {
            for event in events {
                apply_link_event(batch, event, status, after)?;
            }
        }
        LinkEvent::Paired { .. } | LinkEvent::Presence { .. } => {}
    }
    Ok(())
}

/// Why a session the daemon was given cannot connect: it does not pair.
fn not_linked() -> wamcp_core::Disconnect {
    wamcp_core::Disconnect::LoggedOut("this session is not linked to a phone".into())
}

/// Stores a history batch: names and identities first, so its messages land in merged chats.
/// Returns how many messages were new.
fn apply_history(
    batch: &mut Batch<'_>,
    history: &HistoryBatch,
    account: Option<&Jid>,
    after: &mut AfterCommit,
) -> wamcp_store::Result<u64> {
    for contact in &history.contacts {
        batch.upsert_contact(contact)?;
    }
    for (lid, phone) in &history.lid_map {
        batch.merge_lid(lid, phone)?;
    }
    for chat in &history.chats {
        let mut chat = chat.clone();
        chat.jid = batch.canonical(&chat.jid)?;
        batch.upsert_chat(&chat)?;
    }
    let mut stored = 0;
    for update in &history.updates {
        if apply_update(batch, update, account, after)?.is_some() {
            stored += 1;
        }
    }
    Ok(stored)
}

/// Stores one update under canonical JIDs. Returns the message if it was new.
fn apply_update(
    batch: &mut Batch<'_>,
    update: &Update,
    account: Option<&Jid>,
    after: &mut AfterCommit,
) -> wamcp_store::Result<Option<Message>> {
    match update {
        Update::Message(arrived) => {
            let mut message = arrived.clone();
            message.chat = batch.canonical(&message.chat)?;
            message.sender = match &message.sender {
                Some(sender) => Some(batch.canonical(sender)?),
                None if message.from_me => account.cloned(),
                None => None,
            };
            let inserted =
                if message.from_me { batch.insert_sent(&message)? } else { batch.insert_message(&message)? };
            if inserted == Inserted::New {
                // Filed under the phone JID, answered as WhatsApp addressed it.
                let wire_chat = Some(&arrived.chat).filter(|c| **c != message.chat);
                let wire_sender = arrived.sender.as_ref().filter(|s| Some(*s) != message.sender.as_ref());
                if wire_chat.is_some() || wire_sender.is_some() {
                    batch.set_wire_address(&message.chat, message.id.as_str(), wire_chat, wire_sender)?;
                }
            }
            Ok((inserted == Inserted::New).then_some(message))
        }
        Update::Edited { chat, id, text, at } => {
            let chat = batch.canonical(chat)?;
            batch.edit_message(&chat, id.as_str(), text, *at)?;
            Ok(None)
        }
        Update::Revoked { chat, id, .. } => {
            let chat = batch.canonical(chat)?;
            batch.revoke_message(&chat, id.as_str())?;
            Ok(None)
        }
        Update::Reaction { chat, id, sender, emoji, at } => {
            let chat = batch.canonical(chat)?;
            let sender = batch.canonical(sender)?;
            batch.set_reaction(&chat, id.as_str(), &sender, emoji, *at)?;
            after.events.push(BridgeEvent::Reaction {
                chat_jid: chat.to_string(),
                id: id.to_string(),
                sender_jid: sender.to_string(),
                is_from_me: account == Some(&sender),
                emoji: emoji.clone(),
            });
            Ok(None)
        }
        Update::DeletedForMe { chat, id } => {
            let chat = batch.canonical(chat)?;
            after.deleted_files.extend(batch.delete_for_me(&chat, id.as_str())?);
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer_loop(dir: &std::path::Path) -> WriterLoop {
        WriterLoop {
            writer: Writer::open(&dir.join("wamcp.db")).expect("the store opens"),
            clock: Arc::new(wamcp_core::SystemClock),
            large_cache: false,
            webhooks: WebhookTargets::default(),
            transcription: TranscriptionTargets::default(),
            group_names: GroupNames::new().0,
            status: Arc::new(Status::default()),
            events: EventBus::default(),
            progress: HistoryProgress::new(),
        }
    }

    fn arrived(id: &str, at: Timestamp) -> Command {
        let chat = Jid::parse("447700900123@s.whatsapp.net").expect("a JID");
        let message = Message::text(chat.clone(), id, Some(chat), false, at, "hello");
        Command::Link(LinkEvent::Updates(vec![Update::Message(message)]))
    }

    #[test]
    fn a_batch_that_fails_and_is_stored_one_by_one_counts_each_message_once() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut writer = writer_loop(dir.path());
        // Fill every slot of one millisecond, so one more message in it cannot be stored.
        let crowded = Timestamp(1_700_000_000_000);
        let full: Vec<Command> =
            (0..wamcp_store::write::SEQ_SLOTS).map(|n| arrived(&format!("FULL{n}"), crowded)).collect();
        writer.write(full);
        let received = || Counters::get(&writer.status.counters.messages_received);
        assert_eq!(received(), wamcp_store::write::SEQ_SLOTS as u64);

        writer.write(vec![
            arrived("GOOD1", Timestamp(1_700_000_100_000)),
            arrived("ONE-TOO-MANY", crowded),
            Command::Link(LinkEvent::Connected { account: None }),
            arrived("GOOD2", Timestamp(1_700_000_200_000)),
        ]);
        let received = Counters::get(&writer.status.counters.messages_received);
        assert_eq!(received, wamcp_store::write::SEQ_SLOTS as u64 + 2, "the two good messages count once each");
        assert_eq!(
            writer.status.connection().state,
            ConnectionState::Connected,
            "the connection is taken from its own commit"
        );
    }
}
