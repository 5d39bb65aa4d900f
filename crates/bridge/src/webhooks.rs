//! Webhooks: every event is POSTed as JSON to each configured URL, signed with HMAC-SHA256, and
//! retried with backoff from the persisted queue until the receiver answers 2xx (or
//! [`MAX_ATTEMPTS`] have failed).
//!
//! Signature: header `X-Wamcp-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
//! with the key in `<data dir>/webhook-secret`. A receiver recomputes it and refuses a `t` more
//! than [`REPLAY_WINDOW_SECS`] from its clock, so a captured delivery cannot be replayed later.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use wamcp_core::{Clock, Timestamp};
use wamcp_store::{Reader, WebhookDelivery};

use crate::backoff::Backoff;
use crate::due_queue;
use crate::ingest::{Command, Ingest};
use crate::status::{Counters, Status};

/// Deliveries that failed this many times are dropped (with a log line).
pub const MAX_ATTEMPTS: u32 = 12;
/// How far a receiver should accept the signed time from its own clock.
pub const REPLAY_WINDOW_SECS: i64 = 300;
const RETRY: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(600));
const TIMEOUT: Duration = Duration::from_secs(10);

/// `t=…,v1=…` for a body sent at `unix_secs`.
pub fn signature(secret: &[u8], unix_secs: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{unix_secs}.{body}").as_bytes());
    let digest: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix_secs},v1={digest}")
}

pub struct Webhooks {
    pub ingest: Ingest,
    pub reader: Mutex<Reader>,
    pub secret: String,
    pub status: Arc<Status>,
    pub wake: Arc<Notify>,
    pub clock: Arc<dyn Clock>,
}

impl Webhooks {
    /// Delivers until `stop` is cancelled (a delivery under way is finished and recorded) or the
    /// writer stops.
    pub async fn run(self, stop: CancellationToken) {
        let agent = due_queue::http_agent(TIMEOUT);
        let (this, agent, stopping) = (&self, &agent, &stop);
        due_queue::run("webhook delivery", &self.wake, &stop, move || this.deliver_due(agent, stopping)).await;
    }

    async fn deliver_due(&self, agent: &ureq::Agent, stop: &CancellationToken) -> Result<Duration, String> {
        let due =
            self.reader.lock().map_err(|_| "reader unavailable")?.webhooks_queued(32).map_err(|e| e.to_string())?;
        let mut next_due = due_queue::IDLE;
        for delivery in due {
            if stop.is_cancelled() {
                break;
            }
            let now = self.clock.now();
            if delivery.next_attempt > now {
                next_due = next_due.min(due_queue::until(delivery.next_attempt, now));
                continue;
            }
            let outcome = self.post(agent, &delivery).await;
            let seq = delivery.seq;
            match outcome {
                Ok(()) => self.ingest.apply(|done| Command::WebhookDone { seq, done }).await?,
                Err(error) if delivery.attempts + 1 >= MAX_ATTEMPTS => {
                    warn!(url = %delivery.url, "webhook delivery given up after {MAX_ATTEMPTS} attempts: {error}");
                    Counters::add(&self.status.counters.webhook_failures, 1);
                    self.ingest.apply(|done| Command::WebhookDone { seq, done }).await?
                }
                Err(error) => {
                    Counters::add(&self.status.counters.webhook_failures, 1);
                    let delay = RETRY.delay(delivery.attempts);
                    let next_attempt = Timestamp(self.clock.now().millis() + delay.as_millis() as i64);
                    next_due = next_due.min(delay);
                    self.ingest.apply(|done| Command::WebhookRetry { seq, error, next_attempt, done }).await?
                }
            }
        }
        Ok(next_due)
    }

    async fn post(&self, agent: &ureq::Agent, delivery: &WebhookDelivery) -> Result<(), String> {
        let (agent, url, body) = (agent.clone(), delivery.url.clone(), delivery.body.clone());
        let signed = signature(self.secret.as_bytes(), self.clock.now().millis() / 1000, &body);
        tokio::task::spawn_blocking(move || {
            let response = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-Wamcp-Signature", &signed)
                .send(body.as_bytes())
                .map_err(|e| format!("{url}: {e}"))?;
            let status = response.status().as_u16();
            if (200..300).contains(&status) { Ok(()) } else { Err(format!("{url} answered {status}")) }
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let signed = signature(b"Jefe", 0, "what do ya want for nothing?");
        let expected_for_prefixed = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
            mac.update(b"0.what do ya want for nothing?");
            mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        assert_eq!(signed, format!("t=0,v1={expected_for_prefixed}"));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let rfc: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(rfc, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
