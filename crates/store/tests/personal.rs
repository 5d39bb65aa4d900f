//! Telling the owner's personal chats from strangers': the address book, and what the owner
//! wrote by hand (not through wamcp).

use wamcp_core::Jid;
use wamcp_store::Personal;
use wamcp_store::testing::*;

fn personal(store: &Fixture, who: &str) -> Option<Personal> {
    store.reader().personal_chat(&Jid::parse(who).unwrap(), at(-100_000)).unwrap()
}

#[test]
fn people_in_the_address_book_are_personal_under_any_of_their_jids() {
    let store = Fixture::small_world();
    assert_eq!(personal(&store, ALICE), Some(Personal::InAddressBook));
    assert_eq!(personal(&store, NOA_LID), Some(Personal::InAddressBook), "known by phone, writing by LID");
    assert_eq!(personal(&store, ZOE), None, "a push name alone is not the address book");
}

#[test]
fn a_chat_the_owner_wrote_in_by_hand_is_personal_but_not_one_wamcp_wrote_in() {
    let mut store = Fixture::small_world();
    store.add(&[text(ZOE, "Z2", None, 90, "sent through wamcp")]);
    let mut batch = store.writer.batch().unwrap();
    batch.enqueue(&Jid::parse(ZOE).unwrap(), "Z2", Some("desk-answer"), "{}", at(90)).unwrap();
    batch.commit().unwrap();
    assert_eq!(personal(&store, ZOE), None, "what wamcp sent (the desk's answers) does not count");
    store.add(&[text(ZOE, "Z3", None, 95, "typed on the phone")]);
    assert_eq!(personal(&store, ZOE), Some(Personal::OwnerWrote(vec!["Z3".into()])));
    let later = store.reader().personal_chat(&Jid::parse(ZOE).unwrap(), at(100)).unwrap();
    assert_eq!(later, None, "only what the owner wrote since the time asked about counts");
}
