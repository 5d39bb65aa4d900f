//! The doctor's checks, each a function from the data directory to findings.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use wamcp_api::{ConnectionState, DaemonStatus, LinkKind};
use wamcp_link::whatsapp::SESSION_FILE;
use wamcp_store::schema::CURRENT_VERSION;
use wamcp_store::{DataDir, snapshot};

use super::Finding;
use crate::config::file_mode::loose_mode;

/// WhatsApp unlinks a device that has not connected for about 20 days; warn two days before.
const SESSION_WARN_DAYS: u64 = 18;
const SESSION_EXPIRY_DAYS: u64 = 20;
/// Below this much free space SQLite may fail to commit; below the second, warn.
const DISK_FAIL_BYTES: u64 = 100 << 20;
const DISK_WARN_BYTES: u64 = 1 << 30;

pub fn all(dir: &DataDir, listen: SocketAddr) -> Vec<Finding> {
    let mut findings = vec![ffmpeg()];
    if !dir.root().is_dir() {
        let service = wamcp_mcp::relay::SERVICE_SOCKET;
        let advice = if Path::new(service).exists() {
            format!(
                "a wamcp service runs on this machine: check it with `wamcp doctor --daemon unix:{service}`, and use it \
                 with `wamcp config claude-code --daemon unix:{service} --install`"
            )
        } else {
            "link an account with `wamcp login` (or import with `wamcp import`), or point --data-dir at the right place"
                .to_string()
        };
        findings.push(Finding::fail("data dir", format!("{} does not exist", dir.root().display()), advice));
        return findings;
    }
    findings.extend(permissions(dir.root()));
    let (daemon, seen) = daemon(dir, listen);
    findings.extend(store(dir, &seen));
    findings.extend(session(dir.root(), &seen));
    findings.push(daemon);
    findings.push(disk(dir.root()));
    findings
}

fn ffmpeg() -> Finding {
    match Command::new("ffmpeg").arg("-version").output() {
        Ok(output) if output.status.success() => {
            let first = String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or("").to_string();
            let version = first.split_whitespace().nth(2).unwrap_or("(unknown version)");
            Finding::ok("ffmpeg", format!("ffmpeg {version} found: voice notes can be sent"))
        }
        _ => Finding::warn(
            "ffmpeg",
            "ffmpeg is not on PATH: voice notes cannot be sent (everything else works)",
            "install ffmpeg (Debian/Ubuntu: apt install ffmpeg; NixOS: services.wamcp.enableVoiceMessages = true)",
        ),
    }
}

/// The directory and the secrets in it must be the owner's alone.
fn permissions(root: &Path) -> Vec<Finding> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut findings = Vec::new();
    let Ok(meta) = std::fs::metadata(root) else {
        return vec![Finding::fail("data dir", format!("cannot read {}", root.display()), "check who owns it")];
    };
    let mode = meta.permissions().mode() & 0o777;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        findings.push(Finding::warn(
            "data dir",
            format!("{} belongs to user id {}, not to you ({me})", root.display(), meta.uid()),
            "run wamcp as the user who owns it (under systemd: the service's user)",
        ));
    }
    if let Ok(Some(mode)) = loose_mode(root) {
        findings.push(Finding::fail(
            "data dir",
            format!("{} has mode {mode:04o}: other users can read your messages and session keys", root.display()),
            format!("chmod 700 {}", root.display()),
        ));
    } else {
        findings.push(Finding::ok("data dir", format!("{} is private (mode {mode:04o})", root.display())));
    }
    let secrets = [SESSION_FILE, wamcp_bridge::token::TOKEN_FILE, wamcp_bridge::token::WEBHOOK_SECRET_FILE];
    for name in secrets {
        let path = root.join(name);
        if let Ok(Some(mode)) = loose_mode(&path) {
            findings.push(Finding::fail(
                "secrets",
                format!("{} has mode {mode:04o}: other users can read it", path.display()),
                format!("chmod 600 {}", path.display()),
            ));
        }
    }
    let probe = root.join(".doctor-write-test");
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) => findings.push(Finding::fail(
            "data dir",
            format!("cannot write in {}: {e}", root.display()),
            "run wamcp as the directory's owner, or give it back: chown -R USER DIR",
        )),
    }
    findings
}

