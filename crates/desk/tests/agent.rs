//! The agent end to end on a real SQLite database: answers, limits, escalation, hand-over to a
//! person and back, deduplication, and customers followed across channels.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::Value;
use wamcp_core::Timestamp;
use wamcp_desk::agent::llm::KnowledgeSearch;
use wamcp_desk::agent::provider::{DraftRequest, Provider, ProviderError};
use wamcp_desk::{Decision, Reason, Step, reads};

async fn ticket(t: &TestDesk, id: &str) -> Value {
    reads::ticket(&t.desk.db, id).await.unwrap().expect("ticket exists")
}

async fn a_whatsapp_question_is_answered_from_the_knowledge_base_in_order(backend: Backend) {
    let t = desk(backend).await;
    let received = t.desk.receive(&whatsapp("When will my order ship?", "A1")).await.unwrap();
    assert!(received.new_ticket && received.for_agent);

    let outcomes = t.desk.run_pending().await.unwrap();
    assert_eq!(outcomes.len(), 1);
    let outcome = &outcomes[0];
    assert_eq!(outcome.steps, vec![Step::Ticket, Step::History, Step::KnowledgeBase, Step::Decide, Step::Send]);
    assert_eq!(outcome.decision, Decision::Answer { article: Some("shipping".into()), provider: "offline".into() });

    let sent = t.outbox.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let (to, text, _) = &sent[0];
    assert_eq!(to, "923001234567@s.whatsapp.net");
    assert!(text.starts_with("*Shipping*\nOrders ship within two working days"), "{text}");
    assert!(text.chars().count() <= 300);
    assert!(!text.contains("Tracking links"), "only the first paragraph goes to WhatsApp: {text}");

    let ticket = ticket(&t, &received.ticket_id).await;
    assert_eq!(ticket["status"], "waiting");
    let messages = ticket["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["direction"], "outbound");
    assert_eq!(messages[1]["delivery_status"], "sent");
}

async fn the_same_message_twice_gives_one_ticket_and_one_reply(backend: Backend) {
    let t = desk(backend).await;
    let first = t.desk.receive(&whatsapp("When will my order ship?", "DUP")).await.unwrap();
    let again = t.desk.receive(&whatsapp("When will my order ship?", "DUP")).await.unwrap();
    assert_eq!(again.ticket_id, first.ticket_id);
    assert!(again.duplicate && !first.duplicate);
    t.desk.run_pending().await.unwrap();
    t.desk.receive(&whatsapp("When will my order ship?", "DUP")).await.unwrap();
    t.desk.run_pending().await.unwrap();
    assert_eq!(t.outbox.texts().len(), 1);
    assert_eq!(ticket(&t, &first.ticket_id).await["messages"].as_array().unwrap().len(), 2);
}

async fn legal_threats_go_to_a_person_and_the_agent_stays_silent_until_resolved(backend: Backend) {
    let t = desk(backend).await;
    let received = t.desk.receive(&whatsapp("I will contact my lawyer about this", "L1")).await.unwrap();
    let outcomes = t.desk.run_pending().await.unwrap();
    assert_eq!(outcomes[0].decision, Decision::Escalate { reason: Reason::Legal });
    let ticket_now = ticket(&t, &received.ticket_id).await;
    assert_eq!(ticket_now["status"], "escalated");
    assert_eq!(ticket_now["escalation_reason"], "legal");
    assert_eq!(ticket_now["priority"], "urgent");
    let notice = t.outbox.texts();
    assert_eq!(notice.len(), 1);
    assert!(notice[0].contains("a person will reply"), "{notice:?}");

    // While a person has it, the customer's messages wait for them.
    let held = t.desk.receive(&whatsapp("When will my order ship?", "L2")).await.unwrap();
    assert_eq!(held.ticket_id, received.ticket_id);
    assert!(!held.for_agent);
    assert!(t.desk.run_pending().await.unwrap().is_empty());
    assert_eq!(t.outbox.texts().len(), 1);

    t.desk.reply(&received.ticket_id, "Hello Ann, I am sorry about this. I am looking into it now.").await.unwrap();
    assert_eq!(t.outbox.texts().len(), 2);
    assert!(!t.outbox.texts()[1].contains("Reply *human*"), "a person's reply has no bot footer");
    t.desk.resolve(&received.ticket_id).await.unwrap();

    // After resolution the next message is a new ticket, and the agent answers again.
    let next = t.desk.receive(&whatsapp("How do I reset my password?", "L3")).await.unwrap();
    assert_ne!(next.ticket_id, received.ticket_id);
    assert!(next.new_ticket);
    let outcomes = t.desk.run_pending().await.unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert!(t.outbox.texts()[2].contains("Forgot password"));
}

async fn two_misses_in_a_row_escalate_but_a_hit_between_them_does_not(backend: Backend) {
    let t = desk(backend).await;
    t.desk.receive(&whatsapp("Do you sell bicycles?", "M1")).await.unwrap();
    let first = t.desk.run_pending().await.unwrap();
    assert!(matches!(first[0].decision, Decision::Answer { article: None, .. }));
    t.desk.receive(&whatsapp("When will my order ship?", "M2")).await.unwrap();
    t.desk.receive(&whatsapp("And scooters?", "M3")).await.unwrap();
    let outcomes = t.desk.run_pending().await.unwrap();
    assert!(outcomes.iter().all(|o| matches!(o.decision, Decision::Answer { .. })), "{outcomes:?}");
    t.desk.receive(&whatsapp("What about tricycles?", "M4")).await.unwrap();
    let last = t.desk.run_pending().await.unwrap();
    assert_eq!(last[0].decision, Decision::Escalate { reason: Reason::KnowledgeGap });
}

/// A provider that fails, as a provider whose server is down does.
struct Down;

#[async_trait::async_trait]
impl Provider for Down {
    fn name(&self) -> &str {
        "down"
    }
    async fn draft(&self, _: &DraftRequest, _: &dyn KnowledgeSearch) -> Result<String, ProviderError> {
        Err(ProviderError { provider: "down".into(), detail: "connection refused".into() })
    }
}

async fn a_failing_provider_still_gets_the_customer_an_answer(backend: Backend) {
    let t = desk_with(backend, Arc::new(Down)).await;
    t.desk.receive(&whatsapp("How do I reset my password?", "P1")).await.unwrap();
    let outcomes = t.desk.run_pending().await.unwrap();
    assert_eq!(outcomes[0].decision, Decision::Answer { article: Some("password".into()), provider: "offline".into() });
    assert!(t.outbox.texts()[0].contains("Forgot password"));
}

/// A provider that keeps what it was shown.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<DraftRequest>>,
}

