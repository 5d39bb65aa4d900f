//! The support desk: customers write on WhatsApp, by email or through a web form; their messages
//! become tickets; an agent answers within each channel's limits, and hands angry, legal, pricing
//! and unanswerable cases to people, who reply and resolve from the web inbox.
//!
//! Layout:
//! - [`db`]: the database (SQLite or PostgreSQL, one set of queries);
//! - [`model`]: channels, ticket states, identifiers;
//! - [`customers`], [`intake`]: who wrote, and taking a message in (deduplicated, one transaction);
//! - [`feed`]: WhatsApp messages from a source (the daemon, a lharries bridge) taken in as they come;
//! - [`kb`], [`sentiment`], [`escalation`], [`reply`], [`agent`]: deciding and wording the answer;
//! - [`delivery`], [`humans`]: answers going out, and what people at the desk do;
//! - [`erase`]: forgetting a customer on request;
//! - [`events`]: the event outbox and its publisher;
//! - [`reads`], [`http`]: what the API shows, and the routes.
//!
//! The desk never imports the bridge: it sends WhatsApp through [`wamcp_core::TextOutbox`] and
//! hears of new messages from a [`feed::MessageSource`], both wired up by the CLI.

pub mod acknowledgement;
pub mod agent;
pub mod customers;
pub mod db;
pub mod delivery;
pub mod erase;
pub mod escalation;
pub mod events;
pub mod feed;
pub mod http;
pub mod humans;
pub mod intake;
pub mod kb;
pub mod language;
pub mod metrics;
pub mod model;
pub mod reads;
pub mod reply;
pub mod sentiment;
pub mod smtp;
pub mod twilio;
pub mod twilio_delivery;
mod worker;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wamcp_core::Timestamp;

pub use agent::{Agent, Decision, Outcome, Step};
pub use customers::Identity;
pub use db::{Backend, Db};
pub use delivery::Channels;
pub use escalation::{Reason, Rules};
pub use intake::{Inbound, Received};
pub use model::{Channel, Via};
pub use reply::Style;

/// What went wrong, in words for the caller.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The caller's input is wrong; nothing was written.
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("desk database: {0}")]
    Database(#[from] sqlx::Error),
}

/// How the desk is set up.
#[derive(Clone)]
pub struct DeskConfig {
    /// `sqlite://…` or `postgres://…`; `None` for `desk.db` in the data directory.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub rules: Rules,
    pub style: Style,
    pub provider: Arc<dyn agent::provider::Provider>,
    /// WhatsApp through Twilio, when its credentials are set.
    pub twilio: Option<Arc<twilio::Twilio>>,
    /// Email answers over SMTP, when `desk.smtp_url` is set.
    pub smtp: Option<smtp::Smtp>,
    /// The wait before an email answer's first retry.
    pub mail_retry_after: std::time::Duration,
    /// Where events are published (Kafka); `None` for listeners in this process.
    pub sink: Option<Arc<dyn events::Sink>>,
}

/// What the status endpoint reports about the WhatsApp side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Liveness {
    pub connected: bool,
    /// The linked account's JID.
    pub account: Option<String>,
}

/// Where WhatsApp messages come from, as the status endpoint describes it.
pub trait WhatsappSource: Send + Sync {
    fn liveness(&self) -> Liveness;
    /// The database the messages are read from (ours, or a lharries messages.db).
    fn bridge_path(&self) -> PathBuf;
    /// Seconds between polls; 0 when messages are pushed as they arrive.
    fn poll_interval(&self) -> u64;
    /// Failed polls since the last good one (0 for a pushed source).
    fn failed_polls_in_a_row(&self) -> u64 {
        0
    }
}

/// A running desk: the database, the agent and the ways out.
pub struct Desk {
    pub db: Db,
    pub agent: Agent,
    channels: RwLock<Channels>,
    source: RwLock<Option<Arc<dyn WhatsappSource>>>,
    /// Rings when a message waits for the agent.
    work: Arc<Notify>,
    /// Rings when events wait to be published.
    events_wake: Arc<Notify>,
    in_process: events::InProcess,
    sink: Option<Arc<dyn events::Sink>>,
    style: Style,
    /// The agent's response times in this process.
    pub response_times: wamcp_core::histogram::Histogram,
    /// When the newest WhatsApp message the feed has seen (either way) was written, in
    /// milliseconds; 0 before the first.
    last_whatsapp_message: AtomicI64,
}

