//! One module per command.

pub mod at_rest;
pub mod audit;
pub mod backup;
pub mod client_config;
pub mod completions;
pub mod daemon;
pub mod demo;
pub mod desk;
pub mod doctor;
pub mod forget;
pub mod health;
pub mod import;
pub mod login;
pub mod mcp;
pub mod policy;
pub mod serve;
pub mod transcription;

use anyhow::Context;
use wamcp_store::DataDir;

use crate::config::Layers;

/// The data directory's databases, when present: the store, its audit log, the WhatsApp session,
/// the desk.
pub const DATABASES: [&str; 4] = [
    wamcp_store::data_dir::STORE_FILE,
    wamcp_store::audit::AUDIT_FILE,
    wamcp_link::whatsapp::SESSION_FILE,
    wamcp_desk::SQLITE_FILE,
];

/// The data directory from `--data-dir` / `WAMCP_DATA_DIR`, the config file or the default,
/// created 0700.
pub fn data_dir(layers: &mut Layers) -> anyhow::Result<DataDir> {
    let dir = layers.data_dir()?;
    dir.ensure().context("cannot create the data directory")?;
    Ok(dir)
}

/// A single-threaded runtime: the stdio server answers one client, and one thread keeps start-up
/// fast and memory small.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}
