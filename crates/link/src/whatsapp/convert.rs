//! whatsapp-rust / waproto values to core types. Live messages and history sync go through the
//! same [`message_update`], so a message looks the same however it arrived.

use wamcp_core::{
    Chat, Contact, DeliveryStatus, Disconnect, HistoryBatch, Jid, JidKind, Media, Message, MessageId, MessageKind,
    Receipt, Timestamp, Update,
};
use whatsapp_rust::prelude::MessageExt;
use whatsapp_rust::types::events::ConnectFailureReason;
use whatsapp_rust::types::message::MessageInfo;
use whatsapp_rust::types::presence::ReceiptType;
use whatsapp_rust::wacore::pair_code::PairCodeRejection;
use whatsapp_rust::waproto::whatsapp as wa;

/// A whatsapp-rust JID as a core JID, without the device part (`1555…:12@s.whatsapp.net` is the
/// person `1555…@s.whatsapp.net`).
pub fn jid(jid: &whatsapp_rust::Jid) -> Option<Jid> {
    Jid::parse(&jid.to_non_ad_string()).ok()
}

/// A JID written as text in a protobuf field.
pub fn jid_text(text: &str) -> Option<Jid> {
    let parsed: whatsapp_rust::Jid = text.parse().ok()?;
    jid(&parsed)
}

/// Where a message sits and who wrote it, however it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub chat: Jid,
    pub id: String,
    pub sender: Option<Jid>,
    pub from_me: bool,
    pub at: Timestamp,
}

impl Envelope {
    /// The envelope of a live message.
    pub fn of_live(info: &MessageInfo) -> Option<Envelope> {
        Some(Envelope {
            chat: jid(&info.source.chat)?,
            id: info.id.clone(),
            sender: jid(&info.source.sender),
            from_me: info.source.is_from_me,
            at: Timestamp(info.timestamp.timestamp_millis()),
        })
    }

    /// The envelope of a message from a history sync conversation.
    pub fn of_history(chat: &Jid, info: &wa::WebMessageInfo) -> Option<Envelope> {
        let key = info.key.as_option()?;
        let from_me = key.from_me.unwrap_or(false);
        let sender = info.participant.as_deref().or(key.participant.as_deref()).and_then(jid_text);
        Some(Envelope {
            chat: chat.clone(),
            id: key.id.clone()?,
            sender: if from_me { None } else { sender.or_else(|| Some(chat.clone()).filter(Jid::is_person)) },
            from_me,
            at: Timestamp::from_secs(info.message_timestamp? as i64),
        })
    }
}

/// What a message means for the history: a new message, an edit, a deletion or a reaction.
/// `None` for messages that change nothing a person reads (key distribution, app state…).
pub fn message_update(envelope: &Envelope, message: &wa::Message) -> Option<Update> {
    let base = message.get_base_message();
    if let Some(protocol) = base.protocol_message.as_option() {
        return protocol_update(envelope, protocol);
    }
    if let Some(reaction) = base.reaction_message.as_option() {
        let target = reaction.key.as_option()?.id.clone()?;
        return Some(Update::Reaction {
            chat: envelope.chat.clone(),
            id: MessageId(target),
            sender: envelope.sender.clone()?,
            emoji: reaction.text.clone().unwrap_or_default(),
            at: reaction.sender_timestamp_ms.map(Timestamp).unwrap_or(envelope.at),
        });
    }
    let mut stored =
        Message::text(envelope.chat.clone(), &envelope.id, envelope.sender.clone(), envelope.from_me, envelope.at, "");
    stored.text = None;
    if envelope.from_me {
        stored.status = Some(DeliveryStatus::Sent);
    }
    let (kind, text, caption, media, context) = content(base)?;
    stored.kind = kind;
    stored.text = text.filter(|t| !t.is_empty());
    stored.caption = caption.filter(|c| !c.is_empty());
    stored.media = media;
    stored.quoted_id = context.and_then(|c| c.stanza_id.clone()).map(MessageId);
    Some(Update::Message(stored))
}

