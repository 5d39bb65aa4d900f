//! Tools that act through the daemon without messaging anyone: `download_media` (lharries'),
//! `get_status`, and `request_history` (older messages from the phone). Listed whenever there is
//! a daemon, whatever the send policy.

use rmcp::model::JsonObject;
use rmcp::{tool, tool_router};
use serde_json::Value;
use wamcp_api::{Download, GetStatus, RequestHistory};

use crate::args;
use crate::output::{self, DoneOut, DownloadOut, StatusOut};
use crate::resources;
use crate::schema;
use crate::send_args::{DownloadArgs, HistoryArgs, NoArgs};
use crate::send_tools::finish;
use crate::tools::{ToolResult, Tools};

#[tool_router(router = daemon_router, vis = "pub(crate)")]
impl Tools {
    /// Download a message's image, video, audio or document; returns the local file path.
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
                Ok(result)
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
