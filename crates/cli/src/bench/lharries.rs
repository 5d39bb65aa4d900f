//! lharries/whatsapp-mcp's MCP server on the same corpus, for the figures beside wamcp's.
//!
//! Its server reads `../whatsapp-bridge/store/messages.db` relative to its own files, so they
//! are copied into the work directory beside a link to the corpus. It runs with the Python given
//! (which needs lharries' dependencies: `mcp[cli]`, `httpx`, `requests`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rmcp::model::CallToolResult;
use serde_json::json;

use super::{Call, Client, Sample, call};

/// Where a checkout of lharries/whatsapp-mcp is, and the Python that runs its server.
pub struct Lharries {
    pub checkout: PathBuf,
    pub python: PathBuf,
}

impl Lharries {
    /// Lays the server out beside the corpus and gives the command that starts it on stdio.
    pub fn prepare(&self, corpus: &Path, work: &Path) -> anyhow::Result<(PathBuf, Vec<OsString>)> {
        let source = self.checkout.join("whatsapp-mcp-server");
        let server = work.join("lharries").join("whatsapp-mcp-server");
        let store = work.join("lharries").join("whatsapp-bridge").join("store");
        std::fs::create_dir_all(&server)?;
        std::fs::create_dir_all(&store)?;
        for file in ["main.py", "whatsapp.py", "audio.py"] {
            std::fs::copy(source.join(file), server.join(file))
                .with_context(|| format!("{} has no whatsapp-mcp-server/{file}", self.checkout.display()))?;
        }
        let link = store.join("messages.db");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(std::path::absolute(corpus)?, &link)?;
        Ok((self.python.clone(), vec![server.join("main.py").into_os_string()]))
    }
}

/// Inputs that lharries' server takes, tool by tool: the forms its parameters come in (numbers
/// and yes/no as strings, negative pages, unknown parameters, groups where a person is asked for,
/// bare or partial numbers, JIDs with a device, times in the forms Python's `fromisoformat`
/// reads). Calls that make lharries read the whole history (a negative limit or context) are
/// left out: they take minutes there.
pub fn compatibility_calls(sample: &Sample) -> Vec<Call> {
    let Sample { direct_jid, group_jid, phone, name, message_id } = sample;
    let device_jid = direct_jid.replacen('@', ":7@", 1);
    let part = &phone[phone.len() - 8..];
    let calls = [
        ("search_contacts", json!({"query": ""})),
        ("search_contacts", json!({"query": name})),
        ("search_contacts", json!({"query": phone})),
        ("search_contacts", json!({"query": part})),
        ("list_messages", json!({})),
        ("list_messages", json!({"limit": "5", "include_context": "false"})),
        ("list_messages", json!({"limit": 5.0, "include_context": 0})),
        ("list_messages", json!({"page": -1, "limit": 3})),
        ("list_messages", json!({"page": "2", "limit": 3})),
        ("list_messages", json!({"chat_jid": direct_jid})),
        ("list_messages", json!({"chat_jid": group_jid})),
        ("list_messages", json!({"chat_jid": device_jid})),
        ("list_messages", json!({"sender_phone_number": phone})),
        ("list_messages", json!({"after": "2025-06-01"})),
        ("list_messages", json!({"after": "2025-06-01T00:00:00"})),
        ("list_messages", json!({"after": "2025-06-01 08:30:00"})),
        ("list_messages", json!({"before": "2025-06-01T10:00:00.123"})),
        ("list_messages", json!({"after": "2025-06-01T00:00:00+02:00"})),
        ("list_messages", json!({"after": "20250601"})),
        ("list_messages", json!({"query": "meeting"})),
        ("list_messages", json!({"query": "%"})),
        ("list_messages", json!({"query": "meeting", "context_before": "2", "context_after": 0})),
        ("list_messages", json!({"chat_jid": direct_jid, "chat_name": "someone"})),
        ("list_chats", json!({})),
        ("list_chats", json!({"query": name})),
        ("list_chats", json!({"query": "@g.us"})),
        ("list_chats", json!({"sort_by": "name", "limit": "5"})),
        ("list_chats", json!({"sort_by": "last_message_time"})),
        ("list_chats", json!({"include_last_message": "false", "page": -3})),
        ("get_chat", json!({"chat_jid": direct_jid})),
        ("get_chat", json!({"chat_jid": group_jid, "include_last_message": "false"})),
        ("get_chat", json!({"chat_jid": device_jid})),
        ("get_direct_chat_by_contact", json!({"sender_phone_number": phone})),
        ("get_direct_chat_by_contact", json!({"sender_phone_number": format!("+{phone}")})),
        ("get_direct_chat_by_contact", json!({"sender_phone_number": part})),
        ("get_direct_chat_by_contact", json!({"sender_phone_number": direct_jid})),
        ("get_contact_chats", json!({"jid": direct_jid})),
        ("get_contact_chats", json!({"jid": phone})),
        ("get_contact_chats", json!({"jid": group_jid})),
        ("get_contact_chats", json!({"jid": direct_jid, "limit": "2", "page": "0"})),
        ("get_last_interaction", json!({"jid": direct_jid})),
        ("get_last_interaction", json!({"jid": phone})),
        ("get_last_interaction", json!({"jid": group_jid})),
        ("get_last_interaction", json!({"jid": device_jid})),
        ("get_message_context", json!({"message_id": message_id})),
        ("get_message_context", json!({"message_id": message_id, "before": "2", "after": 0})),
    ];
    calls.into_iter().map(|(tool, arguments)| Call::new(format!("{tool} {arguments}"), tool, arguments)).collect()
}

/// Whether a result found something: no error, and more than an empty list or "nothing".
fn answered(result: &CallToolResult) -> bool {
    let text: String = result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.as_str()).collect();
    let empty = ["", "[]", "{}", "null", "None", "No messages to display."];
    result.is_error != Some(true) && !empty.contains(&text.trim())
}

/// Runs every compatibility call on both servers and prints the calls lharries answers that
/// wamcp refuses (the goal: none).
pub async fn compare(ours: &Client, theirs: &Client, sample: &Sample) -> anyhow::Result<()> {
    let calls = compatibility_calls(sample);
    let mut answered_there = 0;
    let mut refused_here = Vec::new();
    for shape in &calls {
        let reference = call(theirs, shape.tool, shape.arguments.clone()).await?;
        let result = call(ours, shape.tool, shape.arguments.clone()).await?;
        if answered(&reference) {
            answered_there += 1;
            if result.is_error == Some(true) {
                let why = result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.clone()).collect::<String>();
                refused_here.push(format!("  {}: {why}", shape.label));
            }
        }
    }
    outln!(
        "compatibility: {} calls in the forms lharries takes; it answered {answered_there}; wamcp refused {} of those",
        calls.len(),
        refused_here.len()
    )?;
    for line in refused_here {
        outln!("{line}")?;
    }
    Ok(())
}
