//! The read queries against a small hand-made store: each filter, paging, ordering, Unicode
//! search, LID/phone matching and context windows.

use wamcp_core::{Jid, MessageView};
use wamcp_store::read::{ChatOrder, MessageFilter};
use wamcp_store::testing::*;

fn ids(messages: &[MessageView]) -> Vec<&str> {
    messages.iter().map(|m| m.id.as_str()).collect()
}

fn filter(limit: u32) -> MessageFilter {
    MessageFilter { limit, ..MessageFilter::default() }
}

fn list(reader: &wamcp_store::Reader, filter: &MessageFilter) -> Vec<String> {
    reader.list_messages(filter).unwrap().matches.into_iter().map(|m| m.message.id).collect()
}

#[test]
fn newest_messages_first_across_all_chats_with_paging() {
    let world = Fixture::small_world();
    let reader = world.reader();
    let first = reader.list_messages(&filter(5)).unwrap();
    let first_ids: Vec<&str> = first.matches.iter().map(|m| m.message.id.as_str()).collect();
    assert_eq!(first_ids, ["G5", "G4", "G3", "G2", "G1"]);
    assert!(first.has_more);
    let second = list(&reader, &MessageFilter { offset: 5, ..filter(5) });
    assert_eq!(second, ["Z1", "N2", "N1", "A5", "A4"]);
    let last = reader.list_messages(&MessageFilter { offset: 15, ..filter(5) }).unwrap();
    assert_eq!(last.matches.len(), 1);
    assert!(!last.has_more);
}

#[test]
fn after_and_before_are_strict_bounds() {
    let reader = Fixture::small_world().reader();
    let window = MessageFilter { after: Some(at(30)), before: Some(at(60)), ..filter(20) };
    assert_eq!(list(&reader, &window), ["A5", "A4"]);
}

#[test]
fn a_chat_filter_on_a_person_covers_their_phone_and_lid_chats() {
    let reader = Fixture::small_world().reader();
    let alice = MessageFilter { chats: reader.identities(&jid(ALICE)).unwrap(), ..filter(20) };
    assert_eq!(list(&reader, &alice), ["A5", "A4", "A3", "A2", "A1"]);
    let noa = MessageFilter {
        chats: reader.identities(&Jid::from_phone("+972 52-123-4567").unwrap()).unwrap(),
        ..filter(20)
    };
    assert_eq!(list(&reader, &noa), ["N2", "N1", "N0"]);
}

#[test]
fn a_sender_filter_finds_what_a_person_wrote_under_either_jid() {
    let reader = Fixture::small_world().reader();
    let noa = MessageFilter { senders: reader.identities(&jid(NOA_PHONE)).unwrap(), ..filter(20) };
    assert_eq!(list(&reader, &noa), ["G3", "N1", "N0"]);
}

#[test]
fn search_ignores_case_and_accents_and_covers_captions() {
    let reader = Fixture::small_world().reader();
    for query in ["sao paulo", "SÃO PAULO", "São Paulo", "são"] {
        let found = list(&reader, &MessageFilter { query: Some(query.into()), ..filter(20) });
        assert_eq!(found, ["G1", "B1"], "{query}");
    }
    let caption = list(&reader, &MessageFilter { query: Some("paulista".into()), ..filter(20) });
    assert_eq!(caption, ["A4"]);
    let whole_word = list(&reader, &MessageFilter { query: Some("meet".into()), ..filter(20) });
    assert!(whole_word.is_empty(), "words match whole words");
    let prefix = list(&reader, &MessageFilter { query: Some("meet*".into()), ..filter(20) });
    assert_eq!(prefix, ["G3", "A1"], "a trailing * makes a prefix");
    let punctuation = list(&reader, &MessageFilter { query: Some("12:30".into()), ..filter(20) });
    assert_eq!(punctuation, ["A2"]);
    let hebrew = list(&reader, &MessageFilter { query: Some("שלום".into()), ..filter(20) });
    assert_eq!(hebrew, ["N1"]);
    let syntax = list(&reader, &MessageFilter { query: Some("\"meeting\" OR (".into()), ..filter(20) });
    assert!(syntax.is_empty(), "search syntax in a query is taken as words, not operators");
}

#[test]
fn search_combines_with_chat_and_time_filters() {
    let reader = Fixture::small_world().reader();
    let in_group = MessageFilter { query: Some("meeting".into()), chats: vec![jid(GROUP)], ..filter(20) };
    assert_eq!(list(&reader, &in_group), ["G3"]);
    let before = MessageFilter { query: Some("meeting".into()), before: Some(at(100)), ..filter(20) };
    assert_eq!(list(&reader, &before), ["A1"]);
    let noa = reader.identities(&jid(NOA_PHONE)).unwrap();
    let from_noa = MessageFilter { query: Some("meeting".into()), senders: noa.clone(), ..filter(20) };
    assert_eq!(list(&reader, &from_noa), ["G3"], "a sender's LID messages are found by their phone");
    let in_noa_chats = MessageFilter { query: Some("call".into()), chats: noa, ..filter(20) };
    assert_eq!(list(&reader, &in_noa_chats), ["N1"]);
    let elsewhere = MessageFilter { query: Some("meeting".into()), chats: vec![jid(BRUNO)], ..filter(20) };
    assert!(list(&reader, &elsewhere).is_empty());
}

