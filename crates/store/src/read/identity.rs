//! One person, several JIDs: WhatsApp addresses a person by phone number or by LID. Every query
//! about a person asks about all of their JIDs, so a phone number finds the LID chat too.

use rusqlite::{Connection, params};
use wamcp_core::{Jid, JidKind};

use super::Reader;
use crate::Result;

impl Reader {
    /// The JIDs that name the same person as `person` (itself first). Other JIDs are returned as is.
    pub fn identities(&self, person: &Jid) -> Result<Vec<Jid>> {
        identities(&self.conn, person)
    }
}

/// [`Reader::identities`] on any connection (erasing a person asks it inside a write).
pub(crate) fn identities(conn: &Connection, person: &Jid) -> Result<Vec<Jid>> {
    let mut all = vec![person.clone()];
    let sql = match person.kind() {
        JidKind::Phone => {
            "SELECT lid FROM lid_map WHERE phone_jid = ?1
             UNION SELECT lid FROM contacts WHERE phone_jid = ?1 AND lid IS NOT NULL"
        }
        JidKind::Lid => {
            "SELECT phone_jid FROM lid_map WHERE lid = ?1
             UNION SELECT phone_jid FROM contacts WHERE lid = ?1 AND phone_jid IS NOT NULL"
        }
        _ => return Ok(all),
    };
    let mut statement = conn.prepare_cached(sql)?;
    let found = statement.query_map(params![person.as_str()], |row| row.get::<_, String>(0))?;
    for jid in found {
        if let Ok(jid) = Jid::parse(&jid?)
            && !all.contains(&jid)
        {
            all.push(jid);
        }
    }
    Ok(all)
}
