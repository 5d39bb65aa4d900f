//! Writing: idempotent inserts, many messages in one millisecond, migrations.

use wamcp_store::testing::*;
use wamcp_store::{Inserted, MessageFilter, Reader, StoreError, Writer};

#[test]
fn the_same_message_twice_is_stored_once() {
    let mut store = Fixture::empty();
    let message = text(ALICE, "X1", Some(ALICE), 0, "hello");
    let mut batch = store.writer.batch().unwrap();
    assert_eq!(batch.insert_message(&message).unwrap(), Inserted::New);
    assert_eq!(batch.insert_message(&message).unwrap(), Inserted::Duplicate);
    batch.commit().unwrap();
    let page = store.reader().list_messages(&MessageFilter { limit: 10, ..MessageFilter::default() }).unwrap();
    assert_eq!(page.matches.len(), 1);
}

#[test]
fn messages_in_the_same_millisecond_keep_their_arrival_order() {
    let mut store = Fixture::empty();
    let burst: Vec<_> = (0..50).map(|i| text(ALICE, &format!("S{i:02}"), Some(ALICE), 0, "same time")).collect();
    store.add(&burst);
    let page = store.reader().list_messages(&MessageFilter { limit: 100, ..MessageFilter::default() }).unwrap();
    let ids: Vec<String> = page.matches.iter().map(|m| m.message.id.clone()).collect();
    let expected: Vec<String> = (0..50).rev().map(|i| format!("S{i:02}")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn an_uncommitted_batch_leaves_nothing_behind() {
    let mut store = Fixture::empty();
    {
        let mut batch = store.writer.batch().unwrap();
        batch.insert_message(&text(ALICE, "X1", Some(ALICE), 0, "lost")).unwrap();
    }
    let page = store.reader().list_messages(&MessageFilter { limit: 10, ..MessageFilter::default() }).unwrap();
    assert!(page.matches.is_empty());
}

#[test]
fn reopening_keeps_data_and_a_newer_schema_is_refused() {
    let store = Fixture::small_world();
    let path = store.path();
    drop(Writer::open(&path).unwrap());
    assert_eq!(
        Reader::open(&path)
            .unwrap()
            .list_messages(&MessageFilter { limit: 100, ..Default::default() })
            .unwrap()
            .matches
            .len(),
        16
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    match Writer::open(&path) {
        Err(StoreError::TooNew { found: 99, .. }) => {}
        other => panic!("expected TooNew, got {:?}", other.err()),
    }
}

#[test]
fn a_failed_bulk_load_leaves_the_store_as_it_was() {
    let mut store = Fixture::empty();
    let failed = store.writer.bulk_load(|batch| {
        batch.insert_message(&text(ALICE, "B1", Some(ALICE), 0, "half way"))?;
        Err::<(), _>(StoreError::Invalid("the source broke".into()))
    });
    assert!(failed.is_err());
    let everything = MessageFilter { limit: 10, ..MessageFilter::default() };
    assert!(store.reader().list_messages(&everything).unwrap().matches.is_empty());
    // Indexes and the full-text trigger are back: new messages are searchable and unique.
    let message = text(ALICE, "X1", Some(ALICE), 0, "findable words");
    let mut batch = store.writer.batch().unwrap();
    assert_eq!(batch.insert_message(&message).unwrap(), Inserted::New);
    assert_eq!(batch.insert_message(&message).unwrap(), Inserted::Duplicate);
    batch.commit().unwrap();
    let search = MessageFilter { query: Some("findable".into()), ..everything };
    assert_eq!(store.reader().list_messages(&search).unwrap().matches[0].message.id, "X1");
}

#[test]
fn a_bulk_load_is_searchable_and_indexed_when_it_returns() {
    let mut store = Fixture::empty();
    store
        .writer
        .bulk_load(|batch| {
            for i in 0..100 {
                batch.insert_message(&text(GROUP, &format!("G{i}"), Some(BRUNO), i, &format!("number {i} here")))?;
            }
            Ok(())
        })
        .unwrap();
    let reader = store.reader();
    let search =
        MessageFilter { query: Some("42".into()), chats: vec![jid(GROUP)], limit: 10, ..MessageFilter::default() };
    assert_eq!(reader.list_messages(&search).unwrap().matches[0].message.id, "G42");
    let chats = reader.contact_chats(&jid(BRUNO), 10, 0).unwrap();
    assert_eq!(chats[0].jid, GROUP);
    assert_eq!(chats[0].last_message_time, Some(at(99)));
}
