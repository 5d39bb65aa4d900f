//! Settings from four layers, highest first: flags, `WAMCP_*` environment variables,
//! `wamcp.toml`, built-in defaults. Each setting remembers where it came from, so
//! `wamcp serve --print-config` can show what is in effect and why.

pub mod desktop_keyring;
pub mod file;
pub mod file_mode;
pub mod key;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Serialize;
use wamcp_store::DataDir;

pub use file::{ConfigFile, Loaded};

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    CommandLine,
    Environment(&'static str),
    File,
    Default,
}

/// One line of the effective configuration.
struct Line {
    key: &'static str,
    /// The value as TOML; `None` for a setting left unset (TOML has no null).
    value: Option<String>,
    source: Source,
}

/// The layers of one command's configuration, and what was taken from them.
pub struct Layers {
    /// The command's own matches (global flags such as `--data-dir` are propagated into them).
    matches: ArgMatches,
    loaded: Loaded,
    data_dir_given: Option<PathBuf>,
    taken: Vec<Line>,
}

impl Layers {
    pub fn new(matches: ArgMatches, loaded: Loaded, data_dir_given: Option<PathBuf>) -> Layers {
        Layers { matches, loaded, data_dir_given, taken: Vec::new() }
    }

    pub fn file(&self) -> &ConfigFile {
        &self.loaded.file
    }

    /// The data directory: `--data-dir` / `WAMCP_DATA_DIR`, else `data_dir` in the file, else the
    /// XDG default. Not created here.
    pub fn data_dir(&mut self) -> anyhow::Result<DataDir> {
        self.data_dir_defaulting_to(|| Ok(DataDir::resolve(None)?.root().to_path_buf()))
    }

    /// The data directory, with another default.
    pub fn data_dir_defaulting_to(
        &mut self,
        default: impl FnOnce() -> anyhow::Result<PathBuf>,
    ) -> anyhow::Result<DataDir> {
        let given = self.data_dir_given.clone();
        let in_file = self.loaded.file.data_dir.clone();
        let fallback = if given.is_none() && in_file.is_none() { Some(default()?) } else { None };
        let root = self.pick("data_dir", "WAMCP_DATA_DIR", given, in_file, || fallback.unwrap_or_default());
        let dir = DataDir::at(root);
        // A conversion to another key that a crash interrupted is completed (or undone) before
        // anything opens a database; one still running holds the lock and is left alone.
        if dir.root().is_dir() && !dir.daemon_running() {
            wamcp_store::rekey::finish_interrupted(dir.root())
                .context("cannot finish the interrupted change of key (`wamcp encrypt`, `decrypt` or `rekey`)")?;
        }
        Ok(dir)
    }

    /// The key file given with `--key-file` or `WAMCP_KEY_FILE`.
    pub fn key_file(&self) -> Option<PathBuf> {
        self.matches.get_one::<PathBuf>("key_file").cloned()
    }

    /// Whether the data directory was named (flag, environment or file) rather than defaulted.
    pub fn data_dir_named(&self) -> bool {
        self.data_dir_given.is_some() || self.loaded.file.data_dir.is_some()
    }

    /// The value of one setting: from the command line or environment (both parsed by clap into
    /// `given`), else from the file, else the default.
    pub fn pick<T: Serialize>(
        &mut self,
        key: &'static str,
        env: &'static str,
        given: Option<T>,
        in_file: Option<T>,
        default: impl FnOnce() -> T,
    ) -> T {
        let (value, source) = match (given, in_file) {
            (Some(value), _) => {
                let source = match self.value_source(key) {
                    Some(ValueSource::EnvVariable) => Source::Environment(env),
                    _ => Source::CommandLine,
                };
                (value, source)
            }
            (None, Some(value)) => (value, Source::File),
            (None, None) => (default(), Source::Default),
        };
        let rendered = toml::Value::try_from(&value).ok().map(|v| v.to_string());
        self.taken.push(Line { key, value: rendered, source });
        value
    }

    /// Where a given value came from, looked up in the command's matches or, for a command with
    /// subcommands of its own (`config claude-code`), in theirs.
    fn value_source(&self, key: &str) -> Option<ValueSource> {
        let mut matches = Some(&self.matches);
        while let Some(current) = matches {
            if current.ids().any(|id| id.as_str() == key) {
                return current.value_source(key);
            }
            matches = current.subcommand().map(|(_, sub)| sub);
        }
        None
    }

    /// The effective configuration as a `wamcp.toml` (it can be pasted into one), each line
    /// saying where its value came from. The API token is never shown, only where it is kept, and
    /// a database URL's password shows as `***`.
    pub fn render(&self, token_file: &Path) -> String {
        let mut out = String::from(
            "# Effective configuration (flags, then WAMCP_* variables, then the config file, then defaults)\n",
        );
        out += &match (&self.loaded.path, self.loaded.exists) {
            (Some(path), true) => format!("# config file: {}\n", path.display()),
            (Some(path), false) => format!("# config file: {} (not present)\n", path.display()),
            (None, _) => "# config file: none\n".to_string(),
        };
        let width =
            self.taken.iter().map(|l| l.key.len() + l.value.as_ref().map_or(10, String::len)).max().unwrap_or(0) + 5;
        for line in &self.taken {
            // A database password is a secret like the token.
            let assignment = match &line.value {
                Some(value) if line.key.ends_with("database_url") => {
                    format!("{} = {}", line.key, wamcp_desk::db::redact(value))
                }
                Some(value) => format!("{} = {value}", line.key),
                // Commented out, so the printed file reads back.
                None => format!("# {} = (not set)", line.key),
            };
            let origin = match line.source {
                Source::CommandLine => "from the command line".to_string(),
                Source::Environment(name) => format!("from {name}"),
                Source::File => "from the config file".to_string(),
                Source::Default => "default".to_string(),
            };
            out += &format!("{assignment:<width$} # {origin}\n");
        }
        out += &format!("# api token: hidden, kept in {}\n", token_file.display());
        out
    }
}
