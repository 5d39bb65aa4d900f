//! Opening SQLite connections with the settings every connection needs.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::Result;

/// Opens (creating if needed) the store file with WAL, foreign keys and a busy timeout.
///
/// WAL lets readers (the MCP server, the REST API) run while the one writer commits.
/// `synchronous=NORMAL` is durable across process crashes (kill -9) in WAL mode; only a power
/// loss can drop the last commits.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "page_size", 8192)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}
