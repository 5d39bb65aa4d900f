//! The media host: fakewa keeps encrypted blobs as WhatsApp's CDN does, under a direct path,
//! on disk in the data dir. A contact's photo or voice note is encrypted here with the real media crypto
//! (wacore's `encrypt_media`); the client's uploads are kept as sent, so a test can decrypt
//! them with the key from the message and compare hashes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::prelude::BASE64_URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use wacore::download::MediaType;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;
use waproto::whatsapp as wa;

use crate::world::{World, now};

/// A file a contact sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub path: PathBuf,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub mimetype: Option<String>,
    /// A voice note's length, as the phone that recorded it says.
    #[serde(default)]
    pub seconds: Option<u32>,
}

/// Where the blob at `direct_path` lives (the query is not part of the name).
pub fn blob_path(data_dir: &Path, direct_path: &str) -> PathBuf {
    let path = direct_path.split('?').next().unwrap_or(direct_path);
    data_dir.join("media").join(hex::encode(&Sha256::digest(path.as_bytes())[..16]))
}

/// Keeps an uploaded blob; returns its direct path.
pub fn keep(data_dir: &Path, kind: &str, bytes: &[u8]) -> Result<String> {
    let direct_path = format!("/v/t62.{kind}/{}.enc", hex::encode(rand::random::<[u8; 12]>()));
    let file = blob_path(data_dir, &direct_path);
    std::fs::create_dir_all(file.parent().expect("a media dir"))?;
    std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
    Ok(direct_path)
}

pub fn fetch(data_dir: &Path, direct_path: &str) -> Option<Vec<u8>> {
    std::fs::read(blob_path(data_dir, direct_path)).ok()
}

impl World {
    /// A contact's photo: encrypted, kept on the media host, described for the message.
    pub(crate) fn upload_image(&mut self, image: &Attachment, media_host: &str) -> Result<wa::message::ImageMessage> {
        let plain = std::fs::read(&image.path).with_context(|| format!("reading {}", image.path.display()))?;
        let encrypted = wacore::upload::encrypt_media(&plain, MediaType::Image)?;
        let direct_path = keep(&self.data_dir, "7118-24", &encrypted.data_to_upload)?;
        let token = BASE64_URL_SAFE_NO_PAD.encode(encrypted.file_enc_sha256);
        Ok(wa::message::ImageMessage {
            url: Some(format!("https://{media_host}{direct_path}?token={token}")),
            mimetype: Some(image.mimetype.clone().unwrap_or_else(|| "image/jpeg".into())),
            caption: image.caption.clone(),
            file_sha256: Some(encrypted.file_sha256.to_vec()),
            file_length: Some(plain.len() as u64),
            media_key: Some(encrypted.media_key.to_vec()),
            file_enc_sha256: Some(encrypted.file_enc_sha256.to_vec()),
            direct_path: Some(direct_path),
            media_key_timestamp: Some(now()),
            ..Default::default()
        })
    }

    /// A contact's voice note: encrypted as audio, kept on the media host, described as a PTT
    /// (push-to-talk) audio message, as a phone records one.
    pub(crate) fn upload_voice(&mut self, voice: &Attachment, media_host: &str) -> Result<wa::message::AudioMessage> {
        let plain = std::fs::read(&voice.path).with_context(|| format!("reading {}", voice.path.display()))?;
        let encrypted = wacore::upload::encrypt_media(&plain, MediaType::Audio)?;
        let direct_path = keep(&self.data_dir, "7114-24", &encrypted.data_to_upload)?;
        let token = BASE64_URL_SAFE_NO_PAD.encode(encrypted.file_enc_sha256);
        Ok(wa::message::AudioMessage {
            url: Some(format!("https://{media_host}{direct_path}?token={token}")),
            mimetype: Some(voice.mimetype.clone().unwrap_or_else(|| "audio/ogg; codecs=opus".into())),
            file_sha256: Some(encrypted.file_sha256.to_vec()),
            file_length: Some(plain.len() as u64),
            ptt: Some(true),
            seconds: voice.seconds,
            media_key: Some(encrypted.media_key.to_vec()),
            file_enc_sha256: Some(encrypted.file_enc_sha256.to_vec()),
            direct_path: Some(direct_path),
            media_key_timestamp: Some(now()),
            ..Default::default()
        })
    }

    /// `<media_conn>`: the one media host, this control listener.
    pub(crate) fn media_conn(&self, media_host: &str) -> Node {
        NodeBuilder::new("media_conn")
            .attr("auth", "fakewa-media-auth")
            .attr("ttl", "3600")
            .attr("auth_ttl", "3600")
            .attr("max_buckets", "1")
            .children([NodeBuilder::new("host").attr("hostname", media_host.to_string()).build()])
            .build()
    }
}

/// What the recipient's phone finds when it downloads the media a message names: the
/// plaintext's SHA-256 and length, after the MAC and the hashes are checked.
pub fn open_media(data_dir: &Path, message: &wa::Message) -> Option<serde_json::Value> {
    let (direct_path, media_key, enc_sha, kind) = if let Some(m) = message.image_message.as_option() {
        (m.direct_path.clone()?, m.media_key.clone()?, m.file_enc_sha256.clone()?, MediaType::Image)
    } else if let Some(m) = message.audio_message.as_option() {
        (m.direct_path.clone()?, m.media_key.clone()?, m.file_enc_sha256.clone()?, MediaType::Audio)
    } else if let Some(m) = message.video_message.as_option() {
        (m.direct_path.clone()?, m.media_key.clone()?, m.file_enc_sha256.clone()?, MediaType::Video)
    } else if let Some(m) = message.document_message.as_option() {
        (m.direct_path.clone()?, m.media_key.clone()?, m.file_enc_sha256.clone()?, MediaType::Document)
    } else {
        return None;
    };
    let Some(blob) = fetch(data_dir, &direct_path) else {
        return Some(serde_json::json!({"error": format!("nothing uploaded at {direct_path}")}));
    };
    if Sha256::digest(&blob).as_slice() != enc_sha.as_slice() {
        return Some(serde_json::json!({"error": "the upload's SHA-256 is not the message's file_enc_sha256"}));
    }
    Some(match wacore::download::DownloadUtils::verify_and_decrypt(&blob, &media_key, kind) {
        Ok(plain) => serde_json::json!({"sha256": hex::encode(Sha256::digest(&plain)), "length": plain.len()}),
        Err(e) => serde_json::json!({"error": format!("the upload does not decrypt: {e}")}),
    })
}