#[async_trait::async_trait]
impl Provider for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn draft(&self, request: &DraftRequest, _: &dyn KnowledgeSearch) -> Result<String, ProviderError> {
        self.seen.lock().unwrap().push(request.clone());
        Ok("Noted, thank you.".into())
    }
}

async fn a_web_form_links_email_and_phone_so_whatsapp_sees_the_email_history(backend: Backend) {
    let recorder = Arc::new(Recorder::default());
    let t = desk_with(backend, recorder.clone()).await;
    t.desk
        .receive(&web_form("My parcel never arrived, order 1234.", "Ann@Example.com", Some("0092 300 1234567")))
        .await
        .unwrap();
    t.desk.run_pending().await.unwrap();
    t.desk.receive(&whatsapp("Any news on my parcel?", "X1")).await.unwrap();
    t.desk.run_pending().await.unwrap();

    let seen = recorder.seen.lock().unwrap().clone();
    let history: Vec<(&str, &str)> = seen[1].history.iter().map(|h| (h.channel.as_str(), h.body.as_str())).collect();
    assert_eq!(history[0], ("web_form", "My parcel never arrived, order 1234."));
    assert_eq!(history[1].0, "web_form");
    assert!(history[1].1.contains("Noted"));

    let customer = reads::customer_by(&t.desk.db, wamcp_desk::model::IdentifierKind::Email, "ann@example.com")
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<&str> =
        customer["identifiers"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["email", "phone", "whatsapp"]);
    let channels: Vec<&str> =
        customer["history"].as_array().unwrap().iter().map(|m| m["channel"].as_str().unwrap()).collect();
    assert_eq!(channels, vec!["web_form", "web_form", "whatsapp", "whatsapp"]);
}

