//! Consistent copies of SQLite files while they are in use, and checking a file's integrity: what
//! `wamcp backup`, `wamcp restore` and `wamcp doctor` are made of.
//!
//! A copy is taken with SQLite's online backup API in a single step: it reads the source inside
//! one read transaction, so it is the database as of one commit, however busy the writer is
//! (in WAL mode the writer is not held up meanwhile). It works on any SQLite file, the store, the
//! WhatsApp session and the desk's database alike.

use std::path::Path;

use rusqlite::Connection;
use wamcp_core::at_rest;

use crate::{Result, StoreError, connection};

/// Copies the SQLite database at `source` into a new file at `target`, as of one commit. An
/// encrypted file's copy is encrypted with the same key.
pub fn copy(source: &Path, target: &Path) -> Result<()> {
    let key = at_rest::key_for(source)?;
    let from = connection::open_read_only(source)?;
    // The copy holds what the original holds (messages, session keys): its owner's alone.
    let mut private = std::fs::OpenOptions::new();
    private.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut private, 0o600);
    private.open(target).map_err(StoreError::io(target))?;
    let mut to = Connection::open(target)?;
    if let Some(key) = key {
        connection::unlock(&to, key, target)?;
    }
    {
        let backup = rusqlite::backup::Backup::new(&from, &mut to)?;
        // -1: every page in one step, hence one read transaction, hence one consistent state.
        backup.step(-1)?;
    }
    // The copy stands alone: one file, no write-ahead log beside it.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

/// What SQLite's `quick_check` found wrong with the file at `path`; empty when it is sound.
pub fn problems(path: &Path) -> Result<Vec<String>> {
    if !path.is_file() {
        return Err(StoreError::NotFound(format!("{} does not exist", path.display())));
    }
    let conn = connection::open_read_only(path)?;
    let mut statement = conn.prepare("PRAGMA quick_check")?;
    let lines: Vec<String> = statement.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(lines.into_iter().filter(|line| line != "ok").collect())
}

/// The schema version (`PRAGMA user_version`) of the store at `path`, read without migrating it.
pub fn store_version(path: &Path) -> Result<i64> {
    let conn = connection::open_read_only(path)?;
    crate::schema::version(&conn)
}
