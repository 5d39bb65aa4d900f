//! Converting a data directory's databases to another key, all of them or none: plain to
//! encrypted (`wamcp encrypt`), back (`wamcp decrypt`), or one key to another (`wamcp rekey`).
//!
//! Each database is first written whole beside itself (`NAME.rekeyed`) with SQLCipher's
//! `sqlcipher_export`, after its write-ahead log has been checkpointed into it. Then a journal
//! file naming them is made durable: that is the commit. Only then is each new file renamed over
//! its original. A kill -9 before the commit leaves the old files, and the next command removes
//! the half-written copies; after it, the next command ([`finish_interrupted`]) completes the
//! renames. Either way the directory holds the old files or the new ones, never some of each.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use wamcp_core::at_rest::{self, DbKey, FileState};

use crate::{Result, StoreError, connection};

/// Present: the `.rekeyed` files it names are the data, and are being moved into place.
const JOURNAL: &str = "rekey-journal";
const NEW_SUFFIX: &str = ".rekeyed";
/// The files SQLite keeps beside a database in WAL mode.
const COMPANIONS: [&str; 2] = ["-wal", "-shm"];

/// What a conversion does, for its messages and its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    Encrypt,
    Decrypt,
    Rekey,
}

impl Conversion {
    /// What every database must be before this conversion.
    fn expects(self) -> FileState {
        match self {
            Conversion::Encrypt => FileState::Plain,
            Conversion::Decrypt | Conversion::Rekey => FileState::Encrypted,
        }
    }
}

/// Converts the databases called `names` in `dir` (those present) from key `from` to key `to`
/// (`None`: plain). Returns the names converted. On an error nothing is changed.
pub fn convert(
    dir: &Path,
    names: &[&str],
    conversion: Conversion,
    from: Option<&DbKey>,
    to: Option<&DbKey>,
) -> Result<Vec<String>> {
    finish_interrupted(dir)?;
    let present: Vec<String> = names.iter().filter(|name| dir.join(name).is_file()).map(|n| n.to_string()).collect();
    for name in &present {
        let path = dir.join(name);
        let state = at_rest::file_state(&path).map_err(StoreError::io(&path))?;
        if state != conversion.expects() {
            let is = if state == FileState::Plain { "not encrypted" } else { "encrypted already" };
            return Err(StoreError::Invalid(format!("{} is {is}; nothing was changed", path.display())));
        }
    }
    for name in &present {
        if let Err(error) = export(&dir.join(name), &new_path(dir, name), from, to) {
            remove_leftovers(dir);
            return Err(error);
        }
    }
    // The commit: once the journal is durable, the new files are the data.
    let journal = dir.join(JOURNAL);
    let partial = dir.join(format!("{JOURNAL}.partial"));
    std::fs::write(&partial, present.join("\n")).map_err(StoreError::io(&partial))?;
    std::fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(StoreError::io(&partial))?;
    std::fs::rename(&partial, &journal).map_err(StoreError::io(&journal))?;
    sync_dir(dir)?;
    finish_interrupted(dir)?;
    Ok(present)
}

/// Completes or undoes a conversion that a crash interrupted: with the journal, moves the new
/// files into place; without it, removes half-written ones. Does nothing otherwise.
pub fn finish_interrupted(dir: &Path) -> Result<()> {
    let journal = dir.join(JOURNAL);
    let names = match std::fs::read_to_string(&journal) {
        Ok(text) => text.lines().map(str::to_string).collect::<Vec<_>>(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let _ = std::fs::remove_file(dir.join(format!("{JOURNAL}.partial")));
            remove_leftovers(dir);
            return Ok(());
        }
        Err(error) => return Err(StoreError::io(&journal)(error)),
    };
    for name in &names {
        let new = new_path(dir, name);
        if !new.exists() {
            continue; // moved before the crash
        }
        // The old log belongs to the old file: left beside the new one, SQLite would replay it.
        for suffix in COMPANIONS {
            let companion = dir.join(format!("{name}{suffix}"));
            match std::fs::remove_file(&companion) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::io(&companion)(error));
                }
                _ => {}
            }
        }
        std::fs::rename(&new, dir.join(name)).map_err(StoreError::io(&new))?;
    }
    sync_dir(dir)?;
    std::fs::remove_file(&journal).map_err(StoreError::io(&journal))?;
    sync_dir(dir)
}

