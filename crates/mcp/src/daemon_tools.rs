//! Tools that act through the daemon without messaging anyone: `download_media` (lharries'),
//! `transcribe_message`, `get_status`, and `request_history` (older messages from the phone). Listed whenever there is
//! a daemon, whatever the send policy.

use rmcp::model::JsonObject;
use rmcp::{tool, tool_router};
use serde_json::Value;
use wamcp_api::{Download, GetStatus, RequestHistory, Transcribe, TranscriptState};

use crate::args;
use crate::output::{self, DoneOut, DownloadOut, StatusOut, TranscriptOut};
use crate::resources;
use crate::schema;
use crate::send_args::{DownloadArgs, HistoryArgs, NoArgs, TranscribeArgs};
use crate::send_tools::finish;
use crate::tools::{ToolResult, Tools};

#[tool_router(router = daemon_router, vis = "pub(crate)")]
impl Tools {
    /// Download a message's image, video, audio or document; returns the local file path, and
    /// shows a photo or sticker (a video's first frame) as an image.
    #[tool(
        input_schema = schema::input::<DownloadArgs>(),
        output_schema = schema::output::<DownloadOut>(),
        annotations(title = "Download media", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn download_media(&self, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let a: DownloadArgs = args::parse(arguments)?;
                let chat = args::chat_jid("chat_jid", &a.chat_jid)?;
                let sending = self.sending()?;
                let request = Download { message_id: a.message_id.clone(), chat_jid: chat.to_string() };
                let answer = sending.daemon.call(request).await.map_err(|e| e.to_string())?;
                let out = DownloadOut { success: true, message: answer.message, file_path: answer.path };
                let text = format!("Saved to {}", out.file_path);
                let mut result = output::success(&out, text);
                // A link the client can read (or attach) as a resource.
                let stored = self.reader().media(&chat, &a.message_id).ok().map(|stored| stored.media);
                let name = std::path::Path::new(&out.file_path).file_name().map(|n| n.to_string_lossy().into_owned());
                let link = resources::media_link(
                    &chat,
                    &a.message_id,
                    &name.unwrap_or_else(|| a.message_id.clone()),
                    stored.as_ref().and_then(|m| m.mimetype.as_deref()),
                    stored.as_ref().and_then(|m| m.size),
                );
                result.content.push(rmcp::model::ContentBlock::resource_link(link));
                // A photo, sticker or video is also shown, so a model that sees images sees it.
                self.add_look(&chat, &a.message_id, &mut result).await;
                Ok(result)
            }
            .await,
        )
    }

    /// What a voice note (or audio, or video) says, as text. Waits up to a minute for the
    /// transcript; if it takes longer, it is stored with the message when made and list_messages
    /// shows it.
    #[tool(
        input_schema = schema::input::<TranscribeArgs>(),
        output_schema = schema::output::<TranscriptOut>(),
        annotations(title = "Transcribe a voice note", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn transcribe_message(&self, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let a: TranscribeArgs = args::parse(arguments)?;
                let chat = args::chat_jid("chat_jid", &a.chat_jid)?;
                let sending = self.sending()?;
                let request = Transcribe { message_id: a.message_id.clone(), chat_jid: chat.to_string() };
                let answer = sending.daemon.call(request).await.map_err(|e| e.to_string())?;
                let text = match (&answer.state, &answer.transcript) {
                    // What was said is the sender's words: fenced like their text.
                    (TranscriptState::Done, Some(transcript)) => {
                        let fence = wamcp_core::render::Fence::random();
                        format!("{}\nTranscript of #{}: {}", fence.note(), a.message_id, fence.wrap(transcript))
                    }
                    (TranscriptState::Failed, _) => format!(
                        "Transcription of #{} failed: {}. Calling again tries anew.",
                        a.message_id,
                        answer.error.as_deref().unwrap_or("unknown")
                    ),
                    _ => format!(
                        "Transcription of #{} is queued{}; list_messages shows the transcript once it is made.",
                        a.message_id,
                        answer.error.as_deref().map(|e| format!(" (last attempt: {e})")).unwrap_or_default()
                    ),
                };
                let out = TranscriptOut {
                    success: answer.success,
                    state: answer.state,
                    transcript: answer.transcript,
                    error: answer.error,
                };
                Ok(output::success(&out, text))
            }
            .await,
        )
    }

    /// The bridge's state: WhatsApp connection (and what to do when it is down), account, outbox
    /// depth, history sync progress.
    #[tool(
        input_schema = schema::input::<NoArgs>(),
        output_schema = schema::output::<StatusOut>(),
        annotations(title = "Get status", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_status(&self, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let _: NoArgs = args::parse(arguments)?;
                let sending = self.sending()?;
                let status = sending.daemon.call(GetStatus {}).await.map_err(|e| e.to_string())?;
                let Ok(Value::Object(status)) = serde_json::to_value(status) else {
                    return Err("the daemon's status is not an object".into());
                };
                let text = serde_json::to_string_pretty(&status).unwrap_or_default();
                Ok(output::success(&StatusOut { status }, text))
            }
            .await,
        )
    }

    /// Ask the phone for messages of a chat older than the oldest stored; they arrive in the
    /// background and show in list_messages once stored.
    #[tool(
        input_schema = schema::input::<HistoryArgs>(),
        output_schema = schema::output::<DoneOut>(),
        annotations(title = "Request history", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn request_history(&self, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let a: HistoryArgs = args::parse(arguments)?;
                let chat = args::chat_jid("chat_jid", &a.chat_jid)?;
                let sending = self.sending()?;
                let request = RequestHistory { chat_jid: chat.to_string(), count: a.count };
                let answer = sending.daemon.call(request).await.map_err(|e| e.to_string())?;
                let out = DoneOut { success: true, message: answer.message };
                let text = out.message.clone();
                Ok(output::success(&out, text))
            }
            .await,
        )
    }
}
