//! The state of our own messages: sent, delivered, read, played, or failed. A status only moves
//! forward (a late "delivered" never undoes "read").

use rusqlite::{OptionalExtension, params};
use wamcp_core::{DeliveryStatus, Jid, Message, Timestamp};

use crate::Result;
use crate::write::{Batch, Inserted};

/// SQL giving a status's place in the order pending < sent < delivered < read < played.
const RANK: &str = "CASE {} WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3
    WHEN 'played' THEN 4 ELSE -1 END";

fn rank(expr: &str) -> String {
    RANK.replace("{}", expr)
}

impl Batch<'_> {
    /// Records a receipt from `recipient` and raises the messages' status. Returns how many
    /// messages changed status.
    pub fn apply_receipt(
        &mut self,
        chat: &Jid,
        ids: &[&str],
        recipient: &Jid,
        status: DeliveryStatus,
        at: Timestamp,
    ) -> Result<usize> {
        let mut changed = 0;
        for id in ids {
            if matches!(status, DeliveryStatus::Delivered | DeliveryStatus::Read | DeliveryStatus::Played) {
                self.conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO receipts (chat_jid, message_id, recipient_jid, status, ts)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![chat.as_str(), id, recipient.as_str(), status.as_str(), at.millis()])?;
            }
            changed += self.raise_status(chat, id, status)?;
        }
        Ok(changed)
    }

    /// Moves a message's status forward to `status` (never back; `failed` only from pending).
    pub fn raise_status(&mut self, chat: &Jid, id: &str, status: DeliveryStatus) -> Result<usize> {
        let sql = if status == DeliveryStatus::Failed {
            "UPDATE messages SET status = ?3 WHERE chat_jid = ?1 AND id = ?2 AND status = 'pending'".to_string()
        } else {
            format!(
                "UPDATE messages SET status = ?3 WHERE chat_jid = ?1 AND id = ?2 AND from_me = 1
                 AND {} < {}",
                rank("coalesce(status, 'pending')"),
                rank("?3")
            )
        };
        Ok(self.conn.prepare_cached(&sql)?.execute(params![chat.as_str(), id, status.as_str()])?)
    }

    /// Stores a message the server took from us, under the server's id and time. Receipts that
    /// overtook it on the way in already count: its status starts at the furthest of them.
    /// A message stored as pending when it was queued becomes sent here, taking the server's time.
    pub fn insert_sent(&mut self, message: &Message) -> Result<Inserted> {
        let inserted = self.insert_message(message)?;
        if inserted == Inserted::Duplicate && message.status == Some(DeliveryStatus::Sent) {
            self.conn
                .prepare_cached(
                    "UPDATE messages SET ts = ?3 WHERE chat_jid = ?1 AND id = ?2 AND from_me = 1 AND status = 'pending'",
                )?
                .execute(params![message.chat.as_str(), message.id.as_str(), message.timestamp.millis()])?;
            self.raise_status(&message.chat, message.id.as_str(), DeliveryStatus::Sent)?;
        }
        let furthest: Option<String> = self
            .conn
            .prepare_cached(&format!(
                "SELECT status FROM receipts WHERE chat_jid = ?1 AND message_id = ?2 ORDER BY {} DESC LIMIT 1",
                rank("status")
            ))?
            .query_row(params![message.chat.as_str(), message.id.as_str()], |row| row.get(0))
            .optional()?;
        if let Some(status) = furthest.as_deref().and_then(DeliveryStatus::parse) {
            self.raise_status(&message.chat, message.id.as_str(), status)?;
        }
        Ok(inserted)
    }

    /// Records where a message's attachment was saved (relative to the data directory), or its
    /// refreshed download path after a re-upload.
    pub fn set_media_location(
        &mut self,
        chat: &Jid,
        id: &str,
        local_path: Option<&str>,
        direct_path: Option<&str>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET local_path = coalesce(?3, local_path), direct_path = coalesce(?4, direct_path)
                 WHERE chat_jid = ?1 AND id = ?2",
            )?
            .execute(params![chat.as_str(), id, local_path, direct_path])?;
        Ok(())
    }
}
