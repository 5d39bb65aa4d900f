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

/// Held while a daemon (or a command that must have the data directory to itself) runs on a
/// data directory; dropping it (or the process dying, even by kill -9) releases the lock. The
/// file says who holds it and where the daemon's API listens (`demo 127.0.0.1:8765`), so the
/// commands that call the daemon find it whatever address it was given, and a command refused
/// by the lock can say what to stop.
#[derive(Debug)]
pub struct DaemonLock {
    file: std::fs::File,
    holder: Holder,
}

impl DaemonLock {
    /// Records the address the daemon's API listens on.
    pub fn announce(&mut self, listening: std::net::SocketAddr) -> std::io::Result<()> {
        self.write(Some(listening))
    }

    fn write(&mut self, listening: Option<std::net::SocketAddr>) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        self.file.set_len(0)?;
        self.file.rewind()?;
        match listening {
            Some(address) => writeln!(self.file, "{} {address}", self.holder.as_str()),
            None => writeln!(self.file, "{}", self.holder.as_str()),
        }
    }
}

/// The command holding a data directory's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// `wamcp serve` (by hand, or as the system service).
    Serve,
    /// `wamcp demo`, on the simulated network.
    Demo,
    /// `wamcp login`, pairing or checking the session.
    Login,
    /// `wamcp restore`, putting files back.
    Restore,
    /// `wamcp encrypt`, `decrypt` or `rekey`, converting the databases to another key.
    Rekey,
}

impl Holder {
    pub fn as_str(self) -> &'static str {
        match self {
            Holder::Serve => "serve",
            Holder::Demo => "demo",
            Holder::Login => "login",
            Holder::Restore => "restore",
            Holder::Rekey => "rekey",
        }
    }

    fn parse(word: &str) -> Option<Holder> {
        [Holder::Serve, Holder::Demo, Holder::Login, Holder::Restore, Holder::Rekey]
            .into_iter()
            .find(|h| h.as_str() == word)
    }

    /// What to do to free the directory from this holder.
    pub fn how_to_stop(self) -> &'static str {
        match self {
            Holder::Serve => "stop it first (`systemctl stop wamcp`, or Ctrl-C where `wamcp serve` runs)",
            Holder::Demo => "end it first (Ctrl-C where `wamcp demo` runs)",
            Holder::Login => "let it finish, or end it (Ctrl-C where `wamcp login` runs)",
            Holder::Restore | Holder::Rekey => "let it finish",
        }
    }

    /// "a wamcp daemon (`wamcp serve`)", "`wamcp demo`".
    pub fn described(self) -> &'static str {
        match self {
            Holder::Serve => "a wamcp daemon (`wamcp serve`)",
            Holder::Demo => "`wamcp demo`",
            Holder::Login => "`wamcp login`",
            Holder::Restore => "`wamcp restore`",
            Holder::Rekey => "`wamcp encrypt`, `decrypt` or `rekey`",
        }
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

    /// Takes the daemon lock for `holder`, or says who holds it and how to stop them.
    pub fn lock_for(&self, holder: Holder) -> Result<DaemonLock> {
        let path = self.root.join(DAEMON_LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        match file.try_lock() {
            Ok(()) => {
                let mut lock = DaemonLock { file, holder };
                lock.write(None).map_err(StoreError::io(path))?;
                Ok(lock)
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(self.busy()),
            Err(std::fs::TryLockError::Error(error)) => Err(StoreError::io(path)(error)),
        }
    }

    /// The error for a directory another command holds: who it is, and how to free it.
    pub fn busy(&self) -> StoreError {
        let holder = self.lock_holder().unwrap_or(Holder::Serve);
        StoreError::Invalid(format!(
            "{} is running on {}: {}, or give another --data-dir",
            holder.described(),
            self.root.display(),
            holder.how_to_stop()
        ))
    }

    /// Who holds the lock now, if anyone.
    pub fn lock_holder(&self) -> Option<Holder> {
        if !self.daemon_running() {
            return None;
        }
        let text = std::fs::read_to_string(self.root.join(DAEMON_LOCK_FILE)).ok()?;
        // A lock written before the holder was recorded held just the address: a daemon's.
        Some(text.split_whitespace().next().and_then(Holder::parse).unwrap_or(Holder::Serve))
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
        let text = std::fs::read_to_string(self.root.join(DAEMON_LOCK_FILE)).ok()?;
        text.split_whitespace().find_map(|word| word.parse().ok())
    }

    /// Creates the directory (and parents) if missing; a directory wamcp creates is mode 0700.
    pub fn ensure(&self) -> Result<()> {
        if self.root.is_dir() {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.root).map_err(StoreError::io(&self.root))?;
        #[cfg(unix)]
        {
            // DirBuilder's mode is filtered by the umask; set it explicitly.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
                .map_err(StoreError::io(&self.root))?;
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

    #[test]
    fn a_refused_lock_names_who_holds_it_and_how_to_stop_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(tmp.path());
        let mut demo = dir.lock_for(Holder::Demo).unwrap();
        assert_eq!(dir.lock_holder(), Some(Holder::Demo));
        let address: std::net::SocketAddr = "127.0.0.1:9123".parse().unwrap();
        demo.announce(address).unwrap();
        assert_eq!(dir.running_daemon_address(), Some(address));
        assert_eq!(dir.lock_holder(), Some(Holder::Demo), "announcing keeps the holder");
        let refused = dir.lock_for(Holder::Login).unwrap_err().to_string();
        assert!(refused.starts_with("`wamcp demo` is running on"), "{refused}");
        assert!(refused.contains("Ctrl-C") && !refused.contains("systemctl"), "{refused}");
        drop(demo);
        assert_eq!(dir.lock_holder(), None);
        let _login = dir.lock_for(Holder::Login).unwrap();
        assert!(dir.lock_for(Holder::Serve).unwrap_err().to_string().starts_with("`wamcp login` is running"));
    }
}
