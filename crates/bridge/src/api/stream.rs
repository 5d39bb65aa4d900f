//! `GET /api/events`: server-sent events of new messages, receipts, send results, transcripts and
//! connection changes, as they are committed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use futures::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::AppState;

pub async fn events(State(app): State<Arc<AppState>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(app.events.subscribe()).map(|item| {
        Ok(match item {
            Ok(event) => {
                let name = match &event {
                    crate::events::BridgeEvent::Message(_) => "message",
                    crate::events::BridgeEvent::Receipt { .. } => "receipt",
                    crate::events::BridgeEvent::Send { .. } => "send",
                    crate::events::BridgeEvent::Reaction { .. } => "reaction",
                    crate::events::BridgeEvent::Transcript { .. } => "transcript",
                    crate::events::BridgeEvent::Connection { .. } => "connection",
                };
                Event::default().event(name).json_data(&event).unwrap_or_default()
            }
            // A listener too slow to keep up is told how much it missed; the store has it all.
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                Event::default().event("lagged").data(format!("{{\"missed\":{missed}}}"))
            }
        })
    });
    // The stream ends when the daemon stops, so an open listener does not hold the shutdown up.
    let stream = stream.take_until(app.stop.clone().cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
