//! Routes that take customers' messages in: the WhatsApp webhook, the email webhook and the web
//! form. Each answers once the message is committed, with the ticket it joined.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use wamcp_core::Timestamp;

use super::DeskApp;
use super::error::{ApiError, FormOrJson, JsonBody};
use crate::{Channel, Identity, Inbound, Via};

/// The longest message taken in, in characters.
const MAX_MESSAGE_CHARS: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappBody {
    pub phone: String,
    pub message: String,
    /// The sender's own id for the message: the same id twice is one message.
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

pub async fn whatsapp(
    State(app): State<Arc<DeskApp>>,
    JsonBody(body): JsonBody<WhatsappBody>,
) -> Result<Json<Value>, ApiError> {
    // The token proves the caller is the business's own WhatsApp integration.
    let mut from = Identity::default().with_phone(&body.phone)?.with_name(body.name.as_deref()).proven();
    // The number is a WhatsApp account: the bridge will see it under this JID.
    from.whatsapp = from.whatsapp_jid();
    let address = from.whatsapp.as_ref().map(|jid| jid.to_string()).unwrap_or_default();
    let inbound = Inbound {
        channel: Channel::Whatsapp,
        via: Via::Webhook,
        from,
        address,
        channel_account: None,
        channel_message_id: body.message_id.filter(|id| !id.trim().is_empty()),
        subject: None,
        body: message_text("message", &body.message)?,
        wordless: false,
        at: Timestamp::now(),
    };
    received(&app, &inbound).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    /// `ann@example.com` or `Ann Lee <ann@example.com>`.
    pub from: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub body: String,
    #[serde(default)]
    pub message_id: Option<String>,
}

pub async fn email(
    State(app): State<Arc<DeskApp>>,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Json<Value>, ApiError> {
    let (name, address) = split_mailbox(&body.from);
    let from = Identity::default().with_email(address).map_err(|e| ApiError::bad_request(format!("from: {e}")))?;
    // The mail system behind the token-protected webhook vouches for the sender.
    let from = from.with_name(name).proven();
    let inbound = Inbound {
        channel: Channel::Email,
        via: Via::Webhook,
        address: from.email.clone().unwrap_or_default(),
        from,
        channel_account: None,
        channel_message_id: body.message_id.filter(|id| !id.trim().is_empty()),
        subject: body.subject.filter(|s| !s.trim().is_empty()),
        body: message_text("body", &body.body)?,
        wordless: false,
        at: Timestamp::now(),
    };
    received(&app, &inbound).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebFormBody {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    pub subject: String,
    pub message: String,
}

pub async fn web_form(
    State(app): State<Arc<DeskApp>>,
    FormOrJson(body): FormOrJson<WebFormBody>,
) -> Result<Json<Value>, ApiError> {
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("name: give your name"));
    }
    // Anyone can fill in the form: what it says about who they are is a claim (see customers.rs).
    let mut from = Identity::default().with_email(&body.email)?.with_name(Some(&body.name));
    if let Some(phone) = body.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        from = from.with_phone(phone)?;
    }
    let inbound = Inbound {
        channel: Channel::WebForm,
        via: Via::Webhook,
        address: from.email.clone().unwrap_or_default(),
        from,
        channel_account: None,
        channel_message_id: None,
        subject: Some(body.subject.trim().to_string()).filter(|s| !s.is_empty()),
        body: message_text("message", &body.message)?,
        wordless: false,
        at: Timestamp::now(),
    };
    received(&app, &inbound).await
}

async fn received(app: &DeskApp, inbound: &Inbound) -> Result<Json<Value>, ApiError> {
    let received = app.desk.receive(inbound).await?;
    Ok(Json(json!({
        "status": "received",
        "ticket_id": received.ticket_id,
        "channel": inbound.channel.as_str(),
        "duplicate": received.duplicate,
    })))
}

fn message_text(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::bad_request(format!("{field}: the message is empty")));
    }
    let chars = text.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(ApiError::bad_request(format!(
            "{field}: {chars} characters is too long; at most {MAX_MESSAGE_CHARS} are taken"
        )));
    }
    Ok(text.to_string())
}

/// (display name, address) of `Name <address>` or a bare address.
fn split_mailbox(from: &str) -> (Option<&str>, &str) {
    match (from.find('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = from[..open].trim().trim_matches('"').trim();
            ((!name.is_empty()).then_some(name), from[open + 1..close].trim())
        }
        _ => (None, from.trim()),
    }
}
