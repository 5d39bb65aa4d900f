//! `wamcp mcp --daemon unix:PATH`: a stdio MCP server that is the daemon's `/mcp`, reached over
//! its Unix socket. Every message passes both ways as it was written (tool calls, their progress,
//! cancellations, notifications), so the assistant talks to the daemon's own tools, under the
//! daemon's send policy and audit.
//!
//! The relay holds one MCP session with the daemon ([`upstream`]). The client's `initialize`
//! opens it. While the daemon cannot be reached, [`offline`] answers: the client still starts,
//! and every tool call says what is wrong and what to do. At the next message the relay tries
//! again, replays the client's `initialize` to open a new session, and tells the client its tool
//! list changed. A daemon that restarted between two calls no longer knows the session: the
//! relay opens a new one the same way and sends the call again.

pub mod access;
pub mod headers;
pub mod offline;
pub mod upstream;

use std::collections::HashMap;
use std::path::PathBuf;

use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ClientRequest, ErrorData, InitializedNotification, JsonRpcError,
    JsonRpcNotification, JsonRpcRequest, JsonRpcResponse, JsonRpcVersion2_0, NumberOrString, RequestId,
    ServerJsonRpcMessage, ServerNotification, ToolListChangedNotification,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use self::access::SocketAccess;
use self::offline::Away;
use self::upstream::{Peek, PostError, Reply, Session};

/// Where the system service's socket is (deploy/systemd/wamcp.socket, the NixOS module).
pub const SERVICE_SOCKET: &str = "/run/wamcp/wamcp.sock";

/// The ids of the relay's own requests start so; the client never sees their answers.
const OWN_ID: &str = "wamcp-relay-";

/// The session with the daemon.
enum Link {
    /// No session: the daemon was away at the last try.
    Away(Away),
    /// Messages pass both ways.
    Open(Session),
}

/// A request the daemon has, as the client sent it: to answer it if the daemon goes away, or to
/// send it again in a new session.
struct Waiting {
    request: ClientRequest,
    line: String,
}

/// One client's relay to the daemon listening on `socket`.
pub struct Relay {
    socket: PathBuf,
    link: Link,
    /// The client's `initialize`, replayed to open a new session after the daemon was away.
    initialize: Option<JsonRpcRequest<ClientRequest>>,
    waiting: HashMap<RequestId, Waiting>,
    /// The client was given the offline tool list and must hear when the real one is back.
    told_offline_tools: bool,
    /// Counts the relay's own requests.
    own_requests: u64,
    replies: mpsc::UnboundedSender<Reply>,
}

impl Relay {
    /// Relays between the client on `input`/`output` and the daemon on `socket` until the client
    /// closes its input.
    pub async fn run(
        socket: PathBuf,
        input: impl AsyncRead + Unpin,
        mut output: impl AsyncWrite + Unpin,
    ) -> std::io::Result<()> {
        let (replies, mut from_daemon) = mpsc::unbounded_channel();
        let away = Away::Unreachable(SocketAccess::Missing(socket.clone()));
        let mut relay = Relay {
            socket,
            link: Link::Away(away),
            initialize: None,
            waiting: HashMap::new(),
            told_offline_tools: false,
            own_requests: 0,
            replies,
        };
        let mut lines = BufReader::new(input).lines();
        loop {
            let said = tokio::select! {
                line = lines.next_line() => match line? {
                    Some(line) if line.trim().is_empty() => Vec::new(),
                    Some(line) => relay.pass_up(line).await,
                    None => break,
                },
                Some(reply) = from_daemon.recv() => relay.pass_down(reply).await,
            };
            for line in said {
                output.write_all(line.as_bytes()).await?;
                output.write_all(b"\n").await?;
            }
            output.flush().await?;
        }
        if let Link::Open(session) = &relay.link {
            // Ends the session on the daemon's side too.
            session.close().await;
        }
        Ok(())
    }

    /// One line from the client: passed on, or answered here while the daemon is away.
    async fn pass_up(&mut self, line: String) -> Vec<String> {
        let message = match serde_json::from_str::<ClientJsonRpcMessage>(&line) {
            Ok(message) => message,
            Err(error) => return vec![encode(&not_json_rpc(&line, &error))],
        };
        match message {
            ClientJsonRpcMessage::Request(request)
                if matches!(request.request, ClientRequest::InitializeRequest(_)) =>
            {
                self.start(request, line).await
            }
            ClientJsonRpcMessage::Notification(notification)
                if matches!(notification.notification, ClientNotification::InitializedNotification(_)) =>
            {
                // Awaited: the daemon takes no request of the session before it.
                if let Link::Open(session) = &self.link
                    && let Err(error) = session.deliver(line).await
                {
                    return self.lost(self.why_away(error));
                }
                Vec::new()
            }
            message => {
                let mut said = Vec::new();
                if let Link::Away(_) = self.link {
                    said = self.reopen().await;
                }
                let request = match message {
                    ClientJsonRpcMessage::Request(request) => Some((request.id, request.request)),
                    _ => None,
                };
                match (&self.link, request) {
                    (Link::Open(session), Some((id, request))) => {
                        self.waiting.insert(id.clone(), Waiting { request, line: line.clone() });
                        session.send(line, Some(id), self.replies.clone());
                    }
                    (Link::Open(session), None) => session.send(line, None, self.replies.clone()),
                    (Link::Away(away), Some((id, request))) => {
                        if matches!(request, ClientRequest::ListToolsRequest(_)) {
                            self.told_offline_tools = true;
                        }
                        said.push(encode(&answer(id, away.answer(&request, headers::names_a_version(&line)))));
                    }
                    (Link::Away(_), None) => {}
                }
                said
            }
        }
    }

