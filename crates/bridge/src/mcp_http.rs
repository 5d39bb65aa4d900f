//! MCP over streamable HTTP at `/mcp`: the same tools as `wamcp mcp`, served by the daemon behind
//! the API's guard (token, Host, Origin).
//!
//! Each MCP session gets its own store reader; the send policy (with its rate limit) and the
//! audit trail are shared by all sessions. The tools reach the daemon's actions with the same
//! typed requests the stdio server sends over HTTP, handed to the daemon in process.
//!
//! A body that is not JSON-RPC is answered here, as the specification asks (400 with a JSON-RPC
//! error: -32700 for text that is not JSON, -32600 for JSON that is not a request), before rmcp,
//! which would answer in plain text.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::Value;
use wamcp_api::Daemon;
use wamcp_mcp::Tools;
use wamcp_mcp::audit::AuditTrail;
use wamcp_mcp::policy::SendPolicy;
use wamcp_store::Reader;

/// Largest request body taken at `/mcp`.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Where `/mcp` is served, which decides the Host check.
pub enum Front {
    /// TCP, behind the API's guard: these Host headers only.
    Tcp { allowed_hosts: Vec<String> },
    /// The Unix socket: any Host (the system checked who connects).
    Socket,
}

/// The `/mcp` service: a fresh set of tools per session over shared policy and audit; and what
/// ends its sessions, for shutdown (an open session would keep the server from stopping).
pub fn service(
    store: PathBuf,
    app: Arc<crate::api::AppState>,
    policy: Arc<SendPolicy>,
    audit: Arc<AuditTrail>,
    front: Front,
) -> (StreamableHttpService<Tools, LocalSessionManager>, impl FnOnce() + Send + 'static) {
    let daemon: Arc<dyn Daemon> = Arc::new(crate::api::InProcess(app));
    let factory = move || {
        let reader = Reader::open(&store).map_err(std::io::Error::other)?;
        Ok(Tools::with_daemon(reader, daemon.clone(), policy.clone()).with_audit(audit.clone()))
    };
    // The guard in front has checked Host and Origin already; the same hosts are given here so
    // rmcp's own check agrees with it (a reverse proxy's host included).
    let config = StreamableHttpServerConfig::default().with_max_request_body_bytes(MAX_REQUEST_BYTES);
    let config = match front {
        Front::Tcp { allowed_hosts } => config.with_allowed_hosts(allowed_hosts),
        Front::Socket => config.with_allowed_hosts(Vec::<String>::new()),
    };
    let sessions = config.cancellation_token.clone();
    let service = StreamableHttpService::new(factory, Arc::new(LocalSessionManager::default()), config);
    (service, move || sessions.cancel())
}

/// The middleware in front of rmcp: a POST whose body is not a JSON-RPC message is refused with
/// the JSON-RPC error for it; anything else goes on unchanged.
pub async fn json_rpc_errors(request: Request<Body>, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                format!("Invalid Request: the body is larger than {MAX_REQUEST_BYTES} bytes"),
            );
        }
    };
    if let Err(error) = serde_json::from_slice::<Value>(&bytes) {
        return rpc_error(StatusCode::BAD_REQUEST, -32700, format!("Parse error: the body is not JSON ({error})"));
    }
    if let Err(error) = serde_json::from_slice::<ClientJsonRpcMessage>(&bytes) {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            -32600,
            format!(
                "Invalid Request: the body is JSON but not a JSON-RPC 2.0 request, notification or response ({error})"
            ),
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// A JSON-RPC error with no id (the request's id could not be read).
fn rpc_error(status: StatusCode, code: i64, message: String) -> Response {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    (status, axum::Json(body)).into_response()
}
