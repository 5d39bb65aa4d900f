//! Sending: a text or a file (lharries' body plus replies, mentions and an idempotency key),
//! reactions, and read receipts. A send is answered once it is in the outbox on disk; delivery
//! happens after, and its progress shows in `/api/messages/{chat}/{id}` and the events.

use std::path::{Path, PathBuf};

use wamcp_api::http::ApiError;
use wamcp_api::{Done, MarkRead, Queued, React, SendMessage};
use wamcp_core::{DeliveryStatus, Jid, MessageId, MessageKind, Sent};
use wamcp_store::Enqueued;

use super::{AppState, store_error};
use crate::ingest::Command;
use crate::send_request::{Body, SendRequest as OutboxRequest, StoredRef};
use crate::voice::{self, VoiceError};

/// Longest text WhatsApp accepts in one message.
const MAX_TEXT: usize = 65_536;
/// Where the copies of files being sent are kept, in the data directory (apart from `outbox/`,
/// the default folder users put files to send in).
const QUEUED_FILES: &str = "sending";
/// Largest attachment accepted (WhatsApp's limit for documents).
const MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;

impl AppState {
    /// Sends a text or a file: checks it, copies the file into the data directory (off the
    /// runtime), chooses the message id and puts it in the outbox. REST, `/mcp` and the desk all
    /// send through here; the answer comes once the send is on disk.
    pub async fn send_message(&self, request: SendMessage) -> Result<Queued, ApiError> {
        let chat = parse_recipient(&request.recipient)?;
        let id = new_message_id();
        let reply_to = match &request.reply_to {
            Some(quoted) => Some(self.message_ref(&chat, quoted).await?),
            None => None,
        };
        let mentions = request
            .mentions
            .iter()
            .map(|m| {
                Jid::parse_person(m).map(|j| j.to_string()).map_err(|e| ApiError::bad_request(format!("mentions: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let text = request.message.trim_end().to_string();
        if text.len() > MAX_TEXT {
            return Err(ApiError::bad_request(format!(
                "message: {} bytes is longer than the {MAX_TEXT} WhatsApp accepts",
                text.len()
            )));
        }
        let body = match &request.media_path {
            Some(path) => attach(self, path, &id, (!text.is_empty()).then_some(text), request.voice).await?,
            None if request.voice => return Err(ApiError::bad_request("voice: give the audio file in media_path")),
            None if text.is_empty() => {
                return Err(ApiError::bad_request("message: empty; give a text, or a media_path to send a file"));
            }
            None => Body::Text { text },
        };
        let outgoing = OutboxRequest { chat: chat.to_string(), id, body, reply_to, mentions };
        self.enqueue(&chat, outgoing, request.idempotency_key).await
    }

    /// An emoji on a stored message; an empty one takes ours back.
    pub(super) async fn react(&self, request: React) -> Result<Queued, ApiError> {
        let chat = parse_recipient(&request.chat_jid)?;
        if request.emoji.chars().count() > 8 {
            return Err(ApiError::bad_request("emoji: give one emoji (or an empty string to remove the reaction)"));
        }
        let target = self.message_ref(&chat, &request.message_id).await?;
        self.enqueue_change(&chat, Body::Reaction { target, emoji: request.emoji }, request.idempotency_key).await
    }

    /// Read receipts, sent at once (they are not queued), and the messages no longer unread.
    pub(super) async fn mark_read(&self, request: MarkRead) -> Result<Done, ApiError> {
        let chat = parse_recipient(&request.chat_jid)?;
        if request.message_ids.is_empty() {
            return Err(ApiError::bad_request("message_ids: give at least one message id"));
        }
        let sender = request
            .sender
            .as_deref()
            .map(Jid::parse_person)
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("sender: {e}")))?;
        let ids: Vec<MessageId> = request.message_ids.into_iter().map(MessageId).collect();
        // The receipt names the chat and sender as the messages arrived (a LID where WhatsApp used one).
        let wire = self.reader().await?.wire_address(&chat, ids[0].as_str()).map_err(store_error)?;
        let (chat, sender) = match wire {
            Some(wire) => (wire.chat, wire.sender.filter(|_| sender.is_some()).or(sender)),
            None => (chat, sender),
        };
        self.link.mark_read(&chat, sender.as_ref(), &ids).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
        // Read here is read everywhere: list_chats stops counting them as unread.
        self.ingest
            .send(Command::Link(wamcp_core::LinkEvent::Read { ids: ids.clone() }))
            .await
            .map_err(ApiError::unavailable)?;
        Ok(Done::new(format!("marked {} message(s) read", ids.len())))
    }
}

impl AppState {
    /// Puts a send in the outbox and says so in lharries' words.
    async fn enqueue(
        &self,
        chat: &Jid,
        request: OutboxRequest,
        idempotency_key: Option<String>,
    ) -> Result<Queued, ApiError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = Sent { id: MessageId(request.id.clone()), at: self.clock.now() };
        let pending = request.sent_message(&queued, self.status.account()).map(|mut message| {
            message.status = Some(DeliveryStatus::Pending);
            message
        });
        let command = Command::Enqueue {
            chat: chat.clone(),
            message_id: request.id.clone(),
            idempotency_key,
            request: request.to_json(),
            pending,
            reply,
        };
        self.ingest.send(command).await.map_err(ApiError::unavailable)?;
        let entry = answer
            .await
            .map_err(|_| ApiError::internal("the send could not be stored"))?
            .map_err(ApiError::internal)?;
        self.outbox_wake.notify_one();
        let (entry, message) = match entry {
            Enqueued::New(entry) => (entry, format!("Message to {chat} queued")),
            Enqueued::Existing(entry) => {
                (entry, format!("Message to {chat} was already queued with this idempotency key"))
            }
        };
        Ok(Queued {
            success: true,
            message,
            id: entry.message_id,
            chat_jid: entry.chat,
            status: entry.state.delivery(),
        })
    }

    /// Queues a change to a stored message (reaction, edit, deletion): a send of its own, under
    /// a new id, quoting nothing.
    pub(super) async fn enqueue_change(
        &self,
        chat: &Jid,
        body: Body,
        idempotency_key: Option<String>,
    ) -> Result<Queued, ApiError> {
        let request =
            OutboxRequest { chat: chat.to_string(), id: new_message_id(), body, reply_to: None, mentions: Vec::new() };
        self.enqueue(chat, request, idempotency_key).await
    }

    /// Someone else's message may be deleted for everyone only by an admin of its group: asks
    /// WhatsApp whether the account is one, and refuses clearly when it is not.
    pub(super) async fn check_group_admin(&self, chat: &Jid) -> Result<(), ApiError> {
        if chat.kind() != wamcp_core::JidKind::Group {
            return Err(ApiError::bad_request(
                "message_id: it is someone else's message; in a direct chat only your own messages can be deleted \
                 for everyone (in a group, an admin may delete anyone's)",
            ));
        }
        let account = self.status.account().ok_or_else(|| ApiError::unavailable("not logged in to WhatsApp yet"))?;
        let group = self.link.group_info(chat).await.map_err(|e| ApiError::unavailable(e.to_string()))?;
        if !group.admins.contains(&account) {
            return Err(ApiError::bad_request(format!(
                "message_id: it is someone else's message, and only a group admin may delete others' messages; \
                 you are not an admin of {chat}"
            )));
        }
        Ok(())
    }

    /// A stored message of `chat`, as a reply or reaction refers to it.
    pub(super) async fn message_ref(&self, chat: &Jid, id: &str) -> Result<StoredRef, ApiError> {
        let reader = self.reader().await?;
        let message = reader.message_context(id, Some(chat), 0, 0).map_err(store_error)?.message;
        // Named as WhatsApp addressed it: a LID group's member by their LID.
        let wire = reader.wire_address(chat, &message.id).map_err(store_error)?;
        let wire_chat = wire.as_ref().map(|w| w.chat.to_string()).filter(|c| c != chat.as_str());
        // A photo is quoted as a photo: with what the phone needs to show it.
        let media = if message.kind.has_media() { reader.media(chat, &message.id).ok().map(|m| m.media) } else { None };
        let media = media.map(|m| wamcp_core::Media { local_path: None, ..m });
        Ok(StoredRef {
            kind: Some(message.kind),
            media,
            sender: wire.and_then(|w| w.sender).map(|s| s.to_string()).or(message.sender_jid),
            id: message.id,
            from_me: message.is_from_me,
            text: message.text.or(message.caption),
            wire_chat,
        })
    }
}

/// A recipient as lharries takes it: a phone number or a JID.
pub fn parse_recipient(input: &str) -> Result<Jid, ApiError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(ApiError::bad_request("recipient: empty; give a phone number with country code or a JID"));
    }
    Jid::parse_person(input).map_err(|e| {
        ApiError::bad_request(format!(
            "recipient: {e}; give a phone number with country code (+44 7700 900123) or a JID (447700900123@s.whatsapp.net, 1203630@g.us)"
        ))
    })
}

