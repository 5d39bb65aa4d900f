//! The control API: JSON on the loopback, the phone's and the contacts' side of each scenario
//! (`/phone/scan`, `/incoming`, …) and what the client sent (`/received`). The same listener is
//! the media host the client uploads to and downloads from.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::world::Hub;

pub async fn serve(listener: TcpListener, hub: Arc<Hub>) {
    let app = Router::new()
        .route("/phone/scan", post(scan))
        .route("/phone/code", post(code))
        .route("/received", get(received))
        .route("/incoming", post(incoming))
        .route("/receipt", post(receipt))
        .route("/groups", post(create_group))
        .route("/groups/{jid}/subject", post(rename_group))
        .route("/chat-state", post(chat_state))
        .route("/delete-for-me", post(delete_for_me))
        .route("/read-on-phone", post(read_on_phone))
        .route("/phone/own-chat", post(own_chat))
        .route("/number-changed", post(number_changed))
        .route("/history", post(history))
        .route("/contacts", post(contacts))
        .route("/drop", post(drop_connection))
        .route("/fail-next-connect", post(fail_next_connect))
        .route("/stream-replaced", post(stream_replaced))
        .route("/unlink", post(unlink))
        .route("/mms/{kind}/{token}", post(upload))
        .route("/v/{*path}", get(download))
        .route("/state", get(status))
        .with_state(hub);
    let _ = axum::serve(listener, app).await;
}

/// A refusal the caller can read.
struct Refused(anyhow::Error);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({"error": format!("{:#}", self.0)}))).into_response()
    }
}

