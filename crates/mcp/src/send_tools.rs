//! The tools that message someone: lharries' `send_message`, `send_file` and
//! `send_audio_message`, plus `send_reaction` and `mark_read` (and `confirm_send`, listed under
//! the `confirm` policy only).
//!
//! Each one resolves who it is for, asks the send policy, and hands the action to the daemon,
//! which queues it durably and answers with the message id and its status. A refusal or a
//! daemon that is not running is a tool error that says what to do.

use std::collections::BTreeMap;

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{CallToolResponse, JsonObject};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use wamcp_api::{Answer, MarkRead, React, Request, SendMessage};
use wamcp_core::Jid;
use wamcp_store::MessageFilter;

use crate::args;
use crate::consent::{self, Asking, Consent, Refusal};
use crate::output::{self, DoneOut, SendOut};
use crate::policy::{Clearance, ConfirmVia};
use crate::recipient;
use crate::schema;
use crate::send_args::ConfirmArgs;
use crate::send_args::{MarkReadArgs, ReactionArgs, SendAudioArgs, SendFileArgs, SendMessageArgs};
use crate::tools::{Sending, ToolResult, Tools};
use crate::whatsapp_consent;

/// How many recent messages `mark_read` marks when given no ids.
const MARK_READ_RECENT: u32 = 50;

pub(crate) type Outcome = Result<rmcp::model::CallToolResult, String>;

/// What a tool that may have to ask the user answers: a result, or (2026-07-28) the question.
pub(crate) type SendResult = Result<CallToolResponse, ErrorData>;

/// A refusal or failure the assistant sees as a tool error, for the tools that may ask.
pub(crate) fn finish_send(outcome: Result<CallToolResponse, String>) -> SendResult {
    Ok(outcome.unwrap_or_else(|refusal| output::failure(refusal).into()))
}

/// The call a send came in: its request context, and the user's answer when it is the second
/// round of a question (2026-07-28's `input_required`). Taken from the tool call as a parameter.
pub(crate) struct Call {
    pub context: RequestContext<RoleServer>,
    pub answer: Option<consent::Answer>,
}

impl FromContextPart<ToolCallContext<'_, Tools>> for Call {
    fn from_context_part(call: &mut ToolCallContext<'_, Tools>) -> Result<Call, ErrorData> {
        let answer = consent::Answer::read(call.input_responses.take(), call.request_state.take());
        Ok(Call { context: call.request_context.clone(), answer })
    }
}

/// A refusal or failure the assistant sees as a tool error.
pub(crate) fn finish(outcome: Outcome) -> ToolResult {
    Ok(outcome.unwrap_or_else(output::failure))
}

impl Tools {
    pub(crate) fn sending(&self) -> Result<&Sending, String> {
        self.sending.as_deref().ok_or_else(|| "this server is read-only: it has no daemon to send through".to_string())
    }

