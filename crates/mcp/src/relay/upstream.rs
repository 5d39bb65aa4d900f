//! One MCP session with the daemon, over streamable HTTP on its Unix socket. Each message the
//! client sends is POSTed on a connection of its own; what comes back (one JSON body, or the
//! events of a stream: progress, then the answer) is handed on as the daemon's own JSON text,
//! not parsed into types and written again, which would cost more than the rest of the way.

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::model::{NumberOrString, RequestId};
use serde::Deserialize;
use tokio::net::UnixStream;
use tokio::sync::mpsc::UnboundedSender;

/// The path of MCP on the daemon's socket.
const MCP_PATH: &str = "/mcp";
const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
/// The most a single answer may be; a larger one is a daemon gone wrong, not a result.
const MAX_BODY_BYTES: usize = 64 << 20;

/// Why a message did not reach the daemon, or was not answered.
#[derive(Debug, Clone)]
pub enum PostError {
    /// The socket could not be used (the daemon stopped, or the connection broke).
    Unreachable(String),
    /// The daemon no longer knows the session: it restarted.
    Expired,
    /// The daemon refused the message (its HTTP status and what it said).
    Refused(String),
}

impl std::fmt::Display for PostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostError::Unreachable(why) => write!(f, "{why}"),
            PostError::Expired => write!(f, "the daemon no longer knows this session"),
            PostError::Refused(why) => write!(f, "the daemon refused it: {why}"),
        }
    }
}

/// What the daemon sent back for one message.
#[derive(Debug)]
pub enum Reply {
    /// One JSON-RPC message, as the daemon wrote it.
    Message(String),
    /// The message (a request if it had an id) did not get through.
    Failed { id: Option<RequestId>, error: PostError },
}

/// Just what the relay needs to know of a message passing through (the rest is skipped, not
/// parsed).
#[derive(Debug, Deserialize)]
pub struct Peek {
    id: Option<NumberOrString>,
    method: Option<serde::de::IgnoredAny>,
    result: Option<serde::de::IgnoredAny>,
}

impl Peek {
    /// The request this message answers (with a result or an error), if it is an answer.
    pub fn answers(text: &str) -> Option<RequestId> {
        let peek: Peek = serde_json::from_str(text).ok()?;
        if peek.method.is_some() { None } else { peek.id }
    }

    /// Whether this message answers a request with a result (not an error).
    pub fn succeeded(text: &str) -> bool {
        serde_json::from_str::<Peek>(text).is_ok_and(|peek| peek.method.is_none() && peek.result.is_some())
    }
}

/// The session: where the daemon is, and what it called the session.
#[derive(Debug, Clone)]
pub struct Session {
    socket: PathBuf,
    id: Option<String>,
    version: Option<String>,
}

impl Session {
    pub fn new(socket: PathBuf) -> Session {
        Session { socket, id: None, version: None }
    }

    /// Opens the session with `initialize` (as JSON text): the daemon's answer, whole, with the
    /// session's id and protocol version kept for the messages after it.
    pub async fn open(&mut self, initialize: String) -> Result<Vec<String>, PostError> {
        self.id = None;
        let response = self.post(initialize).await?;
        self.id = header(&response, SESSION_HEADER);
        let mut answers = Vec::new();
        read(response, &mut |message| answers.push(message)).await?;
        self.version = answers.iter().find_map(|answer| negotiated_version(answer));
        Ok(answers)
    }

    /// Sends one message in the background; what comes back goes to `replies`, in order.
    pub fn send(&self, message: String, id: Option<RequestId>, replies: UnboundedSender<Reply>) {
        let session = self.clone();
        tokio::spawn(async move {
            let outcome = match session.post(message).await {
                Ok(response) => read(response, &mut |message| drop(replies.send(Reply::Message(message)))).await,
                Err(error) => Err(error),
            };
            if let Err(error) = outcome {
                let _ = replies.send(Reply::Failed { id, error });
            }
        });
    }

    /// Sends one message and waits until the daemon has taken it (`initialized`, which must
    /// arrive before any request of the session). Its answer, if any, is not wanted.
    pub async fn deliver(&self, message: String) -> Result<(), PostError> {
        let response = self.post(message).await?;
        read(response, &mut |_| {}).await
    }

    /// Ends the session on the daemon's side (best effort: the daemon may be gone).
    pub async fn close(&self) {
        if self.id.is_none() {
            return;
        }
        if let Ok(request) = self.request(Method::DELETE).body(Empty::<Bytes>::new().map_err(|e| match e {}).boxed()) {
            let _ = exchange(&self.socket, request).await;
        }
    }

    async fn post(&self, message: String) -> Result<Response<Incoming>, PostError> {
        let mut request = self.request(Method::POST);
        for (name, value) in super::headers::for_message(&message) {
            request = request.header(name, value);
        }
        let request = request
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(Full::new(Bytes::from(message)).map_err(|e| match e {}).boxed())
            .map_err(|e| PostError::Refused(e.to_string()))?;
        let response = exchange(&self.socket, request).await?;
        match response.status() {
            StatusCode::OK | StatusCode::ACCEPTED => Ok(response),
            StatusCode::NOT_FOUND if self.id.is_some() => Err(PostError::Expired),
            status => {
                let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                Err(PostError::Refused(format!("HTTP {status}: {}", String::from_utf8_lossy(&body))))
            }
        }
    }

