//! Forgetting a customer on request: everything about them goes, on every channel, and nobody
//! else's records are touched.

mod common;

use common::*;
use wamcp_core::Jid;
use wamcp_desk::model::IdentifierKind;
use wamcp_desk::reads;

const OTHER_PHONE: &str = "+447700900123";

async fn forgetting_a_whatsapp_number_erases_the_customer_on_every_channel(backend: Backend) {
    let t = desk(backend).await;
    // Ann writes from the web form naming her phone, then on WhatsApp; a person sees they are
    // one and merges them: one customer, two tickets.
    t.desk.receive(&web_form("Where is my parcel?", "ann@example.com", Some(PHONE))).await.unwrap();
    t.desk.run_pending().await.unwrap();
    let on_whatsapp = t.desk.receive(&whatsapp("Any news on my order shipping?", "W1")).await.unwrap();
    t.desk.run_pending().await.unwrap();
    t.desk.merge_customers(&on_whatsapp.ticket_id, None).await.unwrap();
    // Someone else writes too.
    t.desk.receive(&whatsapp_from(OTHER_PHONE, "When will my order ship?", "O1")).await.unwrap();
    t.desk.run_pending().await.unwrap();

    let forgotten = t.desk.forget(&Jid::from_phone(PHONE).unwrap()).await.unwrap();

    assert_eq!(forgotten.customers, 1);
    assert_eq!(forgotten.identifiers, 2, "phone and WhatsApp JID");
    assert_eq!(forgotten.claims, 2, "the email and phone the form claimed");
    assert_eq!(forgotten.tickets, forgotten.conversations);
    assert!(forgotten.tickets >= 1);
    assert!(forgotten.messages >= 4, "both questions and both answers: {forgotten:?}");
    assert!(forgotten.events >= 2, "the events about her: {forgotten:?}");
    for (kind, value) in [
        (IdentifierKind::Email, "ann@example.com".to_string()),
        (IdentifierKind::Phone, PHONE.to_string()),
        (IdentifierKind::Whatsapp, Jid::from_phone(PHONE).unwrap().to_string()),
    ] {
        assert!(reads::customer_by(&t.desk.db, kind, &value).await.unwrap().is_none(), "{value} is still known");
    }
    let other = reads::customer_by(&t.desk.db, IdentifierKind::Phone, OTHER_PHONE).await.unwrap().expect("kept");
    assert_eq!(other.history.len(), 2, "the other customer's question and answer stay");

    // Asked again, there is nothing left to forget.
    let again = t.desk.forget(&Jid::from_phone(PHONE).unwrap()).await.unwrap();
    assert_eq!(again, Default::default());
}

on_both!(forgetting_a_whatsapp_number_erases_the_customer_on_every_channel);