type Content<'m> = (MessageKind, Option<String>, Option<String>, Option<Media>, Option<&'m wa::ContextInfo>);

/// The kind, text, caption, attachment and reply context of an (unwrapped) message.
fn content(base: &wa::Message) -> Option<Content<'_>> {
    if let Some(text) = base.conversation.as_ref().filter(|t| !t.is_empty()) {
        return Some((MessageKind::Text, Some(text.clone()), None, None, None));
    }
    if let Some(extended) = base.extended_text_message.as_option() {
        return Some((MessageKind::Text, extended.text.clone(), None, None, extended.context_info.as_option()));
    }
    if let Some(image) = base.image_message.as_option() {
        let media = media(
            &image.mimetype,
            None,
            image.file_length,
            &image.file_sha256,
            &image.file_enc_sha256,
            &image.media_key,
            &image.direct_path,
            &image.url,
        );
        return Some((MessageKind::Image, None, image.caption.clone(), Some(media), image.context_info.as_option()));
    }
    if let Some(video) = base.video_message.as_option().or(base.ptv_message.as_option()) {
        let mut media = media(
            &video.mimetype,
            None,
            video.file_length,
            &video.file_sha256,
            &video.file_enc_sha256,
            &video.media_key,
            &video.direct_path,
            &video.url,
        );
        media.seconds = video.seconds;
        return Some((MessageKind::Video, None, video.caption.clone(), Some(media), video.context_info.as_option()));
    }
    if let Some(audio) = base.audio_message.as_option() {
        let kind = if audio.ptt == Some(true) { MessageKind::Voice } else { MessageKind::Audio };
        let mut media = media(
            &audio.mimetype,
            None,
            audio.file_length,
            &audio.file_sha256,
            &audio.file_enc_sha256,
            &audio.media_key,
            &audio.direct_path,
            &audio.url,
        );
        media.seconds = audio.seconds;
        return Some((kind, None, None, Some(media), audio.context_info.as_option()));
    }
    if let Some(document) = base.document_message.as_option() {
        let media = media(
            &document.mimetype,
            document.file_name.as_ref().or(document.title.as_ref()),
            document.file_length,
            &document.file_sha256,
            &document.file_enc_sha256,
            &document.media_key,
            &document.direct_path,
            &document.url,
        );
        let context = document.context_info.as_option();
        return Some((MessageKind::Document, None, document.caption.clone(), Some(media), context));
    }
    if let Some(sticker) = base.sticker_message.as_option() {
        let media = media(
            &sticker.mimetype,
            None,
            sticker.file_length,
            &sticker.file_sha256,
            &sticker.file_enc_sha256,
            &sticker.media_key,
            &sticker.direct_path,
            &sticker.url,
        );
        return Some((MessageKind::Sticker, None, None, Some(media), sticker.context_info.as_option()));
    }
    if let Some(location) = base.location_message.as_option() {
        let place = [location.name.as_deref(), location.address.as_deref()].into_iter().flatten().collect::<Vec<_>>();
        let text = match (place.is_empty(), location.degrees_latitude, location.degrees_longitude) {
            (false, _, _) => place.join(", "),
            (true, Some(lat), Some(lon)) => format!("{lat:.6}, {lon:.6}"),
            _ => "location".to_string(),
        };
        return Some((MessageKind::Location, Some(text), None, None, location.context_info.as_option()));
    }
    if let Some(live) = base.live_location_message.as_option() {
        let text = match (live.degrees_latitude, live.degrees_longitude) {
            (Some(lat), Some(lon)) => format!("live location {lat:.6}, {lon:.6}"),
            _ => "live location".to_string(),
        };
        return Some((MessageKind::Location, Some(text), live.caption.clone(), None, live.context_info.as_option()));
    }
    if let Some(card) = base.contact_message.as_option() {
        let text = card.display_name.clone().or_else(|| card.vcard.clone());
        return Some((MessageKind::ContactCard, text, None, None, card.context_info.as_option()));
    }
    if let Some(cards) = base.contacts_array_message.as_option() {
        let names: Vec<&str> = cards.contacts.iter().filter_map(|c| c.display_name.as_deref()).collect();
        return Some((MessageKind::ContactCard, Some(names.join(", ")), None, None, cards.context_info.as_option()));
    }
    let poll = [&base.poll_creation_message, &base.poll_creation_message_v2, &base.poll_creation_message_v3]
        .into_iter()
        .find_map(|p| p.as_option());
    if let Some(poll) = poll {
        let options: Vec<&str> = poll.options.iter().filter_map(|o| o.option_name.as_deref()).collect();
        let text = format!("{} ({})", poll.name.as_deref().unwrap_or("poll"), options.join(" / "));
        return Some((MessageKind::Poll, Some(text), None, None, poll.context_info.as_option()));
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn media(
    mimetype: &Option<String>,
    file_name: Option<&String>,
    size: Option<u64>,
    sha256: &Option<Vec<u8>>,
    enc_sha256: &Option<Vec<u8>>,
    media_key: &Option<Vec<u8>>,
    direct_path: &Option<String>,
    url: &Option<String>,
) -> Media {
    Media {
        mimetype: mimetype.clone(),
        file_name: file_name.cloned(),
        size,
        sha256: sha256.clone(),
        enc_sha256: enc_sha256.clone(),
        media_key: media_key.clone(),
        direct_path: direct_path.clone(),
        url: url.clone(),
        local_path: None,
        seconds: None,
    }
}

/// Edits and deletions arrive as protocol messages naming their target.
fn protocol_update(envelope: &Envelope, protocol: &wa::message::ProtocolMessage) -> Option<Update> {
    use wa::message::protocol_message::Type;
    let target = MessageId(protocol.key.as_option()?.id.clone()?);
    let at = protocol.timestamp_ms.map(Timestamp).unwrap_or(envelope.at);
    match protocol.r#type {
        Some(Type::REVOKE) => Some(Update::Revoked { chat: envelope.chat.clone(), id: target, at }),
        Some(Type::MESSAGE_EDIT) => {
            let edited = protocol.edited_message.as_option()?.get_base_message();
            let text = edited.text_content().or_else(|| edited.get_caption())?.to_string();
            Some(Update::Edited { chat: envelope.chat.clone(), id: target, text, at })
        }
        _ => None,
    }
}

