//! The desk inside the daemon: the plug that gives it the daemon's outbox, and the daemon as a
//! [`MessageSource`] of the desk's feed: every incoming direct message the moment the daemon has
//! stored it.
//!
//! The event bus keeps nothing: a message stored while the desk was not listening (killed between
//! the daemon's commit and its own, too far behind, or failing to write) is read from the
//! daemon's store, from the newest direct message the desk has taken (less a few minutes for late
//! deliveries, and at most a day back). The first start only notes the time, so history never
//! becomes tickets, and the desk's deduplication makes reading a message twice harmless.
//!
//! A voice note of a kind the daemon transcribes as it arrives is handed over when its transcript
//! is (the `transcript` event), so the desk answers what was said; one whose transcription failed
//! is handed over without words, and goes to a person.
//!
//! By default ([`Answer::Customers`]) the desk answers strangers only: a message in a chat with
//! someone in the address book, or in one the owner wrote in by hand lately, is the owner's
//! own business and never becomes a ticket.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{Receiver, error::RecvError};
use wamcp_bridge::events::BridgeEvent;
use wamcp_bridge::extension::{Extension, Parts};
use wamcp_bridge::status::Status;
use wamcp_core::{Jid, MessageKind, Timestamp};
use wamcp_desk::feed::{Arrived, Batch, Feed, MessageSource, SourceError};
use wamcp_desk::http::DeskApp;
use wamcp_desk::{Desk, Inbound, Liveness, Via, WhatsappSource};
use wamcp_store::{MessageFilter, Personal, Reader};

use super::{Answer, OWNER_WROTE_DAYS};

/// The plug that connects `desk` to the daemon once its API starts.
/// `transcribed` are the kinds the daemon transcribes as they arrive.
pub fn extension(desk: Arc<Desk>, answer: Answer, transcribed: Vec<MessageKind>) -> Extension {
    Box::new(move |parts: Parts| {
        let liveness = DaemonLiveness { status: parts.status.clone(), store_path: parts.store_path.clone() };
        desk.connect_whatsapp(parts.outbox, Arc::new(liveness));
        let metrics_desk = desk.clone();
        let _ = parts.metrics.set(Arc::new(move || {
            let desk = metrics_desk.clone();
            Box::pin(async move { wamcp_desk::metrics::render(&desk).await.unwrap_or_default() })
        }));
        let status_desk = desk.clone();
        let _ = parts.status_section.set(("desk", Arc::new(move || desk_status(&status_desk))));
        desk.start(&parts.workers, &parts.stop);
        // Listening before reading what was missed: nothing falls between the two.
        let source =
            DaemonSource::new(parts.events.subscribe(), parts.store_path.clone(), desk.clone(), answer, transcribed);
        parts.workers.spawn(Feed::new(desk.clone(), Via::Bridge).run(source, parts.stop.clone()));
        wamcp_desk::http::routes(Arc::new(DeskApp { desk, token: parts.token }))
    })
}

/// The desk's section of `/api/status`: how its provider is doing.
fn desk_status(desk: &Desk) -> serde_json::Value {
    serde_json::json!({"provider": desk.provider_health()})
}

/// How far before the newest message the desk has taken a catch-up starts reading.
const LATE_MS: i64 = 5 * 60 * 1000;
/// A message older than this is not one to answer now, however long the desk was off.
const OLDEST_MS: i64 = 24 * 60 * 60 * 1000;
/// Messages read from the store per page.
const PAGE: u32 = 500;

/// Where the feed from the daemon is, as the desk keeps it: when the desk first listened, and
/// when the newest direct message it was handed was written. Earlier versions kept only the
/// first, as a bare number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    since: i64,
    newest: Option<i64>,
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, SourceError> {
        if let Ok(since) = text.parse() {
            return Ok(Cursor { since, newest: None });
        }
        serde_json::from_str(text).map_err(|e| format!("the desk's mark of the daemon's feed '{text}': {e}").into())
    }

    fn text(&self) -> String {
        serde_json::to_string(self).expect("a cursor is JSON")
    }

    /// Where reading the store starts to find what the desk missed.
    fn missed_after(&self, now: Timestamp) -> Timestamp {
        Timestamp(self.newest.map_or(self.since, |t| t - LATE_MS).max(self.since).max(now.millis() - OLDEST_MS))
    }

    /// The cursor once `messages` are taken: moved to the newest direct message from someone
    /// else among them, if that is newer.
    fn after(mut self, messages: &[Arrived]) -> Cursor {
        for message in messages.iter().filter(|m| Inbound::from_whatsapp(m, Via::Bridge).is_some()) {
            self.newest = Some(self.newest.map_or(message.at.millis(), |t| t.max(message.at.millis())));
        }
        self
    }
}

