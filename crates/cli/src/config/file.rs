//! `wamcp.toml`: where it is looked for and what it may say.
//!
//! The file is optional. Unknown keys and values of the wrong type are errors that name the file,
//! the line and the keys accepted: a typo must not silently fall back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The file name, inside the config directory.
pub const FILE_NAME: &str = "wamcp.toml";

/// Everything `wamcp.toml` can set. Each key has the name of the matching flag (with `_` for `-`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub socket: Option<PathBuf>,
    pub socket_group: Option<String>,
    pub media_roots: Option<Vec<PathBuf>>,
    pub allowed_hosts: Option<Vec<String>>,
    pub webhooks: Option<Vec<String>>,
    pub auto_download: Option<Vec<String>>,
    /// Whether attachments are saved encrypted (needs a key).
    pub encrypt_media: Option<bool>,
    pub send_policy: Option<String>,
    pub allowlist: Option<Vec<String>>,
    pub sends_per_minute: Option<u32>,
    pub confirm_timeout: Option<u64>,
    pub confirm_via: Option<String>,
    pub desk: Option<DeskFile>,
    pub kafka: Option<KafkaFile>,
    pub retention: Option<RetentionFile>,
    pub transcription: Option<TranscriptionFile>,
    /// Whether the account shows as online while `serve` runs.
    pub presence: Option<wamcp_link::whatsapp::Presence>,
    /// How much history `login` asks the phone for.
    pub history: Option<wamcp_link::whatsapp::HistoryWindow>,
}

/// The `[transcription]` table: where voice notes are transcribed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriptionFile {
    pub url: Option<String>,
    pub model: Option<String>,
    pub language: Option<String>,
    pub auto: Option<Vec<String>>,
}

/// The `[retention]` table: how long messages are kept.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFile {
    pub days: Option<u32>,
}

/// The `[kafka]` table: where the desk publishes its events.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaFile {
    pub brokers: Option<String>,
    /// More librdkafka properties (TLS, SASL); `"${NAME}"` values come from the environment.
    pub properties: Option<std::collections::BTreeMap<String, String>>,
}

/// The `[desk]` table: the support desk.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskFile {
    pub enabled: Option<bool>,
    pub database_url: Option<String>,
    pub sentiment_threshold: Option<f64>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub twilio_webhook_url: Option<String>,
    pub twilio_reengage_content_sid: Option<String>,
    pub twilio_api_url: Option<String>,
    pub answer: Option<String>,
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    pub smtp_reply_to: Option<String>,
}

/// The file that applies, and what it said.
#[derive(Debug)]
pub struct Loaded {
    pub path: Option<PathBuf>,
    pub exists: bool,
    pub file: ConfigFile,
}

impl Loaded {
    /// No file at all: what `wamcp demo` uses, so the demo never picks up the real account's setup.
    pub fn none() -> Loaded {
        Loaded { path: None, exists: false, file: ConfigFile::default() }
    }
}

/// Reads the file given with `--config` / `WAMCP_CONFIG` (which must exist), else the one in the
/// config directory (`$XDG_CONFIG_HOME/wamcp` or `~/.config/wamcp`), if there is one.
pub fn load(explicit: Option<&Path>) -> anyhow::Result<Loaded> {
    let path = match explicit {
        Some(path) => {
            if !path.is_file() {
                anyhow::bail!("config file {} does not exist (given with --config or WAMCP_CONFIG)", path.display());
            }
            path.to_path_buf()
        }
        None => match default_path() {
            Some(path) if path.is_file() => path,
            other => return Ok(Loaded { path: other, exists: false, file: ConfigFile::default() }),
        },
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut file = parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    file.data_dir = file.data_dir.map(|p| resolve_path(&p, base));
    file.media_roots = file.media_roots.map(|roots| roots.iter().map(|p| resolve_path(p, base)).collect());
    Ok(Loaded { path: Some(path), exists: true, file })
}

/// Parses the text of a config file.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
}

fn default_path() -> Option<PathBuf> {
    config_dir().map(|dir| dir.join(FILE_NAME))
}

/// wamcp's config directory: `$XDG_CONFIG_HOME/wamcp`, else `~/.config/wamcp`.
pub fn config_dir() -> Option<PathBuf> {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = match (env("XDG_CONFIG_HOME"), env("HOME")) {
        (Some(xdg), _) if xdg.is_absolute() => xdg,
        (_, Some(home)) => home.join(".config"),
        _ => return None,
    };
    Some(base.join("wamcp"))
}

/// Paths in the file may start with `~/` and may be relative to the file's own directory.
fn resolve_path(path: &Path, base: &Path) -> PathBuf {
    if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), std::env::var_os("HOME")) {
        return PathBuf::from(home).join(rest);
    }
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_is_read() {
        let file = parse(
            r#"
            listen = "127.0.0.1:9000"
            media_roots = ["/srv/out"]
            allowed_hosts = ["wamcp.example:443"]
            webhooks = ["https://hooks.example/wa"]
            auto_download = ["image", "voice"]
            "#,
        )
        .unwrap();
        assert_eq!(file.listen, Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(file.media_roots, Some(vec![PathBuf::from("/srv/out")]));
        assert_eq!(file.auto_download, Some(vec!["image".to_string(), "voice".to_string()]));
    }

    #[test]
    fn a_misspelt_key_is_refused_with_the_keys_accepted() {
        let error = parse("lisen = \"127.0.0.1:9000\"").unwrap_err();
        assert!(error.contains("unknown field `lisen`"), "{error}");
        assert!(error.contains("`listen`") && error.contains("`webhooks`"), "{error}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_line() {
        let error = parse("webhooks = \"https://one\"\n").unwrap_err();
        assert!(error.contains("line 1"), "{error}");
        let error = parse("\nlisten = \"localhost\"").unwrap_err();
        assert!(error.contains("line 2"), "{error}");
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        assert_eq!(resolve_path(Path::new("out"), Path::new("/etc/wamcp")), PathBuf::from("/etc/wamcp/out"));
        assert_eq!(resolve_path(Path::new("/abs"), Path::new("/etc/wamcp")), PathBuf::from("/abs"));
    }
}
