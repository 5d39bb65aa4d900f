//! `wamcp mcp --daemon unix:PATH`: a stdio MCP server that is the daemon's `/mcp`, reached over
//! its Unix socket. Every message passes both ways unchanged (tool calls, their progress,
//! cancellations, notifications), so the assistant talks to the daemon's own tools, under the
//! daemon's send policy and audit.
//!
//! The relay holds one MCP session with the daemon. The client's `initialize` opens it. While
//! the daemon cannot be reached, [`offline`] answers: the client still starts, and every tool
//! call says what is wrong and what to do. At the next message the relay tries again, replays the
//! client's `initialize` to open a new session, and tells the client its tool list changed.
//! A daemon that restarted between two calls is met the same way (rmcp's transport opens a new
//! session when the old one has expired).

pub mod access;
pub mod offline;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ClientRequest, ErrorData, InitializedNotification, JsonRpcError,
    JsonRpcNotification, JsonRpcRequest, JsonRpcResponse, JsonRpcVersion2_0, NumberOrString, RequestId,
    ServerJsonRpcMessage, ServerNotification, ToolListChangedNotification,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, Transport, UnixSocketHttpClient};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use self::access::SocketAccess;
use self::offline::Away;

/// Where the system service's socket is (deploy/systemd/wamcp.socket, the NixOS module).
pub const SERVICE_SOCKET: &str = "/run/wamcp/wamcp.sock";

/// The URL the daemon's MCP endpoint has on its socket (the host is not checked there).
const MCP_URI: &str = "http://localhost/mcp";

/// How long reopening a session may take before the daemon counts as away.
const REOPEN_TIMEOUT: Duration = Duration::from_secs(10);

type Upstream = StreamableHttpClientTransport<UnixSocketHttpClient>;

/// A message handed to the daemon: the request it answers (if any), and whether it got there.
type Delivery = BoxFuture<'static, (Option<RequestId>, Result<(), String>)>;

/// The session with the daemon.
enum Link {
    /// No session: the daemon was away at the last try.
    Away(Away),
    /// The client's own `initialize` went to the daemon; its `initialized` has not yet.
    Opening(Upstream),
    /// Messages pass both ways.
    Open(Upstream),
}

/// One client's relay to the daemon listening on `socket`.
pub struct Relay {
    socket: PathBuf,
    link: Link,
    /// The client's `initialize`, replayed to open a new session after the daemon was away.
    initialize: Option<JsonRpcRequest<ClientRequest>>,
    /// Requests the daemon has and has not answered: answered here if it goes away.
    waiting: HashMap<RequestId, ClientRequest>,
    /// The client was given the offline tool list and must hear when the real one is back.
    told_offline_tools: bool,
    /// Counts the relay's own requests, whose ids the client never sees.
    own_requests: u64,
}

impl Relay {
    pub fn new(socket: PathBuf) -> Relay {
        let away = Away::Unreachable(SocketAccess::Missing(socket.clone()));
        Relay {
            socket,
            link: Link::Away(away),
            initialize: None,
            waiting: HashMap::new(),
            told_offline_tools: false,
            own_requests: 0,
        }
    }

    /// Relays between the client on `input`/`output` and the daemon until the client closes
    /// its input.
    pub async fn run(
        mut self,
        input: impl AsyncRead + Unpin,
        mut output: impl AsyncWrite + Unpin,
    ) -> std::io::Result<()> {
        let mut lines = BufReader::new(input).lines();
        let mut deliveries = FuturesUnordered::<Delivery>::new();
        loop {
            let event = tokio::select! {
                line = lines.next_line() => match line? {
                    Some(line) => Event::FromClient(line),
                    None => break,
                },
                message = receive(&mut self.link) => Event::FromDaemon(message.map(Box::new)),
                // Every outcome is taken here, a delivery that went well too: a pattern that
                // refused one would leave the other deliveries unpolled until the next event,
                // and a message still on its way to the daemon is waited for by the client.
                Some((id, delivered)) = deliveries.next(), if !deliveries.is_empty() => Event::Delivered(id, delivered),
            };
            let answers = match event {
                Event::FromClient(line) if line.trim().is_empty() => Vec::new(),
                Event::FromClient(line) => match serde_json::from_str::<ClientJsonRpcMessage>(&line) {
                    Ok(message) => self.pass_up(message, &mut deliveries).await,
                    Err(error) => vec![not_json_rpc(&line, &error)],
                },
                Event::FromDaemon(Some(message)) => self.pass_down(*message),
                Event::FromDaemon(None) => self.lost(Away::Failed("the daemon closed the session".to_string())),
                Event::Delivered(_, Ok(())) => Vec::new(),
                Event::Delivered(id, Err(error)) => self.undelivered(id, error),
            };
            for answer in answers {
                let mut line = serde_json::to_vec(&answer).map_err(std::io::Error::other)?;
                line.push(b'\n');
                output.write_all(&line).await?;
            }
            output.flush().await?;
        }
        if let Link::Open(mut upstream) | Link::Opening(mut upstream) =
            std::mem::replace(&mut self.link, Link::Away(Away::Failed(String::new())))
        {
            // Ends the session on the daemon's side too.
            let _ = upstream.close().await;
        }
        Ok(())
    }

