//! Encryption at rest: the key this process opens its SQLite files with, and what a file's first
//! bytes say about it.
//!
//! wamcp's SQLite files (the store, the WhatsApp session, the desk) are opened through three
//! libraries: rusqlite, Diesel (whatsapp-rust's session storage) and sqlx (the desk). Each asks
//! [`key_for`] before its first statement, so one answer holds for all of them. The key is a fact
//! about the process, as its data directory is: the command line [`install`]s it once, before
//! anything opens a file, and every command (the daemon, `mcp`, `demo`, `backup`, …) then honours
//! it alike. Converting a file from one key to another takes both keys explicitly and does not
//! come through here.
//!
//! With a key, a file that does not exist yet is created encrypted; a plain file is refused
//! rather than written beside encrypted ones (`wamcp encrypt` converts a data directory in one
//! step). Without a key, an encrypted file is refused and the error says where a key was looked
//! for. A key that does not open a file is found out before anything is written to it.
//!
//! This is the one place in this crate that touches a file: the first 16 bytes of a database,
//! read once per process and path, before SQLite opens it (see [`key_for`] for why only then).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// A database key, ready to be handed to SQLCipher. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct DbKey {
    /// The key as a SQL string literal: `'x''<64 hex digits>'''` for a raw key, the quoted
    /// passphrase otherwise.
    literal: String,
}

impl DbKey {
    /// Reads a key from a key file's text (one trailing line break ignored).
    ///
    /// 64 hexadecimal digits are a raw 256-bit key, used as it is: opening a file costs nothing
    /// more than without a key. Anything else is a passphrase, which SQLCipher stretches (PBKDF2,
    /// 256,000 rounds) each time a file is opened.
    pub fn parse(text: &str) -> Result<DbKey, String> {
        let secret = text.strip_suffix('\n').unwrap_or(text);
        let secret = secret.strip_suffix('\r').unwrap_or(secret);
        if secret.is_empty() {
            return Err("the key is empty: a key file holds 64 hexadecimal digits (a raw key) or a passphrase".into());
        }
        if secret.contains('\0') {
            return Err("the key holds a NUL byte: a key file holds 64 hexadecimal digits or a passphrase".into());
        }
        let literal = if secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            format!("'x''{secret}'''")
        } else {
            format!("'{}'", secret.replace('\'', "''"))
        };
        Ok(DbKey { literal })
    }

    /// The statement that applies this key to a connection; it must come before any other.
    pub fn pragma(&self) -> String {
        format!("PRAGMA key = {}", self.literal)
    }

    /// The key as a SQL string literal, for `ATTACH DATABASE … KEY <literal>`.
    pub fn literal(&self) -> &str {
        &self.literal
    }
}

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbKey(…)")
    }
}

/// Whether this process encrypts its files, and with what.
#[derive(Debug, Clone)]
pub enum Keying {
    /// No key: files are plain SQLite. `looked_in` says where a key was looked for, for the
    /// error about a file that turns out to be encrypted.
    Plain { looked_in: String },
    /// Files are encrypted with `key`, which came `from` there (a path, "the keyring").
    Keyed { key: DbKey, from: String },
}

static KEYING: OnceLock<Keying> = OnceLock::new();

/// Sets this process's keying. The first call wins: a process has one key, and a second
/// install is refused so that no file is opened under two.
pub fn install(keying: Keying) -> Result<(), Keying> {
    KEYING.set(keying)
}

/// This process's keying; plain when nothing was installed.
pub fn keying() -> &'static Keying {
    KEYING.get_or_init(|| Keying::Plain { looked_in: "nowhere (no key source was read)".into() })
}

/// What a database file's first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Missing or empty: it will be created as the keying says.
    New,
    /// Plain SQLite (its header reads "SQLite format 3").
    Plain,
    /// Anything else: SQLCipher's pages look random from the first byte.
    Encrypted,
}

const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Reads the first 16 bytes of the file at `path` to say what it is.
pub fn file_state(path: &Path) -> std::io::Result<FileState> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::New),
        Err(error) => return Err(error),
    };
    let mut header = Vec::with_capacity(16);
    file.by_ref().take(16).read_to_end(&mut header)?;
    Ok(match header.len() {
        0 => FileState::New,
        _ if header == PLAIN_HEADER => FileState::Plain,
        _ => FileState::Encrypted,
    })
}

