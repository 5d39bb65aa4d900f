//! MCP logging: the client sets a level (`logging/setLevel`) and hears of tool calls at or above
//! it as `notifications/message`: every call at `debug` (tool, time, bytes of text handed over),
//! a failed one at `warning`, a protocol error at `error`. Nothing is sent until a level is set.
//!
//! The 2025-11-25 revision has logging and clients use it; the 2026-07-28 revision deprecates it
//! (SEP-2577), and so does rmcp, hence the `allow(deprecated)` here and only here.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolResponse, LoggingLevel, LoggingMessageNotificationParam, ServerCapabilities};
use rmcp::{ErrorData, Peer, RoleServer};

/// The level one session asked for.
#[derive(Clone, Default)]
pub struct ClientLog(Arc<Mutex<Option<LoggingLevel>>>);

/// Declares logging among the capabilities.
pub fn declare(capabilities: &mut ServerCapabilities) {
    capabilities.logging = Some(Default::default());
}

impl ClientLog {
    pub fn set(&self, level: LoggingLevel) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(level);
    }

    /// Tells the client about a call, if it asked to hear at that level.
    pub async fn call(
        &self,
        peer: &Peer<RoleServer>,
        tool: &str,
        took: Duration,
        response: &Result<CallToolResponse, ErrorData>,
    ) {
        let (level, data) = match response {
            Ok(CallToolResponse::Complete(result)) => {
                let bytes: usize = result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.len()).sum();
                let failed = result.is_error == Some(true);
                let level = if failed { LoggingLevel::Warning } else { LoggingLevel::Debug };
                let ms = took.as_secs_f64() * 1000.0;
                (level, serde_json::json!({"tool": tool, "ms": ms, "text_bytes": bytes, "is_error": failed}))
            }
            Ok(_) => return,
            Err(e) => (LoggingLevel::Error, serde_json::json!({"tool": tool, "error": e.message})),
        };
        let wanted = *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if wanted.is_some_and(|wanted| severity(level) >= severity(wanted)) {
            let mut message = LoggingMessageNotificationParam::new(level, data);
            message.logger = Some("wamcp".into());
            let _ = peer.notify_logging_message(message).await;
        }
    }
}

/// Log levels in the order of RFC 5424, least severe first.
fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        _ => 7,
    }
}
