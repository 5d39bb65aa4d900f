//! Opening SQLite connections with the settings every connection needs.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use wamcp_core::at_rest::{self, DbKey};

use crate::Result;

/// Opens (creating if needed) the store file with WAL, foreign keys and a busy timeout.
///
/// WAL lets readers (the MCP server, the REST API) run while the one writer commits.
/// `synchronous=NORMAL` is durable across process crashes (kill -9) in WAL mode; only a power
/// loss can drop the last commits. With this process's key ([`at_rest`]) the file is encrypted.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let key = at_rest::key_for(path)?;
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    match key {
        Some(key) => unlock(&conn, key, path)?,
        // An encrypted file keeps SQLCipher's page size, which every opener must agree on.
        None => conn.pragma_update(None, "page_size", 8192)?,
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Opens the file at `path` to read it only, with this process's key if it has one.
pub(crate) fn open_read_only(path: &Path) -> Result<Connection> {
    let key = at_rest::key_for(path)?;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    if let Some(key) = key {
        unlock(&conn, key, path)?;
    }
    conn.busy_timeout(Duration::from_secs(30))?;
    Ok(conn)
}

/// Applies `key` to a fresh connection to `path` and proves that it opens the file, before
/// anything else is read or written.
pub(crate) fn unlock(conn: &Connection, key: &DbKey, path: &Path) -> Result<()> {
    // wamcp reports a wrong key itself; SQLCipher would also print it to stderr.
    conn.execute_batch("PRAGMA cipher_log_level = NONE")?;
    conn.execute_batch(&key.pragma())?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())).map_err(|_| at_rest::wrong_key(path))?;
    Ok(())
}