/// What the daemon's status said, as far as the other checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// Nothing answered, or not as this data directory's daemon.
    NoDaemon,
    /// Connected: to WhatsApp, or to the demo's simulated network (which needs no session).
    Connected { simulated: bool },
    /// Running, not connected.
    NotConnected,
}

/// Every database present must pass SQLite's quick_check; the store's schema must be current.
fn store(dir: &DataDir, seen: &Seen) -> Vec<Finding> {
    let restore = "stop the daemon and put back the last backup with `wamcp restore FILE`";
    let mut findings = Vec::new();
    let store = dir.store_path();
    if !store.is_file() {
        // `serve` needs a linked account: which step comes first depends on whether there is one.
        let advice = if *seen != Seen::NoDaemon || dir.root().join(SESSION_FILE).is_file() {
            "`wamcp serve` creates it when it first connects; `wamcp import lharries` fills it from lharries/whatsapp-mcp"
        } else {
            "link an account with `wamcp login`, then `wamcp serve` creates it; or fill it from lharries/whatsapp-mcp with `wamcp import lharries`"
        };
        findings.push(Finding::warn("store", "no store yet", advice));
    }
    for name in crate::commands::DATABASES {
        let path = dir.root().join(name);
        if !path.is_file() {
            continue;
        }
        match snapshot::problems(&path) {
            Ok(problems) if problems.is_empty() => {
                findings.push(Finding::ok("integrity", format!("{name}: quick_check found no damage")))
            }
            Ok(problems) => findings.push(Finding::fail(
                "integrity",
                format!("{name} is damaged: {}", first_lines(&problems)),
                restore,
            )),
            Err(e) => findings.push(Finding::fail("integrity", format!("{name} cannot be read: {e}"), restore)),
        }
    }
    if store.is_file() {
        findings.push(match snapshot::store_version(&store) {
            Ok(version) if version == CURRENT_VERSION => {
                Finding::ok("migrations", format!("schema version {version}, current"))
            }
            Ok(version) if version < CURRENT_VERSION => Finding::warn(
                "migrations",
                format!("schema version {version}; this wamcp writes {CURRENT_VERSION}"),
                "nothing to do: the daemon brings the store up to date when it starts (take a backup first if you like)",
            ),
            Ok(version) => Finding::fail(
                "migrations",
                format!("schema version {version} is newer than this wamcp understands ({CURRENT_VERSION})"),
                "upgrade wamcp to the version that wrote this store",
            ),
            Err(e) => Finding::fail("migrations", format!("cannot read the schema version: {e}"), restore),
        });
    }
    findings
}

/// The session is there and recently used (a connected daemon keeps it alive).
fn session(root: &Path, seen: &Seen) -> Option<Finding> {
    let path = root.join(SESSION_FILE);
    match seen {
        Seen::Connected { simulated: true } => {
            return Some(Finding::ok("session", "none needed: the daemon runs on the demo's simulated network"));
        }
        Seen::Connected { simulated: false } => {
            return Some(Finding::ok("session", "in use by the running daemon, which is connected"));
        }
        Seen::NoDaemon | Seen::NotConnected => {}
    }
    if !path.is_file() {
        return Some(Finding::warn(
            "session",
            "no WhatsApp session: this computer is not linked to an account",
            "link it with `wamcp login` (reading and searching an imported store works without)",
        ));
    }
    let last_used = [path.clone(), root.join(format!("{SESSION_FILE}-wal"))]
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()?;
    let days = SystemTime::now().duration_since(last_used).unwrap_or_default().as_secs() / 86_400;
    Some(if days >= SESSION_WARN_DAYS {
        Finding::warn(
            "session",
            format!("last used {days} days ago: WhatsApp unlinks a device idle for about {SESSION_EXPIRY_DAYS} days"),
            "start the daemon now (`systemctl start wamcp` or `wamcp serve`) so it reconnects; if it was unlinked, run `wamcp login`",
        )
    } else {
        Finding::ok("session", format!("present, last used {days} days ago"))
    })
}