/// Reading what the desk missed from the daemon's store, newest page first.
struct CatchUp {
    after: Timestamp,
    offset: u64,
    /// The cursor once every page is read (it moves only then: a page not read yet may be older).
    cursor: Cursor,
}

/// The daemon as the desk's message source: its event bus, and its store for what the bus
/// could not deliver.
struct DaemonSource {
    events: Receiver<BridgeEvent>,
    store_path: PathBuf,
    /// The desk, which knows the answers it sent through other bridges of the account.
    desk: Arc<Desk>,
    answer: Answer,
    /// Kinds handed over with their transcript, once it is made.
    transcribed: Vec<MessageKind>,
    /// The store, opened at the first question and kept.
    reader: Arc<Mutex<Option<Reader>>>,
    /// Whether everything before the bus's next event has been handed over.
    live: bool,
    catching_up: Option<CatchUp>,
}

impl DaemonSource {
    fn new(
        events: Receiver<BridgeEvent>,
        store_path: PathBuf,
        desk: Arc<Desk>,
        answer: Answer,
        transcribed: Vec<MessageKind>,
    ) -> DaemonSource {
        DaemonSource {
            events,
            store_path,
            desk,
            answer,
            transcribed,
            reader: Arc::default(),
            live: false,
            catching_up: None,
        }
    }

    /// Whether a message from others waits for its transcript before the desk takes it.
    fn waits_for_transcript(&self, from_me: bool, kind: MessageKind) -> bool {
        !from_me && self.transcribed.contains(&kind)
    }

    /// A message the bus announced a transcript (or a given-up transcription) of, from the store.
    async fn transcribed_message(&self, chat: &str, id: &str) -> Result<Option<Arrived>, SourceError> {
        let (Ok(chat), id) = (Jid::parse(chat), id.to_string()) else { return Ok(None) };
        let found = self.read(move |reader| reader.message_context(&id, Some(&chat), 0, 0)).await;
        Ok(match found {
            Ok(found) => from_view(&found.message),
            // Erased in between: nothing to take.
            Err(_) => None,
        })
    }

    /// Runs `read` on the store, off the runtime.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut Reader) -> wamcp_store::Result<T> + Send + 'static,
    ) -> Result<T, SourceError> {
        let (path, reader) = (self.store_path.clone(), self.reader.clone());
        let found = tokio::task::spawn_blocking(move || {
            let mut reader = reader.lock().unwrap_or_else(|p| p.into_inner());
            let reader = match &mut *reader {
                Some(reader) => reader,
                empty => empty.insert(Reader::open(&path)?),
            };
            read(reader)
        })
        .await?;
        Ok(found?)
    }

    /// The next page of what the desk missed since `kept`; after the last the source is live.
    async fn next_missed(&mut self, kept: Cursor) -> Result<Batch, SourceError> {
        let catch_up = self.catching_up.get_or_insert_with(|| CatchUp {
            after: kept.missed_after(Timestamp::now()),
            offset: 0,
            cursor: kept,
        });
        let filter =
            MessageFilter { after: Some(catch_up.after), limit: PAGE, offset: catch_up.offset, ..Default::default() };
        let page = self
            .read(move |reader| reader.list_messages(&filter))
            .await
            .map_err(|e| format!("catching up on the daemon's store failed: {e}"))?;
        // A voice note still waiting for its transcript is handed over with it, by the bus.
        let waiting: Vec<(String, String)> = page
            .matches
            .iter()
            .map(|found| &found.message)
            .filter(|m| m.transcript.is_none() && self.waits_for_transcript(m.is_from_me, m.kind))
            .map(|m| (m.chat_jid.clone(), m.id.clone()))
            .collect();
        let pending = self
            .read(move |reader| {
                let mut pending = std::collections::HashSet::new();
                for (chat, id) in waiting {
                    let Ok(jid) = Jid::parse(&chat) else { continue };
                    if matches!(reader.transcription(&jid, &id)?, wamcp_store::Transcription::Queued { .. }) {
                        pending.insert((chat, id));
                    }
                }
                Ok(pending)
            })
            .await
            .map_err(|e| format!("catching up on the daemon's store failed: {e}"))?;
        // Pages come newest first; the desk takes each conversation's messages oldest first.
        let messages: Vec<Arrived> = page
            .matches
            .iter()
            .map(|found| &found.message)
            .rev()
            .filter(|m| !pending.contains(&(m.chat_jid.clone(), m.id.clone())))
            .filter_map(from_view)
            .collect();
        let catch_up = self.catching_up.as_mut().expect("catching up");
        catch_up.cursor = catch_up.cursor.after(&messages);
        if page.has_more {
            catch_up.offset += u64::from(PAGE);
            return Ok(Batch { messages, cursor: None });
        }
        let cursor = catch_up.cursor;
        self.catching_up = None;
        self.live = true;
        Ok(Batch { messages, cursor: (cursor != kept).then(|| cursor.text()) })
    }
}

