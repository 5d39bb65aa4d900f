//! `wamcp backup OUT` and `wamcp restore IN`: the data directory's databases and secrets in one
//! tar archive, sealed with age ([`sealing`]), taken while the daemon runs, and put back while it
//! does not.
//!
//! Each database is copied with SQLite's online backup (`store::snapshot`), so the copy is as of
//! one commit even while the daemon writes. The archive is written under a temporary name, made
//! readable by its owner only (it holds the WhatsApp session keys) and renamed when complete.
//! A restore unpacks and checks everything before it touches the data directory, and moves the
//! files it replaces aside instead of deleting them.

mod sealing;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use clap::Args;
use wamcp_core::Timestamp;
use wamcp_store::{DataDir, snapshot};

use crate::config::Layers;

use super::DATABASES;
/// Small files copied as they are.
const SECRETS: [&str; 2] = [wamcp_bridge::token::TOKEN_FILE, wamcp_bridge::token::WEBHOOK_SECRET_FILE];
/// The archive's first entry: what it is and what it holds.
const MANIFEST: &str = "wamcp-backup.json";
const MEDIA: &str = "media";

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The archive to write (a tar file; it holds the session keys: keep it private)
    #[arg(value_name = "OUT")]
    out: PathBuf,
    /// Also put the downloaded attachments (media/) in the archive
    #[arg(long)]
    media: bool,
    #[command(flatten)]
    seal: sealing::SealArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// An archive written by `wamcp backup`
    #[arg(value_name = "IN")]
    archive: PathBuf,
    #[command(flatten)]
    unseal: sealing::UnsealArgs,
}

pub fn backup(mut layers: Layers, args: BackupArgs) -> anyhow::Result<()> {
    let dir = layers.data_dir()?;
    if !dir.store_path().is_file() {
        anyhow::bail!("there is no store in {} to back up (is --data-dir right?)", dir.root().display());
    }
    if args.out.exists() {
        anyhow::bail!("{} exists already: give a new file name", args.out.display());
    }
    let seal = sealing::Seal::chosen(&args.seal)?;
    let sealed = match &seal {
        sealing::Seal::Passphrase(_) => "encrypted with the passphrase",
        sealing::Seal::Recipients(_) => "encrypted to the recipients' keys",
        sealing::Seal::None => "NOT encrypted",
    };
    // Copies of the databases and secrets wait in a private folder inside the (private) data dir.
    let staging = tempfile::Builder::new().prefix(".backup-").tempdir_in(dir.root())?;
    let mut names = Vec::new();
    for name in DATABASES {
        let source = dir.root().join(name);
        if source.is_file() {
            snapshot::copy(&source, &staging.path().join(name)).with_context(|| format!("cannot copy {name}"))?;
            names.push(name);
        }
    }
    for name in SECRETS {
        let source = dir.root().join(name);
        if source.is_file() {
            std::fs::copy(&source, staging.path().join(name)).with_context(|| format!("cannot copy {name}"))?;
            names.push(name);
        }
    }
    let media = dir.root().join(MEDIA);
    let with_media = args.media && media.is_dir();
    let manifest = serde_json::json!({
        "format": 1,
        "created": Timestamp::now().to_rfc3339(),
        "wamcp": env!("CARGO_PKG_VERSION"),
        "files": names,
        "media": with_media,
    });
    let partial = args.out.with_file_name(format!(
        ".{}.partial",
        args.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let staged = Staged { dir: staging.path(), names: &names, media: with_media.then_some(media.as_path()) };
    if let Err(error) = write_archive(&partial, &manifest, &staged, seal) {
        // Half an archive is no backup: leave nothing that could be taken for one.
        let _ = std::fs::remove_file(&partial);
        return Err(error.context(format!("cannot write {}", args.out.display())));
    }
    std::fs::rename(&partial, &args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    let size = std::fs::metadata(&args.out)?.len();
    outln!(
        "backed up {} from {} into {} ({}, {sealed})",
        describe(&names, with_media),
        dir.root().display(),
        args.out.display(),
        human_size(size)
    )?;
    Ok(())
}

pub fn restore(mut layers: Layers, args: RestoreArgs) -> anyhow::Result<()> {
    let dir = layers.data_dir()?;
    if dir.daemon_running() {
        anyhow::bail!("{}; nothing was changed", dir.busy());
    }
    super::data_dir(&mut layers)?;
    // Held until the end, so no daemon starts on half-restored files.
    let _lock =
        dir.lock_for(wamcp_store::Holder::Restore).map_err(|busy| anyhow::anyhow!("{busy}; nothing was changed"))?;
    let source = sealing::open(&args.archive, &args.unseal)?;
    let staging = tempfile::Builder::new().prefix(".restore-").tempdir_in(dir.root())?;
    let unpacked = unpack(source, staging.path()).with_context(|| {
        format!("{} is not a backup written by `wamcp backup`; nothing was changed", args.archive.display())
    })?;
    check(staging.path(), &unpacked)?;
    let aside = dir.root().join(format!("replaced-{}", Timestamp::now().to_rfc3339().replace(':', "-")));
    let moved = move_aside(&dir, &unpacked, &aside)?;
    for name in &unpacked.names {
        std::fs::rename(staging.path().join(name), dir.root().join(name))?;
    }
    if unpacked.media {
        std::fs::rename(staging.path().join(MEDIA), dir.root().join(MEDIA))?;
    }
    File::open(dir.root())?.sync_all()?;
    outln!("restored {} into {}", describe(&unpacked.names, unpacked.media), dir.root().display())?;
    if moved {
        outln!("the files it replaced are in {}", aside.display())?;
    }
    Ok(())
}

/// What goes into an archive: the copies in the staging folder, and the media folder if asked.
struct Staged<'a> {
    dir: &'a Path,
    names: &'a [&'a str],
    media: Option<&'a Path>,
}

/// Writes the archive at `path` (mode 0600) and makes it durable.
fn write_archive(
    path: &Path,
    manifest: &serde_json::Value,
    staged: &Staged<'_>,
    seal: sealing::Seal,
) -> anyhow::Result<()> {
    let mut archive = tar::Builder::new(seal.writer(private_file(path)?)?);
    let manifest = serde_json::to_vec_pretty(manifest)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(Timestamp::now().millis() as u64 / 1000);
    archive.append_data(&mut header, MANIFEST, manifest.as_slice())?;
    for name in staged.names {
        archive.append_path_with_name(staged.dir.join(name), name)?;
    }
    if let Some(media) = staged.media {
        archive.append_dir_all(MEDIA, media)?;
    }
    let mut sealed = archive.into_inner()?;
    sealed.flush()?;
    let file = sealed.finish()?;
    file.sync_all()?;
    Ok(())
}

/// What an archive held.
struct Unpacked {
    names: Vec<String>,
    media: bool,
}

/// Unpacks a backup into `into`, refusing anything that is not one of a backup's entries.
fn unpack(source: impl Read, into: &Path) -> anyhow::Result<Unpacked> {
    let known: Vec<&str> = DATABASES.iter().chain(SECRETS.iter()).copied().collect();
    let mut archive = tar::Archive::new(source);
    let mut unpacked = Unpacked { names: Vec::new(), media: false };
    let mut has_manifest = false;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
        let name = path.to_string_lossy().into_owned();
        if name == MANIFEST {
            has_manifest = true;
            continue;
        }
        if plain && known.contains(&name.as_str()) {
            unpacked.names.push(name);
        } else if plain && path.starts_with(MEDIA) {
            unpacked.media = true;
        } else {
            anyhow::bail!("it holds '{name}', which no backup holds");
        }
        entry.unpack_in(into)?;
    }
    if !has_manifest || !unpacked.names.iter().any(|n| n == wamcp_store::data_dir::STORE_FILE) {
        anyhow::bail!("it has no {MANIFEST} and {}", wamcp_store::data_dir::STORE_FILE);
    }
    Ok(unpacked)
}

