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

#[test]
fn a_message_that_arrives_after_its_stand_in_takes_its_place_and_is_searchable() {
    let mut store = Fixture::empty();
    let mut stand_in = text(ALICE, "U1", Some(ALICE), 0, "waiting for this message");
    stand_in.kind = wamcp_core::MessageKind::System;
    let mut batch = store.writer.batch().unwrap();
    assert_eq!(batch.insert_message(&stand_in).unwrap(), Inserted::New);
    assert_eq!(batch.insert_message(&stand_in).unwrap(), Inserted::Duplicate, "a stand-in does not replace itself");
    assert_eq!(batch.insert_message(&text(ALICE, "U1", Some(ALICE), 0, "the real words")).unwrap(), Inserted::New);
    assert_eq!(
        batch.insert_message(&text(ALICE, "U1", Some(ALICE), 0, "a second copy")).unwrap(),
        Inserted::Duplicate,
        "a real message is never replaced"
    );
    batch.commit().unwrap();
    let found = store
        .reader()
        .list_messages(&MessageFilter { query: Some("real".into()), limit: 10, ..MessageFilter::default() })
        .unwrap();
    assert_eq!(found.matches.len(), 1);
    assert_eq!(found.matches[0].message.text.as_deref(), Some("the real words"));
    assert_eq!(found.matches[0].message.kind, wamcp_core::MessageKind::Text);
    let waiting = store
        .reader()
        .list_messages(&MessageFilter { query: Some("waiting".into()), limit: 10, ..MessageFilter::default() })
        .unwrap();
    assert!(waiting.matches.is_empty(), "the stand-in's words left the search index");
}

#[test]
fn a_message_deleted_for_me_leaves_the_history_and_its_search() {
    let mut store = Fixture::empty();
    store.add(&[text(ALICE, "D1", Some(ALICE), 0, "delete me"), text(ALICE, "D2", Some(ALICE), 1, "keep me")]);
    let mut batch = store.writer.batch().unwrap();
    batch.set_reaction(&jid(ALICE), "D1", &jid(ALICE), "👍", at(2)).unwrap();
    assert_eq!(batch.delete_for_me(&jid(ALICE), "D1").unwrap(), None);
    assert_eq!(batch.delete_for_me(&jid(ALICE), "never-stored").unwrap(), None);
    batch.commit().unwrap();
    let left = store.reader().list_messages(&MessageFilter { limit: 10, ..MessageFilter::default() }).unwrap();
    let ids: Vec<&str> = left.matches.iter().map(|m| m.message.id.as_str()).collect();
    assert_eq!(ids, ["D2"]);
    let found = store
        .reader()
        .list_messages(&MessageFilter { query: Some("delete".into()), limit: 10, ..MessageFilter::default() })
        .unwrap();
    assert!(found.matches.is_empty());
}

#[test]
fn a_contact_who_changed_number_keeps_their_name_under_the_new_one() {
    let mut store = Fixture::empty();
    let new = jid("447700900999@s.whatsapp.net");
    let lid = jid("99887766554433@lid");
    let mut batch = store.writer.batch().unwrap();
    let mut old = wamcp_core::Contact::new(jid(ALICE));
    old.full_name = Some("Alice Smith".into());
    old.push_name = Some("Ali".into());
    batch.upsert_contact(&old).unwrap();
    batch.number_changed(&jid(ALICE), &new, Some(&lid)).unwrap();
    batch.commit().unwrap();
    let found = store.reader().search_contacts("Alice Smith").unwrap();
    let jids: Vec<&str> = found.iter().map(|c| c.jid.as_str()).collect();
    assert!(jids.contains(&new.as_str()), "the new number is found by the old name: {jids:?}");
    let moved = found.iter().find(|c| c.jid == new.as_str()).unwrap();
    assert_eq!(moved.lid.as_deref(), Some(lid.as_str()));
}

#[test]
fn a_message_filed_under_the_phone_jid_keeps_the_addresses_it_arrived_with() {
    let mut store = Fixture::empty();
    // Written from a LID before anyone knew whose it was, then merged into the phone chat.
    store.add(&[text(NOA_LID, "L1", Some(NOA_LID), 0, "from my LID")]);
    let mut batch = store.writer.batch().unwrap();
    batch.merge_lid(&jid(NOA_LID), &jid(NOA_PHONE)).unwrap();
    // Arrived from the LID in a group, filed under her phone JID.
    batch.insert_message(&text(GROUP, "G1", Some(NOA_PHONE), 1, "in the group")).unwrap();
    batch.set_wire_address(&jid(GROUP), "G1", None, Some(&jid(NOA_LID))).unwrap();
    batch.insert_message(&text(ALICE, "A1", Some(ALICE), 2, "plain")).unwrap();
    batch.commit().unwrap();
    let reader = store.reader();
    let wire = |chat: &str, id: &str| {
        let found = reader.wire_address(&jid(chat), id).unwrap().expect("stored");
        (found.chat.to_string(), found.sender.map(|s| s.to_string()))
    };
    assert_eq!(wire(NOA_PHONE, "L1"), (NOA_LID.to_string(), Some(NOA_LID.to_string())));
    assert_eq!(wire(GROUP, "G1"), (GROUP.to_string(), Some(NOA_LID.to_string())));
    assert_eq!(wire(ALICE, "A1"), (ALICE.to_string(), Some(ALICE.to_string())), "no other address: the stored one");
    assert_eq!(reader.wire_address(&jid(ALICE), "missing").unwrap(), None);
    assert_eq!(reader.oldest_message(&jid(NOA_PHONE)).unwrap().unwrap().wire_chat, jid(NOA_LID));
    assert!(reader.media(&jid(NOA_PHONE), "L1").is_err(), "a text has no media");
}
