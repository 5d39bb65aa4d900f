//! The API's bearer token: made on first start, kept in `<data dir>/api-token` readable by the
//! owner only, and compared in constant time.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The token file's name in the data directory.
pub const TOKEN_FILE: &str = "api-token";

/// The file holding the key webhooks are signed with.
pub const WEBHOOK_SECRET_FILE: &str = "webhook-secret";

/// The file naming this bridge among the linked devices of one account (not a secret: it tells
/// the desk which bridge took an answer).
pub const BRIDGE_ID_FILE: &str = "bridge-id";

/// This bridge's id, made on first start.
pub fn bridge_id(data_dir: &Path) -> Result<String, String> {
    load_or_create_random(&data_dir.join(BRIDGE_ID_FILE), 8)
}

/// Reads the API token, making one first if there is none.
pub fn load_or_create(data_dir: &Path) -> Result<String, String> {
    load_or_create_secret(&data_dir.join(TOKEN_FILE))
}

/// Reads a secret file, making it (random, owner-only) first if there is none.
pub fn load_or_create_secret(path: &Path) -> Result<String, String> {
    load_or_create_random(path, 32)
}

/// Reads a file of one random value, making it (`bytes` random bytes in hex, owner-only) first
/// if there is none.
fn load_or_create_random(path: &Path, bytes: usize) -> Result<String, String> {
    let path = path.to_path_buf();
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    let token = random_hex(bytes);
    write_private(&path, &token).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(token)
}

fn write_private(path: &PathBuf, token: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system provides randomness");
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `given` equals `expected`, taking the same time wherever they differ.
pub fn matches(given: &str, expected: &str) -> bool {
    wamcp_core::secrets_match(given, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(dir.path()).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abd", "abc"));
        assert!(!matches("ab", "abc"));
    }
}