/// An address-book entry from the phone (app state's `contact` action): the name the user saved,
/// filed under the phone JID with the LID beside it when both are known, so a message from either
/// address finds it. `None` when the entry has no name to give.
pub fn address_book(jid: &whatsapp_rust::Jid, action: &wa::sync_action_value::ContactAction) -> Option<Contact> {
    let name = [&action.full_name, &action.first_name]
        .into_iter()
        .flatten()
        .map(|n| n.trim())
        .find(|n| !n.is_empty())?
        .to_string();
    let addressed = self::jid(jid)?;
    let phone =
        action.pn_jid.as_deref().and_then(jid_text).or_else(|| Some(addressed.clone()).filter(|j| j.phone().is_some()));
    let lid = action
        .lid_jid
        .as_deref()
        .and_then(jid_text)
        .or_else(|| Some(addressed.clone()).filter(|j| j.kind() == JidKind::Lid));
    let mut contact = Contact::new(phone.clone().or(lid.clone())?);
    contact.phone_jid = phone;
    contact.lid = lid;
    contact.full_name = Some(name);
    Some(contact)
}

/// Which answer of an is-on-WhatsApp query belongs to which number asked about. `answers` are the
/// phone JIDs the server gave back (it may write a number differently from how it was typed: a
/// Brazilian mobile's ninth digit, Mexico's 1), each with whether it is registered, in the order
/// of the query. A number is matched on the JID the server returned, else on its place in the
/// answer when the server answered every number.
pub fn registered(typed: &[String], answers: &[(Option<Jid>, bool)]) -> Vec<Option<Jid>> {
    typed
        .iter()
        .enumerate()
        .map(|(place, phone)| {
            let same_number = answers.iter().find(|(jid, _)| jid.as_ref().is_some_and(|j| j.user() == phone.as_str()));
            let answer = same_number.or_else(|| {
                let at_place = answers.get(place).filter(|_| answers.len() == typed.len())?;
                // Not when that answer is another typed number's own.
                let claimed = at_place.0.as_ref().is_some_and(|j| typed.iter().any(|t| t.as_str() == j.user()));
                (!claimed).then_some(at_place)
            });
            answer.filter(|(_, is_registered)| *is_registered).and_then(|(jid, _)| jid.clone())
        })
        .collect()
}

