//! Transcribing voice notes and audio through an OpenAI-compatible `/v1/audio/transcriptions`
//! endpoint (whisper.cpp's server, faster-whisper-server, LocalAI, speaches, Groq, OpenAI).
//!
//! The work is a durable queue in the store (`transcription_queue`): a live voice note of a kind
//! chosen in `transcription.auto` is queued in the same transaction as the message, and
//! `POST /api/transcribe` queues one on demand. This worker takes due entries one at a time:
//! it saves the audio if it is not saved yet, posts it to the endpoint as multipart form data,
//! and stores the transcript with the message through the writer. A failure is retried with
//! backoff and given up after [`MAX_ATTEMPTS`], the reason kept. Each outcome is announced as a
//! `transcript` event (and so reaches webhooks) once committed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use wamcp_core::{Clock, Jid, MessageKind, Timestamp};
use wamcp_link::Link;
use wamcp_store::{StoreError, TranscriptionJob};

use crate::backoff::Backoff;
use crate::due_queue;
use crate::ingest::{Command, Ingest, TranscriptionChange};
use crate::media::{MediaFolder, SaveError};
use crate::readers::Readers;

/// Entries that failed this many times are given up (the reason stays with the entry).
pub const MAX_ATTEMPTS: u32 = 8;
/// The largest file sent: the limit of OpenAI's endpoint, and far more than a voice note.
pub const MAX_AUDIO_BYTES: usize = 25 * 1024 * 1024;
const RETRY: Backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(600));
/// A long voice note on a CPU-only local server takes a while.
const TIMEOUT: Duration = Duration::from_secs(300);

/// Where transcripts come from, and which messages are transcribed without being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionSettings {
    /// The endpoint: a base URL (`http://127.0.0.1:8080`, `https://api.groq.com/openai/v1`) or
    /// the whole `…/audio/transcriptions` URL.
    pub url: String,
    pub model: String,
    /// The spoken language (ISO 639-1), when the endpoint should not guess it.
    pub language: Option<String>,
    /// Sent as a bearer token (read from the environment, never from a file of settings).
    pub api_key: Option<String>,
    /// Incoming messages of these kinds are transcribed as they arrive.
    pub auto: Vec<MessageKind>,
}

impl TranscriptionSettings {
    /// The URL requests are posted to: the one given when it names `…/audio/transcriptions`,
    /// else the OpenAI path under it (`/audio/transcriptions` after a `/v1`, else
    /// `/v1/audio/transcriptions`).
    pub fn endpoint(&self) -> String {
        let base = self.url.trim_end_matches('/');
        if base.ends_with("/audio/transcriptions") {
            base.to_string()
        } else if base.ends_with("/v1") {
            format!("{base}/audio/transcriptions")
        } else {
            format!("{base}/v1/audio/transcriptions")
        }
    }

