//! `wamcp bench --desk`: the support desk measured through its HTTP API, with the offline
//! provider and a knowledge base of the sample articles.
//!
//! - latency: one WhatsApp webhook at a time; from sending the request to the answer being
//!   handed to the WhatsApp outbox (p50 / p95);
//! - sustained intake: webhooks from several clients at once; messages taken in per second while
//!   the agent answers alongside, and how long until every one was answered.
//!
//! Both on SQLite, and on PostgreSQL when `--postgres-url` names a server to create a database on.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wamcp_core::{Jid, QueueFuture, TextOutbox};
use wamcp_desk::agent::offline::Offline;
use wamcp_desk::http::DeskApp;
use wamcp_desk::{Desk, DeskConfig, Liveness, Rules, Style, WhatsappSource};

use super::ms;

/// Webhooks timed one at a time.
const SEQUENTIAL: usize = 300;
/// Clients sending at once for the intake rate.
const CLIENTS: usize = 8;

/// The bridge's outbox as the benchmark sees it: when each customer's answer was handed over.
#[derive(Default)]
struct Clock {
    answered: Mutex<HashMap<String, Instant>>,
    changed: Condvar,
}

impl TextOutbox for Clock {
    fn queue_text<'a>(&'a self, to: &'a Jid, _: &'a str, key: &'a str) -> QueueFuture<'a> {
        self.answered.lock().unwrap().insert(to.to_string(), Instant::now());
        self.changed.notify_all();
        Box::pin(async move { Ok(format!("bench-{key}")) })
    }

    fn sender(&self) -> &str {
        "bench"
    }
}

impl Clock {
    fn wait_for(&self, jid: &str) -> Instant {
        let mut answered = self.answered.lock().unwrap();
        loop {
            if let Some(at) = answered.get(jid) {
                return *at;
            }
            answered = self.changed.wait_timeout(answered, Duration::from_secs(30)).unwrap().0;
        }
    }

    fn count(&self) -> usize {
        self.answered.lock().unwrap().len()
    }
}

struct Source;

impl WhatsappSource for Source {
    fn liveness(&self) -> Liveness {
        Liveness { connected: true, ..Liveness::default() }
    }
    fn bridge_path(&self) -> std::path::PathBuf {
        std::path::PathBuf::new()
    }
    fn poll_interval(&self) -> u64 {
        0
    }
}

pub fn run(work: &Path, messages: u64, postgres: Option<&str>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let sqlite = format!("sqlite://{}?mode=rwc", work.join("bench-desk.db").display());
    let _ = std::fs::remove_file(work.join("bench-desk.db"));
    measure(&runtime, "SQLite", &sqlite, work, messages)?;
    match postgres {
        Some(server) => {
            let url = runtime.block_on(fresh_postgres_database(server))?;
            measure(&runtime, "PostgreSQL", &url, work, messages)?;
        }
        None => outln!("desk on PostgreSQL: not measured (give --postgres-url postgres://USER:PASSWORD@HOST/DB)")?,
    }
    Ok(())
}

fn measure(runtime: &tokio::runtime::Runtime, name: &str, url: &str, work: &Path, messages: u64) -> anyhow::Result<()> {
    let clock = Arc::new(Clock::default());
    let (address, token) = runtime.block_on(serve(url, work, clock.clone()))?;
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let post = |agent: &ureq::Agent, phone: &str, id: &str| -> anyhow::Result<()> {
        let body =
            format!("{{\"phone\":\"{phone}\",\"message\":\"When will my order ship?\",\"message_id\":\"{id}\"}}");
        let response = agent
            .post(&format!("http://{address}/webhooks/whatsapp/mcp"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body.as_bytes())?;
        anyhow::ensure!(response.status() == 200, "the webhook answered {}", response.status());
        Ok(())
    };

    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for n in 0..SEQUENTIAL {
        let phone = format!("+4477009{n:05}");
        let begun = Instant::now();
        post(&agent, &phone, &format!("seq-{n}"))?;
        let answered = clock.wait_for(&Jid::from_phone(&phone)?.to_string());
        latencies.push(answered - begun);
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    outln!(
        "desk {name:<10} webhook -> answer queued  p50 {} p95 {} over {SEQUENTIAL} messages (target p95 <= 50 ms)",
        ms(at(0.5)),
        ms(at(0.95))
    )?;

    let per_client = (messages as usize).div_ceil(CLIENTS);
    let begun = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let agent = agent.clone();
                let post = &post;
                scope.spawn(move || -> anyhow::Result<()> {
                    for n in 0..per_client {
                        post(&agent, &format!("+4478{c:02}{n:06}"), &format!("load-{c}-{n}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for client in clients {
            client.join().expect("a client thread")?;
        }
        Ok(())
    })?;
    let taken_in = begun.elapsed();
    let total = per_client * CLIENTS;
    while clock.count() < SEQUENTIAL + total {
        let answered = clock.answered.lock().unwrap();
        let _ = clock.changed.wait_timeout(answered, Duration::from_secs(1)).unwrap();
        anyhow::ensure!(begun.elapsed() < Duration::from_secs(600), "the agent did not answer everything in 10 min");
    }
    let all_answered = begun.elapsed();
    outln!(
        "desk {name:<10} intake {:.0} messages/s ({total} webhooks from {CLIENTS} clients in {:.1} s); all answered after {:.1} s",
        total as f64 / taken_in.as_secs_f64(),
        taken_in.as_secs_f64(),
        all_answered.as_secs_f64()
    )?;
    Ok(())
}

/// Starts the desk's routes on a local port; returns the address and the token.
async fn serve(url: &str, work: &Path, clock: Arc<Clock>) -> anyhow::Result<(std::net::SocketAddr, String)> {
    let config = DeskConfig {
        database_url: Some(url.to_string()),
        data_dir: work.to_path_buf(),
        rules: Rules::default(),
        style: Style::default(),
        provider: Arc::new(Offline),
        twilio: None,
        smtp: None,
        mail_retry_after: wamcp_desk::delivery::MAIL_RETRY_AFTER,
        sink: None,
    };
    let desk = Desk::open(config).await?;
    let kb = work.join("bench-kb");
    std::fs::create_dir_all(&kb)?;
    std::fs::write(kb.join("shipping.md"), include_str!("../../../../examples/kb/shipping.md"))?;
    wamcp_desk::kb::import(&desk.db, &kb).await?;
    desk.connect_whatsapp(clock, Arc::new(Source));
    // The bench's desk runs until the process ends: nothing waits for its workers.
    desk.start(&tokio_util::task::TaskTracker::new(), &tokio_util::sync::CancellationToken::new());
    let token = "bench-token".to_string();
    let app = wamcp_desk::http::routes(Arc::new(DeskApp { desk, token: token.clone() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((address, token))
}

/// A new database on the PostgreSQL server `server` names.
async fn fresh_postgres_database(server: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(server).await?;
    let name = wamcp_desk::model::new_id("desk_bench");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
    let (base, _) = server.rsplit_once('/').ok_or_else(|| anyhow::anyhow!("the URL names no database"))?;
    Ok(format!("{base}/{name}"))
}
