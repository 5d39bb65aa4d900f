//! `wamcp doctor --daemon unix:PATH`, run by a user of a system service: whether the socket is
//! there, whether this user may connect, and how the service is, as the daemon says over it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use wamcp_api::DaemonStatus;
use wamcp_mcp::relay::access::SocketAccess;

use super::Finding;
use super::checks::judge;

/// How long the daemon may take to say how it is.
const TIMEOUT: Duration = Duration::from_secs(5);

pub fn all(socket: &Path) -> Vec<Finding> {
    let access = SocketAccess::check(socket);
    if access != SocketAccess::Open {
        let advice = access.advice().unwrap_or_else(|| "look at the service's log: journalctl -u wamcp".into());
        return vec![Finding::fail("socket", access.found(), advice)];
    }
    let mut findings = vec![Finding::ok("socket", format!("you may connect to {}", socket.display()))];
    let place = format!("unix:{}", socket.display());
    findings.push(match status(socket) {
        Ok(report) => judge(&place, report).0,
        Err(e) => Finding::fail(
            "daemon",
            format!("something listens on {place}, but did not answer with wamcp's status ({e})"),
            "point --daemon at the socket of wamcp's service (/run/wamcp/wamcp.sock), or look at its log: journalctl -u wamcp",
        ),
    });
    findings
}

/// GET /api/status over the socket (no token there: the socket's group decided).
pub(crate) fn status(socket: &Path) -> Result<DaemonStatus, String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    // HTTP/1.0: the answer ends when the daemon closes the connection, without chunks.
    stream.write_all(b"GET /api/status HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
    let code = head.split_whitespace().nth(1).unwrap_or("?");
    if code != "200" {
        return Err(format!("HTTP {code}"));
    }
    serde_json::from_str(body).map_err(|e| e.to_string())
}
