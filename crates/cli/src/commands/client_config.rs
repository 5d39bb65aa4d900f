//! `wamcp config claude-desktop` / `wamcp config claude-code`: the exact entry an MCP client needs
//! to start or reach wamcp, printed to paste, or merged into the client's config file with
//! `--install` (everything else in the file kept, a backup with a name of its own made first,
//! nothing written when the entry is already there).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::daemon::DaemonAddressArgs;
use super::mcp::DaemonSocket;
use crate::config::Layers;

#[derive(Debug, Subcommand)]
pub enum ClientConfig {
    /// The entry for Claude Desktop's claude_desktop_config.json (stdio)
    ClaudeDesktop(ClientArgs),
    /// The entry for Claude Code (stdio, or --http for the daemon's /mcp)
    ClaudeCode(ClientArgs),
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Merge the entry into the client's config file (a backup is written first)
    #[arg(long)]
    install: bool,
    /// The config file to print for or install into [default: the client's own]
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// The name the server gets in the client
    #[arg(long, default_value = "whatsapp")]
    name: String,
    /// Reach the running daemon at http://<listen>/mcp with the API token, instead of starting
    /// `wamcp mcp` (Claude Code only); the address is the running daemon's, unless --listen says
    #[arg(long, conflicts_with = "through")]
    http: bool,
    /// Start `wamcp mcp --daemon unix:PATH`: the service's own tools through its socket (a
    /// system service whose store this user cannot read)
    #[arg(long = "daemon", value_name = "unix:PATH")]
    through: Option<DaemonSocket>,
    #[command(flatten)]
    daemon: DaemonAddressArgs,
}

pub fn run(mut layers: Layers, which: ClientConfig) -> anyhow::Result<()> {
    let (client, args) = match which {
        ClientConfig::ClaudeDesktop(args) => ("claude-desktop", args),
        ClientConfig::ClaudeCode(args) => ("claude-code", args),
    };
    let entry = if let Some(socket) = &args.through {
        // No data directory: everything comes through the socket.
        stdio_entry(client, json!(["mcp", "--daemon", socket.to_string()]))?
    } else if args.http {
        let dir = super::data_dir(&mut layers)?;
        if client == "claude-desktop" {
            anyhow::bail!(
                "--http: Claude Desktop starts its servers itself; leave --http out (it runs `wamcp mcp`, which sends through the daemon)"
            );
        }
        let token_file = dir.root().join(wamcp_bridge::token::TOKEN_FILE);
        let token = std::fs::read_to_string(&token_file).with_context(|| {
            format!("no API token in {}: start the daemon once (`wamcp serve`) to make it", token_file.display())
        })?;
        let listen = args.daemon.resolve(&mut layers, &dir);
        json!({"type": "http", "url": format!("http://{listen}/mcp"),
               "headers": {"Authorization": format!("Bearer {}", token.trim())}})
    } else {
        let dir = super::data_dir(&mut layers)?;
        // The client starts wamcp from a directory of its own: a relative path would name another.
        let root = std::path::absolute(dir.root()).context("cannot tell the data directory's absolute path")?;
        let mut start = vec!["--data-dir".to_string(), root.display().to_string()];
        start.extend(crate::config::key::client_args(layers.key_file().as_deref()));
        start.push("mcp".to_string());
        stdio_entry(client, json!(start))?
    };
    let file = match args.file {
        Some(file) => file,
        None => default_file(client)?,
    };
    if !args.install {
        outln!("{}", serde_json::to_string_pretty(&json!({"mcpServers": {&args.name: entry}}))?)?;
        eprintln!("Add this to {} (or run again with --install to merge it in).", file.display());
        return Ok(());
    }
    match install(&file, &args.name, entry)? {
        Installed::Updated { backup } => {
            eprintln!("Added '{}' to {} (backup: {}).", args.name, file.display(), backup.display())
        }
        Installed::Created => eprintln!("Wrote {} with the '{}' server.", file.display(), args.name),
        Installed::Unchanged => {
            eprintln!("{} unchanged: it already has this '{}' server.", file.display(), args.name);
            return Ok(());
        }
    }
    eprintln!("Restart the client to pick it up.");
    Ok(())
}

/// The entry that has the client start this binary with `args` (Claude Code also names the
/// transport).
fn stdio_entry(client: &str, args: Value) -> anyhow::Result<Value> {
    let exe = std::env::current_exe().context("cannot tell where the wamcp binary is")?;
    let mut entry = json!({"command": exe.display().to_string(), "args": args});
    if client == "claude-code" {
        entry["type"] = json!("stdio");
    }
    Ok(entry)
}

/// Where each client keeps its servers.
fn default_file(client: &str) -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from).context("HOME is not set; give the file with --file")?;
    Ok(match client {
        "claude-code" => home.join(".claude.json"),
        _ if cfg!(target_os = "macos") => home.join("Library/Application Support/Claude/claude_desktop_config.json"),
        _ => std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"))
            .join("Claude/claude_desktop_config.json"),
    })
}

