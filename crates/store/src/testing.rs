//! A small hand-made store with known contents, for tests here and in the crates above.
//!
//! The world: Alice and Bruno by phone number; Noa, who writes from a LID mapped to her phone;
//! Zoé, known only by her push name; a group in which all of them talk; and the account owner.
//! Times count in minutes from 2025-03-01T12:00:00Z ([`at`]).

use std::path::PathBuf;

use wamcp_core::{Chat, Contact, Jid, Media, Message, MessageId, MessageKind, Timestamp};

use crate::{Reader, Writer};

pub const ALICE: &str = "447700900123@s.whatsapp.net";
pub const BRUNO: &str = "5511987654321@s.whatsapp.net";
pub const NOA_PHONE: &str = "972521234567@s.whatsapp.net";
pub const NOA_LID: &str = "184467440737095@lid";
pub const ZOE: &str = "33798765432@s.whatsapp.net";
pub const GROUP: &str = "120363000000000001@g.us";
pub const GROUP_NAME: &str = "Trip to SÃO PAULO";

/// 2025-03-01T12:00:00Z plus `minutes`.
pub fn at(minutes: i64) -> Timestamp {
    Timestamp(1_740_830_400_000 + minutes * 60_000)
}

pub fn jid(text: &str) -> Jid {
    Jid::parse(text).expect("test JIDs are valid")
}

/// A store in a temporary directory, removed on drop.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub writer: Writer,
}

impl Fixture {
    /// An empty store.
    pub fn empty() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let writer = Writer::open(&dir.path().join("wamcp.db")).expect("open store");
        Fixture { dir, writer }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("wamcp.db")
    }

    pub fn reader(&self) -> Reader {
        Reader::open(&self.path()).expect("open reader")
    }

    /// Stores messages in one transaction.
    pub fn add(&mut self, messages: &[Message]) {
        let mut batch = self.writer.batch().expect("batch");
        for message in messages {
            batch.insert_message(message).expect("insert");
        }
        batch.commit().expect("commit");
    }

    /// The small world described in the module docs.
    pub fn small_world() -> Fixture {
        let mut fixture = Fixture::empty();
        let mut batch = fixture.writer.batch().expect("batch");
        for (jid_text, full, push) in [
            (ALICE, Some("Alice Smith"), Some("Ali")),
            (BRUNO, Some("Bruno Costa"), None),
            (NOA_PHONE, Some("Noa Levi"), Some("נועה")),
            (ZOE, None, Some("Zoé")),
        ] {
            let mut contact = Contact::new(jid(jid_text));
            contact.full_name = full.map(str::to_string);
            contact.push_name = push.map(str::to_string);
            batch.upsert_contact(&contact).expect("contact");
        }
        batch.map_lid(&jid(NOA_LID), &jid(NOA_PHONE)).expect("lid");
        batch.upsert_chat(&Chat::named(jid(GROUP), Some(GROUP_NAME))).expect("group");
        batch.upsert_chat(&Chat::named(jid(ALICE), Some("Alice Smith"))).expect("chat");
        batch.commit().expect("commit");
        fixture.add(&world_messages());
        let mut batch = fixture.writer.batch().expect("batch");
        batch.set_reaction(&jid(ALICE), "A3", &jid(ALICE), "👍", at(31)).expect("reaction");
        batch.edit_message(&jid(GROUP), "G2", "Flights booked for the 12th (edited)", at(200)).expect("edit");
        batch.revoke_message(&jid(GROUP), "G5").expect("revoke");
        batch.commit().expect("commit");
        fixture
    }
}

/// A text message.
pub fn text(chat: &str, id: &str, sender: Option<&str>, minutes: i64, body: &str) -> Message {
    Message::text(jid(chat), id, sender.map(jid), sender.is_none(), at(minutes), body)
}

fn world_messages() -> Vec<Message> {
    let mut photo = text(ALICE, "A4", Some(ALICE), 40, "");
    photo.kind = MessageKind::Image;
    photo.text = None;
    photo.caption = Some("Avenida Paulista at sunset".into());
    photo.media = Some(Media {
        mimetype: Some("image/jpeg".into()),
        file_name: Some("paulista.jpg".into()),
        size: Some(1234),
        ..Media::default()
    });
    let mut reply = text(ALICE, "A5", None, 50, "Beautiful! See you at the café");
    reply.quoted_id = Some(MessageId("A4".into()));
    vec![
        text(ALICE, "A1", Some(ALICE), 10, "Are we still meeting tomorrow?"),
        text(ALICE, "A2", None, 20, "Yes, lunch at 12:30"),
        text(ALICE, "A3", Some(ALICE), 30, "Great, I booked the restaurant"),
        photo,
        reply,
        text(BRUNO, "B1", Some(BRUNO), 5, "Oi! Chego em São Paulo na sexta"),
        text(BRUNO, "B2", None, 15, "Que ótimo"),
        text(NOA_LID, "N1", Some(NOA_LID), 60, "שלום! Call later?"),
        text(NOA_LID, "N2", None, 70, "Yes, after 6pm"),
        text(NOA_PHONE, "N0", Some(NOA_PHONE), -780, "old chat under the phone number"),
        text(ZOE, "Z1", Some(ZOE), 80, "Coucou ! Tu viens samedi ?"),
        text(GROUP, "G1", Some(ALICE), 100, "Who is coming to SÃO PAULO?"),
        text(GROUP, "G2", Some(BRUNO), 110, "Flights booked for the 12th"),
        text(GROUP, "G3", Some(NOA_LID), 120, "Me! The meeting point is the hotel"),
        text(GROUP, "G4", None, 130, "I'll bring the guidebook"),
        text(GROUP, "G5", Some(ZOE), 140, "oops wrong chat"),
    ]
}
