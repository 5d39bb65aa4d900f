//! The desk inside the daemon: the plug that gives it the daemon's outbox, and the feed that
//! hands it every incoming direct message the moment the daemon has stored it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wamcp_bridge::events::BridgeEvent;
use wamcp_bridge::extension::{Extension, Parts};
use wamcp_bridge::status::Status;
use wamcp_core::Timestamp;
use wamcp_desk::http::DeskApp;
use wamcp_desk::{Desk, Liveness, Via, WhatsappSource};

/// The plug that connects `desk` to the daemon once its API starts.
pub fn extension(desk: Arc<Desk>) -> Extension {
    Box::new(move |parts: Parts| {
        let source = Arc::new(BridgeSource {
            status: parts.status.clone(),
            store_path: parts.store_path.clone(),
            last_message: Mutex::new(None),
        });
        desk.connect_whatsapp(parts.outbox, source.clone());
        let metrics_desk = desk.clone();
        let _ = parts.metrics.set(Arc::new(move || {
            let desk = metrics_desk.clone();
            Box::pin(async move { wamcp_desk::metrics::render(&desk).await.unwrap_or_default() })
        }));
        desk.start();
        tokio::spawn(forward_messages(desk.clone(), parts.events.subscribe(), source));
        wamcp_desk::http::routes(Arc::new(DeskApp { desk, token: parts.token }))
    })
}

/// Hands every new direct message from a customer to the desk as it is committed. History is
/// never published as events, so it never becomes tickets.
async fn forward_messages(
    desk: Arc<Desk>,
    mut events: tokio::sync::broadcast::Receiver<BridgeEvent>,
    source: Arc<BridgeSource>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!("desk: {missed} messages went by while the desk was busy");
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let BridgeEvent::Message(m) = event else { continue };
        *source.last_message.lock().unwrap_or_else(|p| p.into_inner()) = Some(m.timestamp.clone());
        let at = Timestamp::parse_user(&m.timestamp).unwrap_or_else(|_| Timestamp::now());
        let inbound = super::whatsapp_inbound(
            &m.chat_jid,
            &m.id,
            m.is_from_me,
            &m.kind,
            m.text.as_deref(),
            m.caption.as_deref(),
            at,
            Via::Bridge,
        );
        let Some(inbound) = inbound else { continue };
        if let Err(error) = desk.receive(&inbound).await {
            tracing::warn!("desk: message {} not taken in: {error}", m.id);
        }
    }
}

/// The daemon, as the desk's status endpoint describes it.
struct BridgeSource {
    status: Arc<Status>,
    store_path: PathBuf,
    last_message: Mutex<Option<String>>,
}

impl WhatsappSource for BridgeSource {
    fn liveness(&self) -> Liveness {
        Liveness {
            connected: self.status.is_connected(),
            account: self.status.account().map(|jid| jid.to_string()),
            last_message_at: self.last_message.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    fn bridge_path(&self) -> PathBuf {
        self.store_path.clone()
    }

    fn poll_interval(&self) -> u64 {
        0
    }
}
