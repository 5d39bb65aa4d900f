//! `wamcp encrypt`, `wamcp decrypt` and `wamcp rekey`: convert the data directory's databases to
//! another key, all of them or none (`wamcp_store::rekey`), while no daemon runs on it.
//!
//! `encrypt` takes the key the usual way (the systemd credential, `--key-file`,
//! `WAMCP_KEY_FILE`); a key file that does not exist yet is created with a new random key.
//! `decrypt` and `rekey` open the files with that key; `rekey --new-key-file` names the next one.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use wamcp_core::at_rest::{self, DbKey, Keying};
use wamcp_store::rekey::{self, Conversion};

use crate::config::Layers;
use crate::config::key::{self, KeySource};

#[derive(Debug, Args)]
pub struct RekeyArgs {
    /// The new key: a file (mode 0600) holding 64 hex digits or a passphrase; a file that does
    /// not exist is created with a new random key
    #[arg(long, value_name = "FILE")]
    new_key_file: PathBuf,
}

/// Creates the key file with a new random key when `encrypt` is given one that does not exist, so
/// that the key can be read as any other before the conversion starts.
pub fn create_key_if_missing(key_file: Option<&Path>) -> anyhow::Result<()> {
    match key_file {
        Some(path) if !path.exists() && key::find(key_file) == Some(KeySource::KeyFile(path.to_path_buf())) => {
            write_new_key(path)
        }
        _ => Ok(()),
    }
}

pub fn encrypt(layers: Layers) -> anyhow::Result<()> {
    let Keying::Keyed { key, from } = at_rest::keying() else {
        anyhow::bail!(
            "no key to encrypt with: give a key file with --key-file FILE or WAMCP_KEY_FILE (a file that does not \
             exist is created with a new random key), or the systemd credential {}; nothing was changed",
            key::CREDENTIAL
        );
    };
    run(layers, Conversion::Encrypt, None, Some(key), &format!("encrypted with the key from {from}"))
}

pub fn decrypt(layers: Layers) -> anyhow::Result<()> {
    let Keying::Keyed { key, .. } = at_rest::keying() else {
        anyhow::bail!(
            "give the key the databases are encrypted with (--key-file or WAMCP_KEY_FILE); nothing was changed"
        );
    };
    run(layers, Conversion::Decrypt, Some(key), None, "decrypted: they are plain SQLite now; run wamcp without a key")
}

pub fn rekey(layers: Layers, args: RekeyArgs) -> anyhow::Result<()> {
    let Keying::Keyed { key, .. } = at_rest::keying() else {
        anyhow::bail!("give the current key (--key-file or WAMCP_KEY_FILE) and the new one (--new-key-file)");
    };
    if !args.new_key_file.exists() {
        write_new_key(&args.new_key_file)?;
    }
    let new = key::read(&KeySource::KeyFile(args.new_key_file.clone()))?;
    let done = format!("encrypted with the key in {}; use it from now on", args.new_key_file.display());
    run(layers, Conversion::Rekey, Some(key), Some(&new), &done)
}

fn run(
    mut layers: Layers,
    conversion: Conversion,
    from: Option<&DbKey>,
    to: Option<&DbKey>,
    done: &str,
) -> anyhow::Result<()> {
    let dir = layers.data_dir()?;
    if !dir.root().is_dir() {
        anyhow::bail!("there is no data directory {} (is --data-dir right?)", dir.root().display());
    }
    let _lock =
        dir.lock_for(wamcp_store::Holder::Rekey).map_err(|busy| anyhow::anyhow!("{busy}; nothing was changed"))?;
    let names = rekey::convert(dir.root(), &super::DATABASES, conversion, from, to)?;
    if names.is_empty() {
        outln!("there are no databases in {} yet: new ones will be made as the key says", dir.root().display())?;
    } else {
        outln!("{} in {} {done}", names.join(", "), dir.root().display())?;
    }
    Ok(())
}

/// Writes a new random 256-bit key, as 64 hex digits, into a new file only its owner may read.
fn write_new_key(path: &Path) -> anyhow::Result<()> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut bytes))
        .context("cannot read /dev/urandom for a new key")?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
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
