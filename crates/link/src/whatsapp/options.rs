//! How wamcp shows itself as a linked device: the name and platform the phone lists, how much
//! history it asks for when it pairs, and whether it ever appears "online".

use serde::{Deserialize, Serialize};
use whatsapp_rust::wacore::store::DevicePropsOverride;
use whatsapp_rust::wacore::store::device::default_history_sync_config;
use whatsapp_rust::waproto::whatsapp as wa;

/// The name the phone's Linked devices list shows.
pub const DEVICE_NAME: &str = "wamcp";

/// What the account shows to contacts while wamcp is connected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Never online: the phone keeps its notifications (a linked device that is "available"
    /// silences them), and contacts see the account as they would without wamcp.
    #[default]
    Unavailable,
    /// Online while connected, as the library does by itself: the phone stops notifying.
    Available,
}

/// How much history the phone hands over when the device is linked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryWindow {
    /// Everything the phone has (up to a year of messages per chat), as a desktop client asks.
    #[default]
    Full,
    /// The recent window a browser asks for (some months, fewer messages per chat).
    Recent,
}

impl std::str::FromStr for Presence {
    type Err = String;

    fn from_str(text: &str) -> Result<Presence, String> {
        match text.trim() {
            "unavailable" => Ok(Presence::Unavailable),
            "available" => Ok(Presence::Available),
            other => Err(format!("'{other}' is not a presence; use unavailable (the default) or available")),
        }
    }
}

impl std::str::FromStr for HistoryWindow {
    type Err = String;

    fn from_str(text: &str) -> Result<HistoryWindow, String> {
        match text.trim() {
            "full" => Ok(HistoryWindow::Full),
            "recent" => Ok(HistoryWindow::Recent),
            other => Err(format!("'{other}' is not a history window; use full (the default) or recent")),
        }
    }
}

/// Everything a [`super::WhatsAppLink`] is told besides where its session lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkOptions {
    /// Pair by code for this phone number (digits) instead of by QR.
    pub pair_phone: Option<String>,
    pub presence: Presence,
    pub history: HistoryWindow,
}

/// The device properties sent when pairing: wamcp on a desktop, and the history window's row of
/// the registration payload (a full sync travels with its days limit and on-demand flags).
pub fn device_props(history: HistoryWindow) -> DevicePropsOverride {
    let props =
        DevicePropsOverride::new().with_os(DEVICE_NAME).with_platform_type(wa::device_props::PlatformType::DESKTOP);
    match history {
        HistoryWindow::Full => {
            props.with_require_full_sync(true).with_history_sync_config(wa::device_props::HistorySyncConfig {
                full_sync_days_limit: Some(365),
                on_demand_ready: Some(true),
                complete_on_demand_ready: Some(true),
                ..default_history_sync_config()
            })
        }
        HistoryWindow::Recent => {
            props.with_require_full_sync(false).with_history_sync_config(default_history_sync_config())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_is_wamcp_on_a_desktop_and_asks_for_the_window_it_was_told() {
        let full = device_props(HistoryWindow::Full);
        assert_eq!(full.os.as_deref(), Some("wamcp"));
        assert_eq!(full.platform_type, Some(wa::device_props::PlatformType::DESKTOP));
        assert_eq!(full.require_full_sync, Some(true));
        assert_eq!(full.history_sync_config.as_ref().and_then(|c| c.full_sync_days_limit), Some(365));
        let recent = device_props(HistoryWindow::Recent);
        assert_eq!(recent.require_full_sync, Some(false));
        assert_eq!(recent.history_sync_config.as_ref().and_then(|c| c.full_sync_days_limit), None);
    }
}
