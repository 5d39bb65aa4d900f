//! `wait_for_messages`: returns as soon as someone writes, so an agent can run a reply loop
//! without polling. It listens to the daemon's events (subscribed before it looks, so nothing
//! falls between the look and the listening), reads what arrived back from the store, and
//! tells the client it is still waiting with progress notifications.

use std::time::Duration;

use rmcp::model::{JsonObject, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use wamcp_api::events::{BridgeEvent, EventStream, Heard, next};
use wamcp_core::{Jid, MessageView, Timestamp, render};
use wamcp_store::MessageFilter;

use crate::args::{self, Format};
use crate::schema;
use crate::send_tools::finish;
use crate::shape;
use crate::tools::{ToolResult, Tools};

/// The longest wait one call may ask for.
pub const MAX_WAIT_SECONDS: i64 = 300;
/// How often a waiting call tells the client it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Most messages one call returns.
const MAX_RETURNED: u32 = 50;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitArgs {
    /// Only messages in this chat (a JID, or a phone number for a direct chat).
    #[schemars(with = "String")]
    pub chat_jid: Option<String>,
    /// Only messages after this time (RFC 3339 or a date); default: now. Give the previous
    /// result's `next_since` to miss nothing between calls.
    #[schemars(with = "String")]
    pub since: Option<String>,
    /// How long to wait for a message, 1 to 300 seconds.
    #[serde(default = "default_wait", deserialize_with = "crate::lenient::int")]
    pub timeout_seconds: i64,
    /// "text" (default): compact lines. "json": the result as JSON text, with what others wrote fenced.
    #[serde(default)]
    pub format: Format,
}

fn default_wait() -> i64 {
    60
}

/// `wait_for_messages`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WaitOut {
    /// New messages from others, oldest first; empty when none came in time.
    pub messages: Vec<MessageView>,
    /// Where the next call should start (`since`): the newest message's time, or when the wait ended.
    pub next_since: Timestamp,
    /// Whether the wait ended with nothing new.
    pub timed_out: bool,
}

#[tool_router(router = wait_router, vis = "pub(crate)")]
impl Tools {
    /// Wait until someone writes (in one chat, or anywhere), then return the new messages. Returns
    /// at once if messages came after `since`; otherwise waits up to timeout_seconds.
    #[tool(
        input_schema = schema::input::<WaitArgs>(),
        output_schema = schema::output::<WaitOut>(),
        annotations(title = "Wait for messages", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn wait_for_messages(&self, context: RequestContext<RoleServer>, arguments: JsonObject) -> ToolResult {
        finish(
            async {
                let a: WaitArgs = args::parse(arguments)?;
                if !(1..=MAX_WAIT_SECONDS).contains(&a.timeout_seconds) {
                    return Err(format!(
                        "invalid value for parameter 'timeout_seconds': {}; use 1 to {MAX_WAIT_SECONDS}",
                        a.timeout_seconds
                    ));
                }
                let chats = match a.chat_jid.as_deref().filter(|c| !c.trim().is_empty()) {
                    Some(chat) => {
                        let chat = args::chat_jid("chat_jid", chat)?;
                        self.reader().identities(&chat).map_err(|e| e.to_string())?
                    }
                    None => Vec::new(),
                };
                let since = args::time("since", a.since.as_deref())?.unwrap_or_else(Timestamp::now);
                let sending = self.sending()?;
                // Listening starts before the first look, so a message cannot fall in between.
                let mut events = sending.daemon.events().await.map_err(|e| e.to_string())?;
                let wait = Duration::from_secs(a.timeout_seconds as u64);
                let out = self.wait(&mut events, &chats, since, wait, &context).await?;
                Ok(shape::read(a.format, &out, || match out.messages.is_empty() {
                    true => format!("No new messages within {} s.", wait.as_secs()),
                    false => render::messages(&out.messages),
                }))
            }
            .await,
        )
    }
}

impl Tools {
    async fn wait(
        &self,
        events: &mut EventStream,
        chats: &[Jid],
        since: Timestamp,
        wait: Duration,
        context: &RequestContext<RoleServer>,
    ) -> Result<WaitOut, String> {
        let started = Instant::now();
        let deadline = started + wait;
        let mut next_progress = started + PROGRESS_EVERY;
        loop {
            let messages = self.newer_messages(chats, since)?;
            if let Some(newest) = messages.last() {
                return Ok(WaitOut { next_since: newest.timestamp, messages, timed_out: false });
            }
            // Until something that may be new is heard: then the store is read again.
            loop {
                tokio::select! {
                    heard = next(events) => match heard {
                        Some(Heard::Event(BridgeEvent::Message(m))) if !m.is_from_me && in_chats(chats, &m.chat_jid) => break,
                        Some(Heard::Missed(_)) => break,
                        Some(_) => {}
                        None => return Err("the daemon stopped while waiting; start it again and call again".into()),
                    },
                    () = tokio::time::sleep_until(deadline) => {
                        return Ok(WaitOut { messages: Vec::new(), next_since: Timestamp::now(), timed_out: true });
                    }
                    () = tokio::time::sleep_until(next_progress) => {
                        next_progress += PROGRESS_EVERY;
                        progress(context, started.elapsed(), wait).await;
                    }
                    () = context.ct.cancelled() => return Err("cancelled".into()),
                }
            }
        }
    }

    /// Messages from others after `since` (in `chats`, when given), oldest first.
    fn newer_messages(&self, chats: &[Jid], since: Timestamp) -> Result<Vec<MessageView>, String> {
        let filter = MessageFilter {
            after: Some(since),
            chats: chats.to_vec(),
            limit: MAX_RETURNED,
            ..MessageFilter::default()
        };
        let page = self.reader().list_messages(&filter).map_err(|e| e.to_string())?;
        let mut messages: Vec<MessageView> =
            page.matches.into_iter().map(|m| m.message).filter(|m| !m.is_from_me).collect();
        messages.reverse();
        Ok(messages)
    }
}

fn in_chats(chats: &[Jid], chat: &str) -> bool {
    chats.is_empty() || chats.iter().any(|c| c.as_str() == chat)
}

/// Tells the client how long it has waited, if it asked for progress.
async fn progress(context: &RequestContext<RoleServer>, waited: Duration, wait: Duration) {
    let Some(token) = context.meta.get_progress_token() else { return };
    let mut note = ProgressNotificationParam::new(token, waited.as_secs_f64());
    note.total = Some(wait.as_secs_f64());
    note.message = Some("waiting for new messages".into());
    let _ = context.peer.notify_progress(note).await;
}
