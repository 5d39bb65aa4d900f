//! Store first, acknowledge second. Without a hook the library acknowledges a message to
//! WhatsApp as soon as it is decrypted, before wamcp has stored it: a kill -9 in between loses a
//! message the server will never send again. With [`StoreFirst`] registered, the library awaits
//! it for every received batch (in the order the messages arrived), and acknowledges only when it
//! returns `Ok`, which it does once the daemon's store has committed the batch. A failure leaves
//! the batch unacknowledged, and WhatsApp delivers it again on the next connection (the store
//! keeps one copy of a message delivered twice).

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use wamcp_core::{CommitSignal, LinkEvent};
use whatsapp_rust::types::events::InboundMessage;
use whatsapp_rust::{Client, InboundDurabilityHook, async_trait};

use super::events::messages;

/// The daemon's event channel, emptied when the link disconnects.
pub type Sink = Arc<Mutex<Option<mpsc::Sender<LinkEvent>>>>;

/// The hook: hands each batch to the daemon as one durable event and waits for its commit.
pub struct StoreFirst(pub Sink);

#[async_trait]
impl InboundDurabilityHook for StoreFirst {
    async fn on_messages(&self, _client: Arc<Client>, batch: &[InboundMessage]) -> whatsapp_rust::anyhow::Result<()> {
        let Some(events) = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
            whatsapp_rust::anyhow::bail!("the link is disconnecting: nothing stores messages now");
        };
        let (committed, stored) = oneshot::channel();
        let signal = CommitSignal::new(move || {
            let _ = committed.send(());
        });
        let durable = LinkEvent::Durable { events: messages(batch.iter()), committed: signal };
        if events.send(durable).await.is_err() {
            whatsapp_rust::anyhow::bail!("the daemon's store is gone");
        }
        stored.await.map_err(|_| whatsapp_rust::anyhow::anyhow!("the store did not commit the messages"))
    }
}
