//! Routes that read tickets, customers and conversations, and that let a person reply to and
//! resolve a ticket.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::DeskApp;
use super::error::{ApiError, JsonBody};
use crate::model::IdentifierKind;
use crate::reads::{ConversationOut, CustomerOut, TicketOut};
use crate::{Identity, reads};

pub async fn ticket(State(app): State<Arc<DeskApp>>, Path(id): Path<String>) -> Result<Json<TicketOut>, ApiError> {
    let ticket = reads::ticket(&app.desk.db, &id).await?;
    ticket.map(Json).ok_or_else(|| not_found(format!("no ticket '{id}'")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

pub async fn lookup(
    State(app): State<Arc<DeskApp>>,
    Query(query): Query<LookupQuery>,
) -> Result<Json<CustomerOut>, ApiError> {
    let (kind, value) = match (&query.email, &query.phone) {
        (Some(email), None) => (IdentifierKind::Email, Identity::default().with_email(email)?.email),
        (None, Some(phone)) => (IdentifierKind::Phone, Identity::default().with_phone(phone)?.phone),
        _ => return Err(ApiError::bad_request("give exactly one of ?email= or ?phone=")),
    };
    let value = value.unwrap_or_default();
    let customer = reads::customer_by(&app.desk.db, kind, &value).await?;
    customer.map(Json).ok_or_else(|| not_found(format!("no customer with {} {value}", kind.as_str())))
}

pub async fn conversation(
    State(app): State<Arc<DeskApp>>,
    Path(id): Path<String>,
) -> Result<Json<ConversationOut>, ApiError> {
    let conversation = reads::conversation(&app.desk.db, &id).await?;
    conversation.map(Json).ok_or_else(|| not_found(format!("no conversation '{id}'")))
}

/// The desk's Prometheus metrics (the daemon also adds them to its own `/metrics`).
pub async fn prometheus(
    State(app): State<Arc<DeskApp>>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    let body = crate::metrics::render(&app.desk).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}

pub async fn channel_metrics(State(app): State<Arc<DeskApp>>) -> Result<Json<Value>, ApiError> {
    Ok(Json(reads::channel_metrics(&app.desk.db).await?))
}

/// lharries-style status, plus whether WhatsApp is really there.
pub async fn status(State(app): State<Arc<DeskApp>>) -> Json<Value> {
    let Some(source) = app.desk.whatsapp_source() else {
        return Json(json!({
            "whatsapp_mcp_enabled": false,
            "bridge_path": null,
            "bridge_exists": false,
            "poll_interval": 0,
            "connected": false,
            "account": null,
            "last_message_at": null,
            "provider": app.desk.provider_health(),
        }));
    };
    let path = source.bridge_path();
    let live = source.liveness();
    Json(json!({
        "whatsapp_mcp_enabled": true,
        "bridge_path": path.display().to_string(),
        "bridge_exists": path.exists(),
        "poll_interval": source.poll_interval(),
        "connected": live.connected,
        "account": live.account,
        "last_message_at": app.desk.last_whatsapp_message().map(|at| at.to_rfc3339()),
        "provider": app.desk.provider_health(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    pub message: String,
}

pub async fn reply(
    State(app): State<Arc<DeskApp>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReplyBody>,
) -> Result<Json<Value>, ApiError> {
    let message_id = app.desk.reply(&id, &body.message).await?;
    Ok(Json(json!({"success": true, "ticket_id": id, "message_id": message_id})))
}

pub async fn resolve(State(app): State<Arc<DeskApp>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    app.desk.resolve(&id).await?;
    Ok(Json(json!({"success": true, "ticket_id": id, "status": "resolved"})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The customer to merge into; by default the one the ticket names as possibly the same.
    #[serde(default)]
    pub into: Option<String>,
}

/// `POST /support/ticket/{id}/merge`: a person says the ticket's customer and another are one.
pub async fn merge(
    State(app): State<Arc<DeskApp>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MergeBody>,
) -> Result<Json<Value>, ApiError> {
    let customer = app.desk.merge_customers(&id, body.into.as_deref()).await?;
    Ok(Json(json!({"success": true, "ticket_id": id, "customer_id": customer})))
}

fn not_found(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::NOT_FOUND, message)
}
