//! Storing what a link reports without running the daemon: `wamcp demo --no-serve` fills a store
//! from one connection, and `wamcp login` keeps what arrives between pairing and the first login
//! (contacts, the first history chunks, messages), which nothing would otherwise store.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use wamcp_core::LinkEvent;
use wamcp_store::Writer;

use crate::DaemonError;
use crate::events::EventBus;
use crate::group_names::GroupNames;
use crate::ingest::{self, Ingest};
use crate::status::Status;

/// The store's writer, taking link events.
pub struct EventStore {
    events: mpsc::Sender<LinkEvent>,
    forwarder: tokio::task::JoinHandle<()>,
    ingest: Ingest,
    writer: std::thread::JoinHandle<()>,
}

impl EventStore {
    /// Opens the store in `data_dir` (creating it if need be) and starts its writer.
    pub fn open(data_dir: &Path) -> Result<EventStore, DaemonError> {
        let writer = Writer::open(&data_dir.join(wamcp_store::data_dir::STORE_FILE))?;
        let (ingest, writer) = Ingest::start(
            writer,
            Arc::new(Status::default()),
            EventBus::default(),
            ingest::WebhookTargets::default(),
            ingest::TranscriptionTargets::default(),
            GroupNames::default(),
            Arc::new(wamcp_core::SystemClock),
        );
        let (events, forwarder) = ingest.forward_link_events();
        Ok(EventStore { events, forwarder, ingest, writer })
    }

    /// Where to send the events to store.
    pub fn sender(&self) -> mpsc::Sender<LinkEvent> {
        self.events.clone()
    }

    /// Stores what was sent before (once every sender is gone) and stops the writer.
    pub async fn close(self) {
        drop(self.events);
        let _ = self.forwarder.await;
        drop(self.ingest);
        let writer = self.writer;
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    }
}