/// Why a pairing code request failed, and what to do about it.
pub fn pairing_code_refused(rejection: Option<PairCodeRejection>, retry_after_secs: Option<u64>) -> String {
    let wait = retry_after_secs.map(|s| format!("wait {s} seconds, then ")).unwrap_or_default();
    match rejection {
        Some(PairCodeRejection::FeatureNotAvailable) => {
            "WhatsApp does not offer linking by phone number for this account (452): link with the QR code, \
             `wamcp login` without --phone"
                .to_string()
        }
        Some(rejection) if rejection.is_throttled() => format!(
            "WhatsApp refused the pairing code request ({rejection:?}: too many requests for this number, or \
             a malformed number); {wait}try again, or link with the QR code (`wamcp login` without --phone)"
        ),
        Some(rejection) => {
            format!(
                "WhatsApp refused the pairing code request ({rejection:?}); {wait}try again, or link with the QR code"
            )
        }
        None => format!("the pairing code request got no answer from WhatsApp; {wait}try again"),
    }
}

/// A `<failure>` reason's code and what it means, in words.
pub fn failure(reason: ConnectFailureReason) -> (u16, &'static str) {
    use ConnectFailureReason as R;
    match reason {
        R::Generic => (400, "bad request"),
        R::LoggedOut => (401, "logged out"),
        R::TempBanned => (402, "temporarily banned"),
        R::AccountLocked => (403, "account locked"),
        R::ClientOutdated => (405, "client outdated"),
        R::UnknownLogout => (406, "logged out"),
        R::BadUserAgent => (409, "bad user agent"),
        R::CatExpired => (413, "token expired"),
        R::CatInvalid => (414, "token invalid"),
        R::NotFound => (415, "not found"),
        R::ClientUnknown => (418, "client unknown"),
        R::InternalServerError => (500, "internal server error"),
        R::Experimental => (501, "experimental"),
        R::ServiceUnavailable => (503, "service unavailable"),
        R::Unknown(code) => (u16::try_from(code).unwrap_or(0), "unknown reason"),
    }
}

/// A `<failure>` the client reports as `ConnectFailure` (it has its own events for logouts, bans
/// and an outdated client). The client reconnects by itself only after a server error; a refused
/// user agent is an outdated client by another name; anything else stopped the client for good.
pub fn connect_failure(reason: ConnectFailureReason, message: Option<&str>) -> Disconnect {
    let (code, words) = failure(reason);
    let why = match message.filter(|m| !m.is_empty()) {
        Some(message) => format!("{words}: {message}"),
        None => words.to_string(),
    };
    if reason.should_reconnect() {
        Disconnect::Transient(format!("{code} {why}"))
    } else if reason == ConnectFailureReason::BadUserAgent {
        Disconnect::ClientOutdated
    } else {
        Disconnect::Refused { code, why }
    }
}

/// A delivery, read or played receipt for our messages. Other receipt types (retries, our own
/// devices reading) say nothing about delivery.
pub fn receipt(
    chat: &whatsapp_rust::Jid,
    from: &whatsapp_rust::Jid,
    ids: &[String],
    kind: &ReceiptType,
    at: Timestamp,
) -> Option<Receipt> {
    let status = match kind {
        ReceiptType::Delivered => DeliveryStatus::Delivered,
        ReceiptType::Read => DeliveryStatus::Read,
        ReceiptType::Played => DeliveryStatus::Played,
        _ => return None,
    };
    Some(Receipt { chat: jid(chat)?, ids: ids.iter().cloned().map(MessageId).collect(), from: jid(from)?, status, at })
}

