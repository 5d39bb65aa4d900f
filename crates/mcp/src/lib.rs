//! The MCP server of wamcp: WhatsApp read tools with the names, parameters and defaults of
//! lharries/whatsapp-mcp, so assistants and prompts written for it keep working.
//!
//! Layout:
//! - [`args`]: each tool's parameters, their defaults and limits, and the checks that turn bad
//!   input into an error naming the parameter and the accepted form.
//! - [`output`]: each tool's structured result (with its JSON schema) and how it is returned:
//!   structured content, and one text block with the readable rendering, in which everything
//!   other people wrote is fenced; [`schema`]: the JSON Schemas, kept to standard formats.
//! - [`tools`]: the server and the read tools, each a thin call into the store's query for it.
//! - The tools that act through the daemon ([`daemon`]), grouped by what they may do, so the
//!   server lists a group or not by the send [`policy`]: [`send_tools`] (with [`send_args`]) and
//!   [`message_tools`] message people (sending, reacting, marking read; edits, deletions,
//!   typing) and are not listed under the policy `off`; [`daemon_tools`] only fetch (downloads,
//!   status, older history, transcripts); [`people_tools`]: contacts, groups, who is on WhatsApp.
//! - [`media_tools`]: downloaded attachments read without the daemon ([`attachment`]): photos
//!   and video frames as images ([`media_content`]), documents' text page by page ([`documents`]).
//!
//! - [`audit`]: every call recorded in the store's audit log, message text hashed.
//! - [`relay`]: `wamcp mcp --daemon unix:PATH`, the daemon's own `/mcp` passed through stdio,
//!   and what is answered while the daemon is away.
//!
//! This crate reads the store only through `wamcp_store::Reader`, whose connection cannot write,
//! and writes only the audit log; everything that changes WhatsApp goes through the daemon's API.

pub mod args;
pub mod attachment;
pub mod audit;
pub mod completion;
pub mod consent;
pub mod daemon;
pub mod daemon_events;
pub mod daemon_tools;
pub mod documents;
pub mod lenient;
pub mod logging;
pub mod media_content;
pub mod media_tools;
pub mod message_tools;
pub mod output;
pub mod people_tools;
pub mod policy;
pub mod prompts;
pub mod recipient;
pub mod relay;
pub mod resources;
pub mod schema;
pub mod send_args;
pub mod send_tools;
pub mod shape;
pub mod tools;
pub mod wait_tool;
pub mod whatsapp_consent;

pub use tools::Tools;

/// Serves the read tools over stdio until the client closes the connection.
///
/// A client that goes away before `initialize` (a health check, a cancelled start) is a clean
/// exit, not an error.
pub async fn serve_stdio(tools: Tools) -> Result<(), rmcp::service::ServerInitializeError> {
    use rmcp::ServiceExt;
    use rmcp::service::ServerInitializeError;
    match tools.serve(rmcp::transport::stdio()).await {
        Ok(running) => {
            let _ = running.waiting().await;
            Ok(())
        }
        Err(ServerInitializeError::ConnectionClosed(_)) => Ok(()),
        Err(other) => Err(other),
    }
}
