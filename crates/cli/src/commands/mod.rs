//! One module per command.

pub mod daemon;
pub mod demo;
pub mod import;
pub mod login;
pub mod mcp;
pub mod serve;

use std::path::PathBuf;

use anyhow::Context;
use wamcp_store::DataDir;

/// The data directory from `--data-dir` / `WAMCP_DATA_DIR` or the default, created 0700.
pub fn data_dir(explicit: Option<PathBuf>) -> anyhow::Result<DataDir> {
    let dir = DataDir::resolve(explicit)?;
    dir.ensure().context("cannot create the data directory")?;
    Ok(dir)
}

/// A single-threaded runtime: the stdio server answers one client, and one thread keeps start-up
/// fast and memory small.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}
