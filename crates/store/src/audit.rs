//! The audit log: one row per MCP tool call, shown by `wamcp audit`, kept in `audit.db` beside
//! the store.
//!
//! The MCP server reads the store through a [`Reader`](crate::Reader) that cannot write; the audit
//! log is the one thing it writes, through an [`AuditLog`] whose only statement appends a row. It
//! has a file of its own because a commit to the store makes SQLite drop every other connection's
//! page cache: one audit row per tool call would make each call read (and, with a key, decrypt)
//! its pages afresh. The rows that older versions kept in the store's `audit` table are copied
//! over the first time the file is made.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use wamcp_core::Timestamp;

use crate::{Result, Writer, connection, schema};

/// The audit log's file, beside the store.
pub const AUDIT_FILE: &str = "audit.db";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS audit (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        INTEGER NOT NULL,                   -- ms UTC
    session   TEXT NOT NULL,                      -- which MCP connection
    tool      TEXT NOT NULL,
    arguments TEXT NOT NULL,                      -- JSON, message text reduced to a hash
    outcome   TEXT NOT NULL CHECK (outcome = 'ok' OR outcome = 'error'),
    detail    TEXT                                -- the error, or the id of what was sent
);
CREATE INDEX IF NOT EXISTS audit_by_tool ON audit (tool, seq);
"#;

/// One tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub session: String,
    pub tool: String,
    /// JSON, with message text already reduced to a hash.
    pub arguments: String,
    pub ok: bool,
    pub detail: Option<String>,
}

/// Appends audit entries, and lists them.
pub struct AuditLog {
    conn: Connection,
}

impl AuditLog {
    /// Opens (creating if needed) the audit log beside the store at `store`, whose schema is
    /// brought up to date first.
    pub fn open(store: &Path) -> Result<AuditLog> {
        {
            let conn = connection::open(store)?;
            if schema::version(&conn)? != schema::CURRENT_VERSION {
                drop(Writer::open(store)?);
            }
        }
        let path = audit_path(store);
        let conn = connection::open(&path)?;
        let tx = conn.unchecked_transaction()?;
        let made =
            tx.query_row("SELECT 1 FROM sqlite_master WHERE name = 'audit'", [], |_| Ok(())).optional()?.is_none();
        tx.execute_batch(SCHEMA)?;
        if made {
            let key = wamcp_core::at_rest::key_for(store)?.map(|key| key.literal()).unwrap_or("''");
            tx.execute(&format!("ATTACH DATABASE ?1 AS store KEY {key}"), [store.to_string_lossy()])?;
            tx.execute_batch(
                "INSERT INTO audit (ts, session, tool, arguments, outcome, detail)
                 SELECT ts, session, tool, arguments, outcome, detail FROM store.audit ORDER BY seq",
            )?;
        }
        tx.commit()?;
        if made {
            conn.execute_batch("DETACH DATABASE store")?;
        }
        Ok(AuditLog { conn })
    }

    pub fn record(&self, entry: &AuditEntry) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit (ts, session, tool, arguments, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                entry.at.millis(),
                entry.session,
                entry.tool,
                entry.arguments,
                if entry.ok { "ok" } else { "error" },
                entry.detail
            ])?;
        Ok(())
    }

    /// The newest `limit` entries (of one tool, if given), newest first.
    pub fn entries(&self, limit: u32, tool: Option<&str>) -> Result<Vec<AuditEntry>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT ts, session, tool, arguments, outcome, detail FROM audit
             WHERE ?1 IS NULL OR tool = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![tool, limit], |row| {
            Ok(AuditEntry {
                at: Timestamp(row.get(0)?),
                session: row.get(1)?,
                tool: row.get(2)?,
                arguments: row.get(3)?,
                ok: row.get::<_, String>(4)? == "ok",
                detail: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Where the audit log of the store at `store` is.
pub fn audit_path(store: &Path) -> PathBuf {
    store.with_file_name(AUDIT_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_kept_and_listed_newest_first_by_tool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wamcp.db");
        let log = AuditLog::open(&path).unwrap();
        for (n, tool) in ["list_chats", "send_message", "list_chats"].into_iter().enumerate() {
            let entry = AuditEntry {
                at: Timestamp(1_000 + n as i64),
                session: "stdio-1".into(),
                tool: tool.into(),
                arguments: "{}".into(),
                ok: n != 1,
                detail: (n == 1).then(|| "refused".to_string()),
            };
            log.record(&entry).unwrap();
        }
        drop(log);
        let log = AuditLog::open(&path).unwrap();
        let all = log.entries(10, None).unwrap();
        assert_eq!(all.iter().map(|e| e.at.millis()).collect::<Vec<_>>(), vec![1_002, 1_001, 1_000]);
        let sends = log.entries(10, Some("send_message")).unwrap();
        assert_eq!(sends.len(), 1);
        assert!(!sends[0].ok);
        assert_eq!(sends[0].detail.as_deref(), Some("refused"));
    }

    #[test]
    fn the_rows_an_older_version_kept_in_the_store_are_carried_over_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wamcp.db");
        drop(Writer::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "INSERT INTO audit (ts, session, tool, arguments, outcome) VALUES (5, 'stdio-9', 'list_chats', '{}', 'ok')",
            )
            .unwrap();
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.entries(10, None).unwrap().iter().map(|e| e.session.as_str()).collect::<Vec<_>>(), ["stdio-9"]);
        drop(log);
        let again = AuditLog::open(&path).unwrap();
        assert_eq!(again.entries(10, None).unwrap().len(), 1, "copied once, not at every open");
    }
}
