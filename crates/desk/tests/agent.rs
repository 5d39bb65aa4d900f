//! The agent end to end on a real SQLite database: answers, limits, escalation, hand-over to a
//! person and back, deduplication, and customers followed across channels.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::Value;
use wamcp_core::Timestamp;
use wamcp_desk::agent::provider::KnowledgeSearch;
use wamcp_desk::agent::provider::{DraftRequest, Provider, ProviderError};
use wamcp_desk::{Decision, Reason, Step, reads};

/// The ticket as the API answers it (JSON), read as a client would.
async fn ticket(t: &TestDesk, id: &str) -> Value {
    serde_json::to_value(reads::ticket(&t.desk.db, id).await.unwrap().expect("ticket exists")).unwrap()
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
        Err(ProviderError {
            provider: "down".into(),
            kind: wamcp_desk::agent::provider::FailureKind::Unreachable,
            detail: "connection refused".into(),
        })
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

fn email_from(address: &str, name: &str, text: &str) -> wamcp_desk::Inbound {
    wamcp_desk::Inbound {
        channel: wamcp_desk::Channel::Email,
        via: wamcp_desk::Via::Webhook,
        address: address.to_string(),
        from: wamcp_desk::Identity::default().with_email(address).unwrap().with_name(Some(name)).proven(),
        channel_account: None,
        channel_message_id: Some(format!("<{}@mail>", text.len())),
        subject: Some("Order".into()),
        body: text.to_string(),
        wordless: false,
        at: Timestamp::now(),
    }
}

/// Ticket ids and identifiers of the customer behind an identifier.
async fn customer(t: &TestDesk, kind: wamcp_desk::model::IdentifierKind, value: &str) -> Value {
    serde_json::to_value(reads::customer_by(&t.desk.db, kind, value).await.unwrap().expect("customer exists")).unwrap()
}

async fn an_anonymous_web_form_cannot_take_over_a_customer(backend: Backend) {
    use wamcp_desk::model::IdentifierKind::{Email, Phone};
    let recorder = Arc::new(Recorder::default());
    let t = desk_with(backend, recorder.clone()).await;
    // 1. The victim writes by email: a customer and a ticket.
    let victim =
        t.desk.receive(&email_from("victim@example.com", "Vera Victim", "My order 1234 is late")).await.unwrap();
    t.desk.run_pending().await.unwrap();
    // 2. Anyone submits the form claiming the victim's email and their own phone.
    let mut form = web_form("Send me everything", "victim@example.com", Some("+15557770010"));
    form.from = form.from.with_name(Some("Attacker"));
    let claimed = t.desk.receive(&form).await.unwrap();
    assert_ne!(claimed.customer_id, victim.customer_id, "the form never joins a known customer");
    let known = customer(&t, Email, "victim@example.com").await;
    assert_eq!(known["customer_id"], victim.customer_id.as_str());
    assert_eq!(known["name"], "Vera Victim", "the form never renames");
    let kinds: Vec<&str> =
        known["identifiers"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["email"], "the form never adds an identifier");
    let form_ticket = ticket(&t, &claimed.ticket_id).await;
    assert_eq!(form_ticket["possibly_same_customer"]["customer_id"], victim.customer_id.as_str());
    // 3. WhatsApp from the attacker's phone sees none of the victim's history.
    let attacker = t.desk.receive(&whatsapp_from("+15557770010", "What did I order?", "ATT1")).await.unwrap();
    assert_ne!(attacker.customer_id, victim.customer_id);
    t.desk.run_pending().await.unwrap();
    let seen = recorder.seen.lock().unwrap().clone();
    let asked = seen.iter().find(|r| r.message == "What did I order?").expect("the agent drafted an answer");
    assert!(asked.history.iter().all(|h| !h.body.contains("1234")), "{:?}", asked.history);
    assert!(customer(&t, Phone, "+15557770010").await["customer_id"] != victim.customer_id.as_str());
    // 4. A person's reply on the victim's ticket goes to the victim, not to the attacker's phone.
    let whatsapp_before = t.outbox.texts().len();
    t.desk.reply(&victim.ticket_id, "Dear Vera, it ships today.").await.unwrap();
    assert_eq!(t.outbox.texts().len(), whatsapp_before, "nothing went to WhatsApp");
    let thread = ticket(&t, &victim.ticket_id).await;
    let last = thread["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["channel"], "email");
    assert!(last["body"].as_str().unwrap().contains("Dear Vera, it ships today."), "{last}");
    assert!(
        seen.iter().all(|r| r.channel != wamcp_desk::Channel::Email || r.customer_name.as_deref() != Some("Attacker"))
    );
}

async fn a_person_merges_a_form_customer_the_desk_marked_as_possibly_known(backend: Backend) {
    use wamcp_desk::model::IdentifierKind::Email;
    let t = desk(backend).await;
    let known = t.desk.receive(&email_from("bo@example.com", "Bo", "Hello there")).await.unwrap();
    let form = t.desk.receive(&web_form("It is Bo again", "bo@example.com", Some(PHONE))).await.unwrap();
    assert_ne!(form.customer_id, known.customer_id);
    // Nothing named: the merge says what it needs.
    let unnamed = t.desk.merge_customers(&known.ticket_id, None).await.unwrap_err().to_string();
    assert!(unnamed.contains("names no other customer"), "{unnamed}");
    let kept = t.desk.merge_customers(&form.ticket_id, None).await.unwrap();
    assert_eq!(kept, known.customer_id);
    let merged = customer(&t, Email, "bo@example.com").await;
    assert_eq!(merged["history"].as_array().unwrap().len(), 2, "both messages are the customer's now");
    let kinds: Vec<&str> =
        merged["identifiers"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["email"], "a claimed phone stays a claim, even after a merge");
    assert!(ticket(&t, &form.ticket_id).await["possibly_same_customer"].is_null());
}

async fn forgetting_a_number_removes_what_web_forms_claimed_about_it(backend: Backend) {
    let t = desk(backend).await;
    t.desk.receive(&web_form("Call me", "someone@example.com", Some(PHONE))).await.unwrap();
    let forgotten = wamcp_desk::erase::forget(&t.desk.db, &wamcp_core::Jid::from_phone(PHONE).unwrap()).await.unwrap();
    assert_eq!(forgotten.claims, 1);
    assert_eq!(forgotten.customers, 0, "the form's customer claimed an email too: it is not only theirs");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM customer_claims WHERE value = $1")
        .bind(PHONE)
        .fetch_one(t.desk.db.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
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
    assert_eq!(conversation.state, "ended");
}

async fn an_answer_queued_before_a_crash_is_sent_once_after_restart(backend: Backend) {
    let t = desk(backend).await;
    // The bridge is stopping: the answer is stored, queued.
    let dir = tempfile::tempdir().unwrap();
    let config = wamcp_desk::DeskConfig {
        database_url: Some(database_url(backend, dir.path()).await),
        data_dir: dir.path().to_path_buf(),
        rules: Default::default(),
        style: Default::default(),
        provider: Arc::new(wamcp_desk::agent::offline::Offline),
        twilio: None,
        smtp: None,
        mail_retry_after: wamcp_desk::delivery::MAIL_RETRY_AFTER,
        sink: None,
    };
    let offline = wamcp_desk::Desk::open(config.clone()).await.unwrap();
    offline.connect_whatsapp(Arc::new(Outbox { stopping: true, ..Outbox::default() }), Arc::new(Source));
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
    serde_json::to_value(reads::ticket(&desk.db, id).await.unwrap().unwrap()).unwrap()
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
    restarted.connect_whatsapp(t.outbox.clone(), Arc::new(Source));
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

async fn a_bridge_restarted_after_a_crash_takes_back_its_own_claims_at_once(backend: Backend) {
    let t = desk(backend).await;
    let mine = t.desk.receive(&whatsapp("When will my order ship?", "OWN1")).await.unwrap();
    let theirs = t.desk.receive(&whatsapp_from("+447700900555", "When will my order ship?", "OTHER1")).await.unwrap();
    // This bridge was answering one when it was killed; another live bridge is answering the other.
    for (id, bridge) in [(&mine.message_id, "test-bridge"), (&theirs.message_id, "bridge-b")] {
        sqlx::query("UPDATE messages SET agent_state = 'working', claimed_at = $1, claimed_by = $2 WHERE id = $3")
            .bind(Timestamp::now().millis())
            .bind(bridge)
            .bind(id)
            .execute(t.desk.db.pool())
            .await
            .unwrap();
    }
    let restarted = another_desk_on(&t).await;
    restarted.connect_whatsapp(t.outbox.clone(), Arc::new(Source));
    let (released, expected) = match backend {
        // One process owns a SQLite desk: every old claim was released when it opened.
        Backend::Sqlite => (0, 2),
        // Its own claim only: the other bridge's holds, as that bridge may be answering right now.
        Backend::Postgres => (1, 1),
    };
    assert_eq!(restarted.agent.release_own_claims().await.unwrap(), released);
    let answered = restarted.run_pending().await.unwrap();
    assert_eq!(answered.len(), expected);
    assert_eq!(t.outbox.texts().len(), expected);
}

async fn an_answer_one_bridge_took_is_never_sent_by_another(backend: Backend) {
    let t = desk(backend).await;
    let other = Arc::new(Outbox { bridge: Some("bridge-b"), ..Outbox::default() });
    let second = another_desk_on(&t).await;
    second.connect_whatsapp(other.clone(), Arc::new(Source));
    t.desk.receive(&whatsapp("When will my order ship?", "TAKE1")).await.unwrap();
    t.desk.run_pending().await.unwrap();
    assert_eq!(t.outbox.texts().len(), 1);
    // The bridge died after its outbox took the answer, before the desk noted it as sent.
    sqlx::query(
        "UPDATE messages SET delivery_status = 'queued', channel_message_id = NULL WHERE direction = 'outbound'",
    )
    .execute(t.desk.db.pool())
    .await
    .unwrap();
    second.run_pending().await.unwrap();
    assert!(other.texts().is_empty(), "only the bridge whose outbox has it may send it: another would send it twice");
    t.desk.run_pending().await.unwrap();
    assert_eq!(t.outbox.texts().len(), 1, "sent again under the same key: one message");
}

async fn a_worker_without_a_bridge_leaves_whatsapp_messages_to_the_bridges(backend: Backend) {
    let t = desk(backend).await;
    let beside = another_desk_on(&t).await;
    t.desk.receive(&whatsapp("When will my order ship?", "WB1")).await.unwrap();
    beside.receive(&web_form("How do I reset my password?", "ann@example.com", None)).await.unwrap();
    let by_the_worker = beside.run_pending().await.unwrap();
    assert_eq!(by_the_worker.len(), 1, "the web form's message only");
    assert_eq!(t.desk.run_pending().await.unwrap().len(), 1, "the bridge answers the WhatsApp message");
    assert_eq!(t.outbox.texts().len(), 1);
}

/// A photo without a caption or a voice note nobody transcribed has no words to answer: a person
/// gets it. A customer who types what such a message is shown as is answered like any other.
async fn an_attachment_without_words_goes_to_a_person_but_its_placeholder_typed_does_not(backend: Backend) {
    let t = desk(backend).await;
    let voice = wamcp_desk::feed::Arrived {
        chat: wamcp_core::Jid::from_phone(PHONE).unwrap(),
        id: "V1".into(),
        from_me: false,
        kind: wamcp_core::MessageKind::Voice,
        text: None,
        caption: None,
        transcript: None,
        at: Timestamp::now(),
    };
    let inbound = wamcp_desk::Inbound::from_whatsapp(&voice, wamcp_desk::Via::Bridge).unwrap();
    assert_eq!(inbound.body, "[voice]", "the inbox shows what it was");
    let received = t.desk.receive(&inbound).await.unwrap();
    let outcomes = t.desk.run_pending().await.unwrap();
    assert_eq!(outcomes[0].decision, Decision::Escalate { reason: Reason::NoWords });
    assert_eq!(ticket(&t, &received.ticket_id).await["escalation_reason"], "no_words");

    t.desk.receive(&whatsapp_from("+447700900555", "[voice]", "T1")).await.unwrap();
    let outcomes = t.desk.run_pending().await.unwrap();
    assert!(matches!(outcomes[0].decision, Decision::Answer { .. }), "{:?}", outcomes[0].decision);
}

/// A desk before `wordless` kept only the placeholder: a voice note it stored, still waiting when
/// it is upgraded, goes to a person all the same.
async fn a_voice_note_waiting_from_before_the_upgrade_still_goes_to_a_person(backend: Backend) {
    let t = desk(backend).await;
    let received = t.desk.receive(&whatsapp("[voice]", "OLD1")).await.unwrap();
    for statement in
        ["ALTER TABLE messages DROP COLUMN wordless", "UPDATE desk_meta SET value = '6' WHERE key = 'schema_version'"]
    {
        sqlx::query(statement).execute(t.desk.db.pool()).await.unwrap();
    }
    let upgraded = another_desk_on(&t).await;
    upgraded.connect_whatsapp(t.outbox.clone(), Arc::new(Source));
    let outcomes = upgraded.run_pending().await.unwrap();
    assert_eq!(outcomes[0].decision, Decision::Escalate { reason: Reason::NoWords });
    assert_eq!(ticket(&t, &received.ticket_id).await["escalation_reason"], "no_words");
}

/// Two bridges receive every message. The second's intake of one the first already stored holds
/// the ticket (it reopened it) when it finds the message there. An answer stored meanwhile must
/// wait for the ticket before it touches the message; the other way round the two wait on each
/// other, PostgreSQL aborts one as a deadlock, and the customer waits.
#[tokio::test]
async fn an_answer_and_another_bridges_copy_of_its_message_do_not_deadlock() {
    let t = desk(Backend::Postgres).await;
    let received = t.desk.receive(&whatsapp("When will my order ship?", "DL1")).await.unwrap();
    // The other bridge's intake of its copy, part way: the ticket is reopened, the copy not stored yet.
    let mut intake = t.desk.db.pool().begin().await.unwrap();
    sqlx::query("UPDATE tickets SET status = 'open', updated_at = $1 WHERE id = $2")
        .bind(Timestamp::now().millis())
        .bind(&received.ticket_id)
        .execute(&mut *intake)
        .await
        .unwrap();
    let desk = t.desk.clone();
    let message_id = received.message_id.clone();
    let answering = tokio::spawn(async move { desk.agent.handle(&message_id).await });
    wait_for_a_lock_wait(&t).await;
    let copy = sqlx::query(
        "INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, via, address, \
         channel_message_id, author, body, created_at, delivery_status, agent_state) \
         VALUES ('msg_copy', $1, $2, $3, 'inbound', 'whatsapp', 'bridge', $4, 'DL1', 'customer', 'copy', $5, \
         'received', 'pending') \
         ON CONFLICT (channel, channel_message_id) DO NOTHING",
    )
    .bind(&received.conversation_id)
    .bind(&received.ticket_id)
    .bind(&received.customer_id)
    .bind(whatsapp("", "").address)
    .bind(Timestamp::now().millis())
    .execute(&mut *intake)
    .await
    .expect("the copy is found to be one, without a deadlock");
    assert_eq!(copy.rows_affected(), 0);
    intake.rollback().await.unwrap();
    let outcome = answering.await.unwrap().expect("answered, without a deadlock");
    assert!(outcome.is_some(), "the message is answered in this round");
    assert_eq!(ticket(&t, &received.ticket_id).await["status"], "waiting");
}

/// Until a statement on `t`'s database waits for a row another transaction holds.
async fn wait_for_a_lock_wait(t: &TestDesk) {
    for _ in 0..1000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(t.desk.db.pool())
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("nothing waited for a lock within 10 s: the answer never reached the ticket");
}

async fn futures_join<T: Send + 'static>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

async fn the_answer_is_listed_after_the_message_it_answers_whatever_their_times(backend: Backend) {
    let t = desk(backend).await;
    // The customer's message carries a time ahead of the desk's clock (a phone's clock, or the
    // same millisecond as the answer): what was stored first is still shown first.
    let mut question = whatsapp("When will my order ship?", "T1");
    question.at = Timestamp(Timestamp::now().millis() + 60_000);
    let received = t.desk.receive(&question).await.unwrap();
    t.desk.run_pending().await.unwrap();
    let ticket = ticket(&t, &received.ticket_id).await;
    let directions: Vec<&str> =
        ticket["messages"].as_array().unwrap().iter().map(|m| m["direction"].as_str().unwrap()).collect();
    assert_eq!(directions, ["inbound", "outbound"]);
    let conversation = ticket["conversation_id"].as_str().unwrap().to_string();
    let thread = reads::conversation(&t.desk.db, &conversation).await.unwrap().expect("conversation exists");
    let directions: Vec<&str> = thread.messages.iter().map(|m| m.direction.as_str()).collect();
    assert_eq!(directions, ["inbound", "outbound"]);
}

async fn a_thanks_after_a_resolution_reopens_nothing_and_gets_no_answer(backend: Backend) {
    let t = desk(backend).await;
    let first = t.desk.receive(&whatsapp("I will contact my lawyer about this", "R1")).await.unwrap();
    t.desk.run_pending().await.unwrap();
    t.desk.reply(&first.ticket_id, "I have refunded the order, Ann.").await.unwrap();
    t.desk.resolve(&first.ticket_id).await.unwrap();
    let said = t.outbox.texts().len();

    let thanks = t.desk.receive(&whatsapp("Thanks, that works.", "R2")).await.unwrap();
    assert_eq!(thanks.ticket_id, first.ticket_id, "the thanks joins the ticket it thanks for");
    assert!(!thanks.new_ticket && !thanks.for_agent);
    assert!(t.desk.run_pending().await.unwrap().is_empty());
    assert_eq!(t.outbox.texts().len(), said, "no answer to a thanks");
    let ticket = ticket(&t, &first.ticket_id).await;
    assert_eq!(ticket["status"], "resolved");
    assert_eq!(ticket["messages"].as_array().unwrap().last().unwrap()["body"], "Thanks, that works.");

    // A real question afterwards is a new ticket, answered.
    let question = t.desk.receive(&whatsapp("When will my order ship?", "R3")).await.unwrap();
    assert!(question.new_ticket && question.for_agent);
    t.desk.run_pending().await.unwrap();
    assert_eq!(t.outbox.texts().len(), said + 1);
}

async fn a_thanks_for_an_answer_keeps_the_ticket_waiting_and_is_no_miss(backend: Backend) {
    let t = desk(backend).await;
    let asked = t.desk.receive(&whatsapp("When will my order ship?", "W1")).await.unwrap();
    t.desk.run_pending().await.unwrap();
    assert_eq!(t.outbox.texts().len(), 1);
    for (n, text) in ["thank you so much!", "ok 👍"].into_iter().enumerate() {
        let thanks = t.desk.receive(&whatsapp(text, &format!("W{}", n + 2))).await.unwrap();
        assert_eq!(thanks.ticket_id, asked.ticket_id);
        assert!(!thanks.for_agent);
    }
    assert!(t.desk.run_pending().await.unwrap().is_empty());
    assert_eq!(t.outbox.texts().len(), 1, "nothing more was sent");
    let ticket = ticket(&t, &asked.ticket_id).await;
    assert_eq!(ticket["status"], "waiting", "two thanks are not two misses: nothing escalated");
}

async fn a_question_in_another_language_gets_the_desks_words_in_it_and_escalates_as_language(backend: Backend) {
    let t = desk(backend).await;
    // The knowledge base is English; the customer writes Spanish.
    let first = t.desk.receive(&whatsapp("¿Cuándo llega mi pedido?", "ES1")).await.unwrap();
    t.desk.run_pending().await.unwrap();
    let said = t.outbox.texts();
    assert!(said[0].starts_with("Gracias por su mensaje. Todavía no he encontrado una respuesta"), "{said:?}");
    t.desk.receive(&whatsapp("¿Dónde está mi paquete?", "ES2")).await.unwrap();
    let outcomes = t.desk.run_pending().await.unwrap();
    assert_eq!(outcomes[0].decision, Decision::Escalate { reason: Reason::Language });
    let ticket = ticket(&t, &first.ticket_id).await;
    assert_eq!(ticket["escalation_reason"], "language", "not knowledge_gap: the base may well have the answer");
    assert!(t.outbox.texts()[1].contains("una persona le responderá"), "{:?}", t.outbox.texts());
}

async fn a_model_is_told_the_customers_language(backend: Backend) {
    let recorder = Arc::new(Recorder::default());
    let t = desk_with(backend, recorder.clone()).await;
    t.desk.receive(&whatsapp("Wann wird meine Bestellung verschickt?", "DE1")).await.unwrap();
    t.desk.run_pending().await.unwrap();
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen[0].language, Some(wamcp_desk::language::Lang::German));
    let prompt = wamcp_desk::agent::llm::prompt(&seen[0]);
    assert!(prompt.contains(r#""customer_language":"German""#), "{prompt}");
    let told = wamcp_desk::agent::llm::instructions(wamcp_desk::Channel::Whatsapp, true);
    assert!(told.contains("Answer in the customer's language"), "{told}");
}

on_both!(
    a_voice_note_waiting_from_before_the_upgrade_still_goes_to_a_person,
    an_attachment_without_words_goes_to_a_person_but_its_placeholder_typed_does_not,
    a_question_in_another_language_gets_the_desks_words_in_it_and_escalates_as_language,
    a_model_is_told_the_customers_language,
    a_thanks_after_a_resolution_reopens_nothing_and_gets_no_answer,
    a_thanks_for_an_answer_keeps_the_ticket_waiting_and_is_no_miss,
    the_answer_is_listed_after_the_message_it_answers_whatever_their_times,
    a_message_claimed_when_the_desk_died_is_answered_after_restart,
    first_messages_arriving_together_make_one_customer_and_one_ticket,
    two_workers_on_one_database_answer_each_message_once,
    a_whatsapp_question_is_answered_from_the_knowledge_base_in_order,
    the_same_message_twice_gives_one_ticket_and_one_reply,
    legal_threats_go_to_a_person_and_the_agent_stays_silent_until_resolved,
    two_misses_in_a_row_escalate_but_a_hit_between_them_does_not,
    a_failing_provider_still_gets_the_customer_an_answer,
    an_anonymous_web_form_cannot_take_over_a_customer,
    a_person_merges_a_form_customer_the_desk_marked_as_possibly_known,
    forgetting_a_number_removes_what_web_forms_claimed_about_it,
    a_day_of_quiet_starts_a_new_conversation_and_ticket,
    an_answer_queued_before_a_crash_is_sent_once_after_restart,
    a_bridge_restarted_after_a_crash_takes_back_its_own_claims_at_once,
    an_answer_one_bridge_took_is_never_sent_by_another,
    a_worker_without_a_bridge_leaves_whatsapp_messages_to_the_bridges,
);
