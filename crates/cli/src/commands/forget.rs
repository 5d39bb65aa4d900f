//! `wamcp forget JID`: erases a person on request (GDPR): their messages and attachment files,
//! their contact entry, and the desk's records of them, then says what went.
//!
//! It may run while the daemon does: SQLite takes one writer at a time, and the erase is one
//! transaction.

use anyhow::Context;
use clap::Args;
use wamcp_core::Jid;
use wamcp_desk::db::Db;
use wamcp_store::{Erased, Writer};

use crate::config::Layers;

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The person: a phone number (with country code) or a JID (phone or LID)
    #[arg(value_name = "JID")]
    person: String,
    /// The desk's database, when it is not desk.db in the data directory
    #[arg(long = "desk-database-url", id = "desk.database_url", env = "WAMCP_DESK_DATABASE_URL", value_name = "URL")]
    desk_database_url: Option<String>,
}

pub fn run(mut layers: Layers, args: ForgetArgs) -> anyhow::Result<()> {
    let person = Jid::parse_person(&args.person).ok().filter(Jid::is_person).with_context(|| {
        format!(
            "'{}' is not a person: give a phone number with country code (+44 7700 900123) or a JID \
                 (447700900123@s.whatsapp.net, or a …@lid)",
            args.person
        )
    })?;
    let dir = layers.data_dir()?;
    let store = dir.store_path();
    if !store.is_file() {
        anyhow::bail!("there is no store in {} (is --data-dir right?); nothing was changed", dir.root().display());
    }
    let mut writer = Writer::open(&store)?;
    let mut batch = writer.batch()?;
    let erased = batch.forget_person(&person)?;
    batch.commit()?;
    let files = wamcp_store::erase::remove_media_files(dir.root(), &erased.media_files)
        .context("the rows are gone, but an attachment file could not be deleted")?;
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
        let parts = [
            (forgotten.customers, "customer"),
            (forgotten.identifiers, "identifier"),
            (forgotten.conversations, "conversation"),
            (forgotten.tickets, "ticket"),
            (forgotten.messages, "message"),
            (forgotten.events, "event"),
        ]
        .map(|(n, what)| counted(n, what));
        println!("  desk: {}", parts.join(", "));
    }
    Ok(())
}

fn store_summary(erased: &Erased) -> String {
    [
        (erased.messages, "message"),
        (erased.chats, "chat"),
        (erased.contacts, "contact entry"),
        (erased.reactions, "reaction"),
        (erased.receipts, "receipt"),
        (erased.outbox_entries, "outbox entry"),
    ]
    .map(|(n, what)| counted(n, what))
    .join(", ")
}

/// "1 chat", "2 chats", "2 contact entries".
pub fn counted(n: u64, what: &str) -> String {
    match (n, what.strip_suffix('y')) {
        (1, _) => format!("1 {what}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {what}s"),
    }
}