/// Every database in the backup must be sound, and the store one this wamcp can read.
fn check(staging: &Path, unpacked: &Unpacked) -> anyhow::Result<()> {
    for name in unpacked.names.iter().filter(|n| DATABASES.contains(&n.as_str())) {
        let problems = match snapshot::problems(&staging.join(name)) {
            Ok(problems) => problems,
            Err(e) => vec![e.to_string()],
        };
        if !problems.is_empty() {
            anyhow::bail!("the backup's {name} is damaged ({}); nothing was changed", problems.join("; "));
        }
    }
    let version = snapshot::store_version(&staging.join(wamcp_store::data_dir::STORE_FILE))?;
    if version > wamcp_store::schema::CURRENT_VERSION {
        anyhow::bail!(
            "the backup's store has schema version {version}, newer than this wamcp reads ({}): upgrade wamcp first; \
             nothing was changed",
            wamcp_store::schema::CURRENT_VERSION
        );
    }
    Ok(())
}

/// Moves the files a restore replaces (with their write-ahead logs) into `aside`; says whether
/// there were any.
fn move_aside(dir: &DataDir, unpacked: &Unpacked, aside: &Path) -> anyhow::Result<bool> {
    let mut replaced: Vec<String> = Vec::new();
    for name in &unpacked.names {
        replaced.extend([name.clone(), format!("{name}-wal"), format!("{name}-shm")]);
    }
    if unpacked.media {
        replaced.push(MEDIA.to_string());
    }
    let mut moved = false;
    for name in replaced {
        let current = dir.root().join(&name);
        if current.exists() {
            std::fs::create_dir_all(aside)?;
            std::fs::rename(&current, aside.join(&name))?;
            moved = true;
        }
    }
    Ok(moved)
}

/// A new file only its owner can read.
fn private_file(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("cannot write {}", path.display()))
}

fn describe(names: &[impl AsRef<str>], media: bool) -> String {
    let mut parts: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    if media {
        parts.push("media/");
    }
    parts.join(", ")
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b => format!("{:.1} KiB", b as f64 / 1024.0),
    }
}