/// Writes the database at `source` (key `from`) into a new file `target` (key `to`), durably.
fn export(source: &Path, target: &Path, from: Option<&DbKey>, to: Option<&DbKey>) -> Result<()> {
    let _ = std::fs::remove_file(target);
    let conn = Connection::open(source)?;
    if let Some(key) = from {
        connection::unlock(&conn, key, source)?;
    }
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // Everything committed must be in the file being exported, not only in its log.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let target_text =
        target.to_str().ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", target.display())))?;
    let key = to.map(DbKey::literal).unwrap_or("''");
    conn.execute(&format!("ATTACH DATABASE ?1 AS rekeyed KEY {key}"), [target_text])?;
    let version: i64 = conn.query_row("PRAGMA main.user_version", [], |row| row.get(0))?;
    conn.query_row("SELECT sqlcipher_export('rekeyed')", [], |_| Ok(()))?;
    // sqlcipher_export copies tables and rows, not the header's schema version.
    conn.execute_batch(&format!("PRAGMA rekeyed.user_version = {version}"))?;
    conn.execute_batch("DETACH DATABASE rekeyed")?;
    drop(conn);
    std::fs::File::open(target).and_then(|file| file.sync_all()).map_err(StoreError::io(target))
}

fn new_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{NEW_SUFFIX}"))
}

/// Removes every `*.rekeyed` file and SQLite's journal beside it: without a journal of ours
/// they are half-written.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(NEW_SUFFIX) || name.contains(&format!("{NEW_SUFFIX}-")) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(StoreError::io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> DbKey {
        DbKey::parse(text).unwrap()
    }

    fn read_note(path: &Path, with: Option<&DbKey>) -> rusqlite::Result<String> {
        let conn = Connection::open(path)?;
        if let Some(key) = with {
            conn.execute_batch(&key.pragma())?;
        }
        conn.query_row("SELECT text FROM notes", [], |row| row.get(0))
    }

    #[test]
    fn a_directory_goes_plain_to_encrypted_to_another_key_and_back_keeping_rows_and_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.db", "b.db"] {
            let conn = Connection::open(dir.path().join(name)).unwrap();
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('the old mill'); \
                 PRAGMA user_version = 7;",
            )
            .unwrap();
        }
        let (first, second) = (key("correct horse"), key(&"5a".repeat(32)));
        let names = ["a.db", "b.db", "absent.db"];
        let done = convert(dir.path(), &names, Conversion::Encrypt, None, Some(&first)).unwrap();
        assert_eq!(done, ["a.db", "b.db"]);
        let path = dir.path().join("a.db");
        assert!(read_note(&path, None).is_err(), "no longer plain");
        assert_eq!(read_note(&path, Some(&first)).unwrap(), "the old mill");
        assert!(!std::fs::read(&path).unwrap().windows(8).any(|w| w == b"old mill"));

        let again = convert(dir.path(), &names, Conversion::Encrypt, None, Some(&first)).unwrap_err();
        assert!(again.to_string().contains("encrypted already"), "{again}");

        convert(dir.path(), &names, Conversion::Rekey, Some(&first), Some(&second)).unwrap();
        assert!(read_note(&path, Some(&first)).is_err());
        assert_eq!(read_note(&path, Some(&second)).unwrap(), "the old mill");

        convert(dir.path(), &names, Conversion::Decrypt, Some(&second), None).unwrap();
        assert_eq!(read_note(&dir.path().join("b.db"), None).unwrap(), "the old mill");
        let version: i64 =
            Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, 7);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 2, "no journal, copies or logs left: {left:?}");
    }

    #[test]
    fn a_wrong_key_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&key("right").pragma()).unwrap();
        conn.execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('x');").unwrap();
        drop(conn);
        let before = std::fs::read(&path).unwrap();
        assert!(convert(dir.path(), &["a.db"], Conversion::Decrypt, Some(&key("wrong")), None).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!dir.path().join("a.db.rekeyed").exists());
    }

    #[test]
    fn a_committed_conversion_is_completed_and_an_uncommitted_one_undone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.db"), b"old").unwrap();
        std::fs::write(dir.path().join("a.db-wal"), b"old log").unwrap();
        std::fs::write(dir.path().join("a.db.rekeyed"), b"new").unwrap();
        std::fs::write(dir.path().join("a.db.rekeyed-journal"), b"its rollback journal").unwrap();
        finish_interrupted(dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.db")).unwrap(), b"old");
        assert!(!dir.path().join("a.db.rekeyed").exists(), "uncommitted: the copy goes");
        assert!(!dir.path().join("a.db.rekeyed-journal").exists(), "and its journal");

        std::fs::write(dir.path().join("a.db.rekeyed"), b"new").unwrap();
        std::fs::write(dir.path().join(JOURNAL), "a.db").unwrap();
        finish_interrupted(dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.db")).unwrap(), b"new");
        assert!(!dir.path().join("a.db-wal").exists(), "the old log goes with the old file");
        assert!(!dir.path().join(JOURNAL).exists());
    }
}