    /// One message from the client: passed on, or answered here while the daemon is away.
    async fn pass_up(
        &mut self,
        message: ClientJsonRpcMessage,
        deliveries: &mut FuturesUnordered<Delivery>,
    ) -> Vec<ServerJsonRpcMessage> {
        match &message {
            ClientJsonRpcMessage::Request(request)
                if matches!(request.request, ClientRequest::InitializeRequest(_)) =>
            {
                return self.start(request.clone()).await;
            }
            ClientJsonRpcMessage::Notification(notification)
                if matches!(notification.notification, ClientNotification::InitializedNotification(_)) =>
            {
                return match std::mem::replace(&mut self.link, Link::Away(Away::Failed(String::new()))) {
                    Link::Opening(mut upstream) => {
                        let sent = upstream.send(message).await.map_err(|e| e.to_string());
                        match sent {
                            Ok(()) => {
                                self.link = Link::Open(upstream);
                                Vec::new()
                            }
                            Err(error) => self.lost(Away::Failed(error)),
                        }
                    }
                    other => {
                        self.link = other;
                        Vec::new()
                    }
                };
            }
            _ => {}
        }
        let mut told = Vec::new();
        if let Link::Away(_) = self.link {
            told = self.reopen().await;
        }
        let request = match &message {
            ClientJsonRpcMessage::Request(request) => Some((request.id.clone(), request.request.clone())),
            _ => None,
        };
        match (&mut self.link, request) {
            (Link::Open(upstream) | Link::Opening(upstream), request) => {
                let id = request.map(|(id, request)| {
                    self.waiting.insert(id.clone(), request);
                    id
                });
                let sending = upstream.send(message);
                deliveries.push(Box::pin(async move { (id, sending.await.map_err(|e| e.to_string())) }));
            }
            (Link::Away(away), Some((id, request))) => {
                if matches!(request, ClientRequest::ListToolsRequest(_)) {
                    self.told_offline_tools = true;
                }
                told.push(answer(id, away.answer(&request)));
            }
            (Link::Away(_), None) => {}
        }
        told
    }

    /// The client's `initialize`: a new session with the daemon, or the offline answer.
    async fn start(&mut self, request: JsonRpcRequest<ClientRequest>) -> Vec<ServerJsonRpcMessage> {
        self.initialize = Some(request.clone());
        if let Link::Open(mut old) | Link::Opening(mut old) =
            std::mem::replace(&mut self.link, Link::Away(Away::Failed(String::new())))
        {
            let _ = old.close().await;
        }
        let (id, inner) = (request.id.clone(), request.request.clone());
        let mut upstream = match self.connect() {
            Ok(upstream) => upstream,
            Err(away) => {
                let answered = answer(id, away.answer(&inner));
                self.link = Link::Away(away);
                return vec![answered];
            }
        };
        match upstream.send(ClientJsonRpcMessage::Request(request)).await {
            Ok(()) => {
                self.waiting.insert(id, inner);
                self.link = Link::Opening(upstream);
                Vec::new()
            }
            Err(error) => {
                let away = self.why_away(error.to_string());
                let answered = answer(id, away.answer(&inner));
                self.link = Link::Away(away);
                vec![answered]
            }
        }
    }

    /// After the daemon was away: a new session, opened with the client's own `initialize`, and
    /// the client told its tool list changed if it was given the offline one.
    async fn reopen(&mut self) -> Vec<ServerJsonRpcMessage> {
        let mut upstream = match self.connect() {
            Ok(upstream) => upstream,
            Err(away) => {
                self.link = Link::Away(away);
                return Vec::new();
            }
        };
        let Some(initialize) = self.initialize.clone() else {
            // A client that never initialized: its messages go on as they are.
            self.link = Link::Open(upstream);
            return Vec::new();
        };
        self.own_requests += 1;
        let id = NumberOrString::String(format!("wamcp-relay-{}", self.own_requests).into());
        let opened = tokio::time::timeout(REOPEN_TIMEOUT, handshake(&mut upstream, id, initialize)).await;
        match opened {
            Ok(Ok(())) => {
                self.link = Link::Open(upstream);
                if std::mem::take(&mut self.told_offline_tools) {
                    return vec![ServerJsonRpcMessage::Notification(JsonRpcNotification {
                        jsonrpc: JsonRpcVersion2_0,
                        notification: ServerNotification::ToolListChangedNotification(
                            ToolListChangedNotification::default(),
                        ),
                    })];
                }
                Vec::new()
            }
            Ok(Err(error)) => {
                self.link = Link::Away(self.why_away(error));
                Vec::new()
            }
            Err(_) => {
                self.link = Link::Away(Away::Failed(format!("no answer within {}s", REOPEN_TIMEOUT.as_secs())));
                Vec::new()
            }
        }
    }