/// The desk's SQLite database in the data directory, when no `database_url` is given.
pub const SQLITE_FILE: &str = "desk.db";

impl Desk {
    /// Opens the desk's database (creating it on first use).
    pub async fn open(config: DeskConfig) -> Result<Arc<Desk>, DeskError> {
        let db = match &config.database_url {
            Some(url) => Db::open(url).await?,
            None => Db::open_sqlite(&config.data_dir.join(SQLITE_FILE)).await?,
        };
        if db.backend() == Backend::Sqlite {
            // A SQLite desk is one process: a message it had claimed when it died is nobody's
            // now. (On PostgreSQL other workers may be alive; there a claim expires instead.)
            sqlx::query("UPDATE messages SET agent_state = 'pending' WHERE agent_state = 'working'")
                .execute(db.pool())
                .await?;
        }
        let health = Arc::new(agent::health::ProviderHealth::new(config.provider.name(), config.provider.model()));
        let agent = Agent {
            db: db.clone(),
            provider: config.provider,
            health,
            rules: config.rules,
            style: config.style.clone(),
            claimant: std::sync::OnceLock::new(),
        };
        let channels = Channels {
            whatsapp: None,
            twilio: config.twilio,
            email: config.smtp.map(Arc::new),
            mail_retry_after: config.mail_retry_after,
        };
        Ok(Arc::new(Desk {
            db,
            agent,
            channels: RwLock::new(channels),
            source: RwLock::new(None),
            work: Arc::new(Notify::new()),
            events_wake: Arc::new(Notify::new()),
            in_process: events::InProcess::default(),
            sink: config.sink,
            style: config.style,
            response_times: metrics::response_histogram(),
            last_whatsapp_message: AtomicI64::new(0),
        }))
    }

    /// Asks the provider whether its model exists and its key is taken, before any customer
    /// writes. A missing model or a refused key is an error: the desk would only ever answer from
    /// templates. Anything else (no answer, a busy server) is logged and shown in the status, and
    /// the desk starts.
    pub async fn check_provider(&self) -> Result<(), DeskError> {
        let provider = &self.agent.provider;
        let model = provider.model().map(|m| format!(" model '{m}'")).unwrap_or_default();
        match provider.check().await {
            Ok(None) => Ok(()),
            Ok(Some(note)) => {
                tracing::warn!("desk: {}{model}: {note}", provider.name());
                self.agent.health.noted_at_start(note);
                Ok(())
            }
            Err(error) if error.kind.is_configuration() => Err(DeskError::Config(format!(
                "desk.model / desk.provider: {error}; set desk.model (--desk-model, WAMCP_DESK_MODEL) to a model \
                 the provider serves, and check the API key"
            ))),
            Err(error) => {
                tracing::warn!(
                    "desk: {}{model} could not be checked ({error}); customers get template answers while it cannot be reached",
                    provider.name()
                );
                self.agent.health.failed(&error);
                self.agent.health.noted_at_start(format!("not checked: {}", error.detail));
                Ok(())
            }
        }
    }

    /// The provider's health, as the status endpoints show it.
    pub fn provider_health(&self) -> agent::health::HealthReport {
        self.agent.health.report()
    }

    /// Sends WhatsApp answers through `outbox` from now on.
    pub fn connect_whatsapp(&self, outbox: Arc<dyn wamcp_core::TextOutbox>, source: Arc<dyn WhatsappSource>) {
        let _ = self.agent.claimant.set(outbox.sender().to_string());
        self.channels.write().expect("channels lock").whatsapp = Some(outbox);
        *self.source.write().expect("source lock") = Some(source);
        // Answers queued while there was no way out can go now.
        self.work.notify_one();
    }

    /// Notes a WhatsApp message the feed has seen, for the status endpoint.
    pub fn saw_whatsapp_message(&self, at: Timestamp) {
        self.last_whatsapp_message.fetch_max(at.millis(), Ordering::Relaxed);
    }

