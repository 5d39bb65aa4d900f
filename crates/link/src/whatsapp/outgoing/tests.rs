//! Outgoing messages built on real waproto values, as the phone will read them.

use wamcp_core::{Content, Jid, MessageId, MessageKind, MessageRef, Outgoing};

use super::*;

const ALICE: &str = "447700900123@s.whatsapp.net";

fn uploaded() -> Uploaded {
    Uploaded {
        url: "https://mmg.whatsapp.net/x".into(),
        direct_path: "/v/t62/x".into(),
        media_key: vec![1; 32],
        file_sha256: vec![3; 32],
        file_enc_sha256: vec![2; 32],
        file_length: 4,
        media_key_timestamp: 1_700_000_000,
    }
}

#[test]
fn a_sticker_goes_as_a_sticker_not_as_a_photo() {
    let message = sticker(uploaded(), "image/webp", None);
    let sticker = message.sticker_message.as_option().expect("a sticker message");
    assert_eq!(sticker.mimetype.as_deref(), Some("image/webp"));
    assert_eq!(sticker.direct_path.as_deref(), Some("/v/t62/x"));
    assert!(message.image_message.as_option().is_none());
    assert_eq!(media_type(MessageKind::Sticker), MediaType::Sticker);
}

#[test]
fn a_document_with_a_caption_is_wrapped_so_the_phone_shows_the_caption() {
    let document = wa::Message {
        document_message: MessageField::some(wa::message::DocumentMessage {
            caption: Some("Q3 figures".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let wrapped = captioned_document(document);
    let inner = wrapped.document_with_caption_message.as_option().and_then(|w| w.message.as_option()).unwrap();
    assert_eq!(inner.document_message.as_option().unwrap().caption.as_deref(), Some("Q3 figures"));
}

#[test]
fn quoting_oneself_names_the_account_and_quoting_someone_names_them() {
    let me: whatsapp_rust::Jid = "447911123456:3@s.whatsapp.net".parse().unwrap();
    let mut reply = Outgoing {
        chat: Jid::parse(ALICE).unwrap(),
        id: MessageId("3EB0REPLY".into()),
        content: Content::Text("yes".into()),
        reply_to: Some(MessageRef {
            id: MessageId("3EB0MINE".into()),
            from_me: true,
            sender: None,
            text: Some("8?".into()),
            wire_chat: None,
            kind: MessageKind::Text,
            media: None,
        }),
        mentions: Vec::new(),
    };
    let own = context(&reply, Some(&me)).unwrap();
    assert_eq!(own.participant.as_deref(), Some("447911123456@s.whatsapp.net"));
    assert_eq!(own.stanza_id.as_deref(), Some("3EB0MINE"));
    reply.reply_to = Some(MessageRef {
        id: MessageId("3EB0HERS".into()),
        from_me: false,
        sender: Some(Jid::parse(ALICE).unwrap()),
        text: Some("dinner?".into()),
        wire_chat: None,
        kind: MessageKind::Text,
        media: None,
    });
    let theirs = context(&reply, Some(&me)).unwrap();
    assert_eq!(theirs.participant.as_deref(), Some(ALICE));
    let wire = text("yes", Some(theirs));
    assert_eq!(wire.extended_text_message.as_option().unwrap().text.as_deref(), Some("yes"));
    assert_eq!(text("plain", None).conversation.as_deref(), Some("plain"));
}

#[test]
fn a_reaction_key_names_the_chat_as_the_message_arrived_and_a_participant_only_in_groups() {
    const GROUP: &str = "120363025246125486@g.us";
    const ALICE_LID: &str = "184467440737095@lid";
    let from = |sender: &str, wire_chat: Option<&str>| MessageRef {
        id: MessageId("3EB0TARGET".into()),
        from_me: false,
        sender: Some(Jid::parse(sender).unwrap()),
        text: None,
        wire_chat: wire_chat.map(|c| Jid::parse(c).unwrap()),
        kind: MessageKind::Text,
        media: None,
    };
    let direct = key(&Jid::parse(ALICE).unwrap(), &from(ALICE, Some(ALICE_LID)));
    assert_eq!((direct.remote_jid.as_deref(), direct.participant.as_deref()), (Some(ALICE_LID), None));
    let in_group = key(&Jid::parse(GROUP).unwrap(), &from(ALICE_LID, None));
    assert_eq!((in_group.remote_jid.as_deref(), in_group.participant.as_deref()), (Some(GROUP), Some(ALICE_LID)));
    let mut own = from(ALICE, None);
    own.from_me = true;
    assert_eq!(key(&Jid::parse(GROUP).unwrap(), &own).participant, None, "our own message names no author");
}

#[test]
fn a_reply_quotes_the_message_itself_a_photo_as_a_photo() {
    let photo = wamcp_core::Media {
        mimetype: Some("image/jpeg".into()),
        size: Some(2048),
        sha256: Some(vec![1; 32]),
        enc_sha256: Some(vec![2; 32]),
        media_key: Some(vec![3; 32]),
        direct_path: Some("/v/t62/abc".into()),
        url: Some("https://mmg.whatsapp.net/v/t62/abc".into()),
        ..Default::default()
    };
    let quoted = |kind, media| MessageRef {
        id: MessageId("3EB0PHOTO".into()),
        from_me: false,
        sender: Some(Jid::parse(ALICE).unwrap()),
        text: Some("the beach".into()),
        wire_chat: None,
        kind,
        media,
    };
    let image = quoted_message(&quoted(MessageKind::Image, Some(photo.clone())));
    let image = image.image_message.as_option().expect("quoted as an image");
    assert_eq!(image.caption.as_deref(), Some("the beach"));
    assert_eq!(image.media_key.as_deref(), Some(&[3u8; 32][..]));
    assert_eq!(image.direct_path.as_deref(), Some("/v/t62/abc"));
    assert_eq!((image.mimetype.as_deref(), image.file_length), (Some("image/jpeg"), Some(2048)));

    let voice = quoted_message(&quoted(MessageKind::Voice, Some(photo.clone())));
    assert_eq!(voice.audio_message.as_option().and_then(|a| a.ptt), Some(true));
    let document = quoted_message(&quoted(MessageKind::Document, Some(photo)));
    assert_eq!(document.document_message.as_option().and_then(|d| d.caption.as_deref()), Some("the beach"));
    let without_keys = quoted_message(&quoted(MessageKind::Image, None));
    assert_eq!(without_keys.conversation.as_deref(), Some("the beach"), "no attachment known: its words");
}
