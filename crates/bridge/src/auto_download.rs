//! Saving attachments as they arrive, for the kinds the user chose (`--auto-download`).
//!
//! The worker listens to the event bus, which publishes each new live message once it is
//! committed, and fetches the chosen kinds one at a time, so a burst of photos does not open a
//! burst of connections. History is not published, so it is not fetched: most of its media has
//! long expired on the server, and a first sync would download years of attachments. A failed
//! download is logged and can be retried with `POST /api/download`, as can one the worker fell
//! too far behind to see (the bus keeps a bounded backlog).

use std::sync::Arc;

use tokio::sync::broadcast;
use tracing::{debug, warn};
use wamcp_core::{Jid, MessageKind};
use wamcp_link::Link;

use crate::events::BridgeEvent;
use crate::ingest::Ingest;
use crate::media::MediaFolder;
use crate::readers::Readers;

/// What the worker needs to fetch and store attachments.
pub struct AutoDownload {
    /// The kinds to save (images, voice notes, …).
    pub kinds: Vec<MessageKind>,
    pub link: Arc<dyn Link>,
    pub media: MediaFolder,
    pub readers: Readers,
    pub ingest: Ingest,
}

impl AutoDownload {
    /// Fetches the chosen attachments of new messages from others until the bus closes.
    pub async fn run(self, mut events: broadcast::Receiver<BridgeEvent>) {
        loop {
            let message = match events.recv().await {
                Ok(BridgeEvent::Message(message)) => message,
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(
                        "auto-download fell behind: {missed} events went by unseen; POST /api/download fetches any it missed"
                    );
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if message.is_from_me || !self.kinds.contains(&message.kind) {
                continue;
            }
            let Ok(chat) = Jid::parse(&message.chat_jid) else { continue };
            let id = message.id;
            match crate::media::save(self.link.as_ref(), &self.media, &self.readers, &self.ingest, &chat, &id).await {
                Ok(path) => debug!("saved the attachment of {chat}/{id} to {path}"),
                Err(e) => warn!("could not save the attachment of {chat}/{id} automatically: {e}"),
            }
        }
    }
}
