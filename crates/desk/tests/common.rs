//! What the desk tests share: a desk on a fresh SQLite file with a small knowledge base, and a
//! WhatsApp outbox that keeps what it was asked to send.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tempfile::TempDir;
use wamcp_core::{Jid, QueueFuture, TextOutbox, Timestamp};
use wamcp_desk::agent::offline::Offline;
use wamcp_desk::agent::provider::Provider;
use wamcp_desk::{Channel, Desk, DeskConfig, Identity, Inbound, Liveness, Rules, Style, Via, WhatsappSource};

/// Sends as the bridge would take them: (to, text, idempotency key); the same key twice is one
/// send, answered with the same message id (as the daemon's outbox answers a repeated key).
#[derive(Default)]
pub struct Outbox {
    pub sent: Mutex<Vec<(String, String, String)>>,
    /// The bridge it stands for ("test-bridge" when not named).
    pub bridge: Option<&'static str>,
    /// Answers "the daemon is stopping" to every send, as a bridge going down does.
    pub stopping: bool,
}

impl TextOutbox for Outbox {
    fn queue_text<'a>(&'a self, to: &'a Jid, text: &'a str, key: &'a str) -> QueueFuture<'a> {
        Box::pin(async move {
            if self.stopping {
                return Err(wamcp_core::QueueError::Unavailable("the daemon is stopping".into()));
            }
            let mut sent = self.sent.lock().unwrap();
            let position = match sent.iter().position(|(_, _, k)| k == key) {
                Some(earlier) => earlier,
                None => {
                    sent.push((to.to_string(), text.to_string(), key.to_string()));
                    sent.len() - 1
                }
            };
            Ok(format!("WA{}", position + 1))
        })
    }

    fn sender(&self) -> &str {
        self.bridge.unwrap_or("test-bridge")
    }
}

impl Outbox {
    pub fn texts(&self) -> Vec<String> {
        self.sent.lock().unwrap().iter().map(|(_, text, _)| text.clone()).collect()
    }
}

pub struct Source;

impl WhatsappSource for Source {
    fn liveness(&self) -> Liveness {
        Liveness { connected: true, account: Some("15550001111@s.whatsapp.net".into()) }
    }
    fn bridge_path(&self) -> std::path::PathBuf {
        std::env::temp_dir()
    }
    fn poll_interval(&self) -> u64 {
        0
    }
}

pub struct TestDesk {
    pub desk: Arc<Desk>,
    pub outbox: Arc<Outbox>,
    pub dir: TempDir,
    /// The database the desk is on.
    pub url: String,
}

/// Which database a test runs on: every desk test runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` as two tests, `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::common::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::common::Backend::Postgres).await
            }
        }
    )*};
}

/// The environment variable naming the PostgreSQL server the tests may create databases on; the
/// test command starts a throwaway server and sets it.
pub const POSTGRES_ENV: &str = "WAMCP_TEST_POSTGRES_URL";

/// A fresh, empty database on `backend`: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("desk.db").display()),
        Backend::Postgres => {
            use sqlx::Connection;
            let server = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
                panic!("{POSTGRES_ENV} is not set: run the tests with the test command (scripts/test), which starts PostgreSQL")
            });
            sqlx::any::install_default_drivers();
            let mut admin = sqlx::AnyConnection::connect(&server).await.expect("the test PostgreSQL server answers");
            let name = wamcp_desk::model::new_id("desk_test");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
            let (base, _) = server.rsplit_once('/').expect("the URL names a database");
            format!("{base}/{name}")
        }
    }
}

pub async fn desk_with(backend: Backend, provider: Arc<dyn Provider>) -> TestDesk {
    desk_made(backend, |config| config.provider = provider).await
}

/// A desk on a fresh database with the sample articles, its configuration changed by `adjust`.
pub async fn desk_made(backend: Backend, adjust: impl FnOnce(&mut DeskConfig)) -> TestDesk {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, dir.path()).await;
    let mut config = DeskConfig {
        database_url: Some(url.clone()),
        data_dir: dir.path().to_path_buf(),
        rules: Rules::default(),
        style: Style::default(),
        provider: Arc::new(Offline),
        twilio: None,
        smtp: None,
        mail_retry_after: wamcp_desk::delivery::MAIL_RETRY_AFTER,
        sink: None,
    };
    adjust(&mut config);
    let desk = Desk::open(config).await.unwrap();
    let kb = dir.path().join("kb");
    std::fs::create_dir(&kb).unwrap();
    std::fs::write(
        kb.join("shipping.md"),
        "# Shipping\nOrders ship within two working days and arrive in three to five days.\n\nTracking links come by email.",
    )
    .unwrap();
    std::fs::write(kb.join("password.md"), "# Resetting your password\nTap *Forgot password* on the login screen.")
        .unwrap();
    wamcp_desk::kb::import(&desk.db, &kb).await.unwrap();
    let outbox = Arc::new(Outbox::default());
    desk.connect_whatsapp(outbox.clone(), Arc::new(Source));
    TestDesk { desk, outbox, dir, url }
}

/// A second desk on `t`'s database (another worker, or the same desk after a restart), with no
/// way out until one is connected.
pub async fn another_desk_on(t: &TestDesk) -> Arc<Desk> {
    let config = DeskConfig {
        database_url: Some(t.url.clone()),
        data_dir: t.dir.path().to_path_buf(),
        rules: Rules::default(),
        style: Style::default(),
        provider: Arc::new(Offline),
        twilio: None,
        smtp: None,
        mail_retry_after: wamcp_desk::delivery::MAIL_RETRY_AFTER,
        sink: None,
    };
    Desk::open(config).await.unwrap()
}

pub async fn desk(backend: Backend) -> TestDesk {
    desk_with(backend, Arc::new(Offline)).await
}

pub const PHONE: &str = "+923001234567";

pub fn whatsapp(text: &str, id: &str) -> Inbound {
    whatsapp_from(PHONE, text, id)
}

pub fn whatsapp_from(phone: &str, text: &str, id: &str) -> Inbound {
    let jid = Jid::from_phone(phone).unwrap();
    Inbound {
        channel: Channel::Whatsapp,
        via: Via::Bridge,
        address: jid.to_string(),
        from: Identity::whatsapp(jid, Some("Ann".into())),
        channel_account: None,
        channel_message_id: Some(id.to_string()),
        subject: None,
        body: text.to_string(),
        wordless: false,
        at: Timestamp::now(),
    }
}

pub fn web_form(text: &str, email: &str, phone: Option<&str>) -> Inbound {
    let mut from = Identity::default().with_email(email).unwrap().with_name(Some("Ann Lee"));
    if let Some(phone) = phone {
        from = from.with_phone(phone).unwrap();
    }
    Inbound {
        channel: Channel::WebForm,
        via: Via::Webhook,
        address: email.to_string(),
        from,
        channel_account: None,
        channel_message_id: None,
        subject: Some("Help".into()),
        body: text.to_string(),
        wordless: false,
        at: Timestamp::now(),
    }
}
