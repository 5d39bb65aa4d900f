//! The daemon's events over its HTTP API: `GET /api/events` read as server-sent events, each
//! `data:` line a JSON event of `wamcp_api::events`. The stream is read on a thread of its own
//! (the HTTP client blocks) and handed over through a channel; it ends when the daemon stops or
//! the listener lets go.

use std::io::{BufRead, BufReader};

use tokio::sync::mpsc;
use wamcp_api::events::{BridgeEvent, EventStream, Heard};

/// Events waiting between the reading thread and the listener.
const WAITING: usize = 256;

/// Opens `url` with `auth` and streams what it says.
pub fn subscribe(agent: ureq::Agent, url: String, auth: String) -> Result<EventStream, String> {
    let response = agent.get(&url).header("Authorization", &auth).header("Accept", "text/event-stream").call();
    let response = response.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("{url} answered {status}"));
    }
    let (heard, listener) = mpsc::channel(WAITING);
    let mut lines = BufReader::new(response.into_body().into_reader()).lines();
    std::thread::spawn(move || {
        let (mut name, mut data) = (String::new(), String::new());
        while let Some(Ok(line)) = lines.next() {
            if line.is_empty() {
                if let Some(item) = read_event(&name, &data)
                    && heard.blocking_send(item).is_err()
                {
                    return; // the listener let go
                }
                (name, data) = (String::new(), String::new());
            } else if let Some(value) = line.strip_prefix("event:") {
                name = value.trim().to_string();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.trim_start());
            }
        }
    });
    Ok(Box::pin(Listener(listener)))
}

/// One server-sent event as what a listener hears; keep-alives and unknown events are nothing.
fn read_event(name: &str, data: &str) -> Option<Heard> {
    if name == "lagged" {
        let missed = serde_json::from_str::<serde_json::Value>(data).ok()?["missed"].as_u64()?;
        return Some(Heard::Missed(missed));
    }
    serde_json::from_str::<BridgeEvent>(data).ok().map(Heard::Event)
}

/// The receiving end as a stream.
struct Listener(mpsc::Receiver<Heard>);

impl futures_core::Stream for Listener {
    type Item = Heard;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Heard>> {
        self.0.poll_recv(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_from_their_json_and_a_lag_says_how_many_were_missed() {
        let data = r#"{"type":"message","id":"A1","chat_jid":"1@s.whatsapp.net","is_from_me":false,
                       "timestamp":"2025-03-01T12:00:00+00:00","kind":"text","text":"hi"}"#
            .replace('\n', "");
        match read_event("message", &data) {
            Some(Heard::Event(BridgeEvent::Message(m))) => {
                assert_eq!((m.id.as_str(), m.text.as_deref()), ("A1", Some("hi")))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read_event("lagged", r#"{"missed":7}"#), Some(Heard::Missed(7)));
        assert_eq!(read_event("", ""), None, "a keep-alive is nothing");
    }
}
