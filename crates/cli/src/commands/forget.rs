//! `wamcp forget JID`: erases a person on request (GDPR): their messages and attachment files,
//! their contact entry, and the desk's records of them, then says what went.
//!
//! While a daemon runs on the data directory, the store's part goes through it (`POST /api/forget`,
//! its one writer); otherwise the command opens the store itself. Either way it is one transaction.

use anyhow::Context;
use clap::Args;
use wamcp_core::Jid;
use wamcp_desk::db::Db;
use wamcp_mcp::daemon::{Daemon, HttpDaemon};
use wamcp_store::{Erased, Writer};

use super::daemon::DaemonAddressArgs;
use crate::config::Layers;

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The person: a phone number (with country code) or a JID (phone or LID)
    #[arg(value_name = "JID")]
    person: String,
    #[command(flatten)]
    daemon: DaemonAddressArgs,
    /// The desk's database, when it is not desk.db in the data directory
    #[arg(long = "desk-database-url", id = "desk.database_url", env = "WAMCP_DESK_DATABASE_URL", value_name = "URL")]
    desk_database_url: Option<String>,
}

pub fn run(mut layers: Layers, args: ForgetArgs) -> anyhow::Result<()> {
    let person = Jid::parse_one_person(&args.person)?;
    let dir = layers.data_dir()?;
    let store = dir.store_path();
    if !store.is_file() {
        anyhow::bail!("there is no store in {} (is --data-dir right?); nothing was changed", dir.root().display());
    }
    let (erased, files) = if dir.daemon_running() {
        // Through the daemon's one writer: a long erase must not hold the store's lock against it.
        let listen = args.daemon.resolve(&mut layers, &dir);
        through_daemon(HttpDaemon::new(listen, dir.root().join(wamcp_bridge::token::TOKEN_FILE)), &person)?
    } else {
        let mut writer = Writer::open(&store)?;
        let mut batch = writer.batch()?;
        let erased = batch.forget_person(&person)?;
        batch.commit()?;
        let files = wamcp_store::erase::remove_media_files(dir.root(), &erased.media_files)
            .context("the rows are gone, but an attachment file could not be deleted")?;
        (erased, files)
    };
    println!("forgot {person}");
    println!("  store: {}", store_summary(&erased));
    println!("  attachments: {}", counted(files, "file"));
    let in_file = layers.file().desk.as_ref().map(|desk| desk.database_url.clone());
    let desk_url = layers.pick(
        "desk.database_url",
        "WAMCP_DESK_DATABASE_URL",
        args.desk_database_url.clone().map(Some),
        in_file,
        || None,
    );
    let desk_sqlite = dir.root().join(wamcp_desk::SQLITE_FILE);
    if desk_url.is_some() || desk_sqlite.is_file() {
        // The database alone, not a desk: a running desk's claims and workers stay untouched.
        let forgotten = super::runtime()?.block_on(async {
            let db = match &desk_url {
                Some(url) => Db::open(url).await?,
                None => Db::open_sqlite(&desk_sqlite).await?,
            };
            wamcp_desk::erase::forget(&db, &person).await
        })?;
        let desk = counts(&[
            (forgotten.customers, "customer"),
            (forgotten.identifiers, "identifier"),
            (forgotten.conversations, "conversation"),
            (forgotten.tickets, "ticket"),
            (forgotten.messages, "message"),
            (forgotten.events, "event"),
        ]);
        println!("  desk: {desk}");
    }
    Ok(())
}

/// Asks the running daemon to erase the person; what it removed, and how many files.
fn through_daemon(daemon: HttpDaemon, person: &Jid) -> anyhow::Result<(Erased, u64)> {
    let answer = super::runtime()?
        .block_on(daemon.post("/api/forget", serde_json::json!({"jid": person.to_string()})))
        .context("the daemon runs on this data directory but could not erase")?;
    let count = |key: &str| answer[key].as_u64().unwrap_or(0);
    let erased = Erased {
        messages: count("messages"),
        chats: count("chats"),
        contacts: count("contacts"),
        reactions: count("reactions"),
        receipts: count("receipts"),
        outbox_entries: count("outbox_entries"),
        media_files: Vec::new(),
    };
    Ok((erased, count("files")))
}

fn store_summary(erased: &Erased) -> String {
    counts(&[
        (erased.messages, "message"),
        (erased.chats, "chat"),
        (erased.contacts, "contact entry"),
        (erased.reactions, "reaction"),
        (erased.receipts, "receipt"),
        (erased.outbox_entries, "outbox entry"),
    ])
}

/// "6 messages, 1 chat, 2 contact entries".
fn counts(parts: &[(u64, &str)]) -> String {
    parts.iter().map(|&(n, what)| counted(n, what)).collect::<Vec<_>>().join(", ")
}

/// "1 chat", "2 chats", "2 contact entries".
fn counted(n: u64, what: &str) -> String {
    match (n, what.strip_suffix('y')) {
        (1, _) => format!("1 {what}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {what}s"),
    }
}