#[test]
fn an_emoji_query_matches_as_a_substring() {
    let mut world = Fixture::small_world();
    world.add(&[text(ALICE, "A9", Some(ALICE), 300, "party tonight 🎉🎉")]);
    let reader = world.reader();
    assert_eq!(list(&reader, &MessageFilter { query: Some("🎉".into()), ..filter(20) }), ["A9"]);
}

#[test]
fn matches_carry_their_context_in_the_same_chat() {
    let reader = Fixture::small_world().reader();
    let page = reader
        .list_messages(&MessageFilter {
            query: Some("restaurant".into()),
            context_before: 1,
            context_after: 2,
            ..filter(20)
        })
        .unwrap();
    let found = &page.matches[0];
    assert_eq!(found.message.id, "A3");
    assert_eq!(ids(&found.context_before), ["A2"]);
    assert_eq!(ids(&found.context_after), ["A4", "A5"]);
}

#[test]
fn message_context_by_id_and_ambiguous_ids() {
    let mut world = Fixture::small_world();
    let context = world.reader().message_context("G3", None, 2, 5).unwrap();
    assert_eq!(ids(&context.context_before), ["G1", "G2"]);
    assert_eq!(ids(&context.context_after), ["G4", "G5"]);

    world.add(&[text(BRUNO, "A1", Some(BRUNO), 1, "same id, other chat")]);
    let reader = world.reader();
    let err = reader.message_context("A1", None, 1, 1).unwrap_err().to_string();
    assert!(err.contains("several chats") && err.contains("chat_jid"), "{err}");
    let chosen = reader.message_context("A1", Some(&jid(BRUNO)), 0, 0).unwrap();
    assert_eq!(chosen.message.text.as_deref(), Some("same id, other chat"));
    assert!(reader.message_context("nope", None, 1, 1).unwrap_err().to_string().contains("no message with id nope"));
}

#[test]
fn messages_show_names_media_replies_reactions_edits_and_deletions() {
    let reader = Fixture::small_world().reader();
    let all = reader.list_messages(&filter(50)).unwrap().matches;
    let by_id = |id: &str| all.iter().find(|m| m.message.id == id).unwrap().message.clone();
    let photo = by_id("A4");
    assert_eq!(photo.caption.as_deref(), Some("Avenida Paulista at sunset"));
    assert_eq!(photo.media.as_ref().unwrap().file_name.as_deref(), Some("paulista.jpg"));
    assert_eq!(photo.sender_name.as_deref(), Some("Alice Smith"));
    assert_eq!(photo.sender_phone.as_deref(), Some("447700900123"));
    assert_eq!(by_id("A5").quoted_id.as_deref(), Some("A4"));
    assert_eq!(by_id("A5").sender_name.as_deref(), Some("Me"));
    assert_eq!(by_id("A3").reactions[0].emoji, "👍");
    assert_eq!(by_id("A3").reactions[0].sender_name.as_deref(), Some("Alice Smith"));
    let edited = by_id("G2");
    assert_eq!(edited.text.as_deref(), Some("Flights booked for the 12th (edited)"));
    assert!(edited.edited_at.is_some());
    let deleted = by_id("G5");
    assert!(deleted.revoked && deleted.text.is_none());
    // A LID sender is named and given their phone number through the mapping.
    let lid = by_id("G3");
    assert_eq!(lid.sender_jid.as_deref(), Some(NOA_LID));
    assert_eq!(lid.sender_name.as_deref(), Some("Noa Levi"));
    assert_eq!(lid.sender_phone.as_deref(), Some("972521234567"));
    // The index follows edits and deletions.
    assert_eq!(list(&reader, &MessageFilter { query: Some("edited".into()), ..filter(5) }), ["G2"]);
    assert!(list(&reader, &MessageFilter { query: Some("oops".into()), ..filter(5) }).is_empty());
}

