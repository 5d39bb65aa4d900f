//! The desk inside the daemon: the plug that gives it the daemon's outbox, and the feed that
//! hands it every incoming direct message the moment the daemon has stored it.
//!
//! The feed is the daemon's event bus, which keeps nothing: a message stored while the desk was
//! not listening (killed between the daemon's commit and its own, or too far behind) is found on
//! the next start by reading the daemon's store from the newest message the desk has (less a few
//! minutes for late deliveries, and at most a day back). The first start only notes the time, so
//! history never becomes tickets, and the desk's deduplication makes reading a message twice
//! harmless.
//!
//! By default ([`Answer::Customers`]) the desk answers strangers only: a message in a chat with
//! someone in the address book, or in one the owner wrote in by hand lately, is the owner's
//! own business and never becomes a ticket.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wamcp_bridge::events::BridgeEvent;
use wamcp_bridge::extension::{Extension, Parts};
use wamcp_bridge::status::Status;
use wamcp_core::Timestamp;
use wamcp_desk::http::DeskApp;
use wamcp_desk::{Desk, Liveness, Via, WhatsappSource};
use wamcp_store::{MessageFilter, Reader};

use super::{Answer, OWNER_WROTE_DAYS};

/// The plug that connects `desk` to the daemon once its API starts.
pub fn extension(desk: Arc<Desk>, answer: Answer) -> Extension {
    Box::new(move |parts: Parts| {
        let source = Arc::new(BridgeSource {
            status: parts.status.clone(),
            store_path: parts.store_path.clone(),
            last_message: Mutex::new(None),
            answer,
            reader: Arc::new(Mutex::new(None)),
        });
        desk.connect_whatsapp(parts.outbox, source.clone());
        let metrics_desk = desk.clone();
        let _ = parts.metrics.set(Arc::new(move || {
            let desk = metrics_desk.clone();
            Box::pin(async move { wamcp_desk::metrics::render(&desk).await.unwrap_or_default() })
        }));
        let status_desk = desk.clone();
        let _ = parts.status_section.set(("desk", Arc::new(move || desk_status(&status_desk))));
        desk.start(&parts.workers, &parts.stop);
        // Listening first, then catching up: nothing falls between the two.
        let events = parts.events.subscribe();
        parts.workers.spawn(parts.stop.clone().run_until_cancelled_owned(catch_up(desk.clone(), source.clone())));
        parts.workers.spawn(forward_messages(desk.clone(), events, source, parts.stop.clone()));
        wamcp_desk::http::routes(Arc::new(DeskApp { desk, token: parts.token }))
    })
}

/// The desk's section of `/api/status`: how its provider is doing.
fn desk_status(desk: &Desk) -> serde_json::Value {
    serde_json::json!({"provider": desk.provider_health()})
}

/// Hands every new direct message from a customer to the desk as it is committed. History is
/// never published as events, so it never becomes tickets.
async fn forward_messages(
    desk: Arc<Desk>,
    mut events: tokio::sync::broadcast::Receiver<BridgeEvent>,
    source: Arc<BridgeSource>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        // A message being taken in when the daemon stops is taken in first.
        let Some(received) = stop.run_until_cancelled(events.recv()).await else { return };
        let event = match received {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!("desk: {missed} messages went by while the desk was busy");
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let BridgeEvent::Message(m) = event else { continue };
        *source.last_message.lock().unwrap_or_else(|p| p.into_inner()) = Some(m.timestamp.to_rfc3339());
        let inbound = super::whatsapp_inbound(
            &m.chat_jid,
            &m.id,
            m.is_from_me,
            m.kind,
            m.text.as_deref(),
            m.caption.as_deref(),
            m.timestamp,
            Via::Bridge,
        );
        let Some(inbound) = inbound else { continue };
        if !source.for_the_desk(&inbound.address).await {
            continue;
        }
        if let Err(error) = desk.receive(&inbound).await {
            tracing::warn!("desk: message {} not taken in: {error}", m.id);
        }
    }
}

/// How far before the newest message the desk has the catch-up starts reading.
const LATE_MS: i64 = 5 * 60 * 1000;
/// Messages read from the store per page.
const PAGE: u32 = 500;