impl MessageSource for DaemonSource {
    fn cursor_key(&self) -> String {
        "bridge_feed_since".to_string()
    }

    async fn next(&mut self, cursor: Option<&str>) -> Option<Result<Batch, SourceError>> {
        let Some(text) = cursor else {
            // The first start: history stays history.
            self.live = true;
            let first = Cursor { since: Timestamp::now().millis(), newest: None };
            return Some(Ok(Batch { messages: Vec::new(), cursor: Some(first.text()) }));
        };
        let kept = match Cursor::parse(text) {
            Ok(kept) => kept,
            Err(error) => return Some(Err(error)),
        };
        loop {
            if !self.live {
                return Some(self.next_missed(kept).await);
            }
            match self.events.recv().await {
                Ok(BridgeEvent::Message(m)) => {
                    if self.waits_for_transcript(m.is_from_me, m.kind) {
                        continue;
                    }
                    let words = Words { text: m.text, caption: m.caption, transcript: None };
                    let Some(message) = arrived(&m.chat_jid, &m.id, m.is_from_me, m.kind, words, m.timestamp) else {
                        continue;
                    };
                    let messages = vec![message];
                    let cursor = kept.after(&messages);
                    return Some(Ok(Batch { messages, cursor: (cursor != kept).then(|| cursor.text()) }));
                }
                Ok(BridgeEvent::Transcript { chat_jid, id, .. }) => {
                    let message = match self.transcribed_message(&chat_jid, &id).await {
                        Ok(message) => message,
                        Err(error) => return Some(Err(error)),
                    };
                    let Some(message) = message.filter(|m| self.waits_for_transcript(m.from_me, m.kind)) else {
                        continue;
                    };
                    let messages = vec![message];
                    let cursor = kept.after(&messages);
                    return Some(Ok(Batch { messages, cursor: (cursor != kept).then(|| cursor.text()) }));
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!("desk: {missed} events went by while the desk was busy; reading the store for them");
                    self.live = false;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn not_taken(&mut self) {
        self.live = false;
        self.catching_up = None;
    }

    /// Whether a message in the direct chat with `person` is the desk's to answer.
    async fn for_the_desk(&self, person: &Jid) -> bool {
        if self.answer == Answer::Everyone {
            return true;
        }
        let since = Timestamp(Timestamp::now().millis() - OWNER_WROTE_DAYS * 24 * 60 * 60 * 1000);
        let asked = person.clone();
        let personal = match self.read(move |reader| reader.personal_chat(&asked, since)).await {
            // The account's own messages that another bridge sent for the desk are not the owner's.
            Ok(Some(Personal::OwnerWrote(ids))) => match self.desk.sent_on_whatsapp(&ids).await {
                Ok(desk_sent) => Ok(ids.iter().any(|id| !desk_sent.contains(id)).then_some(Personal::OwnerWrote(ids))),
                Err(error) => Err(SourceError::from(error.to_string())),
            },
            other => other,
        };
        match personal {
            Ok(None) => true,
            Ok(Some(why)) => {
                // Logs cut phone numbers to their last digits on every line.
                tracing::debug!("desk: leaving {person} alone: {why:?}");
                false
            }
            // Unsure is not a customer: a friend must never get the bot.
            Err(error) => {
                tracing::warn!("desk: cannot tell whether a chat is the owner's own: {error}");
                false
            }
        }
    }
}

/// What a message says: its text, caption and transcript.
struct Words {
    text: Option<String>,
    caption: Option<String>,
    transcript: Option<String>,
}

/// A message, stored or announced on the bus, as the feed hands it on. `None` for a chat that is
/// no JID.
fn arrived(chat: &str, id: &str, from_me: bool, kind: MessageKind, words: Words, at: Timestamp) -> Option<Arrived> {
    let Words { text, caption, transcript } = words;
    Some(Arrived { chat: Jid::parse(chat).ok()?, id: id.to_string(), from_me, kind, text, caption, transcript, at })
}

/// A stored message as the feed hands it on.
fn from_view(m: &wamcp_core::MessageView) -> Option<Arrived> {
    let words = Words { text: m.text.clone(), caption: m.caption.clone(), transcript: m.transcript.clone() };
    arrived(&m.chat_jid, &m.id, m.is_from_me, m.kind, words, m.timestamp)
}

/// The daemon, as the desk's status endpoint describes it.
struct DaemonLiveness {
    status: Arc<Status>,
    store_path: PathBuf,
}

impl WhatsappSource for DaemonLiveness {
    fn liveness(&self) -> Liveness {
        Liveness { connected: self.status.is_connected(), account: self.status.account().map(|jid| jid.to_string()) }
    }

    fn bridge_path(&self) -> PathBuf {
        self.store_path.clone()
    }

    fn poll_interval(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 60 * 60 * 1000;

    fn direct(at: i64, from_me: bool) -> Arrived {
        Arrived {
            chat: Jid::parse("64215551234@s.whatsapp.net").unwrap(),
            id: format!("M{at}"),
            from_me,
            kind: wamcp_core::MessageKind::Text,
            text: Some("hello".into()),
            caption: None,
            transcript: None,
            at: Timestamp(at),
        }
    }

    #[test]
    fn a_mark_kept_by_an_earlier_version_is_the_first_start_and_reads_back_as_it_was() {
        let now = Timestamp(100 * HOUR);
        let legacy = Cursor::parse(&(99 * HOUR).to_string()).unwrap();
        assert_eq!(legacy, Cursor { since: 99 * HOUR, newest: None });
        assert_eq!(legacy.missed_after(now), Timestamp(99 * HOUR), "nothing from before the first start");
        let moved = Cursor { since: 90 * HOUR, newest: Some(99 * HOUR) };
        assert_eq!(Cursor::parse(&moved.text()).unwrap(), moved);
        assert!(Cursor::parse("yesterday").is_err());
    }

    #[test]
    fn the_store_is_read_from_a_little_before_the_newest_message_taken_and_never_more_than_a_day_back() {
        let now = Timestamp(100 * HOUR);
        let recent = Cursor { since: 10 * HOUR, newest: Some(99 * HOUR) };
        assert_eq!(recent.missed_after(now), Timestamp(99 * HOUR - LATE_MS));
        let long_off = Cursor { since: 10 * HOUR, newest: Some(20 * HOUR) };
        assert_eq!(long_off.missed_after(now), Timestamp(76 * HOUR));
    }

    #[test]
    fn the_cursor_moves_to_the_newest_direct_message_from_someone_else_and_never_back() {
        let kept = Cursor { since: HOUR, newest: Some(5 * HOUR) };
        assert_eq!(kept.after(&[direct(6 * HOUR, true)]), kept, "our own message does not move it");
        assert_eq!(kept.after(&[direct(4 * HOUR, false)]), kept, "a late one does not move it back");
        assert_eq!(kept.after(&[direct(7 * HOUR, false), direct(6 * HOUR, false)]).newest, Some(7 * HOUR));
        let mut group = direct(8 * HOUR, false);
        group.chat = Jid::parse("120363041234567890@g.us").unwrap();
        assert_eq!(kept.after(&[group]), kept, "a group message does not move it");
    }
}
