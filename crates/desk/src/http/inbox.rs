//! `/desk`: the web inbox where people work the tickets the agent handed over — escalated and
//! open tickets, a conversation across channels, reply (sent on the customer's channel) and
//! resolve. Server-rendered HTML, no script, no build step.
//!
//! Signing in takes the API token once, in a form, and opens a server-side session (see
//! [`super::sessions`]): the cookie is `HttpOnly` and `SameSite=Strict`, and forms are also
//! covered by the daemon's Origin check. Every customer text is HTML-escaped, and every page is
//! sent with headers that keep it out of frames and caches and forbid any script
//! ([`security_headers`]).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::DeskApp;
use super::error::ApiError;
use super::{present, sessions};
use crate::model::{DeliveryStatus, TicketStatus};
use crate::reads::{self, InboxFilter, MessageOut};
use wamcp_core::Timestamp;

/// The session id the request's cookie carries, if any.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == sessions::COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// In front of every inbox page but the sign-in: without a live session, to the sign-in form.
pub async fn require_session(
    State(app): State<Arc<DeskApp>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiError> {
    let live = match session_cookie(request.headers()) {
        Some(id) => sessions::check(&app.desk.db, &id, &app.token).await?,
        None => false,
    };
    if !live {
        return Ok(Redirect::to("/desk/login").into_response());
    }
    Ok(next.run(request).await)
}

pub use wamcp_core::html::escape;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · wamcp desk</title>\
         <style>{STYLE}</style></head><body><header><a href=\"/desk\">wamcp desk</a></header><main>{body}</main></body></html>",
        escape(title)
    ))
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2327;background:#f6f7f7}\
header{background:#075e54;padding:.6em 1.2em}header a{color:#fff;font-weight:600;text-decoration:none}\
main{max-width:960px;margin:1.2em auto;padding:0 1em}table{border-collapse:collapse;width:100%;background:#fff}\
th,td{text-align:left;padding:.45em .6em;border-bottom:1px solid #ddd;vertical-align:top}\
.escalated{color:#b32d2e;font-weight:600}.msg{background:#fff;border-radius:6px;padding:.6em .8em;margin:.5em 0;\
max-width:75%;white-space:pre-wrap}.inbound{margin-right:auto}.outbound{margin-left:auto;background:#dcf8c6}\
.meta{font-size:12px;color:#646970}textarea{width:100%;min-height:6em}button{padding:.4em 1em}\
.error{color:#b32d2e}";

fn login_form(error: Option<&str>) -> Html<String> {
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    page(
        "Sign in",
        &format!(
            "<h1>Sign in</h1>{error}<form method=\"post\" action=\"/desk/login\">\
             <label>API token (in &lt;data dir&gt;/api-token)<br><input type=\"password\" name=\"token\" \
             autocomplete=\"current-password\" required></label> <button type=\"submit\">Sign in</button></form>"
        ),
    )
}

pub async fn login_page() -> Html<String> {
    login_form(None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub token: String,
}

pub async fn login(State(app): State<Arc<DeskApp>>, Form(form): Form<LoginForm>) -> Result<Response, ApiError> {
    if !wamcp_core::secrets_match(form.token.trim(), &app.token) {
        return Ok((StatusCode::UNAUTHORIZED, login_form(Some("That is not the token."))).into_response());
    }
    let id = sessions::open(&app.desk.db, &app.token).await?;
    let cookie = format!("{}={id}; Path=/desk; HttpOnly; SameSite=Strict", sessions::COOKIE);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/desk")).into_response())
}

pub async fn logout(State(app): State<Arc<DeskApp>>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(id) = session_cookie(&headers) {
        sessions::close(&app.desk.db, &id).await?;
    }
    let cookie = format!("{}=; Path=/desk; HttpOnly; SameSite=Strict; Max-Age=0", sessions::COOKIE);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/desk/login")).into_response())
}

/// The style sheet's hash, the one style the pages' Content-Security-Policy allows.
fn style_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE.as_bytes()))
    })
}

/// Headers on every inbox page: no script of any kind, the one style sheet, forms only to this
/// server, never in a frame, never cached, no referrer (ticket ids) sent to other sites. Not
/// `no-referrer`: browsers then send `Origin: null` with the forms, which the Origin check refuses.
pub async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'",
        style_hash()
    );
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::X_FRAME_OPTIONS, "DENY".to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        (header::REFERRER_POLICY, "same-origin".to_string()),
        (header::CACHE_CONTROL, "no-store".to_string()),
    ] {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// `/desk?status=…`: which tickets to list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
}