/// Takes in the direct messages the daemon stored while the desk was not listening.
async fn catch_up(desk: Arc<Desk>, source: Arc<BridgeSource>) {
    match read_missed(&desk, &source).await {
        Ok(0) => {}
        Ok(taken) => tracing::info!("desk: took in {taken} message(s) stored while it was not listening"),
        Err(error) => tracing::warn!("desk: catching up on the daemon's store failed: {error}"),
    }
}

async fn read_missed(desk: &Desk, source: &BridgeSource) -> anyhow::Result<usize> {
    let store_path = source.store_path.clone();
    const SINCE: &str = "bridge_feed_since";
    let since: i64 = match desk.db.meta(SINCE).await? {
        Some(value) => value.parse()?,
        None => {
            desk.db.set_meta(SINCE, &Timestamp::now().millis().to_string()).await?;
            return Ok(0);
        }
    };
    let newest = wamcp_desk::reads::newest_received(&desk.db, Via::Bridge).await?;
    // A message older than a day is not one to answer now, however long the desk was off.
    let day_ago = Timestamp::now().millis() - 24 * 60 * 60 * 1000;
    let after = Timestamp(newest.map_or(since, |t| t - LATE_MS).max(since).max(day_ago));
    let mut taken = 0;
    let mut offset = 0;
    loop {
        let path = store_path.clone();
        let page = tokio::task::spawn_blocking(move || {
            let filter = MessageFilter { after: Some(after), limit: PAGE, offset, ..MessageFilter::default() };
            Reader::open(&path)?.list_messages(&filter)
        })
        .await??;
        // Pages come newest first; the desk takes each conversation's messages oldest first.
        for found in page.matches.iter().rev() {
            let m = &found.message;
            let inbound = super::whatsapp_inbound(
                &m.chat_jid,
                &m.id,
                m.is_from_me,
                m.kind,
                m.text.as_deref(),
                m.caption.as_deref(),
                m.timestamp,
                Via::Bridge,
            );
            if let Some(inbound) = inbound
                && source.for_the_desk(&inbound.address).await
                && !desk.receive(&inbound).await?.duplicate
            {
                taken += 1;
            }
        }
        if !page.has_more {
            return Ok(taken);
        }
        offset += u64::from(PAGE);
    }
}

/// The daemon, as the desk's status endpoint describes it, and whom the desk answers on it.
struct BridgeSource {
    status: Arc<Status>,
    store_path: PathBuf,
    last_message: Mutex<Option<String>>,
    answer: Answer,
    /// The store, opened at the first question and kept: asked about every incoming message.
    reader: Arc<Mutex<Option<Reader>>>,
}

impl BridgeSource {
    /// Whether a message in the direct chat `chat` is the desk's to answer.
    async fn for_the_desk(&self, chat: &str) -> bool {
        if self.answer == Answer::Everyone {
            return true;
        }
        let Ok(person) = wamcp_core::Jid::parse(chat) else { return false };
        let (path, reader) = (self.store_path.clone(), self.reader.clone());
        let since = Timestamp(Timestamp::now().millis() - OWNER_WROTE_DAYS * 24 * 60 * 60 * 1000);
        let personal = tokio::task::spawn_blocking(move || {
            let mut reader = reader.lock().unwrap_or_else(|p| p.into_inner());
            let reader = match &mut *reader {
                Some(reader) => reader,
                empty => empty.insert(Reader::open(&path)?),
            };
            reader.personal_chat(&person, since)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|found| found.map_err(|e| e.to_string()));
        match personal {
            Ok(None) => true,
            Ok(Some(why)) => {
                // Logs cut phone numbers to their last digits on every line.
                tracing::debug!("desk: leaving {chat} alone: {why:?}");
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

impl WhatsappSource for BridgeSource {
    fn liveness(&self) -> Liveness {
        Liveness {
            connected: self.status.is_connected(),
            account: self.status.account().map(|jid| jid.to_string()),
            last_message_at: self.last_message.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    fn bridge_path(&self) -> PathBuf {
        self.store_path.clone()
    }

    fn poll_interval(&self) -> u64 {
        0
    }
}