    /// When the newest WhatsApp message the feed has seen (either way) was written.
    pub fn last_whatsapp_message(&self) -> Option<Timestamp> {
        Some(Timestamp(self.last_whatsapp_message.load(Ordering::Relaxed))).filter(|at| at.millis() > 0)
    }

    pub fn whatsapp_source(&self) -> Option<Arc<dyn WhatsappSource>> {
        self.source.read().expect("source lock").clone()
    }

    /// Twilio, when configured.
    pub fn twilio(&self) -> Option<Arc<twilio::Twilio>> {
        self.channels().twilio
    }

    /// Records Twilio's status callback; an answer it holds for the customer to write is shown
    /// as such.
    pub async fn twilio_status(
        &self,
        twilio: &twilio::Twilio,
        report: &twilio_delivery::StatusReport,
    ) -> Result<twilio_delivery::StatusChange, DeskError> {
        twilio_delivery::record_status(&self.db, twilio, report).await
    }

    fn channels(&self) -> Channels {
        self.channels.read().expect("channels lock").clone()
    }

    /// Takes a customer's message in; answers once it is committed. The agent picks it up
    /// straight after.
    pub async fn receive(&self, inbound: &Inbound) -> Result<Received, DeskError> {
        let received = intake::receive(&self.db, inbound).await?;
        if !received.duplicate {
            // The agent may have a message to answer, or answers held for the customer to write
            // may go now.
            self.work.notify_one();
            self.events_wake.notify_one();
        }
        Ok(received)
    }

    /// Lets the agent answer every waiting message and sends every queued answer, now; returns
    /// what the agent did. The worker does the same in the background.
    pub async fn run_pending(&self) -> Result<Vec<Outcome>, DeskError> {
        worker::run_once(self).await
    }

    /// A person's reply to a ticket, stored and sent.
    pub async fn reply(&self, ticket_id: &str, text: &str) -> Result<String, DeskError> {
        let id = humans::reply(&self.db, ticket_id, text, &self.style).await?;
        self.events_wake.notify_one();
        self.channels().deliver(&self.db, &id).await?;
        Ok(id)
    }

    /// Which of these WhatsApp message ids are answers the desk sent (through any bridge): on a
    /// bridge, another bridge's answers arrive as the account's own messages, and are not the
    /// owner writing by hand.
    pub async fn sent_on_whatsapp(&self, ids: &[String]) -> Result<HashSet<String>, DeskError> {
        let mut sent = HashSet::new();
        for chunk in ids.chunks(200) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT channel_message_id FROM messages WHERE direction = 'outbound' AND channel = 'whatsapp' \
                 AND channel_message_id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id);
            }
            sent.extend(query.fetch_all(self.db.pool()).await?);
        }
        Ok(sent)
    }

    /// Erases everything the desk holds about the person a WhatsApp JID names.
    pub async fn forget(&self, person: &wamcp_core::Jid) -> Result<erase::Forgotten, DeskError> {
        erase::forget(&self.db, person).await
    }

    pub async fn resolve(&self, ticket_id: &str) -> Result<(), DeskError> {
        humans::resolve(&self.db, ticket_id).await
    }

    /// A person's merge of the ticket's customer into `into`, or into the customer the ticket
    /// names as possibly the same; answers the customer that remains.
    pub async fn merge_customers(&self, ticket_id: &str, into: Option<&str>) -> Result<String, DeskError> {
        humans::merge_customers(&self.db, ticket_id, into).await
    }

    /// Events as they are published in this process (when no broker is configured).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<events::DeskEvent> {
        self.in_process.subscribe()
    }

    /// Starts the background work on `workers`: the agent worker and the event publisher. Once
    /// `stop` is cancelled each finishes its round (an answer being drafted is stored and sent,
    /// an event being published is recorded) and returns, so whoever owns `workers` can join them.
    pub fn start(self: &Arc<Self>, workers: &TaskTracker, stop: &CancellationToken) {
        let publisher = events::Publisher {
            db: self.db.clone(),
            sink: self.sink.clone().unwrap_or_else(|| Arc::new(self.in_process.clone())),
            wake: self.events_wake.clone(),
        };
        workers.spawn(worker::run(self.clone(), stop.clone()));
        workers.spawn(publisher.run(stop.clone()));
    }
}
