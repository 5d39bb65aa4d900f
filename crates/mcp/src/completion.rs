//! What `completion/complete` offers: chats whose name or number holds what was typed, most
//! recently active first; as `Name (jid)` for a prompt's `chat` (which takes that form), as the
//! JID for the chat resource template's `jid`.

use rmcp::model::{CompleteRequestParams, CompletionInfo, Reference};
use wamcp_store::Reader;
use wamcp_store::read::ChatOrder;

use crate::resources::CHAT_TEMPLATE;

/// How many values one completion offers.
const OFFERED: u32 = 20;

pub fn complete(reader: &Reader, request: &CompleteRequestParams) -> wamcp_store::Result<CompletionInfo> {
    let as_jid = match (&request.r#ref, request.argument.name.as_str()) {
        (Reference::Prompt(_), "chat") => false,
        (Reference::Resource(template), "jid") if template.uri == CHAT_TEMPLATE => true,
        _ => return Ok(CompletionInfo::default()),
    };
    let typed = request.argument.value.trim();
    let query = (!typed.is_empty()).then_some(typed);
    let chats = reader.list_chats(query, ChatOrder::LastActive, OFFERED, 0, false)?;
    let values = chats
        .into_iter()
        .map(|chat| match (&chat.name, as_jid) {
            (Some(name), false) => format!("{name} ({})", chat.jid),
            _ => chat.jid,
        })
        .collect();
    Ok(CompletionInfo::new(values).unwrap_or_default())
}
