//! The rest of what a WhatsApp client does: edit and delete messages, show typing, look up a
//! group, ask the phone for older history, check numbers.

use wamcp_api::http::ApiError;
use wamcp_api::{
    Delete, Done, Edit, GetGroup, GroupInfo, GroupMember, IsOnWhatsApp, NumberCheck, NumbersChecked, Queued,
    RequestHistory, Typing,
};
use wamcp_core::{Jid, MessageId};
use wamcp_link::HistoryAnchor;

use super::send::parse_recipient;
use super::{AppState, store_error};
use crate::send_request::Body;

/// Most older messages one history request asks for.
const MAX_HISTORY_REQUEST: u32 = 500;
/// Most numbers one check takes.
const MAX_NUMBERS: usize = 50;

impl AppState {
    /// Changes the text of one of our own messages.
    pub(super) async fn edit(&self, request: Edit) -> Result<Queued, ApiError> {
        let chat = parse_recipient(&request.chat_jid)?;
        let target = self.message_ref(&chat, &request.message_id).await?;
        if !target.from_me {
            return Err(ApiError::bad_request("message_id: only your own messages can be edited"));
        }
        let text = request.message.trim_end().to_string();
        if text.is_empty() {
            return Err(ApiError::bad_request("message: empty; to remove a message, delete it"));
        }
        self.enqueue_change(&chat, Body::Edit { target, text }, request.idempotency_key).await
    }

    /// Deletes a message for everyone: one of our own, or anyone's in a group we are admin of.
    pub(super) async fn delete(&self, request: Delete) -> Result<Queued, ApiError> {
        let chat = parse_recipient(&request.chat_jid)?;
        let target = self.message_ref(&chat, &request.message_id).await?;
        if !target.from_me {
            self.check_group_admin(&chat).await?;
        }
        self.enqueue_change(&chat, Body::Revoke { target }, request.idempotency_key).await
    }

    pub(super) async fn typing(&self, request: Typing) -> Result<Done, ApiError> {
        let chat = parse_recipient(&request.chat_jid)?;
        self.link.set_typing(&chat, request.typing).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
        let shown = if request.typing { "shown" } else { "cleared" };
        Ok(Done::new(format!("typing {shown} in {chat}")))
    }

    /// A group's subject, description and members (with who is admin), from WhatsApp.
    pub(super) async fn group(&self, request: GetGroup) -> Result<GroupInfo, ApiError> {
        let jid = request.jid;
        let group = Jid::parse(&jid).ok().filter(|j| j.kind() == wamcp_core::JidKind::Group).ok_or_else(|| {
            ApiError::bad_request(format!(
                "'{jid}' is not a group JID; group JIDs end in @g.us (list_groups shows them)"
            ))
        })?;
        let info = self.link.group_info(&group).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
        let participants = info
            .participants
            .iter()
            .map(|p| GroupMember { jid: p.to_string(), is_admin: info.admins.contains(p) })
            .collect();
        Ok(GroupInfo {
            success: true,
            jid: info.jid.to_string(),
            subject: info.subject,
            description: info.description,
            participants,
        })
    }

    /// Asks the phone for messages older than the oldest stored; they arrive as a history batch.
    pub(super) async fn history(&self, request: RequestHistory) -> Result<Done, ApiError> {
        let chat = parse_recipient(&request.chat_jid)?;
        if request.count == 0 || request.count > MAX_HISTORY_REQUEST {
            return Err(ApiError::bad_request(format!(
                "count: {} is out of range; ask for 1 to {MAX_HISTORY_REQUEST} messages",
                request.count
            )));
        }
        let oldest = self.reader().await?.oldest_message(&chat).map_err(store_error)?.ok_or_else(|| {
            ApiError::not_found(format!("{chat} has no messages yet: there is nothing to go back from"))
        })?;
        let anchor = HistoryAnchor {
            chat: oldest.wire_chat.clone(),
            oldest_id: MessageId(oldest.id),
            oldest_from_me: oldest.from_me,
            oldest_at: oldest.at,
        };
        self.link.request_history(&anchor, request.count).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
        Ok(Done::new(format!(
            "asked the phone for {} messages of {chat} before {}; they arrive in the background",
            request.count, oldest.at
        )))
    }

    /// Which numbers have WhatsApp.
    pub(super) async fn is_on_whatsapp(&self, request: IsOnWhatsApp) -> Result<NumbersChecked, ApiError> {
        if request.phones.is_empty() || request.phones.len() > MAX_NUMBERS {
            return Err(ApiError::bad_request(format!("phones: give 1 to {MAX_NUMBERS} phone numbers")));
        }
        let mut digits = Vec::with_capacity(request.phones.len());
        for phone in &request.phones {
            let jid =
                Jid::parse_person(phone).ok().filter(|j| j.kind() == wamcp_core::JidKind::Phone).ok_or_else(|| {
                    ApiError::bad_request(format!("phones: '{phone}' is not a phone number with country code"))
                })?;
            digits.push(jid.user().to_string());
        }
        let found = self.link.is_on_whatsapp(&digits).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
        let results = request
            .phones
            .into_iter()
            .zip(found)
            .map(|(phone, (_, jid))| NumberCheck { phone, on_whatsapp: jid.is_some(), jid: jid.map(|j| j.to_string()) })
            .collect();
        Ok(NumbersChecked { success: true, results })
    }
}
