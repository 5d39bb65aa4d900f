//! Parameters of the tools that act through the daemon: lharries' names first, then the
//! optional extras users asked for.

use serde::Deserialize;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageArgs {
    /// A phone number with country code (any notation: +44 7700 900123), a JID, or the exact name
    /// of a contact or group.
    pub recipient: String,
    /// The text to send.
    pub message: String,
    /// The id of a message in the same chat to reply to (it is quoted).
    #[serde(default)]
    pub reply_to: Option<String>,
    /// People to @mention: phone numbers or JIDs.
    #[serde(default)]
    pub mentions: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendFileArgs {
    /// A phone number with country code, a JID, or the exact name of a contact or group.
    pub recipient: String,
    /// Absolute path of the file (under one of the daemon's media roots): images and videos are
    /// sent as such, other files as documents.
    pub media_path: String,
    /// Text shown under the image, video or document.
    #[serde(default)]
    pub caption: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendAudioArgs {
    /// A phone number with country code, a JID, or the exact name of a contact or group.
    pub recipient: String,
    /// Absolute path of an audio file in any common format (under one of the daemon's media
    /// roots); it is converted to a voice note.
    pub media_path: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadArgs {
    /// The id of the message with the attachment.
    pub message_id: String,
    /// The JID of its chat.
    pub chat_jid: String,
}

/// `transcribe_message`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscribeArgs {
    /// The id of the voice note, audio or video message.
    pub message_id: String,
    /// The JID of its chat.
    pub chat_jid: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionArgs {
    /// The JID of the chat.
    pub chat_jid: String,
    /// The id of the message to react to.
    pub message_id: String,
    /// One emoji; an empty string takes the reaction back.
    pub emoji: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkReadArgs {
    /// The JID of the chat.
    pub chat_jid: String,
    /// The messages to mark read; by default the chat's latest messages from others.
    #[serde(default)]
    pub message_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditArgs {
    /// The JID of the chat.
    pub chat_jid: String,
    /// The id of one of your own messages.
    pub message_id: String,
    /// The new text.
    pub message: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// The JID of the chat.
    pub chat_jid: String,
    /// The id of one of your own messages; it is deleted for everyone.
    pub message_id: String,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingArgs {
    /// The JID of the chat.
    pub chat_jid: String,
    /// true shows "typing…" to the others, false clears it.
    #[serde(default = "default_true")]
    #[serde(deserialize_with = "crate::lenient::boolean")]
    pub typing: bool,
}

fn default_history() -> u32 {
    50
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    /// The JID of the chat.
    pub chat_jid: String,
    /// How many messages older than the oldest stored to ask the phone for (1 to 500).
    #[serde(default = "default_history")]
    #[serde(deserialize_with = "crate::lenient::count")]
    pub count: u32,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactArgs {
    /// A phone number with country code, a LID or a JID.
    pub identifier: String,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: crate::args::Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGroupsArgs {
    /// Groups per page (at most 100).
    #[serde(default = "crate::args::default_limit")]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub limit: i64,
    /// Page number, 0 to 1000000.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1_000_000))]
    #[serde(deserialize_with = "crate::lenient::int")]
    pub page: i64,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: crate::args::Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInfoArgs {
    /// The group's JID (ends in @g.us).
    pub jid: String,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: crate::args::Format,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumbersArgs {
    /// Phone numbers with country code, in any notation (at most 50).
    pub phones: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmArgs {
    /// The token a send tool returned with its preview.
    pub token: String,
}
