//! Tools that change messages already sent or show activity: `edit_message`, `delete_message`
//! (own messages, or anyone's as a group admin) and `send_typing`. They message people, so
//! they are not listed when the send policy is `off`.

use rmcp::model::JsonObject;
use rmcp::{tool, tool_router};
use wamcp_api::{Delete, Edit, Typing};

use crate::args;
use crate::output::{self, DoneOut, SendOut};
use crate::schema;
use crate::send_args::{DeleteArgs, EditArgs, TypingArgs};
use crate::send_tools::{Call, SendResult, finish, finish_send};
use crate::tools::{ToolResult, Tools};

#[tool_router(router = message_router, vis = "pub(crate)")]
impl Tools {
    /// Change the text of one of your own messages (WhatsApp shows it as edited).
    #[tool(
        input_schema = schema::input::<EditArgs>(),
        output_schema = schema::output::<SendOut>(),
        annotations(title = "Edit message", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    async fn edit_message(&self, call: Call, arguments: JsonObject) -> SendResult {
        finish_send(
            async {
                let a: EditArgs = args::parse(arguments)?;
                let chat = args::chat_jid("chat_jid", &a.chat_jid)?;
                let sending = self.sending()?;
                let cleared = self.clear_to_send(sending, chat.as_str())?;
                let chat = cleared.chat.clone();
                let preview = format!("In {chat}: change message {} to: {}", a.message_id, a.message);
                let request = Edit {
                    chat_jid: chat.to_string(),
                    message_id: a.message_id,
                    message: a.message,
                    idempotency_key: None,
                };
                self.dispatch(call, sending, cleared, request.into(), preview).await
            }
            .await,
        )
    }

    /// Delete a message for everyone in the chat: one of your own, or, as a group admin, anyone's.
    #[tool(
        input_schema = schema::input::<DeleteArgs>(),
        output_schema = schema::output::<SendOut>(),
        annotations(title = "Delete message", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    async fn delete_message(&self, call: Call, arguments: JsonObject) -> SendResult {
        finish_send(
            async {
                let a: DeleteArgs = args::parse(arguments)?;
                let chat = args::chat_jid("chat_jid", &a.chat_jid)?;
                let sending = self.sending()?;
                let cleared = self.clear_to_send(sending, chat.as_str())?;
                let chat = cleared.chat.clone();
                let preview = format!("In {chat}: delete message {} for everyone", a.message_id);
                let request = Delete { chat_jid: chat.to_string(), message_id: a.message_id, idempotency_key: None };
                self.dispatch(call, sending, cleared, request.into(), preview).await
            }
            .await,
        )
    }

    /// Show (or clear) "typing…" in a chat.
    #[tool(
        input_schema = schema::input::<TypingArgs>(),
        output_schema = schema::output::<DoneOut>(),
        annotations(title = "Send typing", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn send_typing(&self, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let a: TypingArgs = args::parse(arguments)?;
                let chat = args::chat_jid("chat_jid", &a.chat_jid)?;
                let sending = self.sending()?;
                {
                    let reader = self.reader();
                    sending.policy.allows(&reader, &chat)?;
                }
                let request = Typing { chat_jid: chat.to_string(), typing: a.typing };
                let answer = sending.daemon.call(request).await.map_err(|e| e.to_string())?;
                let out = DoneOut { success: true, message: answer.message };
                let text = out.message.clone();
                Ok(output::success(&out, text))
            }
            .await,
        )
    }
}
