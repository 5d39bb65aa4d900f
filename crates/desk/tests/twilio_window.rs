//! Answers through Twilio as WhatsApp allows them, against a stand-in for Twilio's Messages API
//! (form posts answered 201 with a message SID, as Twilio documents): free-form answers only
//! within 24 hours of the customer's last message, an approved template to ask them to write
//! otherwise, the answers held until they do; and the status callback moving answers forward.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::*;
use serde_json::json;
use wamcp_core::Timestamp;
use wamcp_desk::model::DeliveryStatus;
use wamcp_desk::reads::{self, InboxFilter};
use wamcp_desk::twilio::Twilio;
use wamcp_desk::twilio_delivery::{StatusChange, StatusReport};
use wamcp_desk::{Channel, Identity, Inbound, Via};

const CUSTOMER: &str = "whatsapp:+14155550124";
const OUR_NUMBER: &str = "whatsapp:+14155238886";
const TEMPLATE: &str = "HXb5b62575e6e4ff6129ad7c8efe1f983e";
const HOUR_MS: i64 = 60 * 60 * 1000;

/// Twilio's Messages API: every form posted is kept; answered 201 with the next SID.
#[derive(Default)]
struct TwilioApi {
    forms: Mutex<Vec<Vec<(String, String)>>>,
}

impl TwilioApi {
    /// What each message sent said: its Body, or its template's ContentSid.
    fn sent(&self) -> Vec<String> {
        let field =
            |form: &Vec<(String, String)>, name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        self.forms
            .lock()
            .unwrap()
            .iter()
            .map(|form| {
                field(form, "Body").or_else(|| field(form, "ContentSid").map(|sid| format!("template {sid}"))).unwrap()
            })
            .collect()
    }
}

async fn messages(State(api): State<Arc<TwilioApi>>, body: String) -> impl IntoResponse {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let mut forms = api.forms.lock().unwrap();
    forms.push(form);
    let sid = format!("SM{:032}", forms.len());
    (StatusCode::CREATED, axum::Json(json!({"sid": sid, "status": "queued"})))
}

async fn twilio(reengage: Option<&str>) -> (Arc<Twilio>, Arc<TwilioApi>) {
    let api = Arc::new(TwilioApi::default());
    let app = axum::Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", axum::routing::post(messages))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut twilio = Twilio::new(format!("AC{}", "1".repeat(32)), "token".into(), url);
    twilio.reengage_content_sid = reengage.map(str::to_string);
    (Arc::new(twilio), api)
}

/// A customer's message as Twilio's webhook hands it over, written `hours_ago`.
fn from_customer(text: &str, id: &str, hours_ago: i64) -> Inbound {
    let mut from = Identity::default().with_phone("+14155550124").unwrap().proven();
    from.whatsapp = from.whatsapp_jid();
    Inbound {
        channel: Channel::Whatsapp,
        via: Via::Twilio,
        address: CUSTOMER.into(),
        channel_account: Some(OUR_NUMBER.into()),
        from,
        channel_message_id: Some(id.into()),
        subject: None,
        body: text.into(),
        wordless: false,
        at: Timestamp(Timestamp::now().millis() - hours_ago * HOUR_MS),
    }
}

async fn statuses(t: &TestDesk, ticket: &str) -> Vec<(String, String)> {
    let ticket = reads::ticket(&t.desk.db, ticket).await.unwrap().unwrap();
    ticket
        .messages
        .into_iter()
        .filter(|m| m.direction == "outbound")
        .map(|m| (m.delivery_status, m.delivery_error.unwrap_or_default()))
        .collect()
}