async fn customers_known_separately_are_merged_when_one_message_names_both(backend: Backend) {
    let t = desk(backend).await;
    let by_email = t.desk.receive(&web_form("Hello there", "bo@example.com", None)).await.unwrap();
    let by_phone = t.desk.receive(&whatsapp("Hi, it is Bo", "B1")).await.unwrap();
    assert_ne!(by_email.customer_id, by_phone.customer_id);
    let both = t.desk.receive(&web_form("Same person", "bo@example.com", Some(PHONE))).await.unwrap();
    assert_eq!(both.customer_id, by_email.customer_id, "the older customer is kept");
    let customer =
        reads::customer_by(&t.desk.db, wamcp_desk::model::IdentifierKind::Phone, PHONE).await.unwrap().unwrap();
    assert_eq!(customer["customer_id"], by_email.customer_id.as_str());
    assert_eq!(customer["history"].as_array().unwrap().len(), 3);
}

async fn a_day_of_quiet_starts_a_new_conversation_and_ticket(backend: Backend) {
    let t = desk(backend).await;
    let mut old = whatsapp("When will my order ship?", "D1");
    old.at = Timestamp(Timestamp::now().millis() - 25 * 3600 * 1000);
    let first = t.desk.receive(&old).await.unwrap();
    let mut recent = whatsapp("When will my order ship?", "D2");
    recent.at = Timestamp(old.at.millis() + 3600 * 1000);
    let same = t.desk.receive(&recent).await.unwrap();
    assert_eq!(same.ticket_id, first.ticket_id, "an hour later is the same conversation");
    let later = t.desk.receive(&whatsapp("Another question", "D3")).await.unwrap();
    assert_ne!(later.conversation_id, first.conversation_id);
    assert_ne!(later.ticket_id, first.ticket_id);
    let conversation = reads::conversation(&t.desk.db, &first.conversation_id).await.unwrap().unwrap();
    assert_eq!(conversation["state"], "ended");
}

async fn an_answer_queued_before_a_crash_is_sent_once_after_restart(backend: Backend) {
    let t = desk(backend).await;
    // No way out yet: the answer is stored, queued.
    let dir = tempfile::tempdir().unwrap();
    let config = wamcp_desk::DeskConfig {
        database_url: Some(database_url(backend, dir.path()).await),
        data_dir: dir.path().to_path_buf(),
        rules: Default::default(),
        style: Default::default(),
        provider: Arc::new(wamcp_desk::agent::offline::Offline),
        twilio: None,
        sink: None,
    };
    let offline = wamcp_desk::Desk::open(config.clone()).await.unwrap();
    let received = offline.receive(&whatsapp("Hello", "C1")).await.unwrap();
    offline.run_pending().await.unwrap();
    assert_eq!(ticket_in(&offline, &received.ticket_id).await["messages"][1]["delivery_status"], "queued");
    drop(offline);

    let reopened = wamcp_desk::Desk::open(config).await.unwrap();
    reopened.connect_whatsapp(t.outbox.clone(), Arc::new(Source));
    reopened.run_pending().await.unwrap();
    reopened.run_pending().await.unwrap();
    assert_eq!(t.outbox.texts().len(), 1);
    assert_eq!(ticket_in(&reopened, &received.ticket_id).await["messages"][1]["delivery_status"], "sent");
}