pub async fn list(State(app): State<Arc<DeskApp>>, Query(query): Query<ListQuery>) -> Result<Response, ApiError> {
    let filter = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None | Some("active") => InboxFilter::Active,
        Some(name) => match TicketStatus::parse(name) {
            Some(status) => InboxFilter::Status(status),
            None => {
                let body = format!(
                    "<h1>No such status</h1><p>'{}' is not a status: use escalated, open, waiting or resolved.</p>",
                    escape(name)
                );
                return Ok((StatusCode::BAD_REQUEST, page("No such status", &body)).into_response());
            }
        },
    };
    let rows = reads::inbox(&app.desk.db, filter, 200).await?;
    let counts = reads::ticket_counts(&app.desk.db).await?;
    let mut body = String::from("<h1>Tickets</h1><nav id=\"filters\">");
    let active: i64 = counts.iter().filter(|(s, _)| *s != TicketStatus::Resolved).map(|(_, n)| n).sum();
    let link = |label: &str, key: &str, n: i64, current: bool| {
        let class = if current { " class=\"current\"" } else { "" };
        format!("<a href=\"/desk?status={key}\"{class} data-status=\"{key}\">{label} ({n})</a> ")
    };
    body.push_str(&link("needs attention", "active", active, filter == InboxFilter::Active));
    for (status, n) in &counts {
        body.push_str(&link(status.as_str(), status.as_str(), *n, filter == InboxFilter::Status(*status)));
    }
    body.push_str("</nav>");
    if rows.is_empty() {
        body.push_str("<p>Nothing waits for a person.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>Status</th><th>Customer</th><th>Channel</th><th>Last message</th>\
             <th>Priority</th><th>Updated</th></tr></thead><tbody>",
        );
        let now = Timestamp::now().millis();
        for row in rows {
            let status = match &row.escalation_reason {
                Some(reason) if row.status == TicketStatus::Escalated => {
                    format!("<span class=\"escalated\">escalated: {}</span>", escape(&present::reason(reason)))
                }
                _ => escape(row.status.as_str()),
            };
            let status = if row.window_closed {
                format!("{status}<div class=\"escalated\">{WINDOW_CLOSED}</div>")
            } else {
                status
            };
            let contact =
                row.contact.as_deref().map(|c| format!("<div class=\"meta\">{}</div>", escape(c))).unwrap_or_default();
            let _ = write!(
                body,
                "<tr data-ticket=\"{id}\"><td>{status}</td><td><a href=\"/desk/tickets/{id}\">{customer}</a>{contact}</td>\
                 <td>{channel}</td><td>{excerpt}</td><td>{priority}</td>\
                 <td class=\"meta\" title=\"{updated}\">{ago}</td></tr>",
                id = escape(&row.ticket_id),
                customer = escape(&row.customer),
                channel = escape(row.channel.as_str()),
                excerpt = present::whatsapp_markup(&present::excerpt(&row.last_message, 80)),
                priority = escape(row.priority.as_str()),
                updated = escape(&row.updated_at),
                ago = escape(&present::ago(row.updated_ms, now)),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<form method=\"post\" action=\"/desk/logout\"><button type=\"submit\">Sign out</button></form>");
    Ok(page("Tickets", &body).into_response())
}

/// How the inbox marks a ticket whose answer waits for the customer's next message.
const WINDOW_CLOSED: &str = "window closed: customer must write first";

pub async fn ticket(State(app): State<Arc<DeskApp>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let Some(ticket) = reads::ticket(&app.desk.db, &id).await? else {
        return Ok((StatusCode::NOT_FOUND, page("Not found", "<h1>No such ticket</h1>")).into_response());
    };
    let customer = ticket.customer_name.clone().unwrap_or_else(|| ticket.customer_id.clone());
    let channels: Vec<&str> = ticket.channels.iter().map(|c| c.as_str()).collect();
    let mut body = format!(
        "<h1>{}</h1><p>Ticket <code>{}</code> · <span id=\"status\">{}</span>{} · priority {} · channels: {}</p>",
        escape(&customer),
        escape(&id),
        escape(ticket.status.as_str()),
        ticket
            .escalation_reason
            .as_deref()
            .map(|r| format!(" (<span class=\"escalated\">{}</span>)", escape(&present::reason(r))))
            .unwrap_or_default(),
        escape(ticket.priority.as_str()),
        escape(&channels.join(", ")),
    );
    if !ticket.contacts.is_empty() {
        let contacts: Vec<String> = ticket.contacts.iter().map(|c| escape(c)).collect();
        let _ = write!(body, "<p id=\"contact\">Reach them at {}</p>", contacts.join(", "));
    }
    if let Some(other) = &ticket.possibly_same_customer {
        let name = other.name.as_deref().unwrap_or("another customer");
        let _ = write!(
            body,
            "<div id=\"possibly\"><p>Possibly the same customer as <strong>{name}</strong> ({known_by}): the web form \
             only claims who wrote it. Merge them only if you are sure.</p>\
             <form method=\"post\" action=\"/desk/tickets/{id}/merge\"><button type=\"submit\">Merge with {name}\
             </button></form></div>",
            name = escape(name),
            known_by = escape(&other.known_by),
            id = escape(&id),
        );
    }
    let held: Vec<&MessageOut> =
        ticket.messages.iter().filter(|m| m.delivery_status == DeliveryStatus::WindowClosed.as_str()).collect();
    if let Some(first) = held.first() {
        let _ = write!(
            body,
            "<p id=\"window\" class=\"escalated\">{WINDOW_CLOSED}: {} answer(s) wait until they write. {}</p>",
            held.len(),
            escape(first.delivery_error.as_deref().unwrap_or_default())
        );
    }
    body.push_str("<section id=\"conversation\">");
    let now = Timestamp::now().millis();
    for message in &ticket.messages {
        let at = &message.created_at;
        let ago = Timestamp::parse_loose(at).map(|t| present::ago(t.millis(), now)).unwrap_or_else(|_| at.clone());
        let _ = write!(
            body,
            "<div class=\"msg {direction}\"><div class=\"meta\">{author} · {channel} · \
             <span title=\"{at}\">{ago}</span> · {status}</div>{text}</div>",
            direction = escape(&message.direction),
            author = escape(&message.author),
            channel = escape(&message.channel),
            at = escape(at),
            ago = escape(&ago),
            status = escape(&message.delivery_status),
            text = present::whatsapp_markup(&message.body),
        );
    }
    body.push_str("</section>");
    if ticket.status != TicketStatus::Resolved {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/desk/tickets/{id}/reply\"><label>Reply<br>\
             <textarea name=\"message\" required></textarea></label><button type=\"submit\">Send reply</button></form>\
             <form method=\"post\" action=\"/desk/tickets/{id}/resolve\"><button type=\"submit\">Resolve</button></form>",
            id = escape(&id)
        );
    }
    Ok(page(&customer, &body).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    pub message: String,
}

pub async fn reply(
    State(app): State<Arc<DeskApp>>,
    Path(id): Path<String>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, ApiError> {
    app.desk.reply(&id, &form.message).await?;
    Ok(Redirect::to(&format!("/desk/tickets/{id}")).into_response())
}

pub async fn resolve(State(app): State<Arc<DeskApp>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    app.desk.resolve(&id).await?;
    Ok(Redirect::to("/desk").into_response())
}

pub async fn merge(State(app): State<Arc<DeskApp>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    app.desk.merge_customers(&id, None).await?;
    Ok(Redirect::to(&format!("/desk/tickets/{id}")).into_response())
}
