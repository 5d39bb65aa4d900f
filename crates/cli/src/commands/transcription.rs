//! The transcription settings of `serve` and `demo`: which OpenAI-compatible endpoint turns voice
//! notes into text, with which model, and which kinds of message it hears without being asked.
//! Off unless an endpoint is given. The key comes from the environment only.

use clap::Args;
use wamcp_bridge::transcription::TranscriptionSettings;
use wamcp_core::MessageKind;

use crate::config::Layers;

/// The environment variable the endpoint's key is read from.
pub const KEY_VARIABLE: &str = "WAMCP_TRANSCRIPTION_API_KEY";
/// What OpenAI calls its model; local servers take any name (or their own).
pub const DEFAULT_MODEL: &str = "whisper-1";

#[derive(Debug, Args)]
pub struct TranscriptionArgs {
    /// Transcribe voice notes with this OpenAI-compatible endpoint (whisper.cpp's server,
    /// faster-whisper-server, LocalAI, speaches, Groq, OpenAI): a base URL such as
    /// http://127.0.0.1:8080, or the whole …/audio/transcriptions URL. Its key, if it needs one,
    /// in WAMCP_TRANSCRIPTION_API_KEY [default: off]
    #[arg(long = "transcription-url", id = "transcription.url", env = "WAMCP_TRANSCRIPTION_URL", value_name = "URL")]
    pub url: Option<String>,
    /// The model the endpoint should use [default: whisper-1]
    #[arg(
        long = "transcription-model",
        id = "transcription.model",
        env = "WAMCP_TRANSCRIPTION_MODEL",
        value_name = "NAME"
    )]
    pub model: Option<String>,
    /// The language spoken, as an ISO 639-1 code (en, de, pt), when the endpoint should not guess
    #[arg(
        long = "transcription-language",
        id = "transcription.language",
        env = "WAMCP_TRANSCRIPTION_LANGUAGE",
        value_name = "CODE"
    )]
    pub language: Option<String>,
    /// Transcribe incoming messages of these kinds as they arrive: voice, audio, video or none
    /// (others are transcribed when asked, with transcribe_message) [default: voice]
    #[arg(
        long = "transcription-auto",
        id = "transcription.auto",
        env = "WAMCP_TRANSCRIPTION_AUTO",
        value_delimiter = ',',
        value_name = "KINDS"
    )]
    pub auto: Vec<String>,
}

impl TranscriptionArgs {
    /// The settings from these flags over the file, checked; `None` when no endpoint is given.
    pub fn resolve(&self, layers: &mut Layers) -> anyhow::Result<Option<TranscriptionSettings>> {
        let file = layers.file().transcription.clone().unwrap_or_default();
        let url = layers.pick(
            "transcription.url",
            "WAMCP_TRANSCRIPTION_URL",
            self.url.clone().map(Some),
            file.url.map(Some),
            || None,
        );
        let model =
            layers.pick("transcription.model", "WAMCP_TRANSCRIPTION_MODEL", self.model.clone(), file.model, || {
                DEFAULT_MODEL.to_string()
            });
        let language = layers.pick(
            "transcription.language",
            "WAMCP_TRANSCRIPTION_LANGUAGE",
            self.language.clone().map(Some),
            file.language.map(Some),
            || None,
        );
        let given = (!self.auto.is_empty()).then(|| self.auto.clone());
        let auto =
            layers.pick("transcription.auto", "WAMCP_TRANSCRIPTION_AUTO", given, file.auto, || vec!["voice".into()]);
        let Some(url) = url else {
            if self.model.is_some() || self.language.is_some() {
                anyhow::bail!(
                    "transcription.url: not set, but a model or language is: give the endpoint (--transcription-url URL) \
                     or leave the model and language out"
                );
            }
            return Ok(None);
        };
        check_url(&url)?;
        if model.trim().is_empty() {
            anyhow::bail!("transcription.model: empty; give the model's name, or leave it out for {DEFAULT_MODEL}");
        }
        if let Some(bad) = language
            .as_deref()
            .filter(|code| !((2..=3).contains(&code.len()) && code.chars().all(|c| c.is_ascii_lowercase())))
        {
            anyhow::bail!(
                "transcription.language: '{bad}' is not an ISO 639-1 code; give two lowercase letters such as en"
            );
        }
        let api_key = std::env::var(KEY_VARIABLE).ok().filter(|key| !key.is_empty());
        Ok(Some(TranscriptionSettings { url, model, language, api_key, auto: audio_kinds(&auto)? }))
    }
}

/// An endpoint is an http:// or https:// URL with a host.
fn check_url(url: &str) -> anyhow::Result<()> {
    let parsed = url.parse::<axum::http::Uri>().ok();
    let scheme_ok = parsed.as_ref().and_then(|u| u.scheme_str()).is_some_and(|s| s == "http" || s == "https");
    let host = parsed.as_ref().and_then(|u| u.host()).filter(|h| !h.is_empty());
    if !scheme_ok || host.is_none() {
        anyhow::bail!(
            "transcription.url: '{url}' is not an http:// or https:// URL with a host; give one such as \
             http://127.0.0.1:8080 or https://api.openai.com/v1"
        );
    }
    Ok(())
}

/// The kinds named in `transcription.auto`.
fn audio_kinds(names: &[String]) -> anyhow::Result<Vec<MessageKind>> {
    let mut kinds = Vec::new();
    for name in names {
        match name.trim() {
            "none" | "" => {}
            other => match MessageKind::parse(other).filter(|k| k.has_sound()) {
                Some(kind) => kinds.push(kind),
                None => anyhow::bail!(
                    "transcription.auto: '{other}' has no sound to transcribe; use voice, audio, video or none"
                ),
            },
        }
    }
    kinds.dedup();
    Ok(kinds)
}

/// What `serve` and `demo` say at start when transcription is on: where the audio goes, in words
/// that make plain when it leaves the machine.
pub fn start_line(settings: &TranscriptionSettings) -> String {
    let endpoint = settings.endpoint();
    if settings.is_local() {
        format!("transcription: voice notes are transcribed by {endpoint} (model {})", settings.model)
    } else {
        format!(
            "transcription: voice notes LEAVE THIS MACHINE: they are sent to {endpoint} (model {}) to be transcribed",
            settings.model
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_must_be_http_or_https_with_a_host() {
        for good in ["http://127.0.0.1:8080", "https://api.openai.com/v1", "http://whisper.lan/v1/audio/transcriptions"]
        {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in ["http://", "https:///v1", "ftp://host/v1", "localhost:8080", "", "http//host"] {
            let refused = check_url(bad).unwrap_err().to_string();
            assert!(refused.contains("with a host") && refused.contains("http://127.0.0.1:8080"), "{bad}: {refused}");
        }
    }

    #[test]
    fn auto_takes_only_kinds_with_sound() {
        assert_eq!(audio_kinds(&["voice".into(), "video".into()]).unwrap(), [MessageKind::Voice, MessageKind::Video]);
        assert_eq!(audio_kinds(&["none".into()]).unwrap(), []);
        let refused = audio_kinds(&["image".into()]).unwrap_err().to_string();
        assert!(
            refused.contains("'image' has no sound") && refused.contains("voice, audio, video or none"),
            "{refused}"
        );
    }
}
