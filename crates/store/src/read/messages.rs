//! Message queries: `list_messages`, `get_message_context`, `get_last_interaction`.

use rusqlite::ToSql;
use wamcp_core::{Jid, MessageMatch, MessageView, Timestamp};

use super::text_match::{TextMatch, restrict, text_match};
use super::{MESSAGE_SELECT, Reader, message_fields, page, placeholders};
use crate::{Result, StoreError};

use crate::write::SEQ_SLOTS;

/// Which messages `list_messages` returns. Empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Only messages strictly after this time.
    pub after: Option<Timestamp>,
    /// Only messages strictly before this time.
    pub before: Option<Timestamp>,
    /// Only messages written by one of these JIDs (a person's phone JID and LIDs).
    pub senders: Vec<Jid>,
    /// Only messages in one of these chats.
    pub chats: Vec<Jid>,
    /// Only messages whose text, caption or transcript has these words (a trailing `*` makes the last a prefix).
    pub query: Option<String>,
    pub limit: u32,
    pub offset: u64,
    /// How many messages of the same chat to attach before and after each match.
    pub context_before: u32,
    pub context_after: u32,
}

/// A page of matches.
#[derive(Debug, Clone)]
pub struct MessagePage {
    pub matches: Vec<MessageMatch>,
    /// Whether another page follows.
    pub has_more: bool,
}

/// Conditions and their parameters, built up together.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    params: Vec<Box<dyn ToSql>>,
}

impl Conditions {
    fn push(&mut self, sql: impl Into<String>, params: Vec<Box<dyn ToSql>>) {
        self.sql.push(sql.into());
        self.params.extend(params);
    }

    fn where_clause(&self) -> String {
        if self.sql.is_empty() { String::new() } else { format!(" WHERE {}", self.sql.join(" AND ")) }
    }
}

fn jids(list: &[Jid]) -> Vec<Box<dyn ToSql>> {
    list.iter().map(|j| Box::new(j.as_str().to_string()) as Box<dyn ToSql>).collect()
}

impl Reader {
    /// Messages matching the filter, newest first, each with its context.
    pub fn list_messages(&self, filter: &MessageFilter) -> Result<MessagePage> {
        let text = filter.query.as_deref().and_then(text_match);
        // With a full-text match the index drives the walk in seq order; otherwise the messages
        // table (or its chat / sender index) does. Either way no sort of all matches is needed.
        let (from, seq) = match &text {
            Some(TextMatch::FullText(_)) => (
                " FROM messages_fts CROSS JOIN messages m ON m.seq = messages_fts.rowid JOIN chats c ON c.jid = m.chat_jid",
                "messages_fts.rowid",
            ),
            _ => (" FROM messages m JOIN chats c ON c.jid = m.chat_jid", "m.seq"),
        };
        let mut conditions = Conditions::default();
        match text {
            Some(TextMatch::FullText(expression)) => {
                let expression = restrict(&expression, &filter.chats, &filter.senders);
                conditions.push("messages_fts MATCH ?", vec![Box::new(expression)]);
            }
            Some(TextMatch::Substring(pattern)) => conditions.push(
                "(m.text LIKE ? ESCAPE '\\' OR m.caption LIKE ? ESCAPE '\\' OR m.transcript LIKE ? ESCAPE '\\')",
                vec![Box::new(pattern.clone()), Box::new(pattern.clone()), Box::new(pattern)],
            ),
            None => {}
        }
        if let Some(after) = filter.after {
            conditions.push(format!("{seq} >= ?"), vec![Box::new((after.millis() + 1) * SEQ_SLOTS)]);
        }
        if let Some(before) = filter.before {
            conditions.push(format!("{seq} < ?"), vec![Box::new(before.millis() * SEQ_SLOTS)]);
        }
        if !filter.senders.is_empty() {
            conditions.push(format!("m.sender_jid IN ({})", placeholders(filter.senders.len())), jids(&filter.senders));
        }
        if !filter.chats.is_empty() {
            conditions.push(format!("m.chat_jid IN ({})", placeholders(filter.chats.len())), jids(&filter.chats));
        }
        let sql = format!(
            "{}{from}{} ORDER BY {seq} DESC{}",
            message_fields!(),
            conditions.where_clause(),
            page(filter.limit + 1, filter.offset)
        );
        let refs: Vec<&dyn ToSql> = conditions.params.iter().map(|p| p.as_ref()).collect();
        let mut found = self.message_rows(&sql, &refs)?;
        let has_more = found.len() > filter.limit as usize;
        found.truncate(filter.limit as usize);
        let matches = found
            .into_iter()
            .map(|(seq, message)| self.with_context(seq, message, filter.context_before, filter.context_after))
            .collect::<Result<_>>()?;
        Ok(MessagePage { matches, has_more })
    }

