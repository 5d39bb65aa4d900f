//! The link to the real WhatsApp network, on the whatsapp-rust library. This module is the only
//! place in wamcp that knows whatsapp-rust's types: [`convert`] turns its values into core types
//! (one tested function per kind), `events` its events into link events (`changes` those that
//! change chats and people rather than add messages), and [`client`] drives it.

mod acks;
mod changes;
pub mod client;
pub mod convert;
mod durable;
mod events;
pub mod initial_sync;
pub mod options;
mod outgoing;
mod presence;
pub mod session;
mod session_store;
#[cfg(feature = "test-server")]
pub mod test_server;

pub use client::{SESSION_FILE, WhatsAppLink};
pub use options::{HistoryWindow, LinkOptions, Presence};

/// The host and port the client connects to: WhatsApp's chat host, or, in a `test-server` build
/// with `WAMCP_TEST_SERVER` set, that local server.
pub fn chat_server() -> (String, u16) {
    #[cfg(feature = "test-server")]
    if let Some(url) = test_server::url() {
        let authority = url.trim_start_matches("ws://").split('/').next().unwrap_or_default();
        if let Some((host, port)) = authority.rsplit_once(':')
            && let Ok(port) = port.parse()
        {
            return (host.to_string(), port);
        }
    }
    ("web.whatsapp.com".to_string(), 443)
}