/// A message id in the form WhatsApp clients use: chosen once, kept for every retry.
fn new_message_id() -> String {
    format!("3EB0{}", crate::token::random_hex(10).to_ascii_uppercase())
}

/// Checks a file to send and copies it into the data directory, so the send survives the
/// original being moved or deleted. A voice note is converted on the way in: the copy is the
/// Ogg/Opus file that will be sent, with its length and waveform.
async fn attach(app: &AppState, path: &str, id: &str, caption: Option<String>, voice: bool) -> Result<Body, ApiError> {
    let source = resolve_allowed(path, &app.media_roots)?;
    let size = std::fs::metadata(&source).map_err(|e| ApiError::bad_request(format!("media_path: {e}")))?.len();
    if size == 0 || size > MAX_MEDIA_BYTES {
        return Err(ApiError::bad_request(format!(
            "media_path: {} has {size} bytes; files of 1 byte to {} MiB can be sent",
            source.display(),
            MAX_MEDIA_BYTES >> 20
        )));
    }
    let file_name = source.file_name().map(|n| n.to_string_lossy().into_owned());
    let extension = source.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let (kind, mimetype) = if voice { (MessageKind::Voice, VOICE_MIMETYPE) } else { media_kind(&extension) };
    let outbox = app.data_dir().join(QUEUED_FILES);
    std::fs::create_dir_all(&outbox)
        .map_err(|e| ApiError::internal(format!("cannot create {}: {e}", outbox.display())))?;
    if kind == MessageKind::Voice {
        let relative = format!("{QUEUED_FILES}/{id}.ogg");
        let target = app.data_dir().join(&relative);
        let note = tokio::task::spawn_blocking(move || voice::encode(&source, &target))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| match e {
                VoiceError::NoFfmpeg => ApiError::unavailable(e.to_string()),
                other => ApiError::bad_request(format!("media_path: {other}")),
            })?;
        return Ok(Body::Media {
            media_kind: kind,
            file: relative,
            mimetype: mimetype.to_string(),
            file_name: None,
            caption: None,
            seconds: Some(note.seconds),
            waveform: Some(note.waveform),
        });
    }
    let relative = format!("{QUEUED_FILES}/{id}.{}", if extension.is_empty() { "bin" } else { &extension });
    let copy = app.data_dir().join(&relative);
    // Up to 100 MiB, synced: on a blocking thread, so other requests go on meanwhile.
    let copied = source.clone();
    tokio::task::spawn_blocking(move || {
        std::fs::copy(&copied, &copy).and_then(|_| std::fs::File::open(&copy)?.sync_all())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(format!("cannot copy {} into the outbox: {e}", source.display())))?;
    Ok(Body::Media {
        media_kind: kind,
        file: relative,
        mimetype: mimetype.to_string(),
        file_name,
        caption,
        seconds: None,
        waveform: None,
    })
}

