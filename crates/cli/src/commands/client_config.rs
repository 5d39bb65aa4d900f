//! `wamcp config claude-desktop` / `wamcp config claude-code`: the exact entry an MCP client needs
//! to start or reach wamcp, printed to paste, or merged into the client's config file with
//! `--install` (everything else in the file kept, a backup made first).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::daemon::DEFAULT_LISTEN;
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
    /// `wamcp mcp` (Claude Code only)
    #[arg(long)]
    http: bool,
}

pub fn run(mut layers: Layers, which: ClientConfig) -> anyhow::Result<()> {
    let dir = super::data_dir(&mut layers)?;
    let (client, args) = match which {
        ClientConfig::ClaudeDesktop(args) => ("claude-desktop", args),
        ClientConfig::ClaudeCode(args) => ("claude-code", args),
    };
    let entry = if args.http {
        if client == "claude-desktop" {
            anyhow::bail!(
                "--http: Claude Desktop starts its servers itself; leave --http out (it runs `wamcp mcp`, which sends through the daemon)"
            );
        }
        let token_file = dir.root().join(wamcp_bridge::token::TOKEN_FILE);
        let token = std::fs::read_to_string(&token_file).with_context(|| {
            format!("no API token in {}: start the daemon once (`wamcp serve`) to make it", token_file.display())
        })?;
        let in_file = layers.file().listen;
        let listen = in_file.unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default address parses"));
        json!({"type": "http", "url": format!("http://{listen}/mcp"),
               "headers": {"Authorization": format!("Bearer {}", token.trim())}})
    } else {
        let exe = std::env::current_exe().context("cannot tell where the wamcp binary is")?;
        let args = json!(["--data-dir", dir.root().display().to_string(), "mcp"]);
        let mut entry = json!({"command": exe.display().to_string(), "args": args});
        if client == "claude-code" {
            entry["type"] = json!("stdio");
        }
        entry
    };
    let file = match args.file {
        Some(file) => file,
        None => default_file(client)?,
    };
    if !args.install {
        println!("{}", serde_json::to_string_pretty(&json!({"mcpServers": {&args.name: entry}}))?);
        eprintln!("Add this to {} (or run again with --install to merge it in).", file.display());
        return Ok(());
    }
    let backup = install(&file, &args.name, entry)?;
    match backup {
        Some(backup) => eprintln!("Added '{}' to {} (backup: {}).", args.name, file.display(), backup.display()),
        None => eprintln!("Wrote {} with the '{}' server.", file.display(), args.name),
    }
    eprintln!("Restart the client to pick it up.");
    Ok(())
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

/// Sets `mcpServers.<name>` in the JSON file, keeping everything else; writes a backup of the old
/// file first and the new one atomically. A file that is not a JSON object is left untouched.
pub fn install(file: &Path, name: &str, entry: Value) -> anyhow::Result<Option<PathBuf>> {
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
    servers.insert(name.to_string(), entry);
    let backup = match &existing {
        Some(text) => {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
            let backup = file.with_file_name(format!(
                "{}.{stamp}.bak",
                file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            ));
            std::fs::write(&backup, text).with_context(|| format!("cannot write the backup {}", backup.display()))?;
            Some(backup)
        }
        None => None,
    };
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let partial = file.with_extension("wamcp-partial");
    std::fs::write(&partial, serde_json::to_string_pretty(&Value::Object(config))? + "\n")
        .and_then(|()| std::fs::rename(&partial, file))
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_keeps_the_rest_of_the_file_and_backs_it_up() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("claude_desktop_config.json");
        std::fs::write(&file, r#"{"theme": "dark", "mcpServers": {"other": {"command": "x"}}}"#).unwrap();
        let backup = install(&file, "whatsapp", json!({"command": "/bin/wamcp", "args": ["mcp"]})).unwrap().unwrap();
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
        assert!(install(&file, "wa", json!({"command": "w"})).unwrap().is_none());
        let config: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(config, json!({"mcpServers": {"wa": {"command": "w"}}}));
    }
}
