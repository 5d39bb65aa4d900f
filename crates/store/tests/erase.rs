//! Retention and erasure: exactly the rows (and files) they should remove, and nothing else.

use rusqlite::Connection;
use wamcp_core::Jid;
use wamcp_store::erase::remove_media_files;
use wamcp_store::testing::*;

/// The ids of the stored messages, oldest first.
fn message_ids(store: &Fixture) -> Vec<String> {
    strings(store, "SELECT id FROM messages ORDER BY seq")
}

fn strings(store: &Fixture, sql: &str) -> Vec<String> {
    let conn = Connection::open(store.path()).unwrap();
    let mut statement = conn.prepare(sql).unwrap();
    statement.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

fn count(store: &Fixture, sql: &str) -> i64 {
    Connection::open(store.path()).unwrap().query_row(sql, [], |row| row.get(0)).unwrap()
}

/// Message ids the full-text index finds for `word` (an entry left by a removed message shows).
fn found(store: &Fixture, word: &str) -> Vec<String> {
    strings(
        store,
        &format!(
            "SELECT coalesce(m.id, 'a stale entry') FROM messages_fts f LEFT JOIN messages m ON m.seq = f.rowid
             WHERE messages_fts MATCH '{word}' ORDER BY f.rowid"
        ),
    )
}

/// Gives message `id` a downloaded attachment file and returns its path.
fn attach_file(store: &Fixture, id: &str) -> std::path::PathBuf {
    let relative = format!("media/chat-of-{id}/{id}.jpg");
    let path = store.dir.path().join(&relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"picture").unwrap();
    Connection::open(store.path())
        .unwrap()
        .execute("UPDATE messages SET local_path = ?1 WHERE id = ?2", [relative.as_str(), id])
        .unwrap();
    path
}

#[test]
fn retention_removes_older_messages_their_reactions_index_entries_and_files() {
    let mut store = Fixture::small_world();
    let old_photo = attach_file(&store, "A4");
    let before = message_ids(&store);
    assert!(found(&store, "restaurant").contains(&"A3".to_string()));

    let mut batch = store.writer.batch().unwrap();
    let erased = batch.purge_before(at(45)).unwrap();
    batch.commit().unwrap();

    // Everything before minute 45 went: Alice's first four, Bruno's chat, Noa's old phone chat.
    let kept = message_ids(&store);
    let gone: Vec<&String> = before.iter().filter(|id| !kept.contains(id)).collect();
    let mut gone_sorted: Vec<&str> = gone.iter().map(|s| s.as_str()).collect();
    gone_sorted.sort();
    assert_eq!(gone_sorted, ["A1", "A2", "A3", "A4", "B1", "B2", "N0"]);
    assert_eq!(erased.messages, 7);
    assert_eq!(erased.reactions, 1, "the reaction on A3 goes with it");
    assert_eq!(count(&store, "SELECT count(*) FROM reactions"), 0);
    assert!(found(&store, "restaurant").is_empty(), "the index no longer finds a removed message");
    assert_eq!(found(&store, "café"), ["A5"], "nor loses a kept one");
    // Chats stay; one whose every message went has no newest message any more.
    assert_eq!(count(&store, &format!("SELECT count(*) FROM chats WHERE jid = '{BRUNO}' AND last_seq IS NULL")), 1);
    assert_eq!(count(&store, &format!("SELECT count(*) FROM chat_senders WHERE chat_jid = '{BRUNO}'")), 0);
    assert_eq!(
        count(
            &store,
            &format!("SELECT count(*) FROM chat_senders WHERE sender_jid = '{BRUNO}' AND chat_jid = '{GROUP}'")
        ),
        1,
        "Bruno still wrote in the group after the cutoff"
    );
    assert_eq!(erased.media_files, ["media/chat-of-A4/A4.jpg"]);
    assert_eq!(remove_media_files(store.dir.path(), &erased.media_files).unwrap(), 1);
    assert!(!old_photo.exists());
    assert!(!old_photo.parent().unwrap().exists(), "the emptied chat folder goes too");
}

#[test]
fn retention_with_nothing_old_removes_nothing() {
    let mut store = Fixture::small_world();
    let before = message_ids(&store);
    let mut batch = store.writer.batch().unwrap();
    let erased = batch.purge_before(at(-10_000)).unwrap();
    batch.commit().unwrap();
    assert_eq!(erased.messages, 0);
    assert_eq!(message_ids(&store), before);
}

#[test]
fn forgetting_a_person_removes_their_chat_their_group_messages_and_their_contact() {
    let mut store = Fixture::small_world();
    let photo = attach_file(&store, "A4");
    let group_photo_of_bruno = attach_file(&store, "G2");
    let before = message_ids(&store);

    let mut batch = store.writer.batch().unwrap();
    let erased = batch.forget_person(&Jid::parse(ALICE).unwrap()).unwrap();
    batch.commit().unwrap();

    let kept = message_ids(&store);
    let mut gone: Vec<&str> = before.iter().filter(|id| !kept.contains(id)).map(|s| s.as_str()).collect();
    gone.sort();
    // Her direct chat both ways (A2 and A5 are ours to her), and what she wrote in the group.
    assert_eq!(gone, ["A1", "A2", "A3", "A4", "A5", "G1"]);
    assert_eq!(erased.messages, 6);
    assert_eq!((erased.chats, erased.contacts, erased.reactions), (1, 1, 1));
    assert_eq!(count(&store, &format!("SELECT count(*) FROM contacts WHERE jid = '{ALICE}'")), 0);
    assert_eq!(count(&store, &format!("SELECT count(*) FROM chat_senders WHERE sender_jid = '{ALICE}'")), 0);
    assert!(found(&store, "coming").is_empty(), "her group message is out of the index");
    assert_eq!(erased.media_files, ["media/chat-of-A4/A4.jpg"]);
    remove_media_files(store.dir.path(), &erased.media_files).unwrap();
    assert!(!photo.exists());
    assert!(group_photo_of_bruno.exists(), "someone else's file stays");
    // The others are untouched.
    assert_eq!(count(&store, &format!("SELECT count(*) FROM contacts WHERE jid = '{BRUNO}'")), 1);
    assert!(kept.contains(&"G2".to_string()) && kept.contains(&"B1".to_string()));
}

#[test]
fn forgetting_a_phone_number_also_forgets_the_lid_it_is_linked_to() {
    let mut store = Fixture::small_world();
    let mut batch = store.writer.batch().unwrap();
    let erased = batch.forget_person(&Jid::parse(NOA_PHONE).unwrap()).unwrap();
    batch.commit().unwrap();
    let kept = message_ids(&store);
    for id in ["N0", "N1", "N2", "G3"] {
        assert!(!kept.contains(&id.to_string()), "{id} should be gone");
    }
    assert_eq!(erased.messages, 4);
    assert_eq!(count(&store, "SELECT count(*) FROM lid_map"), 0);
    assert_eq!(count(&store, &format!("SELECT count(*) FROM chats WHERE jid IN ('{NOA_PHONE}', '{NOA_LID}')")), 0);
}

#[test]
fn forgetting_the_newest_writer_of_a_group_moves_its_newest_message_back() {
    let mut store = Fixture::small_world();
    let mut batch = store.writer.batch().unwrap();
    batch.forget_person(&Jid::parse(ZOE).unwrap()).unwrap();
    batch.commit().unwrap();
    let newest = strings(
        &store,
        &format!("SELECT m.id FROM chats c JOIN messages m ON m.seq = c.last_seq WHERE c.jid = '{GROUP}'"),
    );
    assert_eq!(newest, ["G4"], "G5 was Zoé's");
}

#[test]
fn the_preview_of_forgetting_counts_exactly_what_the_erase_then_removes_and_writes_nothing() {
    for person in [ALICE, NOA_PHONE, ZOE, BRUNO] {
        let mut store = Fixture::small_world();
        attach_file(&store, "A4");
        let before = message_ids(&store);
        let preview = store.reader().forget_preview(&Jid::parse(person).unwrap()).unwrap();
        assert_eq!(message_ids(&store), before, "a preview of {person} removed something");
        assert!(!preview.is_empty(), "{person} has messages stored");

        let mut batch = store.writer.batch().unwrap();
        let erased = batch.forget_person(&Jid::parse(person).unwrap()).unwrap();
        batch.commit().unwrap();
        assert_eq!(preview, erased, "the preview of {person} disagrees with the erase");
        let again = store.reader().forget_preview(&Jid::parse(person).unwrap()).unwrap();
        assert!(again.is_empty(), "after the erase nothing of {person} is left: {again:?}");
    }
}