    /// The client's `initialize`: a new session with the daemon, or the offline answer.
    async fn start(&mut self, request: JsonRpcRequest<ClientRequest>, line: String) -> Vec<String> {
        if let Link::Open(old) = &self.link {
            old.close().await;
        }
        self.initialize = Some(request.clone());
        let opened = match self.reachable() {
            Ok(mut session) => session.open(line).await.map(|answers| (session, answers)),
            Err(away) => {
                self.link = Link::Away(away.clone());
                return vec![encode(&answer(request.id, away.answer(&request.request, false)))];
            }
        };
        match opened {
            Ok((session, answers)) => {
                self.link = Link::Open(session);
                answers
            }
            Err(error) => {
                let away = self.why_away(error);
                let answered = encode(&answer(request.id, away.answer(&request.request, false)));
                self.link = Link::Away(away);
                vec![answered]
            }
        }
    }

    /// After the daemon was away: a new session, opened with the client's own `initialize`
    /// (under the relay's own id), and the client told its tool list changed if it was given the
    /// offline one.
    async fn reopen(&mut self) -> Vec<String> {
        let mut session = match self.reachable() {
            Ok(session) => session,
            Err(away) => {
                self.link = Link::Away(away);
                return Vec::new();
            }
        };
        let Some(mut initialize) = self.initialize.clone() else {
            // A client that never initialized: its messages go on as they are.
            self.link = Link::Open(session);
            return Vec::new();
        };
        self.own_requests += 1;
        initialize.id = NumberOrString::String(format!("{OWN_ID}{}", self.own_requests).into());
        let initialized = ClientJsonRpcMessage::Notification(JsonRpcNotification {
            jsonrpc: JsonRpcVersion2_0,
            notification: ClientNotification::InitializedNotification(InitializedNotification::default()),
        });
        let opened = match session.open(encode(&ClientJsonRpcMessage::Request(initialize))).await {
            Ok(answers) if answers.iter().any(|answer| Peek::succeeded(answer)) => {
                session.deliver(encode(&initialized)).await
            }
            Ok(answers) => Err(PostError::Refused(answers.join(" "))),
            Err(error) => Err(error),
        };
        if let Err(error) = opened {
            self.link = Link::Away(self.why_away(error));
            return Vec::new();
        }
        self.link = Link::Open(session);
        if !std::mem::take(&mut self.told_offline_tools) {
            return Vec::new();
        }
        vec![encode(&ServerJsonRpcMessage::Notification(JsonRpcNotification {
            jsonrpc: JsonRpcVersion2_0,
            notification: ServerNotification::ToolListChangedNotification(ToolListChangedNotification::default()),
        }))]
    }

    /// What the daemon sent, or that a message did not get through.
    async fn pass_down(&mut self, reply: Reply) -> Vec<String> {
        match reply {
            Reply::Message(text) => {
                if let Some(id) = Peek::answers(&text) {
                    self.waiting.remove(&id);
                    if matches!(&id, NumberOrString::String(s) if s.starts_with(OWN_ID)) {
                        return Vec::new();
                    }
                }
                vec![text]
            }
            Reply::Failed { id, error: PostError::Expired } => {
                // The daemon restarted: a new session, and the request again in it.
                let mut said = self.reopen().await;
                let again = id.and_then(|id| self.waiting.remove(&id).map(|waiting| (id, waiting)));
                if let Some((id, waiting)) = again {
                    match &self.link {
                        Link::Open(session) => {
                            session.send(waiting.line.clone(), Some(id.clone()), self.replies.clone());
                            self.waiting.insert(id, waiting);
                        }
                        Link::Away(away) => said.push(encode(&answer(
                            id,
                            away.answer(&waiting.request, headers::names_a_version(&waiting.line)),
                        ))),
                    }
                }
                said
            }
            Reply::Failed { id, error: PostError::Refused(why) } => {
                let away = Away::Failed(format!("it refused the message ({why})"));
                match id.and_then(|id| self.waiting.remove(&id).map(|waiting| (id, waiting))) {
                    Some((id, waiting)) => vec![encode(&answer(
                        id,
                        away.answer(&waiting.request, headers::names_a_version(&waiting.line)),
                    ))],
                    None => Vec::new(),
                }
            }
            Reply::Failed { error, .. } => self.lost(self.why_away(error)),
        }
    }

    /// The session is gone: every request still waiting gets the answer for a daemon away.
    fn lost(&mut self, away: Away) -> Vec<String> {
        let said = self
            .waiting
            .drain()
            .map(|(id, waiting)| {
                encode(&answer(id, away.answer(&waiting.request, headers::names_a_version(&waiting.line))))
            })
            .collect();
        self.link = Link::Away(away);
        said
    }

    /// Why the daemon is away: what the socket says, else what the connection said.
    fn why_away(&self, error: PostError) -> Away {
        match SocketAccess::check(&self.socket) {
            SocketAccess::Open => Away::Failed(error.to_string()),
            access => Away::Unreachable(access),
        }
    }

    /// A new session with the daemon, if its socket takes connections from this user (checked
    /// first, so a daemon away is said plainly rather than as a failed request).
    fn reachable(&self) -> Result<Session, Away> {
        match SocketAccess::check(&self.socket) {
            SocketAccess::Open => Ok(Session::new(self.socket.clone())),
            access => Err(Away::Unreachable(access)),
        }
    }
}

/// A message as one line of JSON.
fn encode(message: &impl serde::Serialize) -> String {
    serde_json::to_string(message).unwrap_or_default()
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
