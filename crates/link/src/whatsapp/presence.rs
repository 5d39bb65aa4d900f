//! Keeping the account "unavailable". The library announces the account as available when it
//! connects (before `Connected`) and when it first learns the account's own name from app state
//! (right after `SelfPushNameUpdated`). While a linked device is available, the phone stops
//! showing notifications, so wamcp answers both with *unavailable*, as a closed WhatsApp Web tab
//! would be.

use whatsapp_rust::Client;
use whatsapp_rust::types::events::Event;

/// Whether the library has just said, or is about to say, that the account is online.
pub fn went_online(event: &Event) -> bool {
    match event {
        Event::Connected(_) => true,
        Event::SelfPushNameUpdated(update) => update.old_name.is_empty() && !update.new_name.is_empty(),
        _ => false,
    }
}

/// Says the account is unavailable. Without a push name yet the library cannot send presence at
/// all, and then it has not said "available" either.
pub async fn go_offline(client: &Client) {
    if let Err(error) = client.presence().set_unavailable().await {
        tracing::debug!("presence unavailable not sent: {error}");
    }
}
