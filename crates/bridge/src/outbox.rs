//! The outbox worker: sends queued messages while connected, in the order they were queued, and
//! records each result through the writer. A send is retried with backoff after a temporary
//! failure and given up after [`MAX_ATTEMPTS`]; while disconnected it simply waits. Every attempt
//! of one send uses the same message id, so a send repeated after a crash arrives once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use wamcp_core::{Clock, Jid, MessageId, Timestamp, Update};
use wamcp_link::{Link, LinkError};
use wamcp_store::{OutboxEntry, Reader};

use crate::backoff::Backoff;
use crate::ingest::{Command, Ingest};
use crate::send_request::{Body, SendRequest};
use crate::status::Status;

/// Attempts that fail for a reason other than "not connected" before a send is given up.
pub const MAX_ATTEMPTS: u32 = 6;
const RETRY: Backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(300));
/// How many queued sends are read at once.
const PAGE: u32 = 64;
/// How long the worker sleeps with nothing due (a new send wakes it sooner).
const IDLE: Duration = Duration::from_secs(3600);
/// How long it waits when the link says it is not connected while the state says it is.
const NOT_READY_WAIT: Duration = Duration::from_secs(1);

/// What one attempt did to its send.
#[derive(Debug, PartialEq, Eq)]
enum Attempted {
    /// Sent, scheduled for a retry, or failed for good: the row has moved on.
    Recorded,
    /// The link was not connected; the send stays as it was.
    LinkNotReady,
}

pub struct Outbox {
    pub link: Arc<dyn Link>,
    pub ingest: Ingest,
    pub status: Arc<Status>,
    /// Reads the queue (a reader is not shared between threads: kept behind a lock).
    pub reader: std::sync::Mutex<Reader>,
    pub data_dir: PathBuf,
    /// Woken when a send is queued.
    pub wake: Arc<Notify>,
    pub clock: Arc<dyn Clock>,
}

impl Outbox {
    /// Runs until `stop` is cancelled or the writer stops. A send under way when `stop` comes is
    /// finished and recorded first: none is cut off between the server taking it and the store
    /// saying so.
    pub async fn run(self, stop: CancellationToken) {
        let mut connected = self.status.watch_connected();
        while !stop.is_cancelled() {
            if !*connected.borrow_and_update() {
                tokio::select! {
                    changed = connected.changed() => if changed.is_err() { return },
                    _ = stop.cancelled() => return,
                }
                continue;
            }
            let wait = match self.send_due(&stop).await {
                Ok(wait) => wait,
                Err(stopped) => {
                    debug!("outbox stops: {stopped}");
                    return;
                }
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = connected.changed() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {}
            }
        }
        debug!("outbox stopped");
    }

    /// Sends everything that is due, page after page; returns how long until the next retry is
    /// due. Queued sends come soonest-due first, so the first one not yet due ends the pass.
    async fn send_due(&self, stop: &CancellationToken) -> Result<Duration, String> {
        loop {
            let queued = {
                let reader = self.reader.lock().map_err(|_| "the outbox reader is unavailable".to_string())?;
                reader.outbox_queued(PAGE).map_err(|e| e.to_string())?
            };
            let full_page = queued.len() == PAGE as usize;
            for entry in queued {
                let now = self.clock.now();
                if entry.next_attempt > now {
                    return Ok(Duration::from_millis((entry.next_attempt.millis() - now.millis()) as u64));
                }
                if !self.status.is_connected() || stop.is_cancelled() {
                    return Ok(IDLE);
                }
                if self.attempt(entry).await? == Attempted::LinkNotReady {
                    // The link is not taking sends although the state says connected: wait a
                    // moment instead of reading the same rows again at once.
                    return Ok(NOT_READY_WAIT);
                }
            }
            if !full_page {
                return Ok(IDLE);
            }
            // Every send of a full page was tried: there may be more behind it.
        }
    }

    async fn attempt(&self, entry: OutboxEntry) -> Result<Attempted, String> {
        let request = match SendRequest::from_json(&entry.request) {
            Ok(request) => request,
            Err(error) => return self.fail(&entry, error).await,
        };
        let outgoing = match request.outgoing(&self.data_dir) {
            Ok(outgoing) => outgoing,
            Err(error) => return self.fail(&entry, error).await,
        };
        let started = std::time::Instant::now();
        match self.link.send(&outgoing).await {
            Ok(sent) => {
                debug!(chat = %entry.chat, id = %sent.id, ms = started.elapsed().as_millis() as u64, "sent");
                let queued_for = (self.clock.now().millis() - entry.created.millis()).max(0) as f64 / 1000.0;
                self.status.counters.send_latency.observe(queued_for);
                let message = request.sent_message(&sent, self.status.account());
                let then = follow_up(&request, &outgoing.chat, self.status.account(), sent.at);
                self.ingest.apply(|done| Command::Sent { seq: entry.seq, message, then, done }).await?;
                Ok(Attempted::Recorded)
            }
            // Waits for the connection; not counted as an attempt.
            Err(LinkError::NotConnected) => Ok(Attempted::LinkNotReady),
            Err(error) if error.is_retryable() && entry.attempts + 1 < MAX_ATTEMPTS => {
                let next_attempt =
                    Timestamp(self.clock.now().millis() + RETRY.delay(entry.attempts).as_millis() as i64);
                warn!(chat = %entry.chat, id = %entry.message_id, attempt = entry.attempts + 1, "send failed, will retry: {error}");
                let error = error.to_string();
                self.ingest.apply(|done| Command::Retry { seq: entry.seq, error, next_attempt, done }).await?;
                Ok(Attempted::Recorded)
            }
            Err(error) => self.fail(&entry, error.to_string()).await,
        }
    }

    async fn fail(&self, entry: &OutboxEntry, error: String) -> Result<Attempted, String> {
        warn!(chat = %entry.chat, id = %entry.message_id, "send failed for good: {error}");
        let chat = Jid::parse(&entry.chat).map_err(|e| e.to_string())?;
        let message_id = entry.message_id.clone();
        self.ingest.apply(|done| Command::Failed { seq: entry.seq, chat, message_id, error, done }).await?;
        Ok(Attempted::Recorded)
    }
}

/// What a sent reaction, edit or deletion changes in the stored chat.
fn follow_up(request: &SendRequest, chat: &Jid, account: Option<Jid>, at: Timestamp) -> Option<Update> {
    match &request.body {
        Body::Reaction { target, emoji } => Some(Update::Reaction {
            chat: chat.clone(),
            id: MessageId(target.id.clone()),
            sender: account?,
            emoji: emoji.clone(),
            at,
        }),
        Body::Edit { target, text } => {
            Some(Update::Edited { chat: chat.clone(), id: MessageId(target.id.clone()), text: text.clone(), at })
        }
        Body::Revoke { target } => Some(Update::Revoked { chat: chat.clone(), id: MessageId(target.id.clone()), at }),
        Body::Text { .. } | Body::Media { .. } => None,
    }
}
