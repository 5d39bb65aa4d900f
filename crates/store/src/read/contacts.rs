//! Contact search: `search_contacts`.

use wamcp_core::fold::fold;
use wamcp_core::{ContactView, Jid};

use super::chats::phone_or_text;
use super::{Reader, like_escape};
use crate::Result;

impl Reader {
    /// People whose names (address book, push or business name) or phone number contain `query`,
    /// accents and case ignored; also direct chats with no contact entry, by chat name. At most 50,
    /// as lharries/whatsapp-mcp.
    pub fn search_contacts(&self, query: &str) -> Result<Vec<ContactView>> {
        let name_pattern = format!("%{}%", like_escape(&fold(query.trim())));
        let jid_pattern = format!("%{}%", like_escape(&phone_or_text(query.trim())));
        let mut statement = self.conn.prepare_cached(
            "SELECT jid, phone_jid, lid, display_name, full_name, push_name, business_name FROM (
                SELECT k.jid, coalesce(k.phone_jid, (SELECT phone_jid FROM lid_map WHERE lid = k.jid)) AS phone_jid,
                       coalesce(k.lid, (SELECT lid FROM lid_map WHERE phone_jid = k.jid)) AS lid,
                       k.display_name, k.full_name, k.push_name, k.business_name
                FROM contacts k
                WHERE k.search_key LIKE ?1 ESCAPE '\\' OR k.jid LIKE ?2 ESCAPE '\\'
                UNION ALL
                SELECT c.jid, CASE WHEN c.jid LIKE '%@s.whatsapp.net' THEN c.jid END,
                       CASE WHEN c.jid LIKE '%@lid' THEN c.jid END, c.name, NULL, NULL, NULL
                FROM chats c
                WHERE c.kind = 'direct' AND (c.name_folded LIKE ?1 ESCAPE '\\' OR c.jid LIKE ?2 ESCAPE '\\')
                  AND NOT EXISTS (SELECT 1 FROM contacts k WHERE k.jid = c.jid OR k.lid = c.jid OR k.phone_jid = c.jid)
             )
             ORDER BY display_name IS NULL, lower(display_name), jid
             LIMIT 50",
        )?;
        let rows = statement.query_map(rusqlite::params![name_pattern, jid_pattern], |row| {
            let phone_jid: Option<String> = row.get(1)?;
            Ok(ContactView {
                jid: row.get(0)?,
                phone_number: phone_jid
                    .as_deref()
                    .and_then(|p| Jid::parse(p).ok())
                    .and_then(|p| p.phone().map(str::to_string)),
                phone_jid,
                lid: row.get(2)?,
                name: row.get(3)?,
                full_name: row.get(4)?,
                push_name: row.get(5)?,
                business_name: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
