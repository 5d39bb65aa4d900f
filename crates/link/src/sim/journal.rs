//! What the simulated server has accepted, one JSON line per message, flushed to disk before the
//! send is acknowledged: the record a test reads to see that nothing was lost or sent twice.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use wamcp_core::{Content, Outgoing, Timestamp};

/// One message the network accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRecord {
    pub chat: String,
    pub id: String,
    /// text, image, video, audio, voice, document, sticker, reaction, edit or revoke.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The message a reply, reaction, edit or deletion refers to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mimetype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waveform: Option<Vec<u8>>,
    /// Milliseconds UTC.
    pub at: i64,
}

impl SentRecord {
    pub fn timestamp(&self) -> Timestamp {
        Timestamp(self.at)
    }

    fn of(message: &Outgoing, at: Timestamp) -> SentRecord {
        let mut record = SentRecord {
            chat: message.chat.to_string(),
            id: message.id.to_string(),
            kind: String::new(),
            text: None,
            caption: None,
            target: message.reply_to.as_ref().map(|quoted| quoted.id.to_string()),
            mentions: message.mentions.iter().map(ToString::to_string).collect(),
            file_name: None,
            mimetype: None,
            size: None,
            seconds: None,
            waveform: None,
            at: at.millis(),
        };
        match &message.content {
            Content::Text(text) => {
                record.kind = "text".into();
                record.text = Some(text.clone());
            }
            Content::Media(attachment) => {
                record.kind = attachment.kind.as_str().into();
                record.caption = attachment.caption.clone();
                record.file_name = attachment.file_name.clone();
                record.mimetype = Some(attachment.mimetype.clone());
                record.size = Some(attachment.data.len());
                record.seconds = attachment.seconds;
                record.waveform = attachment.waveform.clone();
            }
            Content::Reaction { target, emoji } => {
                record.kind = "reaction".into();
                record.text = Some(emoji.clone());
                record.target = Some(target.id.to_string());
            }
            Content::Edit { target, text } => {
                record.kind = "edit".into();
                record.text = Some(text.clone());
                record.target = Some(target.id.to_string());
            }
            Content::Revoke { target } => {
                record.kind = "revoke".into();
                record.target = Some(target.id.to_string());
            }
        }
        record
    }
}

pub(super) struct Journal {
    inner: Mutex<Inner>,
}

struct Inner {
    file: Option<File>,
    records: Vec<SentRecord>,
    seen: HashSet<(String, String)>,
}

impl Journal {
    /// Opens (or starts) the journal at `path`; without a path it lives in memory.
    pub(super) fn open(path: Option<PathBuf>) -> std::io::Result<Journal> {
        let mut records = Vec::new();
        let file = match path {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                if path.exists() {
                    for line in BufReader::new(File::open(&path)?).lines() {
                        let line = line?;
                        // A kill can leave half a line at the end: that send was never acknowledged.
                        if let Ok(record) = serde_json::from_str::<SentRecord>(&line) {
                            records.push(record);
                        }
                    }
                }
                Some(OpenOptions::new().create(true).append(true).open(&path)?)
            }
            None => None,
        };
        let seen = records.iter().map(|r| (r.chat.clone(), r.id.clone())).collect();
        Ok(Journal { inner: Mutex::new(Inner { file, records, seen }) })
    }

    pub(super) fn len(&self) -> usize {
        self.lock().records.len()
    }

    pub(super) fn records(&self) -> Vec<SentRecord> {
        self.lock().records.clone()
    }

    /// Records a message unless its (chat, id) was accepted before; returns the record the
    /// network holds and whether this was the first time.
    pub(super) fn accept(&self, message: &Outgoing, now: Timestamp) -> std::io::Result<(SentRecord, bool)> {
        let mut inner = self.lock();
        let key = (message.chat.to_string(), message.id.to_string());
        if inner.seen.contains(&key) {
            let record = inner.records.iter().find(|r| r.chat == key.0 && r.id == key.1).cloned();
            if let Some(record) = record {
                return Ok((record, false));
            }
        }
        let record = SentRecord::of(message, now);
        if let Some(file) = inner.file.as_mut() {
            let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
            line.push(b'\n');
            file.write_all(&line)?;
            file.sync_data()?;
        }
        inner.seen.insert(key);
        inner.records.push(record.clone());
        Ok((record, true))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
