//! The doctor's look at encryption at rest: whether each database is encrypted, and whether the
//! key is kept where it protects anything.

use std::path::{Path, PathBuf};

use wamcp_core::at_rest::{self, FileState, Keying};
use wamcp_store::DataDir;

use super::Finding;
use crate::config::key::{self, KeySource};

/// Findings about the key (`key_file`: `--key-file` / `WAMCP_KEY_FILE`), each database and the
/// attachments (`encrypt_media`: whether the daemon saves them encrypted).
pub fn all(dir: &DataDir, key_file: Option<&Path>, encrypt_media: bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    let source = key::find(key_file);
    if let Some(source) = &source {
        findings.extend(key_place(dir, source));
    }
    let present: Vec<(&str, FileState)> = crate::commands::DATABASES
        .iter()
        .filter_map(|name| at_rest::file_state(&dir.root().join(name)).ok().map(|state| (*name, state)))
        .filter(|(_, state)| *state != FileState::New)
        .collect();
    if present.is_empty() {
        return findings;
    }
    let named = |wanted: FileState| -> Vec<&str> {
        present.iter().filter(|(_, state)| *state == wanted).map(|(name, _)| *name).collect()
    };
    let (plain, encrypted) = (named(FileState::Plain), named(FileState::Encrypted));
    let keyed = matches!(at_rest::keying(), Keying::Keyed { .. });
    findings.push(match (keyed, plain.is_empty(), encrypted.is_empty()) {
        (true, true, _) => Finding::ok(
            "encryption",
            format!(
                "{} encrypted (key from {})",
                encrypted.join(", "),
                source.map(|s| s.to_string()).unwrap_or_default()
            ),
        ),
        (true, false, _) => Finding::fail(
            "encryption",
            format!("{} not encrypted, though a key is given", plain.join(", ")),
            "stop the daemon and run `wamcp encrypt` (with the same key) to encrypt them",
        ),
        (false, _, false) => Finding::fail(
            "encryption",
            format!("{} encrypted, and no key was given (looked in {})", encrypted.join(", "), key::places()),
            "give the key file with --key-file or WAMCP_KEY_FILE",
        ),
        (false, _, true) => Finding::warn(
            "encryption",
            format!(
                "{} not encrypted: whoever copies the data directory or a disk reads the messages and can use the \
                 WhatsApp account",
                plain.join(", ")
            ),
            "stop the daemon and run `wamcp encrypt --key-file FILE` (a new FILE gets a new random key; keep it \
             outside the data directory)",
        ),
    });
    if keyed {
        findings.extend(media(dir, encrypt_media));
    }
    findings
}

/// With the databases encrypted: whether the attachments are too.
fn media(dir: &DataDir, encrypt_media: bool) -> Option<Finding> {
    let folder = dir.root().join("media");
    let (files, sealed) = wamcp_store::media_seal::census(&folder).ok()?;
    let plain = files - sealed;
    Some(match (plain, encrypt_media) {
        (0, _) if files > 0 => Finding::ok("media", format!("{files} attachment(s) in {} encrypted", folder.display())),
        (0, true) => Finding::ok("media", "attachments are saved encrypted (encrypt_media)".to_string()),
        (0, false) => return None,
        (_, true) => Finding::warn(
            "media",
            format!(
                "{plain} of {files} attachment(s) in {} are not encrypted (saved before encrypt_media)",
                folder.display()
            ),
            "stop the daemon and run `wamcp encrypt --encrypt-media` with the same key",
        ),
        (_, false) => Finding::warn(
            "media",
            format!("{plain} attachment(s) in {} are not encrypted (encrypt_media is off)", folder.display()),
            "set encrypt_media = true in wamcp.toml, stop the daemon and run `wamcp encrypt --encrypt-media`",
        ),
    })
}

/// A key file must be its owner's alone, and must not lie beside the data it locks.
fn key_place(dir: &DataDir, source: &KeySource) -> Vec<Finding> {
    let mut findings = Vec::new();
    let KeySource::KeyFile(path) = source else { return findings };
    match crate::config::file_mode::loose_mode(path) {
        Ok(Some(mode)) => findings.push(Finding::fail(
            "key file",
            format!("{} may be read by others (mode {mode:04o}); wamcp refuses it", path.display()),
            format!("chmod 600 {}", path.display()),
        )),
        Ok(None) => {}
        Err(e) => findings.push(Finding::fail(
            "key file",
            format!("cannot read the key file {}: {e}", path.display()),
            "give the path of an existing key file",
        )),
    }
    if inside(path, dir.root()) {
        findings.push(Finding::warn(
            "key file",
            format!("{} is inside the data directory: whoever copies the directory has the key too", path.display()),
            "move it out (say to ~/.config/wamcp/wamcp.key) and point --key-file or WAMCP_KEY_FILE at it; under \
             systemd, use the credential wamcp.key",
        ));
    }
    findings
}

fn inside(path: &Path, root: &Path) -> bool {
    let absolute = |p: &Path| -> PathBuf { std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()) };
    absolute(path).starts_with(absolute(root))
}
