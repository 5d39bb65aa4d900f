//! Where wamcp keeps its files, and making that place private.
//!
//! The default follows the XDG base directory spec (`$XDG_DATA_HOME/wamcp`, else
//! `~/.local/share/wamcp`); `--data-dir` and `WAMCP_DATA_DIR` override it (the CLI reads both).
//! The directory holds message history and, later, the WhatsApp session keys: it is created mode
//! 0700 so no other local user can read it.

use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

/// File name of the message store inside the data directory.
pub const STORE_FILE: &str = "wamcp.db";
/// The file a running daemon holds locked, so a second daemon, or a restore, can tell.
pub const DAEMON_LOCK_FILE: &str = "daemon.lock";

/// Held while a daemon runs on a data directory; dropping it (or the process dying, even by
/// kill -9) releases the lock. The file says where the daemon's API listens, so the commands
/// that call the daemon find it whatever address it was given.
#[derive(Debug)]
pub struct DaemonLock {
    file: std::fs::File,
}

impl DaemonLock {
    /// Records the address the daemon's API listens on.
    pub fn announce(&mut self, listening: std::net::SocketAddr) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        self.file.set_len(0)?;
        self.file.rewind()?;
        writeln!(self.file, "{listening}")
    }
}

/// The data directory and the paths of the files in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The directory given explicitly, or the XDG default.
    pub fn resolve(explicit: Option<PathBuf>) -> Result<DataDir> {
        if let Some(root) = explicit {
            return Ok(DataDir { root });
        }
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let base = match (env("XDG_DATA_HOME"), env("HOME")) {
            (Some(xdg), _) if xdg.is_absolute() => xdg,
            (_, Some(home)) => home.join(".local").join("share"),
            _ => {
                return Err(StoreError::Invalid(
                    "cannot find a data directory: HOME is not set; pass --data-dir or set WAMCP_DATA_DIR".into(),
                ));
            }
        };
        Ok(DataDir { root: base.join("wamcp") })
    }

    pub fn at(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn store_path(&self) -> PathBuf {
        self.root.join(STORE_FILE)
    }

    /// Takes the daemon lock, or says that another daemon holds it.
    pub fn lock_for_daemon(&self) -> Result<DaemonLock> {
        let path = self.root.join(DAEMON_LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|error| StoreError::Io { path: path.clone(), error })?;
        match file.try_lock() {
            Ok(()) => Ok(DaemonLock { file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Invalid(format!(
                "a wamcp daemon is already running on {} (it holds {DAEMON_LOCK_FILE}): stop it first, or give another --data-dir",
                self.root.display()
            ))),
            Err(std::fs::TryLockError::Error(error)) => Err(StoreError::Io { path, error }),
        }
    }

    /// Whether a daemon runs on this data directory now (holds its lock).
    pub fn daemon_running(&self) -> bool {
        let Ok(file) = std::fs::File::open(self.root.join(DAEMON_LOCK_FILE)) else { return false };
        matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
    }

    /// Where the daemon running on this data directory listens, if one runs and said so.
    pub fn running_daemon_address(&self) -> Option<std::net::SocketAddr> {
        if !self.daemon_running() {
            return None;
        }
        std::fs::read_to_string(self.root.join(DAEMON_LOCK_FILE)).ok()?.trim().parse().ok()
    }

    /// Creates the directory (and parents) if missing; a directory wamcp creates is mode 0700.
    pub fn ensure(&self) -> Result<()> {
        let io_err = |error| StoreError::Io { path: self.root.clone(), error };
        if self.root.is_dir() {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.root).map_err(io_err)?;
        #[cfg(unix)]
        {
            // DirBuilder's mode is filtered by the umask; set it explicitly.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700)).map_err(io_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(tmp.path().join("a").join("wamcp"));
        dir.ensure().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.root()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert_eq!(dir.store_path(), tmp.path().join("a/wamcp/wamcp.db"));
    }
}
