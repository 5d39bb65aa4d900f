//! Outgoing messages in WhatsApp's wire form: text with its reply and mention context, each kind
//! of attachment as the phone expects it (a sticker as a sticker, a document with a caption
//! wrapped as `documentWithCaptionMessage`), reaction keys and the revoke of one's own message.

use wamcp_core::{Attachment, Jid, JidKind, MessageKind, MessageRef, Outgoing};
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::download::MediaType;
use whatsapp_rust::media::{AudioOptions, DocumentOptions, ImageOptions, VideoOptions};
use whatsapp_rust::upload::UploadResponse;
use whatsapp_rust::waproto::whatsapp as wa;

/// The key naming a stored message, as reactions carry it: the chat as the message arrived (a
/// LID where WhatsApp used one), and its author as `participant` only in a group, as whatsmeow
/// and WhatsApp's own clients write it.
pub fn key(chat: &Jid, target: &MessageRef) -> wa::MessageKey {
    let chat = target.wire_chat.as_ref().unwrap_or(chat);
    wa::MessageKey {
        remote_jid: Some(chat.to_string()),
        from_me: Some(target.from_me),
        id: Some(target.id.to_string()),
        participant: target
            .sender
            .as_ref()
            .filter(|_| !target.from_me && chat.kind() == JidKind::Group)
            .map(ToString::to_string),
    }
}

/// Deleting one's own message for everyone: the key names it as ours, with no participant, and
/// the library marks the stanza as a sender revoke from that.
pub fn revoke_own(chat: &Jid, target: &MessageRef) -> wa::Message {
    wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(chat.to_string()),
                from_me: Some(true),
                id: Some(target.id.to_string()),
                participant: None,
            }),
            r#type: Some(wa::message::protocol_message::Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A group admin deleting someone else's message for everyone: the key names its author as
/// `participant`, as the message arrived, and is not ours; the library marks the stanza as an
/// admin revoke from that (`edit="8"`), as whatsmeow sends it.
pub fn revoke_as_admin(chat: &Jid, target: &MessageRef) -> wa::Message {
    wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(target.wire_chat.as_ref().unwrap_or(chat).to_string()),
                from_me: Some(false),
                id: Some(target.id.to_string()),
                participant: target.sender.as_ref().map(ToString::to_string),
            }),
            r#type: Some(wa::message::protocol_message::Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The reply and mention context of an outgoing message, if it has any. A quote names its
/// author: the sender, or `me` (the account, without its device) when quoting oneself.
pub fn context(message: &Outgoing, me: Option<&whatsapp_rust::Jid>) -> Option<wa::ContextInfo> {
    if message.reply_to.is_none() && message.mentions.is_empty() {
        return None;
    }
    let mut context = wa::ContextInfo {
        mentioned_jid: message.mentions.iter().map(ToString::to_string).collect(),
        ..Default::default()
    };
    if let Some(quoted) = &message.reply_to {
        context.stanza_id = Some(quoted.id.to_string());
        context.participant = if quoted.from_me {
            me.map(|me| me.to_non_ad_string())
        } else {
            quoted.sender.as_ref().map(ToString::to_string)
        };
        context.quoted_message = MessageField::some(quoted_message(quoted));
    }
    Some(context)
}

