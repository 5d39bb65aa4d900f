//! Fetching attachments into `media/<chat>/<id>.<ext>` under the data directory.
//!
//! Names come from other people (a sender picks the file name), so every path component is
//! rebuilt from safe characters: a name like `../../x` can never point outside the media folder.
//! Media the server no longer has is asked for again from the sender's phone, then fetched.
//! Under `encrypt_media` the file is written sealed ([`wamcp_store::media_seal`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wamcp_core::{Jid, MessageId, MessageKind};
use wamcp_link::{Link, LinkError, MediaRequest};
use wamcp_store::media_seal::MediaSeal;
use wamcp_store::{StoreError, StoredMedia};

use crate::ingest::{Command, Ingest};
use crate::readers::Readers;

/// Where an attachment is saved, relative to the data directory.
pub fn media_path(chat: &Jid, id: &str, kind: MessageKind, file_name: Option<&str>, mimetype: Option<&str>) -> String {
    let extension = file_name
        .and_then(|name| name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()))
        .filter(|ext| (1..=8).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| extension_for(kind, mimetype).to_string());
    format!("media/{}/{}.{extension}", safe_component(chat.as_str()), safe_component(id))
}

/// A path component made of letters, digits, `@`, `-`, `_` and inner dots only.
fn safe_component(raw: &str) -> String {
    let cleaned: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || "@-_.".contains(c) { c } else { '_' }).collect();
    let trimmed = cleaned.trim_matches('.');
    if trimmed.is_empty() { "_".to_string() } else { trimmed.replace("..", "_") }
}

/// The usual extension of a file of this type (or of this kind of message).
pub fn extension_for(kind: MessageKind, mimetype: Option<&str>) -> &'static str {
    let mime = mimetype.unwrap_or("").split(';').next().unwrap_or("").trim();
    match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "application/pdf" => "pdf",
        _ => match kind {
            MessageKind::Image => "jpg",
            MessageKind::Video => "mp4",
            MessageKind::Voice => "ogg",
            MessageKind::Audio => "mp3",
            MessageKind::Sticker => "webp",
            _ => "bin",
        },
    }
}

/// Where attachments are saved, and whether sealed.
#[derive(Debug, Clone)]
pub struct MediaFolder {
    /// The data directory; attachments go to its `media/`.
    pub data_dir: PathBuf,
    /// The store's identity, when it has one: it opens sealed attachments.
    pub seal: Option<Arc<MediaSeal>>,
    /// Under `encrypt_media`: new attachments are sealed for `seal` (which is then set).
    pub sealing: bool,
}

impl MediaFolder {
    /// The identity new attachments are sealed for, under `encrypt_media`.
    fn sealing_for(&self) -> Option<&MediaSeal> {
        self.seal.as_deref().filter(|_| self.sealing)
    }

    /// The plain bytes of the attachment saved at `local_path` (relative to the data directory),
    /// opened in memory when it is sealed. Blocking.
    pub fn read_saved(&self, local_path: &str) -> std::io::Result<Vec<u8>> {
        let path = self.data_dir.join(local_path);
        match &self.seal {
            Some(seal) => seal.open(&path),
            None => std::fs::read(&path),
        }
    }
}

/// What a download did.
pub struct Downloaded {
    /// Relative to the data directory.
    pub local_path: String,
    /// The refreshed server path, when the media had expired and was uploaded again.
    pub new_direct_path: Option<String>,
    pub bytes: usize,
}

/// Fetches an attachment and writes it under `data_dir` (atomically: a reader never sees half a
/// file). Expired media is asked for again once.
pub async fn download(
    link: &dyn Link,
    folder: &MediaFolder,
    chat: &Jid,
    id: &str,
    stored: StoredMedia,
) -> Result<Downloaded, LinkError> {
    let mut request = MediaRequest {
        chat: stored.wire_chat,
        id: MessageId(id.to_string()),
        from_me: stored.from_me,
        sender: stored.sender,
        kind: stored.kind,
        media: stored.media,
    };
    let mut new_direct_path = None;
    let data = match link.download(&request).await {
        Err(LinkError::MediaExpired) => {
            request.media = link.request_reupload(&request).await?;
            new_direct_path = request.media.direct_path.clone();
            link.download(&request).await?
        }
        other => other?,
    };
    let local_path =
        media_path(chat, id, request.kind, request.media.file_name.as_deref(), request.media.mimetype.as_deref());
    let target = folder.data_dir.join(&local_path);
    write_atomically(&target, &data, folder.sealing_for())
        .map_err(|e| LinkError::Refused(format!("cannot write {}: {e}", target.display())))?;
    Ok(Downloaded { local_path, new_direct_path, bytes: data.len() })
}

/// Why an attachment could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// No such message, or it has no attachment.
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("download failed: {0}")]
    Link(#[from] LinkError),
    #[error("{0}")]
    Writer(String),
}

/// Saves a message's attachment unless it is saved already, and records where (and the
/// refreshed server path, if it had to be uploaded again). Returns the path relative to
/// `data_dir`. `POST /api/download` and automatic downloads both come here.
pub async fn save(
    link: &dyn Link,
    folder: &MediaFolder,
    readers: &Readers,
    ingest: &Ingest,
    chat: &Jid,
    id: &str,
) -> Result<String, SaveError> {
    let stored = readers.get().await?.media(chat, id)?;
    if let Some(existing) = stored.media.local_path.as_deref().filter(|p| folder.data_dir.join(p).is_file()) {
        return Ok(existing.to_string());
    }
    let downloaded = download(link, folder, chat, id, stored).await?;
    let (chat, id, local_path) = (chat.clone(), id.to_string(), downloaded.local_path.clone());
    let direct_path = downloaded.new_direct_path;
    ingest
        .apply(|done| Command::MediaLocation { chat, id, local_path: Some(local_path), direct_path, done })
        .await
        .map_err(SaveError::Writer)?;
    Ok(downloaded.local_path)
}

fn write_atomically(target: &Path, data: &[u8], seal: Option<&MediaSeal>) -> std::io::Result<()> {
    let dir = target.parent().expect("media paths have a folder");
    std::fs::create_dir_all(dir)?;
    wamcp_store::media_seal::replace(target, |out| {
        use std::io::Write;
        match seal {
            Some(seal) => seal.seal(data, out),
            None => out.write_all(data),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_inside_the_media_folder() {
        let chat = Jid::parse("447700900123@s.whatsapp.net").unwrap();
        for (id, name) in [("../../x", Some("../../etc/passwd")), ("..", Some("a.b/../..")), ("a/b", Some(".."))] {
            let path = media_path(&chat, id, MessageKind::Document, name, None);
            assert!(path.starts_with("media/447700900123@s.whatsapp.net/"), "{path}");
            assert!(!path.contains(".."), "{path}");
            assert_eq!(path.matches('/').count(), 2, "{path}");
        }
    }

    #[test]
    fn the_extension_comes_from_the_file_name_or_the_type() {
        let chat = Jid::parse("1203630@g.us").unwrap();
        assert_eq!(
            media_path(&chat, "ID1", MessageKind::Document, Some("Report.PDF"), None),
            "media/1203630@g.us/ID1.pdf"
        );
        assert_eq!(media_path(&chat, "ID2", MessageKind::Image, None, Some("image/png")), "media/1203630@g.us/ID2.png");
        assert_eq!(media_path(&chat, "ID3", MessageKind::Voice, Some("x.o gg"), None), "media/1203630@g.us/ID3.ogg");
    }
}
