//! Recording every tool call in the store's audit log, off the request path.
//!
//! Message text never goes into the log: the arguments that carry it are replaced by a short
//! SHA-256, enough to tell two sends apart or match one against a message, not to read it.

use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, JsonObject};
use serde_json::Value;
use sha2::{Digest, Sha256};
use wamcp_core::Timestamp;
use wamcp_store::{AuditEntry, AuditLog};

/// Arguments whose values are message text.
const TEXT_ARGUMENTS: [&str; 2] = ["message", "caption"];
/// Longest detail kept (an error message or an id).
const MAX_DETAIL: usize = 300;

/// Who made a call, as the transport knows it (`socket uid=1000`), put in the HTTP request's
/// extensions by the server in front; recorded instead of the trail's own session name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// Writes audit entries on a thread of its own, so a tool call never waits for the log (the
/// daemon may hold the store's write lock for a moment).
pub struct AuditTrail {
    session: String,
    sender: Mutex<Option<mpsc::Sender<AuditEntry>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl AuditTrail {
    pub fn start(log: AuditLog, session: String) -> AuditTrail {
        let (sender, received) = mpsc::channel::<AuditEntry>();
        let writer = std::thread::Builder::new()
            .name("wamcp-audit".into())
            .spawn(move || {
                for entry in received {
                    if let Err(e) = log.record(&entry) {
                        tracing::warn!("could not write the audit log: {e}");
                    }
                }
            })
            .expect("the audit thread starts");
        AuditTrail { session, sender: Mutex::new(Some(sender)), writer: Mutex::new(Some(writer)) }
    }

    /// Records one call by `caller` (or this trail's session) and how it ended.
    pub fn record(
        &self,
        caller: Option<&Caller>,
        tool: &str,
        arguments: Option<&JsonObject>,
        response: &Result<CallToolResponse, ErrorData>,
    ) {
        let (ok, detail) = match response {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => (false, first_text(result)),
            Ok(CallToolResponse::Complete(result)) => {
                (true, result.structured_content.as_ref().and_then(|s| s["id"].as_str()).map(str::to_string))
            }
            Ok(_) => (true, None),
            Err(error) => (false, Some(error.message.to_string())),
        };
        let entry = AuditEntry {
            at: Timestamp::now(),
            session: caller.map_or_else(|| self.session.clone(), |caller| caller.0.clone()),
            tool: tool.to_string(),
            arguments: redacted(arguments).to_string(),
            ok,
            detail: detail.map(|d| d.chars().take(MAX_DETAIL).collect()),
        };
        if let Some(sender) = self.sender.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = sender.send(entry);
        }
    }
}

impl Drop for AuditTrail {
    /// Writes what is still queued before the process goes.
    fn drop(&mut self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = writer.join();
        }
    }
}

fn first_text(result: &rmcp::model::CallToolResult) -> Option<String> {
    result.content.iter().find_map(|block| block.as_text().map(|t| t.text.clone()))
}

/// The arguments with message text replaced by `sha256:<16 hex digits>`.
pub fn redacted(arguments: Option<&JsonObject>) -> Value {
    let mut arguments = arguments.cloned().unwrap_or_default();
    for name in TEXT_ARGUMENTS {
        if let Some(Value::String(text)) = arguments.get(name) {
            let digest = Sha256::digest(text.as_bytes());
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            arguments.insert(name.to_string(), Value::String(format!("sha256:{hex}")));
        }
    }
    Value::Object(arguments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_is_replaced_by_its_hash_and_the_rest_kept() {
        let arguments = serde_json::json!({"recipient": "+44 7700 900123", "message": "the secret plan"});
        let redacted = redacted(arguments.as_object());
        assert_eq!(redacted["recipient"], "+44 7700 900123");
        let hashed = redacted["message"].as_str().unwrap();
        assert!(hashed.starts_with("sha256:") && hashed.len() == 23, "{hashed}");
        assert!(!redacted.to_string().contains("secret"));
        let again = super::redacted(serde_json::json!({"message": "the secret plan"}).as_object());
        assert_eq!(again["message"], redacted["message"]);
    }
}
