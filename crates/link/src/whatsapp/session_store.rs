//! Opening the WhatsApp session database (whatsapp-rust's Diesel `SqliteStore`), encrypted with
//! this process's key when it has one.
//!
//! The library runs a hook first on every connection it opens, before its own pragmas and
//! migrations: that is where the key goes. The key is proved on a connection of our own before
//! the store is built, because a hook that fails makes the library's pool retry for its whole
//! connection timeout (30 s) before it gives up, with a vaguer error.

use std::path::Path;

use diesel::Connection as _;
use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use wamcp_core::at_rest::{self, DbKey};
use whatsapp_rust::store::{SqliteStore, SqliteStoreConfig};

use crate::{LinkError, LinkResult};

/// Opens (creating if needed) the session database at `path`.
pub(super) async fn open(path: &Path) -> LinkResult<SqliteStore> {
    let name = path.to_str().ok_or_else(|| LinkError::Refused("the session path is not UTF-8".into()))?;
    let refused =
        |e: &dyn std::fmt::Display| LinkError::Refused(format!("cannot open the WhatsApp session {name}: {e}"));
    let key = at_rest::key_for(path).map_err(|e| LinkError::Refused(e.to_string()))?;
    let config = match key {
        None => SqliteStoreConfig::default(),
        Some(key) => {
            let mut first = SqliteConnection::establish(name).map_err(|e| refused(&e))?;
            unlock(&mut first, key).map_err(|_| LinkError::Refused(at_rest::wrong_key(path).to_string()))?;
            drop(first);
            SqliteStoreConfig::default().with_connection_init(move |conn| Ok(unlock(conn, key)?))
        }
    };
    SqliteStore::with_config(name, config).await.map_err(|e| refused(&e))
}

/// Applies `key` to a fresh connection and proves that it opens the file.
fn unlock(conn: &mut SqliteConnection, key: &DbKey) -> diesel::QueryResult<()> {
    // wamcp reports a wrong key itself; SQLCipher would also print it to stderr.
    conn.batch_execute("PRAGMA cipher_log_level = NONE")?;
    conn.batch_execute(&key.pragma())?;
    conn.batch_execute("SELECT count(*) FROM sqlite_master")
}