async fn ticket_in(desk: &wamcp_desk::Desk, id: &str) -> Value {
    reads::ticket(&desk.db, id).await.unwrap().unwrap()
}

async fn first_messages_arriving_together_make_one_customer_and_one_ticket(backend: Backend) {
    let t = desk(backend).await;
    let arrivals = (0..8).map(|i| {
        let desk = t.desk.clone();
        tokio::spawn(async move { desk.receive(&whatsapp("Hello?", &format!("T{i}"))).await.unwrap() })
    });
    let received: Vec<_> = futures_join(arrivals).await;
    let customers: std::collections::HashSet<_> = received.iter().map(|r| r.customer_id.clone()).collect();
    let tickets: std::collections::HashSet<_> = received.iter().map(|r| r.ticket_id.clone()).collect();
    assert_eq!((customers.len(), tickets.len()), (1, 1), "{received:?}");
}

async fn two_workers_on_one_database_answer_each_message_once(backend: Backend) {
    let t = desk(backend).await;
    let second = another_desk_on(&t).await;
    second.connect_whatsapp(t.outbox.clone(), Arc::new(Source));
    for i in 0..20 {
        t.desk
            .receive(&whatsapp_from(&format!("+44770090{i:04}"), "When will my order ship?", &format!("W{i}")))
            .await
            .unwrap();
    }
    let (a, b) = tokio::join!(t.desk.run_pending(), second.run_pending());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 20, "every message answered once between them");
    let sent = t.outbox.sent.lock().unwrap().clone();
    let recipients: std::collections::HashSet<_> = sent.iter().map(|(to, _, _)| to.clone()).collect();
    assert_eq!((sent.len(), recipients.len()), (20, 20));
}

async fn a_message_claimed_when_the_desk_died_is_answered_after_restart(backend: Backend) {
    let t = desk(backend).await;
    let received = t.desk.receive(&whatsapp("When will my order ship?", "CL1")).await.unwrap();
    // The worker had claimed it when the process was killed.
    sqlx::query("UPDATE messages SET agent_state = 'working', claimed_at = $1 WHERE id = $2")
        .bind(wamcp_core::Timestamp::now().millis())
        .bind(&received.message_id)
        .execute(t.desk.db.pool())
        .await
        .unwrap();
    let restarted = another_desk_on(&t).await;
    let answered = restarted.run_pending().await.unwrap();
    match backend {
        // One process owns a SQLite desk: its old claim is released at start.
        Backend::Sqlite => assert_eq!(answered.len(), 1),
        // Other workers may share PostgreSQL: the claim holds until it expires.
        Backend::Postgres => {
            assert!(answered.is_empty());
            sqlx::query("UPDATE messages SET claimed_at = $1 WHERE id = $2")
                .bind(wamcp_core::Timestamp::now().millis() - 6 * 60 * 1000)
                .bind(&received.message_id)
                .execute(restarted.db.pool())
                .await
                .unwrap();
            assert_eq!(restarted.run_pending().await.unwrap().len(), 1, "an expired claim is taken over");
        }
    }
}

async fn futures_join<T: Send + 'static>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

on_both!(
    a_message_claimed_when_the_desk_died_is_answered_after_restart,
    first_messages_arriving_together_make_one_customer_and_one_ticket,
    two_workers_on_one_database_answer_each_message_once,
    a_whatsapp_question_is_answered_from_the_knowledge_base_in_order,
    the_same_message_twice_gives_one_ticket_and_one_reply,
    legal_threats_go_to_a_person_and_the_agent_stays_silent_until_resolved,
    two_misses_in_a_row_escalate_but_a_hit_between_them_does_not,
    a_failing_provider_still_gets_the_customer_an_answer,
    a_web_form_links_email_and_phone_so_whatsapp_sees_the_email_history,
    customers_known_separately_are_merged_when_one_message_names_both,
    a_day_of_quiet_starts_a_new_conversation_and_ticket,
    an_answer_queued_before_a_crash_is_sent_once_after_restart,
);
