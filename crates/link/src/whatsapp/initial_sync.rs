//! The first app-state sync after pairing. The library asks for every collection (contacts,
//! mutes, archives, pins) only in the process that paired, and only if it stays long enough; it
//! keeps that wish in memory. `wamcp login` ends soon after the first login, and for some
//! accounts (a business account's name is known at pairing) the daemon would never ask. So login
//! leaves a marker beside the session, and whichever client connects with it asks for every
//! collection in full, then removes it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use whatsapp_rust::Client;
use whatsapp_rust::sync_task::MajorSyncTask;
use whatsapp_rust::wacore::appstate::patch_decode::WAPatchName;

/// The marker's file name, beside the session database.
pub const MARKER: &str = "whatsapp-initial-sync";

const COLLECTIONS: [WAPatchName; 5] = [
    WAPatchName::CriticalBlock,
    WAPatchName::CriticalUnblockLow,
    WAPatchName::RegularLow,
    WAPatchName::RegularHigh,
    WAPatchName::Regular,
];

/// The marker for the session at `session`.
pub fn marker(session: &Path) -> PathBuf {
    session.with_file_name(MARKER)
}

/// Leaves the marker: the next client to connect syncs every collection in full.
pub fn request(session: &Path) -> std::io::Result<()> {
    std::fs::write(marker(session), b"the first app-state sync after pairing is still to be done\n")
}

/// With the marker present, asks for every collection in full (the changes arrive as the usual
/// events), then removes it. A client stopped half-way leaves it for the next one.
pub async fn run_if_requested(session: &Path, client: &Arc<Client>) {
    let marker = marker(session);
    if !marker.exists() {
        return;
    }
    for name in COLLECTIONS {
        client.process_sync_task(MajorSyncTask::AppStateSync { name, full_sync: true }).await;
    }
    if let Err(error) = std::fs::remove_file(&marker) {
        tracing::warn!("cannot remove {}: {error}", marker.display());
    }
}
