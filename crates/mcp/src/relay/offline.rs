//! What the relay answers while no daemon listens on its socket: the assistant's client still
//! starts, sees the tools every daemon offers, and each call says what is wrong and what to do,
//! instead of the server failing to start.

use rmcp::model::{
    CallToolResult, ClientRequest, CompleteResult, ContentBlock, EmptyResult, ErrorData, InitializeRequestParams,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, ProtocolVersion,
    ServerResult,
};

use super::access::SocketAccess;
use crate::Tools;

/// What every answer given while the daemon is away says first.
pub const NOT_RUNNING: &str = "the wamcp service is not running: systemctl start wamcp";

/// Why the daemon could not be reached, for the answers given meanwhile.
#[derive(Debug, Clone)]
pub enum Away {
    /// The socket could not be opened.
    Unreachable(SocketAccess),
    /// The socket opened, but the daemon did not answer as an MCP server.
    Failed(String),
}

impl Away {
    /// The whole message: whether the service runs or this user may not use it, and what to do.
    pub fn message(&self) -> String {
        match self {
            Away::Unreachable(access) if access.is_not_running() => format!("{NOT_RUNNING} ({})", access.found()),
            Away::Unreachable(access) => format!("cannot use the wamcp service: {access}"),
            Away::Failed(error) => format!("the wamcp service did not answer: {error}"),
        }
    }

    /// The answer to one request while the daemon is away.
    /// The answer to `request`; `modern` when the request names the 2026-07-28 revision (or a
    /// later one) in its `_meta`, which wants `resultType` on every result.
    pub fn answer(&self, request: &ClientRequest, modern: bool) -> Result<ServerResult, ErrorData> {
        let mut result = self.result(request)?;
        // Absent means complete, and clients of the handshake versions expect it absent.
        if !modern {
            result.strip_result_type_for_legacy_peer();
        }
        Ok(result)
    }

    fn result(&self, request: &ClientRequest) -> Result<ServerResult, ErrorData> {
        match request {
            ClientRequest::InitializeRequest(initialize) => {
                Ok(ServerResult::InitializeResult(self.initialize(&initialize.params)))
            }
            ClientRequest::PingRequest(_) => Ok(ServerResult::EmptyResult(EmptyResult {})),
            ClientRequest::ListToolsRequest(_) => {
                Ok(ServerResult::ListToolsResult(ListToolsResult::with_all_items(Tools::offered_by_every_daemon())))
            }
            ClientRequest::CallToolRequest(_) => {
                Ok(ServerResult::CallToolResult(CallToolResult::error(vec![ContentBlock::text(self.message())])))
            }
            // What needs no store is answered as the daemon would; what needs it says why not.
            ClientRequest::ListPromptsRequest(_) => {
                Ok(ServerResult::ListPromptsResult(ListPromptsResult::with_all_items(crate::prompts::list())))
            }
            ClientRequest::ListResourceTemplatesRequest(_) => Ok(ServerResult::ListResourceTemplatesResult(
                ListResourceTemplatesResult::with_all_items(crate::resources::templates()),
            )),
            ClientRequest::ListResourcesRequest(_) => {
                Ok(ServerResult::ListResourcesResult(ListResourcesResult::with_all_items(Vec::new())))
            }
            ClientRequest::CompleteRequest(_) => Ok(ServerResult::CompleteResult(CompleteResult::default())),
            _ => Err(ErrorData::internal_error(self.message(), None)),
        }
    }

    /// The server's own description, saying it is waiting for the daemon, and that its tool list
    /// may change once the daemon is back (the daemon may offer more, by its send policy).
    fn initialize(&self, params: &InitializeRequestParams) -> rmcp::model::InitializeResult {
        let mut config = Tools::server_config();
        config.protocol_version = negotiated(&params.protocol_version);
        if let Some(tools) = config.capabilities.tools.as_mut() {
            tools.list_changed = Some(true);
        }
        let told = config.instructions.take().unwrap_or_default();
        config.instructions = Some(format!(
            "{told}\n\nWhen this server started: {}. Calls go through once it is back; each call says if it is not.",
            self.message()
        ));
        config
    }
}

/// The version a server answers `initialize` with: the client's if it is known and still has
/// the handshake, else the newest that has it (as rmcp's own servers do).
fn negotiated(requested: &ProtocolVersion) -> ProtocolVersion {
    if requested.has_initialize() && ProtocolVersion::KNOWN_VERSIONS.contains(requested) {
        requested.clone()
    } else {
        ProtocolVersion::LATEST_WITH_INITIALIZE
    }
}
