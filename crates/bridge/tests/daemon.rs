//! The daemon started in this process on the simulated network, reached over its REST API on
//! 127.0.0.1:0 with the typed client, and stopped through its handle: a send through the outbox
//! to the network, reconnecting, the logged-out exit, incoming messages stored one by one after
//! their batch failed, a queue of 1,000 drained, and a shutdown in the middle of a burst of sends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast;
use wamcp_api::{DaemonError, DaemonStatus, GetStatus, Queued, SendMessage};
use wamcp_bridge::events::BridgeEvent;
use wamcp_bridge::status::LinkState;
use wamcp_bridge::{Daemon, DaemonConfig, LinkChoice, Running, Stopped};
use wamcp_core::{Disconnect, Jid, ManualClock, Timestamp};
use wamcp_link::sim::{SimIncoming, SimNetwork};
use wamcp_mcp::daemon::HttpDaemon;
use wamcp_mcp::policy::{PolicyMode, PolicySettings};
use wamcp_store::{MessageFilter, OutboxState, Reader};

/// However slow the machine, nothing here should take this long.
const PATIENCE: Duration = Duration::from_secs(120);
/// The time the daemon's clock shows.
const NOW: Timestamp = Timestamp(1_780_000_000_000);

/// A data directory and a simulated network's state that outlive one daemon, so a test can stop
/// it and start another on the same ones.
struct Setup {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
}

/// One started daemon, its network, a client of its API, and its events from the start.
struct Started {
    running: Running,
    sim: Arc<SimNetwork>,
    client: Arc<HttpDaemon>,
    events: broadcast::Receiver<BridgeEvent>,
    data_dir: PathBuf,
}

/// Sends acknowledged by the daemon: message id → chat.
type Acknowledged = HashMap<String, Jid>;

impl Setup {
    fn new() -> Setup {
        Setup { dir: tempfile::tempdir().expect("a temporary directory"), clock: Arc::new(ManualClock::at(NOW)) }
    }

    /// Starts a daemon and waits until it is connected.
    async fn start(&self) -> Started {
        let (data_dir, sim_dir) = (self.dir.path().join("data"), self.dir.path().join("network"));
        std::fs::create_dir_all(&sim_dir).expect("the network's directory");
        wamcp_store::DataDir::at(&data_dir).ensure().expect("the data directory");
        let sim = SimNetwork::sample(Some(sim_dir), NOW).expect("the simulated network starts");
        let config = DaemonConfig {
            data_dir: data_dir.clone(),
            listen: Some("127.0.0.1:0".parse().expect("an address")),
            socket: None,
            allowed_hosts: Vec::new(),
            media_roots: Vec::new(),
            webhooks: Vec::new(),
            auto_download: Vec::new(),
            encrypt_media: false,
            policy: PolicySettings::new(PolicyMode::Known, 20),
            retention_days: None,
            transcription: None,
        };
        let running = Daemon::new(config, LinkChoice::Sim(sim.clone()))
            .with_clock(self.clock.clone())
            .start()
            .await
            .expect("the daemon starts");
        let events = running.events().subscribe();
        let addr = running.addr().expect("the API listens");
        let client = Arc::new(HttpDaemon::new(addr, data_dir.join(wamcp_bridge::token::TOKEN_FILE)));
        within(running.status().watch_connected().wait_for(|up| *up)).await.expect("the daemon connects");
        Started { running, sim, client, events, data_dir }
    }
}

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future).await.expect("it happens in time")
}

/// The n-th of 1,000 recipients.
fn recipient(n: usize) -> String {
    format!("+1 555 0100 {:03}", n % 1000)
}

async fn send(client: &HttpDaemon, n: usize) -> Result<Queued, DaemonError> {
    let daemon: &dyn wamcp_api::Daemon = client;
    daemon
        .call(SendMessage { recipient: recipient(n), message: format!("message {n}"), ..SendMessage::default() })
        .await
}

/// Sends `count` messages, `together` at a time; answers those the daemon acknowledged.
async fn burst(client: Arc<HttpDaemon>, count: usize, together: usize) -> Acknowledged {
    futures::stream::iter(0..count)
        .map(|n| {
            let client = client.clone();
            async move { send(&client, n).await.ok() }
        })
        .buffer_unordered(together)
        .filter_map(|queued| async move { queued })
        .map(|queued| (queued.id, Jid::parse(&queued.chat_jid).expect("the answer names a JID")))
        .collect()
        .await
}

