//! Where the key that encrypts the data directory's databases comes from, in this order:
//!
//! 1. a systemd credential, `$CREDENTIALS_DIRECTORY/wamcp.key` (`LoadCredentialEncrypted=` seals
//!    it to the host or its TPM, so it never lies on disk in the clear);
//! 2. `--key-file PATH` / `WAMCP_KEY_FILE`, a file its owner alone may read (0600 or 0400);
//! 3. the desktop's keyring ([`super::desktop_keyring`]), for a laptop.
//!
//! No key: the databases are plain SQLite. The answer is installed for the whole process
//! ([`wamcp_core::at_rest::install`]) before any command opens a file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use wamcp_core::at_rest::{DbKey, Keying};

use super::desktop_keyring;
use super::file_mode::loose_mode;

/// The credential's name in `LoadCredential=` / `LoadCredentialEncrypted=`.
pub const CREDENTIAL: &str = "wamcp.key";

/// Where the key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Credential(PathBuf),
    KeyFile(PathBuf),
    DesktopKeyring,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Credential(path) => write!(f, "the systemd credential {}", path.display()),
            KeySource::KeyFile(path) => write!(f, "the key file {}", path.display()),
            KeySource::DesktopKeyring => f.write_str(&desktop_keyring::described()),
        }
    }
}

/// The first key source that is there, if any.
pub fn find(key_file: Option<&Path>) -> Option<KeySource> {
    let credential = std::env::var_os("CREDENTIALS_DIRECTORY")
        .filter(|dir| !dir.is_empty())
        .map(|dir| PathBuf::from(dir).join(CREDENTIAL))
        .filter(|path| path.exists());
    credential
        .map(KeySource::Credential)
        .or_else(|| key_file.map(|path| KeySource::KeyFile(path.to_path_buf())))
        .or_else(|| desktop_keyring::stored().map(|_| KeySource::DesktopKeyring))
}

/// The arguments that give a client-started `wamcp` (Claude Desktop's, Claude Code's) the key
/// file this process uses, by absolute path: such a client passes on few environment variables.
pub fn client_args(key_file: Option<&Path>) -> Vec<String> {
    match find(key_file) {
        Some(KeySource::KeyFile(path)) => {
            let absolute = std::fs::canonicalize(&path).unwrap_or(path);
            vec!["--key-file".to_string(), absolute.display().to_string()]
        }
        _ => Vec::new(),
    }
}

/// Where keys are looked for, for the error about an encrypted file and no key.
pub fn places() -> String {
    format!("$CREDENTIALS_DIRECTORY/{CREDENTIAL}, --key-file, WAMCP_KEY_FILE, {}", desktop_keyring::described())
}

/// This process's keying: the key from the first source there is, read and checked.
pub fn keying(key_file: Option<&Path>) -> anyhow::Result<Keying> {
    let Some(source) = find(key_file) else { return Ok(Keying::Plain { looked_in: places() }) };
    let key = read(&source)?;
    Ok(Keying::Keyed { key, from: source.to_string() })
}

/// Reads the key at `source`. A key file others may read is refused: it would protect nothing.
pub fn read(source: &KeySource) -> anyhow::Result<DbKey> {
    let text = match source {
        KeySource::DesktopKeyring => {
            desktop_keyring::stored().ok_or_else(|| anyhow::anyhow!("{source} holds no key"))?
        }
        KeySource::KeyFile(path) | KeySource::Credential(path) => {
            if let KeySource::KeyFile(_) = source
                && let Some(mode) =
                    loose_mode(path).with_context(|| format!("cannot read the key file {}", path.display()))?
            {
                anyhow::bail!(
                    "the key file {} may be read by others (mode {mode:04o}): run `chmod 600 {}`; wamcp takes only \
                     a key file that its owner alone can read",
                    path.display(),
                    path.display()
                );
            }
            std::fs::read_to_string(path).with_context(|| format!("cannot read {source}"))?
        }
    };
    DbKey::parse(&text).map_err(|why| anyhow::anyhow!("{source}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_others_can_read_is_refused_and_says_how_to_fix_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wamcp.key");
        std::fs::write(&path, "correct horse battery staple\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read(&KeySource::KeyFile(path.clone())).unwrap_err().to_string();
        assert!(error.contains("mode 0644") && error.contains("chmod 600"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read(&KeySource::KeyFile(path)).is_ok());
    }
}
