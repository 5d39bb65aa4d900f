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
    if let Ok(address) = listener.local_addr() {
        *hub.media_host.lock().unwrap_or_else(|e| e.into_inner()) = Some(address);
    }
    let app = Router::new()
        .route("/phone/scan", post(scan))
        .route("/received", get(received))
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

async fn received(State(hub): State<Arc<Hub>>) -> Result<Json<Value>, Refused> {
    Ok(Json(hub.with(|world| Ok(Value::Array(world.saved.received.clone())))?))
}

async fn status(State(hub): State<Arc<Hub>>) -> Result<Json<Value>, Refused> {
    Ok(Json(hub.with(|world| {
        Ok(json!({
            "phone": world.saved.phone.number,
            "device": world.saved.device.as_ref().map(|d| format!("{}:{}", world.saved.phone.number, d.id)),
            "connected": world.is_connected(),
        }))
    })?))
}