const VOICE_MIMETYPE: &str = "audio/ogg; codecs=opus";

/// The file `path` names, if it lies under one of `roots` once symlinks are resolved.
pub fn resolve_allowed(path: &str, roots: &[PathBuf]) -> Result<PathBuf, ApiError> {
    let resolved = Path::new(path)
        .canonicalize()
        .map_err(|e| ApiError::bad_request(format!("media_path: cannot open {path}: {e}")))?;
    if !resolved.is_file() {
        return Err(ApiError::bad_request(format!("media_path: {path} is not a file")));
    }
    let allowed = roots.iter().filter_map(|root| root.canonicalize().ok()).any(|root| resolved.starts_with(root));
    if !allowed {
        let roots: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        return Err(ApiError::forbidden(format!(
            "media_path: {} is outside the directories files may be sent from ({}); add a directory with --media-root or media_roots in wamcp.toml",
            resolved.display(),
            roots.join(", ")
        )));
    }
    Ok(resolved)
}

/// What WhatsApp message a file becomes, by its extension.
fn media_kind(extension: &str) -> (MessageKind, &'static str) {
    match extension {
        "jpg" | "jpeg" => (MessageKind::Image, "image/jpeg"),
        "png" => (MessageKind::Image, "image/png"),
        "webp" => (MessageKind::Image, "image/webp"),
        "gif" => (MessageKind::Image, "image/gif"),
        "mp4" => (MessageKind::Video, "video/mp4"),
        "3gp" => (MessageKind::Video, "video/3gpp"),
        "mov" => (MessageKind::Video, "video/quicktime"),
        "ogg" | "opus" => (MessageKind::Voice, VOICE_MIMETYPE),
        "mp3" => (MessageKind::Audio, "audio/mpeg"),
        "m4a" => (MessageKind::Audio, "audio/mp4"),
        "aac" => (MessageKind::Audio, "audio/aac"),
        "wav" => (MessageKind::Audio, "audio/wav"),
        "pdf" => (MessageKind::Document, "application/pdf"),
        "txt" => (MessageKind::Document, "text/plain"),
        "csv" => (MessageKind::Document, "text/csv"),
        "zip" => (MessageKind::Document, "application/zip"),
        "docx" => (MessageKind::Document, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        "xlsx" => (MessageKind::Document, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        _ => (MessageKind::Document, "application/octet-stream"),
    }
}
