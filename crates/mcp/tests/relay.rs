//! The relay of `wamcp mcp --daemon unix:PATH` between a client's JSON-RPC lines and an MCP
//! server on a Unix socket (an rmcp server here, whose tools report progress and notice
//! cancellation): what passes between them is what the two ends said, both ways.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf};
use tokio::sync::Notify;
use wamcp_mcp::relay::Relay;

/// A server with two tools: `count` reports three steps of progress, `wait` waits until it is
/// cancelled and says so.
#[derive(Clone)]
struct Counter {
    cancelled: Arc<Notify>,
}

impl ServerHandler for Counter {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = Arc::new(json!({"type": "object"}).as_object().cloned().unwrap_or_default());
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new("count", "counts to three", schema.clone()),
            Tool::new("wait", "waits until cancelled", schema),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let token = context.meta.get_progress_token().expect("the call carries a progress token");
        let report = |step: u32| {
            let progress = ProgressNotificationParam::new(token.clone(), f64::from(step)).with_total(3.0);
            let peer = context.peer.clone();
            async move { peer.notify_progress(progress).await.map_err(|e| ErrorData::internal_error(e.to_string(), None)) }
        };
        if request.name == "wait" {
            // Started: the client may cancel now.
            report(0).await?;
            context.ct.cancelled().await;
            self.cancelled.notify_one();
            return Ok(CallToolResult::error(vec![ContentBlock::text("cancelled")]).into());
        }
        for step in 1..=3 {
            report(step).await?;
        }
        Ok(CallToolResult::success(vec![ContentBlock::text("counted")]).into())
    }
}

/// The client's end of the relay: lines written, lines read.
struct Client {
    to_relay: WriteHalf<DuplexStream>,
    from_relay: Lines<BufReader<ReadHalf<DuplexStream>>>,
}

impl Client {
    async fn say(&mut self, message: Value) {
        let mut line = serde_json::to_vec(&message).unwrap();
        line.push(b'\n');
        self.to_relay.write_all(&line).await.unwrap();
    }

    /// Every message up to and including the answer to request `id`.
    async fn until_answer(&mut self, id: u64) -> Vec<Value> {
        self.until(|message| message["id"] == json!(id)).await
    }

    /// Every message up to and including the first that `last` picks.
    async fn until(&mut self, last: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut heard = Vec::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.from_relay.next_line())
                .await
                .expect("the relay answers")
                .unwrap()
                .expect("the relay keeps its output open");
            let message: Value = serde_json::from_str(&line).unwrap();
            let done = last(&message);
            heard.push(message);
            if done {
                return heard;
            }
        }
    }
}

/// A relay to a fresh server on a socket in `dir`, and the client's end of it, initialized; and
/// what tells that the server saw a cancellation.
async fn relayed(dir: &std::path::Path) -> (Client, tokio::task::JoinHandle<std::io::Result<()>>, Arc<Notify>) {
    let socket = dir.join("mcp.sock");
    let cancelled = Arc::new(Notify::new());
    let counter = Counter { cancelled: cancelled.clone() };
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(Vec::<String>::new());
    let service =
        StreamableHttpService::new(move || Ok(counter.clone()), Arc::new(LocalSessionManager::default()), config);
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().nest_service("/mcp", service)).await });

    let (client_end, relay_end) = tokio::io::duplex(1 << 16);
    let (relay_in, relay_out) = tokio::io::split(relay_end);
    let relay = tokio::spawn(Relay::run(socket, relay_in, relay_out));
    let (from_relay, to_relay) = tokio::io::split(client_end);
    let mut client = Client { to_relay, from_relay: BufReader::new(from_relay).lines() };

    client
        .say(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}))
        .await;
    let initialized = client.until_answer(1).await;
    assert_eq!(initialized.len(), 1);
    assert_eq!(initialized[0]["result"]["protocolVersion"], "2025-06-18");
    client.say(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    (client, relay, cancelled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reaches_the_client_and_a_cancellation_reaches_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, relay, cancelled) = relayed(dir.path()).await;

    client
        .say(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "count", "arguments": {}, "_meta": {"progressToken": "p-2"}}}))
        .await;
    let heard = client.until_answer(2).await;
    let progress: Vec<(Value, Value)> = heard
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| (m["params"]["progressToken"].clone(), m["params"]["progress"].clone()))
        .collect();
    assert_eq!(progress, vec![(json!("p-2"), json!(1.0)), (json!("p-2"), json!(2.0)), (json!("p-2"), json!(3.0))]);
    assert_eq!(heard.last().unwrap()["result"]["content"][0]["text"], "counted");

    client
        .say(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                    "params": {"name": "wait", "arguments": {}, "_meta": {"progressToken": "p-3"}}}))
        .await;
    client.until(|message| message["params"]["progressToken"] == "p-3").await;
    client
        .say(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3, "reason": "enough"}}))
        .await;
    tokio::time::timeout(Duration::from_secs(30), cancelled.notified()).await.expect("the server saw the cancellation");

    // The client closing its end ends the relay.
    drop(client);
    tokio::time::timeout(Duration::from_secs(30), relay).await.expect("the relay ends").unwrap().unwrap();
}
