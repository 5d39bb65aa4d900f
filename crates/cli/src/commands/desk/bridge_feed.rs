//! The desk inside the daemon: the plug that gives it the daemon's outbox, and the feed that
//! hands it every incoming direct message the moment the daemon has stored it.
//!
//! The feed is the daemon's event bus, which keeps nothing: a message stored while the desk was
//! not listening (killed between the daemon's commit and its own, or too far behind) is found on
//! the next start by reading the daemon's store from the newest message the desk has (less a few
//! minutes for late deliveries, and at most a day back). The first start only notes the time, so
//! history never becomes tickets, and the desk's deduplication makes reading a message twice
//! harmless.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wamcp_bridge::events::BridgeEvent;
use wamcp_bridge::extension::{Extension, Parts};
use wamcp_bridge::status::Status;
use wamcp_core::Timestamp;
use wamcp_desk::http::DeskApp;
use wamcp_desk::{Desk, Liveness, Via, WhatsappSource};
use wamcp_store::{MessageFilter, Reader};

/// The plug that connects `desk` to the daemon once its API starts.
pub fn extension(desk: Arc<Desk>) -> Extension {
    Box::new(move |parts: Parts| {
        let source = Arc::new(BridgeSource {
            status: parts.status.clone(),
            store_path: parts.store_path.clone(),
            last_message: Mutex::new(None),
        });
        desk.connect_whatsapp(parts.outbox, source.clone());
        let metrics_desk = desk.clone();
        let _ = parts.metrics.set(Arc::new(move || {
            let desk = metrics_desk.clone();
            Box::pin(async move { wamcp_desk::metrics::render(&desk).await.unwrap_or_default() })
        }));
        desk.start();
        // Listening first, then catching up: nothing falls between the two.
        let events = parts.events.subscribe();
        tokio::spawn(catch_up(desk.clone(), parts.store_path.clone()));
        tokio::spawn(forward_messages(desk.clone(), events, source));
        wamcp_desk::http::routes(Arc::new(DeskApp { desk, token: parts.token }))
    })
}

/// Hands every new direct message from a customer to the desk as it is committed. History is
/// never published as events, so it never becomes tickets.
async fn forward_messages(
    desk: Arc<Desk>,
    mut events: tokio::sync::broadcast::Receiver<BridgeEvent>,
    source: Arc<BridgeSource>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!("desk: {missed} messages went by while the desk was busy");
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let BridgeEvent::Message(m) = event else { continue };
        *source.last_message.lock().unwrap_or_else(|p| p.into_inner()) = Some(m.timestamp.clone());
        let at = Timestamp::parse_user(&m.timestamp).unwrap_or_else(|_| Timestamp::now());
        let inbound = super::whatsapp_inbound(
            &m.chat_jid,
            &m.id,
            m.is_from_me,
            &m.kind,
            m.text.as_deref(),
            m.caption.as_deref(),
            at,
            Via::Bridge,
        );
        let Some(inbound) = inbound else { continue };
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
async fn catch_up(desk: Arc<Desk>, store_path: PathBuf) {
    match read_missed(&desk, store_path).await {
        Ok(0) => {}
        Ok(taken) => tracing::info!("desk: took in {taken} message(s) stored while it was not listening"),
        Err(error) => tracing::warn!("desk: catching up on the daemon's store failed: {error}"),
    }
}

async fn read_missed(desk: &Desk, store_path: PathBuf) -> anyhow::Result<usize> {
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
                m.kind.as_str(),
                m.text.as_deref(),
                m.caption.as_deref(),
                m.timestamp,
                Via::Bridge,
            );
            if let Some(inbound) = inbound
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

/// The daemon, as the desk's status endpoint describes it.
struct BridgeSource {
    status: Arc<Status>,
    store_path: PathBuf,
    last_message: Mutex<Option<String>>,
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
