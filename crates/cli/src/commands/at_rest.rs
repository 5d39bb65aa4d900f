//! `wamcp encrypt`, `wamcp decrypt` and `wamcp rekey`: convert the data directory's databases to
//! another key, all of them or none (`wamcp_store::rekey`), while no daemon runs on it.
//!
//! `encrypt` takes the key the usual way (the systemd credential, `--key-file`,
//! `WAMCP_KEY_FILE`, the desktop keyring); a key file that does not exist yet is created with a
//! new random key, and `--keyring` makes one in the desktop keyring. `decrypt` and `rekey` open
//! the files with that key; `rekey --new-key-file` or `--keyring` names the next one. `decrypt`
//! removes a key the desktop keyring held: it would open nothing any more.
//! With `encrypt_media`, `encrypt` seals the attachments in `media/` too; `decrypt` opens them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use wamcp_core::at_rest::{self, DbKey, Keying};
use wamcp_store::DataDir;
use wamcp_store::rekey::{self, Conversion};

use crate::config::Layers;
use crate::config::desktop_keyring;
use crate::config::key::{self, KeySource};

#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Encrypt the attachments in media/ too (and have the daemon save new ones encrypted, with
    /// encrypt_media in wamcp.toml or --encrypt-media); on a directory encrypted already, only
    /// the attachments are
    #[arg(long = "encrypt-media", id = "encrypt_media", env = "WAMCP_ENCRYPT_MEDIA")]
    encrypt_media: bool,
    /// With no key given: make a new random key and keep it in the desktop's keyring (Secret
    /// Service, Keychain, Credential Manager), where every later wamcp finds it
    #[arg(long)]
    pub keyring: bool,
}

#[derive(Debug, Args)]
#[group(id = "new_key", required = true, multiple = false)]
pub struct RekeyArgs {
    /// The new key: a file (mode 0600) holding 64 hex digits or a passphrase; a file that does
    /// not exist is created with a new random key
    #[arg(long, value_name = "FILE", group = "new_key")]
    new_key_file: Option<PathBuf>,
    /// The new key: a new random one, kept in the desktop's keyring (replacing one there)
    #[arg(long, group = "new_key")]
    keyring: bool,
}

/// Makes a new random key when `encrypt` is given a key file that does not exist (written there),
/// or no key and `--keyring` (kept in the desktop keyring), so that the key can be read as any
/// other before the conversion starts.
pub fn create_key_if_missing(key_file: Option<&Path>, args: &EncryptArgs) -> anyhow::Result<()> {
    match (key_file, key::find(key_file)) {
        (Some(path), Some(KeySource::KeyFile(found))) if !path.exists() && found == path => write_new_key(path),
        (None, None) if args.keyring => {
            desktop_keyring::store(&new_key_hex()?)?;
            eprintln!("wamcp: a new key is in {}", desktop_keyring::described());
            Ok(())
        }
        _ => Ok(()),
    }
}

pub fn encrypt(mut layers: Layers, args: EncryptArgs) -> anyhow::Result<()> {
    let Keying::Keyed { key, from } = at_rest::keying() else {
        anyhow::bail!(
            "no key to encrypt with: give a key file with --key-file FILE or WAMCP_KEY_FILE (a file that does not \
             exist is created with a new random key), --keyring (a new random key kept in the desktop keyring), or \
             the systemd credential {}; nothing was changed",
            key::CREDENTIAL
        );
    };
    let media = super::daemon::encrypt_media(&mut layers, args.encrypt_media);
    let dir = locked_data_dir(&mut layers)?;
    let encrypted_already = super::DATABASES
        .iter()
        .map(|name| dir.root().join(name))
        .filter(|path| path.is_file())
        .all(|path| at_rest::file_state(&path).is_ok_and(|state| state == at_rest::FileState::Encrypted));
    if !(media && encrypted_already) {
        convert(&dir, Conversion::Encrypt, None, Some(key), &format!("encrypted with the key from {from}"))?;
    }
    if media {
        let store = dir.store_path();
        let sealed = wamcp_store::Writer::open(&store)?.media_seal()?.seal_folder(&dir.root().join("media"))?;
        outln!("{sealed} attachment(s) in {} encrypted", dir.root().join("media").display())?;
    }
    Ok(())
}