async fn an_answer_after_the_window_waits_for_the_customer_whom_the_template_asks_to_write(backend: Backend) {
    let (twilio, api) = twilio(Some(TEMPLATE)).await;
    let t = desk_made(backend, |config| config.twilio = Some(twilio)).await;
    // The customer asked 25 hours ago, and the desk was down since.
    let first = t.desk.receive(&from_customer("When will my order ship?", "SMq1", 25)).await.unwrap();
    t.desk.run_pending().await.unwrap();
    assert_eq!(api.sent(), [format!("template {TEMPLATE}")], "only the template may go out");
    let held = statuses(&t, &first.ticket_id).await;
    assert_eq!(held[0].0, "window_closed");
    assert!(held[0].1.contains("customer must write first") && held[0].1.contains("template asked them"), "{held:?}");
    assert_eq!(held[1].0, "sent", "the template is on the ticket");
    let inbox = reads::inbox(&t.desk.db, InboxFilter::Active, 10).await.unwrap();
    assert!(inbox.iter().any(|row| row.ticket_id == first.ticket_id && row.window_closed), "the inbox shows it");

    // A person's reply waits too, and the customer is not asked twice.
    t.desk.reply(&first.ticket_id, "Sorry for the wait: it left today.").await.unwrap();
    assert_eq!(api.sent().len(), 1);

    // The customer writes: everything held goes out, oldest first, then the new answer.
    let second = t.desk.receive(&from_customer("Hello?", "SMq2", 0)).await.unwrap();
    t.desk.run_pending().await.unwrap();
    let sent = api.sent();
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(sent[1].starts_with("*Shipping*"), "the held answer first: {sent:?}");
    assert_eq!(sent[2], "Sorry for the wait: it left today.");
    let all: Vec<(String, String)> =
        [statuses(&t, &first.ticket_id).await, statuses(&t, &second.ticket_id).await].concat();
    assert!(all.iter().all(|(status, _)| status == "sent"), "{all:?}");
    assert!(!reads::inbox(&t.desk.db, InboxFilter::Active, 10).await.unwrap().iter().any(|row| row.window_closed));
}

async fn without_a_template_the_ticket_says_the_customer_must_write_first(backend: Backend) {
    let (twilio, api) = twilio(None).await;
    let t = desk_made(backend, |config| config.twilio = Some(twilio)).await;
    let received = t.desk.receive(&from_customer("When will my order ship?", "SMr1", 30)).await.unwrap();
    t.desk.run_pending().await.unwrap();
    assert!(api.sent().is_empty(), "nothing Twilio would refuse is sent");
    let held = statuses(&t, &received.ticket_id).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].0, "window_closed");
    assert!(held[0].1.contains("desk.twilio_reengage_content_sid"), "{held:?}");
    // Within the window, answers go straight out.
    t.desk.receive(&from_customer("How do I reset my password?", "SMr2", 23)).await.unwrap();
    t.desk.run_pending().await.unwrap();
    assert_eq!(api.sent().len(), 2, "the held answer and the new one: {:?}", api.sent());
}

async fn status_callbacks_move_an_answer_forward_and_a_late_63016_holds_it(backend: Backend) {
    let (twilio, api) = twilio(Some(TEMPLATE)).await;
    let t = desk_made(backend, |config| config.twilio = Some(twilio.clone())).await;
    let received = t.desk.receive(&from_customer("When will my order ship?", "SMs1", 1)).await.unwrap();
    t.desk.run_pending().await.unwrap();
    let sid = format!("SM{:032}", 1);
    let report =
        |status: &str, code: Option<u64>| StatusReport { sid: sid.clone(), status: status.into(), error_code: code };
    let moved = |status| StatusChange::Moved(status);
    assert_eq!(
        t.desk.twilio_status(&twilio, &report("delivered", None)).await.unwrap(),
        moved(DeliveryStatus::Delivered)
    );
    assert_eq!(t.desk.twilio_status(&twilio, &report("sent", None)).await.unwrap(), StatusChange::Unchanged, "late");
    assert_eq!(t.desk.twilio_status(&twilio, &report("read", None)).await.unwrap(), moved(DeliveryStatus::Read));
    assert_eq!(statuses(&t, &received.ticket_id).await[0].0, "read");
    let unknown = StatusReport { sid: "SMnobody".into(), status: "read".into(), error_code: None };
    assert_eq!(t.desk.twilio_status(&twilio, &unknown).await.unwrap(), StatusChange::Unchanged);

    // Twilio took the next one, then WhatsApp refused it for the window (error 63016).
    t.desk.reply(&received.ticket_id, "It left today.").await.unwrap();
    let late = StatusReport { sid: format!("SM{:032}", 2), status: "undelivered".into(), error_code: Some(63016) };
    assert_eq!(t.desk.twilio_status(&twilio, &late).await.unwrap(), moved(DeliveryStatus::WindowClosed));
    assert_eq!(api.sent().last().unwrap(), &format!("template {TEMPLATE}"));
    let failed = StatusReport { sid: format!("SM{:032}", 3), status: "failed".into(), error_code: Some(63024) };
    t.desk.twilio_status(&twilio, &failed).await.unwrap();
    let after = statuses(&t, &received.ticket_id).await;
    assert_eq!(after[1].0, "window_closed");
    assert_eq!(after[2], ("failed".to_string(), "Twilio error 63024 (failed)".to_string()), "{after:?}");
}

on_both!(
    an_answer_after_the_window_waits_for_the_customer_whom_the_template_asks_to_write,
    without_a_template_the_ticket_says_the_customer_must_write_first,
    status_callbacks_move_an_answer_forward_and_a_late_63016_holds_it,
);
