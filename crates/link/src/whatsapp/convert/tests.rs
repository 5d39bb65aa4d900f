//! The conversions on real waproto values, built the way the library hands them over.

use wamcp_core::{DeliveryStatus, Jid, MessageKind, Timestamp, Update};
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::types::presence::ReceiptType;
use whatsapp_rust::waproto::whatsapp as wa;

use super::*;

const ALICE: &str = "447700900123@s.whatsapp.net";
const GROUP: &str = "120363025246125486@g.us";

fn envelope(chat: &str, sender: &str, from_me: bool) -> Envelope {
    Envelope {
        chat: Jid::parse(chat).unwrap(),
        id: "3EB0ABC".into(),
        sender: Some(Jid::parse(sender).unwrap()),
        from_me,
        at: Timestamp(1_700_000_000_000),
    }
}

fn stored(update: Option<Update>) -> wamcp_core::Message {
    match update {
        Some(Update::Message(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn wrap(inner: wa::Message) -> MessageField<wa::message::FutureProofMessage> {
    MessageField::some(wa::message::FutureProofMessage { message: MessageField::some(inner) })
}

#[test]
fn plain_and_extended_text_with_a_reply() {
    let plain = wa::Message { conversation: Some("Lunch?".into()), ..Default::default() };
    let message = stored(message_update(&envelope(ALICE, ALICE, false), &plain));
    assert_eq!((message.kind, message.text.as_deref()), (MessageKind::Text, Some("Lunch?")));
    assert_eq!(message.timestamp, Timestamp(1_700_000_000_000));

    let reply = wa::Message {
        extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("Yes, 12:30".into()),
            context_info: MessageField::some(wa::ContextInfo {
                stanza_id: Some("3EB0QUOTED".into()),
                participant: Some(ALICE.into()),
                quoted_message: MessageField::some(plain),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let message = stored(message_update(&envelope(ALICE, ALICE, true), &reply));
    assert_eq!(message.text.as_deref(), Some("Yes, 12:30"));
    assert_eq!(message.quoted_id.as_ref().map(|q| q.as_str()), Some("3EB0QUOTED"));
    assert_eq!(message.status, Some(DeliveryStatus::Sent), "own messages from the phone count as sent");
}

#[test]
fn captions_of_images_videos_and_documents_are_kept() {
    let image = wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            caption: Some("Sunset at Paulista".into()),
            mimetype: Some("image/jpeg".into()),
            direct_path: Some("/v/t62/abc.enc".into()),
            media_key: Some(vec![7; 32]),
            file_length: Some(1234),
            ..Default::default()
        }),
        ..Default::default()
    };
    let message = stored(message_update(&envelope(ALICE, ALICE, false), &image));
    assert_eq!(message.kind, MessageKind::Image);
    assert_eq!(message.caption.as_deref(), Some("Sunset at Paulista"));
    let media = message.media.unwrap();
    assert_eq!((media.direct_path.as_deref(), media.size), (Some("/v/t62/abc.enc"), Some(1234)));
    assert_eq!(media.media_key, Some(vec![7; 32]));

    let video = wa::Message {
        video_message: MessageField::some(wa::message::VideoMessage {
            caption: Some("goal!".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(stored(message_update(&envelope(ALICE, ALICE, false), &video)).caption.as_deref(), Some("goal!"));

    // A document with a caption comes wrapped.
    let document = wa::Message {
        document_with_caption_message: wrap(wa::Message {
            document_message: MessageField::some(wa::message::DocumentMessage {
                caption: Some("Q3 invoice".into()),
                file_name: Some("invoice.pdf".into()),
                mimetype: Some("application/pdf".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let message = stored(message_update(&envelope(ALICE, ALICE, false), &document));
    assert_eq!(message.kind, MessageKind::Document);
    assert_eq!(message.caption.as_deref(), Some("Q3 invoice"));
    assert_eq!(message.media.unwrap().file_name.as_deref(), Some("invoice.pdf"));
}

#[test]
fn ephemeral_and_view_once_wrappers_are_unwrapped() {
    let text = wa::Message { conversation: Some("disappearing".into()), ..Default::default() };
    let ephemeral = wa::Message { ephemeral_message: wrap(text), ..Default::default() };
    assert_eq!(
        stored(message_update(&envelope(ALICE, ALICE, false), &ephemeral)).text.as_deref(),
        Some("disappearing")
    );

    let photo = wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            caption: Some("once".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let view_once = wa::Message { view_once_message_v2: wrap(photo), ..Default::default() };
    let message = stored(message_update(&envelope(ALICE, ALICE, false), &view_once));
    assert_eq!((message.kind, message.caption.as_deref()), (MessageKind::Image, Some("once")));
}

#[test]
fn edits_and_revokes_name_their_target() {
    use wa::message::protocol_message::Type;
    let key = || {
        MessageField::some(wa::MessageKey {
            remote_jid: Some(ALICE.into()),
            from_me: Some(false),
            id: Some("3EB0TARGET".into()),
            participant: None,
        })
    };
    let edit = wa::Message {
        edited_message: wrap(wa::Message {
            protocol_message: MessageField::some(wa::message::ProtocolMessage {
                r#type: Some(Type::MESSAGE_EDIT),
                key: key(),
                edited_message: MessageField::some(wa::Message {
                    conversation: Some("Standup at 10:30".into()),
                    ..Default::default()
                }),
                timestamp_ms: Some(1_700_000_060_000),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    match message_update(&envelope(ALICE, ALICE, false), &edit) {
        Some(Update::Edited { id, text, at, .. }) => {
            assert_eq!(
                (id.as_str(), text.as_str(), at),
                ("3EB0TARGET", "Standup at 10:30", Timestamp(1_700_000_060_000))
            );
        }
        other => panic!("expected an edit, got {other:?}"),
    }
    let revoke = wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(Type::REVOKE),
            key: key(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(matches!(
        message_update(&envelope(ALICE, ALICE, false), &revoke),
        Some(Update::Revoked { id, .. }) if id.as_str() == "3EB0TARGET"
    ));
}

#[test]
fn reactions_polls_locations_cards_stickers_and_voice_notes() {
    let reaction = wa::Message {
        reaction_message: MessageField::some(wa::message::ReactionMessage {
            key: MessageField::some(wa::MessageKey { id: Some("3EB0TARGET".into()), ..Default::default() }),
            text: Some("❤️".into()),
            sender_timestamp_ms: Some(1_700_000_000_500),
            ..Default::default()
        }),
        ..Default::default()
    };
    match message_update(&envelope(GROUP, ALICE, false), &reaction) {
        Some(Update::Reaction { id, sender, emoji, .. }) => {
            assert_eq!((id.as_str(), sender.as_str(), emoji.as_str()), ("3EB0TARGET", ALICE, "❤️"));
        }
        other => panic!("expected a reaction, got {other:?}"),
    }

    let poll = wa::Message {
        poll_creation_message_v3: MessageField::some(wa::message::PollCreationMessage {
            name: Some("Dinner?".into()),
            options: vec![
                wa::message::poll_creation_message::Option { option_name: Some("Pizza".into()), ..Default::default() },
                wa::message::poll_creation_message::Option { option_name: Some("Sushi".into()), ..Default::default() },
            ],
            ..Default::default()
        }),
        ..Default::default()
    };
    let message = stored(message_update(&envelope(GROUP, ALICE, false), &poll));
    assert_eq!((message.kind, message.text.as_deref()), (MessageKind::Poll, Some("Dinner? (Pizza / Sushi)")));

    let location = wa::Message {
        location_message: MessageField::some(wa::message::LocationMessage {
            name: Some("Hotel Unique".into()),
            address: Some("Av. Brigadeiro Luís Antônio 4700".into()),
            degrees_latitude: Some(-23.58),
            degrees_longitude: Some(-46.66),
            ..Default::default()
        }),
        ..Default::default()
    };
    let message = stored(message_update(&envelope(ALICE, ALICE, false), &location));
    assert_eq!(message.text.as_deref(), Some("Hotel Unique, Av. Brigadeiro Luís Antônio 4700"));

    let card = wa::Message {
        contact_message: MessageField::some(wa::message::ContactMessage {
            display_name: Some("Dr. Patel".into()),
            vcard: Some("BEGIN:VCARD\nEND:VCARD".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(stored(message_update(&envelope(ALICE, ALICE, false), &card)).kind, MessageKind::ContactCard);

    let sticker = wa::Message {
        sticker_message: MessageField::some(wa::message::StickerMessage {
            mimetype: Some("image/webp".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(stored(message_update(&envelope(ALICE, ALICE, false), &sticker)).kind, MessageKind::Sticker);

    let voice = wa::Message {
        audio_message: MessageField::some(wa::message::AudioMessage {
            ptt: Some(true),
            seconds: Some(7),
            mimetype: Some("audio/ogg; codecs=opus".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(stored(message_update(&envelope(ALICE, ALICE, false), &voice)).kind, MessageKind::Voice);
}

#[test]
fn messages_that_change_nothing_readable_are_skipped() {
    assert_eq!(message_update(&envelope(ALICE, ALICE, false), &wa::Message::default()), None);
}

#[test]
fn history_sync_brings_names_lid_mappings_chats_and_messages() {
    let sync = wa::HistorySync {
        sync_type: wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP,
        progress: Some(40),
        conversations: vec![wa::Conversation {
            id: GROUP.into(),
            name: Some("Wedding planning".into()),
            unread_count: Some(2),
            archived: Some(true),
            messages: vec![wa::HistorySyncMsg {
                message: MessageField::some(wa::WebMessageInfo {
                    key: MessageField::some(wa::MessageKey {
                        remote_jid: Some(GROUP.into()),
                        from_me: Some(false),
                        id: Some("3EB0HIST".into()),
                        participant: Some("184467440737095@lid".into()),
                    }),
                    message: MessageField::some(wa::Message {
                        conversation: Some("Venue visit on the 3rd".into()),
                        ..Default::default()
                    }),
                    message_timestamp: Some(1_700_000_000),
                    push_name: Some("Noa".into()),
                    ..Default::default()
                }),
                msg_order_id: Some(1),
            }],
            ..Default::default()
        }],
        pushnames: vec![wa::Pushname { id: Some(ALICE.into()), pushname: Some("Alice".into()) }],
        phone_number_to_lid_mappings: vec![wa::PhoneNumberToLIDMapping {
            pn_jid: Some("972521234567@s.whatsapp.net".into()),
            lid_jid: Some("184467440737095@lid".into()),
        }],
        ..Default::default()
    };
    let batch = history(&sync);
    assert_eq!(batch.progress, Some(40));
    assert_eq!(
        batch.lid_map,
        vec![(Jid::parse("184467440737095@lid").unwrap(), Jid::parse("972521234567@s.whatsapp.net").unwrap())]
    );
    let names: Vec<(&str, Option<&str>)> =
        batch.contacts.iter().map(|c| (c.jid.as_str(), c.push_name.as_deref())).collect();
    assert_eq!(names, vec![(ALICE, Some("Alice")), ("184467440737095@lid", Some("Noa"))]);
    let chat = &batch.chats[0];
    assert_eq!((chat.name.as_deref(), chat.unread_count, chat.archived), (Some("Wedding planning"), 2, true));
    let message = stored(batch.updates.into_iter().next());
    assert_eq!(message.sender.as_ref().map(Jid::as_str), Some("184467440737095@lid"));
    assert_eq!(message.timestamp, Timestamp::from_secs(1_700_000_000));
    assert_eq!(message.text.as_deref(), Some("Venue visit on the 3rd"));
}

#[test]
fn receipts_report_delivery_read_and_played_only() {
    let chat: whatsapp_rust::Jid = ALICE.parse().unwrap();
    let device: whatsapp_rust::Jid = "447700900123:3@s.whatsapp.net".parse().unwrap();
    let ids = vec!["3EB0A".to_string()];
    let read = receipt(&chat, &device, &ids, &ReceiptType::Read, Timestamp(5)).unwrap();
    assert_eq!((read.status, read.from.as_str()), (DeliveryStatus::Read, ALICE), "the device part is dropped");
    assert!(receipt(&chat, &device, &ids, &ReceiptType::Retry, Timestamp(5)).is_none());
}

#[test]
fn connect_failures_are_transient_only_when_the_client_retries_them_itself() {
    use whatsapp_rust::types::events::ConnectFailureReason as R;
    assert!(
        matches!(connect_failure(R::ServiceUnavailable, None), Disconnect::Transient(why) if why == "503 service unavailable")
    );
    assert_eq!(connect_failure(R::BadUserAgent, None), Disconnect::ClientOutdated);
    assert_eq!(
        connect_failure(R::ClientUnknown, Some("who are you")),
        Disconnect::Refused { code: 418, why: "client unknown: who are you".into() }
    );
    assert_eq!(
        connect_failure(R::Unknown(499), Some("")),
        Disconnect::Refused { code: 499, why: "unknown reason".into() }
    );
    assert_eq!(failure(R::UnknownLogout), (406, "logged out"));
}

#[test]
fn an_address_book_entry_names_the_person_under_both_addresses() {
    let action = wa::sync_action_value::ContactAction {
        full_name: Some("Alice Archer".into()),
        first_name: Some("Alice".into()),
        lid_jid: Some("123456789@lid".into()),
        pn_jid: Some(ALICE.into()),
        ..Default::default()
    };
    let by_phone: whatsapp_rust::Jid = ALICE.parse().unwrap();
    let contact = address_book(&by_phone, &action).unwrap();
    assert_eq!(contact.jid.as_str(), ALICE);
    assert_eq!(contact.lid.as_ref().map(Jid::as_str), Some("123456789@lid"));
    assert_eq!(contact.full_name.as_deref(), Some("Alice Archer"));
    // Filed under a LID with no phone given, with only a first name.
    let by_lid: whatsapp_rust::Jid = "987654321@lid".parse().unwrap();
    let first_only = wa::sync_action_value::ContactAction { first_name: Some(" Bob ".into()), ..Default::default() };
    let bob = address_book(&by_lid, &first_only).unwrap();
    assert_eq!((bob.jid.as_str(), bob.phone_jid, bob.full_name.as_deref()), ("987654321@lid", None, Some("Bob")));
    // A removal (no name) names nobody.
    assert_eq!(address_book(&by_phone, &wa::sync_action_value::ContactAction::default()), None);
}

#[test]
fn a_refused_pairing_code_says_what_to_do() {
    use whatsapp_rust::wacore::pair_code::PairCodeRejection as R;
    assert!(pairing_code_refused(Some(R::FeatureNotAvailable), None).contains("without --phone"));
    let throttled = pairing_code_refused(Some(R::RateOverlimit), Some(30));
    assert!(throttled.contains("wait 30 seconds, then try again"), "{throttled}");
    assert!(pairing_code_refused(None, None).contains("no answer"));
}

#[test]
fn is_on_whatsapp_answers_match_the_numbers_as_the_server_wrote_them() {
    let jid = |s: &str| Some(Jid::parse(s).unwrap());
    // Brazil: typed without the ninth digit, answered with it, in the query's order.
    let typed = vec!["551187654321".to_string(), "447700900123".to_string(), "15550000000".to_string()];
    let answers = vec![
        (jid("5511987654321@s.whatsapp.net"), true),
        (jid("447700900123@s.whatsapp.net"), true),
        (jid("15550000000@s.whatsapp.net"), false),
    ];
    let matched = registered(&typed, &answers);
    assert_eq!(matched[0].as_ref().map(Jid::as_str), Some("5511987654321@s.whatsapp.net"));
    assert_eq!(matched[1].as_ref().map(Jid::as_str), Some("447700900123@s.whatsapp.net"));
    assert_eq!(matched[2], None, "not registered");
    // Answers in another order, one missing: only exact numbers match.
    let shuffled = vec![(jid("447700900123@s.whatsapp.net"), true), (jid("5511987654321@s.whatsapp.net"), true)];
    let matched = registered(&typed, &shuffled);
    assert_eq!((matched[0].clone(), matched[1].as_ref().map(Jid::as_str)), (None, Some("447700900123@s.whatsapp.net")));
}