pub fn decrypt(mut layers: Layers) -> anyhow::Result<()> {
    let Keying::Keyed { key, .. } = at_rest::keying() else {
        anyhow::bail!(
            "give the key the databases are encrypted with (--key-file or WAMCP_KEY_FILE); nothing was changed"
        );
    };
    let dir = locked_data_dir(&mut layers)?;
    // The attachments first: the identity that opens them is in the store.
    let store = dir.store_path();
    if store.is_file()
        && let Some(seal) = wamcp_store::Reader::open(&store)?.media_seal()?
    {
        let opened = seal.open_folder(&dir.root().join("media"))?;
        if opened > 0 {
            outln!("{opened} attachment(s) in {} decrypted", dir.root().join("media").display())?;
        }
    }
    convert(
        &dir,
        Conversion::Decrypt,
        Some(key),
        None,
        "decrypted: they are plain SQLite now; run wamcp without a key",
    )?;
    if key::find(layers.key_file().as_deref()) == Some(KeySource::DesktopKeyring) {
        // Left there, it would be taken for every later command, and the plain files refused.
        desktop_keyring::remove()?;
        eprintln!("wamcp: the key was removed from {}", desktop_keyring::described());
    }
    Ok(())
}

pub fn rekey(mut layers: Layers, args: RekeyArgs) -> anyhow::Result<()> {
    let Keying::Keyed { key, .. } = at_rest::keying() else {
        anyhow::bail!(
            "give the current key (--key-file, WAMCP_KEY_FILE or the desktop keyring) and the new one (--new-key-file \
             or --keyring)"
        );
    };
    // For the keyring: the new key's text, stored once the conversion is done.
    let (new, done, for_keyring) = match &args.new_key_file {
        Some(path) => {
            if !path.exists() {
                write_new_key(path)?;
            }
            let done = format!("encrypted with the key in {}; use it from now on", path.display());
            (key::read(&KeySource::KeyFile(path.clone()))?, done, None)
        }
        None => {
            let text = new_key_hex()?;
            let new = DbKey::parse(&text).map_err(|why| anyhow::anyhow!("the new key: {why}"))?;
            // Kept before the conversion starts: the databases never have a key stored nowhere.
            desktop_keyring::store_as(desktop_keyring::PENDING_USER, &text)?;
            (new, format!("encrypted with a new key, kept in {}", desktop_keyring::described()), Some(text))
        }
    };
    if new == *key {
        anyhow::bail!(
            "{} holds the key the databases have now: give a file with another key, or the path of one to create; \
             nothing was changed",
            args.new_key_file.as_deref().map(|p| p.display().to_string()).unwrap_or_default()
        );
    }
    let dir = locked_data_dir(&mut layers)?;
    convert(&dir, Conversion::Rekey, Some(key), Some(&new), &done)?;
    if let Some(text) = for_keyring {
        // After the conversion committed: a keyring entry replaced before it would open nothing
        // if the conversion failed.
        desktop_keyring::store(&text).with_context(|| {
            format!(
                "the databases have the new key, kept in the desktop keyring as user {} but not as {}: copy it there",
                desktop_keyring::PENDING_USER,
                desktop_keyring::USER
            )
        })?;
        desktop_keyring::remove_user(desktop_keyring::PENDING_USER)?;
    }
    Ok(())
}

/// The data directory, held against daemons for the conversion (the lock goes with the value).
fn locked_data_dir(layers: &mut Layers) -> anyhow::Result<LockedDir> {
    let dir = layers.data_dir()?;
    if !dir.root().is_dir() {
        anyhow::bail!("there is no data directory {} (is --data-dir right?)", dir.root().display());
    }
    let lock =
        dir.lock_for(wamcp_store::Holder::Rekey).map_err(|busy| anyhow::anyhow!("{busy}; nothing was changed"))?;
    Ok(LockedDir { dir, _lock: lock })
}

/// A data directory no daemon may take while this lives.
struct LockedDir {
    dir: DataDir,
    _lock: wamcp_store::data_dir::DaemonLock,
}

impl std::ops::Deref for LockedDir {
    type Target = DataDir;
    fn deref(&self) -> &DataDir {
        &self.dir
    }
}

fn convert(
    dir: &DataDir,
    conversion: Conversion,
    from: Option<&DbKey>,
    to: Option<&DbKey>,
    done: &str,
) -> anyhow::Result<()> {
    let names = rekey::convert(dir.root(), &super::DATABASES, conversion, from, to)?;
    if names.is_empty() {
        outln!("there are no databases in {} yet: new ones will be made as the key says", dir.root().display())?;
    } else {
        outln!("{} in {} {done}", names.join(", "), dir.root().display())?;
    }
    Ok(())
}

/// A new random 256-bit key, as 64 hex digits.
fn new_key_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut bytes))
        .context("cannot read /dev/urandom for a new key")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes a new random key into a new file only its owner may read.
fn write_new_key(path: &Path) -> anyhow::Result<()> {
    let hex = new_key_hex()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create the key file {}", path.display()))?;
    writeln!(file, "{hex}")?;
    file.sync_all()?;
    eprintln!(
        "wamcp: a new key is in {}: keep a copy apart from the data (without it the data cannot be read)",
        path.display()
    );
    Ok(())
}