impl From<anyhow::Error> for Refused {
    fn from(e: anyhow::Error) -> Refused {
        Refused(e)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scan {
    qr: Option<String>,
    png: Option<String>,
}

async fn scan(State(hub): State<Arc<Hub>>, Json(scan): Json<Scan>) -> Result<Json<Value>, Refused> {
    let qr = match (scan.qr, scan.png) {
        (Some(qr), None) => qr,
        (None, Some(png)) => crate::qr::read_png(std::path::Path::new(&png))?,
        _ => return Err(anyhow::anyhow!("give either {{\"qr\": STRING}} or {{\"png\": PATH}}").into()),
    };
    let jid = hub.with(|world| world.scan(&qr))?;
    Ok(Json(json!({"jid": jid})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Since {
    /// Skip this many items (what the caller has already read).
    #[serde(default)]
    since: usize,
}

async fn received(
    State(hub): State<Arc<Hub>>,
    axum::extract::Query(Since { since }): axum::extract::Query<Since>,
) -> Json<Value> {
    Json(hub.read(|world| Value::Array(world.saved.received.iter().skip(since).cloned().collect())))
}

async fn status(State(hub): State<Arc<Hub>>) -> Json<Value> {
    Json(hub.read(|world| {
        json!({
            "phone": world.saved.phone.number,
            "device": world.saved.device.as_ref().map(|d| format!("{}:{}", world.saved.phone.number, d.id)),
            "shown": world.saved.device.as_ref().and_then(|d| d.shown.clone()),
            "connected": world.is_connected(),
            "connections": world.connections,
        })
    }))
}

async fn incoming(
    State(hub): State<Arc<Hub>>,
    Json(request): Json<crate::messaging::Incoming>,
) -> Result<Json<Value>, Refused> {
    let id = hub.with(|world| {
        let host = world.media_host.clone();
        world.incoming(request, &host)
    })?;
    Ok(Json(json!({"id": id})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Receipt {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

async fn receipt(State(hub): State<Arc<Hub>>, Json(receipt): Json<Receipt>) -> Result<Json<Value>, Refused> {
    hub.with(|world| world.confirm(&receipt.id, &receipt.kind))?;
    Ok(Json(json!({"ok": true})))
}

/// The client uploads an encrypted blob (`POST /mms/image/TOKEN?auth=…`).
async fn upload(
    State(hub): State<Arc<Hub>>,
    axum::extract::Path((kind, _token)): axum::extract::Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, Refused> {
    let (data_dir, host) = hub.read(|world| (world.data_dir.clone(), world.media_host.clone()));
    let direct_path = crate::media::keep(&data_dir, &kind, &body)?;
    Ok(Json(json!({"url": format!("https://{host}{direct_path}"), "direct_path": direct_path})))
}

async fn download(State(hub): State<Arc<Hub>>, uri: axum::http::Uri) -> Response {
    let data_dir = hub.read(|world| world.data_dir.clone());
    match crate::media::fetch(&data_dir, uri.path()) {
        Some(bytes) => bytes.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    subject: String,
    participants: Vec<String>,
    /// Whether the account is an admin (default: yes).
    #[serde(default)]
    account_is_admin: Option<bool>,
}

async fn create_group(State(hub): State<Arc<Hub>>, Json(group): Json<NewGroup>) -> Result<Json<Value>, Refused> {
    let admin = group.account_is_admin.unwrap_or(true);
    let jid = hub.with(|world| world.create_group(&group.subject, &group.participants, admin))?;
    Ok(Json(json!({"jid": jid})))
}

async fn rename_group(
    State(hub): State<Arc<Hub>>,
    axum::extract::Path(jid): axum::extract::Path<String>,
    Json(rename): Json<crate::phone_actions::Rename>,
) -> Result<Json<Value>, Refused> {
    hub.with(|world| world.rename_group(&jid, rename))?;
    Ok(Json(json!({"ok": true})))
}

async fn chat_state(
    State(hub): State<Arc<Hub>>,
    Json(change): Json<crate::phone_actions::ChatState>,
) -> Result<Json<Value>, Refused> {
    let jid = hub.with(|world| world.change_chat_state(change))?;
    Ok(Json(json!({"jid": jid})))
}

async fn delete_for_me(
    State(hub): State<Arc<Hub>>,
    Json(delete): Json<crate::phone_actions::DeleteForMe>,
) -> Result<Json<Value>, Refused> {
    hub.with(|world| world.delete_for_me(delete))?;
    Ok(Json(json!({"ok": true})))
}

async fn read_on_phone(
    State(hub): State<Arc<Hub>>,
    Json(read): Json<crate::phone_actions::ReadOnPhone>,
) -> Result<Json<Value>, Refused> {
    hub.with(|world| world.read_on_phone(read))?;
    Ok(Json(json!({"ok": true})))
}

async fn own_chat(
    State(hub): State<Arc<Hub>>,
    Json(request): Json<crate::own_chat::OwnChat>,
) -> Result<Json<Value>, Refused> {
    let id = hub.with(|world| world.write_in_own_chat(request))?;
    Ok(Json(json!({"id": id})))
}

async fn number_changed(
    State(hub): State<Arc<Hub>>,
    Json(change): Json<crate::phone_actions::NumberChanged>,
) -> Result<Json<Value>, Refused> {
    hub.with(|world| world.number_changed(change))?;
    Ok(Json(json!({"ok": true})))
}

async fn drop_connection(State(hub): State<Arc<Hub>>) -> Result<Json<Value>, Refused> {
    hub.with(|world| world.drop_connection())?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNext {
    code: u16,
    #[serde(default)]
    expire: Option<u64>,
    #[serde(default)]
    ban_code: Option<u16>,
    /// Refuse this many logins in a row (1 when not given).
    #[serde(default)]
    times: Option<u32>,
}

async fn fail_next_connect(State(hub): State<Arc<Hub>>, Json(fail): Json<FailNext>) -> Result<Json<Value>, Refused> {
    let times = fail.times.unwrap_or(1).max(1);
    let failure = crate::world::Failure { reason: fail.code, expire: fail.expire, code: fail.ban_code, times };
    hub.with(|world| world.fail_next_connect(failure))?;
    Ok(Json(json!({"ok": true})))
}

async fn stream_replaced(State(hub): State<Arc<Hub>>) -> Result<Json<Value>, Refused> {
    hub.with(|world| world.stream_replaced())?;
    Ok(Json(json!({"ok": true})))
}

async fn unlink(State(hub): State<Arc<Hub>>) -> Result<Json<Value>, Refused> {
    hub.with(|world| world.unlink())?;
    Ok(Json(json!({"ok": true})))
}

async fn history(
    State(hub): State<Arc<Hub>>,
    Json(request): Json<crate::history::HistoryRequest>,
) -> Result<Json<Value>, Refused> {
    let ids = hub.with(|world| world.history(request))?;
    Ok(Json(json!({"ids": ids})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: String,
}

async fn code(State(hub): State<Arc<Hub>>, Json(code): Json<Code>) -> Result<Json<Value>, Refused> {
    hub.with(|world| world.enter_code(&code.code))?;
    Ok(Json(json!({"ok": true})))
}

async fn contacts(
    State(hub): State<Arc<Hub>>,
    Json(entries): Json<Vec<crate::app_state::NewContact>>,
) -> Result<Json<Value>, Refused> {
    let jids = hub.with(|world| world.add_contacts(entries))?;
    Ok(Json(json!({"jids": jids})))
}
