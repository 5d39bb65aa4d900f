//! The daemon's event channel. The events themselves (new messages, receipts, send results,
//! connection changes) are types of the API (`wamcp_api::events`), because listeners outside
//! the daemon read them too; each is published only after its change is committed.

use tokio::sync::broadcast;
pub use wamcp_api::events::{BridgeEvent, MessageEvent};

/// How many events a slow listener may fall behind before it misses some.
const BACKLOG: usize = 1024;

/// The daemon's event channel: any number of listeners (SSE clients, webhooks).
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<BridgeEvent>,
}

impl Default for EventBus {
    fn default() -> EventBus {
        EventBus { sender: broadcast::channel(BACKLOG).0 }
    }
}

impl EventBus {
    pub fn publish(&self, event: BridgeEvent) {
        // No listener is fine: events are a view of the store, not a queue.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BridgeEvent> {
        self.sender.subscribe()
    }
}