#[test]
fn chats_by_activity_and_by_name() {
    let reader = Fixture::small_world().reader();
    let active: Vec<String> =
        reader.list_chats(None, ChatOrder::LastActive, 20, 0, false).unwrap().into_iter().map(|c| c.jid).collect();
    assert_eq!(active, [GROUP, ZOE, NOA_LID, ALICE, BRUNO, NOA_PHONE]);
    let named: Vec<Option<String>> =
        reader.list_chats(None, ChatOrder::Name, 20, 0, false).unwrap().into_iter().map(|c| c.name).collect();
    let named: Vec<&str> = named.iter().map(|n| n.as_deref().unwrap_or("-")).collect();
    assert_eq!(named, ["Alice Smith", "Bruno Costa", "Noa Levi", "Noa Levi", GROUP_NAME, "Zoé"]);
    let paged = reader.list_chats(None, ChatOrder::LastActive, 2, 2, false).unwrap();
    assert_eq!(paged.iter().map(|c| c.jid.as_str()).collect::<Vec<_>>(), [NOA_LID, ALICE]);
}

#[test]
fn chats_with_or_without_their_last_message() {
    let reader = Fixture::small_world().reader();
    let with = reader.list_chats(Some("alice"), ChatOrder::LastActive, 20, 0, true).unwrap();
    assert_eq!(with.len(), 1);
    assert_eq!(with[0].last_message.as_ref().unwrap().id, "A5");
    assert_eq!(with[0].last_message_time, Some(at(50)));
    let without = reader.list_chats(Some("alice"), ChatOrder::LastActive, 20, 0, false).unwrap();
    assert!(without[0].last_message.is_none());
}

#[test]
fn chat_search_by_name_accents_or_number() {
    let reader = Fixture::small_world().reader();
    let find = |q: &str| -> Vec<String> {
        reader.list_chats(Some(q), ChatOrder::LastActive, 20, 0, false).unwrap().into_iter().map(|c| c.jid).collect()
    };
    assert_eq!(find("sao paulo"), [GROUP]);
    assert_eq!(find("ZOE"), [ZOE]);
    assert_eq!(find("+44 7700 900-123"), [ALICE]);
    assert_eq!(find("g.us"), [GROUP]);
    assert!(find("nobody").is_empty());
}

#[test]
fn a_phone_number_finds_the_lid_chat() {
    let reader = Fixture::small_world().reader();
    let chat = reader.direct_chat(&Jid::from_phone("972521234567").unwrap()).unwrap().unwrap();
    assert_eq!(chat.jid, NOA_LID, "the most recently active of the person's chats");
    assert_eq!(chat.name.as_deref(), Some("Noa Levi"));
    assert_eq!(reader.chat(&jid(NOA_PHONE), false).unwrap().unwrap().jid, NOA_PHONE, "an exact JID wins");
    assert!(reader.direct_chat(&Jid::from_phone("15550000000").unwrap()).unwrap().is_none());
}

#[test]
fn contact_chats_lists_each_chat_once() {
    let reader = Fixture::small_world().reader();
    let chats = |who: &str| -> Vec<String> {
        reader.contact_chats(&jid(who), 20, 0).unwrap().into_iter().map(|c| c.jid).collect()
    };
    assert_eq!(chats(ALICE), [GROUP, ALICE]);
    assert_eq!(chats(NOA_PHONE), [GROUP, NOA_LID, NOA_PHONE]);
    assert_eq!(reader.contact_chats(&jid(NOA_PHONE), 1, 1).unwrap()[0].jid, NOA_LID);
}

#[test]
fn last_interaction_spans_direct_chats_and_groups() {
    let reader = Fixture::small_world().reader();
    let last = |who: &str| reader.last_interaction(&reader.identities(&jid(who)).unwrap()).unwrap().map(|m| m.id);
    assert_eq!(last(NOA_PHONE).as_deref(), Some("G3"));
    assert_eq!(last(ALICE).as_deref(), Some("G1"));
    assert_eq!(last("15550000000@s.whatsapp.net"), None);
}

#[test]
fn contact_search_covers_names_push_names_and_numbers() {
    let mut world = Fixture::small_world();
    let mut batch = world.writer.batch().unwrap();
    batch.upsert_chat(&wamcp_core::Chat::named(jid("15550001111@s.whatsapp.net"), Some("Plumber Joe"))).unwrap();
    batch.commit().unwrap();
    let reader = world.reader();
    let find = |q: &str| -> Vec<String> { reader.search_contacts(q).unwrap().into_iter().map(|c| c.jid).collect() };
    assert_eq!(find("alice"), [ALICE]);
    assert_eq!(find("ali"), [ALICE], "full and push name of one contact give one result");
    assert_eq!(find("zoe"), [ZOE], "a push name, accents ignored");
    assert_eq!(find("+44 7700-900 123"), [ALICE]);
    assert_eq!(find("plumber"), ["15550001111@s.whatsapp.net"], "a direct chat with no contact entry");
    let noa = reader.search_contacts("levi").unwrap();
    assert_eq!(noa[0].lid.as_deref(), Some(NOA_LID));
    assert_eq!(noa[0].phone_number.as_deref(), Some("972521234567"));
    assert!(find("nobody").is_empty());
}
