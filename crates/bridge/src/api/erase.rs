//! `POST /api/forget`: erasing a person while the daemon runs, through its one writer (so a
//! large erasure never makes the writer wait on another process's lock), then their files.

use tokio::sync::oneshot;
use wamcp_api::http::ApiError;
use wamcp_api::{Forget, Forgotten};
use wamcp_core::Jid;

use super::AppState;
use crate::ingest::Command;

impl AppState {
    pub(super) async fn forget(&self, request: Forget) -> Result<Forgotten, ApiError> {
        let person = Jid::parse_one_person(&request.jid).map_err(|e| ApiError::bad_request(format!("jid: {e}")))?;
        let (reply, erased) = oneshot::channel();
        self.ingest.send(Command::Forget { person: person.clone(), reply }).await.map_err(ApiError::unavailable)?;
        let erased = erased.await.map_err(|_| ApiError::internal("the store could not erase; nothing was removed"))?;
        let (dir, files) = (self.data_dir().to_path_buf(), erased.media_files.clone());
        let removed = tokio::task::spawn_blocking(move || wamcp_store::erase::remove_media_files(&dir, &files))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| {
                ApiError::internal(format!("the rows are gone, but an attachment file could not be deleted: {e}"))
            })?;
        Ok(Forgotten {
            success: true,
            jid: person.to_string(),
            messages: erased.messages,
            chats: erased.chats,
            contacts: erased.contacts,
            reactions: erased.reactions,
            receipts: erased.receipts,
            outbox_entries: erased.outbox_entries,
            files: removed,
        })
    }
}
