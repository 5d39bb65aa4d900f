//! Twilio's webhooks (form-encoded), accepted only with a valid `X-Twilio-Signature`:
//! `POST /webhooks/twilio/whatsapp`, a customer's WhatsApp message, answered with empty TwiML (the
//! desk's reply goes out later through Twilio's Messages API, once the agent has it); and
//! `POST /webhooks/twilio/status`, what became of a message we sent.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use wamcp_core::Timestamp;

use super::DeskApp;
use super::error::ApiError;
use crate::twilio::{Route, Twilio};
use crate::twilio_delivery::StatusReport;
use crate::{Channel, Identity, Inbound, Via};

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// The form Twilio posted, once its signature proves it came from Twilio.
fn signed_form(
    twilio: &Twilio,
    route: Route,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
        ApiError::bad_request(format!("the body is not a form (application/x-www-form-urlencoded): {e}"))
    })?;
    let given = headers.get("x-twilio-signature").and_then(|h| h.to_str().ok()).unwrap_or("");
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let urls = [format!("https://{host}{path}"), format!("http://{host}{path}")];
    if given.is_empty() || !twilio.verify(route, given, &urls, &params) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "X-Twilio-Signature is missing or does not match: the request is not from Twilio (or \
             desk.twilio_webhook_url differs from the URL set at Twilio)",
        ));
    }
    Ok(params)
}

fn twilio_of(app: &DeskApp) -> Result<Arc<Twilio>, ApiError> {
    app.desk.twilio().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Twilio is not set up: give TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in the environment",
        )
    })
}

fn field(params: &[(String, String)], name: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string())
}

/// `POST /webhooks/twilio/status`: Twilio's status callback for a message we sent.
pub async fn status(
    State(app): State<Arc<DeskApp>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let twilio = twilio_of(&app)?;
    let params = signed_form(&twilio, Route::Status, &uri, &headers, &body)?;
    let sid = field(&params, "MessageSid").filter(|s| !s.is_empty());
    let status = field(&params, "MessageStatus").filter(|s| !s.is_empty());
    let (Some(sid), Some(status)) = (sid, status) else {
        return Err(ApiError::bad_request("a status callback needs MessageSid and MessageStatus"));
    };
    let error_code = field(&params, "ErrorCode").and_then(|code| code.parse().ok());
    let report = StatusReport { sid, status, error_code };
    app.desk.twilio_status(&twilio, &report).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn whatsapp(
    State(app): State<Arc<DeskApp>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let twilio = twilio_of(&app)?;
    let params = signed_form(&twilio, Route::Inbound, &uri, &headers, &body)?;
    let field = |name: &str| field(&params, name);
    let from = field("From").unwrap_or_default();
    let Some(phone) = from.strip_prefix("whatsapp:") else {
        return Err(ApiError::bad_request(format!("From: '{from}' is not a WhatsApp sender (whatsapp:+NUMBER)")));
    };
    // Twilio's signature (checked above) proves the sender's number.
    let mut identity = Identity::default().with_phone(phone)?.with_name(field("ProfileName").as_deref()).proven();
    identity.whatsapp = identity.whatsapp_jid();
    let media = field("NumMedia").and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
    let (text, wordless) = match field("Body").filter(|b| !b.trim().is_empty()) {
        Some(text) => (text, false),
        None if media > 0 => (format!("[{media} attachment(s)]"), true),
        None => return Err(ApiError::bad_request("Body: the message is empty")),
    };
    let inbound = Inbound {
        channel: Channel::Whatsapp,
        via: Via::Twilio,
        address: from.clone(),
        channel_account: field("To"),
        from: identity,
        channel_message_id: field("MessageSid"),
        subject: None,
        body: text,
        wordless,
        at: Timestamp::now(),
    };
    app.desk.receive(&inbound).await?;
    Ok(([(header::CONTENT_TYPE, "text/xml")], EMPTY_TWIML).into_response())
}
