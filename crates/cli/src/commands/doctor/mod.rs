//! `wamcp doctor`: checks what wamcp needs and says, for each finding, what to do about it.
//!
//! The checks (in [`checks`]) only read: they can run beside the daemon. The exit code is 1 when
//! any check failed, so a script or a timer can act on it; warnings alone exit 0.
//!
//! With `--daemon unix:PATH` it checks, for a user of a system service, the socket and the
//! service behind it ([`service`]) instead of a data directory of the user's own.

mod checks;
mod encryption;
pub(crate) mod service;

use clap::Args;

use super::daemon::DaemonAddressArgs;
use super::mcp::DaemonSocket;
use crate::config::Layers;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    daemon: DaemonAddressArgs,
    /// Check the service on this socket, as its user: whether you may connect and how it is
    /// [default: check the data directory]
    #[arg(long = "daemon", value_name = "unix:PATH")]
    through: Option<DaemonSocket>,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One thing a check found, and what to do about it.
#[derive(Debug)]
pub struct Finding {
    pub level: Level,
    pub check: &'static str,
    pub detail: String,
    pub advice: Option<String>,
}

impl Finding {
    fn ok(check: &'static str, detail: impl Into<String>) -> Finding {
        Finding { level: Level::Ok, check, detail: detail.into(), advice: None }
    }

    fn warn(check: &'static str, detail: impl Into<String>, advice: impl Into<String>) -> Finding {
        Finding { level: Level::Warn, check, detail: detail.into(), advice: Some(advice.into()) }
    }

    fn fail(check: &'static str, detail: impl Into<String>, advice: impl Into<String>) -> Finding {
        Finding { level: Level::Fail, check, detail: detail.into(), advice: Some(advice.into()) }
    }
}

pub fn run(mut layers: Layers, args: DoctorArgs) -> anyhow::Result<()> {
    let findings = match &args.through {
        Some(socket) => {
            outln!("wamcp doctor: the service on {socket}")?;
            service::all(&socket.0)
        }
        None => {
            let dir = layers.data_dir()?;
            let listen = args.daemon.resolve(&mut layers, &dir);
            outln!("wamcp doctor: {}", dir.root().display())?;
            let mut findings = checks::all(&dir, listen);
            if dir.root().is_dir() {
                let encrypt_media = crate::commands::daemon::encrypt_media(&mut layers, false);
                findings.extend(encryption::all(&dir, layers.key_file().as_deref(), encrypt_media));
            }
            findings
        }
    };
    for finding in &findings {
        let label = match finding.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        outln!("  {label:<5} {:<14} {}", finding.check, finding.detail)?;
        if let Some(advice) = &finding.advice {
            outln!("  {:<5} {:<14} → {advice}", "", "")?;
        }
    }
    let failed = findings.iter().filter(|f| f.level == Level::Fail).count();
    let warned = findings.iter().filter(|f| f.level == Level::Warn).count();
    outln!("{failed} failed, {warned} warnings, {} ok", findings.len() - failed - warned)?;
    if failed > 0 {
        anyhow::bail!("{failed} of the checks above failed: see what to do under each");
    }
    Ok(())
}
