//! The session files of an unlinked device. After a logout the library keeps the dead keys, and a
//! client started on them logs in, is refused with 401, and never offers a QR code. So the files
//! are moved to `replaced-<time>/` beside them: the next `wamcp login` pairs afresh, and the old
//! keys are still there for anyone who wants to look.

use std::path::{Path, PathBuf};

use wamcp_core::Timestamp;

/// The suffixes SQLite adds to a database's name for its journal files.
const COMPANIONS: [&str; 3] = ["", "-wal", "-shm"];

/// Moves the session database and its journal files into a new `replaced-<time>/` folder in the
/// same directory. Returns the folder, or `None` when there was no session to move.
pub fn set_aside(session: &Path) -> std::io::Result<Option<PathBuf>> {
    if !session.exists() {
        return Ok(None);
    }
    let dir = session.parent().unwrap_or(Path::new("."));
    let name = session.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stamp: String = Timestamp::now().to_rfc3339().chars().filter(char::is_ascii_alphanumeric).collect();
    let mut folder = dir.join(format!("replaced-{stamp}"));
    // Two logouts within a millisecond (a test, a loop) must not mix their files.
    let mut n = 1;
    while folder.exists() {
        n += 1;
        folder = dir.join(format!("replaced-{stamp}-{n}"));
    }
    std::fs::create_dir(&folder)?;
    for suffix in COMPANIONS {
        let file = dir.join(format!("{name}{suffix}"));
        match std::fs::rename(&file, folder.join(format!("{name}{suffix}"))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(folder))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_and_its_journals_move_together_and_nothing_is_left_behind() {
        let dir = tempdir();
        let session = dir.join("whatsapp-session.db");
        for suffix in COMPANIONS {
            std::fs::write(dir.join(format!("whatsapp-session.db{suffix}")), suffix).unwrap();
        }
        std::fs::write(dir.join("store.db"), "not ours").unwrap();
        let first = set_aside(&session).unwrap().expect("a session was there");
        assert!(first.file_name().unwrap().to_string_lossy().starts_with("replaced-"));
        for suffix in COMPANIONS {
            assert!(!dir.join(format!("whatsapp-session.db{suffix}")).exists());
            let moved = std::fs::read_to_string(first.join(format!("whatsapp-session.db{suffix}"))).unwrap();
            assert_eq!(moved, suffix);
        }
        assert!(dir.join("store.db").exists());
        assert_eq!(set_aside(&session).unwrap(), None, "nothing left to move");
        std::fs::write(&session, "second").unwrap();
        let second = set_aside(&session).unwrap().unwrap();
        assert_ne!(first, second);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wamcp-session-{}-{}", std::process::id(), Timestamp::now().millis()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
