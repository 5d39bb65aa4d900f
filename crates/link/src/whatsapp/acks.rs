//! Waiting for WhatsApp's acknowledgement of a sent message. The library's send returns once the
//! stanza is written to the socket; a kill -9 right after would lose a message wamcp had already
//! reported as sent. So a send registers its id here first, and counts as sent only when the
//! server's `<ack>` for that id arrives (`Event::ServerAck`). Without one in time it is retried
//! under the same id, which the server takes at most once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use wamcp_core::Timestamp;
use whatsapp_rust::types::events::ServerAck;

/// How long a send waits for the server's acknowledgement.
pub const ACK_WAIT: Duration = Duration::from_secs(30);

/// What the server said about a message: taken (when, if it said), or refused with a code.
pub type Answer = Result<Option<Timestamp>, String>;

/// Sends waiting for their acknowledgement, by message id.
#[derive(Clone, Default)]
pub struct ServerAcks(Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>);

impl ServerAcks {
    /// Registers a send before it goes out, so an ack that comes quickly is not missed.
    pub fn expect(&self, id: &str) -> oneshot::Receiver<Answer> {
        let (answer, answered) = oneshot::channel();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), answer);
        answered
    }

    /// Forgets a send that will not be acknowledged (it failed before reaching the server).
    pub fn forget(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// Hands a server ack to the send waiting for it. Acks of receipts and other stanzas are
    /// ignored.
    pub fn heard(&self, ack: &ServerAck) {
        if ack.class.as_deref().is_some_and(|class| class != "message") {
            return;
        }
        let waiting = self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&ack.id);
        if let Some(waiting) = waiting {
            let answer = match &ack.error {
                Some(code) => Err(code.clone()),
                None => Ok(ack.timestamp.map(|t| Timestamp(t.timestamp_millis()))),
            };
            let _ = waiting.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(id: &str, class: Option<&str>, error: Option<&str>) -> ServerAck {
        ServerAck::builder()
            .id(id.to_string())
            .maybe_class(class.map(str::to_string))
            .maybe_error(error.map(str::to_string))
            .build()
    }

    #[tokio::test]
    async fn a_send_hears_its_own_message_ack_and_nothing_else() {
        let acks = ServerAcks::default();
        let mut waiting = acks.expect("3EB0A");
        acks.heard(&ack("3EB0A", Some("receipt"), None));
        acks.heard(&ack("3EB0B", Some("message"), None));
        assert!(waiting.try_recv().is_err(), "a receipt's ack or another message's is not this one");
        acks.heard(&ack("3EB0A", Some("message"), None));
        assert_eq!(waiting.await.unwrap(), Ok(None));
        let refused = acks.expect("3EB0C");
        acks.heard(&ack("3EB0C", None, Some("479")));
        assert_eq!(refused.await.unwrap(), Err("479".to_string()));
    }
}