impl Started {
    /// Waits until the daemon has recorded every one of `sends` as sent.
    async fn wait_sent(&mut self, sends: &Acknowledged) {
        // What was sent before the events were subscribed to is in the store; after, in the events.
        let reader = self.reader();
        let mut waiting: Vec<&String> =
            sends.keys().filter(|id| state(&reader, sends, id) != Some(OutboxState::Sent)).collect();
        drop(reader);
        within(async {
            while !waiting.is_empty() {
                match self.events.recv().await {
                    Ok(BridgeEvent::Message(message)) => waiting.retain(|id| **id != message.id),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the bus: the store says what was sent.
                        let reader = self.reader();
                        waiting.retain(|id| state(&reader, sends, id) != Some(OutboxState::Sent));
                    }
                    Err(broadcast::error::RecvError::Closed) => panic!("the daemon stopped"),
                }
            }
        })
        .await;
    }

    fn reader(&self) -> Reader {
        Reader::open(&self.data_dir.join(wamcp_store::data_dir::STORE_FILE)).expect("the store opens")
    }

    fn journal(&self) -> Vec<String> {
        self.sim.sent().into_iter().map(|record| record.id).collect()
    }
}

fn state(reader: &Reader, sends: &Acknowledged, id: &str) -> Option<OutboxState> {
    reader.outbox_entry(&sends[id], id).expect("the outbox reads").map(|entry| entry.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_goes_through_the_outbox_to_the_network() {
    let setup = Setup::new();
    let mut daemon = setup.start().await;
    let queued = send(&daemon.client, 7).await.expect("the send is acknowledged");
    assert_eq!(queued.status, wamcp_core::DeliveryStatus::Pending, "acknowledged once queued, before it is sent");
    let sends = Acknowledged::from([(queued.id.clone(), Jid::parse(&queued.chat_jid).unwrap())]);
    daemon.wait_sent(&sends).await;

    let record = daemon.sim.sent().into_iter().find(|r| r.id == queued.id).expect("the network has it");
    assert_eq!(record.text.as_deref(), Some("message 7"));
    let entry = daemon.reader().outbox_entry(&sends[&queued.id], &queued.id).unwrap().expect("the outbox has it");
    assert_eq!(entry.state, OutboxState::Sent);
    assert_eq!(entry.created, NOW, "queued at the daemon's clock, not the machine's");
    assert_eq!(daemon.running.shutdown(Stopped::Requested).await, Stopped::Requested);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_comes_back_and_what_was_queued_meanwhile_goes_out() {
    let setup = Setup::new();
    let mut daemon = setup.start().await;
    let mut link = daemon.running.status().watch_link();
    daemon.sim.drop_connection().await;
    within(link.wait_for(|s| matches!(s, LinkState::Down(Disconnect::Transient(_))))).await.unwrap();

    let queued = send(&daemon.client, 1).await.expect("a send is taken while disconnected");
    let sends = Acknowledged::from([(queued.id.clone(), Jid::parse(&queued.chat_jid).unwrap())]);
    assert!(!daemon.journal().contains(&queued.id), "nothing goes out while the network is down");
    assert_eq!(state(&daemon.reader(), &sends, &queued.id), Some(OutboxState::Queued));

    daemon.sim.restore_connection().await;
    within(link.wait_for(|s| *s == LinkState::Connected)).await.unwrap();
    daemon.wait_sent(&sends).await;
    assert!(daemon.journal().contains(&queued.id));
    daemon.running.shutdown(Stopped::Requested).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_out_session_stops_the_daemon_with_the_reason() {
    let setup = Setup::new();
    let mut daemon = setup.start().await;
    daemon.sim.log_out().await;
    let why = within(daemon.running.ended()).await;
    assert!(matches!(why, Disconnect::LoggedOut(_)), "ended because {why:?}");
    let stopped = daemon.running.shutdown(Stopped::Final(why)).await;
    assert!(matches!(stopped, Stopped::Final(Disconnect::LoggedOut(_))));
}

async fn status(client: &HttpDaemon) -> DaemonStatus {
    let daemon: &dyn wamcp_api::Daemon = client;
    daemon.call(GetStatus {}).await.expect("the status answers")
}

/// The messages the store has from `from` written at `at`.
fn stored_at(reader: &Reader, from: &Jid, at: Timestamp) -> Vec<String> {
    let filter = MessageFilter {
        after: Some(Timestamp(at.millis() - 1)),
        before: Some(Timestamp(at.millis() + 1)),
        chats: vec![from.clone()],
        limit: 5_000,
        ..MessageFilter::default()
    };
    reader.list_messages(&filter).expect("the store reads").matches.into_iter().map(|m| m.message.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_whose_batch_failed_are_stored_one_by_one_and_counted_once() {
    let setup = Setup::new();
    let mut daemon = setup.start().await;
    let before = status(&daemon.client).await.messages_received;
    let mut link = daemon.running.status().watch_link();
    daemon.sim.drop_connection().await;
    within(link.wait_for(|s| matches!(s, LinkState::Down(_)))).await.unwrap();

    // While the daemon is away a chat fills every slot the store has for one millisecond, and
    // one message more: its batch cannot commit, and is stored one by one.
    let from = Jid::from_phone("+64 21 555 1234").unwrap();
    let say = |text: &str| SimIncoming {
        from: from.clone(),
        chat: None,
        text: Some(text.to_string()),
        media: None,
        push_name: None,
        id: None,
    };
    let crowded = Timestamp(NOW.millis() - 60_001);
    let first = daemon.sim.incoming(say("before the crowd"), Timestamp(NOW.millis() - 61_000)).await;
    let crowd = wamcp_store::write::SEQ_SLOTS as usize + 1;
    for n in 0..crowd {
        daemon.sim.incoming(say(&format!("crowd {n}")), crowded).await;
    }
    let last = daemon.sim.incoming(say("after the crowd"), Timestamp(NOW.millis() - 59_000)).await;
    let mut waiting = vec![first.to_string(), last.to_string()];
    daemon.sim.restore_connection().await;
    // The events come in the order the messages were stored; the last is stored after the crowd.
    within(async {
        while !waiting.is_empty() {
            if let Ok(BridgeEvent::Message(message)) = daemon.events.recv().await {
                waiting.retain(|id| *id != message.id);
            }
        }
    })
    .await;

    let reader = daemon.reader();
    let in_the_crowd = stored_at(&reader, &from, crowded).len();
    assert_eq!(in_the_crowd, crowd - 1, "every message the store has room for is stored");
    let stored = in_the_crowd + 2;
    let received = status(&daemon.client).await.messages_received - before;
    assert_eq!(received, stored as u64, "each stored message is counted once, the one refused not at all");
    daemon.running.shutdown(Stopped::Requested).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_of_a_thousand_sends_drains_once_connected() {
    let setup = Setup::new();
    let mut daemon = setup.start().await;
    daemon.sim.drop_connection().await;
    let mut link = daemon.running.status().watch_link();
    within(link.wait_for(|s| matches!(s, LinkState::Down(_)))).await.unwrap();

    let sends = burst(daemon.client.clone(), 1_000, 16).await;
    assert_eq!(sends.len(), 1_000, "every send is acknowledged while disconnected");
    assert_eq!(daemon.reader().outbox_depth().unwrap(), 1_000);

    daemon.sim.restore_connection().await;
    daemon.wait_sent(&sends).await;
    let journal = daemon.journal();
    assert!(sends.keys().all(|id| journal.contains(id)), "the network has every one");
    assert_eq!(daemon.reader().outbox_depth().unwrap(), 0);
    daemon.running.shutdown(Stopped::Requested).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_in_a_burst_of_sends_cuts_none_off_and_loses_none() {
    let setup = Setup::new();
    let daemon = setup.start().await;
    // Each send is on the wire for a while: the stop lands in the middle of one.
    daemon.sim.slow_acks(Duration::from_millis(20));
    let client = daemon.client.clone();
    let sending = tokio::spawn(burst(client, 400, 8));
    // Stop while the 20th send is on the wire: the network has it, its ack is not back yet.
    let mut taken = daemon.sim.watch_taken();
    within(taken.wait_for(|n| *n >= 20)).await.expect("the network takes sends");
    let Started { running, sim, data_dir, .. } = daemon;
    assert_eq!(running.shutdown(Stopped::Requested).await, Stopped::Requested);
    let acknowledged = sending.await.expect("the burst ends");
    assert!(!acknowledged.is_empty());

    // Whatever the network took, the store recorded as sent: no send was cut off between the two.
    let reader = Reader::open(&data_dir.join(wamcp_store::data_dir::STORE_FILE)).unwrap();
    let on_network: Vec<String> = sim.sent().into_iter().map(|r| r.id).collect();
    for id in &on_network {
        assert_eq!(state(&reader, &acknowledged, id), Some(OutboxState::Sent), "{id} went out unrecorded");
    }
    // Every acknowledged send is in the outbox, sent or still queued.
    for id in acknowledged.keys() {
        assert!(state(&reader, &acknowledged, id).is_some(), "{id} was acknowledged but lost");
    }
    drop((reader, sim));

    // The next run sends what was left.
    let mut again = setup.start().await;
    again.wait_sent(&acknowledged).await;
    let journal = again.journal();
    assert!(acknowledged.keys().all(|id| journal.contains(id)), "every acknowledged send reached the network");
    again.running.shutdown(Stopped::Requested).await;
}