    /// Whether the endpoint's host is this machine: anything else receives people's voices.
    pub fn is_local(&self) -> bool {
        let Some(rest) = self.url.split_once("://").map(|(_, rest)| rest) else { return false };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// The worker.
pub struct Transcriber {
    pub settings: TranscriptionSettings,
    pub link: Arc<dyn Link>,
    pub media: MediaFolder,
    pub readers: Readers,
    pub ingest: Ingest,
    pub wake: Arc<Notify>,
    pub clock: Arc<dyn Clock>,
}

/// Why one attempt did not give a transcript.
enum Failure {
    /// The message is gone (deleted, forgotten, purged): the entry goes with it.
    Gone,
    /// Worth trying again later.
    Retry(String),
    /// Trying again would fail the same way.
    GiveUp(String),
}

impl Transcriber {
    /// Transcribes due entries until `stop` is cancelled (an attempt under way is finished and
    /// recorded) or the writer stops.
    pub async fn run(self, stop: CancellationToken) {
        let agent = due_queue::http_agent(TIMEOUT);
        let (this, agent, stopping) = (&self, &agent, &stop);
        due_queue::run("transcription", &self.wake, &stop, move || this.transcribe_due(agent, stopping)).await;
    }

    /// Works through the due entries; answers how long until the next one is due.
    async fn transcribe_due(&self, agent: &ureq::Agent, stop: &CancellationToken) -> Result<Duration, String> {
        let due =
            self.readers.get().await.map_err(|e| e.to_string())?.transcriptions_due(16).map_err(|e| e.to_string())?;
        let mut next_due = due_queue::IDLE;
        for job in due {
            if stop.is_cancelled() {
                break;
            }
            let now = self.clock.now();
            if job.next_attempt > now {
                next_due = next_due.min(due_queue::until(job.next_attempt, now));
                continue;
            }
            let started = std::time::Instant::now();
            let change = match self.transcribe(agent, &job).await {
                Ok(transcript) => {
                    debug!(chat = %job.chat, id = %job.message_id, "transcribed in {:?}", started.elapsed());
                    TranscriptionChange::Done {
                        seq: job.seq,
                        chat: job.chat.clone(),
                        id: job.message_id.clone(),
                        transcript,
                    }
                }
                Err(Failure::Gone) => TranscriptionChange::Drop { seq: job.seq },
                Err(Failure::Retry(error)) if job.attempts + 1 < MAX_ATTEMPTS => {
                    warn!(chat = %job.chat, id = %job.message_id, "transcription failed, will retry: {error}");
                    let delay = RETRY.delay(job.attempts);
                    next_due = next_due.min(delay);
                    let next_attempt = Timestamp(self.clock.now().millis() + delay.as_millis() as i64);
                    TranscriptionChange::Retry { seq: job.seq, error, next_attempt }
                }
                Err(Failure::Retry(error) | Failure::GiveUp(error)) => {
                    warn!(chat = %job.chat, id = %job.message_id, "transcription given up: {error}");
                    TranscriptionChange::Failed {
                        seq: job.seq,
                        chat: job.chat.clone(),
                        id: job.message_id.clone(),
                        error,
                    }
                }
            };
            self.ingest.apply(|done| Command::Transcription { change, done }).await?;
        }
        Ok(next_due)
    }

    /// One attempt: the audio (saved first if need be), posted, the transcript read back.
    async fn transcribe(&self, agent: &ureq::Agent, job: &TranscriptionJob) -> Result<String, Failure> {
        let Ok(chat) = Jid::parse(&job.chat) else { return Err(Failure::Gone) };
        let stored =
            match self.readers.get().await.map_err(|e| Failure::Retry(e.to_string()))?.media(&chat, &job.message_id) {
                Ok(stored) => stored,
                Err(StoreError::NotFound(_)) => return Err(Failure::Gone),
                Err(StoreError::Invalid(why)) => return Err(Failure::GiveUp(why)),
                Err(e) => return Err(Failure::Retry(e.to_string())),
            };
        if !stored.kind.has_sound() {
            return Err(Failure::GiveUp(format!("a {} message has no audio", stored.kind.as_str())));
        }
        if stored.media.size.is_some_and(|size| size as usize > MAX_AUDIO_BYTES) {
            return Err(Failure::GiveUp(format!("larger than {} MB", MAX_AUDIO_BYTES >> 20)));
        }
        let local_path =
            crate::media::save(self.link.as_ref(), &self.media, &self.readers, &self.ingest, &chat, &job.message_id)
                .await
                .map_err(|e| match e {
                    SaveError::Store(StoreError::NotFound(_)) => Failure::Gone,
                    e => Failure::Retry(format!("cannot fetch the audio: {e}")),
                })?;
        let media = self.media.clone();
        let audio = tokio::task::spawn_blocking(move || media.read_saved(&local_path))
            .await
            .map_err(|e| Failure::Retry(e.to_string()))?
            .map_err(|e| Failure::Retry(format!("cannot read the saved audio: {e}")))?;
        if audio.len() > MAX_AUDIO_BYTES {
            return Err(Failure::GiveUp(format!("larger than {} MB", MAX_AUDIO_BYTES >> 20)));
        }
        let mimetype = stored.media.mimetype.as_deref().unwrap_or("audio/ogg");
        let file_type = mimetype.split(';').next().unwrap_or(mimetype).trim().to_string();
        let file_name =
            format!("{}.{}", stored.kind.as_str(), crate::media::extension_for(stored.kind, Some(mimetype)));
        let form = Form::new(&self.settings, file_name, file_type, audio);
        let (agent, url, key) = (agent.clone(), self.settings.endpoint(), self.settings.api_key.clone());
        tokio::task::spawn_blocking(move || post(&agent, &url, key.as_deref(), form))
            .await
            .map_err(|e| Failure::Retry(e.to_string()))?
    }
}

/// The multipart form of one request: the settings' fields and the audio file.
struct Form {
    boundary: String,
    body: Vec<u8>,
}

impl Form {
    fn new(settings: &TranscriptionSettings, file_name: String, file_type: String, audio: Vec<u8>) -> Form {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the system has randomness");
        let boundary: String = nonce.iter().fold("wamcp-".to_string(), |mut b, byte| {
            b.push_str(&format!("{byte:02x}"));
            b
        });
        let mut body = Vec::with_capacity(audio.len() + 1024);
        let mut field = |name: &str, value: &str| {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        };
        field("model", &settings.model);
        if let Some(language) = &settings.language {
            field("language", language);
        }
        field("response_format", "json");
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {file_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&audio);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Form { boundary, body }
    }
}

/// Posts the form and reads `{"text": …}` out of a 2xx answer.
fn post(agent: &ureq::Agent, url: &str, key: Option<&str>, form: Form) -> Result<String, Failure> {
    let mut request =
        agent.post(url).header("Content-Type", &format!("multipart/form-data; boundary={}", form.boundary));
    if let Some(key) = key {
        request = request.header("Authorization", &format!("Bearer {key}"));
    }
    let mut response = request.send(&form.body[..]).map_err(|e| Failure::Retry(format!("{url}: {e}")))?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    if !(200..300).contains(&status) {
        let detail: String = body.chars().take(200).collect();
        return Err(Failure::Retry(format!("{url} answered {status}: {detail}")));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        text: String,
    }
    serde_json::from_str::<Answer>(&body)
        .map(|answer| answer.text.trim().to_string())
        .map_err(|e| Failure::Retry(format!("{url} answered something other than {{\"text\": …}}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> TranscriptionSettings {
        TranscriptionSettings {
            url: url.into(),
            model: "whisper-1".into(),
            language: Some("en".into()),
            api_key: None,
            auto: vec![],
        }
    }

    #[test]
    fn the_endpoint_is_the_openai_path_under_the_url_given() {
        assert_eq!(settings("http://127.0.0.1:8080").endpoint(), "http://127.0.0.1:8080/v1/audio/transcriptions");
        assert_eq!(
            settings("https://api.groq.com/openai/v1/").endpoint(),
            "https://api.groq.com/openai/v1/audio/transcriptions"
        );
        assert_eq!(settings("http://h/x/audio/transcriptions").endpoint(), "http://h/x/audio/transcriptions");
    }

    #[test]
    fn only_loopback_hosts_count_as_this_machine() {
        for local in ["http://127.0.0.1:8080", "http://localhost/v1", "http://[::1]:9000", "http://u:p@127.0.0.2"] {
            assert!(settings(local).is_local(), "{local}");
        }
        for remote in ["https://api.openai.com/v1", "http://10.0.0.5:8080", "http://127.0.0.1.evil.com", "localhost"] {
            assert!(!settings(remote).is_local(), "{remote}");
        }
    }

    #[test]
    fn the_form_carries_the_model_the_language_and_the_file_with_its_type() {
        let form = Form::new(&settings("http://x"), "voice.ogg".into(), "audio/ogg".into(), b"OggS\x00\x02".to_vec());
        let body = String::from_utf8_lossy(&form.body);
        let b = &form.boundary;
        assert!(
            body.contains(&format!("--{b}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"))
        );
        assert!(body.contains("name=\"language\"\r\n\r\nen\r\n"));
        assert!(
            body.contains("name=\"file\"; filename=\"voice.ogg\"\r\nContent-Type: audio/ogg\r\n\r\nOggS\u{0}\u{2}\r\n")
        );
        assert!(body.ends_with(&format!("--{b}--\r\n")));
    }
}