    pub(crate) fn reader(&self) -> std::sync::MutexGuard<'_, wamcp_store::Reader> {
        self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The chat `recipient` names, and what the policy says about messaging it (refusals are
    /// errors).
    pub(crate) fn clear_to_send(&self, sending: &Sending, recipient: &str) -> Result<Cleared, String> {
        let reader = self.reader();
        let chat = recipient::resolve(&reader, "recipient", recipient)?;
        let clearance = sending.policy.clearance(&reader, &chat)?;
        Ok(Cleared { chat, clearance })
    }

    /// Sends (or edits, deletes, reacts) within the rate limit, once the user agrees where the
    /// policy wants them to ([`consent`], [`whatsapp_consent`]): under `confirm` every send, under
    /// `known` the first to a new recipient. Where the user cannot be asked, `confirm` hands
    /// out a token for `confirm_send`, and `known` refuses.
    pub(crate) async fn dispatch(
        &self,
        call: Call,
        sending: &Sending,
        cleared: Cleared,
        request: Request,
        preview: String,
    ) -> Result<CallToolResponse, String> {
        let Cleared { chat, clearance } = cleared;
        // The second round of a question: the send held under the echoed state goes, or nothing.
        if let Some(consent::Answer { state, consent }) = call.answer {
            let held = sending.policy.release_answered(&state)?;
            return match consent {
                Consent::Given => {
                    sending.policy.take_send()?;
                    self.queue(sending, held.request).await.map(Into::into)
                }
                Consent::Refused(refusal) => Ok(not_sent(&chat, &refusal, held.preview).into()),
                Consent::CannotAsk => Err("the answer to the question could not be read".into()),
            };
        }
        if clearance != Clearance::Clear {
            let question = self.question(&chat, &preview, &clearance);
            let timeout = sending.policy.confirm_timeout;
            let consent = match (sending.policy.confirm_via, consent::asking(&call.context)) {
                (ConfirmVia::WhatsApp, _) => whatsapp_consent::ask(sending.daemon.as_ref(), question, timeout).await,
                (ConfirmVia::Client, Some(Asking::Request)) => {
                    consent::ask(&call.context.peer, question, timeout).await
                }
                (ConfirmVia::Client, Some(Asking::InputRequired)) => {
                    let state = sending.policy.hold_for_question(request, preview);
                    return Ok(consent::input_required(question, state).into());
                }
                (ConfirmVia::Client, None) => Consent::CannotAsk,
            };
            match (consent, clearance) {
                (Consent::Given, _) => {}
                (Consent::Refused(refusal), _) => return Ok(not_sent(&chat, &refusal, preview).into()),
                (Consent::CannotAsk, Clearance::UserMayAllow { refusal }) => return Err(refusal),
                (Consent::CannotAsk, _) => return Ok(held_for_token(sending, &chat, request, preview).into()),
            }
        }
        sending.policy.take_send()?;
        self.queue(sending, request).await.map(Into::into)
    }

    /// What the user is asked: who the send is for (by name, when known) and what it does.
    fn question(&self, chat: &Jid, preview: &str, clearance: &Clearance) -> String {
        let name = self.reader().chat(chat, false).ok().flatten().and_then(|c| c.name);
        let recipient = match name {
            Some(name) => format!("{name} ({chat})"),
            None => chat.to_string(),
        };
        let new = match clearance {
            Clearance::UserMayAllow { .. } => "\n(This is someone you have not written to before.)",
            _ => "",
        };
        format!("Send this on WhatsApp?\nRecipient: {recipient}{new}\n\n{preview}")
    }

    /// Hands a send to the daemon and reports it.
    async fn queue(&self, sending: &Sending, request: Request) -> Outcome {
        let queued = match sending.daemon.handle(request).await.map_err(|e| e.to_string())? {
            Answer::SendMessage(queued) | Answer::React(queued) | Answer::Edit(queued) | Answer::Delete(queued) => {
                queued
            }
            other => return Err(format!("the daemon answered a send with {other:?}")),
        };
        let out = SendOut {
            success: true,
            message: queued.message,
            id: Some(queued.id),
            chat_jid: queued.chat_jid,
            status: queued.status.as_str().to_string(),
            confirm_token: None,
            preview: None,
        };
        let text = format!("{} (id {}, status {})", out.message, out.id.as_deref().unwrap_or("?"), out.status);
        Ok(output::success(&out, text))
    }
}

/// A recipient, and what the policy says about it.
pub(crate) struct Cleared {
    pub chat: Jid,
    pub clearance: Clearance,
}

/// A send the user refused: nothing was sent, and the result says why.
fn not_sent(chat: &Jid, refusal: &Refusal, preview: String) -> rmcp::model::CallToolResult {
    let out = SendOut {
        success: false,
        message: refusal.said(),
        id: None,
        chat_jid: chat.to_string(),
        status: refusal.status().into(),
        confirm_token: None,
        preview: Some(preview),
    };
    let text = out.message.clone();
    output::success(&out, text)
}

/// A send kept for `confirm_send`, for clients that cannot ask their user.
fn held_for_token(sending: &Sending, chat: &Jid, request: Request, preview: String) -> rmcp::model::CallToolResult {
    let token = sending.policy.hold(request, preview.clone());
    let out = SendOut {
        success: true,
        message: format!(
            "Not sent yet. Show the user this preview; once they agree, call confirm_send with the token. {preview}"
        ),
        id: None,
        chat_jid: chat.to_string(),
        status: "needs_confirmation".into(),
        confirm_token: Some(token),
        preview: Some(preview),
    };
    let text = out.message.clone();
    output::success(&out, text)
}

#[tool_router(router = send_router, vis = "pub(crate)")]
impl Tools {
    /// Send a WhatsApp text message to a person or group. Optional: reply_to (quote a message of
    /// that chat) and mentions. Returns the message id and its delivery status.
    #[tool(
        input_schema = schema::input::<SendMessageArgs>(),
        output_schema = schema::output::<SendOut>(),
        annotations(title = "Send message", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn send_message(&self, call: Call, arguments: JsonObject) -> SendResult {
        finish_send(
            async {
                let a: SendMessageArgs = args::parse(arguments)?;
                if a.message.trim().is_empty() {
                    return Err("invalid value for parameter 'message': it is empty".to_string());
                }
                let sending = self.sending()?;
                let cleared = self.clear_to_send(sending, &a.recipient)?;
                let chat = cleared.chat.clone();
                let preview = format!("To {chat}: {}", a.message);
                let request = SendMessage {
                    recipient: chat.to_string(),
                    message: a.message,
                    reply_to: a.reply_to,
                    mentions: a.mentions,
                    ..SendMessage::default()
                };
                self.dispatch(call, sending, cleared, request.into(), preview).await
            }
            .await,
        )
    }

    /// Send a file (image, video, document) to a person or group, with an optional caption.
    #[tool(
        input_schema = schema::input::<SendFileArgs>(),
        output_schema = schema::output::<SendOut>(),
        annotations(title = "Send file", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn send_file(&self, call: Call, arguments: JsonObject) -> SendResult {
        finish_send(
            async {
                let a: SendFileArgs = args::parse(arguments)?;
                let sending = self.sending()?;
                let cleared = self.clear_to_send(sending, &a.recipient)?;
                let chat = cleared.chat.clone();
                let caption = a.caption.unwrap_or_default();
                let preview = format!("To {chat}: the file {} with the caption \"{caption}\"", a.media_path);
                let request = SendMessage {
                    recipient: chat.to_string(),
                    message: caption,
                    media_path: Some(a.media_path),
                    ..SendMessage::default()
                };
                self.dispatch(call, sending, cleared, request.into(), preview).await
            }
            .await,
        )
    }

    /// Send an audio file as a WhatsApp voice note (converted to Ogg/Opus, with its waveform).
    #[tool(
        input_schema = schema::input::<SendAudioArgs>(),
        output_schema = schema::output::<SendOut>(),
        annotations(title = "Send voice note", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn send_audio_message(&self, call: Call, arguments: JsonObject) -> SendResult {
        finish_send(
            async {
                let a: SendAudioArgs = args::parse(arguments)?;
                let sending = self.sending()?;
                let cleared = self.clear_to_send(sending, &a.recipient)?;
                let chat = cleared.chat.clone();
                let preview = format!("To {chat}: {} as a voice note", a.media_path);
                let request = SendMessage {
                    recipient: chat.to_string(),
                    media_path: Some(a.media_path),
                    voice: true,
                    ..SendMessage::default()
                };
                self.dispatch(call, sending, cleared, request.into(), preview).await
            }
            .await,
        )
    }

    /// React to a message with an emoji (an empty emoji removes the reaction).
    #[tool(
        input_schema = schema::input::<ReactionArgs>(),
        output_schema = schema::output::<SendOut>(),
        annotations(title = "Send reaction", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn send_reaction(&self, call: Call, arguments: JsonObject) -> SendResult {
        finish_send(
            async {
                let a: ReactionArgs = args::parse(arguments)?;
                let chat = args::chat_jid("chat_jid", &a.chat_jid)?;
                let sending = self.sending()?;
                let cleared = self.clear_to_send(sending, chat.as_str())?;
                let chat = cleared.chat.clone();
                let preview = format!("In {chat}: react {:?} to message {}", a.emoji, a.message_id);
                let request = React {
                    chat_jid: chat.to_string(),
                    message_id: a.message_id,
                    emoji: a.emoji,
                    idempotency_key: None,
                };
                self.dispatch(call, sending, cleared, request.into(), preview).await
            }
            .await,
        )
    }

    /// Mark messages of a chat as read on WhatsApp (the senders see blue ticks). Without
    /// message_ids, the chat's latest messages from others.
    #[tool(
        input_schema = schema::input::<MarkReadArgs>(),
        output_schema = schema::output::<DoneOut>(),
        annotations(title = "Mark read", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn mark_read(&self, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let a: MarkReadArgs = args::parse(arguments)?;
                let chat = args::chat_jid("chat_jid", &a.chat_jid)?;
                let sending = self.sending()?;
                let by_sender = self.unread_candidates(&chat, a.message_ids)?;
                let mut marked = 0;
                for (sender, ids) in by_sender {
                    marked += ids.len();
                    let request = MarkRead { chat_jid: chat.to_string(), message_ids: ids, sender };
                    sending.daemon.call(request).await.map_err(|e| e.to_string())?;
                }
                let out = DoneOut { success: true, message: format!("marked {marked} message(s) read in {chat}") };
                let text = out.message.clone();
                Ok(output::success(&out, text))
            }
            .await,
        )
    }
}

/// Listed only under the `confirm` policy.
#[tool_router(router = confirm_router, vis = "pub(crate)")]
impl Tools {
    /// Send what a send tool previewed under the `confirm` policy, once the user has agreed. A
    /// token works once and for a few minutes.
    #[tool(
        input_schema = schema::input::<ConfirmArgs>(),
        output_schema = schema::output::<SendOut>(),
        annotations(title = "Confirm send", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn confirm_send(&self, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let a: ConfirmArgs = args::parse(arguments)?;
                let sending = self.sending()?;
                let held = sending.policy.release(&a.token)?;
                sending.policy.take_send()?;
                self.queue(sending, held.request).await
            }
            .await,
        )
    }
}

impl Tools {
    /// The messages `mark_read` marks, grouped by sender (WhatsApp takes a sender per receipt).
    fn unread_candidates(
        &self,
        chat: &Jid,
        ids: Option<Vec<String>>,
    ) -> Result<BTreeMap<Option<String>, Vec<String>>, String> {
        let reader = self.reader();
        let mut by_sender: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        match ids {
            Some(ids) if ids.is_empty() => {
                return Err("invalid value for parameter 'message_ids': it is empty; leave it out to mark the \
                            latest messages"
                    .into());
            }
            Some(ids) => {
                for id in ids {
                    let found = reader.message_context(&id, Some(chat), 0, 0).map_err(|e| e.to_string())?;
                    by_sender.entry(found.message.sender_jid).or_default().push(id);
                }
            }
            None => {
                let filter = MessageFilter {
                    chats: reader.identities(chat).map_err(|e| e.to_string())?,
                    limit: MARK_READ_RECENT,
                    ..MessageFilter::default()
                };
                for found in reader.list_messages(&filter).map_err(|e| e.to_string())?.matches {
                    if !found.message.is_from_me {
                        by_sender.entry(found.message.sender_jid).or_default().push(found.message.id);
                    }
                }
            }
        }
        if by_sender.is_empty() {
            return Err(format!("{chat} has no messages from others to mark read"));
        }
        Ok(by_sender)
    }
}
