//! A saved attachment as the MCP server reads it: its bytes from the data directory (opened in
//! memory when sealed under `encrypt_media`: no plain copy touches the disk), with what the store
//! knows of it. The resources, `get_media` and `read_document` read through here.

use std::path::PathBuf;

use wamcp_core::Jid;
use wamcp_store::{Reader, StoredMedia};

/// A downloaded attachment.
pub struct Saved {
    pub bytes: Vec<u8>,
    pub stored: StoredMedia,
    /// Where it is saved (sealed, under `encrypt_media`).
    pub path: PathBuf,
}

/// The attachment of message `id` in `chat`, if downloaded and at most `max_bytes`; else why not.
pub fn saved(reader: &Reader, chat: &Jid, id: &str, max_bytes: u64) -> Result<Saved, String> {
    let stored = reader.media(chat, id).map_err(|e| e.to_string())?;
    let path = reader
        .media_file(chat, id)
        .map_err(|e| e.to_string())?
        .ok_or("the attachment is not downloaded; call download_media first")?;
    let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
    if size > max_bytes {
        return Err(format!(
            "the file is {size} bytes, more than {max_bytes} can be read here; it is at {}",
            path.display()
        ));
    }
    let bytes = match reader.media_seal().map_err(|e| e.to_string())? {
        Some(seal) => seal.open(&path),
        None => std::fs::read(&path),
    }
    .map_err(|e| e.to_string())?;
    Ok(Saved { bytes, stored, path })
}
