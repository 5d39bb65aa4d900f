//! Transcriptions of voice notes and audio to make: queued with the message they name (or when a
//! caller asks), retried with backoff, and either stored as the message's transcript or given up
//! with the reason kept, so asking again says why.

use rusqlite::{OptionalExtension, params};
use wamcp_core::{Jid, Timestamp};

use crate::write::Batch;
use crate::{Reader, Result};

/// One transcription waiting for its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionJob {
    pub seq: i64,
    pub chat: String,
    pub message_id: String,
    pub attempts: u32,
    pub next_attempt: Timestamp,
}

/// Where a message's transcription stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transcription {
    /// Nobody asked for one.
    None,
    /// Waiting in the queue (after `attempts` failed tries; the last one's error).
    Queued { attempts: u32, last_error: Option<String> },
    /// Given up: why.
    Failed { error: String },
    /// Done.
    Done { transcript: String },
}

/// What queueing a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// A new entry, or a failed one put back in the queue.
    Now,
    /// It was queued already.
    Already,
}

impl Batch<'_> {
    /// Queues the transcription of a message, due now. A failed one is queued again from the
    /// start; one already queued stays as it is.
    pub fn queue_transcription(&mut self, chat: &Jid, message_id: &str, now: Timestamp) -> Result<Queued> {
        let changed = self
            .conn
            .prepare_cached(
                "INSERT INTO transcription_queue (chat_jid, message_id, state, next_attempt, created)
                 VALUES (?1, ?2, 'queued', ?3, ?3)
                 ON CONFLICT (message_id, chat_jid) DO UPDATE
                    SET state = 'queued', attempts = 0, next_attempt = ?3, last_error = NULL
                    WHERE state = 'failed'",
            )?
            .execute(params![chat.as_str(), message_id, now.millis()])?;
        Ok(if changed > 0 { Queued::Now } else { Queued::Already })
    }

    /// Stores a transcript with its message and closes the entry. Returns whether the message was
    /// still there.
    pub fn store_transcript(&mut self, seq: i64, chat: &str, message_id: &str, transcript: &str) -> Result<bool> {
        let stored = self
            .conn
            .prepare_cached("UPDATE messages SET transcript = ?3 WHERE chat_jid = ?1 AND id = ?2 AND revoked = 0")?
            .execute(params![chat, message_id, transcript])?;
        self.drop_transcription(seq)?;
        Ok(stored > 0)
    }

    pub fn transcription_retry_at(&mut self, seq: i64, error: &str, next_attempt: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE transcription_queue SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3 WHERE seq = ?1",
            )?
            .execute(params![seq, error, next_attempt.millis()])?;
        Ok(())
    }

    /// Gives an entry up: it stays, failed, so that asking again says why.
    pub fn transcription_failed(&mut self, seq: i64, error: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE transcription_queue SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE seq = ?1",
            )?
            .execute(params![seq, error])?;
        Ok(())
    }

    /// Removes an entry (done, or its message is gone).
    pub fn drop_transcription(&mut self, seq: i64) -> Result<()> {
        self.conn.prepare_cached("DELETE FROM transcription_queue WHERE seq = ?1")?.execute([seq])?;
        Ok(())
    }
}

