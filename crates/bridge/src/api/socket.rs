//! The API and `/mcp` on a Unix socket, for the user's own assistant on the machine the daemon
//! runs on as a service.
//!
//! Who may connect is the operating system's decision: the socket is mode 0660 and belongs to a
//! group (`--socket-group`), so only the daemon's user and that group's members can open it. No
//! token is asked for. A browser cannot open a Unix socket, and a request that says it comes
//! from a web page (an `Origin` header, which only browsers send) is refused anyway, so nothing a
//! page does reaches it even through a forwarding proxy. Every caller's uid, as the kernel tells
//! it (SO_PEERCRED), goes into the audit log beside each tool call.
//!
//! Under systemd the socket comes from the service manager (`wamcp.socket`, socket activation):
//! systemd, outside the service's sandbox, makes it with the clients' group and mode, and the
//! daemon, a dynamic user who could not give a file to another group, takes it as it is.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use tokio::net::UnixListener;
use wamcp_api::http::ApiError;
use wamcp_mcp::audit::Caller;

use crate::DaemonError;

/// Where the socket is and who may use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSettings {
    pub path: PathBuf,
    /// The group whose members may connect; `None` leaves the daemon's own group.
    pub group: Option<String>,
}

/// The socket's mode: the daemon's user and its group read and write; nobody else.
const MODE: u32 = 0o660;

/// The socket the daemon serves on, and whose it is.
pub struct Listening {
    pub listener: UnixListener,
    pub made_by: MadeBy,
}

/// Who made the socket, and so who removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MadeBy {
    /// The daemon bound it, and removes it when it stops.
    Daemon,
    /// The service manager passed it (LISTEN_FDS); it stays when the daemon stops, and the next
    /// daemon gets it again.
    ServiceManager,
}

/// The socket at `settings.path`: the one the service manager passed, if it passed one there;
/// else bound here.
pub fn listen(settings: &SocketSettings) -> Result<Listening, DaemonError> {
    if let Some(listener) = passed(&settings.path)? {
        return Ok(Listening { listener, made_by: MadeBy::ServiceManager });
    }
    Ok(Listening { listener: bind(settings)?, made_by: MadeBy::Daemon })
}

/// The listening socket at `path` among those systemd passed to this process, if any.
fn passed(path: &Path) -> Result<Option<UnixListener>, DaemonError> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let fail = |what: String| DaemonError::Setup(format!("--socket {}: {what}", path.display()));
    let fds = sd_notify::listen_fds().map_err(|e| fail(format!("the sockets systemd passed: {e}")))?;
    for fd in fds {
        // SAFETY: LISTEN_FDS names descriptors systemd opened for this process (LISTEN_PID is
        // checked), which nothing else here uses; one that is not ours to take is given back
        // with into_raw_fd, unclosed.
        let candidate = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
        let here = candidate.local_addr().ok().and_then(|addr| addr.as_pathname().map(Path::to_path_buf));
        if here.as_deref() != Some(path) {
            let _ = candidate.into_raw_fd();
            continue;
        }
        candidate.set_nonblocking(true).map_err(|e| fail(e.to_string()))?;
        return UnixListener::from_std(candidate).map(Some).map_err(|e| fail(e.to_string()));
    }
    Ok(None)
}

/// Binds the socket, replacing one a stopped daemon left behind, with its mode and group set.
fn bind(settings: &SocketSettings) -> Result<UnixListener, DaemonError> {
    let path = &settings.path;
    let fail = |what: String| DaemonError::Setup(format!("--socket {}: {what}", path.display()));
    let gid = settings.group.as_deref().map(|name| group_id(name).map_err(&fail)).transpose()?;
    match std::fs::symlink_metadata(path) {
        Ok(found) if found.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(fail("a running daemon listens there already".into()));
            }
            // Left behind by a daemon that stopped: nobody answers on it.
            std::fs::remove_file(path).map_err(|e| fail(format!("cannot remove the old socket: {e}")))?;
        }
        Ok(_) => return Err(fail("exists and is not a socket; remove it or choose another path".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        std::fs::create_dir_all(parent).map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| fail(format!("cannot listen: {e}")))?;
    std::os::unix::fs::chown(path, None, gid).map_err(|e| fail(format!("cannot give it to the group: {e}")))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(MODE))
        .map_err(|e| fail(format!("cannot set its mode: {e}")))?;
    Ok(listener)
}

/// The id of the group `name`.
fn group_id(name: &str) -> Result<u32, String> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        Ok(None) => Err(format!(
            "there is no group '{name}'; create it (groupadd {name}) and add the users who may connect (usermod -aG {name} USER)"
        )),
        Err(e) => Err(format!("cannot look up the group '{name}': {e}")),
    }
}

/// Removes the socket file once the daemon no longer listens on it.
pub fn remove(path: &Path) {
    if std::fs::symlink_metadata(path).is_ok_and(|found| found.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

/// Who is on the other end of a connection, as the kernel says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// `None` when the kernel would not say (never on Linux).
    pub uid: Option<u32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Peer {
        Peer { uid: stream.io().peer_cred().ok().map(|cred| cred.uid()) }
    }
}

/// The middleware of every request on the socket: refuses a web page's request, and names the
/// caller for the audit log.
pub async fn check(ConnectInfo(peer): ConnectInfo<Peer>, mut request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("").to_string();
        let refusal = format!("requests from web pages (origin '{origin}') are refused on the socket");
        return ApiError::new(StatusCode::FORBIDDEN, refusal).into_response();
    }
    let caller = match peer.uid {
        Some(uid) => format!("socket uid={uid}"),
        None => "socket".to_string(),
    };
    request.extensions_mut().insert(Caller(caller));
    next.run(request).await
}
