//! The desktop's keyring as the third place for the database key: the Secret Service (GNOME
//! Keyring, KWallet) on Linux, the Keychain on macOS, the Credential Manager on Windows. For
//! `wamcp login` on a laptop, where there is no systemd credential and a key file would lie on
//! the same disk as the data.
//!
//! The entry is service `wamcp`, user `wamcp.key`. It is asked for only when neither the systemd
//! credential nor a key file is given, once per process, and only when the config directory
//! holds the note [`NOTE`] that `encrypt --keyring` leaves (and `decrypt` takes away): asking a
//! desktop's Secret Service costs about 8 ms, which every command of everyone else, `wamcp mcp`
//! started by an assistant included, would pay for nothing. Where there is no keyring (a server
//! without a desktop session) the answer is "nothing there", at once.

use std::sync::Mutex;

use anyhow::Context;

/// The entry's service name.
pub const SERVICE: &str = "wamcp";
/// The entry's user name.
pub const USER: &str = "wamcp.key";
/// Where `rekey --keyring` keeps the new key while the conversion runs: if storing it as `USER`
/// afterwards failed, it would still be here.
pub const PENDING_USER: &str = "wamcp.key.next";

/// The note in the config directory saying the key is in the keyring (it holds no secret).
pub const NOTE: &str = "key-in-keyring";

/// How the entry is named in messages.
pub fn described() -> String {
    format!("the desktop keyring's entry {SERVICE}/{USER}")
}

/// What the keyring was found to hold (outer `None`: not asked yet).
static STORED: Mutex<Option<Option<String>>> = Mutex::new(None);

/// The key text the keyring holds, if it holds one; asked once per process.
pub fn stored() -> Option<String> {
    let mut known = STORED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    known
        .get_or_insert_with(|| {
            read().unwrap_or_else(|why| {
                tracing::debug!("no key from {}: {why:#}", described());
                None
            })
        })
        .clone()
}

fn read() -> anyhow::Result<Option<String>> {
    if no_session() || !note_path().is_some_and(|note| note.is_file()) {
        return Ok(None);
    }
    let entry = keyring::Entry::new(SERVICE, USER)?;
    match entry.get_password() {
        Ok(text) => Ok(Some(text)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Stores `key` as the keyring's entry (replacing one there), and leaves the note that says so.
pub fn store(key: &str) -> anyhow::Result<()> {
    store_as(USER, key)?;
    if let Some(note) = note_path() {
        let written = note.parent().map(std::fs::create_dir_all).transpose().and_then(|_| {
            std::fs::write(
                &note,
                "The key of wamcp's databases is in the desktop keyring (service wamcp, user wamcp.key).\n",
            )
        });
        written.with_context(|| format!("cannot write {}", note.display()))?;
    }
    *STORED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Some(key.to_string()));
    Ok(())
}

/// Stores `key` under the user name `user` of the service.
pub fn store_as(user: &str, key: &str) -> anyhow::Result<()> {
    if no_session() {
        anyhow::bail!("there is no desktop session to reach a keyring in (no D-Bus session bus)");
    }
    keyring::Entry::new(SERVICE, user)
        .and_then(|entry| entry.set_password(key))
        .with_context(|| format!("cannot store a key in the desktop keyring (service {SERVICE}, user {user})"))
}

/// Removes the keyring's entry, if there is one, and the note.
pub fn remove() -> anyhow::Result<()> {
    remove_user(USER)?;
    if let Some(note) = note_path() {
        let _ = std::fs::remove_file(note);
    }
    *STORED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(None);
    Ok(())
}

/// Removes the entry with the user name `user`, if there is one.
pub fn remove_user(user: &str) -> anyhow::Result<()> {
    match keyring::Entry::new(SERVICE, user).and_then(|entry| entry.delete_credential()) {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(other) => Err(other)
            .with_context(|| format!("cannot remove a key from the desktop keyring (service {SERVICE}, user {user})")),
    }
}

fn note_path() -> Option<std::path::PathBuf> {
    super::file::config_dir().map(|dir| dir.join(NOTE))
}

/// On Linux and the BSDs the Secret Service is reached over the session bus: without one there
/// is no keyring, and asking would only wait for an error.
fn no_session() -> bool {
    cfg!(all(unix, not(target_os = "macos")))
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|address| address.is_empty())
}
