//! Logs: to stderr (stdout carries MCP), as text or JSON lines, at the level of `WAMCP_LOG` or
//! `RUST_LOG` (default warn), with phone numbers cut to their last four digits unless
//! `--log-content` (see `core::log_privacy`). The cut is made on each formatted line, so it also
//! covers what the libraries underneath log.

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
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
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
