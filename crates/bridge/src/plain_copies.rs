//! Plain copies of sealed attachments (`encrypt_media`), for whoever asks `download_media` or
//! `POST /api/download` for a file to open.
//!
//! A copy lives in a directory of this process's own (mode 0700) under `$XDG_RUNTIME_DIR` (a
//! memory file system on a desktop) or the temporary directory (private to the service under
//! systemd's `PrivateTmp`). Copies are removed [`KEEP_FOR`] after they were made, and the whole
//! directory when the daemon stops; a directory left by a daemon killed outright is removed by
//! the next one to start.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wamcp_store::media_seal::MediaSeal;

/// How long a plain copy is kept: time for the assistant to open or attach the file it was told of.
pub const KEEP_FOR: Duration = Duration::from_secs(15 * 60);

const PREFIX: &str = "wamcp-media-";

/// This process's directory of plain copies.
#[derive(Debug)]
pub struct PlainCopies {
    dir: PathBuf,
}

impl PlainCopies {
    /// The directory for this process (made on first copy), after removing those of daemons
    /// that no longer run.
    pub fn new() -> PlainCopies {
        let root = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        remove_abandoned(&root);
        PlainCopies { dir: root.join(format!("{PREFIX}{}", std::process::id())) }
    }

    /// A plain copy of the attachment at `sealed` (`media/<chat>/<file>`, relative to
    /// `data_dir`), at `<copies>/<chat>/<file>`. Copies past their time go first.
    pub fn copy(&self, seal: &MediaSeal, data_dir: &Path, local_path: &str) -> std::io::Result<PathBuf> {
        self.remove_expired(SystemTime::now());
        let relative = Path::new(local_path).strip_prefix("media").unwrap_or(Path::new(local_path));
        let target = self.dir.join(relative);
        let folder = target.parent().unwrap_or(&self.dir);
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(folder)?;
        wamcp_store::media_seal::replace(&target, |out| seal.open_into(&data_dir.join(local_path), out))?;
        Ok(target)
    }

    /// Removes the copies made before `now - KEEP_FOR`.
    pub fn remove_expired(&self, now: SystemTime) {
        let Ok(chats) = std::fs::read_dir(&self.dir) else { return };
        for chat in chats.flatten() {
            let Ok(files) = std::fs::read_dir(chat.path()) else { continue };
            for file in files.flatten() {
                let made = file.metadata().and_then(|m| m.modified()).unwrap_or(now);
                if now.duration_since(made).is_ok_and(|age| age >= KEEP_FOR) {
                    let _ = std::fs::remove_file(file.path());
                }
            }
            let _ = std::fs::remove_dir(chat.path()); // only when it is empty
        }
    }

    /// Removes every copy: the daemon is stopping.
    pub fn remove_all(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Where the copies are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Default for PlainCopies {
    fn default() -> Self {
        PlainCopies::new()
    }
}

/// Removes the copy directories under `root` of processes that are gone (and ours to remove).
fn remove_abandoned(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)).and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !process_runs(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn process_runs(pid: i32) -> bool {
    use nix::errno::Errno;
    // Signal 0 checks without sending: EPERM means it runs as someone else.
    !matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_plain_private_and_removed_when_its_time_is_up() {
        let data = tempfile::tempdir().unwrap();
        let store = data.path().join("wamcp.db");
        drop(wamcp_store::Writer::open(&store).unwrap());
        let seal = wamcp_store::Writer::open(&store).unwrap().media_seal().unwrap();
        let local = "media/447700900123@s.whatsapp.net/ID1.jpg";
        std::fs::create_dir_all(data.path().join("media/447700900123@s.whatsapp.net")).unwrap();
        seal.seal(b"the photo", std::fs::File::create(data.path().join(local)).unwrap()).unwrap();

        let copies = PlainCopies { dir: data.path().join("copies") };
        let copy = copies.copy(&seal, data.path(), local).unwrap();
        assert_eq!(copy, data.path().join("copies/447700900123@s.whatsapp.net/ID1.jpg"));
        assert_eq!(std::fs::read(&copy).unwrap(), b"the photo");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(copies.dir()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        copies.remove_expired(SystemTime::now());
        assert!(copy.exists(), "a fresh copy stays");
        copies.remove_expired(SystemTime::now() + KEEP_FOR);
        assert!(!copy.exists() && !copy.parent().unwrap().exists());
        copies.copy(&seal, data.path(), local).unwrap();
        copies.remove_all();
        assert!(!copies.dir().exists());
    }

    #[test]
    fn the_directories_of_daemons_that_are_gone_are_removed_and_others_kept() {
        let root = tempfile::tempdir().unwrap();
        let mine = root.path().join(format!("{PREFIX}{}", std::process::id()));
        // A pid past the kernel's limit (4194304) never runs.
        let gone = root.path().join(format!("{PREFIX}99999999"));
        let other = root.path().join("something-else");
        for dir in [&mine, &gone, &other] {
            std::fs::create_dir(dir).unwrap();
        }
        remove_abandoned(root.path());
        assert!(mine.exists() && other.exists() && !gone.exists());
    }
}
