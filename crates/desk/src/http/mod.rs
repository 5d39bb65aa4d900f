//! The desk's HTTP routes. Who may call what:
//! - the token (`Authorization: Bearer`, the daemon's API token): the WhatsApp and email
//!   webhooks, the status, and everything that reads or changes tickets;
//! - anyone: `POST /support/submit`, the public web form;
//! - Twilio, proved by its signature: `POST /webhooks/twilio/whatsapp` and its status callback
//!   `POST /webhooks/twilio/status`;
//! - people signed in to the web inbox (a server-side session opened with the token): `/desk`.
//!
//! The daemon checks Host and Origin for every route before these see a request.

mod error;
mod inbox;
mod intake;
mod present;
mod read;
mod sessions;
mod twilio;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use error::ApiError;

use crate::Desk;

/// What the routes share.
pub struct DeskApp {
    pub desk: Arc<Desk>,
    pub token: String,
}

/// Every desk route.
pub fn routes(app: Arc<DeskApp>) -> Router {
    let private = Router::new()
        .route("/webhooks/whatsapp/mcp", post(intake::whatsapp))
        .route("/webhooks/whatsapp/status", get(read::status))
        .route("/webhooks/email", post(intake::email))
        .route("/support/ticket/{id}", get(read::ticket))
        .route("/support/ticket/{id}/reply", post(read::reply))
        .route("/support/ticket/{id}/resolve", post(read::resolve))
        .route("/support/ticket/{id}/merge", post(read::merge))
        .route("/customers/lookup", get(read::lookup))
        .route("/conversations/{id}", get(read::conversation))
        .route("/metrics/channels", get(read::channel_metrics))
        .route("/desk/metrics", get(read::prometheus))
        .layer(axum::middleware::from_fn_with_state(app.clone(), require_token));
    let signed_in = Router::new()
        .route("/desk", get(inbox::list))
        .route("/desk/tickets/{id}", get(inbox::ticket))
        .route("/desk/tickets/{id}/reply", post(inbox::reply))
        .route("/desk/tickets/{id}/resolve", post(inbox::resolve))
        .route("/desk/tickets/{id}/merge", post(inbox::merge))
        .layer(axum::middleware::from_fn_with_state(app.clone(), inbox::require_session));
    let pages = Router::new()
        .route("/desk/login", get(inbox::login_page).post(inbox::login))
        .route("/desk/logout", post(inbox::logout))
        .merge(signed_in)
        .layer(axum::middleware::from_fn(inbox::security_headers));
    let public = Router::new()
        .route("/support/submit", post(intake::web_form))
        .route("/webhooks/twilio/whatsapp", post(twilio::whatsapp))
        .route("/webhooks/twilio/status", post(twilio::status));
    private.merge(pages).merge(public).with_state(app)
}

async fn require_token(State(app): State<Arc<DeskApp>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if wamcp_core::secrets_match(given.trim(), &app.token) {
        next.run(request).await
    } else {
        ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "missing or wrong token: send 'Authorization: Bearer <token>' with the token from <data dir>/api-token",
        )
        .into_response()
    }
}
