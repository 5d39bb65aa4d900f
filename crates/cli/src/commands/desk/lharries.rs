//! The desk beside a lharries/whatsapp-mcp Go bridge: its `messages.db` is read (read-only) every
//! poll interval from a watermark kept in the desk's database, and answers go out through the Go
//! bridge's REST API (`POST /api/send`).
//!
//! The watermark is the last rowid read plus the (time, id) of the newest message taken; it
//! starts at "now" on the first poll, so the history already in the database never becomes
//! tickets, and a history sync that adds old messages later (more than a few minutes older than
//! the watermark) is read past too.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wamcp_core::{Jid, QueueError, QueueFuture, TextOutbox, Timestamp};
use wamcp_desk::{Desk, Liveness, Via, WhatsappSource};
use wamcp_store::import::lharries::Source;

/// Rows read per round.
const ROUND: usize = 500;
/// How much older than the newest message taken a newly added row may be and still be taken:
/// lharries keeps whole seconds, and a phone that was offline delivers a few minutes late. Older
/// rows are a history sync.
const LATE_MS: i64 = 5 * 60 * 1000;

/// Where the poller has read to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Watermark {
    rowid: i64,
    /// Messages at or before this (time, id) are old.
    at: i64,
    id: String,
}

/// What the status endpoint and the metrics tell about polling.
#[derive(Default)]
pub struct PollState {
    pub failures_in_a_row: AtomicU64,
    pub polls: AtomicU64,
    last_message_at: Mutex<Option<String>>,
}

pub struct Poller {
    pub desk: Arc<Desk>,
    pub path: PathBuf,
    pub interval: Duration,
    pub state: Arc<PollState>,
}

impl Poller {
    pub async fn run(self) {
        loop {
            match self.poll_once().await {
                Ok(_) => {
                    self.state.failures_in_a_row.store(0, Ordering::Relaxed);
                }
                Err(error) => {
                    let failures = self.state.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!("desk: reading {} failed ({failures} in a row): {error}", self.path.display());
                }
            }
            self.state.polls.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.interval).await;
        }
    }

    /// Takes in every message added since the last poll; returns how many became desk messages.
    pub async fn poll_once(&self) -> anyhow::Result<usize> {
        let key = format!("lharries_watermark:{}", self.path.display());
        let path = self.path.clone();
        let source = tokio::task::spawn_blocking(move || Source::open(&path)).await??;
        let source = Arc::new(Mutex::new(source));
        let mut mark = match self.desk.db.meta(&key).await? {
            Some(text) => serde_json::from_str::<Watermark>(&text)?,
            None => {
                let rowid = blocking(&source, |s| s.last_rowid()).await?;
                let mark = Watermark { rowid, at: Timestamp::now().millis(), id: String::new() };
                self.desk.db.set_meta(&key, &serde_json::to_string(&mark)?).await?;
                return Ok(0);
            }
        };
        if blocking(&source, |s| s.last_rowid()).await? < mark.rowid {
            // The database was replaced (rowids start again): read it all, and let the time part
            // of the watermark keep its history out.
            tracing::info!("desk: {} was replaced; reading it from the start", self.path.display());
            mark.rowid = 0;
        }
        let mut taken = 0;
        loop {
            let after = mark.rowid;
            let (messages, through) = blocking(&source, move |s| s.added_since(after, ROUND)).await?;
            for message in &messages {
                *self.state.last_message_at.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(message.timestamp.to_rfc3339());
                // A row added since the last poll is new unless its time says it is history.
                if message.timestamp.millis() < mark.at - LATE_MS {
                    continue;
                }
                let inbound = super::whatsapp_inbound(
                    message.chat.as_str(),
                    message.id.as_str(),
                    message.from_me,
                    message.kind,
                    message.text.as_deref(),
                    message.caption.as_deref(),
                    message.timestamp,
                    Via::Lharries,
                );
                if let Some(inbound) = inbound {
                    self.desk.receive(&inbound).await?;
                    taken += 1;
                }
                if (message.timestamp.millis(), message.id.as_str()) > (mark.at, mark.id.as_str()) {
                    (mark.at, mark.id) = (message.timestamp.millis(), message.id.to_string());
                }
            }
            mark.rowid = through;
            // Saved after the messages are committed: a crash in between reads them again, and
            // the desk knows them by id.
            self.desk.db.set_meta(&key, &serde_json::to_string(&mark)?).await?;
            if through == after || messages.len() < ROUND && through - after < ROUND as i64 {
                return Ok(taken);
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    source: &Arc<Mutex<Source>>,
    read: impl FnOnce(&Source) -> wamcp_store::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let source = source.clone();
    Ok(tokio::task::spawn_blocking(move || read(&source.lock().unwrap_or_else(|p| p.into_inner()))).await??)
}

/// The Go bridge's REST API as the desk's way out: `POST {api}/send {"recipient", "message"}`.
/// It has no idempotency key, so an answer being sent when the desk is killed may go out twice.
pub struct LharriesOutbox {
    /// Up to and including `/api`, e.g. `http://localhost:8080/api`.
    pub api_url: String,
}

impl TextOutbox for LharriesOutbox {
    fn queue_text<'a>(&'a self, to: &'a Jid, text: &'a str, idempotency_key: &'a str) -> QueueFuture<'a> {
        let url = format!("{}/send", self.api_url.trim_end_matches('/'));
        let body = serde_json::json!({"recipient": to.to_string(), "message": text}).to_string();
        let key = idempotency_key.to_string();
        Box::pin(async move {
            let answer = tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(30)))
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut response = agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send(body.as_bytes())
                    .map_err(|e| QueueError::Unavailable(format!("the lharries bridge at {url}: {e}")))?;
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                Ok::<_, QueueError>((status, text))
            })
            .await
            .map_err(|e| QueueError::Unavailable(e.to_string()))??;
            let (status, text): (u16, String) = answer;
            let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            match (status, json["success"].as_bool()) {
                (200..=299, Some(true)) => Ok(format!("lharries:{key}")),
                (500.., _) => Err(QueueError::Unavailable(format!("the lharries bridge answered {status}: {text}"))),
                _ => Err(QueueError::Refused(format!(
                    "the lharries bridge refused the send ({status}): {}",
                    json["message"].as_str().unwrap_or(&text)
                ))),
            }
        })
    }
}

/// The Go bridge's database, as the status endpoint describes it.
pub struct LharriesSource {
    pub path: PathBuf,
    pub interval: Duration,
    pub state: Arc<PollState>,
}

impl WhatsappSource for LharriesSource {
    fn liveness(&self) -> Liveness {
        let polled = self.state.polls.load(Ordering::Relaxed) > 0;
        Liveness {
            connected: polled && self.state.failures_in_a_row.load(Ordering::Relaxed) == 0 && exists(&self.path),
            account: None,
            last_message_at: self.state.last_message_at.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    fn bridge_path(&self) -> PathBuf {
        self.path.clone()
    }

    fn poll_interval(&self) -> u64 {
        self.interval.as_secs()
    }

    fn failed_polls_in_a_row(&self) -> u64 {
        self.state.failures_in_a_row.load(Ordering::Relaxed)
    }
}

fn exists(path: &Path) -> bool {
    path.is_file()
}