    fn request(&self, method: Method) -> hyper::http::request::Builder {
        let mut request = Request::builder().method(method).uri(MCP_PATH).header("host", "localhost");
        if let Some(id) = &self.id {
            request = request.header(SESSION_HEADER, id);
        }
        if let Some(version) = &self.version {
            request = request.header(VERSION_HEADER, version);
        }
        request
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// One request on a connection of its own (there is no pool to keep: a local connection costs
/// microseconds).
async fn exchange(socket: &PathBuf, request: Request<Body>) -> Result<Response<Incoming>, PostError> {
    let unreachable = |e: &dyn std::fmt::Display| PostError::Unreachable(e.to_string());
    let stream = UnixStream::connect(socket).await.map_err(|e| unreachable(&e))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(&e))?;
    tokio::spawn(connection);
    sender.send_request(request).await.map_err(|e| unreachable(&e))
}

/// The messages of an answer: a JSON body is one; an event stream has one per event with data.
async fn read(response: Response<Incoming>, each: &mut impl FnMut(String)) -> Result<(), PostError> {
    let stream = header(&response, "content-type").is_some_and(|kind| kind.starts_with("text/event-stream"));
    let mut body = response.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| PostError::Unreachable(format!("the answer broke off: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        pending.extend_from_slice(&data);
        if pending.len() > MAX_BODY_BYTES {
            return Err(PostError::Refused(format!("an answer larger than {MAX_BODY_BYTES} bytes")));
        }
        if stream {
            while let Some(end) = event_end(&pending) {
                let event: Vec<u8> = pending.drain(..end.0 + end.1).collect();
                if let Some(message) = event_data(&event[..end.0]) {
                    each(message);
                }
            }
        }
    }
    if !stream && !pending.iter().all(u8::is_ascii_whitespace) {
        each(one_line(String::from_utf8_lossy(&pending).into_owned()));
    }
    Ok(())
}

/// Where the first event in `buffer` ends: its length, and that of the blank line after it.
fn event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let at = |pattern: &[u8]| buffer.windows(pattern.len()).position(|w| w == pattern);
    match (at(b"\n\n"), at(b"\r\n\r\n")) {
        (Some(lf), Some(crlf)) if crlf < lf => Some((crlf, 4)),
        (Some(lf), _) => Some((lf, 2)),
        (None, Some(crlf)) => Some((crlf, 4)),
        (None, None) => None,
    }
}

/// The data of one event (its `data:` lines joined), if it has any: a priming event has none.
fn event_data(event: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(event);
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| data.strip_prefix(' ').unwrap_or(data))
        .collect();
    let data = lines.join("\n");
    (!data.trim().is_empty()).then(|| one_line(data))
}

/// The message on one line, as stdio needs it (the daemon writes it so; a message that is not
/// is written again, compactly).
fn one_line(message: String) -> String {
    if !message.contains('\n') {
        return message;
    }
    match serde_json::from_str::<serde_json::Value>(&message) {
        Ok(value) => value.to_string(),
        Err(_) => message.replace('\n', " "),
    }
}

fn header(response: &Response<Incoming>, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_string)
}

/// The protocol version the daemon chose, from its answer to `initialize`.
fn negotiated_version(answer: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Answer {
        result: Option<Chosen>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Chosen {
        protocol_version: String,
    }
    serde_json::from_str::<Answer>(answer).ok()?.result.map(|chosen| chosen.protocol_version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_at_blank_lines_and_their_data_taken() {
        let buffer = b"id: 0\nretry: 3000\ndata:\n\ndata: {\"a\":1}\r\n\r\nrest";
        let first = event_end(buffer).unwrap();
        assert_eq!(event_data(&buffer[..first.0]), None, "a priming event has no data");
        let rest = &buffer[first.0 + first.1..];
        let second = event_end(rest).unwrap();
        assert_eq!(event_data(&rest[..second.0]).as_deref(), Some("{\"a\":1}"));
        assert_eq!(event_end(&rest[second.0 + second.1..]), None);
    }

    #[test]
    fn an_answer_is_told_from_a_request_and_a_notification() {
        assert_eq!(Peek::answers(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#), Some(NumberOrString::Number(7)));
        assert_eq!(Peek::answers(r#"{"jsonrpc":"2.0","id":"x","method":"ping"}"#), None);
        assert_eq!(Peek::answers(r#"{"jsonrpc":"2.0","method":"notifications/progress"}"#), None);
        assert!(Peek::succeeded(r#"{"jsonrpc":"2.0","id":1,"result":{"instructions":"\"error\""}}"#));
        assert!(!Peek::succeeded(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"no"}}"#));
        assert_eq!(one_line("{\n\"a\": 1\n}".to_string()), r#"{"a":1}"#);
    }
}