/// What [`install`] did to the client's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// There was no file; it now holds just this server.
    Created,
    /// The file changed; its old contents are in `backup`.
    Updated { backup: PathBuf },
    /// The file already had exactly this entry: nothing was written, no backup made.
    Unchanged,
}

/// Sets `mcpServers.<name>` in the JSON file, keeping everything else; writes a backup of the old
/// file first and the new one atomically. A file that is not a JSON object is left untouched.
pub fn install(file: &Path, name: &str, entry: Value) -> anyhow::Result<Installed> {
    let existing = match std::fs::read_to_string(file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    let mut config: Map<String, Value> = match existing.as_deref().map(str::trim) {
        None | Some("") => Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(config)) => config,
            Ok(_) => anyhow::bail!("{} is not a JSON object; nothing was changed", file.display()),
            Err(e) => anyhow::bail!("{} is not valid JSON ({e}); fix it first, nothing was changed", file.display()),
        },
    };
    let servers = config.entry("mcpServers").or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(servers) = servers else {
        anyhow::bail!("{}: mcpServers is not an object; nothing was changed", file.display());
    };
    if servers.get(name) == Some(&entry) {
        return Ok(Installed::Unchanged);
    }
    servers.insert(name.to_string(), entry);
    let installed = match &existing {
        Some(text) => Installed::Updated { backup: write_backup(file, text)? },
        None => Installed::Created,
    };
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let partial = file.with_extension("wamcp-partial");
    std::fs::write(&partial, serde_json::to_string_pretty(&Value::Object(config))? + "\n")
        .and_then(|()| std::fs::rename(&partial, file))
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(installed)
}

/// Writes `text` to a new file beside `file`, named by the time (`.claude.json.20261202T101500.bak`,
/// then `….20261202T101500-2.bak` within the same second): a backup never replaces another.
fn write_backup(file: &Path, text: &str) -> anyhow::Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for n in 1u32.. {
        let suffix = if n == 1 { String::new() } else { format!("-{n}") };
        let backup = file.with_file_name(format!("{name}.{stamp}{suffix}.bak"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&backup) {
            Ok(mut out) => {
                out.write_all(text.as_bytes())
                    .and_then(|()| out.sync_all())
                    .with_context(|| format!("cannot write the backup {}", backup.display()))?;
                return Ok(backup);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot write the backup {}", backup.display())),
        }
    }
    unreachable!("there is always a free backup name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_keeps_the_rest_of_the_file_and_backs_it_up() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("claude_desktop_config.json");
        std::fs::write(&file, r#"{"theme": "dark", "mcpServers": {"other": {"command": "x"}}}"#).unwrap();
        let Installed::Updated { backup } =
            install(&file, "whatsapp", json!({"command": "/bin/wamcp", "args": ["mcp"]})).unwrap()
        else {
            panic!("the file existed, so it was updated");
        };
        let config: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(config["theme"], "dark");
        assert_eq!(config["mcpServers"]["other"]["command"], "x");
        assert_eq!(config["mcpServers"]["whatsapp"]["args"], json!(["mcp"]));
        assert!(std::fs::read_to_string(backup).unwrap().contains("\"other\""));
    }

    #[test]
    fn a_broken_file_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(&file, "{ not json").unwrap();
        let error = install(&file, "whatsapp", json!({})).unwrap_err().to_string();
        assert!(error.contains("not valid JSON") && error.contains("nothing was changed"), "{error}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ not json");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no backup, no partial file");
    }

    #[test]
    fn a_missing_file_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Claude").join("claude_desktop_config.json");
        assert_eq!(install(&file, "wa", json!({"command": "w"})).unwrap(), Installed::Created);
        let config: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(config, json!({"mcpServers": {"wa": {"command": "w"}}}));
    }

    #[test]
    fn installing_twice_in_one_second_keeps_both_backups_and_the_same_entry_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".claude.json");
        std::fs::write(&file, r#"{"first": true}"#).unwrap();
        let Installed::Updated { backup: first } = install(&file, "wa", json!({"command": "a"})).unwrap() else {
            panic!("updated");
        };
        let Installed::Updated { backup: second } = install(&file, "wa", json!({"command": "b"})).unwrap() else {
            panic!("updated");
        };
        assert_ne!(first, second);
        assert_eq!(std::fs::read_to_string(&first).unwrap(), r#"{"first": true}"#, "the original is kept");
        assert!(std::fs::read_to_string(&second).unwrap().contains(r#""command": "a""#));
        let before = std::fs::read_to_string(&file).unwrap();
        assert_eq!(install(&file, "wa", json!({"command": "b"})).unwrap(), Installed::Unchanged);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "the file and two backups, no third");
    }
}