    /// One message from the daemon, for the client.
    fn pass_down(&mut self, message: ServerJsonRpcMessage) -> Vec<ServerJsonRpcMessage> {
        let answered = match &message {
            ServerJsonRpcMessage::Response(response) => Some(&response.id),
            ServerJsonRpcMessage::Error(error) => error.id.as_ref(),
            _ => None,
        };
        if let Some(id) = answered {
            self.waiting.remove(id);
        }
        vec![message]
    }

    /// A message the daemon did not take: it is away, and what it had not answered is answered
    /// here.
    fn undelivered(&mut self, id: Option<RequestId>, error: String) -> Vec<ServerJsonRpcMessage> {
        let away = self.why_away(error);
        let mut answers = Vec::new();
        if let Some(request) = id.and_then(|id| self.waiting.remove(&id).map(|request| (id, request))) {
            answers.push(answer(request.0, away.answer(&request.1)));
        }
        answers.extend(self.lost(away));
        answers
    }

    /// The session is gone: every request still waiting gets the answer for a daemon away.
    fn lost(&mut self, away: Away) -> Vec<ServerJsonRpcMessage> {
        let answers = self.waiting.drain().map(|(id, request)| answer(id, away.answer(&request))).collect();
        self.link = Link::Away(away);
        answers
    }

    /// Why the daemon is away: what the socket says, else what the transport said.
    fn why_away(&self, transport_error: String) -> Away {
        match SocketAccess::check(&self.socket) {
            SocketAccess::Open => Away::Failed(transport_error),
            access => Away::Unreachable(access),
        }
    }

    /// A transport to the daemon, if its socket takes connections from this user (checked
    /// first, so a daemon away is said plainly rather than as a transport failure).
    fn connect(&self) -> Result<Upstream, Away> {
        match SocketAccess::check(&self.socket) {
            SocketAccess::Open => {}
            access => return Err(Away::Unreachable(access)),
        }
        let client = UnixSocketHttpClient::new(&self.socket.to_string_lossy(), MCP_URI);
        Ok(StreamableHttpClientTransport::with_client(client, StreamableHttpClientTransportConfig::with_uri(MCP_URI)))
    }
}

/// What happened while the relay waited.
enum Event {
    FromClient(String),
    FromDaemon(Option<Box<ServerJsonRpcMessage>>),
    /// A message handed to the daemon's transport, and whether it got there.
    Delivered(Option<RequestId>, Result<(), String>),
}

/// The next message from the daemon; never, while there is no session.
async fn receive(link: &mut Link) -> Option<ServerJsonRpcMessage> {
    match link {
        Link::Open(upstream) | Link::Opening(upstream) => upstream.receive().await,
        Link::Away(_) => std::future::pending().await,
    }
}

/// Opens a session with the client's `initialize` under the relay's own id, whose answer the
/// client does not see (it was answered already), then says `initialized`.
async fn handshake(
    upstream: &mut Upstream,
    id: RequestId,
    mut initialize: JsonRpcRequest<ClientRequest>,
) -> Result<(), String> {
    initialize.id = id.clone();
    upstream.send(ClientJsonRpcMessage::Request(initialize)).await.map_err(|e| e.to_string())?;
    loop {
        match upstream.receive().await {
            Some(ServerJsonRpcMessage::Response(response)) if response.id == id => break,
            Some(ServerJsonRpcMessage::Error(error)) if error.id.as_ref() == Some(&id) => {
                return Err(error.error.message.to_string());
            }
            Some(_) => continue,
            None => return Err("the daemon closed the session".to_string()),
        }
    }
    let initialized = ClientJsonRpcMessage::Notification(JsonRpcNotification {
        jsonrpc: JsonRpcVersion2_0,
        notification: ClientNotification::InitializedNotification(InitializedNotification::default()),
    });
    upstream.send(initialized).await.map_err(|e| e.to_string())
}

/// A result or error as the answer to request `id`.
fn answer(id: RequestId, result: Result<rmcp::model::ServerResult, ErrorData>) -> ServerJsonRpcMessage {
    match result {
        Ok(result) => ServerJsonRpcMessage::Response(JsonRpcResponse { jsonrpc: JsonRpcVersion2_0, id, result }),
        Err(error) => ServerJsonRpcMessage::Error(JsonRpcError { jsonrpc: JsonRpcVersion2_0, id: Some(id), error }),
    }
}

/// The answer to a line that is not a JSON-RPC message: a parse error if it is not JSON at all.
fn not_json_rpc(line: &str, error: &serde_json::Error) -> ServerJsonRpcMessage {
    let error = match serde_json::from_str::<serde_json::Value>(line) {
        Err(_) => ErrorData::parse_error(format!("Parse error: the line is not JSON ({error})"), None),
        Ok(_) => ErrorData::invalid_request(format!("Invalid Request: not a JSON-RPC message ({error})"), None),
    };
    ServerJsonRpcMessage::Error(JsonRpcError { jsonrpc: JsonRpcVersion2_0, id: None, error })
}