/// Asks the daemon's REST API how it is.
fn daemon(dir: &DataDir, listen: SocketAddr) -> (Finding, Seen) {
    let start = "start it: `systemctl start wamcp`, or `wamcp serve`";
    let target = crate::commands::daemon::loopback(listen);
    let token = std::fs::read_to_string(dir.root().join(wamcp_bridge::token::TOKEN_FILE)).unwrap_or_default();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let answer = agent
        .get(&format!("http://{target}/api/status"))
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .call();
    let mut response = match answer {
        Ok(response) => response,
        Err(_) if dir.daemon_running() => {
            let finding = Finding::fail(
                "daemon",
                format!("running on this data directory, but not answering on {target}"),
                "give doctor the daemon's address with --listen, or look at its log (journalctl -u wamcp)",
            );
            return (finding, Seen::NotConnected);
        }
        Err(_) => {
            return (
                Finding::warn("daemon", format!("not running (nothing answers on {target})"), start),
                Seen::NoDaemon,
            );
        }
    };
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if status == 401 {
        let finding = Finding::fail(
            "daemon",
            format!("the daemon on {target} does not take the token in {}", dir.root().display()),
            "it runs with another data directory: give doctor the same --data-dir",
        );
        return (finding, Seen::NoDaemon);
    }
    let Ok(report) = serde_json::from_value::<DaemonStatus>(body) else {
        let finding = Finding::fail(
            "daemon",
            format!("something on {target} answers, but not with wamcp's status ({status})"),
            "another program uses the port: give wamcp another --listen",
        );
        return (finding, Seen::NoDaemon);
    };
    judge(&target.to_string(), report)
}

/// What the daemon's status says about it, reached at `place`.
pub(super) fn judge(place: &str, report: DaemonStatus) -> (Finding, Seen) {
    let (state, detail) = (report.connection.state, report.connection.detail.unwrap_or_default());
    match state {
        ConnectionState::Connected => {
            let account = report.connection.account.unwrap_or_else(|| "an account".into());
            let simulated = report.link == LinkKind::Sim;
            let finding = Finding::ok("daemon", format!("running on {place}, connected as {account}"));
            (finding, Seen::Connected { simulated })
        }
        ConnectionState::Connecting | ConnectionState::Disconnected => (
            Finding::warn(
                "daemon",
                format!("running on {place}, {state}"),
                "it reconnects by itself; check the network if this lasts",
            ),
            Seen::NotConnected,
        ),
        _ => (Finding::fail("daemon", format!("running on {place}, {state}"), detail), Seen::NotConnected),
    }
}

fn disk(root: &Path) -> Finding {
    let Some(free) = free_bytes(root) else {
        return Finding::warn("disk", "cannot tell the free space", "check it with df");
    };
    let shown = format!("{:.1} GiB free", free as f64 / f64::from(1u32 << 30));
    let advice =
        "free some space: the store cannot commit new messages on a full disk (retention.days removes old ones)";
    if free < DISK_FAIL_BYTES {
        Finding::fail("disk", shown, advice)
    } else if free < DISK_WARN_BYTES {
        Finding::warn("disk", shown, advice)
    } else {
        Finding::ok("disk", shown)
    }
}

/// Bytes an unprivileged process may still write on the file system holding `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: c_path is a valid NUL-terminated string and stats points to writable memory that
    // statvfs fills when it returns 0.
    let stats = unsafe {
        if libc::statvfs(c_path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    Some(stats.f_bavail as u64 * stats.f_frsize as u64)
}

fn first_lines(problems: &[String]) -> String {
    let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
    let more = problems.len().saturating_sub(3);
    if more > 0 { format!("{} (and {more} more)", shown.join("; ")) } else { shown.join("; ") }
}
