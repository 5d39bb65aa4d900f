//! Logs: to stderr (stdout carries MCP), as text or JSON lines, at the level of `WAMCP_LOG` or
//! `RUST_LOG` (default warn), with phone numbers cut to their last four digits unless
//! `--log-content` (see `core::log_privacy`). The cut is made on each formatted line, so it also
//! covers what the libraries underneath log. The WhatsApp library's own lines (its retries, raw
//! protocol errors) speak to its developers, not to a user: they show from `WAMCP_LOG=debug`, or
//! when the filter names one of its crates.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use wamcp_core::log_privacy;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines
    #[default]
    Text,
    /// One JSON object per line (for journald, Loki, Elasticsearch)
    Json,
}

pub fn init(format: LogFormat, content: bool) {
    log_privacy::allow_content(content);
    let filter =
        std::env::var("WAMCP_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| "warn".to_string());
    let builder = tracing_subscriber::fmt()
        .with_writer(|| Redacting(std::io::stderr()))
        // Colours only for a person at a terminal: not in files, pipes or the journal.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::new(quiet_library(&filter)));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The crates of whatsapp-rust, as tracing names their targets, and the targets its log lines
/// name themselves (`Client/PairCode`, `Bot/…`: a target is matched by its beginning).
const LIBRARY_TARGETS: [&str; 22] = [
    "whatsapp_rust",
    "whatsapp_rust_tokio_transport",
    "whatsapp_rust_sqlite_storage",
    "whatsapp_rust_ureq_http_client",
    "wacore",
    "wacore_binary",
    "wacore_noise",
    "wacore_libsignal",
    "wacore_appstate",
    "Client",
    "Bot",
    "AppState",
    "usync",
    "Blocking",
    "UnifiedSession",
    "ChatstateHandler",
    "blocklist",
    "TcToken",
    "PresenceHandler",
    "MessageQueue",
    "Mex",
    "Chatstate",
];

/// The filter with the library's crates turned off, unless it asks for debug or trace overall or
/// names a library crate itself.
fn quiet_library(filter: &str) -> String {
    let directives: Vec<String> = filter.split(',').map(|d| d.trim().to_ascii_lowercase()).collect();
    let verbose = directives.iter().any(|d| d == "debug" || d == "trace");
    let names_library =
        directives.iter().any(|d| LIBRARY_TARGETS.iter().any(|target| d.starts_with(&target.to_ascii_lowercase())));
    if verbose || names_library {
        return filter.to_string();
    }
    let mut quiet = filter.to_string();
    for target in LIBRARY_TARGETS {
        quiet.push_str(&format!(",{target}=off"));
    }
    quiet
}

/// Writes formatted log lines with long numbers redacted.
struct Redacting<W: Write>(W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter hands over whole lines; anything that is not UTF-8 passes unchanged.
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(log_privacy::redact_numbers(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::quiet_library;

    #[test]
    fn the_library_is_quiet_unless_debug_or_named() {
        let warn = quiet_library("warn");
        assert!(warn.starts_with("warn,") && warn.contains("whatsapp_rust=off") && warn.contains("wacore=off"));
        assert!(quiet_library("info,wamcp_bridge=debug").contains("whatsapp_rust=off"));
        assert_eq!(quiet_library("debug"), "debug");
        assert_eq!(quiet_library("warn,whatsapp_rust=info"), "warn,whatsapp_rust=info");
    }
}
