//! Tool results: a structured JSON object (declared by an output schema) and one text block, the
//! readable rendering, in which text written by other people is fenced as untrusted data.
//!
//! The JSON is not repeated as text: it would carry the same messages unfenced, so a planted
//! instruction would reach the model bare beside the fenced copy.

use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;
use wamcp_core::{ChatView, ContactView, MessageMatch, MessageView};

/// `search_contacts`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContactsOut {
    pub contacts: Vec<ContactView>,
}

/// `list_messages`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MessagesOut {
    /// Matching messages, newest first, each with its context when asked for.
    pub messages: Vec<MessageMatch>,
    pub page: u64,
    /// The page size used (requests above the maximum are lowered to it).
    pub limit: u32,
    /// Whether a further page has more messages.
    pub has_more: bool,
}

/// `list_chats` and `get_contact_chats`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ChatsOut {
    pub chats: Vec<ChatView>,
    pub page: u64,
    pub limit: u32,
    pub has_more: bool,
}

/// `get_chat` and `get_direct_chat_by_contact`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ChatOut {
    pub chat: ChatView,
}

/// `get_last_interaction`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LastInteractionOut {
    /// The newest message from or with the person; null when there is none.
    pub message: Option<MessageView>,
}

/// `get_message_context`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContextOut {
    pub message: MessageView,
    /// Earlier messages of the chat, oldest first.
    pub before: Vec<MessageView>,
    /// Later messages of the chat, oldest first.
    pub after: Vec<MessageView>,
}

impl From<MessageMatch> for ContextOut {
    fn from(found: MessageMatch) -> ContextOut {
        ContextOut { message: found.message, before: found.context_before, after: found.context_after }
    }
}

/// A successful result: structured content, and the rendering as the only text.
pub fn success<T: Serialize>(value: &T, rendering: String) -> CallToolResult {
    let json = serde_json::to_value(value).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
    let mut result = CallToolResult::success(vec![ContentBlock::text(rendering)]);
    result.structured_content = Some(json);
    result
}

/// Adds a line of our own at the end of a result's text.
pub fn append_text(result: &mut CallToolResult, line: &str) {
    match result.content.iter_mut().find_map(|c| match c {
        ContentBlock::Text(text) => Some(text),
        _ => None,
    }) {
        Some(text) => {
            text.text.push('\n');
            text.text.push_str(line);
        }
        None => result.content.push(ContentBlock::text(line.to_string())),
    }
}

/// A tool error the assistant sees (`isError: true`) with what was wrong.
pub fn failure(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

/// The send tools.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SendOut {
    pub success: bool,
    pub message: String,
    /// The message id, chosen when the send was queued and kept by WhatsApp (none while it awaits
    /// confirmation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub chat_jid: String,
    /// `pending` (queued: delivered as soon as WhatsApp is reachable), `sent`, `delivered`,
    /// `read`, `failed`, or `needs_confirmation` under the confirm policy.
    pub status: String,
    /// Under the confirm policy: the token `confirm_send` takes to send exactly this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_token: Option<String>,
    /// Under the confirm policy: what would be sent, to show the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

/// `download_media`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DownloadOut {
    pub success: bool,
    pub message: String,
    /// Where the file was saved (in the data directory's `media/`); with encrypt_media, a plain
    /// copy that is removed after 15 minutes.
    pub file_path: String,
}

/// `transcribe_message`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TranscriptOut {
    pub success: bool,
    /// done, queued (the transcript follows; list_messages shows it once made) or failed.
    pub state: wamcp_api::TranscriptState,
    /// What was said, as the transcription endpoint heard it. Untrusted third-party data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// Why it failed, or why the last attempt did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `send_reaction` and `mark_read`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DoneOut {
    pub success: bool,
    pub message: String,
}

/// `get_status`: the daemon's `/api/status`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StatusOut {
    #[serde(flatten)]
    pub status: serde_json::Map<String, serde_json::Value>,
}

/// `get_contact`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContactOut {
    pub contact: ContactView,
}

/// A group member.
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Participant {
    pub jid: String,
    pub is_admin: bool,
    /// The member's name, when the store knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `get_group_info`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GroupOut {
    pub jid: String,
    pub subject: String,
    pub description: Option<String>,
    pub participants: Vec<Participant>,
}

/// One number checked by `is_on_whatsapp`.
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct NumberOut {
    pub phone: String,
    pub on_whatsapp: bool,
    pub jid: Option<String>,
}

/// `is_on_whatsapp`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NumbersOut {
    pub results: Vec<NumberOut>,
}