/// Why a database file cannot be opened as this process's keying says.
#[derive(Debug, thiserror::Error)]
pub enum AtRestError {
    #[error(
        "{path} is encrypted and no key was given (looked in {looked_in}): give the key file with --key-file or \
         WAMCP_KEY_FILE; nothing was changed"
    )]
    NeedsKey { path: PathBuf, looked_in: String },
    #[error(
        "{path} is not encrypted, but a key was given ({from}): run `wamcp encrypt` to encrypt the data directory \
         with it, or run without the key; nothing was changed"
    )]
    NotEncrypted { path: PathBuf, from: String },
    #[error("the key from {from} does not open {path}: it was encrypted with another key; nothing was changed")]
    WrongKey { path: PathBuf, from: String },
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
}

/// What each database file was when this process first asked, by absolute path.
static SEEN: OnceLock<Mutex<HashMap<PathBuf, FileState>>> = OnceLock::new();

/// The file's state as this process first found it. Its header is read only the first time:
/// closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's
/// included, so reading it again while a connection is open would let other processes' readers
/// see stale pages. Every opener asks before its first connection, so the first read is safe.
fn first_state(path: &Path) -> std::io::Result<FileState> {
    let absolute = std::path::absolute(path)?;
    let mut seen = SEEN.get_or_init(Mutex::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(state) = seen.get(&absolute) {
        return Ok(*state);
    }
    let state = file_state(&absolute)?;
    seen.insert(absolute, state);
    Ok(state)
}

/// The key to open the file at `path` with (`None`: open it plain), or why it cannot be opened.
pub fn key_for(path: &Path) -> Result<Option<&'static DbKey>, AtRestError> {
    let state = first_state(path).map_err(|error| AtRestError::Io { path: path.to_path_buf(), error })?;
    match (keying(), state) {
        (Keying::Plain { .. }, FileState::New | FileState::Plain) => Ok(None),
        (Keying::Plain { looked_in }, FileState::Encrypted) => {
            Err(AtRestError::NeedsKey { path: path.to_path_buf(), looked_in: looked_in.clone() })
        }
        (Keying::Keyed { key, .. }, FileState::New | FileState::Encrypted) => Ok(Some(key)),
        (Keying::Keyed { from, .. }, FileState::Plain) => {
            Err(AtRestError::NotEncrypted { path: path.to_path_buf(), from: from.clone() })
        }
    }
}

/// The error for a file this process's key did not open.
pub fn wrong_key(path: &Path) -> AtRestError {
    let from = match keying() {
        Keying::Keyed { from, .. } => from.clone(),
        Keying::Plain { .. } => "nowhere".into(),
    };
    AtRestError::WrongKey { path: path.to_path_buf(), from }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_four_hex_digits_are_a_raw_key_and_anything_else_a_passphrase() {
        let raw = "ab".repeat(32);
        assert_eq!(DbKey::parse(&format!("{raw}\n")).unwrap().pragma(), format!("PRAGMA key = 'x''{raw}'''"));
        assert_eq!(DbKey::parse("it's me").unwrap().pragma(), "PRAGMA key = 'it''s me'");
        assert!(DbKey::parse("\n").unwrap_err().contains("empty"));
        assert_eq!(format!("{:?}", DbKey::parse("secret").unwrap()), "DbKey(…)");
    }

    #[test]
    fn a_file_says_whether_it_is_plain_encrypted_or_new() {
        let dir = std::env::temp_dir().join(format!("wamcp-at-rest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.db");
        assert_eq!(file_state(&path).unwrap(), FileState::New);
        std::fs::write(&path, b"").unwrap();
        assert_eq!(file_state(&path).unwrap(), FileState::New);
        std::fs::write(&path, b"SQLite format 3\0 and pages").unwrap();
        assert_eq!(file_state(&path).unwrap(), FileState::Plain);
        std::fs::write(&path, [0x8a; 4096]).unwrap();
        assert_eq!(file_state(&path).unwrap(), FileState::Encrypted);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
