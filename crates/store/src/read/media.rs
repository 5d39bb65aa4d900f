//! What is needed to fetch a stored message's attachment.

use rusqlite::{OptionalExtension, params};
use wamcp_core::{Jid, Media, MessageKind};

use super::Reader;
use crate::{Result, StoreError};

/// A message's attachment and the message facts a download request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia {
    pub kind: MessageKind,
    pub from_me: bool,
    /// The chat and sender as the message arrived (a LID where WhatsApp used one): a re-upload
    /// request names the message so.
    pub wire_chat: Jid,
    pub sender: Option<Jid>,
    pub media: Media,
}

impl Reader {
    /// The identity that opens sealed attachments, if the store has one (`encrypt_media` was on).
    pub fn media_seal(&self) -> Result<Option<crate::media_seal::MediaSeal>> {
        crate::media_seal::MediaSeal::load(&self.conn)
    }

    /// Where the downloaded attachment of message `id` in `chat` is on disk, if it was
    /// downloaded and is still there (stored relative to the data directory, beside the store).
    pub fn media_file(&self, chat: &Jid, id: &str) -> Result<Option<std::path::PathBuf>> {
        let stored = self.media(chat, id)?;
        let data_dir = self.conn.path().map(std::path::Path::new).and_then(std::path::Path::parent);
        Ok(match (data_dir, stored.media.local_path) {
            (Some(dir), Some(local)) => Some(dir.join(local)).filter(|file| file.is_file()),
            _ => None,
        })
    }

    /// The attachment of message `id` in `chat`; an error says when there is no such message or
    /// it has no attachment.
    pub fn media(&self, chat: &Jid, id: &str) -> Result<StoredMedia> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT kind, from_me, coalesce(wire_sender, sender_jid), mimetype, file_name, file_size, file_sha256, file_enc_sha256,
                        media_key, direct_path, url, local_path, revoked, coalesce(wire_chat, chat_jid), media_seconds
                 FROM messages WHERE chat_jid = ?1 AND id = ?2",
            )?
            .query_row(params![chat.as_str(), id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, bool>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    Media {
                        mimetype: row.get(3)?,
                        file_name: row.get(4)?,
                        size: row.get::<_, Option<i64>>(5)?.map(|s| s as u64),
                        sha256: row.get(6)?,
                        enc_sha256: row.get(7)?,
                        media_key: row.get(8)?,
                        direct_path: row.get(9)?,
                        url: row.get(10)?,
                        local_path: row.get(11)?,
                        seconds: row.get(14)?,
                    },
                    row.get::<_, bool>(12)?,
                    row.get::<_, String>(13)?,
                ))
            })
            .optional()?;
        let Some((kind, from_me, sender, media, revoked, wire_chat)) = row else {
            return Err(StoreError::NotFound(format!("no message with id {id} in chat {chat}")));
        };
        let kind = MessageKind::parse(&kind).unwrap_or(MessageKind::Text);
        if revoked {
            return Err(StoreError::Invalid(format!("message {id} was deleted for everyone: its media is gone")));
        }
        if !kind.has_media() {
            return Err(StoreError::Invalid(format!("message {id} is a {} message: it has no media", kind.as_str())));
        }
        Ok(StoredMedia {
            kind,
            from_me,
            wire_chat: Jid::parse(&wire_chat).unwrap_or_else(|_| chat.clone()),
            sender: sender.and_then(|s| Jid::parse(&s).ok()),
            media,
        })
    }
}
