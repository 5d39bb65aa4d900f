//! The one native SQLite that the store, the desk on SQLite and the WhatsApp session share is
//! SQLCipher's: encryption at rest builds on it. Without a key a file is plain SQLite, as before;
//! with one, its bytes say nothing and no other key opens it.

use rusqlite::Connection;

#[test]
fn the_linked_sqlite_is_sqlcipher_and_a_keyed_file_says_nothing_without_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyed.db");
    let keyed = Connection::open(&path).unwrap();
    let version: String = keyed.query_row("PRAGMA cipher_version", [], |row| row.get(0)).unwrap();
    assert!(!version.is_empty(), "SQLCipher answers its version");
    keyed.pragma_update(None, "key", "correct horse").unwrap();
    keyed.execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('meet at the old mill');").unwrap();
    drop(keyed);

    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(8).any(|w| w == b"old mill"), "the text is not in the file");
    assert!(!bytes.starts_with(b"SQLite format 3"), "not even the header");

    let wrong = Connection::open(&path).unwrap();
    wrong.pragma_update(None, "key", "battery staple").unwrap();
    assert!(wrong.query_row("SELECT count(*) FROM notes", [], |row| row.get::<_, i64>(0)).is_err());

    let right = Connection::open(&path).unwrap();
    right.pragma_update(None, "key", "correct horse").unwrap();
    let text: String = right.query_row("SELECT text FROM notes", [], |row| row.get(0)).unwrap();
    assert_eq!(text, "meet at the old mill");
}

#[test]
fn without_a_key_a_file_is_plain_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    Connection::open(&path).unwrap().execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
    assert!(std::fs::read(&path).unwrap().starts_with(b"SQLite format 3"));
}