    /// `message` (at `seq`) with the messages of its chat just before and just after it, oldest first.
    fn with_context(&self, seq: i64, message: MessageView, before: u32, after: u32) -> Result<MessageMatch> {
        let mut context_before = Vec::new();
        if before > 0 {
            let sql =
                format!("{MESSAGE_SELECT} WHERE m.chat_jid = ?1 AND m.seq < ?2 ORDER BY m.seq DESC{}", page(before, 0));
            context_before = self.messages(&sql, &[&message.chat_jid, &seq])?;
            context_before.reverse();
        }
        let mut context_after = Vec::new();
        if after > 0 {
            let sql =
                format!("{MESSAGE_SELECT} WHERE m.chat_jid = ?1 AND m.seq > ?2 ORDER BY m.seq ASC{}", page(after, 0));
            context_after = self.messages(&sql, &[&message.chat_jid, &seq])?;
        }
        Ok(MessageMatch { message, context_before, context_after })
    }

    /// A message by id (in `chat` when given) with the messages around it.
    ///
    /// Ids are unique only within a chat: an id found in several chats without `chat` is an
    /// [`StoreError::Ambiguous`] error naming them.
    pub fn message_context(&self, id: &str, chat: Option<&Jid>, before: u32, after: u32) -> Result<MessageMatch> {
        let mut found = match chat {
            Some(chat) => self.message_rows(
                &format!("{MESSAGE_SELECT} WHERE m.id = ?1 AND m.chat_jid = ?2"),
                &[&id, &chat.as_str()],
            )?,
            None => self.message_rows(&format!("{MESSAGE_SELECT} WHERE m.id = ?1 LIMIT 10"), &[&id])?,
        };
        let (seq, message) = match found.len() {
            0 => {
                let where_ = chat.map(|c| format!(" in chat {c}")).unwrap_or_default();
                return Err(StoreError::NotFound(format!("no message with id {id}{where_}")));
            }
            1 => found.remove(0),
            _ => {
                let chats: Vec<&str> = found.iter().map(|(_, m)| m.chat_jid.as_str()).collect();
                return Err(StoreError::Ambiguous(format!(
                    "message id {id} is in several chats ({}): pass chat_jid to choose one",
                    chats.join(", ")
                )));
            }
        };
        self.with_context(seq, message, before, after)
    }

    /// The newest message written by any of `identities` or in their direct chat.
    pub fn last_interaction(&self, identities: &[Jid]) -> Result<Option<MessageView>> {
        let mut newest: Option<i64> = None;
        for jid in identities {
            let by_sender: Option<i64> = self
                .conn
                .prepare_cached("SELECT max(seq) FROM messages WHERE sender_jid = ?1")?
                .query_row([jid.as_str()], |row| row.get(0))?;
            let in_chat: Option<i64> = self
                .conn
                .prepare_cached("SELECT max(seq) FROM messages WHERE chat_jid = ?1")?
                .query_row([jid.as_str()], |row| row.get(0))?;
            newest = newest.max(by_sender).max(in_chat);
        }
        match newest {
            Some(seq) => self.message_at(seq),
            None => Ok(None),
        }
    }
}
