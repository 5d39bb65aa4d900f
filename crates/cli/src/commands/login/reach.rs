//! Whether WhatsApp can be reached at all, asked before the client starts: offline, the library
//! would retry quietly for as long as the login lasts and never offer a code, and the user would
//! be left looking at their phone.

use std::time::Duration;

use tokio::time::Instant;

/// How long to keep trying before saying the network is the problem.
pub const WINDOW: Duration = Duration::from_secs(30);
const ATTEMPT: Duration = Duration::from_secs(5);
const PAUSE: Duration = Duration::from_secs(2);

/// Why WhatsApp could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach WhatsApp ({host}): check the network or proxy ({detail})")]
pub struct Unreachable {
    pub host: String,
    pub detail: String,
}

/// Tries to open a TCP connection to WhatsApp's port 443 until one succeeds or `window` ends;
/// `on_failure` hears the first failure at once (for the pairing page), so nobody waits unaware.
pub async fn wait_for_whatsapp(window: Duration, mut on_failure: impl FnMut(&Unreachable)) -> Result<(), Unreachable> {
    let end = Instant::now() + window;
    let mut told = false;
    // Where the client goes for the chat socket (a local server in the end-to-end tests).
    let (host, port) = wamcp_link::whatsapp::chat_server();
    loop {
        let detail = match tokio::time::timeout(ATTEMPT, tokio::net::TcpStream::connect((host.as_str(), port))).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", ATTEMPT.as_secs()),
        };
        let failure = Unreachable { host: host.clone(), detail };
        if !told {
            on_failure(&failure);
            told = true;
        }
        if Instant::now() + PAUSE >= end {
            return Err(failure);
        }
        tokio::time::sleep(PAUSE).await;
    }
}
