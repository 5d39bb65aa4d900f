//! Prompts the user picks in their client (`prompts/list`, `prompts/get`): each is an instruction
//! and the fenced transcript it is about, read from the store.
//! - `catch_up(since?)`: the chats with unread or recent messages since a time, chat by chat;
//! - `summarize_chat(chat, since?)`;
//! - `draft_reply(chat)`: a reply to show the user, never sent by the prompt.

use std::collections::HashMap;

use rmcp::ErrorData;
use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use wamcp_core::{Jid, MessageView, Timestamp, render};
use wamcp_store::Reader;
use wamcp_store::read::{ChatOrder, MessageFilter};

use crate::recipient;
use crate::shape;

/// How far back `catch_up` looks when not told.
const CATCH_UP_HOURS: i64 = 24;
/// Most chats `catch_up` covers, and messages per chat.
const CATCH_UP_CHATS: u32 = 20;
const CATCH_UP_PER_CHAT: u32 = 20;
/// Messages `summarize_chat` reads when not given a time, and `draft_reply` reads.
const SUMMARY_MESSAGES: u32 = 100;
const REPLY_MESSAGES: u32 = 30;

/// The prompts, as `prompts/list` shows them. A `chat` argument completes (`completion/complete`).
pub fn list() -> Vec<Prompt> {
    let since = PromptArgument::new("since")
        .with_description("Only messages after this time (RFC 3339 or a date)")
        .with_required(false);
    let chat =
        PromptArgument::new("chat").with_description("The chat: a name, a phone number or a JID").with_required(true);
    vec![
        Prompt::new(
            "catch_up",
            Some("Catch up on WhatsApp: the chats with unread or recent messages (the last 24 hours unless told), chat by chat"),
            Some(vec![since.clone()]),
        )
        .with_title("Catch up on WhatsApp"),
        Prompt::new("summarize_chat", Some("Summarize one WhatsApp chat"), Some(vec![chat.clone(), since]))
            .with_title("Summarize a WhatsApp chat"),
        Prompt::new("draft_reply", Some("Draft a reply to a WhatsApp chat's latest messages, to show you first"), Some(vec![chat]))
            .with_title("Draft a WhatsApp reply"),
    ]
}

/// One prompt with its arguments filled in.
pub fn get(reader: &Reader, name: &str, arguments: &HashMap<String, String>) -> Result<GetPromptResult, ErrorData> {
    let invalid = |message: String| ErrorData::invalid_params(message, None);
    let since = match arguments.get("since").map(String::as_str).filter(|s| !s.trim().is_empty()) {
        Some(since) => Some(
            Timestamp::parse_user(since).map_err(|e| invalid(format!("invalid value for argument 'since': {e}")))?,
        ),
        None => None,
    };
    let chat = |reader: &Reader| -> Result<Jid, ErrorData> {
        let given = arguments.get("chat").map(String::as_str).unwrap_or_default();
        recipient::resolve(reader, "chat", given).map_err(invalid)
    };
    let store = |e: wamcp_store::StoreError| ErrorData::internal_error(e.to_string(), None);
    let (description, instruction, transcript) = match name {
        "catch_up" => {
            let since = since.unwrap_or_else(|| Timestamp(Timestamp::now().millis() - CATCH_UP_HOURS * 3_600_000));
            let messages = catch_up(reader, since).map_err(store)?;
            let instruction = format!(
                "Catch me up on WhatsApp since {since}. Chat by chat: who wrote, what they want, and what needs an \
                 answer from me, most urgent first. Quote nothing at length. Below are the messages, chat by chat."
            );
            ("Unread and recent WhatsApp chats".to_string(), instruction, messages)
        }
        "summarize_chat" => {
            let chat = chat(reader)?;
            let messages = chat_messages(reader, &chat, since, SUMMARY_MESSAGES).map_err(store)?;
            let window = since.map(|s| format!(" since {s}")).unwrap_or_default();
            let instruction = format!(
                "Summarize this WhatsApp chat ({chat}){window}: the topics, what was decided, and what is still \
                 open or waiting for me. Below are its messages, oldest first."
            );
            (format!("A summary of {chat}"), instruction, messages)
        }
        "draft_reply" => {
            let chat = chat(reader)?;
            let messages = chat_messages(reader, &chat, None, REPLY_MESSAGES).map_err(store)?;
            let instruction = format!(
                "Draft a reply to the latest messages of this WhatsApp chat ({chat}), in the language and tone they \
                 are written in. Show me the draft; do not send it until I say so. Below are the latest messages, \
                 oldest first."
            );
            (format!("A reply to {chat}"), instruction, messages)
        }
        other => {
            return Err(invalid(format!(
                "no prompt is named '{other}'; the prompts are catch_up, summarize_chat and draft_reply"
            )));
        }
    };
    let transcript = if transcript.is_empty() {
        "There are no messages to show.".to_string()
    } else {
        shape::within_budget(render::messages(&transcript))
    };
    let text = format!("{instruction}\n\n{transcript}");
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).with_description(description))
}

/// The chats with unread messages or messages after `since`, most recent first; each chat's
/// messages after `since` (or its unread ones), oldest first, one chat after another.
fn catch_up(reader: &Reader, since: Timestamp) -> wamcp_store::Result<Vec<MessageView>> {
    let chats = reader.list_chats(None, ChatOrder::LastActive, 100, 0, false)?;
    let wanted = chats
        .into_iter()
        .filter(|c| c.unread_count > 0 || c.last_message_time.is_some_and(|t| t > since))
        .take(CATCH_UP_CHATS as usize);
    let mut all = Vec::new();
    for chat in wanted {
        let jid = Jid::parse(&chat.jid).map_err(|e| wamcp_store::StoreError::Invalid(e.to_string()))?;
        let per_chat = CATCH_UP_PER_CHAT.max(chat.unread_count.min(50));
        let after = if chat.unread_count > 0 { None } else { Some(since) };
        all.extend(chat_messages(reader, &jid, after, per_chat)?);
    }
    Ok(all)
}

/// A chat's newest `limit` messages (after `since`, if given), oldest first.
fn chat_messages(
    reader: &Reader,
    chat: &Jid,
    since: Option<Timestamp>,
    limit: u32,
) -> wamcp_store::Result<Vec<MessageView>> {
    let filter = MessageFilter { chats: reader.identities(chat)?, after: since, limit, ..MessageFilter::default() };
    let mut messages: Vec<MessageView> =
        reader.list_messages(&filter)?.matches.into_iter().map(|m| m.message).collect();
    messages.reverse();
    Ok(messages)
}
