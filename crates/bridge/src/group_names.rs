//! Names for groups the store has no subject for.
//!
//! A group the history sync did not include (one joined later, or older than the phone's sync
//! window) arrives as bare messages: without this, `list_chats` would show it by its JID for
//! ever. The writer hands over each such group after committing a live message in it; this
//! worker asks WhatsApp for the group's metadata once per group per run, at most one query per
//! [`MIN_GAP`], so a burst of messages in many new groups does not become a burst of queries.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{debug, warn};
use wamcp_core::{ChatChange, Jid, LinkEvent};
use wamcp_link::Link;

/// The least time between two metadata queries.
const MIN_GAP: Duration = Duration::from_secs(1);
/// Groups waiting to be asked about. When it is full a group is not queued: its next message
/// asks again.
const QUEUE: usize = 256;

/// Where the writer sends groups without a subject.
#[derive(Clone, Default)]
pub struct GroupNames {
    queue: Option<mpsc::Sender<Jid>>,
}

impl GroupNames {
    /// A `GroupNames` and the receiver its worker reads.
    pub fn new() -> (GroupNames, mpsc::Receiver<Jid>) {
        let (sender, receiver) = mpsc::channel(QUEUE);
        (GroupNames { queue: Some(sender) }, receiver)
    }

    /// Asks for the group's subject (once per run, however often it is asked).
    pub fn ask(&self, group: Jid) {
        if let Some(queue) = &self.queue {
            // Never waits: the writer must not stall on a slow metadata query.
            let _ = queue.try_send(group);
        }
    }
}

/// The worker: fetches subjects until the writer's side is gone, and hands them to the store as
/// link events (`store`, from `Ingest::forward_link_events`).
pub async fn run(mut asked: mpsc::Receiver<Jid>, link: Arc<dyn Link>, store: mpsc::Sender<LinkEvent>) {
    let mut answered = HashSet::new();
    while let Some(group) = asked.recv().await {
        if answered.contains(&group) {
            continue;
        }
        match link.group_info(&group).await {
            Ok(info) => {
                answered.insert(group.clone());
                debug!("named group {group} from its metadata");
                let named = LinkEvent::Chat { chat: group, change: ChatChange::Subject(info.subject) };
                if store.send(named).await.is_err() {
                    return;
                }
            }
            // Asked again with the group's next message.
            Err(e) if e.is_retryable() => debug!("could not fetch the metadata of {group} yet: {e}"),
            Err(e) => {
                answered.insert(group.clone());
                warn!("could not fetch the metadata of {group}: {e}");
            }
        }
        tokio::time::sleep(MIN_GAP).await;
    }
}
