//! Saving attachments as they arrive, for the kinds the user chose (`--auto-download`).
//!
//! The writer hands over each new live message with such an attachment after it is committed;
//! this worker fetches them one at a time, so a burst of photos does not open a burst of
//! connections. History is not fetched: most of its media has long expired on the server, and a
//! first sync would download years of attachments. A failed download is logged and can be
//! retried with `POST /api/download`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tracing::{debug, warn};
use wamcp_core::{Jid, MessageKind};
use wamcp_link::Link;
use wamcp_store::Reader;

use crate::ingest::Ingest;

/// Which attachments to save, and where the writer sends them.
#[derive(Clone, Default)]
pub struct AutoDownload {
    pub kinds: Vec<MessageKind>,
    queue: Option<mpsc::UnboundedSender<(Jid, String)>>,
}

impl AutoDownload {
    /// An `AutoDownload` for `kinds` and the receiver its worker reads.
    pub fn new(kinds: Vec<MessageKind>) -> (AutoDownload, mpsc::UnboundedReceiver<(Jid, String)>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (AutoDownload { kinds, queue: Some(sender) }, receiver)
    }

    pub fn wants(&self, kind: MessageKind) -> bool {
        self.queue.is_some() && self.kinds.contains(&kind)
    }

    /// Queues a committed message for download.
    pub fn queue(&self, chat: Jid, id: String) {
        if let Some(queue) = &self.queue {
            let _ = queue.send((chat, id));
        }
    }
}

/// The worker: fetches queued attachments until the writer's side is gone.
pub async fn run(
    mut queued: mpsc::UnboundedReceiver<(Jid, String)>,
    link: Arc<dyn Link>,
    data_dir: PathBuf,
    reader: Mutex<Reader>,
    ingest: Ingest,
) {
    while let Some((chat, id)) = queued.recv().await {
        match crate::media::save(link.as_ref(), &data_dir, &reader, &ingest, &chat, &id).await {
            Ok(path) => debug!("saved the attachment of {chat}/{id} to {path}"),
            Err(e) => warn!("could not save the attachment of {chat}/{id} automatically: {e}"),
        }
    }
}
