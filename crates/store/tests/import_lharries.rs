//! Import of lharries/whatsapp-mcp databases with the quirks real ones have.

use std::path::Path;

use rusqlite::{Connection, params};
use wamcp_store::import::lharries::Source;
use wamcp_store::read::ChatOrder;
use wamcp_store::testing::Fixture;
use wamcp_store::{MessageFilter, Reader};

const SCHEMA: &str = "
CREATE TABLE chats (jid TEXT PRIMARY KEY, name TEXT, last_message_time TIMESTAMP);
CREATE TABLE messages (id TEXT, chat_jid TEXT, sender TEXT, content TEXT, timestamp TIMESTAMP,
  is_from_me BOOLEAN, media_type TEXT, filename TEXT, url TEXT, media_key BLOB, file_sha256 BLOB,
  file_enc_sha256 BLOB, file_length INTEGER, PRIMARY KEY (id, chat_jid));";

/// A lharries database with one of each quirk.
fn quirky_db(path: &Path) {
    let db = Connection::open(path).unwrap();
    db.execute_batch(SCHEMA).unwrap();
    let chats: &[(&str, Option<&str>, Option<&str>)] = &[
        ("447700900123@s.whatsapp.net", Some("Alice Smith"), Some("2025-03-01 12:00:00+00:00")),
        ("5511987654321@s.whatsapp.net", None, None),
        ("120363000000000001@g.us", Some("Trip Team"), Some("2025-03-01 14:00:00+02:00")),
        ("status@broadcast", None, None),
        ("15550001111@s.whatsapp.net", Some("15550001111"), None),
        ("not a jid", Some("Broken"), None),
    ];
    for (jid, name, time) in chats {
        db.execute("INSERT INTO chats VALUES (?1, ?2, ?3)", params![jid, name, time]).unwrap();
    }
    let insert = "INSERT INTO messages (id, chat_jid, sender, content, timestamp, is_from_me, media_type, filename, url, media_key, file_sha256, file_enc_sha256, file_length) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
    // (id, chat, sender, content, timestamp, is_from_me)
    type Row<'a> = (&'a str, &'a str, Option<&'a str>, &'a str, Option<&'a str>, bool);
    let text_rows: &[Row] = &[
        (
            "M1",
            "447700900123@s.whatsapp.net",
            Some("447700900123"),
            "hello in UTC",
            Some("2025-03-01 10:00:00+00:00"),
            false,
        ),
        (
            "M2",
            "447700900123@s.whatsapp.net",
            Some("447700900123@s.whatsapp.net"),
            "full JID sender, +02:00",
            Some("2025-03-01 13:00:00+02:00"),
            false,
        ),
        ("M3", "447700900123@s.whatsapp.net", None, "sent by me", Some("2025-03-01 11:30:00-05:00"), true),
        ("M4", "5511987654321@s.whatsapp.net", Some(""), "empty sender", Some("2025-03-01T09:00:00Z"), false),
        (
            "M5",
            "120363000000000001@g.us",
            Some("5511987654321"),
            "group message",
            Some("2025-03-01 14:00:00.123456789+02:00"),
            false,
        ),
        ("M6", "status@broadcast", Some("447700900123"), "a status update", Some("2025-03-01 08:00:00+00:00"), false),
        ("M7", "447700900123@s.whatsapp.net", Some("447700900123"), "no time", None, false),
        ("M8", "not a jid", Some("1"), "bad chat", Some("2025-03-01 08:00:00+00:00"), false),
        ("M9", "ghost@g.us", Some("447700900123"), "chat missing from chats", Some("2025-03-01 07:00:00+00:00"), false),
    ];
    for (id, chat, sender, content, time, mine) in text_rows {
        db.execute(
            "INSERT INTO messages (id, chat_jid, sender, content, timestamp, is_from_me) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, chat, sender, content, time, mine],
        )
        .unwrap();
    }
    db.execute(
        insert,
        params![
            "P1",
            "447700900123@s.whatsapp.net",
            "447700900123",
            "look at this view",
            "2025-03-01 10:30:00+00:00",
            false,
            "image",
            "view.jpg",
            "https://mmg.whatsapp.net/v/t62.7118-24/abc.enc?ccb=11-4",
            vec![1u8; 32],
            vec![2u8; 32],
            vec![3u8; 32],
            54321
        ],
    )
    .unwrap();
    // A voice row without keys or URL, and no caption.
    db.execute(
        "INSERT INTO messages (id, chat_jid, sender, content, timestamp, is_from_me, media_type, filename)
         VALUES ('P2', '447700900123@s.whatsapp.net', '447700900123', '', '2025-03-01 10:31:00+00:00', 0, 'audio', 'voice.ogg')",
        [],
    )
    .unwrap();
}

fn messages(reader: &Reader) -> Vec<wamcp_core::MessageView> {
    reader
        .list_messages(&MessageFilter { limit: 100, ..MessageFilter::default() })
        .unwrap()
        .matches
        .into_iter()
        .map(|m| m.message)
        .collect()
}

