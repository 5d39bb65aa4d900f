//! Staying connected: connect at start, and after a transient disconnect try again with
//! exponential backoff and jitter. A refusal the client does not retry by itself gets a new
//! client, a few times. A logout, an outdated client, a replaced stream, a ban or a refusal that
//! keeps coming is final: a person has to act, the status says what to do, and the daemon stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::warn;
use wamcp_core::{Disconnect, LinkEvent};
use wamcp_link::Link;

use crate::backoff::Backoff;
use crate::status::{Counters, LinkState, Status};

const RECONNECT: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(120));

/// How many refusals in a row, with no connection between them, make a refusal final.
pub const REFUSALS_BEFORE_GIVING_UP: u32 = 3;

/// Keeps the link up until a final disconnect, and returns it (`None` when the daemon is going
/// away and nobody listens any more).
pub async fn keep_connected(
    link: Arc<dyn Link>,
    events: mpsc::Sender<LinkEvent>,
    status: Arc<Status>,
) -> Option<Disconnect> {
    let mut state = status.watch_link();
    let mut attempt = 0;
    let mut refusals = 0;
    loop {
        if !status.is_connected()
            && let Err(error) = link.connect(events.clone()).await
        {
            warn!("cannot connect: {error}");
            Counters::add(&status.counters.reconnects, 1);
            if let Some(last) = pause(&mut state, attempt).await? {
                return Some(last);
            }
            attempt += 1;
            continue;
        }
        // Up, or coming up: a transient drop heals inside the client, so wait for what is not one.
        let settled =
            state.wait_for(|s| !matches!(s, LinkState::Connecting | LinkState::Down(Disconnect::Transient(_))));
        let settled = settled.await.ok()?.clone();
        match settled {
            LinkState::Connected => {
                attempt = 0;
                refusals = 0;
                let down = state.wait_for(|s| !matches!(s, LinkState::Connected)).await.ok()?.clone();
                match down {
                    LinkState::Down(why) if is_final(&why) => return Some(why),
                    _ => {}
                }
                Counters::add(&status.counters.reconnects, 1);
                if let Some(last) = pause(&mut state, attempt).await? {
                    return Some(last);
                }
                attempt += 1;
            }
            LinkState::Down(refused @ Disconnect::Refused { .. }) => {
                refusals += 1;
                if refusals >= REFUSALS_BEFORE_GIVING_UP {
                    return Some(refused);
                }
                // The client stopped for good on it: only a new client tries again.
                warn!("{}; starting a new client", refused.advice());
                link.disconnect().await;
                Counters::add(&status.counters.reconnects, 1);
                tokio::time::sleep(RECONNECT.delay(attempt)).await;
                attempt += 1;
                status.set_connecting(format!(
                    "{} (attempt {} of {REFUSALS_BEFORE_GIVING_UP})",
                    refused.advice(),
                    refusals + 1
                ));
            }
            LinkState::Down(last) => return Some(last),
            LinkState::Connecting => {}
        }
    }
}

/// Whether the daemon stops on it: everything but a transient drop and a refusal still being
/// retried (which [`keep_connected`] counts).
fn is_final(why: &Disconnect) -> bool {
    !matches!(why, Disconnect::Transient(_) | Disconnect::Refused { .. })
}

/// Waits out a backoff delay, or less if the link comes back by itself. `Some(Some(why))` when a
/// final disconnect came meanwhile; `None` when the daemon is going away.
async fn pause(state: &mut watch::Receiver<LinkState>, attempt: u32) -> Option<Option<Disconnect>> {
    tokio::select! {
        _ = tokio::time::sleep(RECONNECT.delay(attempt)) => Some(None),
        settled = state.wait_for(|s| match s {
            LinkState::Connected => true,
            LinkState::Down(why) => !why.is_transient(),
            LinkState::Connecting => false,
        }) => match settled.ok()?.clone() {
            LinkState::Down(why) if is_final(&why) => Some(Some(why)),
            _ => Some(None),
        },
    }
}