/// A history sync chunk: push names, LID mappings, conversations with their state and messages.
pub fn history(sync: &wa::HistorySync) -> HistoryBatch {
    let mut batch = HistoryBatch { progress: sync.progress.map(|p| p.min(100) as u8), ..HistoryBatch::default() };
    for mapping in &sync.phone_number_to_lid_mappings {
        if let (Some(lid), Some(phone)) =
            (mapping.lid_jid.as_deref().and_then(jid_text), mapping.pn_jid.as_deref().and_then(jid_text))
        {
            batch.lid_map.push((lid, phone));
        }
    }
    for pushname in &sync.pushnames {
        if let (Some(person), Some(name)) = (pushname.id.as_deref().and_then(jid_text), &pushname.pushname) {
            let mut contact = Contact::new(person);
            contact.push_name = Some(name.clone());
            batch.contacts.push(contact);
        }
    }
    for conversation in &sync.conversations {
        let Some(chat_jid) = jid_text(&conversation.id) else { continue };
        if let (Some(lid), Some(phone)) =
            (conversation.lid_jid.as_deref().and_then(jid_text), conversation.pn_jid.as_deref().and_then(jid_text))
        {
            batch.lid_map.push((lid, phone));
        }
        let mut chat =
            Chat::named(chat_jid.clone(), conversation.name.as_deref().or(conversation.display_name.as_deref()));
        chat.unread_count = conversation.unread_count.unwrap_or(0);
        chat.archived = conversation.archived.unwrap_or(false);
        chat.pinned = conversation.pinned.unwrap_or(0) > 0;
        chat.muted_until = conversation.mute_end_time.filter(|t| *t > 0).map(|t| Timestamp(t as i64));
        chat.last_activity = conversation.conversation_timestamp.map(|t| Timestamp::from_secs(t as i64));
        batch.chats.push(chat);
        for item in &conversation.messages {
            let Some(info) = item.message.as_option() else { continue };
            let Some(envelope) = Envelope::of_history(&chat_jid, info) else { continue };
            if let (Some(sender), Some(name)) = (&envelope.sender, info.push_name.as_ref().filter(|n| !n.is_empty())) {
                let mut contact = Contact::new(sender.clone());
                contact.push_name = Some(name.clone());
                batch.contacts.push(contact);
            }
            if let Some(message) = info.message.as_option()
                && let Some(mut update) = message_update(&envelope, message)
            {
                if let Update::Message(stored) = &mut update
                    && envelope.from_me
                {
                    stored.status = info.status.and_then(history_status).or(stored.status);
                }
                batch.updates.push(update);
            }
            for reaction in &info.reactions {
                let Some(sender) = reaction
                    .key
                    .as_option()
                    .and_then(|k| k.participant.as_deref().or(k.remote_jid.as_deref()))
                    .and_then(jid_text)
                else {
                    continue;
                };
                batch.updates.push(Update::Reaction {
                    chat: chat_jid.clone(),
                    id: MessageId(envelope.id.clone()),
                    sender,
                    emoji: reaction.text.clone().unwrap_or_default(),
                    at: reaction.sender_timestamp_ms.map(Timestamp).unwrap_or(envelope.at),
                });
            }
        }
    }
    batch
}

fn history_status(status: wa::web_message_info::Status) -> Option<DeliveryStatus> {
    use wa::web_message_info::Status;
    match status {
        Status::SERVER_ACK => Some(DeliveryStatus::Sent),
        Status::DELIVERY_ACK => Some(DeliveryStatus::Delivered),
        Status::READ => Some(DeliveryStatus::Read),
        Status::PLAYED => Some(DeliveryStatus::Played),
        Status::PENDING => Some(DeliveryStatus::Pending),
        Status::ERROR => Some(DeliveryStatus::Failed),
    }
}

#[cfg(test)]
mod tests;