impl Reader {
    /// Queued transcriptions, the soonest due first.
    pub fn transcriptions_due(&self, limit: u32) -> Result<Vec<TranscriptionJob>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT seq, chat_jid, message_id, attempts, next_attempt FROM transcription_queue
                 WHERE state = 'queued' ORDER BY next_attempt, seq LIMIT ?1",
            )?
            .query_map([limit], |row| {
                Ok(TranscriptionJob {
                    seq: row.get(0)?,
                    chat: row.get(1)?,
                    message_id: row.get(2)?,
                    attempts: row.get(3)?,
                    next_attempt: Timestamp(row.get(4)?),
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Where the transcription of message `id` in `chat` stands.
    pub fn transcription(&self, chat: &Jid, id: &str) -> Result<Transcription> {
        let transcript: Option<String> = self
            .conn
            .prepare_cached("SELECT transcript FROM messages WHERE chat_jid = ?1 AND id = ?2")?
            .query_row(params![chat.as_str(), id], |row| row.get(0))
            .optional()?
            .flatten();
        if let Some(transcript) = transcript {
            return Ok(Transcription::Done { transcript });
        }
        let entry: Option<(String, u32, Option<String>)> = self
            .conn
            .prepare_cached(
                "SELECT state, attempts, last_error FROM transcription_queue WHERE chat_jid = ?1 AND message_id = ?2",
            )?
            .query_row(params![chat.as_str(), id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        Ok(match entry {
            None => Transcription::None,
            Some((state, _, error)) if state == "failed" => {
                Transcription::Failed { error: error.unwrap_or_else(|| "unknown".into()) }
            }
            Some((_, attempts, last_error)) => Transcription::Queued { attempts, last_error },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MessageFilter, Writer};
    use wamcp_core::{Media, Message, MessageKind};

    fn voice_note(chat: &Jid, id: &str) -> Message {
        let mut message = Message::text(chat.clone(), id, Some(chat.clone()), false, Timestamp(1_700_000_000_000), "");
        message.kind = MessageKind::Voice;
        message.text = None;
        message.media = Some(Media { mimetype: Some("audio/ogg; codecs=opus".into()), ..Media::default() });
        message
    }

    fn search(reader: &Reader, words: &str) -> Vec<String> {
        let filter = MessageFilter { query: Some(words.into()), limit: 10, ..MessageFilter::default() };
        reader.list_messages(&filter).unwrap().matches.into_iter().map(|m| m.message.id).collect()
    }

    const NOW: Timestamp = Timestamp(1_700_000_100_000);

    /// A store holding one voice note, `id`, queued for transcription.
    fn queued_voice_note(id: &str) -> (tempfile::TempDir, Writer, Reader, Jid) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wamcp.db");
        let mut writer = Writer::open(&path).unwrap();
        let chat = Jid::parse("447700900123@s.whatsapp.net").unwrap();
        let mut batch = writer.batch().unwrap();
        batch.insert_message(&voice_note(&chat, id)).unwrap();
        assert_eq!(batch.queue_transcription(&chat, id, NOW).unwrap(), Queued::Now);
        assert_eq!(batch.queue_transcription(&chat, id, NOW).unwrap(), Queued::Already);
        batch.commit().unwrap();
        let reader = Reader::open(&path).unwrap();
        (dir, writer, reader, chat)
    }

    #[test]
    fn a_transcript_is_found_by_search_and_leaves_the_queue() {
        let (_dir, mut writer, reader, chat) = queued_voice_note("V1");
        let due = reader.transcriptions_due(10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(reader.transcription(&chat, "V1").unwrap(), Transcription::Queued { attempts: 0, last_error: None });
        assert!(search(&reader, "invoice").is_empty());

        let mut batch = writer.batch().unwrap();
        assert!(batch.store_transcript(due[0].seq, chat.as_str(), "V1", "the invoice is paid").unwrap());
        batch.commit().unwrap();
        assert_eq!(search(&reader, "invoice"), ["V1"]);
        assert!(reader.transcriptions_due(10).unwrap().is_empty());
        assert_eq!(
            reader.transcription(&chat, "V1").unwrap(),
            Transcription::Done { transcript: "the invoice is paid".into() }
        );

        // Deleted for everyone: the transcript goes with the text, and the index forgets it.
        let mut batch = writer.batch().unwrap();
        batch.revoke_message(&chat, "V1").unwrap();
        batch.commit().unwrap();
        assert!(search(&reader, "invoice").is_empty());
    }

    #[test]
    fn a_failed_transcription_says_why_and_asking_again_queues_it_anew() {
        let (_dir, mut writer, reader, chat) = queued_voice_note("V2");
        let seq = reader.transcriptions_due(1).unwrap()[0].seq;

        let mut batch = writer.batch().unwrap();
        batch.transcription_failed(seq, "the endpoint answered 401").unwrap();
        batch.commit().unwrap();
        assert_eq!(
            reader.transcription(&chat, "V2").unwrap(),
            Transcription::Failed { error: "the endpoint answered 401".into() }
        );
        assert!(reader.transcriptions_due(10).unwrap().is_empty(), "a failed entry is not due");

        let mut batch = writer.batch().unwrap();
        assert_eq!(batch.queue_transcription(&chat, "V2", NOW).unwrap(), Queued::Now);
        batch.commit().unwrap();
        assert_eq!(reader.transcription(&chat, "V2").unwrap(), Transcription::Queued { attempts: 0, last_error: None });
    }
}