/// The quoted message itself, as a reply carries it: a photo, video, voice note, document or
/// sticker with the keys the phone needs to show it, else its words.
pub fn quoted_message(quoted: &MessageRef) -> wa::Message {
    let text = quoted.text.clone();
    let Some(media) = quoted.media.as_ref().filter(|_| quoted.kind.has_media()) else {
        return wa::Message { conversation: text, ..Default::default() };
    };
    let m = media.clone();
    match quoted.kind {
        MessageKind::Image => wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                url: m.url,
                mimetype: m.mimetype,
                caption: text,
                file_sha256: m.sha256,
                file_length: m.size,
                media_key: m.media_key,
                file_enc_sha256: m.enc_sha256,
                direct_path: m.direct_path,
                ..Default::default()
            }),
            ..Default::default()
        },
        MessageKind::Video => wa::Message {
            video_message: MessageField::some(wa::message::VideoMessage {
                url: m.url,
                mimetype: m.mimetype,
                caption: text,
                file_sha256: m.sha256,
                file_length: m.size,
                media_key: m.media_key,
                file_enc_sha256: m.enc_sha256,
                direct_path: m.direct_path,
                ..Default::default()
            }),
            ..Default::default()
        },
        MessageKind::Audio | MessageKind::Voice => wa::Message {
            audio_message: MessageField::some(wa::message::AudioMessage {
                url: m.url,
                mimetype: m.mimetype,
                file_sha256: m.sha256,
                file_length: m.size,
                ptt: Some(quoted.kind == MessageKind::Voice),
                media_key: m.media_key,
                file_enc_sha256: m.enc_sha256,
                direct_path: m.direct_path,
                ..Default::default()
            }),
            ..Default::default()
        },
        MessageKind::Document => wa::Message {
            document_message: MessageField::some(wa::message::DocumentMessage {
                url: m.url,
                mimetype: m.mimetype,
                file_sha256: m.sha256,
                file_length: m.size,
                media_key: m.media_key,
                file_name: m.file_name,
                file_enc_sha256: m.enc_sha256,
                direct_path: m.direct_path,
                caption: text,
                ..Default::default()
            }),
            ..Default::default()
        },
        _ => wa::Message {
            sticker_message: MessageField::some(wa::message::StickerMessage {
                url: m.url,
                file_sha256: m.sha256,
                file_enc_sha256: m.enc_sha256,
                media_key: m.media_key,
                mimetype: m.mimetype,
                direct_path: m.direct_path,
                file_length: m.size,
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

/// A text message: plain, or extended when it replies or mentions.
pub fn text(text: &str, context: Option<wa::ContextInfo>) -> wa::Message {
    match context {
        Some(context) => wa::Message {
            extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
                text: Some(text.to_string()),
                context_info: MessageField::some(context),
                ..Default::default()
            }),
            ..Default::default()
        },
        None => wa::Message { conversation: Some(text.to_string()), ..Default::default() },
    }
}

/// The media server's bucket for each kind of attachment.
pub fn media_type(kind: MessageKind) -> MediaType {
    match kind {
        MessageKind::Image => MediaType::Image,
        MessageKind::Video => MediaType::Video,
        MessageKind::Audio | MessageKind::Voice => MediaType::Audio,
        MessageKind::Sticker => MediaType::Sticker,
        _ => MediaType::Document,
    }
}

/// An uploaded attachment as the message that carries it.
pub fn attachment(upload: UploadResponse, attachment: &Attachment, context: Option<wa::ContextInfo>) -> wa::Message {
    let context_info = context.map(Box::new);
    let mimetype = Some(attachment.mimetype.clone());
    match attachment.kind {
        MessageKind::Image => whatsapp_rust::media::image_message(
            upload,
            ImageOptions { caption: attachment.caption.clone(), mimetype, context_info, ..Default::default() },
        ),
        MessageKind::Sticker => sticker(Uploaded::from(upload), &attachment.mimetype, context_info.map(|c| *c)),
        MessageKind::Video => whatsapp_rust::media::video_message(
            upload,
            VideoOptions {
                caption: attachment.caption.clone(),
                mimetype,
                duration_seconds: attachment.seconds,
                context_info,
                ..Default::default()
            },
        ),
        MessageKind::Audio | MessageKind::Voice => whatsapp_rust::media::audio_message(
            upload,
            AudioOptions {
                mimetype,
                duration_seconds: attachment.seconds,
                ptt: Some(attachment.kind == MessageKind::Voice),
                waveform: attachment.waveform.clone(),
                context_info,
            },
        ),
        _ => {
            let has_caption = attachment.caption.as_deref().is_some_and(|c| !c.is_empty());
            let document = whatsapp_rust::media::document_message(
                upload,
                DocumentOptions {
                    mimetype,
                    file_name: attachment.file_name.clone(),
                    title: attachment.file_name.clone(),
                    caption: attachment.caption.clone(),
                    context_info,
                    ..Default::default()
                },
            );
            if has_caption { captioned_document(document) } else { document }
        }
    }
}

/// A document with a caption: the phone shows the caption only inside this wrapper.
pub fn captioned_document(document: wa::Message) -> wa::Message {
    wa::Message {
        document_with_caption_message: MessageField::some(wa::message::FutureProofMessage {
            message: MessageField::some(document),
        }),
        ..Default::default()
    }
}

/// Where the media server put an upload (the library's answer, which cannot be built outside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub url: String,
    pub direct_path: String,
    pub media_key: Vec<u8>,
    pub file_sha256: Vec<u8>,
    pub file_enc_sha256: Vec<u8>,
    pub file_length: u64,
    pub media_key_timestamp: i64,
}

impl From<UploadResponse> for Uploaded {
    fn from(upload: UploadResponse) -> Uploaded {
        Uploaded {
            url: upload.url,
            direct_path: upload.direct_path,
            media_key: upload.media_key.to_vec(),
            file_sha256: upload.file_sha256.to_vec(),
            file_enc_sha256: upload.file_enc_sha256.to_vec(),
            file_length: upload.file_length,
            media_key_timestamp: upload.media_key_timestamp,
        }
    }
}

/// A sticker (WebP), which the phone shows without a bubble.
pub fn sticker(upload: Uploaded, mimetype: &str, context: Option<wa::ContextInfo>) -> wa::Message {
    wa::Message {
        sticker_message: MessageField::some(wa::message::StickerMessage {
            url: Some(upload.url),
            direct_path: Some(upload.direct_path),
            media_key: Some(upload.media_key),
            file_sha256: Some(upload.file_sha256),
            file_enc_sha256: Some(upload.file_enc_sha256),
            file_length: Some(upload.file_length),
            media_key_timestamp: Some(upload.media_key_timestamp),
            mimetype: Some(mimetype.to_string()),
            context_info: context.map(MessageField::some).unwrap_or_default(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
