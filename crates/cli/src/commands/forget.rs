//! `wamcp forget JID`: erases a person on request (GDPR): their messages and attachment files,
//! their contact entry, and the desk's records of them.
//!
//! It first counts what it would erase and shows it, then asks (`--yes` skips the question; with
//! no terminal to ask on and no `--yes` it refuses, so a script cannot erase by accident);
//! `--dry-run` only shows. While a daemon runs on the data directory, the store's part goes
//! through it (`POST /api/forget`, its one writer); otherwise the command opens the store itself.
//! Either way it is one transaction.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use clap::Args;
use wamcp_core::Jid;
use wamcp_desk::db::Db;
use wamcp_desk::erase::Forgotten;
use wamcp_mcp::daemon::{Daemon, HttpDaemon};
use wamcp_store::{Erased, Reader, Writer};

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
    /// Erase without asking first (needed when there is no terminal to ask on)
    #[arg(long, short = 'y')]
    yes: bool,
    /// Only show what would be erased; change nothing
    #[arg(long, conflicts_with = "yes")]
    dry_run: bool,
}

pub fn run(mut layers: Layers, args: ForgetArgs) -> anyhow::Result<()> {
    let person = Jid::parse_one_person(&args.person)?;
    let dir = layers.data_dir()?;
    let store = dir.store_path();
    if !store.is_file() {
        anyhow::bail!("there is no store in {} (is --data-dir right?); nothing was changed", dir.root().display());
    }
    let desk = desk_database(&mut layers, &args, &dir);

    // What would go, counted the way the erase selects it. Reading needs no writer, so this
    // works beside a running daemon too.
    let stored = Reader::open(&store)?.forget_preview(&person)?;
    let in_desk = match &desk {
        Some(desk) => Some(
            super::runtime()?
                .block_on(async { wamcp_desk::erase::forget_preview(&desk.open().await?, &person).await })?,
        ),
        None => None,
    };
    if stored.is_empty() && in_desk.as_ref().is_none_or(Forgotten::is_empty) {
        outln!("nothing stored for {person}: nothing was changed")?;
        return Ok(());
    }
    let what = if args.dry_run { "Would erase" } else { "About to erase" };
    outln!("{what} everything stored about {person}:")?;
    print_counts(&stored, stored.media_files.len() as u64, in_desk.as_ref())?;
    if args.dry_run {
        outln!("(dry run: nothing was changed)")?;
        return Ok(());
    }
    if !args.yes {
        confirm(&person)?;
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
    let forgotten = match &desk {
        // The database alone, not a desk: a running desk's claims and workers stay untouched.
        Some(desk) => {
            Some(super::runtime()?.block_on(async { wamcp_desk::erase::forget(&desk.open().await?, &person).await })?)
        }
        None => None,
    };
    outln!("forgot {person}")?;
    print_counts(&erased, files, forgotten.as_ref())
}

/// Where the desk's records are, if there is a desk: the configured database, or desk.db in the
/// data directory.
enum DeskDatabase {
    Url(String),
    Sqlite(std::path::PathBuf),
}

impl DeskDatabase {
    async fn open(&self) -> Result<Db, wamcp_desk::DeskError> {
        match self {
            DeskDatabase::Url(url) => Db::open(url).await,
            DeskDatabase::Sqlite(path) => Db::open_sqlite(path).await,
        }
    }
}

fn desk_database(layers: &mut Layers, args: &ForgetArgs, dir: &wamcp_store::DataDir) -> Option<DeskDatabase> {
    let in_file = layers.file().desk.as_ref().map(|desk| desk.database_url.clone());
    let url = layers.pick(
        "desk.database_url",
        "WAMCP_DESK_DATABASE_URL",
        args.desk_database_url.clone().map(Some),
        in_file,
        || None,
    );
    let sqlite = dir.root().join(wamcp_desk::SQLITE_FILE);
    match url {
        Some(url) => Some(DeskDatabase::Url(url)),
        None if sqlite.is_file() => Some(DeskDatabase::Sqlite(sqlite)),
        None => None,
    }
}

/// Asks on the terminal; anything but yes leaves everything as it was.
fn confirm(person: &Jid) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "forget asks before it erases, and there is no terminal to ask on: pass --yes to erase {person} \
             without asking, or --dry-run to only see what would go; nothing was changed"
        );
    }
    eprint!("Erase all of this for good? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        anyhow::bail!("not confirmed: nothing was changed");
    }
    Ok(())
}

fn print_counts(erased: &Erased, files: u64, desk: Option<&Forgotten>) -> anyhow::Result<()> {
    outln!("  store: {}", store_summary(erased))?;
    outln!("  attachments: {}", counted(files, "file"))?;
    if let Some(forgotten) = desk {
        let desk = counts(&[
            (forgotten.customers, "customer"),
            (forgotten.identifiers, "identifier"),
            (forgotten.conversations, "conversation"),
            (forgotten.tickets, "ticket"),
            (forgotten.messages, "message"),
            (forgotten.events, "event"),
            (forgotten.claims, "web-form claim"),
        ]);
        outln!("  desk: {desk}")?;
    }
    Ok(())
}

/// Asks the running daemon to erase the person; what it removed, and how many files.
fn through_daemon(daemon: HttpDaemon, person: &Jid) -> anyhow::Result<(Erased, u64)> {
    let daemon: &dyn Daemon = &daemon;
    let answer = super::runtime()?
        .block_on(daemon.call(wamcp_api::Forget { jid: person.to_string() }))
        .context("the daemon runs on this data directory but could not erase")?;
    let erased = Erased {
        messages: answer.messages,
        chats: answer.chats,
        contacts: answer.contacts,
        reactions: answer.reactions,
        receipts: answer.receipts,
        outbox_entries: answer.outbox_entries,
        media_files: Vec::new(),
    };
    Ok((erased, answer.files))
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