#[test]
fn imports_every_quirk_and_reports_what_it_skipped() {
    let source_dir = tempfile::tempdir().unwrap();
    let source = source_dir.path().join("messages.db");
    quirky_db(&source);
    let mut store = Fixture::empty();
    let mut progress = Vec::new();
    let report = Source::open(&source)
        .unwrap()
        .import_into(&mut store.writer, &mut |done, total| progress.push((done, total)))
        .unwrap();
    assert_eq!(report.messages_read, 11);
    assert_eq!(report.messages_imported, 9);
    assert_eq!(report.skipped.get("message without a readable timestamp"), Some(&1));
    assert_eq!(report.skipped.get("message with an invalid chat JID"), Some(&1));
    assert_eq!(report.skipped.get("chat with an invalid JID"), Some(&1));
    assert_eq!(progress.last(), Some(&(11, 11)));

    let reader = store.reader();
    let all = messages(&reader);
    let get = |id: &str| all.iter().find(|m| m.id == id).unwrap_or_else(|| panic!("{id} imported"));
    // Times with any offset land on the right instant, in UTC.
    assert_eq!(get("M2").timestamp.to_rfc3339(), "2025-03-01T11:00:00+00:00");
    assert_eq!(get("M3").timestamp.to_rfc3339(), "2025-03-01T16:30:00+00:00");
    assert_eq!(get("M5").timestamp.to_rfc3339(), "2025-03-01T12:00:00.123+00:00");
    // Bare and full sender JIDs are the same person; an empty sender in a direct chat is the other person.
    assert_eq!(get("M1").sender_jid, get("M2").sender_jid);
    assert_eq!(get("M4").sender_jid.as_deref(), Some("5511987654321@s.whatsapp.net"));
    assert!(get("M3").is_from_me);
    assert_eq!(get("M3").sender_name.as_deref(), Some("Me"));
    assert_eq!(get("M6").chat_jid, "status@broadcast");
    assert_eq!(get("M9").chat_jid, "ghost@g.us");
    // A media row's content is its caption; its keys and size are kept for download.
    let photo = get("P1");
    assert_eq!(photo.kind, wamcp_core::MessageKind::Image);
    assert_eq!(photo.caption.as_deref(), Some("look at this view"));
    assert_eq!(photo.text, None);
    assert_eq!(photo.media.as_ref().unwrap().size, Some(54321));
    assert_eq!(get("P2").kind, wamcp_core::MessageKind::Audio);
    // Chat names become contact names, but a name that is only the number does not.
    assert_eq!(get("M1").sender_name.as_deref(), Some("Alice Smith"));
    let contacts = reader.search_contacts("1555").unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].name.as_deref(), Some("15550001111"), "found as a chat, not as a named contact");
    // A chat with a NULL name and time still lists, by its newest message.
    let chats = reader.list_chats(None, ChatOrder::LastActive, 20, 0, false).unwrap();
    let bruno = chats.iter().find(|c| c.jid == "5511987654321@s.whatsapp.net").unwrap();
    assert_eq!(bruno.last_message_time.unwrap().to_rfc3339(), "2025-03-01T09:00:00+00:00");
}

#[test]
fn importing_again_adds_nothing() {
    let source_dir = tempfile::tempdir().unwrap();
    let source = source_dir.path().join("messages.db");
    quirky_db(&source);
    let mut store = Fixture::empty();
    let source = Source::open(&source).unwrap();
    source.import_into(&mut store.writer, &mut |_, _| {}).unwrap();
    let before = messages(&store.reader()).len();
    let again = source.import_into(&mut store.writer, &mut |_, _| {}).unwrap();
    assert_eq!(again.messages_imported, 0);
    assert_eq!(again.messages_present, 9);
    assert_eq!(messages(&store.reader()).len(), before);
}

#[test]
fn an_older_schema_without_media_columns_imports() {
    let source_dir = tempfile::tempdir().unwrap();
    let path = source_dir.path().join("messages.db");
    let db = Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE chats (jid TEXT PRIMARY KEY, name TEXT, last_message_time TIMESTAMP);
         CREATE TABLE messages (id TEXT, chat_jid TEXT, sender TEXT, content TEXT, timestamp TIMESTAMP, is_from_me BOOLEAN);
         INSERT INTO chats VALUES ('447700900123@s.whatsapp.net', 'Alice', '2024-01-01 10:00:00+00:00');
         INSERT INTO messages VALUES ('O1', '447700900123@s.whatsapp.net', '447700900123', 'old schema', '2024-01-01 10:00:00+00:00', 0);",
    )
    .unwrap();
    drop(db);
    let mut store = Fixture::empty();
    let report = Source::open(&path).unwrap().import_into(&mut store.writer, &mut |_, _| {}).unwrap();
    assert_eq!(report.messages_imported, 1);
    assert_eq!(messages(&store.reader())[0].text.as_deref(), Some("old schema"));
}

#[test]
fn something_else_is_refused_with_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Source::open(&dir.path().join("nope.db")).err().unwrap().to_string();
    assert!(missing.contains("no such file") && missing.contains("messages.db"), "{missing}");
    let other = dir.path().join("other.db");
    Connection::open(&other).unwrap().execute_batch("CREATE TABLE notes (x TEXT);").unwrap();
    let wrong = Source::open(&other).err().unwrap().to_string();
    assert!(wrong.contains("is not a lharries/whatsapp-mcp messages.db") && wrong.contains("chats"), "{wrong}");
}
