//! Chat queries: `list_chats`, `get_chat`, `get_direct_chat_by_contact`, `get_contact_chats`,
//! `list_groups`.

use rusqlite::ToSql;
use wamcp_core::fold::{digits, fold};
use wamcp_core::{ChatView, Jid};

use super::{CHAT_SELECT, Reader, chat_from_row, like_escape, page, placeholders};
use crate::Result;

/// How `list_chats` orders chats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatOrder {
    /// Most recently active first; chats without messages last.
    LastActive,
    /// By name, A to Z, accents and case ignored; unnamed chats last.
    Name,
}

impl Reader {
    /// Runs a chat query built on [`CHAT_SELECT`], attaching each chat's newest message if asked.
    fn chats(&self, sql: &str, params: &[&dyn ToSql], with_last_message: bool) -> Result<Vec<ChatView>> {
        let rows: Vec<(ChatView, Option<i64>)> =
            self.conn.prepare_cached(sql)?.query_map(params, chat_from_row)?.collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(mut chat, last_seq)| {
                if let (true, Some(seq)) = (with_last_message, last_seq) {
                    chat.last_message = self.message_at(seq)?;
                }
                Ok(chat)
            })
            .collect()
    }

    /// Chats whose name or JID contains `query` (accents and case ignored; a phone number matches
    /// however it is written), in the given order.
    pub fn list_chats(
        &self,
        query: Option<&str>,
        order: ChatOrder,
        limit: u32,
        offset: u64,
        with_last_message: bool,
    ) -> Result<Vec<ChatView>> {
        let order_by = match order {
            ChatOrder::LastActive => "c.last_activity IS NULL, c.last_activity DESC, c.jid",
            ChatOrder::Name => "c.name_folded = '', c.name_folded, c.jid",
        };
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        let Some(query) = query else {
            let sql = format!("{CHAT_SELECT} ORDER BY {order_by}{}", page(limit, offset));
            return self.chats(&sql, &[], with_last_message);
        };
        let name_pattern = format!("%{}%", like_escape(&fold(query)));
        let jid_pattern = format!("%{}%", like_escape(&phone_or_text(query)));
        let sql = format!(
            "{CHAT_SELECT} WHERE c.name_folded LIKE ?1 ESCAPE '\\' OR c.jid LIKE ?2 ESCAPE '\\'
             ORDER BY {order_by}{}",
            page(limit, offset)
        );
        self.chats(&sql, &[&name_pattern, &jid_pattern], with_last_message)
    }

    /// Group chats, most recently active first.
    pub fn groups(&self, limit: u32, offset: u64) -> Result<Vec<ChatView>> {
        let sql = format!(
            "{CHAT_SELECT} WHERE c.kind = 'group' ORDER BY c.last_activity IS NULL, c.last_activity DESC, c.jid{}",
            page(limit, offset)
        );
        self.chats(&sql, &[], false)
    }

    /// The chat with this JID. For a person, also their chat under another JID (phone or LID):
    /// the most recently active one.
    pub fn chat(&self, jid: &Jid, with_last_message: bool) -> Result<Option<ChatView>> {
        let identities = self.identities(jid)?;
        let sql = format!(
            "{CHAT_SELECT} WHERE c.jid IN ({}) ORDER BY c.jid = ? DESC, c.last_activity IS NULL, c.last_activity DESC LIMIT 1",
            placeholders(identities.len())
        );
        let ids: Vec<&str> = identities.iter().map(Jid::as_str).collect();
        let mut params: Vec<&dyn ToSql> = ids.iter().map(|j| j as &dyn ToSql).collect();
        let own = jid.as_str();
        params.push(&own);
        Ok(self.chats(&sql, &params, with_last_message)?.pop())
    }

    /// The direct chat with a person, under any of their JIDs, most recently active first.
    pub fn direct_chat(&self, person: &Jid) -> Result<Option<ChatView>> {
        let identities = self.identities(person)?;
        let sql = format!(
            "{CHAT_SELECT} WHERE c.jid IN ({}) AND c.kind = 'direct'
             ORDER BY c.last_activity IS NULL, c.last_activity DESC LIMIT 1",
            placeholders(identities.len())
        );
        let ids: Vec<&str> = identities.iter().map(Jid::as_str).collect();
        let params: Vec<&dyn ToSql> = ids.iter().map(|j| j as &dyn ToSql).collect();
        Ok(self.chats(&sql, &params, true)?.pop())
    }

    /// Direct chats whose phone number contains `digits` (part of a number, typed without its
    /// country code or its start), most recently active first; at most `limit`.
    pub fn direct_chats_with_number_part(&self, digits: &str, limit: u32) -> Result<Vec<ChatView>> {
        let pattern = format!("%{}%@s.whatsapp.net", like_escape(digits));
        let sql = format!(
            "{CHAT_SELECT} WHERE c.kind = 'direct' AND c.jid LIKE ?1 ESCAPE '\\'
             ORDER BY c.last_activity IS NULL, c.last_activity DESC{}",
            page(limit, 0)
        );
        self.chats(&sql, &[&pattern], true)
    }

    /// Every chat a person is in: their direct chat and the groups they wrote in, each once,
    /// most recently active first.
    pub fn contact_chats(&self, person: &Jid, limit: u32, offset: u64) -> Result<Vec<ChatView>> {
        let identities = self.identities(person)?;
        let list = placeholders(identities.len());
        let sql = format!(
            "{CHAT_SELECT} WHERE c.jid IN ({list})
                OR c.jid IN (SELECT chat_jid FROM chat_senders WHERE sender_jid IN ({list}))
             ORDER BY c.last_activity IS NULL, c.last_activity DESC, c.jid{}",
            page(limit, offset)
        );
        let ids: Vec<&str> = identities.iter().map(Jid::as_str).collect();
        let mut params: Vec<&dyn ToSql> = ids.iter().map(|j| j as &dyn ToSql).collect();
        params.extend(ids.iter().map(|j| j as &dyn ToSql));
        self.chats(&sql, &params, true)
    }
}

/// A query that looks like a phone number (digits with `+`, spaces, dashes) as its digits, so it
/// matches the JID however the number was typed; anything else as typed.
pub(crate) fn phone_or_text(query: &str) -> String {
    let number = digits(query);
    let looks_like_phone = number.len() >= 3 && query.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if looks_like_phone { number } else { query.to_string() }
}
