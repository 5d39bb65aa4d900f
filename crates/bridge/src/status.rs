//! The daemon's view of itself: connection state, account, last event and counters, shared by
//! the ingest thread, the outbox, the reconnect loop and the API.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;
pub use wamcp_api::{ConnectionReport, ConnectionState};
use wamcp_core::histogram::Histogram;
use wamcp_core::{Disconnect, Jid, Timestamp};

/// Where the connection stands, as the reconnect loop waits on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Starting, or a new client is on its way.
    Connecting,
    Connected,
    /// Down, and why: a transient reason heals by itself, the others need a decision.
    Down(Disconnect),
}

/// Counters for status and metrics.
#[derive(Debug, Default)]
pub struct Counters {
    pub messages_received: AtomicU64,
    pub messages_sent: AtomicU64,
    pub sends_failed: AtomicU64,
    pub reconnects: AtomicU64,
    pub webhook_failures: AtomicU64,
    /// History sync: batches and messages stored, and the phone's last reported percentage.
    pub history_batches: AtomicU64,
    pub history_messages: AtomicU64,
    pub history_percent: AtomicU64,
    /// Retention: purges run, messages and attachment files they removed.
    pub retention_runs: AtomicU64,
    pub retention_messages: AtomicU64,
    pub retention_files: AtomicU64,
    /// From queueing a send to the server taking it.
    pub send_latency: LatencyHistogram,
}

/// Upper bounds of the send latency buckets, in seconds (queued to taken by the server).
const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

/// Send latencies.
#[derive(Debug)]
pub struct LatencyHistogram(Histogram);

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram(Histogram::new(&LATENCY_BUCKETS))
    }
}

impl LatencyHistogram {
    pub fn observe(&self, seconds: f64) {
        self.0.observe(seconds);
    }

    pub fn histogram(&self) -> &Histogram {
        &self.0
    }
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

pub struct Status {
    connection: Mutex<ConnectionReport>,
    account: Mutex<Option<Jid>>,
    connected: watch::Sender<bool>,
    link: watch::Sender<LinkState>,
    pub counters: Counters,
}

impl Default for Status {
    fn default() -> Status {
        Status {
            connection: Mutex::new(ConnectionReport {
                state: ConnectionState::Connecting,
                detail: None,
                account: None,
                last_event: None,
            }),
            account: Mutex::new(None),
            connected: watch::channel(false).0,
            link: watch::channel(LinkState::Connecting).0,
            counters: Counters::default(),
        }
    }
}

impl Status {
    pub fn connection(&self) -> ConnectionReport {
        self.connection.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The account's own JID, once connected.
    pub fn account(&self) -> Option<Jid> {
        self.account.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits on this to hear when the connection comes and goes.
    pub fn watch_connected(&self) -> watch::Receiver<bool> {
        self.connected.subscribe()
    }

    /// Waits on this to hear why the connection went down, not only that it did.
    pub fn watch_link(&self) -> watch::Receiver<LinkState> {
        self.link.subscribe()
    }

    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    pub fn set_connected(&self, account: Option<Jid>) {
        if let Some(account) = account {
            *self.account.lock().unwrap_or_else(|p| p.into_inner()) = Some(account);
        }
        let account = self.account().map(|jid| jid.to_string());
        self.update(|status| {
            status.state = ConnectionState::Connected;
            status.detail = None;
            status.account = account;
        });
        self.connected.send_replace(true);
        self.link.send_replace(LinkState::Connected);
    }

    pub fn set_disconnected(&self, why: &Disconnect) {
        self.update(|status| {
            status.state = ConnectionState::of(why);
            status.detail = Some(why.advice());
        });
        self.connected.send_replace(false);
        self.link.send_replace(LinkState::Down(why.clone()));
    }

    /// A new client is on its way; `detail` says why the last one was given up.
    pub fn set_connecting(&self, detail: String) {
        self.update(|status| {
            status.state = ConnectionState::Connecting;
            status.detail = Some(detail);
        });
        self.connected.send_replace(false);
        self.link.send_replace(LinkState::Connecting);
    }

    /// Notes that the link said something, for "last event" in status.
    pub fn touch(&self, now: Timestamp) {
        self.update(|status| status.last_event = Some(now.to_rfc3339()));
    }

    fn update(&self, change: impl FnOnce(&mut ConnectionReport)) {
        change(&mut self.connection.lock().unwrap_or_else(|p| p.into_inner()));
    }
}
