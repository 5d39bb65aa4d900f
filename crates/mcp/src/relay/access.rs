//! Whether this user can reach a daemon's socket, and if not, why and what to do: what the relay
//! tells the assistant while it cannot pass calls on, and what `wamcp doctor` reports.

use std::fmt;
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// What trying the socket found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAccess {
    /// A daemon answered the connection.
    Open,
    /// There is no socket at the path: the service is not running, or listens elsewhere.
    Missing(PathBuf),
    /// Something other than a socket is at the path.
    NotASocket(PathBuf),
    /// The socket is there but nothing accepts on it: the service stopped without removing it.
    Refused(PathBuf),
    /// The OS refused this user: the socket is open to its owner and its group only.
    NotAllowed { path: PathBuf, group: Option<String>, user: Option<String> },
    /// Anything else the OS said.
    Failed { path: PathBuf, error: String },
}

impl SocketAccess {
    /// Tries to connect to `path` (and closes the connection at once).
    pub fn check(path: &Path) -> SocketAccess {
        let error = match UnixStream::connect(path) {
            Ok(_) => return SocketAccess::Open,
            Err(error) => error,
        };
        let path = path.to_path_buf();
        match error.kind() {
            ErrorKind::NotFound => SocketAccess::Missing(path),
            ErrorKind::ConnectionRefused => match std::fs::metadata(&path) {
                Ok(meta) if !meta.file_type().is_socket() => SocketAccess::NotASocket(path),
                _ => SocketAccess::Refused(path),
            },
            ErrorKind::PermissionDenied => {
                let group = std::fs::metadata(&path).ok().and_then(|meta| group_name(meta.gid()));
                let user = nix::unistd::User::from_uid(nix::unistd::getuid()).ok().flatten().map(|user| user.name);
                SocketAccess::NotAllowed { path, group, user }
            }
            _ => SocketAccess::Failed { path, error: error.to_string() },
        }
    }

    /// Whether the daemon is simply not there (rather than refusing this user, or the path
    /// naming something else).
    pub fn is_not_running(&self) -> bool {
        matches!(self, SocketAccess::Missing(_) | SocketAccess::Refused(_))
    }
}

/// The name of a group, when the system knows it.
fn group_name(gid: u32) -> Option<String> {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)).ok().flatten().map(|group| group.name)
}

impl SocketAccess {
    /// What was found, in a few words.
    pub fn found(&self) -> String {
        match self {
            SocketAccess::Open => "the daemon answers".to_string(),
            SocketAccess::Missing(path) => format!("no socket at {}", path.display()),
            SocketAccess::NotASocket(path) => format!("{} is not a socket", path.display()),
            SocketAccess::Refused(path) => format!("nothing listens on {}", path.display()),
            SocketAccess::NotAllowed { path, group, user } => format!(
                "the system refuses {} access to {}: only members of the group {} may connect",
                user.as_deref().unwrap_or("this user"),
                path.display(),
                group.as_deref().unwrap_or("of the socket")
            ),
            SocketAccess::Failed { path, error } => format!("cannot connect to {}: {error}", path.display()),
        }
    }

    /// What to do about it, or nothing when all is well.
    pub fn advice(&self) -> Option<String> {
        match self {
            SocketAccess::Open => None,
            SocketAccess::Missing(path) => Some(format!(
                "start the service (systemctl start wamcp), or run `wamcp serve --socket {}`",
                path.display()
            )),
            SocketAccess::NotASocket(_) => Some("point --daemon at the socket the service listens on".to_string()),
            SocketAccess::Refused(_) => Some("the service stopped; start it again (systemctl start wamcp)".to_string()),
            SocketAccess::NotAllowed { group, user, .. } => {
                let (group, user) = (group.as_deref().unwrap_or("GROUP"), user.as_deref().unwrap_or("USER"));
                Some(format!(
                    "an administrator adds you with `usermod -aG {group} {user}` (on NixOS: \
                     services.wamcp.clients = [ \"{user}\" ]); then log in again"
                ))
            }
            SocketAccess::Failed { .. } => None,
        }
    }
}

impl fmt::Display for SocketAccess {
    /// What was found, then what to do about it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.advice() {
            Some(advice) => write!(f, "{}: {advice}", self.found()),
            None => write!(f, "{}", self.found()),
        }
    }
}
