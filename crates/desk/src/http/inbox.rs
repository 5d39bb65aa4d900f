//! `/desk`: the web inbox where people work the tickets the agent handed over — escalated and
//! open tickets, a conversation across channels, reply (sent on the customer's channel) and
//! resolve. Server-rendered HTML, no script, no build step.
//!
//! Signing in takes the API token once, in a form; the session cookie holds a value derived from
//! the token (never the token itself), `HttpOnly` and `SameSite=Strict`, and forms are also
//! covered by the daemon's Origin check. Every customer text is HTML-escaped.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::DeskApp;
use super::error::HttpError;
use crate::reads;

const COOKIE: &str = "wamcp_desk";

/// The session cookie's value for this token.
fn session_value(token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes any key length");
    mac.update(b"wamcp desk session");
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn signed_in(app: &DeskApp, headers: &HeaderMap) -> bool {
    let expected = session_value(&app.token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && wamcp_core::secrets_match(value, &expected))
}

/// Text safe inside HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

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

pub async fn login(State(app): State<Arc<DeskApp>>, Form(form): Form<LoginForm>) -> Response {
    if !wamcp_core::secrets_match(form.token.trim(), &app.token) {
        return (StatusCode::UNAUTHORIZED, login_form(Some("That is not the token."))).into_response();
    }
    let cookie = format!("{COOKIE}={}; Path=/desk; HttpOnly; SameSite=Strict", session_value(&app.token));
    ([(header::SET_COOKIE, cookie)], Redirect::to("/desk")).into_response()
}

pub async fn logout() -> Response {
    let cookie = format!("{COOKIE}=; Path=/desk; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/desk/login")).into_response()
}

pub async fn list(State(app): State<Arc<DeskApp>>, headers: HeaderMap) -> Result<Response, HttpError> {
    if !signed_in(&app, &headers) {
        return Ok(Redirect::to("/desk/login").into_response());
    }
    let rows = reads::inbox(&app.desk.db, 200).await?;
    let mut body = String::from("<h1>Tickets</h1>");
    if rows.is_empty() {
        body.push_str("<p>Nothing waits for a person.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>Status</th><th>Customer</th><th>Channel</th><th>Last message</th>\
             <th>Priority</th><th>Updated</th></tr></thead><tbody>",
        );
        for row in rows {
            let status = match &row.escalation_reason {
                Some(reason) if row.status == "escalated" => {
                    format!("<span class=\"escalated\">escalated: {}</span>", escape(reason))
                }
                _ => escape(&row.status),
            };
            let excerpt: String = row.last_message.chars().take(80).collect();
            let _ = write!(
                body,
                "<tr data-ticket=\"{id}\"><td>{status}</td><td><a href=\"/desk/tickets/{id}\">{customer}</a></td>\
                 <td>{channel}</td><td>{excerpt}</td><td>{priority}</td><td class=\"meta\">{updated}</td></tr>",
                id = escape(&row.ticket_id),
                customer = escape(&row.customer),
                channel = escape(&row.channel),
                excerpt = escape(&excerpt),
                priority = escape(&row.priority),
                updated = escape(&row.updated_at),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<form method=\"post\" action=\"/desk/logout\"><button type=\"submit\">Sign out</button></form>");
    Ok(page("Tickets", &body).into_response())
}

pub async fn ticket(
    State(app): State<Arc<DeskApp>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    if !signed_in(&app, &headers) {
        return Ok(Redirect::to("/desk/login").into_response());
    }
    let Some(ticket) = reads::ticket(&app.desk.db, &id).await? else {
        return Ok((StatusCode::NOT_FOUND, page("Not found", "<h1>No such ticket</h1>")).into_response());
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let customer = ticket["customer_name"].as_str().map(str::to_string).unwrap_or_else(|| text(&ticket["customer_id"]));
    let mut body = format!(
        "<h1>{}</h1><p>Ticket <code>{}</code> · <span id=\"status\">{}</span>{} · priority {} · channels: {}</p>",
        escape(&customer),
        escape(&id),
        escape(&text(&ticket["status"])),
        ticket["escalation_reason"]
            .as_str()
            .map(|r| format!(" (<span class=\"escalated\">{}</span>)", escape(r)))
            .unwrap_or_default(),
        escape(&text(&ticket["priority"])),
        escape(
            &ticket["channels"]
                .as_array()
                .map(|c| c.iter().map(text).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        ),
    );
    body.push_str("<section id=\"conversation\">");
    for message in ticket["messages"].as_array().into_iter().flatten() {
        let _ = write!(
            body,
            "<div class=\"msg {direction}\"><div class=\"meta\">{author} · {channel} · {at} · {status}</div>{text}</div>",
            direction = escape(&text(&message["direction"])),
            author = escape(&text(&message["author"])),
            channel = escape(&text(&message["channel"])),
            at = escape(&text(&message["created_at"])),
            status = escape(&text(&message["delivery_status"])),
            text = escape(&text(&message["body"])),
        );
    }
    body.push_str("</section>");
    if ticket["status"] != "resolved" {
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
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, HttpError> {
    if !signed_in(&app, &headers) {
        return Ok(Redirect::to("/desk/login").into_response());
    }
    app.desk.reply(&id, &form.message).await?;
    Ok(Redirect::to(&format!("/desk/tickets/{id}")).into_response())
}

pub async fn resolve(
    State(app): State<Arc<DeskApp>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    if !signed_in(&app, &headers) {
        return Ok(Redirect::to("/desk/login").into_response());
    }
    app.desk.resolve(&id).await?;
    Ok(Redirect::to("/desk").into_response())
}
