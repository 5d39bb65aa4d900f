//! Now and then someone from the sample address book writes: `wamcp demo` shows the live path
//! (ingest, events, webhooks) working without anyone having to drive it.

use std::sync::Arc;
use std::time::Duration;

use wamcp_core::Timestamp;

use super::{SimIncoming, SimNetwork, sample};

const LINES: &[&str] = &[
    "Are you around later? Quick question about Saturday",
    "Just landed 🛬",
    "Can you send me the address again?",
    "Thanks for yesterday, it was great!",
    "Running 10 minutes late, sorry",
    "Did you see the photos I sent?",
];

/// Sends one incoming message every `every`, cycling through people and lines, until the
/// network is dropped.
pub fn start(network: Arc<SimNetwork>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let people = sample::people();
        let mut turn = 0usize;
        loop {
            tokio::time::sleep(every).await;
            let incoming = SimIncoming {
                from: people[turn % people.len()].clone(),
                chat: None,
                text: Some(LINES[turn % LINES.len()].to_string()),
                media: None,
                push_name: None,
                id: None,
            };
            network.incoming(incoming, Timestamp::now()).await;
            turn += 1;
        }
    })
}
