//! The audit log: one row per MCP tool call, kept in the store, shown by `wamcp audit`.
//!
//! The MCP server reads the store through a [`Reader`] that cannot write; the audit log is the one
//! thing it writes, through an [`AuditLog`] whose only statement appends a row.

use std::path::Path;

use rusqlite::{Connection, params};
use wamcp_core::Timestamp;

use crate::{Reader, Result, Writer, connection, schema};

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

/// Appends audit entries.
pub struct AuditLog {
    conn: Connection,
}

impl AuditLog {
    pub fn open(path: &Path) -> Result<AuditLog> {
        let conn = connection::open(path)?;
        if schema::version(&conn)? != schema::CURRENT_VERSION {
            drop(Writer::open(path)?);
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
}

impl Reader {
    /// The newest `limit` entries (of one tool, if given), newest first.
    pub fn audit(&self, limit: u32, tool: Option<&str>) -> Result<Vec<AuditEntry>> {
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
        let reader = Reader::open(&path).unwrap();
        let all = reader.audit(10, None).unwrap();
        assert_eq!(all.iter().map(|e| e.at.millis()).collect::<Vec<_>>(), vec![1_002, 1_001, 1_000]);
        let sends = reader.audit(10, Some("send_message")).unwrap();
        assert_eq!(sends.len(), 1);
        assert!(!sends[0].ok);
        assert_eq!(sends[0].detail.as_deref(), Some("refused"));
    }
}
