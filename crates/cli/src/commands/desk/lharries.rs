//! The desk beside a lharries/whatsapp-mcp Go bridge: its `messages.db` is the desk's
//! [`MessageSource`], read (read-only) every poll interval from a watermark the desk keeps, and
//! answers go out through the Go bridge's REST API (`POST /api/send`).
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
use wamcp_desk::feed::{Arrived, Batch, MessageSource, SourceError};
use wamcp_desk::{Liveness, WhatsappSource};
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
}

/// The Go bridge's database as the desk's message source, polled every `interval`.
pub struct Poller {
    pub path: PathBuf,
    pub interval: Duration,
    pub state: Arc<PollState>,
    /// When the next read may start; `None` at once (the first, or more rows are waiting).
    due: Option<tokio::time::Instant>,
}

impl Poller {
    pub fn new(path: PathBuf, interval: Duration, state: Arc<PollState>) -> Poller {
        Poller { path, interval, state, due: None }
    }

    /// Reads the next round after `cursor`; answers it and whether more rows are waiting.
    async fn read_round(&self, cursor: Option<&str>) -> anyhow::Result<(Batch, bool)> {
        let path = self.path.clone();
        let source = tokio::task::spawn_blocking(move || Source::open(&path)).await??;
        let source = Arc::new(Mutex::new(source));
        let Some(text) = cursor else {
            let rowid = blocking(&source, |s| s.last_rowid()).await?;
            let mark = Watermark { rowid, at: Timestamp::now().millis(), id: String::new() };
            return Ok((Batch { messages: Vec::new(), cursor: Some(serde_json::to_string(&mark)?) }, false));
        };
        let kept = serde_json::from_str::<Watermark>(text)?;
        let mut mark = kept.clone();
        if blocking(&source, |s| s.last_rowid()).await? < mark.rowid {
            // The database was replaced (rowids start again): read it all, and let the time part
            // of the watermark keep its history out.
            tracing::info!("desk: {} was replaced; reading it from the start", self.path.display());
            mark.rowid = 0;
        }
        let after = mark.rowid;
        let (rows, through) = blocking(&source, move |s| s.added_since(after, ROUND)).await?;
        let mut messages = Vec::new();
        for message in &rows {
            // A row added since the last poll is new unless its time says it is history.
            if message.timestamp.millis() < kept.at - LATE_MS {
                continue;
            }
            messages.push(Arrived::from(message));
            if (message.timestamp.millis(), message.id.as_str()) > (mark.at, mark.id.as_str()) {
                (mark.at, mark.id) = (message.timestamp.millis(), message.id.to_string());
            }
        }
        mark.rowid = through;
        let more = through != after && (rows.len() == ROUND || through - after >= ROUND as i64);
        let cursor = (mark != kept).then(|| serde_json::to_string(&mark)).transpose()?;
        Ok((Batch { messages, cursor }, more))
    }
}

impl MessageSource for Poller {
    fn cursor_key(&self) -> String {
        format!("lharries_watermark:{}", self.path.display())
    }

    async fn next(&mut self, cursor: Option<&str>) -> Option<Result<Batch, SourceError>> {
        if let Some(due) = self.due {
            tokio::time::sleep_until(due).await;
        }
        let read = self.read_round(cursor).await;
        self.state.polls.fetch_add(1, Ordering::Relaxed);
        let later = tokio::time::Instant::now() + self.interval;
        Some(match read {
            Ok((batch, more)) => {
                self.state.failures_in_a_row.store(0, Ordering::Relaxed);
                self.due = (!more).then_some(later);
                Ok(batch)
            }
            Err(error) => {
                let failures = self.state.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                self.due = Some(later);
                Err(format!("reading {} failed ({failures} in a row): {error}", self.path.display()).into())
            }
        })
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

    fn sender(&self) -> &str {
        &self.api_url
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
