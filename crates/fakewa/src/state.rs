//! What fakewa keeps on disk, so several `wamcp` runs talk to the same "WhatsApp": the server's
//! Noise key, the phone and its keys, the linked device, the contacts and groups, what waits
//! for the client while it is away, and what the client sent. One JSON file in the data dir,
//! replaced whole (written beside it, then renamed) so a kill leaves the old or the new.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use waproto::whatsapp as wa;

use crate::signal::{ClientKeys, SavedPeer, hex_bytes};

/// The account's phone number fakewa plays unless told otherwise.
pub const DEFAULT_PHONE: &str = "447911123456";

/// How a linked device shows itself to the phone: the device properties of its registration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceShown {
    pub os: String,
    pub platform: String,
    pub require_full_sync: bool,
}

impl DeviceShown {
    pub(crate) fn of(payload: &wa::ClientPayload) -> Option<DeviceShown> {
        let bytes = payload.device_pairing_data.as_option()?.device_props.as_deref()?;
        let props = <wa::DeviceProps as buffa::Message>::decode_from_slice(bytes).ok()?;
        Some(DeviceShown {
            os: props.os.unwrap_or_default(),
            platform: props.platform_type.map(|p| format!("{p:?}")).unwrap_or_default(),
            require_full_sync: props.require_full_sync.unwrap_or(false),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    #[serde(with = "hex_bytes")]
    pub server_key: Vec<u8>,
    pub phone: SavedPhone,
    /// The linked companion device, once paired.
    pub device: Option<SavedDevice>,
    /// How many devices were ever linked: the last one's device number.
    #[serde(default)]
    pub devices_linked: u16,
    #[serde(default)]
    pub contacts: Vec<SavedContact>,
    #[serde(default)]
    pub groups: Vec<SavedGroup>,
    /// Stanzas for the client that wait until it is connected (the offline queue), each
    /// already encoded.
    #[serde(default)]
    pub offline: Vec<Queued>,
    /// Everything the client sent that the control API shows, in order.
    #[serde(default)]
    pub received: Vec<serde_json::Value>,
    /// Counter for the ids fakewa makes.
    #[serde(default)]
    pub next_id: u64,
    /// App state: each collection's patches.
    #[serde(default)]
    pub collections: std::collections::BTreeMap<String, SavedCollection>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPhone {
    /// Digits only.
    pub number: String,
    /// The account's LID user part.
    pub lid: String,
    pub push_name: String,
    pub peer: SavedPeer,
    /// The account's app-state sync key, made on first use and shared with every device linked
    /// since: the collections are encrypted with it, so a device linked later reads them too.
    #[serde(with = "hex_bytes", default)]
    pub app_state_key: Vec<u8>,
    #[serde(with = "hex_bytes", default)]
    pub app_state_key_id: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedDevice {
    pub id: u16,
    #[serde(with = "hex_bytes")]
    pub noise_key: Vec<u8>,
    pub keys: ClientKeys,
    pub push_name: String,
    /// How it showed itself when it registered.
    #[serde(default)]
    pub shown: Option<DeviceShown>,
    /// Set after the first login that followed pairing.
    #[serde(default)]
    pub logged_in: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedContact {
    pub phone: String,
    pub lid: String,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub push_name: Option<String>,
    pub peer: SavedPeer,
    /// The groups (and client devices) this contact has given its sender key to.
    #[serde(default)]
    pub told_sender_key: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedGroup {
    /// The user part of `…@g.us`.
    pub id: String,
    pub subject: String,
    /// Phone numbers, digits only.
    pub participants: Vec<String>,
    pub created: i64,
    /// Whether the account is one of the group's admins (it is, unless made otherwise).
    #[serde(default = "yes")]
    pub account_is_admin: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub id: String,
    #[serde(with = "hex_bytes")]
    pub node: Vec<u8>,
}

/// One collection as the server keeps it: its patches and the state after the last.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SavedCollection {
    pub state: wacore_appstate::hash::HashState,
    /// Index MAC (hex) → value MAC of the current value, for overwrites.
    pub values: std::collections::BTreeMap<String, Vec<u8>>,
    /// Encoded `SyncdPatch`es, version 1 first.
    pub patches: Vec<HexPatch>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HexPatch(#[serde(with = "hex_bytes")] pub Vec<u8>);

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("fakewa.json")
}

pub fn load(data_dir: &Path) -> Result<Option<Saved>> {
    let file = path(data_dir);
    match std::fs::read(&file) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("reading {}", file.display()))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

pub fn store(data_dir: &Path, saved: &Saved) -> Result<()> {
    let file = path(data_dir);
    let temporary = data_dir.join("fakewa.json.new");
    std::fs::write(&temporary, serde_json::to_vec(saved)?)?;
    std::fs::rename(&temporary, &file).with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}
